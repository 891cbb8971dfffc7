// main() of fuzz_replay, the fuzz targets in builds without libFuzzer (the normal g++ build):
// `fuzz_replay TARGET PATH...` feeds every file named, or found under a directory named, to
// the target once. ctest runs each target on its corpus this way, so every seed and every
// regression input stays covered without clang. `fuzz_replay --make-seeds DIR` writes the seed
// corpora (fuzz/make_seeds.cc). Each target's LLVMFuzzerTestOneInput is renamed
// EdgeinferFuzz_TARGET by the build.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#define EI_FUZZ_TARGET(name) extern "C" int EdgeinferFuzz_##name(const uint8_t*, size_t);
#include "fuzz_targets.def"
#undef EI_FUZZ_TARGET

namespace edgeinfer::fuzz {
int MakeSeeds(const std::string& dir);  // make_seeds.cc
}

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--make-seeds") == 0) {
    return edgeinfer::fuzz::MakeSeeds(argv[2]);
  }
  using Target = int (*)(const uint8_t*, size_t);
  Target target = nullptr;
  if (argc >= 2) {
#define EI_FUZZ_TARGET(name) \
  if (std::strcmp(argv[1], #name) == 0) target = &EdgeinferFuzz_##name;
#include "fuzz_targets.def"
#undef EI_FUZZ_TARGET
  }
  if (target == nullptr) {
    std::fprintf(stderr, "usage: %s TARGET CORPUS_DIR_OR_FILE... | --make-seeds DIR\n", argv[0]);
    return 2;
  }
  std::vector<std::filesystem::path> files;
  for (int i = 2; i < argc; ++i) {
    std::error_code ec;
    if (std::filesystem::is_directory(argv[i], ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(argv[i], ec)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else {
      files.emplace_back(argv[i]);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "%s: no inputs found\n", argv[1]);
    return 1;
  }
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      return 1;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%s: replayed %zu inputs\n", argv[1], files.size());
  return 0;
}

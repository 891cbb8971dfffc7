// edgeinfer cuda-run: runs an unchanged CUDA program with the remoting interposers
// (docs/remoting.md), after checking that it loads the CUDA runtime dynamically.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "args.h"
#include "commands.h"
#include "remoting/binary_check.h"

namespace edgeinfer::tools {

namespace {

constexpr char kUsage[] =
    "usage: edgeinfer cuda-run [--edge HOST:PORT] [--token-file FILE] [--stats]\n"
    "                          [--lib-dir DIR] -- PROGRAM [ARGS...]\n\n"
    "Runs PROGRAM with the remoting interposers (libcudart.so.13, libcublas.so.13,\n"
    "libcudnn.so.9) first on LD_LIBRARY_PATH, so that its CUDA runtime, cuBLAS and cuDNN calls\n"
    "run on the remoting server at --edge ('edgeinfer serve --remoting', default\n"
    "$EDGEINFER_REMOTING). PROGRAM must load the CUDA runtime dynamically: build it with\n"
    "'nvcc -cudart shared'; a statically linked one is refused with an explanation.\n"
    "--token-file: the server's token (first non-comment line). --stats: print the calls,\n"
    "round trips and bytes on exit. --lib-dir: where the interposers are (default: the\n"
    "'remoting' folder beside this binary, or $EDGEINFER_REMOTING_LIB_DIR).\n";

std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = dirs.find(':', start);
    const std::string dir = dirs.substr(start, end == std::string::npos ? end : end - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

std::string DefaultLibDir() {
  if (const char* env = std::getenv("EDGEINFER_REMOTING_LIB_DIR")) return env;
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "";
  self[n] = '\0';
  const std::filesystem::path dir = std::filesystem::path(self).parent_path();
  for (const auto& candidate : {dir / "remoting", dir / ".." / "lib" / "edgeinfer" / "remoting"}) {
    if (std::filesystem::exists(candidate / "libcudart.so.13")) return candidate.string();
  }
  return (dir / "remoting").string();
}

}  // namespace

int CudaRunCommand(int argc, char** argv) {
  int split = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      split = i;
      break;
    }
  }
  Args args({"--edge", "--token-file", "--lib-dir"}, {"--stats", "--help", "-h"});
  if (!args.Parse(split, argv)) {
    std::fprintf(stderr, "edgeinfer cuda-run: %s (see --help)\n", args.error().c_str());
    return 2;
  }
  if (args.Has("--help") || args.Has("-h")) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (!args.positionals().empty() || split + 1 >= argc) {
    std::fprintf(stderr, "edgeinfer cuda-run: expected '-- PROGRAM [ARGS...]' (see --help)\n");
    return 2;
  }
  const char* env_edge = std::getenv("EDGEINFER_REMOTING");
  const std::string edge = args.Get("--edge", env_edge != nullptr ? env_edge : "");
  if (edge.empty()) {
    std::fprintf(stderr, "edgeinfer cuda-run: no server: give --edge HOST:PORT\n");
    return 2;
  }
  const std::string program = FindProgram(argv[split + 1]);
  if (program.empty()) {
    std::fprintf(stderr, "edgeinfer cuda-run: program '%s' not found\n", argv[split + 1]);
    return 2;
  }
  Result<remoting::BinaryInfo> info = remoting::InspectBinary(program);
  if (!info.ok()) {
    std::fprintf(stderr, "edgeinfer cuda-run: cannot inspect '%s': %s\n", program.c_str(),
                 info.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> warnings;
  Status remotable = remoting::CheckRemotable(program, *info, &warnings);
  for (const std::string& w : warnings)
    std::fprintf(stderr, "edgeinfer cuda-run: warning: %s\n", w.c_str());
  if (!remotable.ok()) {
    std::fprintf(stderr, "edgeinfer cuda-run: %s\n", remotable.message().c_str());
    return 1;
  }
  const std::string lib_dir = args.Get("--lib-dir", DefaultLibDir());
  if (!std::filesystem::exists(std::filesystem::path(lib_dir) / "libcudart.so.13")) {
    std::fprintf(stderr,
                 "edgeinfer cuda-run: no interposers in '%s' (libcudart.so.13 missing; they are "
                 "built when the CUDA headers are found; see --lib-dir)\n",
                 lib_dir.c_str());
    return 1;
  }
  const char* old_path = std::getenv("LD_LIBRARY_PATH");
  const std::string path =
      lib_dir + (old_path != nullptr && *old_path ? ":" + std::string(old_path) : "");
  ::setenv("LD_LIBRARY_PATH", path.c_str(), 1);
  ::setenv("EDGEINFER_REMOTING", edge.c_str(), 1);
  if (args.Has("--token-file")) {
    ::setenv("EDGEINFER_REMOTING_TOKEN_FILE", args.Get("--token-file").c_str(), 1);
    ::unsetenv("EDGEINFER_REMOTING_TOKEN");
  }
  if (args.Has("--stats")) ::setenv("EDGEINFER_REMOTING_STATS", "1", 1);
  std::vector<char*> child(argv + split + 1, argv + argc);
  child.push_back(nullptr);
  ::execv(program.c_str(), child.data());
  std::fprintf(stderr, "edgeinfer cuda-run: cannot run '%s': %s\n", program.c_str(),
               std::strerror(errno));
  return 1;
}

}  // namespace edgeinfer::tools

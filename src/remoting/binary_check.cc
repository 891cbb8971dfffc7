#include "remoting/binary_check.h"

#include <cstdint>
#include <cstring>

#include "core/file_io.h"

namespace edgeinfer::remoting {

namespace {

template <typename T>
bool Read(const std::string& b, uint64_t at, T* out) {
  if (at > b.size() || sizeof(T) > b.size() - at) return false;
  std::memcpy(out, b.data() + at, sizeof(T));
  return true;
}

// A NUL-terminated string at `at` inside [begin, end).
bool CString(const std::string& b, uint64_t begin, uint64_t end, uint64_t at, std::string* out) {
  if (end > b.size() || at < begin || at >= end) return false;
  const char* p = b.data() + at;
  const void* nul = std::memchr(p, '\0', end - at);
  if (nul == nullptr) return false;
  out->assign(p, static_cast<const char*>(nul) - p);
  return true;
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

Result<BinaryInfo> InspectBinaryBytes(const std::string& b) {
  constexpr uint32_t kShtDynamic = 6;
  constexpr int64_t kDtNeeded = 1, kDtRpath = 15, kDtNull = 0;
  if (b.size() < 64 ||
      std::memcmp(b.data(),
                  "\x7f"
                  "ELF",
                  4) != 0 ||
      b[4] != 2 || b[5] != 1) {
    return Status::InvalidArgument("not an ELF64 little-endian file");
  }
  uint64_t shoff = 0;
  uint16_t shentsize = 0, shnum = 0, shstrndx = 0;
  Read(b, 0x28, &shoff);
  Read(b, 0x3a, &shentsize);
  Read(b, 0x3c, &shnum);
  Read(b, 0x3e, &shstrndx);
  if (shentsize < 64 || shnum == 0 || shstrndx >= shnum || shoff > b.size() ||
      uint64_t{shnum} * shentsize > b.size() - shoff) {
    return Status::InvalidArgument("ELF section headers out of range");
  }
  struct Section {
    uint32_t name = 0, type = 0, link = 0;
    uint64_t offset = 0, size = 0;
  };
  std::vector<Section> sections(shnum);
  for (uint16_t i = 0; i < shnum; ++i) {
    const uint64_t at = shoff + uint64_t{i} * shentsize;
    Section& s = sections[i];
    Read(b, at, &s.name);
    Read(b, at + 4, &s.type);
    Read(b, at + 0x18, &s.offset);
    Read(b, at + 0x20, &s.size);
    Read(b, at + 0x28, &s.link);
  }
  auto in_file = [&](const Section& s) {
    return s.offset <= b.size() && s.size <= b.size() - s.offset;
  };
  BinaryInfo info;
  const Section& names = sections[shstrndx];
  for (const Section& s : sections) {
    std::string name;
    if (in_file(names) &&
        CString(b, names.offset, names.offset + names.size, names.offset + s.name, &name) &&
        name == ".nv_fatbin") {
      info.has_device_code = true;
    }
    if (s.type != kShtDynamic || !in_file(s) || s.link >= shnum || !in_file(sections[s.link])) {
      continue;
    }
    const Section& strtab = sections[s.link];
    for (uint64_t at = s.offset; at + 16 <= s.offset + s.size; at += 16) {
      int64_t tag = 0;
      uint64_t value = 0;
      Read(b, at, &tag);
      Read(b, at + 8, &value);
      if (tag == kDtNull) break;
      if (tag != kDtNeeded && tag != kDtRpath) continue;
      std::string str;
      if (value >= strtab.size ||
          !CString(b, strtab.offset, strtab.offset + strtab.size, strtab.offset + value, &str)) {
        return Status::InvalidArgument("ELF dynamic string out of range");
      }
      if (tag == kDtNeeded) {
        info.needed.push_back(str);
      } else {
        info.rpath = str;
      }
    }
  }
  // A static CUDA runtime loads the driver itself, so the program names it.
  info.embeds_runtime = b.find("libcuda.so") != std::string::npos;
  return info;
}

Result<BinaryInfo> InspectBinary(const std::string& path) {
  EI_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  Result<BinaryInfo> info = InspectBinaryBytes(bytes);
  if (!info.ok()) return info.status().WithContext(path);
  return info;
}

Status CheckRemotable(const std::string& program, const BinaryInfo& info,
                      std::vector<std::string>* warnings) {
  bool shared_runtime = false;
  for (const std::string& lib : info.needed) {
    if (StartsWith(lib, "libcudart.so")) shared_runtime = true;
    if (StartsWith(lib, "libcuda.so")) {
      warnings->push_back(program + " calls the CUDA driver API directly (" + lib +
                          "): those calls are not forwarded");
    }
    if (StartsWith(lib, "libcublasLt.so") || StartsWith(lib, "libcufft.so") ||
        StartsWith(lib, "libcurand.so") || StartsWith(lib, "libcusparse.so") ||
        StartsWith(lib, "libcusolver.so") || StartsWith(lib, "libnccl.so")) {
      warnings->push_back(program + " needs " + lib +
                          ", which has no remoting interposer: its calls run locally or fail");
    }
  }
  bool cuda_libraries = false;
  for (const std::string& lib : info.needed) {
    cuda_libraries |= StartsWith(lib, "libcublas.so") || StartsWith(lib, "libcudnn.so");
  }
  // Device code, or cuBLAS/cuDNN plus the driver's name, without a shared runtime: nvcc's
  // default static runtime is inside the program.
  if (!shared_runtime && (info.has_device_code || (cuda_libraries && info.embeds_runtime))) {
    return Status::FailedPrecondition(
        program +
        " links the CUDA runtime statically (nvcc's default), so no interposer can replace it; "
        "rebuild it with 'nvcc -cudart shared' (or link -lcudart instead of cudart_static)");
  }
  if (!shared_runtime && !cuda_libraries) {
    warnings->push_back(program +
                        " does not load the CUDA runtime, cuBLAS or cuDNN: nothing will be "
                        "forwarded" +
                        (info.embeds_runtime ? " (it may link the CUDA runtime statically)" : ""));
  }
  if (!info.rpath.empty()) {
    warnings->push_back(program + " has an RPATH (" + info.rpath +
                        ") that is searched before LD_LIBRARY_PATH: if it holds the real CUDA "
                        "libraries they are used instead of the interposers");
  }
  return Status::Ok();
}

}  // namespace edgeinfer::remoting

// What `edgeinfer cuda-run` checks before it runs a program through the interposers: the
// program's dynamic dependencies (an ELF64 file's DT_NEEDED entries) and signs of a statically
// linked CUDA runtime, which no interposer can replace.
#ifndef EDGEINFER_REMOTING_BINARY_CHECK_H_
#define EDGEINFER_REMOTING_BINARY_CHECK_H_

#include <string>
#include <vector>

#include "edgeinfer/status.h"

namespace edgeinfer::remoting {

struct BinaryInfo {
  std::vector<std::string> needed;  // DT_NEEDED, in order
  std::string rpath;                // DT_RPATH (searched before LD_LIBRARY_PATH), if any
  bool has_device_code = false;     // a .nv_fatbin section (nvcc-compiled device code)
  bool embeds_runtime = false;      // names the driver library itself: a static CUDA runtime
};

// Reads an ELF64 little-endian file's dynamic section and sections, bounds-checked.
Result<BinaryInfo> InspectBinary(const std::string& path);
// Same, from bytes in memory (tests, fuzzing).
Result<BinaryInfo> InspectBinaryBytes(const std::string& bytes);

// FailedPrecondition explaining what to do when `info` cannot run through the interposers (a
// static CUDA runtime); OK otherwise. `warnings` receives what might not be forwarded (CUDA
// libraries that have no interposer, an RPATH that hides LD_LIBRARY_PATH).
Status CheckRemotable(const std::string& program, const BinaryInfo& info,
                      std::vector<std::string>* warnings);

}  // namespace edgeinfer::remoting

#endif  // EDGEINFER_REMOTING_BINARY_CHECK_H_

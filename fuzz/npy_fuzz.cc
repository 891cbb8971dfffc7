// Fuzz target: .npy parsing (header dictionary, dtype, shape, data size), and writing back
// what parsed.
#include <string>

#include "core/npy.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeinfer;
  Result<Tensor> tensor = ParseNpy(std::string(reinterpret_cast<const char*>(data), size));
  if (tensor.ok()) (void)SerializeNpy(*tensor);
  return 0;
}

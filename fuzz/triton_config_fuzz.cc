// Fuzz target: config.pbtxt (Triton's text format) parsing and checking against a model's
// tensors.
#include <string>

#include "fuzz_common.h"
#include "server/triton_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeinfer;
  Result<server::TritonConfig> config =
      server::ParseTritonConfig(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!config.ok()) return 0;
  const std::vector<TensorInfo> inputs = {{"x", DType::kFloat32, {1, 3, 8, 8}}};
  const std::vector<TensorInfo> outputs = {{"y", DType::kFloat32, {1, 4, 8, 8}}};
  (void)server::CheckTritonConfig(*config, "tiny", inputs, outputs);
  return 0;
}

// Fuzz target: ONNX import (ModelProto parsing, opset checks, initializers, nodes, verifier)
// and, for models that import, shape inference as the server runs it at load.
#include <string>

#include "fuzz_common.h"
#include "onnx/onnx_io.h"
#include "ops/passes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (edgeinfer::fuzz::QuietProtobuf(), true);
  (void)quiet;
  using namespace edgeinfer;
  ImportOptions options;
  options.base_dir = "/nonexistent-fuzz-dir";  // external data must not be read
  options.max_tensor_bytes = fuzz::kMaxTensorBytes;
  options.max_nodes = 10000;
  Result<Graph> graph = ImportOnnx(std::string(reinterpret_cast<const char*>(data), size), options);
  if (graph.ok()) (void)InferShapesAndFold(&*graph);
  return 0;
}

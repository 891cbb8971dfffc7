// ONNX <-> IR conversion. The only code in edgeinfer that includes onnx headers.
#ifndef EDGEINFER_ONNX_ONNX_IO_H_
#define EDGEINFER_ONNX_ONNX_IO_H_

#include <string>

#include "edgeinfer/status.h"
#include "ir/graph.h"

namespace edgeinfer {

struct ImportOptions {
  // Directory that external-data locations are relative to (the model file's directory).
  std::string base_dir = ".";
  // Upper bound on any single tensor read from the model or its external data.
  size_t max_tensor_bytes = size_t{8} << 30;
  // Upper bound on the graph's node count, checked right after parsing, before any per-node
  // work (ResourceExhausted naming both numbers). 0: no limit.
  size_t max_nodes = 0;
};

// Parses a serialized ModelProto. Supports default-domain opsets 7..17. Errors (with the
// DataLoss or InvalidArgument/Unimplemented code) name the problem: truncated or corrupt bytes,
// an unknown op (type, node name, opset), an unsupported dtype, a missing external file.
// Graph inputs that are also initializers become constants. Input dims that are symbolic or
// absent become -1. The graph is verified but not specialised (see ops/passes.h).
Result<Graph> ImportOnnx(const std::string& bytes, const ImportOptions& options);
Result<Graph> ImportOnnxFile(const std::string& path);

// Serializes a graph as an ONNX ModelProto (opset graph.opset, IR version 8), constants as
// initializers. Values with unknown dims are written with symbolic dims.
Result<std::string> ExportOnnx(const Graph& graph);
Status ExportOnnxFile(const Graph& graph, const std::string& path);

}  // namespace edgeinfer

#endif  // EDGEINFER_ONNX_ONNX_IO_H_

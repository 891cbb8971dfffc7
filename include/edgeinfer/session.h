// Session: the device-side API. Open a model once, run it many times.
//
// A Session is thread safe: Run() may be called concurrently. It compiles the model for each
// distinct set of input shapes it sees (dynamic dimensions are resolved from the actual
// inputs) and caches the result.
#ifndef EDGEINFER_SESSION_H_
#define EDGEINFER_SESSION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"

namespace edgeinfer {

struct SessionOptions {
  int threads = 0;              // kernel threads; <= 0 means all cores
  std::string backend = "cpu";  // "cpu" (oneDNN) or "reference" (naive kernels)
};

// Name, dtype and shape (-1 for a dynamic dim) of a model input or output.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Per-node (or fused step) timing from Session::Profile.
struct NodeProfile {
  std::string name;       // node name(s), '+' joined when fused
  std::string op;         // op type(s), '+' joined when fused
  Shape output_shape;
  int64_t output_bytes = 0;
  double flops = 0.0;
  double median_ms = 0.0;
};

class Session {
 public:
  virtual ~Session() = default;

  // Loads an ONNX model from a file (external data is resolved next to it).
  static Result<std::unique_ptr<Session>> Open(const std::string& model_path,
                                               const SessionOptions& options = {});
  // Loads an ONNX model from serialized bytes; `base_dir` resolves external data files.
  static Result<std::unique_ptr<Session>> OpenFromBytes(const std::string& bytes,
                                                        const std::string& base_dir,
                                                        const SessionOptions& options = {});

  virtual const std::vector<TensorInfo>& inputs() const = 0;
  virtual const std::vector<TensorInfo>& outputs() const = 0;

  // Runs the model. Every model input must be given (by name); outputs come in model order.
  virtual Result<std::vector<NamedTensor>> Run(const std::vector<NamedTensor>& inputs) = 0;

  // Runs `repeat` times and reports per-step median latency, in execution order.
  virtual Result<std::vector<NodeProfile>> Profile(const std::vector<NamedTensor>& inputs,
                                                   int repeat) = 0;
};

}  // namespace edgeinfer

#endif  // EDGEINFER_SESSION_H_

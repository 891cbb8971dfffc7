// GraphBuilder: writes CNN architectures as edgeinfer Graphs in a few lines per layer.
//
// Every layer takes a name (torchvision-style where one exists, e.g. "layer1.0.conv1"); the
// node and its output value get that name and its weights get "<name>.weight", "<name>.bias",
// and so on. Shapes are computed as layers are added (NCHW, float32, opset 13), so every value
// of a built graph has a known shape.
//
// Weights are deterministic functions of (model seed, tensor name): each tensor draws from its
// own std::mt19937_64 seeded from both, and uniforms are made from the raw 64-bit output, so the
// bytes are the same with every standard library. Initialisation keeps activations of order one
// through deep networks (see ConvOptions::gain and BatchNorm), because the models are compared
// against other engines at a relative tolerance that means nothing for outputs near 0 or inf.
//
// Errors are sticky: a layer given bad arguments (a channel mismatch, a duplicate name) records
// the first error and returns kNoValue, which later layers accept silently; Finish() reports the
// first error. Not thread safe.
#ifndef EDGEINFER_ZOO_BUILDER_H_
#define EDGEINFER_ZOO_BUILDER_H_

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ir/graph.h"

namespace edgeinfer::zoo {

// Variance multipliers for weight initialisation: Var(w) = gain / fan_in.
constexpr double kGainRelu = 2.0;    // He: the following ReLU halves the second moment
constexpr double kGainLinear = 1.0;  // no activation follows (logits, projections)
// LeakyRelu with negative slope a keeps (1 + a^2) / 2 of the second moment.
constexpr double LeakyReluGain(double alpha) { return 2.0 / (1.0 + alpha * alpha); }

struct ConvOptions {
  int64_t out_channels = 0;
  int64_t kernel = 1;  // square kernel
  int64_t stride = 1;
  int64_t pad = 0;  // on every side
  int64_t group = 1;
  int64_t dilation = 1;
  bool bias = true;
  double gain = kGainRelu;
};

struct PoolOptions {
  int64_t kernel = 2;
  int64_t stride = 2;
  // ONNX order [top, left, bottom, right]; asymmetric pads are allowed (darknet's maxpool).
  std::vector<int64_t> pads = {0, 0, 0, 0};
  bool ceil_mode = false;
  bool count_include_pad = false;  // AveragePool only
};

class GraphBuilder {
 public:
  GraphBuilder(std::string graph_name, uint64_t seed);

  // A float32 graph input.
  ValueId Input(const std::string& name, const Shape& shape);

  // Conv weights [out, in/group, k, k] ~ U with variance options.gain / fan_in; bias ~
  // U(-0.1, 0.1), small next to activations of order one.
  ValueId Conv(const std::string& name, ValueId x, const ConvOptions& options);
  // Inference BatchNormalization. gamma ~ U(0.5, 1.5), var ~ U(0.5, 1.5), mean and beta ~
  // U(-0.1, 0.1); gamma is then rescaled so that the mean over channels of
  // gamma^2 / (var + eps) equals gain^2: the layer neither grows nor shrinks the signal on
  // average, however many there are. `gain` < 1 damps residual branches.
  ValueId BatchNorm(const std::string& name, ValueId x, double epsilon = 1e-5, double gain = 1.0);
  ValueId Relu(const std::string& name, ValueId x);
  // Clip(x, 0, 6) with min and max as inputs (the opset >= 11 form).
  ValueId Relu6(const std::string& name, ValueId x);
  ValueId LeakyRelu(const std::string& name, ValueId x, float alpha);
  ValueId Add(const std::string& name, ValueId a, ValueId b);
  ValueId Concat(const std::string& name, const std::vector<ValueId>& xs, int64_t axis = 1);
  ValueId MaxPool(const std::string& name, ValueId x, const PoolOptions& options);
  ValueId AveragePool(const std::string& name, ValueId x, const PoolOptions& options);
  ValueId GlobalAveragePool(const std::string& name, ValueId x);
  ValueId Flatten(const std::string& name, ValueId x, int64_t axis = 1);
  ValueId Reshape(const std::string& name, ValueId x, const Shape& shape);
  // Gemm(x, W^T, b) on a [N, in] input: W [out, in] (transB=1) like torch.nn.Linear.
  ValueId Linear(const std::string& name, ValueId x, int64_t out_features,
                 double gain = kGainLinear);
  ValueId Softmax(const std::string& name, ValueId x, int64_t axis = -1);

  // Makes `x` a graph output named `name` (the value is renamed).
  void Output(ValueId x, const std::string& name);

  // The shape computed for `x` (empty for kNoValue).
  const Shape& shape(ValueId x) const;
  // Dimension 1 of `x` (channels for NCHW), or 0 for kNoValue or a rank < 2 value.
  int64_t channels(ValueId x) const { return shape(x).size() < 2 ? 0 : shape(x)[1]; }
  // The first error recorded, if any.
  const Status& status() const { return status_; }

  // Verifies and returns the graph, or the first recorded error.
  Result<Graph> Finish();

 private:
  // Records the first error; returns kNoValue.
  ValueId Fail(const std::string& message);
  // False (after recording an error) when `x` is not a rank-`rank` value of this graph.
  bool CheckInput(const std::string& layer, ValueId x, size_t rank);
  // False (after recording an error) when `name` is already a node or value name.
  bool Claim(const std::string& name);
  // A float32 constant named `name` with elements ~ U(lo, hi) from the tensor's own stream.
  Tensor UniformTensor(const std::string& name, const Shape& shape, double lo, double hi) const;
  ValueId AddWeight(const std::string& name, Tensor tensor);
  ValueId Unary(OpKind op, const std::string& name, ValueId x, Attributes attrs = {});
  ValueId Pool(OpKind op, const std::string& name, ValueId x, const PoolOptions& options);

  Graph graph_;
  uint64_t seed_;
  Status status_;
  std::unordered_set<std::string> node_names_;
  ValueId clip_min_ = kNoValue;
  ValueId clip_max_ = kNoValue;
};

// The 64-bit seed of tensor `name`'s stream in a model built with `model_seed`; exposed so
// tests can check that distinct names get distinct streams.
uint64_t TensorSeed(uint64_t model_seed, const std::string& name);

}  // namespace edgeinfer::zoo

#endif  // EDGEINFER_ZOO_BUILDER_H_

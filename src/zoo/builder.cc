#include "zoo/builder.h"

#include <cmath>
#include <random>
#include <utility>

namespace edgeinfer::zoo {

namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a: std::hash<std::string> is implementation-defined, this is not.
uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// A double in [0, 1) from the top 53 bits; std::uniform_real_distribution is not specified
// bit-exactly across standard libraries.
double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Output length of a sliding window along one axis; <= 0 when the window does not fit.
int64_t WindowOutput(int64_t in, int64_t pad_begin, int64_t pad_end, int64_t kernel, int64_t stride,
                     int64_t dilation, bool ceil_mode) {
  const int64_t span = in + pad_begin + pad_end - dilation * (kernel - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // Like PyTorch: the last window must start inside the input or the leading padding.
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

}  // namespace

uint64_t TensorSeed(uint64_t model_seed, const std::string& name) {
  return SplitMix64(SplitMix64(model_seed) ^ Fnv1a64(name));
}

GraphBuilder::GraphBuilder(std::string graph_name, uint64_t seed) : seed_(seed) {
  graph_.name = std::move(graph_name);
  graph_.opset = 13;
}

ValueId GraphBuilder::Fail(const std::string& message) {
  if (status_.ok()) status_ = Status::InvalidArgument(graph_.name + ": " + message);
  return kNoValue;
}

bool GraphBuilder::Claim(const std::string& name) {
  if (!status_.ok()) return false;
  if (name.empty()) {
    Fail("a layer has an empty name");
    return false;
  }
  if (graph_.FindValue(name) != kNoValue || !node_names_.insert(name).second) {
    Fail("name '" + name + "' is used twice");
    return false;
  }
  return true;
}

bool GraphBuilder::CheckInput(const std::string& layer, ValueId x, size_t rank) {
  if (!status_.ok()) return false;
  if (x < 0 || static_cast<size_t>(x) >= graph_.values().size()) {
    Fail("layer '" + layer + "' reads an unknown value");
    return false;
  }
  const Shape& s = graph_.value(x).shape;
  if (rank != 0 && s.size() != rank) {
    Fail("layer '" + layer + "' needs a rank-" + std::to_string(rank) + " input, got '" +
         graph_.value(x).name + "' with shape " + ShapeToString(s));
    return false;
  }
  return true;
}

const Shape& GraphBuilder::shape(ValueId x) const {
  static const Shape kEmpty;
  if (x < 0 || static_cast<size_t>(x) >= graph_.values().size()) return kEmpty;
  return graph_.value(x).shape;
}

Tensor GraphBuilder::UniformTensor(const std::string& name, const Shape& shape, double lo,
                                   double hi) const {
  Tensor t = Tensor::Empty(DType::kFloat32, shape);
  std::mt19937_64 rng(TensorSeed(seed_, name));
  float* p = t.data<float>();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(lo + (hi - lo) * Unit(rng));
  return t;
}

ValueId GraphBuilder::AddWeight(const std::string& name, Tensor tensor) {
  if (graph_.FindValue(name) != kNoValue) return Fail("name '" + name + "' is used twice");
  return graph_.AddConstant(name, std::move(tensor));
}

ValueId GraphBuilder::Input(const std::string& name, const Shape& shape) {
  if (!Claim(name)) return kNoValue;
  node_names_.erase(name);
  return graph_.AddInput(name, DType::kFloat32, shape);
}

ValueId GraphBuilder::Conv(const std::string& name, ValueId x, const ConvOptions& o) {
  if (!CheckInput(name, x, 4) || !Claim(name)) return kNoValue;
  const Shape in = graph_.value(x).shape;
  if (o.out_channels <= 0 || o.kernel <= 0 || o.stride <= 0 || o.pad < 0 || o.group <= 0 ||
      o.dilation <= 0) {
    return Fail("conv '" + name + "' has a non-positive size");
  }
  if (in[1] % o.group != 0 || o.out_channels % o.group != 0) {
    return Fail("conv '" + name + "': group " + std::to_string(o.group) + " does not divide " +
                std::to_string(in[1]) + " input or " + std::to_string(o.out_channels) +
                " output channels");
  }
  const int64_t oh = WindowOutput(in[2], o.pad, o.pad, o.kernel, o.stride, o.dilation, false);
  const int64_t ow = WindowOutput(in[3], o.pad, o.pad, o.kernel, o.stride, o.dilation, false);
  if (oh <= 0 || ow <= 0) {
    return Fail("conv '" + name + "': kernel does not fit input " + ShapeToString(in));
  }
  const int64_t in_per_group = in[1] / o.group;
  const double fan_in = static_cast<double>(in_per_group * o.kernel * o.kernel);
  // U(-b, b) has variance b^2 / 3.
  const double bound = std::sqrt(3.0 * o.gain / fan_in);
  std::vector<ValueId> inputs = {x};
  inputs.push_back(
      AddWeight(name + ".weight",
                UniformTensor(name + ".weight", {o.out_channels, in_per_group, o.kernel, o.kernel},
                              -bound, bound)));
  if (o.bias) {
    inputs.push_back(
        AddWeight(name + ".bias", UniformTensor(name + ".bias", {o.out_channels}, -0.1, 0.1)));
  }
  Attributes attrs;
  attrs.Set("kernel_shape", std::vector<int64_t>{o.kernel, o.kernel});
  attrs.Set("strides", std::vector<int64_t>{o.stride, o.stride});
  attrs.Set("pads", std::vector<int64_t>{o.pad, o.pad, o.pad, o.pad});
  attrs.Set("dilations", std::vector<int64_t>{o.dilation, o.dilation});
  attrs.Set("group", o.group);
  ValueId y = graph_.AddValue(name, DType::kFloat32, {in[0], o.out_channels, oh, ow});
  graph_.AddNode(OpKind::kConv, name, std::move(inputs), {y}, std::move(attrs));
  return y;
}

ValueId GraphBuilder::BatchNorm(const std::string& name, ValueId x, double epsilon, double gain) {
  if (!CheckInput(name, x, 0) || !Claim(name)) return kNoValue;
  const Shape in = graph_.value(x).shape;
  if (in.size() < 2) return Fail("batch norm '" + name + "' needs a channel axis");
  const int64_t c = in[1];
  Tensor gamma = UniformTensor(name + ".weight", {c}, 0.5, 1.5);
  Tensor beta = UniformTensor(name + ".bias", {c}, -0.1, 0.1);
  Tensor mean = UniformTensor(name + ".running_mean", {c}, -0.1, 0.1);
  Tensor var = UniformTensor(name + ".running_var", {c}, 0.5, 1.5);
  double mean_gain2 = 0;
  for (int64_t i = 0; i < c; ++i) {
    const double g = gamma.data<float>()[i];
    mean_gain2 += g * g / (var.data<float>()[i] + epsilon);
  }
  mean_gain2 /= static_cast<double>(c);
  const double scale = gain / std::sqrt(mean_gain2);
  for (int64_t i = 0; i < c; ++i) {
    gamma.data<float>()[i] = static_cast<float>(gamma.data<float>()[i] * scale);
  }
  std::vector<ValueId> inputs = {x};
  inputs.push_back(AddWeight(name + ".weight", std::move(gamma)));
  inputs.push_back(AddWeight(name + ".bias", std::move(beta)));
  inputs.push_back(AddWeight(name + ".running_mean", std::move(mean)));
  inputs.push_back(AddWeight(name + ".running_var", std::move(var)));
  Attributes attrs;
  attrs.Set("epsilon", static_cast<float>(epsilon));
  ValueId y = graph_.AddValue(name, DType::kFloat32, in);
  graph_.AddNode(OpKind::kBatchNormalization, name, std::move(inputs), {y}, std::move(attrs));
  return y;
}

ValueId GraphBuilder::Unary(OpKind op, const std::string& name, ValueId x, Attributes attrs) {
  if (!CheckInput(name, x, 0) || !Claim(name)) return kNoValue;
  ValueId y = graph_.AddValue(name, DType::kFloat32, graph_.value(x).shape);
  graph_.AddNode(op, name, {x}, {y}, std::move(attrs));
  return y;
}

ValueId GraphBuilder::Relu(const std::string& name, ValueId x) {
  return Unary(OpKind::kRelu, name, x);
}

ValueId GraphBuilder::Relu6(const std::string& name, ValueId x) {
  if (!CheckInput(name, x, 0) || !Claim(name)) return kNoValue;
  // One pair of scalar bounds shared by every Clip of the graph.
  if (clip_min_ == kNoValue) {
    clip_min_ = AddWeight("relu6.min", Tensor::Scalar<float>(0.0f));
    clip_max_ = AddWeight("relu6.max", Tensor::Scalar<float>(6.0f));
  }
  ValueId y = graph_.AddValue(name, DType::kFloat32, graph_.value(x).shape);
  graph_.AddNode(OpKind::kClip, name, {x, clip_min_, clip_max_}, {y});
  return y;
}

ValueId GraphBuilder::LeakyRelu(const std::string& name, ValueId x, float alpha) {
  Attributes attrs;
  attrs.Set("alpha", alpha);
  return Unary(OpKind::kLeakyRelu, name, x, std::move(attrs));
}

ValueId GraphBuilder::Softmax(const std::string& name, ValueId x, int64_t axis) {
  Attributes attrs;
  attrs.Set("axis", axis);
  return Unary(OpKind::kSoftmax, name, x, std::move(attrs));
}

ValueId GraphBuilder::Add(const std::string& name, ValueId a, ValueId b) {
  if (!CheckInput(name, a, 0) || !CheckInput(name, b, 0) || !Claim(name)) return kNoValue;
  if (graph_.value(a).shape != graph_.value(b).shape) {
    return Fail("add '" + name + "': shapes " + ShapeToString(graph_.value(a).shape) + " and " +
                ShapeToString(graph_.value(b).shape) + " differ");
  }
  ValueId y = graph_.AddValue(name, DType::kFloat32, graph_.value(a).shape);
  graph_.AddNode(OpKind::kAdd, name, {a, b}, {y});
  return y;
}

ValueId GraphBuilder::Concat(const std::string& name, const std::vector<ValueId>& xs,
                             int64_t axis) {
  if (xs.empty()) return Fail("concat '" + name + "' has no inputs");
  for (ValueId x : xs) {
    if (!CheckInput(name, x, 0)) return kNoValue;
  }
  if (!Claim(name)) return kNoValue;
  Shape out = graph_.value(xs[0]).shape;
  const auto rank = static_cast<int64_t>(out.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return Fail("concat '" + name + "': axis out of range");
  out[static_cast<size_t>(axis)] = 0;
  for (ValueId x : xs) {
    const Shape& s = graph_.value(x).shape;
    for (int64_t d = 0; d < rank; ++d) {
      const auto i = static_cast<size_t>(d);
      if (s.size() != out.size() || (d != axis && s[i] != out[i])) {
        return Fail("concat '" + name + "': input '" + graph_.value(x).name + "' has shape " +
                    ShapeToString(s));
      }
    }
    out[static_cast<size_t>(axis)] += s[static_cast<size_t>(axis)];
  }
  Attributes attrs;
  attrs.Set("axis", axis);
  ValueId y = graph_.AddValue(name, DType::kFloat32, out);
  graph_.AddNode(OpKind::kConcat, name, xs, {y}, std::move(attrs));
  return y;
}

ValueId GraphBuilder::Pool(OpKind op, const std::string& name, ValueId x, const PoolOptions& o) {
  if (!CheckInput(name, x, 4) || !Claim(name)) return kNoValue;
  const Shape in = graph_.value(x).shape;
  if (o.kernel <= 0 || o.stride <= 0 || o.pads.size() != 4) {
    return Fail("pool '" + name + "' needs a positive kernel and stride and four pads");
  }
  const int64_t oh = WindowOutput(in[2], o.pads[0], o.pads[2], o.kernel, o.stride, 1, o.ceil_mode);
  const int64_t ow = WindowOutput(in[3], o.pads[1], o.pads[3], o.kernel, o.stride, 1, o.ceil_mode);
  if (oh <= 0 || ow <= 0) {
    return Fail("pool '" + name + "': window does not fit input " + ShapeToString(in));
  }
  Attributes attrs;
  attrs.Set("kernel_shape", std::vector<int64_t>{o.kernel, o.kernel});
  attrs.Set("strides", std::vector<int64_t>{o.stride, o.stride});
  attrs.Set("pads", o.pads);
  attrs.Set("ceil_mode", int64_t{o.ceil_mode ? 1 : 0});
  if (op == OpKind::kAveragePool) {
    attrs.Set("count_include_pad", int64_t{o.count_include_pad ? 1 : 0});
  }
  ValueId y = graph_.AddValue(name, DType::kFloat32, {in[0], in[1], oh, ow});
  graph_.AddNode(op, name, {x}, {y}, std::move(attrs));
  return y;
}

ValueId GraphBuilder::MaxPool(const std::string& name, ValueId x, const PoolOptions& options) {
  return Pool(OpKind::kMaxPool, name, x, options);
}

ValueId GraphBuilder::AveragePool(const std::string& name, ValueId x, const PoolOptions& options) {
  return Pool(OpKind::kAveragePool, name, x, options);
}

ValueId GraphBuilder::GlobalAveragePool(const std::string& name, ValueId x) {
  if (!CheckInput(name, x, 4) || !Claim(name)) return kNoValue;
  const Shape in = graph_.value(x).shape;
  ValueId y = graph_.AddValue(name, DType::kFloat32, {in[0], in[1], 1, 1});
  graph_.AddNode(OpKind::kGlobalAveragePool, name, {x}, {y});
  return y;
}

ValueId GraphBuilder::Flatten(const std::string& name, ValueId x, int64_t axis) {
  if (!CheckInput(name, x, 0) || !Claim(name)) return kNoValue;
  const Shape& in = graph_.value(x).shape;
  if (axis < 0 || axis > static_cast<int64_t>(in.size())) {
    return Fail("flatten '" + name + "': axis out of range");
  }
  int64_t outer = 1;
  int64_t inner = 1;
  for (size_t i = 0; i < in.size(); ++i) (static_cast<int64_t>(i) < axis ? outer : inner) *= in[i];
  Attributes attrs;
  attrs.Set("axis", axis);
  ValueId y = graph_.AddValue(name, DType::kFloat32, {outer, inner});
  graph_.AddNode(OpKind::kFlatten, name, {x}, {y}, std::move(attrs));
  return y;
}

ValueId GraphBuilder::Reshape(const std::string& name, ValueId x, const Shape& shape) {
  if (!CheckInput(name, x, 0) || !Claim(name)) return kNoValue;
  if (NumElements(graph_.value(x).shape) != NumElements(shape)) {
    return Fail("reshape '" + name + "': " + ShapeToString(graph_.value(x).shape) + " to " +
                ShapeToString(shape) + " changes the element count");
  }
  ValueId target = AddWeight(
      name + ".shape", Tensor::FromVector<int64_t>(std::vector<int64_t>(shape.begin(), shape.end()),
                                                   {static_cast<int64_t>(shape.size())}));
  ValueId y = graph_.AddValue(name, DType::kFloat32, shape);
  graph_.AddNode(OpKind::kReshape, name, {x, target}, {y});
  return y;
}

ValueId GraphBuilder::Linear(const std::string& name, ValueId x, int64_t out_features,
                             double gain) {
  if (!CheckInput(name, x, 2) || !Claim(name)) return kNoValue;
  const Shape in = graph_.value(x).shape;
  if (out_features <= 0) return Fail("linear '" + name + "' has no outputs");
  const double bound = std::sqrt(3.0 * gain / static_cast<double>(in[1]));
  ValueId w = AddWeight(name + ".weight",
                        UniformTensor(name + ".weight", {out_features, in[1]}, -bound, bound));
  ValueId b = AddWeight(name + ".bias", UniformTensor(name + ".bias", {out_features}, -0.1, 0.1));
  Attributes attrs;
  attrs.Set("transB", int64_t{1});
  ValueId y = graph_.AddValue(name, DType::kFloat32, {in[0], out_features});
  graph_.AddNode(OpKind::kGemm, name, {x, w, b}, {y}, std::move(attrs));
  return y;
}

void GraphBuilder::Output(ValueId x, const std::string& name) {
  if (!CheckInput(name, x, 0)) return;
  if (graph_.value(x).name != name) {
    if (graph_.FindValue(name) != kNoValue) {
      Fail("output name '" + name + "' is already used");
      return;
    }
    graph_.mutable_value(x).name = name;
    graph_.RebuildUses();
  }
  graph_.AddOutput(x);
}

Result<Graph> GraphBuilder::Finish() {
  EI_RETURN_IF_ERROR(status_);
  EI_RETURN_IF_ERROR(graph_.Verify());
  return std::move(graph_);
}

}  // namespace edgeinfer::zoo

// Ops that select or join blocks of elements: Concat, Split, Slice, Gather. Kernels move
// bytes, so every dtype works.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "ops/elementwise_common.h"
#include "ops/slice_window.h"
#include "ops/tensor_common.h"

namespace edgeinfer {
namespace {

int64_t Product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

Status ConcatShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  const Node& node = *ctx.node;
  ValueInfo& out = (*outputs)[0];
  out.dtype = ctx.inputs[0].dtype;
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    EI_RETURN_IF_ERROR(ExpectSameDType(ctx, i, out.dtype));
  }
  for (const ValueInfo& in : ctx.inputs) {
    if (!in.rank_known) {
      out.rank_known = false;
      return Status::Ok();
    }
  }
  if (!node.attrs.Has("axis")) {
    return Status::InvalidArgument(NodeLabel(node) + ": missing attribute 'axis'");
  }
  const Shape& first = ctx.inputs[0].shape;
  int64_t axis;
  EI_RETURN_IF_ERROR(
      NormalizeAxis(node, node.attrs.GetInt("axis", 0), static_cast<int64_t>(first.size()), &axis));
  out.shape = first;
  const auto a = static_cast<size_t>(axis);
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    const Shape& s = ctx.inputs[i].shape;
    bool ok = s.size() == first.size();
    for (size_t d = 0; ok && d < s.size(); ++d) {
      if (d == a) {
        out.shape[d] = (out.shape[d] < 0 || s[d] < 0) ? -1 : out.shape[d] + s[d];
      } else if (out.shape[d] < 0) {
        out.shape[d] = s[d];
      } else {
        ok = s[d] < 0 || s[d] == out.shape[d];
      }
    }
    if (!ok) {
      return Status::InvalidArgument(NodeLabel(node) + ": input " + std::to_string(i) + " shape " +
                                     ShapeToString(s) + " does not match input 0 shape " +
                                     ShapeToString(first) + " outside axis " +
                                     std::to_string(axis));
    }
  }
  return Status::Ok();
}

Status ConcatReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                       std::vector<Tensor>* outputs) {
  std::vector<ValueInfo> infos;
  for (const Tensor& t : inputs) infos.push_back({t.dtype(), t.shape(), true});
  ShapeContext ctx{&node, infos, {}, opset};
  std::vector<ValueInfo> out_info;
  EI_RETURN_IF_ERROR(ConcatShape(ctx, &out_info));
  const Shape& shape = out_info[0].shape;
  Tensor out = Tensor::Empty(inputs[0].dtype(), shape);
  int64_t axis;
  EI_RETURN_IF_ERROR(
      NormalizeAxis(node, node.attrs.GetInt("axis", 0), static_cast<int64_t>(shape.size()), &axis));
  const auto a = static_cast<size_t>(axis);
  const size_t width = DTypeSize(out.dtype());
  const int64_t outer = Product(shape, 0, a);
  const size_t out_row = static_cast<size_t>(Product(shape, a, shape.size())) * width;
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  size_t offset = 0;
  for (const Tensor& in : inputs) {
    const size_t row = static_cast<size_t>(Product(in.shape(), a, in.shape().size())) * width;
    const auto* src = static_cast<const uint8_t*>(in.raw_data());
    for (int64_t o = 0; o < outer && row > 0; ++o) {
      std::memcpy(dst + o * out_row + offset, src + o * row, row);
    }
    offset += row;
  }
  outputs->assign(1, std::move(out));
  return Status::Ok();
}

// Split sizes along `dim` (may be -1 in shape rules, giving -1 sizes for equal splits).
Status SplitSizes(const Node& node, const IntsParam& split, int64_t dim,
                  std::vector<int64_t>* out) {
  const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(node.outputs.size()));
  if (split.present && !split.values.empty()) {
    if (static_cast<int64_t>(split.values.size()) != n) {
      return Status::InvalidArgument(NodeLabel(node) + ": split " + ShapeToString(split.values) +
                                     " has " + std::to_string(split.values.size()) +
                                     " entries for " + std::to_string(n) + " outputs");
    }
    int64_t sum = 0;
    for (int64_t s : split.values) {
      if (s < 0) return Status::InvalidArgument(NodeLabel(node) + ": negative split size");
      sum += s;
    }
    if (dim >= 0 && sum != dim) {
      return Status::InvalidArgument(NodeLabel(node) + ": split " + ShapeToString(split.values) +
                                     " does not sum to the axis size " + std::to_string(dim));
    }
    *out = split.values;
    return Status::Ok();
  }
  if (dim < 0) {
    out->assign(static_cast<size_t>(n), -1);
    return Status::Ok();
  }
  if (node.attrs.Has("num_outputs")) {  // opset 18: the last part may be smaller
    const int64_t chunk = (dim + n - 1) / n;
    out->clear();
    for (int64_t i = 0; i < n; ++i) out->push_back(std::clamp<int64_t>(dim - i * chunk, 0, chunk));
    return Status::Ok();
  }
  if (dim % n != 0) {
    return Status::InvalidArgument(NodeLabel(node) + ": axis size " + std::to_string(dim) +
                                   " does not split into " + std::to_string(n) + " equal parts");
  }
  out->assign(static_cast<size_t>(n), dim / n);
  return Status::Ok();
}

Status SplitShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  const ValueInfo& in = ctx.inputs[0];
  if (!in.rank_known) {
    for (ValueInfo& o : *outputs) o = ValueInfo{in.dtype, {}, false};
    return Status::Ok();
  }
  IntsParam split;
  EI_RETURN_IF_ERROR(IntsParamForShape(ctx, "split", 13, 1, &split));
  int64_t axis;
  EI_RETURN_IF_ERROR(NormalizeAxis(*ctx.node, ctx.node->attrs.GetInt("axis", 0),
                                   static_cast<int64_t>(in.shape.size()), &axis));
  std::vector<int64_t> sizes;
  EI_RETURN_IF_ERROR(SplitSizes(*ctx.node, split, in.shape[static_cast<size_t>(axis)], &sizes));
  for (size_t i = 0; i < outputs->size(); ++i) {
    (*outputs)[i] = ValueInfo{in.dtype, in.shape, true};
    (*outputs)[i].shape[static_cast<size_t>(axis)] = sizes[i];
  }
  return Status::Ok();
}

Status SplitReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                      std::vector<Tensor>* outputs) {
  const Tensor& in = inputs[0];
  IntsParam split;
  EI_RETURN_IF_ERROR(IntsParamForKernel(node, opset, inputs, "split", 13, 1, &split));
  int64_t axis;
  EI_RETURN_IF_ERROR(NormalizeAxis(node, node.attrs.GetInt("axis", 0), in.rank(), &axis));
  std::vector<int64_t> sizes;
  EI_RETURN_IF_ERROR(SplitSizes(node, split, in.dim(axis), &sizes));
  const auto a = static_cast<size_t>(axis);
  const size_t width = DTypeSize(in.dtype());
  const int64_t outer = Product(in.shape(), 0, a);
  const size_t inner = static_cast<size_t>(Product(in.shape(), a + 1, in.shape().size())) * width;
  const size_t in_row = static_cast<size_t>(in.dim(axis)) * inner;
  const auto* src = static_cast<const uint8_t*>(in.raw_data());
  outputs->clear();
  size_t offset = 0;
  for (int64_t size : sizes) {
    Shape shape = in.shape();
    shape[a] = size;
    Tensor out = Tensor::Empty(in.dtype(), shape);
    const size_t row = static_cast<size_t>(size) * inner;
    auto* dst = static_cast<uint8_t*>(out.raw_data());
    for (int64_t o = 0; o < outer && row > 0; ++o) {
      std::memcpy(dst + o * row, src + o * in_row + offset, row);
    }
    offset += row;
    outputs->push_back(std::move(out));
  }
  return Status::Ok();
}

// Per-axis slice of one dimension: first element, step and count (-1 if the dim is unknown).
struct AxisSlice {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};

struct SliceArgs {
  IntsParam starts, ends, axes, steps;
};

// Resolves Slice arguments against `shape` (dims may be -1) following the ONNX clamping rules.
Status ResolveSlice(const Node& node, const SliceArgs& args, const Shape& shape,
                    std::vector<AxisSlice>* out) {
  const auto rank = static_cast<int64_t>(shape.size());
  const std::vector<int64_t>& starts = args.starts.values;
  const std::vector<int64_t>& ends = args.ends.values;
  if (!args.starts.present || !args.ends.present || starts.size() != ends.size()) {
    return Status::InvalidArgument(NodeLabel(node) + ": starts and ends must be given with " +
                                   "the same length");
  }
  std::vector<int64_t> axes = args.axes.values;
  if (!args.axes.present || axes.empty()) {
    axes.resize(starts.size());
    for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  }
  std::vector<int64_t> steps = args.steps.values;
  if (!args.steps.present || steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size()) {
    return Status::InvalidArgument(NodeLabel(node) + ": starts, ends, axes and steps must " +
                                   "have the same length");
  }
  EI_RETURN_IF_ERROR(NormalizeAxes(node, axes, rank, &axes));
  out->assign(shape.size(), AxisSlice{});
  for (size_t d = 0; d < shape.size(); ++d) (*out)[d].count = shape[d];
  for (size_t i = 0; i < axes.size(); ++i) {
    AxisSlice& s = (*out)[static_cast<size_t>(axes[i])];
    const int64_t dim = shape[static_cast<size_t>(axes[i])];
    const int64_t step = steps[i];
    if (step == 0) return Status::InvalidArgument(NodeLabel(node) + ": step is zero");
    s.step = step;
    if (dim < 0) {
      s.count = -1;
      continue;
    }
    // Adding dim to a negative index cannot overflow: INT64_MIN + dim is representable.
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      s.count = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      const int64_t back =
          step == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -step;
      s.count = start > end ? (start - end - 1) / back + 1 : 0;
    }
    s.start = start;
  }
  return Status::Ok();
}

Status SliceShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  const ValueInfo& in = ctx.inputs[0];
  ValueInfo& out = (*outputs)[0];
  out.dtype = in.dtype;
  SliceArgs args;
  EI_RETURN_IF_ERROR(IntsParamForShape(ctx, "starts", 10, 1, &args.starts));
  EI_RETURN_IF_ERROR(IntsParamForShape(ctx, "ends", 10, 2, &args.ends));
  EI_RETURN_IF_ERROR(IntsParamForShape(ctx, "axes", 10, 3, &args.axes));
  if (ctx.opset >= 10) EI_RETURN_IF_ERROR(IntsParamForShape(ctx, "steps", 10, 4, &args.steps));
  if (!in.rank_known) {
    out.rank_known = false;
    return Status::Ok();
  }
  std::vector<AxisSlice> slices;
  EI_RETURN_IF_ERROR(ResolveSlice(*ctx.node, args, in.shape, &slices));
  out.shape.clear();
  for (const AxisSlice& s : slices) out.shape.push_back(s.count);
  return Status::Ok();
}

Status SliceReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                      std::vector<Tensor>* outputs) {
  const Tensor& in = inputs[0];
  SliceArgs args;
  EI_RETURN_IF_ERROR(IntsParamForKernel(node, opset, inputs, "starts", 10, 1, &args.starts));
  EI_RETURN_IF_ERROR(IntsParamForKernel(node, opset, inputs, "ends", 10, 2, &args.ends));
  EI_RETURN_IF_ERROR(IntsParamForKernel(node, opset, inputs, "axes", 10, 3, &args.axes));
  if (opset >= 10) {
    EI_RETURN_IF_ERROR(IntsParamForKernel(node, opset, inputs, "steps", 10, 4, &args.steps));
  }
  std::vector<AxisSlice> slices;
  EI_RETURN_IF_ERROR(ResolveSlice(node, args, in.shape(), &slices));
  const std::vector<int64_t> strides = Strides(in.shape());
  Shape shape;
  std::vector<int64_t> in_strides;
  int64_t base = 0;
  for (size_t d = 0; d < slices.size(); ++d) {
    shape.push_back(slices[d].count);
    // A huge step yields at most one element; its stride is then irrelevant (and could overflow).
    in_strides.push_back(slices[d].count > 1 ? strides[d] * slices[d].step : 0);
    if (slices[d].count > 0) base += slices[d].start * strides[d];
  }
  Tensor out = Tensor::Empty(in.dtype(), shape);
  EI_RETURN_IF_ERROR(GatherStrided(node, in, base, in_strides, &out));
  outputs->assign(1, std::move(out));
  return Status::Ok();
}

Status CheckIndexDType(const Node& node, DType d) {
  if (d == DType::kInt64 || d == DType::kInt32 || d == DType::kUndefined) return Status::Ok();
  return UnsupportedDType(node, d, "indices");
}

// Indices must lie in [-dim, dim); the error names the node, the index and the axis size.
Status CheckIndices(const Node& node, const std::vector<int64_t>& indices, int64_t dim) {
  for (int64_t i : indices) {
    if (i < -dim || i >= dim) {
      return Status::InvalidArgument(NodeLabel(node) + ": index " + std::to_string(i) +
                                     " is out of range for axis size " + std::to_string(dim));
    }
  }
  return Status::Ok();
}

Status GatherShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  const ValueInfo& data = ctx.inputs[0];
  const ValueInfo& indices = ctx.inputs[1];
  EI_RETURN_IF_ERROR(CheckIndexDType(*ctx.node, indices.dtype));
  ValueInfo& out = (*outputs)[0];
  out.dtype = data.dtype;
  if (!data.rank_known || !indices.rank_known) {
    out.rank_known = false;
    return Status::Ok();
  }
  int64_t axis;
  EI_RETURN_IF_ERROR(NormalizeAxis(*ctx.node, ctx.node->attrs.GetInt("axis", 0),
                                   static_cast<int64_t>(data.shape.size()), &axis));
  const auto a = static_cast<size_t>(axis);
  const Tensor* c = ctx.constants.size() > 1 ? ctx.constants[1] : nullptr;
  if (c != nullptr && data.shape[a] >= 0) {
    std::vector<int64_t> values;
    EI_RETURN_IF_ERROR(TensorInts(*ctx.node, *c, "indices", &values));
    EI_RETURN_IF_ERROR(CheckIndices(*ctx.node, values, data.shape[a]));
  }
  out.shape.assign(data.shape.begin(), data.shape.begin() + axis);
  out.shape.insert(out.shape.end(), indices.shape.begin(), indices.shape.end());
  out.shape.insert(out.shape.end(), data.shape.begin() + axis + 1, data.shape.end());
  return Status::Ok();
}

Status GatherReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                       std::vector<Tensor>* outputs) {
  const Tensor& data = inputs[0];
  const Tensor& indices = inputs[1];
  EI_RETURN_IF_ERROR(CheckIndexDType(node, indices.dtype()));
  int64_t axis;
  EI_RETURN_IF_ERROR(NormalizeAxis(node, node.attrs.GetInt("axis", 0), data.rank(), &axis));
  const int64_t dim = data.dim(axis);
  std::vector<int64_t> index;
  EI_RETURN_IF_ERROR(TensorInts(node, indices, "indices", &index));
  EI_RETURN_IF_ERROR(CheckIndices(node, index, dim));
  const auto a = static_cast<size_t>(axis);
  Shape shape(data.shape().begin(), data.shape().begin() + axis);
  shape.insert(shape.end(), indices.shape().begin(), indices.shape().end());
  shape.insert(shape.end(), data.shape().begin() + axis + 1, data.shape().end());
  Tensor out = Tensor::Empty(data.dtype(), shape);
  const size_t width = DTypeSize(data.dtype());
  const int64_t outer = Product(data.shape(), 0, a);
  const size_t block =
      static_cast<size_t>(Product(data.shape(), a + 1, data.shape().size())) * width;
  const auto k = static_cast<int64_t>(index.size());
  const auto* src = static_cast<const uint8_t*>(data.raw_data());
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  for (int64_t o = 0; o < outer && block > 0; ++o) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t i = index[static_cast<size_t>(j)] < 0 ? index[static_cast<size_t>(j)] + dim
                                                          : index[static_cast<size_t>(j)];
      std::memcpy(dst + (o * k + j) * block, src + (o * dim + i) * block, block);
    }
  }
  outputs->assign(1, std::move(out));
  return Status::Ok();
}

// ScatterND: the output is data with the slices updates[j...] written at data[indices[j...]]
// (k = indices' last dim leading axes each), in order, replaced or combined by `reduction`
// (opset 16: none, add, mul; opset 18 adds max, min).
Status ScatterNDShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  EI_RETURN_IF_ERROR(CheckIndexDType(*ctx.node, ctx.inputs[1].dtype));
  (*outputs)[0] = ctx.inputs[0];
  return Status::Ok();
}

Status ScatterNDReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                          std::vector<Tensor>* outputs) {
  (void)opset;
  const Tensor& data = inputs[0];
  const Tensor& indices = inputs[1];
  const Tensor& updates = inputs[2];
  EI_RETURN_IF_ERROR(CheckIndexDType(node, indices.dtype()));
  const std::string reduction = node.attrs.GetString("reduction", "none");
  if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" &&
      reduction != "min") {
    return Status::InvalidArgument(NodeLabel(node) + ": unknown reduction '" + reduction + "'");
  }
  if (reduction != "none" && data.dtype() != DType::kFloat32) {
    return UnsupportedDType(node, data.dtype(), "data (with a reduction)");
  }
  const Shape& ds = data.shape();
  const Shape& is = indices.shape();
  if (is.empty() || is.back() < 1 || is.back() > static_cast<int64_t>(ds.size())) {
    return Status::InvalidArgument(NodeLabel(node) + ": indices " + ShapeToString(is) +
                                   " do not index data " + ShapeToString(ds));
  }
  const auto k = static_cast<size_t>(is.back());
  // updates: indices' dims but the last, then data's dims from k on.
  Shape want(is.begin(), is.end() - 1);
  want.insert(want.end(), ds.begin() + static_cast<int64_t>(k), ds.end());
  if (updates.shape() != want || updates.dtype() != data.dtype()) {
    return Status::InvalidArgument(NodeLabel(node) + ": updates " + updates.Describe() +
                                   ", expected " + ShapeToString(want));
  }
  std::vector<int64_t> index;
  EI_RETURN_IF_ERROR(TensorInts(node, indices, "indices", &index));
  Tensor out = data.Clone();
  const size_t width = DTypeSize(data.dtype());
  const int64_t slice = Product(ds, k, ds.size());
  const int64_t count = static_cast<int64_t>(index.size() / k);
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  const auto* src = static_cast<const uint8_t*>(updates.raw_data());
  for (int64_t j = 0; j < count; ++j) {
    int64_t offset = 0;
    for (size_t d = 0; d < k; ++d) {
      int64_t i = index[static_cast<size_t>(j) * k + d];
      if (i < -ds[d] || i >= ds[d]) {
        return Status::InvalidArgument(NodeLabel(node) + ": index " + std::to_string(i) +
                                       " is out of range for axis size " + std::to_string(ds[d]));
      }
      if (i < 0) i += ds[d];
      offset = offset * ds[d] + i;
    }
    if (reduction == "none") {
      std::memcpy(dst + static_cast<size_t>(offset * slice) * width,
                  src + static_cast<size_t>(j * slice) * width, static_cast<size_t>(slice) * width);
      continue;
    }
    float* o = out.data<float>() + offset * slice;
    const float* u = updates.data<float>() + j * slice;
    for (int64_t e = 0; e < slice; ++e) {
      if (reduction == "add") {
        o[e] += u[e];
      } else if (reduction == "mul") {
        o[e] *= u[e];
      } else if (reduction == "max") {
        o[e] = std::max(o[e], u[e]);
      } else {
        o[e] = std::min(o[e], u[e]);
      }
    }
  }
  outputs->assign(1, std::move(out));
  return Status::Ok();
}

}  // namespace

Status ResolveSliceWindow(const Graph& graph, const Node& node, SliceWindow* out) {
  std::vector<Tensor> inputs;
  for (ValueId v : node.inputs) {
    if (v == kNoValue) {
      inputs.emplace_back();
      continue;
    }
    const Value& value = graph.value(v);
    if (inputs.empty()) {
      inputs.emplace_back();  // the data: only its shape is used
      continue;
    }
    if (!value.is_constant()) {
      return Status::FailedPrecondition(NodeLabel(node) + ": input '" + value.name +
                                        "' is not constant");
    }
    inputs.push_back(value.constant);
  }
  SliceArgs args;
  EI_RETURN_IF_ERROR(IntsParamForKernel(node, graph.opset, inputs, "starts", 10, 1, &args.starts));
  EI_RETURN_IF_ERROR(IntsParamForKernel(node, graph.opset, inputs, "ends", 10, 2, &args.ends));
  EI_RETURN_IF_ERROR(IntsParamForKernel(node, graph.opset, inputs, "axes", 10, 3, &args.axes));
  if (graph.opset >= 10) {
    EI_RETURN_IF_ERROR(IntsParamForKernel(node, graph.opset, inputs, "steps", 10, 4, &args.steps));
  }
  std::vector<AxisSlice> slices;
  EI_RETURN_IF_ERROR(ResolveSlice(node, args, graph.value(node.inputs[0]).shape, &slices));
  *out = SliceWindow{};
  for (const AxisSlice& a : slices) {
    out->start.push_back(a.start);
    out->step.push_back(a.step);
    out->count.push_back(a.count);
  }
  return Status::Ok();
}

void RegisterTensorIndexOps(std::vector<OpSchema>* out) {
  constexpr int kVariadic = std::numeric_limits<int>::max();
  out->push_back({OpKind::kConcat, 1, kVariadic, ConcatShape, ConcatReference,
                  SpatialKind::kPointwise, nullptr});
  out->push_back({OpKind::kSplit, 1, 2, SplitShape, SplitReference, SpatialKind::kNone, nullptr});
  out->push_back({OpKind::kSlice, 1, 5, SliceShape, SliceReference, SpatialKind::kNone, nullptr});
  out->push_back(
      {OpKind::kGather, 2, 2, GatherShape, GatherReference, SpatialKind::kNone, nullptr});
  out->push_back(
      {OpKind::kScatterND, 3, 3, ScatterNDShape, ScatterNDReference, SpatialKind::kNone, nullptr});
}

}  // namespace edgeinfer

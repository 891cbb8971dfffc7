// Registration of the tensor op family, its shared helpers, and the ops that create tensors
// (Constant, Shape, ConstantOfShape, Range).
#include <cmath>
#include <set>

#include "ops/elementwise_common.h"
#include "ops/tensor_common.h"

namespace edgeinfer {

Status NormalizeAxis(const Node& node, int64_t axis, int64_t rank, int64_t* out, bool inclusive) {
  const int64_t hi = inclusive ? rank : rank - 1;
  if (axis < -rank || axis > hi) {
    return Status::InvalidArgument(NodeLabel(node) + ": axis " + std::to_string(axis) +
                                   " is out of range for rank " + std::to_string(rank));
  }
  *out = axis < 0 ? axis + rank : axis;
  return Status::Ok();
}

Status NormalizeAxes(const Node& node, std::vector<int64_t> axes, int64_t rank,
                     std::vector<int64_t>* out) {
  std::set<int64_t> seen;
  for (int64_t& a : axes) {
    EI_RETURN_IF_ERROR(NormalizeAxis(node, a, rank, &a));
    if (!seen.insert(a).second) {
      return Status::InvalidArgument(NodeLabel(node) + ": axis " + std::to_string(a) +
                                     " appears twice");
    }
  }
  *out = std::move(axes);
  return Status::Ok();
}

Status TensorInts(const Node& node, const Tensor& t, const char* role, std::vector<int64_t>* out) {
  auto v = t.ToInt64Vector();
  if (!v.ok()) return v.status().WithContext(NodeLabel(node) + ": " + role);
  *out = std::move(v).value();
  return Status::Ok();
}

Status NotConstant(const ShapeContext& ctx, size_t index, const char* role) {
  return Status::InvalidArgument(NodeLabel(*ctx.node) + ": input " + std::to_string(index) + " (" +
                                 role + ") must be a constant for shape inference");
}

Status ConstantInts(const ShapeContext& ctx, size_t index, const char* role,
                    std::vector<int64_t>* out) {
  const Tensor* c = index < ctx.constants.size() ? ctx.constants[index] : nullptr;
  if (c == nullptr) return NotConstant(ctx, index, role);
  return TensorInts(*ctx.node, *c, role, out);
}

Status IntsParamForShape(const ShapeContext& ctx, const char* name, int64_t input_since,
                         size_t index, IntsParam* out) {
  *out = IntsParam{};
  if (ctx.opset < input_since) {
    out->present = ctx.node->attrs.Has(name);
    out->values = ctx.node->attrs.GetInts(name);
    return Status::Ok();
  }
  if (!ctx.has_input(index)) return Status::Ok();
  EI_RETURN_IF_ERROR(ConstantInts(ctx, index, name, &out->values));
  out->present = true;
  return Status::Ok();
}

Status IntsParamForKernel(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                          const char* name, int64_t input_since, size_t index, IntsParam* out) {
  *out = IntsParam{};
  if (opset < input_since) {
    out->present = node.attrs.Has(name);
    out->values = node.attrs.GetInts(name);
    return Status::Ok();
  }
  if (index >= inputs.size() || inputs[index].empty()) return Status::Ok();
  out->present = true;
  return TensorInts(node, inputs[index], name, &out->values);
}

std::vector<int64_t> Strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

namespace {

// Constant: exactly one value attribute; sparse and string forms are not supported.
Status ConstantValue(const Node& node, Tensor* out) {
  const Attributes& a = node.attrs;
  for (const char* name : {"sparse_value", "value_string", "value_strings"}) {
    if (a.Has(name)) {
      return Status::Unimplemented(NodeLabel(node) + ": attribute '" + name + "' is not supported");
    }
  }
  if (const Tensor* t = a.GetTensor("value")) {
    *out = *t;
  } else if (a.Has("value_float")) {
    *out = Tensor::Scalar<float>(a.GetFloat("value_float", 0.0f));
  } else if (a.Has("value_floats")) {
    std::vector<float> v = a.GetFloats("value_floats");
    *out = Tensor::FromVector<float>(v, {static_cast<int64_t>(v.size())});
  } else if (a.Has("value_int")) {
    *out = Tensor::Scalar<int64_t>(a.GetInt("value_int", 0));
  } else if (a.Has("value_ints")) {
    std::vector<int64_t> v = a.GetInts("value_ints");
    *out = Tensor::FromVector<int64_t>(v, {static_cast<int64_t>(v.size())});
  } else {
    return Status::InvalidArgument(NodeLabel(node) + ": no value attribute");
  }
  return Status::Ok();
}

Status ConstantShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  Tensor t;
  EI_RETURN_IF_ERROR(ConstantValue(*ctx.node, &t));
  (*outputs)[0] = ValueInfo{t.dtype(), t.shape(), true};
  return Status::Ok();
}

Status ConstantReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                         std::vector<Tensor>* outputs) {
  Tensor t;
  EI_RETURN_IF_ERROR(ConstantValue(node, &t));
  outputs->assign(1, t.Clone());
  return Status::Ok();
}

// Shape (opset 15 adds start/end, clamped to [0, rank] after adding rank to negatives).
void ShapeRange(const Node& node, int64_t opset, int64_t rank, int64_t* begin, int64_t* end) {
  auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  *begin = opset >= 15 ? clamp(node.attrs.GetInt("start", 0)) : 0;
  *end = opset >= 15 ? clamp(node.attrs.GetInt("end", rank)) : rank;
  if (*end < *begin) *end = *begin;
}

Status ShapeShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  ValueInfo& out = (*outputs)[0];
  out.dtype = DType::kInt64;
  if (!ctx.inputs[0].rank_known) {
    out.shape = {-1};
    return Status::Ok();
  }
  int64_t begin, end;
  ShapeRange(*ctx.node, ctx.opset, static_cast<int64_t>(ctx.inputs[0].shape.size()), &begin, &end);
  out.shape = {end - begin};
  return Status::Ok();
}

Status ShapeReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                      std::vector<Tensor>* outputs) {
  const Shape& shape = inputs[0].shape();
  int64_t begin, end;
  ShapeRange(node, opset, static_cast<int64_t>(shape.size()), &begin, &end);
  outputs->assign(
      1, Tensor::FromVector<int64_t>(
             std::vector<int64_t>(shape.begin() + begin, shape.begin() + end), {end - begin}));
  return Status::Ok();
}

// ConstantOfShape's fill value: a one-element tensor attribute, default float32 0.
Status FillValue(const Node& node, Tensor* out) {
  const Tensor* v = node.attrs.GetTensor("value");
  if (v == nullptr) {
    *out = Tensor::Scalar<float>(0.0f);
    return Status::Ok();
  }
  if (v->numel() != 1) {
    return Status::InvalidArgument(NodeLabel(node) + ": value must have one element, got " +
                                   v->Describe());
  }
  *out = *v;
  return Status::Ok();
}

Status CheckDims(const Node& node, const std::vector<int64_t>& dims) {
  for (int64_t d : dims) {
    if (d < 0) {
      return Status::InvalidArgument(NodeLabel(node) + ": negative dimension in shape " +
                                     ShapeToString(dims));
    }
  }
  return Status::Ok();
}

Status ConstantOfShapeShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  Tensor value;
  EI_RETURN_IF_ERROR(FillValue(*ctx.node, &value));
  ValueInfo& out = (*outputs)[0];
  out.dtype = value.dtype();
  if (const Tensor* c = ctx.constants.empty() ? nullptr : ctx.constants[0]) {
    EI_RETURN_IF_ERROR(TensorInts(*ctx.node, *c, "input", &out.shape));
    return CheckDims(*ctx.node, out.shape);
  }
  const ValueInfo& in = ctx.inputs[0];
  if (in.rank_known && in.shape.size() == 1 && in.shape[0] >= 0) {
    out.shape.assign(static_cast<size_t>(in.shape[0]), -1);
  } else {
    out.rank_known = false;
  }
  return Status::Ok();
}

Status ConstantOfShapeReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                                std::vector<Tensor>* outputs) {
  Tensor value;
  EI_RETURN_IF_ERROR(FillValue(node, &value));
  std::vector<int64_t> dims;
  EI_RETURN_IF_ERROR(TensorInts(node, inputs[0], "input", &dims));
  EI_RETURN_IF_ERROR(CheckDims(node, dims));
  auto out = Tensor::Allocate(value.dtype(), dims);
  if (!out.ok()) return out.status().WithContext(NodeLabel(node));
  const size_t width = DTypeSize(value.dtype());
  auto* dst = static_cast<uint8_t*>(out->raw_data());
  const auto* src = static_cast<const uint8_t*>(value.raw_data());
  for (int64_t i = 0; i < out->numel(); ++i) CopyElement(src, dst + i * width, width);
  outputs->assign(1, std::move(out).value());
  return Status::Ok();
}

// Range: element count max(ceil((limit - start) / delta), 0), computed exactly for integers.
template <typename T>
Status RangeCount(const Node& node, T start, T limit, T delta, int64_t* n) {
  if (delta == T(0)) return Status::InvalidArgument(NodeLabel(node) + ": delta is zero");
  if constexpr (std::is_integral_v<T>) {
    const auto diff = static_cast<int64_t>(limit) - static_cast<int64_t>(start);
    const auto d = static_cast<int64_t>(delta);
    int64_t q = diff / d;
    if (diff % d != 0 && (diff > 0) == (d > 0)) ++q;
    *n = std::max<int64_t>(q, 0);
  } else {
    const double q = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) /
                               static_cast<double>(delta));
    if (!(q < 9.0e18)) {
      if (std::isnan(q) || q > 0) {
        return Status::InvalidArgument(NodeLabel(node) + ": range length is not finite");
      }
    }
    *n = q > 0 ? static_cast<int64_t>(q) : 0;
  }
  return Status::Ok();
}

Status CheckRangeInputs(const Node& node, const std::vector<const Tensor*>& in) {
  for (size_t i = 0; i < 3; ++i) {
    if (in[i]->numel() != 1 || in[i]->dtype() != in[0]->dtype()) {
      return Status::InvalidArgument(NodeLabel(node) + ": input " + std::to_string(i) +
                                     " must be a scalar of dtype " + DTypeName(in[0]->dtype()) +
                                     ", got " + in[i]->Describe());
    }
  }
  return Status::Ok();
}

Status RangeShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  ValueInfo& out = (*outputs)[0];
  out.dtype = ctx.inputs[0].dtype;
  out.shape = {-1};
  for (size_t i = 1; i < 3; ++i) EI_RETURN_IF_ERROR(ExpectSameDType(ctx, i, out.dtype));
  if (ctx.constants.size() < 3 || !ctx.constants[0] || !ctx.constants[1] || !ctx.constants[2]) {
    return Status::Ok();
  }
  const std::vector<const Tensor*> in = {ctx.constants[0], ctx.constants[1], ctx.constants[2]};
  EI_RETURN_IF_ERROR(CheckRangeInputs(*ctx.node, in));
  return DispatchNumeric(*ctx.node, out.dtype, "start", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return RangeCount<T>(*ctx.node, in[0]->data<T>()[0], in[1]->data<T>()[0], in[2]->data<T>()[0],
                         &out.shape[0]);
  });
}

Status RangeReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                      std::vector<Tensor>* outputs) {
  const std::vector<const Tensor*> in = {&inputs[0], &inputs[1], &inputs[2]};
  EI_RETURN_IF_ERROR(CheckRangeInputs(node, in));
  return DispatchNumeric(node, inputs[0].dtype(), "start", [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    const T start = in[0]->data<T>()[0];
    const T delta = in[2]->data<T>()[0];
    int64_t n = 0;
    EI_RETURN_IF_ERROR(RangeCount<T>(node, start, in[1]->data<T>()[0], delta, &n));
    auto out = Tensor::Allocate(DTypeOf<T>::value, {n});
    if (!out.ok()) return out.status().WithContext(NodeLabel(node));
    T* p = out->template data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    outputs->assign(1, std::move(out).value());
    return Status::Ok();
  });
}

}  // namespace

void RegisterTensorOps(std::vector<OpSchema>* out) {
  out->push_back(
      {OpKind::kConstant, 0, 0, ConstantShape, ConstantReference, SpatialKind::kNone, nullptr});
  out->push_back({OpKind::kShape, 1, 1, ShapeShape, ShapeReference, SpatialKind::kNone, nullptr});
  out->push_back({OpKind::kConstantOfShape, 1, 1, ConstantOfShapeShape, ConstantOfShapeReference,
                  SpatialKind::kNone, nullptr});
  out->push_back({OpKind::kRange, 3, 3, RangeShape, RangeReference, SpatialKind::kNone, nullptr});
  RegisterTensorLayoutOps(out);
  RegisterTensorIndexOps(out);
  RegisterTensorReduceOps(out);
}

}  // namespace edgeinfer

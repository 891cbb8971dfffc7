// Unary elementwise ops (activations and math functions), Clip, Cast, Dropout, Identity, Not.
#include <cmath>
#include <limits>

#include "ops/elementwise_common.h"

namespace edgeinfer {
namespace {

enum class Domain { kFloat, kNumeric, kBool, kAny };

Domain DomainOf(OpKind op) {
  switch (op) {
    case OpKind::kRelu:
    case OpKind::kAbs:
    case OpKind::kNeg:
    case OpKind::kClip:
      return Domain::kNumeric;
    case OpKind::kNot:
      return Domain::kBool;
    case OpKind::kIdentity:
    case OpKind::kDropout:
      return Domain::kAny;
    default:
      return Domain::kFloat;
  }
}

Status CheckDomain(const Node& node, DType dtype) {
  if (dtype == DType::kUndefined) return Status::Ok();
  bool ok = false;
  switch (DomainOf(node.op)) {
    case Domain::kFloat:
      ok = IsFloatDType(dtype);
      break;
    case Domain::kNumeric:
      ok = IsFloatDType(dtype) || IsIntDType(dtype);
      break;
    case Domain::kBool:
      ok = dtype == DType::kBool;
      break;
    case Domain::kAny:
      ok = DTypeSize(dtype) != 0;
      break;
  }
  return ok ? Status::Ok() : UnsupportedDType(node, dtype, "input 0");
}

// Identity, unary math, Clip: output 0 is input 0's info.
Status SameAsInputShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  EI_RETURN_IF_ERROR(CheckDomain(*ctx.node, ctx.inputs[0].dtype));
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {  // Clip's min/max
    EI_RETURN_IF_ERROR(ExpectSameDType(ctx, i, ctx.inputs[0].dtype));
  }
  (*outputs)[0] = ctx.inputs[0];
  return Status::Ok();
}

template <typename T>
T Sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T>
T Softplus(T x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

template <typename T>
Status FloatUnary(const Node& node, const T* x, T* y, int64_t n) {
  const Attributes& a = node.attrs;
  switch (node.op) {
    case OpKind::kRelu:
      ParallelMap(x, y, n, [](T v) { return v > T(0) ? v : T(0); });
      break;
    case OpKind::kLeakyRelu: {
      const T alpha = static_cast<T>(a.GetFloat("alpha", 0.01f));
      ParallelMap(x, y, n, [alpha](T v) { return v >= T(0) ? v : alpha * v; });
      break;
    }
    case OpKind::kSigmoid:
      ParallelMap(
          x, y, n, [](T v) { return Sigmoid(v); }, 10);
      break;
    case OpKind::kHardSigmoid: {
      const T alpha = static_cast<T>(a.GetFloat("alpha", 0.2f));
      const T beta = static_cast<T>(a.GetFloat("beta", 0.5f));
      ParallelMap(x, y, n, [=](T v) { return std::max(T(0), std::min(T(1), alpha * v + beta)); });
      break;
    }
    case OpKind::kHardSwish:
      ParallelMap(x, y, n,
                  [](T v) { return v * std::max(T(0), std::min(T(1), v / T(6) + T(0.5))); });
      break;
    case OpKind::kTanh:
      ParallelMap(
          x, y, n, [](T v) { return std::tanh(v); }, 10);
      break;
    case OpKind::kSqrt:
      ParallelMap(x, y, n, [](T v) { return std::sqrt(v); });
      break;
    case OpKind::kExp:
      ParallelMap(
          x, y, n, [](T v) { return std::exp(v); }, 10);
      break;
    case OpKind::kErf:
      ParallelMap(
          x, y, n, [](T v) { return std::erf(v); }, 10);
      break;
    case OpKind::kLog:
      ParallelMap(
          x, y, n, [](T v) { return std::log(v); }, 10);
      break;
    case OpKind::kAbs:
      ParallelMap(x, y, n, [](T v) { return std::fabs(v); });
      break;
    case OpKind::kNeg:
      ParallelMap(x, y, n, [](T v) { return -v; });
      break;
    case OpKind::kReciprocal:
      ParallelMap(x, y, n, [](T v) { return T(1) / v; });
      break;
    case OpKind::kFloor:
      ParallelMap(x, y, n, [](T v) { return std::floor(v); });
      break;
    case OpKind::kCeil:
      ParallelMap(x, y, n, [](T v) { return std::ceil(v); });
      break;
    case OpKind::kSin:
      ParallelMap(
          x, y, n, [](T v) { return std::sin(v); }, 10);
      break;
    case OpKind::kCos:
      ParallelMap(
          x, y, n, [](T v) { return std::cos(v); }, 10);
      break;
    case OpKind::kSoftplus:
      ParallelMap(
          x, y, n, [](T v) { return Softplus(v); }, 20);
      break;
    case OpKind::kElu: {
      const T alpha = static_cast<T>(a.GetFloat("alpha", 1.0f));
      ParallelMap(
          x, y, n, [alpha](T v) { return v > T(0) ? v : alpha * std::expm1(v); }, 10);
      break;
    }
    case OpKind::kSelu: {
      const T alpha = static_cast<T>(a.GetFloat("alpha", 1.67326319217681884765625f));
      const T gamma = static_cast<T>(a.GetFloat("gamma", 1.05070102214813232421875f));
      ParallelMap(
          x, y, n,
          [=](T v) { return v > T(0) ? gamma * v : gamma * (alpha * std::exp(v) - alpha); }, 10);
      break;
    }
    case OpKind::kMish:
      ParallelMap(
          x, y, n, [](T v) { return v * std::tanh(Softplus(v)); }, 30);
      break;
    case OpKind::kGelu:
      // ONNX Gelu (opset 20): approximate "none" is x * Phi(x), "tanh" its tanh approximation.
      if (a.GetString("approximate", "none") == "tanh") {
        ParallelMap(
            x, y, n,
            [](T v) {
              const T k = static_cast<T>(0.7978845608028654);  // sqrt(2 / pi)
              return T(0.5) * v * (T(1) + std::tanh(k * (v + T(0.044715) * v * v * v)));
            },
            20);
      } else {
        ParallelMap(
            x, y, n,
            [](T v) {
              return T(0.5) * v * (T(1) + std::erf(v * static_cast<T>(0.7071067811865476)));
            },
            20);
      }
      break;
    default:
      return Status::Internal(NodeLabel(node) + ": not a unary float op");
  }
  return Status::Ok();
}

// Relu, Abs and Neg on integers; wrap-around on the most negative value like two's complement.
template <typename T>
Status IntUnary(const Node& node, const T* x, T* y, int64_t n) {
  using U = std::make_unsigned_t<T>;
  switch (node.op) {
    case OpKind::kRelu:
      ParallelMap(x, y, n, [](T v) { return v > T(0) ? v : T(0); });
      break;
    case OpKind::kAbs:
      ParallelMap(x, y, n, [](T v) { return v < T(0) ? static_cast<T>(U(0) - U(v)) : v; });
      break;
    case OpKind::kNeg:
      ParallelMap(x, y, n, [](T v) { return static_cast<T>(U(0) - U(v)); });
      break;
    default:
      return UnsupportedDType(node, DTypeOf<T>::value, "input 0");
  }
  return Status::Ok();
}

Status UnaryKernel(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                   std::vector<Tensor>* outputs) {
  const Tensor& x = inputs[0];
  EI_RETURN_IF_ERROR(CheckDomain(node, x.dtype()));
  Tensor y = Tensor::Empty(x.dtype(), x.shape());
  const int64_t n = x.numel();
  if (node.op == OpKind::kNot) {
    ParallelMap(x.data<uint8_t>(), y.data<uint8_t>(), n,
                [](uint8_t v) { return static_cast<uint8_t>(v ? 0 : 1); });
  } else if (IsFloatDType(x.dtype())) {
    EI_RETURN_IF_ERROR(DispatchFloat(node, x.dtype(), "input 0", [&](auto tag) {
      using T = typename decltype(tag)::type;
      return FloatUnary<T>(node, x.data<T>(), y.data<T>(), n);
    }));
  } else {
    EI_RETURN_IF_ERROR(DispatchNumeric(node, x.dtype(), "input 0", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_integral_v<T>) {
        return IntUnary<T>(node, x.data<T>(), y.data<T>(), n);
      } else {
        return Status::Internal(NodeLabel(node) + ": float dtype on the integer path");
      }
    }));
  }
  outputs->assign(1, std::move(y));
  return Status::Ok();
}

Status UnaryReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                      std::vector<Tensor>* outputs) {
  if (node.op == OpKind::kIdentity) {
    outputs->assign(1, inputs[0].Clone());
    return Status::Ok();
  }
  return RunViaFloat32(UnaryKernel, node, opset, inputs, outputs);
}

// Clip: bounds from attributes (opset < 11) or optional scalar inputs 1 and 2.
Status ClipKernel(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                  std::vector<Tensor>* outputs) {
  const Tensor& x = inputs[0];
  Tensor y = Tensor::Empty(x.dtype(), x.shape());
  EI_RETURN_IF_ERROR(DispatchNumeric(node, x.dtype(), "input 0", [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    T lo = std::numeric_limits<T>::lowest();
    T hi = std::numeric_limits<T>::max();
    if (opset < 11) {
      if (node.attrs.Has("min")) lo = static_cast<T>(node.attrs.GetFloat("min", 0.0f));
      if (node.attrs.Has("max")) hi = static_cast<T>(node.attrs.GetFloat("max", 0.0f));
    } else {
      for (size_t i = 1; i < 3 && i < inputs.size(); ++i) {
        const Tensor& b = inputs[i];
        if (b.empty()) continue;
        if (b.dtype() != x.dtype() || b.numel() != 1) {
          return Status::InvalidArgument(NodeLabel(node) + ": " + (i == 1 ? "min" : "max") +
                                         " must be a scalar of the input's dtype, got " +
                                         b.Describe());
        }
        (i == 1 ? lo : hi) = b.data<T>()[0];
      }
    }
    ParallelMap(x.data<T>(), y.data<T>(), x.numel(),
                [lo, hi](T v) { return std::min(std::max(v, lo), hi); });
    return Status::Ok();
  }));
  outputs->assign(1, std::move(y));
  return Status::Ok();
}

Status ClipReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                     std::vector<Tensor>* outputs) {
  return RunViaFloat32(ClipKernel, node, opset, inputs, outputs);
}

Status CastTarget(const Node& node, DType* to) {
  if (!node.attrs.Has("to")) {
    return Status::InvalidArgument(NodeLabel(node) + ": missing attribute 'to'");
  }
  const int64_t v = node.attrs.GetInt("to", 0);
  const auto d = static_cast<DType>(v);
  if (v < 0 || v > static_cast<int64_t>(DType::kUInt64) || DTypeSize(d) == 0) {
    return Status::Unimplemented(NodeLabel(node) + ": cast to ONNX dtype " + std::to_string(v) +
                                 " is not supported");
  }
  *to = d;
  return Status::Ok();
}

Status CastShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  DType to;
  EI_RETURN_IF_ERROR(CastTarget(*ctx.node, &to));
  (*outputs)[0] = ctx.inputs[0];
  (*outputs)[0].dtype = to;
  return Status::Ok();
}

Status CastReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                     std::vector<Tensor>* outputs) {
  DType to;
  EI_RETURN_IF_ERROR(CastTarget(node, &to));
  auto cast = inputs[0].CastTo(to);
  if (!cast.ok()) return cast.status().WithContext(NodeLabel(node));
  // CastTo returns a shared view when the dtype already matches; outputs own their bytes.
  outputs->assign(1, to == inputs[0].dtype() ? cast->Clone() : std::move(cast).value());
  return Status::Ok();
}

// Inference-only Dropout: a constant true training_mode (opset 12+) is refused, unless the
// ratio is a constant 0 (torch.onnx writes Swin-T's attention dropout so), which drops nothing.
Status CheckNotTraining(const Node& node, int64_t opset, const Tensor* ratio,
                        const Tensor* training_mode) {
  if (opset < 12 || training_mode == nullptr || training_mode->empty()) return Status::Ok();
  if (ratio != nullptr && !ratio->empty() && ratio->numel() == 1) {
    Result<Tensor> r = ratio->CastTo(DType::kFloat32);
    if (r.ok() && r->data<float>()[0] == 0.f) return Status::Ok();
  }
  for (int64_t i = 0; i < training_mode->numel(); ++i) {
    if (static_cast<const uint8_t*>(training_mode->raw_data())[i] != 0) {
      return Status::Unimplemented(NodeLabel(node) + ": training_mode=true is not supported");
    }
  }
  return Status::Ok();
}

DType MaskDType(int64_t opset, DType data) { return opset >= 10 ? DType::kBool : data; }

Status DropoutShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  const Tensor* ratio = ctx.constants.size() > 1 ? ctx.constants[1] : nullptr;
  const Tensor* training = ctx.constants.size() > 2 ? ctx.constants[2] : nullptr;
  EI_RETURN_IF_ERROR(CheckNotTraining(*ctx.node, ctx.opset, ratio, training));
  (*outputs)[0] = ctx.inputs[0];
  if (outputs->size() > 1) {
    (*outputs)[1] = ctx.inputs[0];
    (*outputs)[1].dtype = MaskDType(ctx.opset, ctx.inputs[0].dtype);
  }
  return Status::Ok();
}

Status DropoutReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                        std::vector<Tensor>* outputs) {
  const Tensor* ratio = inputs.size() > 1 ? &inputs[1] : nullptr;
  const Tensor* training = inputs.size() > 2 ? &inputs[2] : nullptr;
  EI_RETURN_IF_ERROR(CheckNotTraining(node, opset, ratio, training));
  outputs->assign(1, inputs[0].Clone());
  if (node.outputs.size() > 1 && node.outputs[1] != kNoValue) {
    const DType mask_dtype = MaskDType(opset, inputs[0].dtype());
    auto ones = Tensor::Scalar<uint8_t>(1).CastTo(mask_dtype);
    if (!ones.ok()) return ones.status().WithContext(NodeLabel(node));
    Tensor mask = Tensor::Empty(mask_dtype, inputs[0].shape());
    const size_t width = DTypeSize(mask_dtype);
    auto* dst = static_cast<uint8_t*>(mask.raw_data());
    const auto* one = static_cast<const uint8_t*>(ones->raw_data());
    for (int64_t i = 0; i < mask.numel(); ++i) std::copy(one, one + width, dst + i * width);
    outputs->push_back(std::move(mask));
  }
  return Status::Ok();
}

}  // namespace

void RegisterUnaryElementwiseOps(std::vector<OpSchema>* out) {
  for (OpKind op :
       {OpKind::kRelu,       OpKind::kLeakyRelu, OpKind::kSigmoid,  OpKind::kHardSigmoid,
        OpKind::kHardSwish,  OpKind::kTanh,      OpKind::kSqrt,     OpKind::kExp,
        OpKind::kErf,        OpKind::kLog,       OpKind::kAbs,      OpKind::kNeg,
        OpKind::kReciprocal, OpKind::kFloor,     OpKind::kCeil,     OpKind::kSin,
        OpKind::kCos,        OpKind::kSoftplus,  OpKind::kElu,      OpKind::kSelu,
        OpKind::kMish,       OpKind::kNot,       OpKind::kIdentity, OpKind::kGelu}) {
    out->push_back({op, 1, 1, SameAsInputShape, UnaryReference, SpatialKind::kPointwise, nullptr});
  }
  out->push_back(
      {OpKind::kClip, 1, 3, SameAsInputShape, ClipReference, SpatialKind::kPointwise, nullptr});
  out->push_back({OpKind::kCast, 1, 1, CastShape, CastReference, SpatialKind::kPointwise, nullptr});
  out->push_back(
      {OpKind::kDropout, 1, 3, DropoutShape, DropoutReference, SpatialKind::kPointwise, nullptr});
}

}  // namespace edgeinfer

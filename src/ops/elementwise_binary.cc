// Broadcasting elementwise ops: arithmetic, Pow, PRelu, variadic Max/Min/Sum/Mean,
// comparisons (bool output) and Where.
#include <cmath>
#include <limits>

#include "ops/broadcast.h"
#include "ops/elementwise_common.h"

namespace edgeinfer {
namespace {

bool IsComparison(OpKind op) {
  return op == OpKind::kEqual || op == OpKind::kLess || op == OpKind::kGreater;
}

// Shape rule of every multidirectionally broadcasting op (Where included).
Status BroadcastShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  const Node& node = *ctx.node;
  const size_t first_data = node.op == OpKind::kWhere ? 1 : 0;
  const DType dtype = ctx.inputs[first_data].dtype;
  if (node.op == OpKind::kWhere) {
    EI_RETURN_IF_ERROR(ExpectSameDType(ctx, 0, DType::kBool));
  }
  for (size_t i = first_data + 1; i < ctx.inputs.size(); ++i) {
    if (node.op == OpKind::kPow) break;  // the exponent may have its own dtype
    EI_RETURN_IF_ERROR(ExpectSameDType(ctx, i, dtype));
  }
  if (dtype != DType::kUndefined && node.op != OpKind::kWhere) {
    const bool bool_ok = node.op == OpKind::kEqual;
    if (!IsFloatDType(dtype) && !IsIntDType(dtype) && !(bool_ok && dtype == DType::kBool)) {
      return UnsupportedDType(node, dtype, "input 0");
    }
  }
  ValueInfo& out = (*outputs)[0];
  out.dtype = IsComparison(node.op) ? DType::kBool : dtype;
  out.rank_known = true;
  out.shape.clear();
  for (const ValueInfo& in : ctx.inputs) {
    if (!in.rank_known) {
      out.rank_known = false;
      out.shape.clear();
      return Status::Ok();
    }
    EI_RETURN_IF_ERROR(BroadcastShapes(node, out.shape, in.shape, &out.shape));
  }
  return Status::Ok();
}

Status PReluShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  EI_RETURN_IF_ERROR(ExpectSameDType(ctx, 1, ctx.inputs[0].dtype));
  const ValueInfo& x = ctx.inputs[0];
  const ValueInfo& slope = ctx.inputs[1];
  if (x.rank_known && slope.rank_known && !BroadcastsTo(slope.shape, x.shape)) {
    return Status::InvalidArgument(NodeLabel(*ctx.node) + ": slope shape " +
                                   ShapeToString(slope.shape) + " does not broadcast to X shape " +
                                   ShapeToString(x.shape));
  }
  (*outputs)[0] = x;
  return Status::Ok();
}

// out = f(a, b) over the broadcast of a and b; `out` is allocated with its final shape.
template <typename A, typename B, typename R, typename F>
void Apply2(const Tensor& a, const Tensor& b, Tensor* out, F f) {
  const BroadcastIter it = MakeBroadcastIter({a.shape(), b.shape()}, out->shape());
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  R* po = out->data<R>();
  ParallelBroadcastRuns<2>(it, [&](int64_t o, int64_t len, const int64_t* off, const int64_t* st) {
    const A* x = pa + off[0];
    const B* y = pb + off[1];
    R* z = po + o;
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < len; ++i) z[i] = f(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 0) {
      const B yv = *y;
      for (int64_t i = 0; i < len; ++i) z[i] = f(x[i], yv);
    } else if (st[0] == 0 && st[1] == 1) {
      const A xv = *x;
      for (int64_t i = 0; i < len; ++i) z[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < len; ++i) z[i] = f(x[i * st[0]], y[i * st[1]]);
    }
  });
}

// Two's-complement wrapping arithmetic for integers (signed overflow is undefined in C++).
template <typename T>
T WrapAdd(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}
template <typename T>
T WrapSub(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  } else {
    return a - b;
  }
}
template <typename T>
T WrapMul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b)));
  } else {
    return a * b;
  }
}
// Integer division truncates toward zero like C; x / -1 wraps instead of trapping.
template <typename T>
T SafeDiv(T a, T b) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    if (b == T(-1)) return WrapSub(T(0), a);
  }
  return a / b;
}
template <typename T>
T MaxOf(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
  }
  return a < b ? b : a;
}
template <typename T>
T MinOf(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
  }
  return b < a ? b : a;
}
// Integer base: exact repeated squaring for non-negative integral exponents; otherwise the
// double result truncated toward zero (so 2^-1 == 0).
template <typename T>
T PowOf(T base, double e) {
  if constexpr (std::is_integral_v<T>) {
    if (e >= 0 && e == std::floor(e) && e < 64) {
      auto n = static_cast<uint64_t>(e);
      T result = 1;
      T b = base;
      while (n) {
        if (n & 1) result = WrapMul(result, b);
        b = WrapMul(b, b);
        n >>= 1;
      }
      return result;
    }
    return static_cast<T>(std::pow(static_cast<double>(base), e));
  } else {
    return static_cast<T>(std::pow(static_cast<double>(base), e));
  }
}

Status CheckSameDType(const Node& node, const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype()) return Status::Ok();
  return Status::InvalidArgument(NodeLabel(node) + ": inputs have different dtypes " +
                                 a.Describe() + " and " + b.Describe());
}

// One broadcasting step of `op` (Mean accumulates as Sum).
Status Binary(const Node& node, OpKind op, const Tensor& a, const Tensor& b, Tensor* out) {
  if (op != OpKind::kPow) EI_RETURN_IF_ERROR(CheckSameDType(node, a, b));
  Shape shape;
  EI_RETURN_IF_ERROR(BroadcastShapes(node, a.shape(), b.shape(), &shape));
  const bool compare = IsComparison(op);
  *out = Tensor::Empty(compare ? DType::kBool : a.dtype(), shape);
  const DType dispatch_dtype =
      a.dtype() == DType::kBool && op == OpKind::kEqual ? DType::kUInt8 : a.dtype();
  return DispatchNumeric(node, dispatch_dtype, "input 0", [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    switch (op) {
      case OpKind::kAdd:
      case OpKind::kSum:
      case OpKind::kMean:
        Apply2<T, T, T>(a, b, out, WrapAdd<T>);
        break;
      case OpKind::kSub:
        Apply2<T, T, T>(a, b, out, WrapSub<T>);
        break;
      case OpKind::kMul:
        Apply2<T, T, T>(a, b, out, WrapMul<T>);
        break;
      case OpKind::kDiv:
        if constexpr (std::is_integral_v<T>) {
          for (int64_t i = 0; i < b.numel(); ++i) {
            if (b.data<T>()[i] == 0) {
              return Status::InvalidArgument(NodeLabel(node) + ": integer division by zero");
            }
          }
        }
        Apply2<T, T, T>(a, b, out, SafeDiv<T>);
        break;
      case OpKind::kMax:
        Apply2<T, T, T>(a, b, out, MaxOf<T>);
        break;
      case OpKind::kMin:
        Apply2<T, T, T>(a, b, out, MinOf<T>);
        break;
      case OpKind::kEqual:
        Apply2<T, T, uint8_t>(a, b, out, [](T x, T y) -> uint8_t { return x == y; });
        break;
      case OpKind::kLess:
        Apply2<T, T, uint8_t>(a, b, out, [](T x, T y) -> uint8_t { return x < y; });
        break;
      case OpKind::kGreater:
        Apply2<T, T, uint8_t>(a, b, out, [](T x, T y) -> uint8_t { return x > y; });
        break;
      case OpKind::kMod: {
        // fmod=1: C's fmod (sign of the dividend); fmod=0 (integers only): Python's %, with
        // the sign of the divisor.
        const bool c_style = node.attrs.GetInt("fmod", 0) != 0;
        if constexpr (std::is_integral_v<T>) {
          for (int64_t i = 0; i < b.numel(); ++i) {
            if (b.data<T>()[i] == 0) {
              return Status::InvalidArgument(NodeLabel(node) + ": integer modulo by zero");
            }
          }
          Apply2<T, T, T>(a, b, out, [c_style](T x, T y) {
            if constexpr (std::is_signed_v<T>) {
              if (y == T(-1)) return T(0);  // also avoids INT_MIN % -1
            }
            T r = static_cast<T>(x % y);
            if (!c_style && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
            return r;
          });
        } else {
          if (!c_style) {
            return Status::InvalidArgument(NodeLabel(node) +
                                           ": floating-point Mod requires fmod=1");
          }
          Apply2<T, T, T>(a, b, out, [](T x, T y) { return static_cast<T>(std::fmod(x, y)); });
        }
        break;
      }
      case OpKind::kPow: {
        if (b.dtype() == DType::kBool || DTypeSize(b.dtype()) == 0) {
          return UnsupportedDType(node, b.dtype(), "exponent");
        }
        auto exponent = b.CastTo(DType::kFloat64);
        if (!exponent.ok()) return exponent.status().WithContext(NodeLabel(node));
        Apply2<T, double, T>(a, *exponent, out, PowOf<T>);
        break;
      }
      default:
        return Status::Internal(NodeLabel(node) + ": not a binary op");
    }
    return Status::Ok();
  });
}

Status BinaryKernel(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                    std::vector<Tensor>* outputs) {
  if (inputs.empty() || inputs[0].empty()) {
    return Status::InvalidArgument(NodeLabel(node) + ": missing input 0");
  }
  Tensor acc = inputs[0];
  if (inputs.size() == 1) acc = acc.Clone();
  for (size_t i = 1; i < inputs.size(); ++i) {
    Tensor next;
    EI_RETURN_IF_ERROR(Binary(node, node.op, acc, inputs[i], &next));
    acc = std::move(next);
  }
  if (node.op == OpKind::kMean && inputs.size() > 1) {
    const auto n = static_cast<int64_t>(inputs.size());
    EI_RETURN_IF_ERROR(DispatchNumeric(node, acc.dtype(), "input 0", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = acc.data<T>();
      ParallelMap(p, p, acc.numel(), [n](T v) { return static_cast<T>(v / static_cast<T>(n)); });
      return Status::Ok();
    }));
  }
  outputs->assign(1, std::move(acc));
  return Status::Ok();
}

Status BinaryReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                       std::vector<Tensor>* outputs) {
  return RunViaFloat32(BinaryKernel, node, opset, inputs, outputs);
}

Status PReluKernel(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                   std::vector<Tensor>* outputs) {
  const Tensor& x = inputs[0];
  const Tensor& slope = inputs[1];
  EI_RETURN_IF_ERROR(CheckSameDType(node, x, slope));
  if (!BroadcastsTo(slope.shape(), x.shape())) {
    return Status::InvalidArgument(NodeLabel(node) + ": slope shape " +
                                   ShapeToString(slope.shape()) +
                                   " does not broadcast to X shape " + ShapeToString(x.shape()));
  }
  Tensor y = Tensor::Empty(x.dtype(), x.shape());
  EI_RETURN_IF_ERROR(DispatchNumeric(node, x.dtype(), "input 0", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Apply2<T, T, T>(x, slope, &y, [](T v, T s) { return v < T(0) ? WrapMul(s, v) : v; });
    return Status::Ok();
  }));
  outputs->assign(1, std::move(y));
  return Status::Ok();
}

Status PReluReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                      std::vector<Tensor>* outputs) {
  return RunViaFloat32(PReluKernel, node, opset, inputs, outputs);
}

// Where copies elements, so it works on raw bytes of any dtype.
template <typename E>
void WhereCopy(const Tensor& cond, const Tensor& x, const Tensor& y, Tensor* out) {
  const BroadcastIter it = MakeBroadcastIter({cond.shape(), x.shape(), y.shape()}, out->shape());
  const auto* pc = cond.data<uint8_t>();
  const auto* px = static_cast<const E*>(x.raw_data());
  const auto* py = static_cast<const E*>(y.raw_data());
  auto* po = static_cast<E*>(out->raw_data());
  ParallelBroadcastRuns<3>(it, [&](int64_t o, int64_t len, const int64_t* off, const int64_t* st) {
    for (int64_t i = 0; i < len; ++i) {
      po[o + i] = pc[off[0] + i * st[0]] ? px[off[1] + i * st[1]] : py[off[2] + i * st[2]];
    }
  });
}

Status WhereReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                      std::vector<Tensor>* outputs) {
  const Tensor& cond = inputs[0];
  const Tensor& x = inputs[1];
  const Tensor& y = inputs[2];
  if (cond.dtype() != DType::kBool) return UnsupportedDType(node, cond.dtype(), "condition");
  EI_RETURN_IF_ERROR(CheckSameDType(node, x, y));
  Shape shape;
  EI_RETURN_IF_ERROR(BroadcastShapes(node, cond.shape(), x.shape(), &shape));
  EI_RETURN_IF_ERROR(BroadcastShapes(node, shape, y.shape(), &shape));
  Tensor out = Tensor::Empty(x.dtype(), shape);
  switch (DTypeSize(x.dtype())) {
    case 1:
      WhereCopy<uint8_t>(cond, x, y, &out);
      break;
    case 2:
      WhereCopy<uint16_t>(cond, x, y, &out);
      break;
    case 4:
      WhereCopy<uint32_t>(cond, x, y, &out);
      break;
    case 8:
      WhereCopy<uint64_t>(cond, x, y, &out);
      break;
    default:
      return UnsupportedDType(node, x.dtype(), "X");
  }
  outputs->assign(1, std::move(out));
  return Status::Ok();
}

}  // namespace

void RegisterBinaryElementwiseOps(std::vector<OpSchema>* out) {
  for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kDiv, OpKind::kPow,
                    OpKind::kEqual, OpKind::kLess, OpKind::kGreater, OpKind::kMod}) {
    out->push_back({op, 2, 2, BroadcastShape, BinaryReference, SpatialKind::kPointwise, nullptr});
  }
  constexpr int kVariadic = std::numeric_limits<int>::max();
  for (OpKind op : {OpKind::kMax, OpKind::kMin, OpKind::kSum, OpKind::kMean}) {
    out->push_back(
        {op, 1, kVariadic, BroadcastShape, BinaryReference, SpatialKind::kPointwise, nullptr});
  }
  out->push_back(
      {OpKind::kPRelu, 2, 2, PReluShape, PReluReference, SpatialKind::kPointwise, nullptr});
  out->push_back(
      {OpKind::kWhere, 3, 3, BroadcastShape, WhereReference, SpatialKind::kPointwise, nullptr});
}

}  // namespace edgeinfer

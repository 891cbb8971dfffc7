// Reductions over axes (ReduceMean/Sum/Max/Min/Prod/L2) and ArgMax.
#include <cmath>
#include <limits>

#include "ops/broadcast.h"
#include "ops/elementwise_common.h"
#include "ops/tensor_common.h"

namespace edgeinfer {
namespace {

// Opset from which `axes` is an input rather than an attribute.
int64_t AxesInputSince(OpKind op) { return op == OpKind::kReduceSum ? 13 : 18; }

struct ReducePlan {
  bool noop = false;          // empty axes with noop_with_empty_axes: output is the input
  std::vector<bool> reduced;  // per input dim
  bool keepdims = true;
};

Status MakeReducePlan(const Node& node, const IntsParam& axes, int64_t rank, ReducePlan* plan) {
  plan->keepdims = node.attrs.GetInt("keepdims", 1) != 0;
  plan->reduced.assign(static_cast<size_t>(rank), false);
  if (!axes.present || axes.values.empty()) {
    plan->noop = node.attrs.GetInt("noop_with_empty_axes", 0) != 0;
    if (!plan->noop) plan->reduced.assign(static_cast<size_t>(rank), true);
    return Status::Ok();
  }
  std::vector<int64_t> norm;
  EI_RETURN_IF_ERROR(NormalizeAxes(node, axes.values, rank, &norm));
  for (int64_t a : norm) plan->reduced[static_cast<size_t>(a)] = true;
  return Status::Ok();
}

Shape ReducedShape(const ReducePlan& plan, const Shape& in, bool keepdims) {
  if (plan.noop) return in;
  Shape out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (!plan.reduced[d]) {
      out.push_back(in[d]);
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  return out;
}

Status ReduceShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  const ValueInfo& in = ctx.inputs[0];
  ValueInfo& out = (*outputs)[0];
  out.dtype = in.dtype;
  if (in.dtype == DType::kBool) return UnsupportedDType(*ctx.node, in.dtype, "input 0");
  IntsParam axes;
  EI_RETURN_IF_ERROR(IntsParamForShape(ctx, "axes", AxesInputSince(ctx.node->op), 1, &axes));
  if (!in.rank_known) {
    out.rank_known = false;
    return Status::Ok();
  }
  ReducePlan plan;
  EI_RETURN_IF_ERROR(MakeReducePlan(*ctx.node, axes, static_cast<int64_t>(in.shape.size()), &plan));
  out.shape = ReducedShape(plan, in.shape, plan.keepdims);
  return Status::Ok();
}

// Accumulates in double for floats (exact for max/min, extra precision for sums) and in
// int64 with wrap-around for integers.
template <typename T>
Status ReduceTyped(const Node& node, const Tensor& in, const ReducePlan& plan, Tensor* out) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  const Shape keep = ReducedShape(plan, in.shape(), true);
  const int64_t n_out = NumElements(keep);
  const int64_t count = n_out == 0 ? 0 : in.numel() / n_out;
  Acc init = 0;
  switch (node.op) {
    case OpKind::kReduceProd:
      init = 1;
      break;
    case OpKind::kReduceMax:
      init = std::is_floating_point_v<T> ? -std::numeric_limits<Acc>::infinity()
                                         : std::numeric_limits<T>::lowest();
      break;
    case OpKind::kReduceMin:
      init = std::is_floating_point_v<T> ? std::numeric_limits<Acc>::infinity()
                                         : std::numeric_limits<T>::max();
      break;
    default:
      break;
  }
  std::vector<Acc> acc(static_cast<size_t>(n_out), init);
  const T* x = in.data<T>();
  const BroadcastIter it = MakeBroadcastIter({keep}, in.shape());
  const OpKind op = node.op;
  ForEachBroadcastRun<1>(
      it, 0, in.numel(), [&](int64_t o, int64_t len, const int64_t* off, const int64_t* st) {
        for (int64_t i = 0; i < len; ++i) {
          Acc& a = acc[static_cast<size_t>(off[0] + i * st[0])];
          const auto v = static_cast<Acc>(x[o + i]);
          switch (op) {
            case OpKind::kReduceMax:
              a = v > a ? v : a;
              break;
            case OpKind::kReduceMin:
              a = v < a ? v : a;
              break;
            case OpKind::kReduceProd:
              if constexpr (std::is_integral_v<Acc>) {
                a = static_cast<Acc>(static_cast<uint64_t>(a) * static_cast<uint64_t>(v));
              } else {
                a *= v;
              }
              break;
            case OpKind::kReduceL2:
              a += v * v;
              break;
            default:
              a += v;
              break;
          }
        }
      });
  *out = Tensor::Empty(in.dtype(), ReducedShape(plan, in.shape(), plan.keepdims));
  T* y = out->data<T>();
  for (int64_t i = 0; i < n_out; ++i) {
    Acc a = acc[static_cast<size_t>(i)];
    if (op == OpKind::kReduceMean) {
      if constexpr (std::is_integral_v<Acc>) {
        a = count == 0 ? 0 : a / count;
      } else {
        a /= static_cast<double>(count);
      }
    } else if (op == OpKind::kReduceL2) {
      a = static_cast<Acc>(std::sqrt(static_cast<double>(a)));
    }
    y[i] = static_cast<T>(a);
  }
  return Status::Ok();
}

Status ReduceKernel(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                    std::vector<Tensor>* outputs) {
  const Tensor& in = inputs[0];
  IntsParam axes;
  EI_RETURN_IF_ERROR(
      IntsParamForKernel(node, opset, inputs, "axes", AxesInputSince(node.op), 1, &axes));
  ReducePlan plan;
  EI_RETURN_IF_ERROR(MakeReducePlan(node, axes, in.rank(), &plan));
  if (plan.noop) {
    outputs->assign(1, in.Clone());
    return Status::Ok();
  }
  Tensor out;
  EI_RETURN_IF_ERROR(DispatchNumeric(node, in.dtype(), "input 0", [&](auto tag) {
    return ReduceTyped<typename decltype(tag)::type>(node, in, plan, &out);
  }));
  outputs->assign(1, std::move(out));
  return Status::Ok();
}

Status ReduceReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                       std::vector<Tensor>* outputs) {
  return RunViaFloat32(ReduceKernel, node, opset, inputs, outputs);
}

Status ArgMaxShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  const ValueInfo& in = ctx.inputs[0];
  ValueInfo& out = (*outputs)[0];
  out.dtype = DType::kInt64;
  if (!in.rank_known) {
    out.rank_known = false;
    return Status::Ok();
  }
  int64_t axis;
  EI_RETURN_IF_ERROR(NormalizeAxis(*ctx.node, ctx.node->attrs.GetInt("axis", 0),
                                   static_cast<int64_t>(in.shape.size()), &axis));
  out.shape = in.shape;
  if (ctx.node->attrs.GetInt("keepdims", 1) != 0) {
    out.shape[static_cast<size_t>(axis)] = 1;
  } else {
    out.shape.erase(out.shape.begin() + axis);
  }
  return Status::Ok();
}

Status ArgMaxKernel(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                    std::vector<Tensor>* outputs) {
  const Tensor& in = inputs[0];
  int64_t axis;
  EI_RETURN_IF_ERROR(NormalizeAxis(node, node.attrs.GetInt("axis", 0), in.rank(), &axis));
  const int64_t dim = in.dim(axis);
  if (dim == 0) return Status::InvalidArgument(NodeLabel(node) + ": axis has size 0");
  const bool last = node.attrs.GetInt("select_last_index", 0) != 0;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= in.dim(d);
  for (int64_t d = axis + 1; d < in.rank(); ++d) inner *= in.dim(d);
  Shape shape = in.shape();
  if (node.attrs.GetInt("keepdims", 1) != 0) {
    shape[static_cast<size_t>(axis)] = 1;
  } else {
    shape.erase(shape.begin() + axis);
  }
  Tensor out = Tensor::Empty(DType::kInt64, shape);
  int64_t* y = out.data<int64_t>();
  EI_RETURN_IF_ERROR(DispatchNumeric(node, in.dtype(), "input 0", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const T* p = x + o * dim * inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < dim; ++k) {
          const T v = p[k * inner];
          const T b = p[best * inner];
          if (v > b || (last && v == b)) best = k;
        }
        y[o * inner + i] = best;
      }
    }
    return Status::Ok();
  }));
  outputs->assign(1, std::move(out));
  return Status::Ok();
}

Status ArgMaxReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                       std::vector<Tensor>* outputs) {
  return RunViaFloat32(ArgMaxKernel, node, opset, inputs, outputs);
}

}  // namespace

void RegisterTensorReduceOps(std::vector<OpSchema>* out) {
  for (OpKind op : {OpKind::kReduceMean, OpKind::kReduceSum, OpKind::kReduceMax, OpKind::kReduceMin,
                    OpKind::kReduceProd, OpKind::kReduceL2}) {
    out->push_back({op, 1, 2, ReduceShape, ReduceReference, SpatialKind::kNone, nullptr});
  }
  out->push_back(
      {OpKind::kArgMax, 1, 1, ArgMaxShape, ArgMaxReference, SpatialKind::kNone, nullptr});
}

}  // namespace edgeinfer

// Ops that rearrange or replicate elements without computing on them: Reshape, Flatten,
// Squeeze, Unsqueeze, Transpose, Expand, Tile. Kernels move bytes, so every dtype works.
#include <numeric>

#include "ops/broadcast.h"
#include "ops/elementwise_common.h"
#include "ops/tensor_common.h"

namespace edgeinfer {
namespace {

// A copy of `in` with a new shape of the same element count (outputs own their bytes).
Status CopyAs(const Node& node, const Tensor& in, const Shape& shape, std::vector<Tensor>* out) {
  auto r = in.Clone().Reshaped(shape);
  if (!r.ok()) return r.status().WithContext(NodeLabel(node));
  out->assign(1, std::move(r).value());
  return Status::Ok();
}

// Reshape's target: 0 copies the input dim (unless allowzero), one -1 is inferred. `in` may
// hold -1 dims (then dims that depend on them stay -1) and `in_rank_known` may be false.
Status ReshapeTarget(const Node& node, const Shape& in, bool in_rank_known,
                     const std::vector<int64_t>& spec, bool allowzero, Shape* out) {
  Shape result(spec.size());
  int64_t infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    const int64_t s = spec[i];
    if (s == -1) {
      if (infer_at >= 0) {
        return Status::InvalidArgument(NodeLabel(node) + ": shape " + ShapeToString(spec) +
                                       " has more than one -1");
      }
      infer_at = static_cast<int64_t>(i);
      result[i] = -1;
    } else if (s < -1) {
      return Status::InvalidArgument(NodeLabel(node) + ": invalid dimension " + std::to_string(s) +
                                     " in shape");
    } else if (s == 0 && !allowzero) {
      if (!in_rank_known) {
        result[i] = -1;
      } else if (i < in.size()) {
        result[i] = in[i];
      } else {
        return Status::InvalidArgument(NodeLabel(node) + ": 0 at position " + std::to_string(i) +
                                       " of the shape copies a dimension the input " +
                                       ShapeToString(in) + " does not have");
      }
    } else {
      has_zero |= s == 0;
      result[i] = s;
    }
  }
  if (allowzero && has_zero && infer_at >= 0) {
    return Status::InvalidArgument(NodeLabel(node) + ": shape has both 0 and -1 with allowzero=1");
  }
  // Unknown input dims copied by 0 appear on both sides and cancel, so [N, 3, 4] -> [0, -1]
  // still infers [N, 12]; any other unknown dim leaves the -1 unresolved.
  int64_t in_known_product = 1;
  int64_t in_unknown = 0;
  for (int64_t d : in) {
    if (d < 0) {
      ++in_unknown;
    } else {
      in_known_product *= d;
    }
  }
  int64_t others = 1;
  int64_t cancelled = 0;
  bool others_known = in_rank_known;
  for (size_t i = 0; i < result.size(); ++i) {
    if (static_cast<int64_t>(i) == infer_at) continue;
    if (result[i] >= 0) {
      others *= result[i];
    } else if (spec[i] == 0 && !allowzero && in_rank_known) {
      ++cancelled;
    } else {
      others_known = false;
    }
  }
  others_known = others_known && cancelled == in_unknown;
  if (infer_at >= 0) {
    if (others_known) {
      if (others == 0 || in_known_product % others != 0) {
        return Status::InvalidArgument(NodeLabel(node) + ": cannot reshape " + ShapeToString(in) +
                                       " to " + ShapeToString(spec));
      }
      result[static_cast<size_t>(infer_at)] = in_known_product / others;
    }
  } else if (others_known && others != in_known_product) {
    return Status::InvalidArgument(NodeLabel(node) + ": cannot reshape " + ShapeToString(in) +
                                   " (" + std::to_string(in_known_product) + " elements) to " +
                                   ShapeToString(result) + " (" + std::to_string(others) +
                                   " elements)");
  }
  *out = std::move(result);
  return Status::Ok();
}

Status ReshapeShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  IntsParam spec;
  EI_RETURN_IF_ERROR(IntsParamForShape(ctx, "shape", 5, 1, &spec));
  if (!spec.present) return NotConstant(ctx, 1, "shape");
  const ValueInfo& in = ctx.inputs[0];
  ValueInfo& out = (*outputs)[0];
  out.dtype = in.dtype;
  return ReshapeTarget(*ctx.node, in.shape, in.rank_known, spec.values,
                       ctx.node->attrs.GetInt("allowzero", 0) != 0, &out.shape);
}

Status ReshapeReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                        std::vector<Tensor>* outputs) {
  IntsParam spec;
  EI_RETURN_IF_ERROR(IntsParamForKernel(node, opset, inputs, "shape", 5, 1, &spec));
  if (!spec.present) return Status::InvalidArgument(NodeLabel(node) + ": missing shape");
  Shape shape;
  EI_RETURN_IF_ERROR(ReshapeTarget(node, inputs[0].shape(), true, spec.values,
                                   node.attrs.GetInt("allowzero", 0) != 0, &shape));
  return CopyAs(node, inputs[0], shape, outputs);
}

Status FlattenTarget(const Node& node, const Shape& in, Shape* out) {
  int64_t axis;
  EI_RETURN_IF_ERROR(NormalizeAxis(node, node.attrs.GetInt("axis", 1),
                                   static_cast<int64_t>(in.size()), &axis, true));
  auto product = [](auto begin, auto end) {
    int64_t p = 1;
    for (auto it = begin; it != end; ++it) p = (*it < 0 || p < 0) ? -1 : p * *it;
    return p;
  };
  *out = {product(in.begin(), in.begin() + axis), product(in.begin() + axis, in.end())};
  return Status::Ok();
}

Status FlattenShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  ValueInfo& out = (*outputs)[0];
  out.dtype = ctx.inputs[0].dtype;
  if (!ctx.inputs[0].rank_known) {
    out.shape = {-1, -1};
    return Status::Ok();
  }
  return FlattenTarget(*ctx.node, ctx.inputs[0].shape, &out.shape);
}

Status FlattenReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                        std::vector<Tensor>* outputs) {
  Shape shape;
  EI_RETURN_IF_ERROR(FlattenTarget(node, inputs[0].shape(), &shape));
  return CopyAs(node, inputs[0], shape, outputs);
}

// Squeeze: without axes removes every 1; `*rank_known` becomes false when that depends on
// unknown dims.
Status SqueezeTarget(const Node& node, const Shape& in, const IntsParam& axes, Shape* out,
                     bool* rank_known) {
  *rank_known = true;
  out->clear();
  if (!axes.present || axes.values.empty()) {
    for (int64_t d : in) {
      if (d < 0) *rank_known = false;
      if (d != 1) out->push_back(d);
    }
    if (!*rank_known) out->clear();
    return Status::Ok();
  }
  std::vector<int64_t> norm;
  EI_RETURN_IF_ERROR(NormalizeAxes(node, axes.values, static_cast<int64_t>(in.size()), &norm));
  std::vector<bool> drop(in.size(), false);
  for (int64_t a : norm) {
    const int64_t d = in[static_cast<size_t>(a)];
    if (d != 1 && d >= 0) {
      return Status::InvalidArgument(NodeLabel(node) + ": cannot squeeze axis " +
                                     std::to_string(a) + " of size " + std::to_string(d) +
                                     " in shape " + ShapeToString(in));
    }
    drop[static_cast<size_t>(a)] = true;
  }
  for (size_t i = 0; i < in.size(); ++i) {
    if (!drop[i]) out->push_back(in[i]);
  }
  return Status::Ok();
}

Status UnsqueezeTarget(const Node& node, const Shape& in, const IntsParam& axes, Shape* out) {
  if (!axes.present) return Status::InvalidArgument(NodeLabel(node) + ": missing axes");
  const auto out_rank = static_cast<int64_t>(in.size() + axes.values.size());
  std::vector<int64_t> norm;
  EI_RETURN_IF_ERROR(NormalizeAxes(node, axes.values, out_rank, &norm));
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : norm) inserted[static_cast<size_t>(a)] = true;
  out->clear();
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    out->push_back(inserted[static_cast<size_t>(i)] ? 1 : in[next++]);
  }
  return Status::Ok();
}

Status SqueezeLikeShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  IntsParam axes;
  EI_RETURN_IF_ERROR(IntsParamForShape(ctx, "axes", 13, 1, &axes));
  const ValueInfo& in = ctx.inputs[0];
  ValueInfo& out = (*outputs)[0];
  out.dtype = in.dtype;
  if (!in.rank_known) {
    out.rank_known = false;
    return Status::Ok();
  }
  if (ctx.node->op == OpKind::kUnsqueeze) {
    return UnsqueezeTarget(*ctx.node, in.shape, axes, &out.shape);
  }
  return SqueezeTarget(*ctx.node, in.shape, axes, &out.shape, &out.rank_known);
}

Status SqueezeLikeReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                            std::vector<Tensor>* outputs) {
  IntsParam axes;
  EI_RETURN_IF_ERROR(IntsParamForKernel(node, opset, inputs, "axes", 13, 1, &axes));
  Shape shape;
  if (node.op == OpKind::kUnsqueeze) {
    EI_RETURN_IF_ERROR(UnsqueezeTarget(node, inputs[0].shape(), axes, &shape));
  } else {
    bool rank_known;
    EI_RETURN_IF_ERROR(SqueezeTarget(node, inputs[0].shape(), axes, &shape, &rank_known));
  }
  return CopyAs(node, inputs[0], shape, outputs);
}

Status TransposePerm(const Node& node, int64_t rank, std::vector<int64_t>* perm) {
  if (!node.attrs.Has("perm")) {
    perm->resize(static_cast<size_t>(rank));
    for (int64_t i = 0; i < rank; ++i) (*perm)[static_cast<size_t>(i)] = rank - 1 - i;
    return Status::Ok();
  }
  *perm = node.attrs.GetInts("perm");
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  bool ok = static_cast<int64_t>(perm->size()) == rank;
  for (int64_t p : *perm) {
    if (!ok || p < 0 || p >= rank || seen[static_cast<size_t>(p)]) {
      ok = false;
      break;
    }
    seen[static_cast<size_t>(p)] = true;
  }
  if (!ok) {
    return Status::InvalidArgument(NodeLabel(node) + ": perm " + ShapeToString(*perm) +
                                   " is not a permutation of rank " + std::to_string(rank));
  }
  return Status::Ok();
}

Status TransposeShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  const ValueInfo& in = ctx.inputs[0];
  ValueInfo& out = (*outputs)[0];
  out.dtype = in.dtype;
  if (!in.rank_known) {
    out.rank_known = false;
    return Status::Ok();
  }
  std::vector<int64_t> perm;
  EI_RETURN_IF_ERROR(TransposePerm(*ctx.node, static_cast<int64_t>(in.shape.size()), &perm));
  for (int64_t p : perm) out.shape.push_back(in.shape[static_cast<size_t>(p)]);
  return Status::Ok();
}

Status TransposeReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                          std::vector<Tensor>* outputs) {
  const Tensor& in = inputs[0];
  std::vector<int64_t> perm;
  EI_RETURN_IF_ERROR(TransposePerm(node, in.rank(), &perm));
  const std::vector<int64_t> strides = Strides(in.shape());
  Shape shape;
  std::vector<int64_t> in_strides;
  for (int64_t p : perm) {
    shape.push_back(in.dim(p));
    in_strides.push_back(strides[static_cast<size_t>(p)]);
  }
  Tensor out = Tensor::Empty(in.dtype(), shape);
  EI_RETURN_IF_ERROR(GatherStrided(node, in, 0, in_strides, &out));
  outputs->assign(1, std::move(out));
  return Status::Ok();
}

Status ExpandShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  std::vector<int64_t> shape;
  EI_RETURN_IF_ERROR(ConstantInts(ctx, 1, "shape", &shape));
  const ValueInfo& in = ctx.inputs[0];
  ValueInfo& out = (*outputs)[0];
  out.dtype = in.dtype;
  if (!in.rank_known) {
    out.rank_known = false;
    return Status::Ok();
  }
  return BroadcastShapes(*ctx.node, in.shape, shape, &out.shape);
}

// Copies `in` broadcast to `shape` (which `in` must broadcast to).
Status BroadcastCopy(const Node& node, const Tensor& in, const Shape& shape, Tensor* out) {
  auto alloc = Tensor::Allocate(in.dtype(), shape);
  if (!alloc.ok()) return alloc.status().WithContext(NodeLabel(node));
  *out = std::move(alloc).value();
  const BroadcastIter it = MakeBroadcastIter({in.shape()}, shape);
  const bool ok = DispatchWidth(DTypeSize(in.dtype()), [&](auto e) {
    using E = decltype(e);
    const E* src = static_cast<const E*>(in.raw_data());
    E* dst = static_cast<E*>(out->raw_data());
    ParallelBroadcastRuns<1>(it,
                             [&](int64_t o, int64_t len, const int64_t* off, const int64_t* st) {
                               for (int64_t i = 0; i < len; ++i)
                                 dst[o + i] = src[off[0] + i * st[0]];
                             });
  });
  return ok ? Status::Ok() : UnsupportedDType(node, in.dtype(), "input 0");
}

Status ExpandReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                       std::vector<Tensor>* outputs) {
  std::vector<int64_t> target;
  EI_RETURN_IF_ERROR(TensorInts(node, inputs[1], "shape", &target));
  for (int64_t d : target) {
    if (d < 0) {
      return Status::InvalidArgument(NodeLabel(node) + ": negative dimension in shape " +
                                     ShapeToString(target));
    }
  }
  Shape shape;
  EI_RETURN_IF_ERROR(BroadcastShapes(node, inputs[0].shape(), target, &shape));
  Tensor out;
  EI_RETURN_IF_ERROR(BroadcastCopy(node, inputs[0], shape, &out));
  outputs->assign(1, std::move(out));
  return Status::Ok();
}

Status TileTarget(const Node& node, const Shape& in, const std::vector<int64_t>& repeats,
                  Shape* out) {
  if (repeats.size() != in.size()) {
    return Status::InvalidArgument(NodeLabel(node) + ": repeats " + ShapeToString(repeats) +
                                   " must have one entry per dimension of " + ShapeToString(in));
  }
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (repeats[i] < 0) {
      return Status::InvalidArgument(NodeLabel(node) + ": negative repeat " +
                                     std::to_string(repeats[i]));
    }
    out->push_back(in[i] < 0 ? -1 : in[i] * repeats[i]);
  }
  return Status::Ok();
}

Status TileShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  ResizeOutputs(ctx, outputs);
  std::vector<int64_t> repeats;
  EI_RETURN_IF_ERROR(ConstantInts(ctx, 1, "repeats", &repeats));
  const ValueInfo& in = ctx.inputs[0];
  ValueInfo& out = (*outputs)[0];
  out.dtype = in.dtype;
  if (!in.rank_known) {
    out.shape.assign(repeats.size(), -1);
    return Status::Ok();
  }
  return TileTarget(*ctx.node, in.shape, repeats, &out.shape);
}

// Tile as a broadcast: view the input as [1, d0, 1, d1, ...] against [r0, d0, r1, d1, ...].
Status TileReference(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                     std::vector<Tensor>* outputs) {
  const Tensor& in = inputs[0];
  std::vector<int64_t> repeats;
  EI_RETURN_IF_ERROR(TensorInts(node, inputs[1], "repeats", &repeats));
  Shape shape;
  EI_RETURN_IF_ERROR(TileTarget(node, in.shape(), repeats, &shape));
  Shape view_in, view_out;
  for (size_t i = 0; i < repeats.size(); ++i) {
    view_in.insert(view_in.end(), {1, in.shape()[i]});
    view_out.insert(view_out.end(), {repeats[i], in.shape()[i]});
  }
  Tensor out;
  EI_RETURN_IF_ERROR(BroadcastCopy(node, in.Reshaped(view_in).value(), view_out, &out));
  outputs->assign(1, out.Reshaped(shape).value());
  return Status::Ok();
}

}  // namespace

Status GatherStrided(const Node& node, const Tensor& in, int64_t base,
                     const std::vector<int64_t>& in_strides, Tensor* out) {
  const Shape& shape = out->shape();
  BroadcastIter it;
  it.dims = shape.empty() ? Shape{1} : shape;
  it.strides = {shape.empty() ? std::vector<int64_t>{0} : in_strides};
  it.numel = out->numel();
  const bool ok = DispatchWidth(DTypeSize(in.dtype()), [&](auto e) {
    using E = decltype(e);
    const E* src = static_cast<const E*>(in.raw_data()) + base;
    E* dst = static_cast<E*>(out->raw_data());
    ParallelBroadcastRuns<1>(
        it, [&](int64_t o, int64_t len, const int64_t* off, const int64_t* st) {
          if (st[0] == 1) {
            std::memcpy(dst + o, src + off[0], static_cast<size_t>(len) * sizeof(E));
          } else {
            for (int64_t i = 0; i < len; ++i) dst[o + i] = src[off[0] + i * st[0]];
          }
        });
  });
  return ok ? Status::Ok() : UnsupportedDType(node, in.dtype(), "input 0");
}

void RegisterTensorLayoutOps(std::vector<OpSchema>* out) {
  out->push_back(
      {OpKind::kReshape, 1, 2, ReshapeShape, ReshapeReference, SpatialKind::kNone, nullptr});
  out->push_back(
      {OpKind::kFlatten, 1, 1, FlattenShape, FlattenReference, SpatialKind::kNone, nullptr});
  for (OpKind op : {OpKind::kSqueeze, OpKind::kUnsqueeze}) {
    out->push_back({op, 1, 2, SqueezeLikeShape, SqueezeLikeReference, SpatialKind::kNone, nullptr});
  }
  out->push_back(
      {OpKind::kTranspose, 1, 1, TransposeShape, TransposeReference, SpatialKind::kNone, nullptr});
  out->push_back(
      {OpKind::kExpand, 2, 2, ExpandShape, ExpandReference, SpatialKind::kNone, nullptr});
  out->push_back({OpKind::kTile, 2, 2, TileShape, TileReference, SpatialKind::kNone, nullptr});
}

}  // namespace edgeinfer

// oneDNN emitters for data movement and reductions: Transpose as one reorder (from whatever
// layout the input has, so a blocked activation goes to a permuted plain tensor in one pass) or
// as a view where a layout makes it one (into and out of channel-last segments),
// Slice (unit steps) as a reorder from a sub-memory view, constant Pad as a fill and a reorder
// into a sub-memory view, and ReduceMean/Sum/Max/Min/L2 on the reduction primitive.
#include <algorithm>

#include "backend/cpu/cpu_compiler.h"
#include "ops/slice_window.h"

namespace edgeinfer::cpu {
namespace {

using dnnl::algorithm;
using dnnl::memory;

// The reduced axes of a Reduce* node (normalised, sorted, unique) and keepdims, when they are
// static; false otherwise (the reference kernel handles noop_with_empty_axes and the rest).
bool ReduceAxes(const Graph& g, const Node& node, std::vector<bool>* reduced) {
  const Shape& xs = g.value(node.inputs[0]).shape;
  const auto rank = static_cast<int64_t>(xs.size());
  std::vector<int64_t> axes;
  const bool axes_input = node.op == OpKind::kReduceSum ? g.opset >= 13 : g.opset >= 18;
  if (axes_input) {
    ValueId a = node.input(1);
    if (a != kNoValue) {
      const Value& av = g.value(a);
      if (!av.is_constant() || av.dtype != DType::kInt64) return false;
      axes.assign(av.constant.data<int64_t>(), av.constant.data<int64_t>() + av.constant.numel());
    }
  } else {
    axes = node.attrs.GetInts("axes");
  }
  reduced->assign(xs.size(), axes.empty());
  if (axes.empty() && node.attrs.GetInt("noop_with_empty_axes", 0) != 0) return false;
  for (int64_t a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) return false;
    (*reduced)[static_cast<size_t>(a)] = true;
  }
  return true;
}

}  // namespace

bool EmitTranspose(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.inputs[0];
  ValueId y = node.outputs[0];
  const Shape& xs = g.value(x).shape;
  const Shape& ys = g.value(y).shape;
  const size_t rank = xs.size();
  if (rank == 0 || ys.size() != rank || g.value(x).dtype != g.value(y).dtype) return false;
  std::vector<int64_t> perm = node.attrs.GetInts("perm");
  if (perm.empty()) {
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  }
  if (perm.size() != rank) return false;
  memory::desc y_plain;
  if (!PlainDesc(ys, g.value(y).dtype, &y_plain)) return false;
  // y[i_0..i_r] = x[j] with j[perm[k]] = i_k: over x's dims, dim perm[k] has y's stride k.
  memory::dims strides(rank);
  memory::dim stride = 1;
  for (size_t k = rank; k-- > 0;) {
    const auto d = static_cast<size_t>(perm[k]);
    if (d >= rank || xs[d] != ys[k]) return false;
    strides[d] = stride;
    stride *= ys[k];
  }
  memory::desc permuted(ToDims(xs), y_plain.data_type(), strides);
  const Slot& primary = c.slot(c.Primary(x));
  // x is already laid out as y's plain bytes (a channel-last convolution output moved to
  // channel-last): a view.
  if (primary.has_desc && primary.desc == permuted) {
    c.Define(y, c.View(c.Primary(x), y_plain));
    return true;
  }
  // A channel-last tensor back to channel-first: a view of the plain input in the channel-last
  // layout, which convolutions and the layout-agnostic ops take as it is.
  memory::desc channel_last;
  if (IsToChannelFirst(perm) && ChannelLastDesc(ys, &channel_last) &&
      g.value(y).dtype == DType::kFloat32) {
    const int plain = c.PlainSlot(x);
    if (c.slot(plain).has_desc) {
      c.Define(y, c.View(plain, channel_last));
      return true;
    }
  }
  int src = primary.has_desc && primary.desc.dims() == ToDims(xs) ? c.Primary(x) : c.PlainSlot(x);
  if (!c.slot(src).has_desc) return false;
  int out = c.NewValueSlot(y, y_plain);
  c.AddReorder(src, c.View(out, permuted), {c.NodeIndex(node)});
  c.Define(y, out);
  return true;
}

bool EmitReduce(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.inputs[0];
  ValueId y = node.outputs[0];
  if (!IsF32(g, x) || !IsF32(g, y)) return false;
  algorithm alg;
  switch (node.op) {
    case OpKind::kReduceMean:
      alg = algorithm::reduction_mean;
      break;
    case OpKind::kReduceSum:
      alg = algorithm::reduction_sum;
      break;
    case OpKind::kReduceMax:
      alg = algorithm::reduction_max;
      break;
    case OpKind::kReduceMin:
      alg = algorithm::reduction_min;
      break;
    case OpKind::kReduceL2:
      alg = algorithm::reduction_norm_lp_sum;  // (sum |x|^p)^(1/p) with p = 2
      break;
    default:
      return false;
  }
  const Shape& xs = g.value(x).shape;
  std::vector<bool> reduced;
  if (xs.empty() || !ReduceAxes(g, node, &reduced)) return false;
  // oneDNN keeps the rank: reduced dims become 1; without keepdims only the shape differs.
  Shape kept = xs;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (reduced[i]) kept[i] = 1;
  }
  if (NumElements(kept) != NumElements(g.value(y).shape)) return false;
  memory::desc src_md = PlainF32(xs);
  memory::desc dst_md = PlainF32(kept);
  const float p = node.op == OpKind::kReduceL2 ? 2.f : 0.f;
  dnnl::reduction::desc desc(alg, src_md, dst_md, p, 0.f);
  dnnl::reduction::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  int src = c.PlainSlot(x);
  int out = c.NewValueSlot(y, PlainF32(g.value(y).shape));
  c.AddDnnlStep(pd, dnnl::reduction(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, c.View(out, dst_md)}},
                {c.NodeIndex(node)});
  c.Define(y, out);
  return true;
}

bool EmitSlice(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.inputs[0];
  ValueId y = node.outputs[0];
  const Shape& xs = g.value(x).shape;
  const Shape& ys = g.value(y).shape;
  SliceWindow w;
  if (!ResolveSliceWindow(g, node, &w).ok() || w.count.size() != xs.size()) return false;
  for (size_t d = 0; d < xs.size(); ++d) {
    if (w.count[d] != ys[d] || (w.count[d] > 1 && w.step[d] != 1)) return false;
  }
  memory::desc y_plain;
  if (!PlainDesc(ys, g.value(y).dtype, &y_plain)) return false;
  const memory::dims offsets(w.start.begin(), w.start.end());
  // From the input's current layout when oneDNN can cut it there (a blocked channel dim only
  // at block boundaries), else from the plain tensor.
  const Slot& primary = c.slot(c.Primary(x));
  int src = -1;
  memory::desc sub;
  if (primary.has_desc && primary.desc.dims() == ToDims(xs)) {
    try {
      sub = primary.desc.submemory_desc(ToDims(ys), offsets);
      src = c.Primary(x);
    } catch (const dnnl::error&) {
      src = -1;
    }
  }
  if (src < 0) {
    src = c.PlainSlot(x);
    if (!c.slot(src).has_desc) return false;
    sub = c.slot(src).desc.submemory_desc(ToDims(ys), offsets);
  }
  int out = c.NewValueSlot(y, y_plain);
  c.AddReorder(c.View(src, sub), out, {c.NodeIndex(node)});
  c.Define(y, out);
  return true;
}

bool EmitPad(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.inputs[0];
  ValueId y = node.outputs[0];
  const Shape& xs = g.value(x).shape;
  const Shape& ys = g.value(y).shape;
  const size_t rank = xs.size();
  std::vector<int64_t> pads;
  if (g.opset < 11) {
    pads = node.attrs.GetInts("pads");
  } else {
    ValueId p = node.input(1);
    if (p == kNoValue || !g.value(p).is_constant() || g.value(p).dtype != DType::kInt64) {
      return false;
    }
    const Tensor& t = g.value(p).constant;
    pads.assign(t.data<int64_t>(), t.data<int64_t>() + t.numel());
  }
  // No padding at all (torch.onnx writes one before some AveragePools): y is x, in any mode and
  // layout; a view, so that neither is overwritten in place while the other is live.
  if (pads.size() == 2 * rank && ys == xs && g.value(x).dtype == g.value(y).dtype &&
      std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) {
    const int s = c.Primary(x);
    if (!c.slot(s).has_desc) return false;
    c.Define(y, c.View(s, c.slot(s).desc));
    return true;
  }
  if (!IsF32(g, x) || !IsF32(g, y)) return false;
  if (node.attrs.GetString("mode", "constant") != "constant") return false;
  float value = 0.f;
  if (g.opset < 11) {
    value = node.attrs.GetFloat("value", 0.f);
  } else {
    ValueId v = node.input(2);
    if (v != kNoValue) {
      if (!g.value(v).is_constant() || g.value(v).dtype != DType::kFloat32 ||
          g.value(v).constant.numel() != 1) {
        return false;
      }
      value = g.value(v).constant.data<float>()[0];
    }
    if (node.input(3) != kNoValue) return false;  // axes (opset 18)
  }
  if (pads.size() != 2 * rank || ys.size() != rank) return false;
  memory::dims offsets(rank);
  for (size_t d = 0; d < rank; ++d) {
    // Negative pads crop: left to the reference kernel.
    if (pads[d] < 0 || pads[d + rank] < 0 || xs[d] + pads[d] + pads[d + rank] != ys[d]) {
      return false;
    }
    offsets[d] = pads[d];
  }
  memory::desc y_plain = PlainF32(ys);
  memory::desc inner = y_plain.submemory_desc(ToDims(xs), offsets);
  const Slot& primary = c.slot(c.Primary(x));
  int src = primary.has_desc && primary.desc.dims() == ToDims(xs) ? c.Primary(x) : c.PlainSlot(x);
  int out = c.NewValueSlot(y, y_plain);
  c.AddFill(out, value, {c.NodeIndex(node)});
  c.AddReorder(src, c.View(out, inner), {c.NodeIndex(node)});
  c.Define(y, out);
  return true;
}

}  // namespace edgeinfer::cpu

// oneDNN emitters for the layout-agnostic and dense ops: eltwise, binary, batch norm, LRN,
// softmax, resampling, PRelu.
#include <cmath>
#include <string>

#include "backend/cpu/cpu_compiler.h"

namespace edgeinfer::cpu {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;

// The desc of v's primary slot when it has one and is not empty.
bool PrimaryDesc(const Compiler& c, ValueId v, memory::desc* desc) {
  const Slot& s = c.slot(c.Primary(v));
  if (!s.has_desc) return false;
  *desc = s.desc;
  return true;
}

// Whether `md` is a dense layout with no blocking whose strides equal the plain (row-major)
// ones on every dimension larger than 1.
bool PlainEquivalent(const memory::desc& md, const Shape& shape) {
  if (md.data.format_kind != dnnl_blocked || md.data.format_desc.blocking.inner_nblks != 0 ||
      md.data.ndims != static_cast<int>(shape.size())) {
    return false;
  }
  int64_t stride = 1;
  for (int d = md.data.ndims - 1; d >= 0; --d) {
    if (shape[static_cast<size_t>(d)] > 1 && md.data.format_desc.blocking.strides[d] != stride) {
      return false;
    }
    stride *= shape[static_cast<size_t>(d)];
  }
  return true;
}

// oneDNN's reference implementations (impl "ref:any") run a scalar loop with a full index
// computation per element: 50-100x slower than a reorder to a layout its jit kernels take
// (seen with padded blocked layouts, e.g. 24 channels in nChw16c with a per-channel operand).
bool IsReferenceImpl(const dnnl::primitive_desc_base& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}

}  // namespace

bool EmitEltwise(Compiler& c, const Node& node) {
  std::vector<EltwiseOp> ops;
  if (!EltwiseFor(c.graph(), node, &ops)) return false;
  ValueId x = EltwiseInput(c.graph(), node);
  ValueId y = node.outputs[0];
  memory::desc md;
  if (!PrimaryDesc(c, x, &md)) return false;
  std::vector<dnnl::eltwise_forward::primitive_desc> pds;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // First in x's layout, then plain when that layout only has a reference implementation.
    if (attempt == 1) md = PlainF32(c.graph().value(x).shape);
    pds.clear();
    bool reference = false;
    for (const EltwiseOp& op : ops) {
      dnnl::eltwise_forward::desc desc(prop_kind::forward_inference, op.alg, md, op.alpha, op.beta);
      pds.emplace_back(desc, Compiler::Attr(), c.engine());
      reference = reference || IsReferenceImpl(pds.back());
    }
    if (!reference) break;
  }
  int src = c.SlotIn(x, md);
  // In place when this is x's last use.
  const bool in_place =
      src == c.Primary(x) && pds.front().dst_desc() == md && c.CanOverwrite(x, md);
  int dst = in_place ? src : c.NewValueSlot(y, pds.front().dst_desc());
  for (size_t i = 0; i < pds.size(); ++i) {
    // Later ops of a composed chain run in place on the destination.
    c.AddDnnlStep(pds[i], dnnl::eltwise_forward(pds[i]),
                  {{DNNL_ARG_SRC, i == 0 ? src : dst}, {DNNL_ARG_DST, dst}}, {c.NodeIndex(node)});
  }
  c.Define(y, dst);
  return true;
}

bool EmitBinary(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return false;
  ValueId a = node.inputs[0];
  ValueId b = node.inputs[1];
  ValueId y = node.outputs[0];
  if (!IsF32(g, a) || !IsF32(g, b) || !IsF32(g, y)) return false;
  const Shape& ys = g.value(y).shape;
  if (ys.empty() || g.value(a).shape.size() > ys.size() || g.value(b).shape.size() > ys.size()) {
    return false;
  }
  algorithm alg;
  switch (node.op) {
    case OpKind::kAdd:
      alg = algorithm::binary_add;
      break;
    case OpKind::kMul:
      alg = algorithm::binary_mul;
      break;
    case OpKind::kMax:
      alg = algorithm::binary_max;
      break;
    case OpKind::kMin:
      alg = algorithm::binary_min;
      break;
    case OpKind::kSub:
      alg = algorithm::binary_sub;
      break;
    case OpKind::kDiv:
      alg = algorithm::binary_div;
      break;
    default:
      return false;
  }
  // oneDNN broadcasts only the second source: it must be the (possibly) smaller one. A
  // broadcast first operand of Sub or Div is computed as -(b - a) or 1 / (b / a) with an
  // eltwise post-op.
  dnnl::post_ops post;
  if (PadRank(g.value(a).shape, ys.size()) != ys) {
    if (PadRank(g.value(b).shape, ys.size()) != ys) return false;
    if (node.op == OpKind::kSub) post.append_eltwise(1.f, algorithm::eltwise_linear, -1.f, 0.f);
    if (node.op == OpKind::kDiv) post.append_eltwise(1.f, algorithm::eltwise_pow, 1.f, -1.f);
    std::swap(a, b);
  }
  const Shape b_shape = PadRank(g.value(b).shape, ys.size());
  const bool same = g.value(b).shape == ys;
  // First in a's current layout (keeps blocked activations blocked), then plain.
  for (int attempt = 0; attempt < 2; ++attempt) {
    memory::desc md0 = PlainF32(ys);
    if (attempt == 0) {
      if (g.value(a).shape.size() != ys.size() || !PrimaryDesc(c, a, &md0)) continue;
      // A layout equal to the plain one up to the strides of size-1 dimensions (oneDNN's concat
      // chooses such for [1,C,1,W]) is broadcast wrongly by oneDNN 2.6's binary primitive:
      // garbage for Concat -> Mul by [1,C,1,1]. The plain attempt handles it.
      if (PlainEquivalent(md0, ys)) continue;
    }
    memory::desc md1 = same ? md0 : PlainF32(b_shape);
    std::unique_ptr<dnnl::binary::primitive_desc> pd;
    try {
      dnnl::binary::desc desc(alg, md0, md1, md0);
      dnnl::primitive_attr attr = Compiler::Attr();
      attr.set_post_ops(post);
      pd = std::make_unique<dnnl::binary::primitive_desc>(desc, attr, c.engine());
    } catch (const dnnl::error&) {
      continue;
    }
    if (attempt == 0 && IsReferenceImpl(*pd)) continue;
    int s0 = g.value(a).shape.size() == ys.size() ? c.SlotIn(a, md0) : c.View(c.PlainSlot(a), md0);
    int s1 = same ? c.SlotIn(b, md1) : c.View(c.PlainSlot(b), md1);
    // In place when this is a's last use (oneDNN binary allows dst == src0).
    const bool in_place = s0 == c.Primary(a) && s0 != s1 && b != a && c.CanOverwrite(a, md0);
    int dst = in_place ? s0 : c.NewValueSlot(y, md0);
    c.AddDnnlStep(*pd, dnnl::binary(*pd),
                  {{DNNL_ARG_SRC_0, s0}, {DNNL_ARG_SRC_1, s1}, {DNNL_ARG_DST, dst}},
                  {c.NodeIndex(node)});
    c.Define(y, dst);
    return true;
  }
  return false;
}

namespace {

// BatchNormalization `node`, followed by ReLU when `fuse_relu`, its output defined as `y`.
bool EmitBatchNormImpl(Compiler& c, const Node& node, bool fuse_relu, ValueId y,
                       std::vector<int> nodes) {
  const Graph& g = c.graph();
  if (node.inputs.size() != 5 || node.attrs.GetInt("training_mode", 0) != 0) return false;
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    if (node.outputs[i] != kNoValue) return false;
  }
  ValueId x = node.inputs[0];
  if (!IsF32(g, x) || !IsF32(g, y) || g.value(y).shape != g.value(x).shape) return false;
  const Shape& xs = g.value(x).shape;
  if (xs.size() < 2 || xs.size() > 5) return false;
  for (size_t i = 1; i < 5; ++i) {
    if (!IsF32(g, node.inputs[i]) || g.value(node.inputs[i]).shape != Shape{xs[1]}) return false;
  }
  memory::desc md;
  if (!PrimaryDesc(c, x, &md)) return false;
  auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
               dnnl::normalization_flags::use_shift;
  if (fuse_relu) flags |= dnnl::normalization_flags::fuse_norm_relu;
  dnnl::batch_normalization_forward::desc desc(prop_kind::forward_inference, md,
                                               node.attrs.GetFloat("epsilon", 1e-5f), flags);
  dnnl::batch_normalization_forward::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  int src = c.SlotIn(x, md);
  int dst = c.NewValueSlot(y, pd.dst_desc());
  c.AddDnnlStep(pd, dnnl::batch_normalization_forward(pd),
                {{DNNL_ARG_SRC, src},
                 {DNNL_ARG_SCALE, c.PlainSlot(node.inputs[1])},
                 {DNNL_ARG_SHIFT, c.PlainSlot(node.inputs[2])},
                 {DNNL_ARG_MEAN, c.PlainSlot(node.inputs[3])},
                 {DNNL_ARG_VARIANCE, c.PlainSlot(node.inputs[4])},
                 {DNNL_ARG_DST, dst}},
                nodes);
  c.Define(y, dst);
  return true;
}

}  // namespace

bool EmitBatchNorm(Compiler& c, const Node& node) {
  return EmitBatchNormImpl(c, node, false, node.outputs[0], {c.NodeIndex(node)});
}

bool EmitBatchNormRelu(Compiler& c, const FusionGroup& group) {
  const Node& bn = c.graph().nodes()[static_cast<size_t>(group.nodes.front())];
  return EmitBatchNormImpl(c, bn, true, group.output, group.nodes);
}

bool EmitLayerNorm(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    if (node.outputs[i] != kNoValue) return false;  // oneDNN does not return the statistics here
  }
  ValueId x = node.inputs[0];
  ValueId scale = node.input(1);
  ValueId shift = node.input(2);
  ValueId y = node.outputs[0];
  if (!IsF32(g, x) || !IsF32(g, y) || !IsF32(g, scale)) return false;
  if (shift != kNoValue && !IsF32(g, shift)) return false;
  const Shape& xs = g.value(x).shape;
  const auto rank = static_cast<int64_t>(xs.size());
  int64_t axis = node.attrs.GetInt("axis", -1);
  if (axis < 0) axis += rank;
  if (rank == 0 || axis < 0 || axis >= rank) return false;
  // oneDNN normalises over the last dim: view X as [outer, inner].
  const int64_t inner = NumElements(Shape(xs.begin() + axis, xs.end()));
  const int64_t outer = NumElements(xs) / inner;
  if (NumElements(g.value(scale).shape) != inner) return false;
  if (shift != kNoValue && NumElements(g.value(shift).shape) != inner) return false;
  memory::desc md = PlainF32({outer, inner});
  auto flags = dnnl::normalization_flags::use_scale;
  if (shift != kNoValue) flags |= dnnl::normalization_flags::use_shift;
  dnnl::layer_normalization_forward::desc desc(prop_kind::forward_inference, md,
                                               node.attrs.GetFloat("epsilon", 1e-5f), flags);
  dnnl::layer_normalization_forward::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  memory::desc vec = PlainF32({inner});
  int src = c.View(c.PlainSlot(x), md);
  int out = c.NewValueSlot(y, PlainF32(xs));
  int dst = c.View(out, md);
  std::vector<std::pair<int, int>> args = {
      {DNNL_ARG_SRC, src}, {DNNL_ARG_SCALE, c.View(c.PlainSlot(scale), vec)}, {DNNL_ARG_DST, dst}};
  if (shift != kNoValue) args.emplace_back(DNNL_ARG_SHIFT, c.View(c.PlainSlot(shift), vec));
  c.AddDnnlStep(pd, dnnl::layer_normalization_forward(pd), args, {c.NodeIndex(node)});
  c.Define(y, out);
  return true;
}

bool EmitSoftmax(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.inputs[0];
  ValueId y = node.outputs[0];
  if (!IsF32(g, x) || !IsF32(g, y)) return false;
  const Shape& xs = g.value(x).shape;
  const int64_t rank = static_cast<int64_t>(xs.size());
  if (rank == 0) return false;
  const bool coerce_2d = g.opset < 13;
  int64_t axis = node.attrs.GetInt("axis", coerce_2d ? 1 : -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  // Before opset 13 the input is viewed as 2-D [prod(dims < axis), prod(dims >= axis)].
  Shape view = xs;
  if (coerce_2d) {
    int64_t outer = 1;
    int64_t inner = 1;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= xs[static_cast<size_t>(i)];
    view = {outer, inner};
    axis = 1;
  }
  memory::desc md = PlainF32(view);
  algorithm alg =
      node.op == OpKind::kLogSoftmax ? algorithm::softmax_log : algorithm::softmax_accurate;
  dnnl::softmax_v2_forward::desc desc(prop_kind::forward_inference, alg, md, md,
                                      static_cast<int>(axis));
  dnnl::softmax_v2_forward::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  int src = c.View(c.PlainSlot(x), md);
  int out = c.NewValueSlot(y, PlainF32(xs));
  int dst = c.View(out, md);
  c.AddDnnlStep(pd, dnnl::softmax_v2_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                {c.NodeIndex(node)});
  c.Define(y, out);
  return true;
}

bool EmitLrn(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.inputs[0];
  ValueId y = node.outputs[0];
  if (!IsF32(g, x) || !IsF32(g, y)) return false;
  const int64_t size = node.attrs.GetInt("size", 0);
  // oneDNN's window is symmetric; ONNX's is longer on the right for even sizes.
  if (size < 1 || size % 2 == 0 || g.value(x).shape.size() < 3) return false;
  memory::desc md;
  if (!PrimaryDesc(c, x, &md)) return false;
  dnnl::lrn_forward::desc desc(prop_kind::forward_inference, algorithm::lrn_across_channels, md,
                               size, node.attrs.GetFloat("alpha", 1e-4f),
                               node.attrs.GetFloat("beta", 0.75f),
                               node.attrs.GetFloat("bias", 1.f));
  dnnl::lrn_forward::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  int src = c.SlotIn(x, md);
  int dst = c.NewValueSlot(y, pd.dst_desc());
  c.AddDnnlStep(pd, dnnl::lrn_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                {c.NodeIndex(node)});
  c.Define(y, dst);
  return true;
}

bool EmitResample(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.inputs[0];
  ValueId y = node.outputs[0];
  if (!IsF32(g, x) || !IsF32(g, y)) return false;
  const Shape& xs = g.value(x).shape;
  const Shape& ys = g.value(y).shape;
  if (xs.size() < 3 || xs.size() > 5 || ys.size() != xs.size() || xs[0] != ys[0] ||
      xs[1] != ys[1]) {
    return false;
  }
  // The scales the op uses for coordinates, when given.
  std::vector<float> scales;
  ValueId scales_v = kNoValue;
  if (node.op == OpKind::kUpsample) {
    scales = node.attrs.GetFloats("scales");
    if (scales.empty()) scales_v = node.input(1);
  } else {
    scales_v = node.inputs.size() == 2 ? node.input(1) : node.input(2);
  }
  // An empty scales tensor (Resize given sizes instead) is the same as none.
  if (scales_v != kNoValue && NumElements(g.value(scales_v).shape) == 0) scales_v = kNoValue;
  if (scales_v != kNoValue) {
    const Value& sv = g.value(scales_v);
    if (!sv.is_constant() || sv.dtype != DType::kFloat32) return false;
    const float* p = sv.constant.data<float>();
    scales.assign(p, p + sv.constant.numel());
  }
  if (!scales.empty() && scales.size() != xs.size()) return false;
  const std::string mode = node.attrs.GetString("mode", "nearest");
  const bool legacy = node.op == OpKind::kUpsample || g.opset < 11;
  const std::string coord =
      legacy ? "asymmetric" : node.attrs.GetString("coordinate_transformation_mode", "half_pixel");
  const std::string nearest_mode =
      legacy ? "floor" : node.attrs.GetString("nearest_mode", "round_prefer_floor");
  if (node.attrs.GetInt("antialias", 0) != 0) return false;
  algorithm alg;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!scales.empty() && i < 2 && scales[i] != 1.f) return false;
  }
  if (mode == "nearest") {
    // oneDNN rounds the half-pixel source coordinate; with an integer upscale that never hits
    // a tie and equals both half_pixel+round and asymmetric+floor.
    bool half = coord == "half_pixel" || coord == "pytorch_half_pixel";
    bool round = nearest_mode == "round_prefer_floor" || nearest_mode == "round_prefer_ceil";
    if (!((half && round) || (coord == "asymmetric" && nearest_mode == "floor"))) return false;
    for (size_t i = 2; i < xs.size(); ++i) {
      if (ys[i] % xs[i] != 0) return false;
      if (!scales.empty() && scales[i] != static_cast<float>(ys[i] / xs[i])) return false;
    }
    alg = algorithm::resampling_nearest;
  } else if (mode == "linear" || mode == "bilinear") {
    bool half = coord == "half_pixel";
    if (coord == "pytorch_half_pixel") {
      half = true;
      for (size_t i = 2; i < ys.size(); ++i) half = half && ys[i] > 1;
    }
    if (!half) return false;
    for (size_t i = 2; i < xs.size() && !scales.empty(); ++i) {
      if (std::fabs(static_cast<double>(xs[i]) * scales[i] - static_cast<double>(ys[i])) > 1e-6) {
        return false;
      }
    }
    alg = algorithm::resampling_linear;
  } else {
    return false;
  }
  memory::desc md;
  if (!PrimaryDesc(c, x, &md)) return false;
  memory::desc dst_md(ToDims(ys), memory::data_type::f32, memory::format_tag::any);
  dnnl::resampling_forward::desc desc(prop_kind::forward_inference, alg, md, dst_md);
  dnnl::resampling_forward::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  int src = c.SlotIn(x, pd.src_desc());
  int dst = c.NewValueSlot(y, pd.dst_desc());
  c.AddDnnlStep(pd, dnnl::resampling_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                {c.NodeIndex(node)});
  c.Define(y, dst);
  return true;
}

bool EmitPRelu(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.inputs[0];
  ValueId slope = node.input(1);
  ValueId y = node.outputs[0];
  if (!IsF32(g, x) || !IsF32(g, slope) || !IsF32(g, y)) return false;
  const Shape& xs = g.value(x).shape;
  const Shape& ss = g.value(slope).shape;
  if (xs.empty() || ss.size() > xs.size() || g.value(y).shape != xs) return false;
  const Shape sp = PadRank(ss, xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    if (sp[i] != 1 && sp[i] != xs[i]) return false;
  }
  memory::desc md = PlainF32(xs);
  memory::desc wmd = PlainF32(sp);
  dnnl::prelu_forward::desc desc(prop_kind::forward_inference, md, wmd);
  dnnl::prelu_forward::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  int src = c.PlainSlot(x);
  int w = c.View(c.PlainSlot(slope), wmd);
  int dst = c.NewValueSlot(y, md);
  c.AddDnnlStep(pd, dnnl::prelu_forward(pd),
                {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}},
                {c.NodeIndex(node)});
  c.Define(y, dst);
  return true;
}

}  // namespace edgeinfer::cpu

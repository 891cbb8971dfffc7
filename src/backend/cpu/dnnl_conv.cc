// oneDNN emitters for sliding-window ops: Conv (with fusions), ConvTranspose and pooling.
#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cpu/conv_algorithm.h"
#include "backend/cpu/cpu_compiler.h"
#include "core/parallel.h"

namespace edgeinfer::cpu {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;

struct Window {
  memory::dims kernel, strides, dilation, pad_l, pad_r;  // dilation in oneDNN form (d - 1)
};

// Reads kernel/strides/dilations/pads/auto_pad for spatial dims of `x` producing `y`.
// `pad_r` is the ONNX end padding (SAME padding resolved); callers adjust it for ceil_mode.
bool ReadWindow(const Node& node, const Shape& x, const Shape& y, const Shape& kernel,
                bool transposed, Window* w) {
  const size_t sp = x.size() - 2;
  if (kernel.size() != sp) return false;
  std::vector<int64_t> strides = node.attrs.GetInts("strides", std::vector<int64_t>(sp, 1));
  std::vector<int64_t> dil = node.attrs.GetInts("dilations", std::vector<int64_t>(sp, 1));
  std::vector<int64_t> pads = node.attrs.GetInts("pads", std::vector<int64_t>(2 * sp, 0));
  std::string auto_pad = node.attrs.GetString("auto_pad", "NOTSET");
  if (strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp) return false;
  for (size_t i = 0; i < sp; ++i) {
    int64_t k = kernel[i];
    int64_t s = strides[i];
    int64_t d = dil[i];
    if (k < 1 || s < 1 || d < 1) return false;
    int64_t keff = (k - 1) * d + 1;
    int64_t in = x[i + 2];
    int64_t out = y[i + 2];
    int64_t pl = 0;
    int64_t pr = 0;
    if (auto_pad == "NOTSET" || auto_pad.empty()) {
      pl = pads[i];
      pr = pads[i + sp];
    } else if (auto_pad == "VALID") {
      pl = pr = 0;
    } else if ((auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") && !transposed) {
      int64_t total = std::max<int64_t>(0, (out - 1) * s + keff - in);
      pl = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pr = total - pl;
    } else {
      return false;
    }
    if (transposed) pr = (in - 1) * s + keff - pl - out;
    if (pl < 0 || pr < 0) return false;
    w->kernel.push_back(k);
    w->strides.push_back(s);
    w->dilation.push_back(d - 1);
    w->pad_l.push_back(pl);
    w->pad_r.push_back(pr);
  }
  return true;
}

// True if oneDNN's forward window arithmetic gives exactly the graph's output size.
bool ForwardSizesMatch(const Shape& x, const Shape& y, const Window& w) {
  for (size_t i = 0; i < w.kernel.size(); ++i) {
    int64_t keff = (w.kernel[i] - 1) * (w.dilation[i] + 1) + 1;
    int64_t span = x[i + 2] + w.pad_l[i] + w.pad_r[i] - keff;
    if (span < 0 || span / w.strides[i] + 1 != y[i + 2]) return false;
  }
  return true;
}

memory::desc Any(const Shape& shape) {
  return memory::desc(ToDims(shape), memory::data_type::f32, memory::format_tag::any);
}

// What the convolution primitives take: a 1-D to 3-D input (rank 3 to 5), constant weights of
// the same rank, and a constant bias when there is one.
bool ConvOperandsSupported(const Graph& g, ValueId x, ValueId wv, ValueId bv) {
  const size_t rank = g.value(x).shape.size();
  const Value& wval = g.value(wv);
  if (rank < 3 || rank > 5 || !wval.is_constant() || wval.shape.size() != rank) return false;
  return bv == kNoValue || g.value(bv).is_constant();
}

// True if every use of `v` is a Transpose moving the channel axis last (so that a channel-last
// producer makes them views).
bool OnlyReadToChannelLast(const Graph& g, ValueId v) {
  const Value& value = g.value(v);
  if (value.consumers.empty()) return false;
  for (int n : value.consumers) {
    const Node& node = g.nodes()[static_cast<size_t>(n)];
    if (node.removed || node.op != OpKind::kTranspose ||
        !IsToChannelLast(node.attrs.GetInts("perm"))) {
      return false;
    }
  }
  return true;
}

bool IsReference(const dnnl::primitive_desc_base& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}

}  // namespace

bool EmitConvGroup(Compiler& c, const FusionGroup& group) {
  const Graph& g = c.graph();
  const Node& node = g.nodes()[static_cast<size_t>(group.nodes.front())];
  ValueId x = node.input(0);
  ValueId wv = node.input(1);
  ValueId bv = node.input(2);
  ValueId y = node.outputs[0];
  if (!IsF32(g, x) || !IsF32(g, wv) || !IsF32(g, y)) return false;
  if (!ConvOperandsSupported(g, x, wv, bv)) return false;
  const Shape& xs = g.value(x).shape;
  const Shape& ys = g.value(y).shape;
  const Value& wval = g.value(wv);
  const int64_t groups = node.attrs.GetInt("group", 1);
  const int64_t oc = wval.shape[0];
  if (groups < 1 || oc % groups != 0 || xs[1] != wval.shape[1] * groups || ys[1] != oc) {
    return false;
  }
  Shape kernel(wval.shape.begin() + 2, wval.shape.end());
  Window w;
  if (!ReadWindow(node, xs, ys, kernel, false, &w) || !ForwardSizesMatch(xs, ys, w)) return false;

  // Weights and bias, with a following BatchNormalization folded in:
  // w' = w * s, b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps), per output channel.
  Tensor weights = wval.constant.Clone();
  Tensor bias = Tensor::Zeros(DType::kFloat32, {oc});
  if (bv != kNoValue) bias = g.value(bv).constant.Clone();
  if (group.batch_norm >= 0) {
    const Node& bn = g.nodes()[static_cast<size_t>(group.batch_norm)];
    const float* gamma = g.value(bn.inputs[1]).constant.data<float>();
    const float* beta = g.value(bn.inputs[2]).constant.data<float>();
    const float* mean = g.value(bn.inputs[3]).constant.data<float>();
    const float* var = g.value(bn.inputs[4]).constant.data<float>();
    const double eps = bn.attrs.GetFloat("epsilon", 1e-5f);
    const int64_t per_oc = weights.numel() / oc;
    float* wd = weights.data<float>();
    float* bd = bias.data<float>();
    for (int64_t o = 0; o < oc; ++o) {
      double s = gamma[o] / std::sqrt(static_cast<double>(var[o]) + eps);
      for (int64_t i = 0; i < per_oc; ++i)
        wd[o * per_oc + i] = static_cast<float>(wd[o * per_oc + i] * s);
      bd[o] = static_cast<float>((bd[o] - mean[o]) * s + beta[o]);
    }
  }
  if (group.conv_scale != 1.f || group.conv_shift != 0.f) {
    float* wd = weights.data<float>();
    float* bd = bias.data<float>();
    for (int64_t i = 0; i < weights.numel(); ++i) wd[i] *= group.conv_scale;
    for (int64_t o = 0; o < oc; ++o) bd[o] = bd[o] * group.conv_scale + group.conv_shift;
  }
  Shape wdims = wval.shape;
  if (groups > 1) {
    wdims[0] = oc / groups;
    wdims.insert(wdims.begin(), groups);
  }
  const Shape& out_shape = g.value(group.output).shape;
  memory::desc bias_md = PlainF32({oc});
  dnnl::primitive_attr attr = Compiler::Attr();
  attr.set_post_ops(MakePostOps(group));
  auto make_pd = [&](algorithm alg, const memory::desc& src_md, const memory::desc& dst_md) {
    dnnl::convolution_forward::desc desc(prop_kind::forward_inference, alg, src_md, Any(wdims),
                                         bias_md, dst_md, w.strides, w.dilation, w.pad_l, w.pad_r);
    return dnnl::convolution_forward::primitive_desc(desc, attr, c.engine());
  };
  // oneDNN picks the layouts, except that a direct convolution is asked for channel-last where
  // that saves a copy: a source already channel-last, and a destination read only by
  // Transposes to channel-last (which then are views).
  memory::desc src_want = Any(xs);
  memory::desc dst_want = Any(out_shape);
  memory::desc channel_last;
  const Slot& x_slot = c.slot(c.Primary(x));
  if (ChannelLastDesc(xs, &channel_last) && x_slot.has_desc && x_slot.desc == channel_last) {
    src_want = channel_last;
  }
  if (OnlyReadToChannelLast(g, group.output) && ChannelLastDesc(out_shape, &channel_last)) {
    dst_want = channel_last;
  }
  dnnl::convolution_forward::primitive_desc pd;
  bool winograd = false;
  if (xs.size() == 4) {
    ConvShape conv;
    conv.in_channels = xs[1];
    conv.out_channels = oc;
    conv.out_h = out_shape[2];
    conv.out_w = out_shape[3];
    conv.kernel_h = kernel[0];
    conv.kernel_w = kernel[1];
    conv.stride_h = w.strides[0];
    conv.stride_w = w.strides[1];
    conv.dilation_h = w.dilation[0] + 1;
    conv.dilation_w = w.dilation[1] + 1;
    conv.groups = groups;
    winograd = PreferWinograd(WinogradPolicyFromEnv(), conv, std::max(1, GetNumThreads()));
  }
  if (winograd) {
    try {
      pd = make_pd(algorithm::convolution_winograd, Any(xs), Any(out_shape));
    } catch (const dnnl::error&) {
      winograd = false;  // no Winograd kernel for this CPU or configuration
    }
  }
  if (!winograd) {
    bool chosen = false;
    if (src_want != Any(xs) || dst_want != Any(out_shape)) {
      try {
        pd = make_pd(algorithm::convolution_direct, src_want, dst_want);
        chosen = !IsReference(pd);
      } catch (const dnnl::error&) {
        chosen = false;  // no implementation in those layouts: let oneDNN choose
      }
    }
    if (!chosen) pd = make_pd(algorithm::convolution_direct, Any(xs), Any(out_shape));
  }

  Result<int> wslot = c.ReorderedConstant(weights, PlainF32(wdims), pd.weights_desc());
  if (!wslot.ok()) return false;
  int bslot = c.ConstantSlot(bias, bias_md);
  int src = c.SlotIn(x, pd.src_desc());
  int dst = -1;
  for (const FusionGroup::PostOp& p : group.post_ops) {
    if (!p.is_sum) continue;
    if (c.CanOverwrite(p.residual, pd.dst_desc())) {
      dst = c.Primary(p.residual);  // accumulate in place: the residual dies here
    } else {
      dst = c.NewValueSlot(group.output, pd.dst_desc());
      c.AddReorder(c.Primary(p.residual), dst, {group.nodes.front()});
    }
  }
  if (dst < 0) dst = c.NewValueSlot(group.output, pd.dst_desc());
  c.AddDnnlStep(pd, dnnl::convolution_forward(pd),
                {{DNNL_ARG_SRC, src},
                 {DNNL_ARG_WEIGHTS, *wslot},
                 {DNNL_ARG_BIAS, bslot},
                 {DNNL_ARG_DST, dst}},
                group.nodes);
  c.Define(group.output, dst);
  return true;
}

namespace {

// A 2-D ConvTranspose whose kernel equals its stride (no pads, dilations, output padding or
// groups) writes every output pixel from exactly one input pixel:
//   y[n, o, i*kh + a, j*kw + b] = bias[o] + sum_c x[n, c, i, j] * w[c, o, a, b].
// That is one GEMM, Z[n*H*W + i*W + j, (a*kw + b)*O + o] = x (channel-last, [NHW, C]) times
// the weights reordered to [C, kh*kw*O] (bias folded in), then a scatter of Z's rows into the
// channel-last output: for each (n, i, a, j) a run of kw*O floats, one strided reorder.
// oneDNN's deconvolution runs these (PP-OCR's detection head upsamplers) as a direct
// convolution over a zero-stuffed input, most of whose multiplies are by the inserted zeros.
bool EmitNonOverlappingConvTranspose(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.input(0);
  ValueId wv = node.input(1);
  ValueId bv = node.input(2);
  ValueId y = node.outputs[0];
  const Shape& xs = g.value(x).shape;
  const Shape& ys = g.value(y).shape;
  const Value& wval = g.value(wv);
  if (xs.size() != 4 || wval.shape.size() != 4 || node.attrs.GetInt("group", 1) != 1) return false;
  const int64_t n = xs[0], ic = xs[1], h = xs[2], w = xs[3];
  const int64_t oc = wval.shape[1], kh = wval.shape[2], kw = wval.shape[3];
  if (wval.shape[0] != ic || ys != Shape{n, oc, h * kh, w * kw}) return false;
  const std::vector<int64_t> kernel = {kh, kw};
  if (node.attrs.GetInts("kernel_shape", kernel) != kernel ||
      node.attrs.GetInts("strides", {1, 1}) != kernel ||
      node.attrs.GetInts("dilations", {1, 1}) != std::vector<int64_t>{1, 1} ||
      node.attrs.GetInts("output_padding", {0, 0}) != std::vector<int64_t>{0, 0} ||
      node.attrs.GetInts("pads", {0, 0, 0, 0}) != std::vector<int64_t>{0, 0, 0, 0}) {
    return false;
  }
  const std::string auto_pad = node.attrs.GetString("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && !auto_pad.empty()) return false;
  const int64_t m = n * h * w;
  const int64_t cols = kh * kw * oc;
  // Weights [C, O, kh, kw] -> [C, (a*kw + b)*O + o]; bias repeated per kernel position.
  Tensor weights = Tensor::Empty(DType::kFloat32, {ic, cols});
  const float* src_w = wval.constant.data<float>();
  float* dst_w = weights.data<float>();
  for (int64_t ci = 0; ci < ic; ++ci) {
    for (int64_t o = 0; o < oc; ++o) {
      for (int64_t t = 0; t < kh * kw; ++t) {
        dst_w[ci * cols + t * oc + o] = src_w[(ci * oc + o) * kh * kw + t];
      }
    }
  }
  Tensor bias = Tensor::Zeros(DType::kFloat32, {1, cols});
  if (bv != kNoValue) {
    const Value& bval = g.value(bv);
    if (bval.constant.numel() != oc) return false;
    for (int64_t t = 0; t < kh * kw; ++t) {
      std::copy(bval.constant.data<float>(), bval.constant.data<float>() + oc,
                bias.data<float>() + t * oc);
    }
  }
  const memory::desc src_md = PlainF32({m, ic});
  const memory::desc bias_md = PlainF32({1, cols});
  const memory::desc z_md = PlainF32({m, cols});
  dnnl::matmul::desc desc(src_md, Any({ic, cols}), bias_md, z_md);
  dnnl::matmul::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  if (IsReference(pd)) return false;
  Result<int> wslot = c.ReorderedConstant(weights, PlainF32({ic, cols}), pd.weights_desc());
  if (!wslot.ok()) return false;
  memory::desc x_channel_last;
  memory::desc y_layout;
  if (!ChannelLastDesc(xs, &x_channel_last) || !ChannelLastDesc(ys, &y_layout)) return false;
  // One output channel: the plain layout has the same bytes and needs no reorder at the end.
  if (oc == 1) y_layout = PlainF32(ys);
  const int z = c.NewScratchSlot(z_md);
  const int nodes = c.NodeIndex(node);
  c.AddDnnlStep(pd, dnnl::matmul(pd),
                {{DNNL_ARG_SRC, c.View(c.SlotIn(x, x_channel_last), src_md)},
                 {DNNL_ARG_WEIGHTS, *wslot},
                 {DNNL_ARG_BIAS, c.ConstantSlot(bias, bias_md)},
                 {DNNL_ARG_DST, z}},
                {nodes});
  // Both seen as [N, H, kh, W, kw*O]; Z holds (n, i, j) rows of (a, b, o).
  const memory::dims dims = {n, h, kh, w, kw * oc};
  const memory::desc from(dims, memory::data_type::f32,
                          memory::dims{h * w * cols, w * cols, kw * oc, cols, 1});
  const memory::desc to(
      dims, memory::data_type::f32,
      memory::dims{h * kh * w * kw * oc, kh * w * kw * oc, w * kw * oc, kw * oc, 1});
  const int out = c.NewValueSlot(y, y_layout);
  c.AddReorder(c.View(z, from), c.View(out, to), {nodes});
  c.Define(y, out);
  return true;
}

}  // namespace

bool EmitConvTranspose(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.input(0);
  ValueId wv = node.input(1);
  ValueId bv = node.input(2);
  ValueId y = node.outputs[0];
  if (!IsF32(g, x) || !IsF32(g, wv) || !IsF32(g, y) || node.attrs.Has("output_shape")) {
    return false;
  }
  if (!ConvOperandsSupported(g, x, wv, bv)) return false;
  if (EmitNonOverlappingConvTranspose(c, node)) return true;
  const Shape& xs = g.value(x).shape;
  const Shape& ys = g.value(y).shape;
  const Value& wval = g.value(wv);
  const int64_t groups = node.attrs.GetInt("group", 1);
  const int64_t ic = xs[1];
  const int64_t oc = ys[1];
  if (groups < 1 || wval.shape[0] != ic || ic % groups != 0 || wval.shape[1] * groups != oc) {
    return false;
  }
  Shape kernel(wval.shape.begin() + 2, wval.shape.end());
  Window w;
  if (!ReadWindow(node, xs, ys, kernel, true, &w)) return false;
  // ONNX stores [IC, OC/G, k...]; oneDNN sees (g,) o, i, k... with strides over that memory.
  int64_t kprod = 1;
  for (int64_t k : kernel) kprod *= k;
  memory::dims kstrides(kernel.size());
  memory::dim st = 1;
  for (size_t i = kernel.size(); i-- > 0;) {
    kstrides[i] = st;
    st *= kernel[i];
  }
  const int64_t icg = ic / groups;
  const int64_t ocg = oc / groups;
  memory::dims wdims;
  memory::dims wstrides;
  if (groups > 1) {
    wdims = {groups, ocg, icg};
    wstrides = {icg * ocg * kprod, kprod, ocg * kprod};
  } else {
    wdims = {oc, ic};
    wstrides = {kprod, oc * kprod};
  }
  wdims.insert(wdims.end(), kernel.begin(), kernel.end());
  wstrides.insert(wstrides.end(), kstrides.begin(), kstrides.end());
  memory::desc wplain(wdims, memory::data_type::f32, wstrides);
  Tensor bias = bv != kNoValue ? g.value(bv).constant : Tensor::Zeros(DType::kFloat32, {oc});
  memory::desc bias_md = PlainF32({oc});
  dnnl::deconvolution_forward::desc desc(
      prop_kind::forward_inference, algorithm::deconvolution_direct, Any(xs),
      memory::desc(wdims, memory::data_type::f32, memory::format_tag::any), bias_md, Any(ys),
      w.strides, w.dilation, w.pad_l, w.pad_r);
  dnnl::deconvolution_forward::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  Result<int> wslot = c.ReorderedConstant(wval.constant, wplain, pd.weights_desc());
  if (!wslot.ok()) return false;
  int bslot = c.ConstantSlot(bias, bias_md);
  int src = c.SlotIn(x, pd.src_desc());
  int dst = c.NewValueSlot(y, pd.dst_desc());
  c.AddDnnlStep(pd, dnnl::deconvolution_forward(pd),
                {{DNNL_ARG_SRC, src},
                 {DNNL_ARG_WEIGHTS, *wslot},
                 {DNNL_ARG_BIAS, bslot},
                 {DNNL_ARG_DST, dst}},
                {c.NodeIndex(node)});
  c.Define(y, dst);
  return true;
}

bool EmitPool(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId x = node.input(0);
  ValueId y = node.outputs[0];
  if (!IsF32(g, x) || !IsF32(g, y)) return false;
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    if (node.outputs[i] != kNoValue) return false;  // MaxPool indices: reference only
  }
  const Shape& xs = g.value(x).shape;
  const Shape& ys = g.value(y).shape;
  if (xs.size() < 3 || xs.size() > 5 || ys.size() != xs.size()) return false;
  const bool global = node.op == OpKind::kGlobalAveragePool || node.op == OpKind::kGlobalMaxPool;
  const bool is_max = node.op == OpKind::kMaxPool || node.op == OpKind::kGlobalMaxPool;
  Window w;
  algorithm alg = is_max ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
  if (global) {
    for (size_t i = 2; i < xs.size(); ++i) {
      if (ys[i] != 1) return false;
      w.kernel.push_back(xs[i]);
      w.strides.push_back(1);
      w.dilation.push_back(0);
      w.pad_l.push_back(0);
      w.pad_r.push_back(0);
    }
  } else {
    Shape kernel = node.attrs.GetInts("kernel_shape");
    if (!ReadWindow(node, xs, ys, kernel, false, &w)) return false;
    const bool include_pad = !is_max && node.attrs.GetInt("count_include_pad", 0) != 0;
    if (include_pad) alg = algorithm::pooling_avg_include_padding;
    // ceil_mode: widen the end padding so oneDNN's floor arithmetic yields the ceil size.
    for (size_t i = 0; i < w.kernel.size(); ++i) {
      int64_t keff = (w.kernel[i] - 1) * (w.dilation[i] + 1) + 1;
      int64_t need = (ys[i + 2] - 1) * w.strides[i] + keff - xs[i + 2] - w.pad_l[i];
      if (need > w.pad_r[i]) {
        // The extra padding must not count in an include-padding average.
        if (include_pad) return false;
        w.pad_r[i] = need;
      }
    }
    if (!ForwardSizesMatch(xs, ys, w)) return false;
  }
  memory::desc src_md = c.slot(c.Primary(x)).desc;
  if (!c.slot(c.Primary(x)).has_desc) return false;
  dnnl::pooling_v2_forward::desc desc(prop_kind::forward_inference, alg, src_md, Any(ys), w.strides,
                                      w.kernel, w.dilation, w.pad_l, w.pad_r);
  dnnl::pooling_v2_forward::primitive_desc pd(desc, Compiler::Attr(), c.engine());
  int src = c.SlotIn(x, pd.src_desc());
  int dst = c.NewValueSlot(y, pd.dst_desc());
  c.AddDnnlStep(pd, dnnl::pooling_v2_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                {c.NodeIndex(node)});
  c.Define(y, dst);
  return true;
}

}  // namespace edgeinfer::cpu

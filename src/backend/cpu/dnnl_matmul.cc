// oneDNN emitter for MatMul and Gemm (matmul primitive, constant weights prepacked once).
#include "backend/cpu/cpu_compiler.h"

namespace edgeinfer::cpu {
namespace {

using dnnl::memory;
using dnnl::prop_kind;

// A 2-D [rows, cols] desc over row-major memory stored [cols, rows] when `transposed`.
memory::desc Matrix2D(int64_t rows, int64_t cols, bool transposed) {
  if (!transposed) return PlainF32({rows, cols});
  return memory::desc({rows, cols}, memory::data_type::f32, memory::dims{1, rows});
}

struct MatMulSetup {
  memory::desc src_md, wei_md_plain, dst_md, bias_md;
  ValueId a = kNoValue, b = kNoValue;
  Tensor weights;  // constant weights (alpha folded in), empty when b is not constant
  Tensor bias;     // constant bias (beta folded in), empty when absent
};

bool SetupMatMul(const Graph& g, const Node& node, MatMulSetup* s) {
  s->a = node.input(0);
  s->b = node.input(1);
  const Shape& as = g.value(s->a).shape;
  const Shape& bs = g.value(s->b).shape;
  if (as.empty() || bs.empty()) return false;
  Shape a2 = as.size() == 1 ? Shape{1, as[0]} : as;
  Shape b2 = bs.size() == 1 ? Shape{bs[0], 1} : bs;
  const size_t r = std::max(a2.size(), b2.size());
  a2 = PadRank(a2, r);
  b2 = PadRank(b2, r);
  if (a2[r - 1] != b2[r - 2]) return false;
  Shape d2(r);
  for (size_t i = 0; i + 2 < r; ++i) {
    if (a2[i] != b2[i] && a2[i] != 1 && b2[i] != 1) return false;
    d2[i] = std::max(a2[i], b2[i]);
  }
  d2[r - 2] = a2[r - 2];
  d2[r - 1] = b2[r - 1];
  if (NumElements(d2) != NumElements(g.value(node.outputs[0]).shape)) return false;
  bool shared_weights = true;  // B has no batch dims of its own
  for (size_t i = 0; i + 2 < r; ++i) shared_weights = shared_weights && b2[i] == 1;
  if (r > 2 && shared_weights) {
    // [..., M, K] x [K, N]: one [prod(...) * M, K] x [K, N] GEMM over the same row-major bytes,
    // which lets oneDNN pack the weights once instead of running a small GEMM per batch row.
    const int64_t rows = NumElements(a2) / a2[r - 1];
    a2 = {rows, a2[r - 1]};
    b2 = {b2[r - 2], b2[r - 1]};
    d2 = {rows, d2[r - 1]};
  }
  s->src_md = PlainF32(a2);
  s->wei_md_plain = PlainF32(b2);
  s->dst_md = PlainF32(d2);
  if (g.value(s->b).is_constant()) s->weights = g.value(s->b).constant;
  return true;
}

bool SetupGemm(const Graph& g, const Node& node, MatMulSetup* s) {
  s->a = node.input(0);
  s->b = node.input(1);
  const Shape& as = g.value(s->a).shape;
  const Shape& bs = g.value(s->b).shape;
  if (as.size() != 2 || bs.size() != 2) return false;
  const bool ta = node.attrs.GetInt("transA", 0) != 0;
  const bool tb = node.attrs.GetInt("transB", 0) != 0;
  const float alpha = node.attrs.GetFloat("alpha", 1.f);
  const float beta = node.attrs.GetFloat("beta", 1.f);
  const int64_t m = ta ? as[1] : as[0];
  const int64_t k = ta ? as[0] : as[1];
  const int64_t n = tb ? bs[0] : bs[1];
  if ((tb ? bs[1] : bs[0]) != k) return false;
  s->src_md = Matrix2D(m, k, ta);
  s->wei_md_plain = Matrix2D(k, n, tb);
  s->dst_md = PlainF32({m, n});
  const Value& bval = g.value(s->b);
  if (bval.is_constant()) {
    s->weights = bval.constant;
    if (alpha != 1.f) {
      s->weights = bval.constant.Clone();
      float* w = s->weights.data<float>();
      for (int64_t i = 0; i < s->weights.numel(); ++i) w[i] *= alpha;
    }
  } else if (alpha != 1.f) {
    return false;
  }
  ValueId cv = node.input(2);
  if (cv != kNoValue && beta != 0.f) {
    const Value& cval = g.value(cv);
    if (!cval.is_constant() || cval.dtype != DType::kFloat32 || cval.shape.size() > 2) {
      return false;
    }
    Shape c2 = PadRank(cval.shape, 2);
    if ((c2[0] != 1 && c2[0] != m) || (c2[1] != 1 && c2[1] != n)) return false;
    s->bias = cval.constant.Clone();
    float* p = s->bias.data<float>();
    for (int64_t i = 0; i < s->bias.numel(); ++i) p[i] *= beta;
    s->bias_md = PlainF32(c2);
  }
  return true;
}

// A batch-1 Gemm with constant [N, K] weights (transB, as exporters write fully connected
// layers) is an inner product over weights already in oneDNN's plain `oi` layout: it reads them
// where they are instead of packing a second copy, which for VGG-16's 411 MB first FC layer
// halves the model's peak memory, at the same speed (a GEMV is memory bound either way; see
// docs/benchmarks.md, "Fully connected layers").
bool EmitFullyConnected(Compiler& c, const FusionGroup& group, const MatMulSetup& s) {
  const memory::dim m = s.dst_md.dims()[0], n = s.dst_md.dims()[1], k = s.src_md.dims()[1];
  const memory::desc weights_md = PlainF32({n, k});
  const memory::desc bias_md = PlainF32({n});
  const memory::desc src_md = PlainF32({m, k});
  dnnl::primitive_attr attr = Compiler::Attr();
  attr.set_post_ops(MakePostOps(group));
  auto desc = s.bias.empty()
                  ? dnnl::inner_product_forward::desc(prop_kind::forward_inference, src_md,
                                                      weights_md, s.dst_md)
                  : dnnl::inner_product_forward::desc(prop_kind::forward_inference, src_md,
                                                      weights_md, bias_md, s.dst_md);
  dnnl::inner_product_forward::primitive_desc pd(desc, attr, c.engine());
  // The plain layout is what was asked for, so this shares the weights' bytes.
  Result<int> weights = c.ReorderedConstant(s.weights, weights_md, pd.weights_desc());
  if (!weights.ok()) return false;
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, c.View(c.PlainSlot(s.a), src_md)},
                                           {DNNL_ARG_WEIGHTS, *weights}};
  if (!s.bias.empty()) args.emplace_back(DNNL_ARG_BIAS, c.ConstantSlot(s.bias, bias_md));
  const int out = c.NewValueSlot(group.output, s.dst_md);
  args.emplace_back(DNNL_ARG_DST, out);
  c.AddDnnlStep(pd, dnnl::inner_product_forward(pd), std::move(args), group.nodes);
  c.Define(group.output, out);
  return true;
}

}  // namespace

bool EmitMatMulGroup(Compiler& c, const FusionGroup& group) {
  const Graph& g = c.graph();
  const Node& node = g.nodes()[static_cast<size_t>(group.nodes.front())];
  if (node.inputs.size() < 2 || !IsF32(g, node.input(0)) || !IsF32(g, node.input(1)) ||
      !IsF32(g, node.outputs[0])) {
    return false;
  }
  MatMulSetup s;
  bool ok = node.op == OpKind::kGemm ? SetupGemm(g, node, &s) : SetupMatMul(g, node, &s);
  if (!ok) return false;
  if (group.matmul_bias != kNoValue) {
    // A constant [N] Add fused as the MatMul's bias (fusion.cc checked its shape).
    const int64_t n = s.dst_md.dims().back();
    s.bias = g.value(group.matmul_bias).constant;
    if (!s.bias.empty() && s.bias.numel() != n) return false;
    Shape bias_shape(s.dst_md.dims().size(), 1);
    bias_shape.back() = n;
    s.bias_md = PlainF32(bias_shape);
  }
  const bool const_weights = !s.weights.empty();
  if (node.op == OpKind::kGemm && const_weights && node.attrs.GetInt("transA", 0) == 0 &&
      node.attrs.GetInt("transB", 0) != 0 && s.dst_md.dims()[0] == 1 &&
      (s.bias.empty() || s.bias.numel() == s.dst_md.dims()[1])) {
    return EmitFullyConnected(c, group, s);
  }
  // Constant weights: let oneDNN choose a packed layout and reorder them once here.
  memory::desc wei_md = const_weights ? memory::desc(s.wei_md_plain.dims(), memory::data_type::f32,
                                                     memory::format_tag::any)
                                      : s.wei_md_plain;
  dnnl::primitive_attr attr = Compiler::Attr();
  attr.set_post_ops(MakePostOps(group));
  dnnl::matmul::desc desc = s.bias.empty()
                                ? dnnl::matmul::desc(s.src_md, wei_md, s.dst_md)
                                : dnnl::matmul::desc(s.src_md, wei_md, s.bias_md, s.dst_md);
  dnnl::matmul::primitive_desc pd(desc, attr, c.engine());
  int wslot;
  if (const_weights) {
    Result<int> r = c.ReorderedConstant(s.weights, s.wei_md_plain, pd.weights_desc());
    if (!r.ok()) return false;
    wslot = *r;
  } else {
    wslot = c.View(c.PlainSlot(s.b), s.wei_md_plain);
  }
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, c.View(c.PlainSlot(s.a), s.src_md)},
                                           {DNNL_ARG_WEIGHTS, wslot}};
  if (!s.bias.empty()) args.emplace_back(DNNL_ARG_BIAS, c.ConstantSlot(s.bias, s.bias_md));
  memory::desc out_plain;
  const Value& out = g.value(group.output);
  PlainDesc(out.shape, out.dtype, &out_plain);
  int out_slot = c.NewValueSlot(group.output, out_plain);
  int dst = c.slot(out_slot).has_desc && c.slot(out_slot).desc == s.dst_md
                ? out_slot
                : c.View(out_slot, s.dst_md);
  args.emplace_back(DNNL_ARG_DST, dst);
  c.AddDnnlStep(pd, dnnl::matmul(pd), std::move(args), group.nodes);
  c.Define(group.output, out_slot);
  return true;
}

}  // namespace edgeinfer::cpu

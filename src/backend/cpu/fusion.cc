// Fusion planning for the CPU backend: which nodes run as one oneDNN primitive.
#include <cfloat>

#include "backend/cpu/cpu_compiler.h"

namespace edgeinfer::cpu {
namespace {

using dnnl::algorithm;

// A scalar constant input of `node`, or false when absent/non-constant.
bool ConstantScalar(const Graph& g, const Node& node, size_t i, bool* present, float* value) {
  ValueId v = node.input(i);
  *present = v != kNoValue;
  if (!*present) return true;
  const Value& val = g.value(v);
  if (!val.is_constant() || val.dtype != DType::kFloat32 || val.constant.numel() != 1) {
    return false;
  }
  *value = val.constant.data<float>()[0];
  return true;
}

bool IsConstantVector(const Graph& g, ValueId v, int64_t n) {
  if (v == kNoValue) return false;
  const Value& val = g.value(v);
  return val.is_constant() && val.dtype == DType::kFloat32 && val.shape == Shape{n};
}

// BatchNormalization `bn` can be folded into Conv `conv`'s weights: constant conv weights and
// bias, constant per-channel parameters, inference mode, one used output.
bool CanFoldBatchNorm(const Graph& g, const Node& conv, const Node& bn) {
  if (bn.inputs.size() != 5 || bn.attrs.GetInt("training_mode", 0) != 0) return false;
  for (size_t i = 1; i < bn.outputs.size(); ++i) {
    if (bn.outputs[i] != kNoValue) return false;
  }
  ValueId w = conv.input(1);
  if (w == kNoValue || !g.value(w).is_constant() || g.value(w).dtype != DType::kFloat32 ||
      g.value(w).shape.empty()) {
    return false;
  }
  int64_t oc = g.value(w).shape[0];
  if (conv.input(2) != kNoValue && !IsConstantVector(g, conv.input(2), oc)) return false;
  for (size_t i = 1; i < 5; ++i) {
    if (!IsConstantVector(g, bn.inputs[i], oc)) return false;
  }
  return g.value(bn.outputs[0]).shape == g.value(conv.outputs[0]).shape;
}

// A float32 constant with one element (any rank), or false.
bool IsConstantScalar(const Graph& g, ValueId v, float* value) {
  if (v == kNoValue) return false;
  const Value& val = g.value(v);
  if (!val.is_constant() || val.dtype != DType::kFloat32 || val.constant.numel() != 1) {
    return false;
  }
  *value = val.constant.data<float>()[0];
  return true;
}

// Add/Sub/Mul/Div of a tensor and a constant scalar as x * alpha + beta on the tensor (input
// `data`); false for other binary nodes and for a constant divided by a tensor.
bool LinearFor(const Graph& g, const Node& node, size_t* data, float* alpha, float* beta) {
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return false;
  float c = 0.f;
  size_t d;
  if (IsConstantScalar(g, node.inputs[1], &c)) {
    d = 0;
  } else if (IsConstantScalar(g, node.inputs[0], &c)) {
    d = 1;
  } else {
    return false;
  }
  const ValueId x = node.inputs[d];
  if (!IsF32(g, x) || !IsF32(g, node.outputs[0]) ||
      g.value(node.outputs[0]).shape != g.value(x).shape) {
    return false;
  }
  switch (node.op) {
    case OpKind::kAdd:
      *alpha = 1.f;
      *beta = c;
      break;
    case OpKind::kSub:  // x - c, or c - x
      *alpha = d == 0 ? 1.f : -1.f;
      *beta = d == 0 ? -c : c;
      break;
    case OpKind::kMul:
      *alpha = c;
      *beta = 0.f;
      break;
    case OpKind::kDiv:
      // x / c as x * (1 / c) rounds differently by at most an ulp; c / x is no linear op.
      if (d != 0 || c == 0.f) return false;
      *alpha = 1.f / c;
      *beta = 0.f;
      break;
    default:
      return false;
  }
  *data = d;
  return true;
}

}  // namespace

ValueId EltwiseInput(const Graph& g, const Node& node) {
  size_t data = 0;
  float alpha = 0.f;
  float beta = 0.f;
  if (LinearFor(g, node, &data, &alpha, &beta)) return node.inputs[data];
  return node.inputs.empty() ? kNoValue : node.inputs[0];
}

bool EltwiseFor(const Graph& g, const Node& node, std::vector<EltwiseOp>* ops) {
  ops->clear();
  if (node.inputs.empty() || !IsF32(g, EltwiseInput(g, node)) || node.outputs.size() != 1 ||
      !IsF32(g, node.outputs[0])) {
    return false;
  }
  const Attributes& a = node.attrs;
  switch (node.op) {
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv: {
      size_t data = 0;
      float alpha = 0.f;
      float beta = 0.f;
      if (!LinearFor(g, node, &data, &alpha, &beta)) return false;
      ops->push_back({algorithm::eltwise_linear, alpha, beta});
      break;
    }
    case OpKind::kRelu:
      ops->push_back({algorithm::eltwise_relu, 0.f, 0.f});
      break;
    case OpKind::kLeakyRelu:
      ops->push_back({algorithm::eltwise_relu, a.GetFloat("alpha", 0.01f), 0.f});
      break;
    case OpKind::kClip: {
      // Bounds are attributes before opset 11 and optional inputs from then on.
      const bool legacy = g.opset < 11;
      float lo = legacy ? a.GetFloat("min", -FLT_MAX) : -FLT_MAX;
      float hi = legacy ? a.GetFloat("max", FLT_MAX) : FLT_MAX;
      bool present = false;
      float value = 0.f;
      if (!legacy) {
        if (!ConstantScalar(g, node, 1, &present, &value)) return false;
        if (present) lo = value;
        if (!ConstantScalar(g, node, 2, &present, &value)) return false;
        if (present) hi = value;
      }
      // ONNX Clip with min > max yields max everywhere; oneDNN's clip would not.
      if (lo > hi) return false;
      ops->push_back({algorithm::eltwise_clip, lo, hi});
      break;
    }
    case OpKind::kSigmoid:
      ops->push_back({algorithm::eltwise_logistic, 0.f, 0.f});
      break;
    case OpKind::kTanh:
      ops->push_back({algorithm::eltwise_tanh, 0.f, 0.f});
      break;
    case OpKind::kHardSwish:
      ops->push_back({algorithm::eltwise_hardswish, 0.f, 0.f});
      break;
    case OpKind::kHardSigmoid:
      // max(0, min(1, alpha * x + beta)): oneDNN 2.6 has no hardsigmoid, so compose it.
      ops->push_back(
          {algorithm::eltwise_linear, a.GetFloat("alpha", 0.2f), a.GetFloat("beta", 0.5f)});
      ops->push_back({algorithm::eltwise_clip, 0.f, 1.f});
      break;
    case OpKind::kElu:
      ops->push_back({algorithm::eltwise_elu, a.GetFloat("alpha", 1.f), 0.f});
      break;
    case OpKind::kExp:
      ops->push_back({algorithm::eltwise_exp, 0.f, 0.f});
      break;
    case OpKind::kSqrt:
      ops->push_back({algorithm::eltwise_sqrt, 0.f, 0.f});
      break;
    case OpKind::kLog:
      ops->push_back({algorithm::eltwise_log, 0.f, 0.f});
      break;
    case OpKind::kAbs:
      ops->push_back({algorithm::eltwise_abs, 0.f, 0.f});
      break;
    case OpKind::kNeg:
      ops->push_back({algorithm::eltwise_linear, -1.f, 0.f});
      break;
    case OpKind::kReciprocal:
      // eltwise_pow is alpha * x^beta.
      ops->push_back({algorithm::eltwise_pow, 1.f, -1.f});
      break;
    case OpKind::kPow: {
      // Only a constant scalar exponent maps to an eltwise op.
      bool present = false;
      float exponent = 0.f;
      if (node.inputs.size() != 2 || !ConstantScalar(g, node, 1, &present, &exponent) || !present) {
        return false;
      }
      if (g.value(node.outputs[0]).shape != g.value(node.inputs[0]).shape) return false;
      if (exponent == 2.f) {
        ops->push_back({algorithm::eltwise_square, 0.f, 0.f});
      } else if (exponent == 0.5f) {
        ops->push_back({algorithm::eltwise_sqrt, 0.f, 0.f});
      } else {
        ops->push_back({algorithm::eltwise_pow, 1.f, exponent});
      }
      break;
    }
    case OpKind::kGelu:
      ops->push_back({a.GetString("approximate", "none") == "tanh" ? algorithm::eltwise_gelu_tanh
                                                                   : algorithm::eltwise_gelu_erf,
                      0.f, 0.f});
      break;
    case OpKind::kSoftplus:
      ops->push_back({algorithm::eltwise_soft_relu, 0.f, 0.f});
      break;
    case OpKind::kMish:
      ops->push_back({algorithm::eltwise_mish, 0.f, 0.f});
      break;
    default:
      return false;
  }
  return true;
}

FusionPlan PlanFusions(const Graph& g) {
  const size_t num_nodes = g.nodes().size();
  std::vector<int> uses(g.values().size(), 0);
  std::vector<int> consumer(g.values().size(), -1);
  for (size_t n = 0; n < num_nodes; ++n) {
    const Node& node = g.nodes()[n];
    if (node.removed) continue;
    for (ValueId v : node.inputs) {
      if (v == kNoValue) continue;
      ++uses[static_cast<size_t>(v)];
      consumer[static_cast<size_t>(v)] = static_cast<int>(n);
    }
  }
  for (ValueId v : g.outputs()) ++uses[static_cast<size_t>(v)];
  // The node that is the only use of `v`, or -1.
  auto only_consumer = [&](ValueId v) {
    return uses[static_cast<size_t>(v)] == 1 ? consumer[static_cast<size_t>(v)] : -1;
  };

  FusionPlan plan;
  plan.group_of.assign(num_nodes, -1);
  for (size_t n = 0; n < num_nodes; ++n) {
    const Node& head = g.nodes()[n];
    if (head.removed || plan.group_of[n] >= 0) continue;
    if (head.op != OpKind::kConv && head.op != OpKind::kGemm && head.op != OpKind::kMatMul) {
      continue;
    }
    if (head.outputs.size() != 1 || !IsF32(g, head.outputs[0])) continue;
    const bool is_conv = head.op == OpKind::kConv;
    FusionGroup group;
    group.nodes = {static_cast<int>(n)};
    ValueId out = head.outputs[0];
    const Shape& out_shape = g.value(out).shape;
    int next = only_consumer(out);
    if (is_conv && next >= 0 &&
        g.nodes()[static_cast<size_t>(next)].op == OpKind::kBatchNormalization &&
        g.nodes()[static_cast<size_t>(next)].inputs[0] == out &&
        CanFoldBatchNorm(g, head, g.nodes()[static_cast<size_t>(next)])) {
      group.batch_norm = next;
      group.nodes.push_back(next);
      out = g.nodes()[static_cast<size_t>(next)].outputs[0];
    }
    // MatMul then Add of a constant vector over the last dim (how exporters write a linear
    // layer on rank > 2 data): the vector becomes the GEMM's bias.
    if (head.op == OpKind::kMatMul && next >= 0 &&
        g.nodes()[static_cast<size_t>(next)].op == OpKind::kAdd) {
      const Node& add = g.nodes()[static_cast<size_t>(next)];
      const ValueId other = add.inputs.size() == 2 && add.inputs[0] == out ? add.inputs[1]
                            : add.inputs.size() == 2                       ? add.inputs[0]
                                                                           : kNoValue;
      if (other != kNoValue && other != out && !out_shape.empty() &&
          IsConstantVector(g, other, out_shape.back()) && add.outputs.size() == 1 &&
          g.value(add.outputs[0]).shape == out_shape && g.value(head.input(1)).is_constant()) {
        group.matmul_bias = other;
        group.nodes.push_back(next);
        out = add.outputs[0];
      }
    }
    // Constant scalar affines right after a convolution (PP-OCR's learnable affine blocks)
    // fold into its weights and bias.
    while (is_conv) {
      const int c = only_consumer(out);
      if (c < 0 || plan.group_of[static_cast<size_t>(c)] >= 0) break;
      const Node& node = g.nodes()[static_cast<size_t>(c)];
      std::vector<EltwiseOp> ops;
      if (EltwiseInput(g, node) != out || !EltwiseFor(g, node, &ops) || ops.size() != 1 ||
          ops[0].alg != algorithm::eltwise_linear || g.value(node.outputs[0]).shape != out_shape) {
        break;
      }
      group.conv_shift = ops[0].alpha * group.conv_shift + ops[0].beta;
      group.conv_scale *= ops[0].alpha;
      group.nodes.push_back(c);
      out = node.outputs[0];
    }
    // Post-op grammar: [eltwise [linear]] [sum [eltwise]] for Conv, [eltwise [linear]] for
    // Gemm/MatMul; consecutive linear ops compose into one, a2 (a1 x + b1) + b2. oneDNN 2.6's
    // convolutions compute longer chains with two linear post-ops wrongly (linear, hardswish,
    // linear), so chains stay this short.
    bool eltwise_allowed = true;
    bool linear_allowed = false;  // one linear after the first eltwise
    bool sum_allowed = is_conv;
    while (true) {
      int c = only_consumer(out);
      if (c < 0 || plan.group_of[static_cast<size_t>(c)] >= 0) break;
      const Node& node = g.nodes()[static_cast<size_t>(c)];
      if (node.outputs.empty() || g.value(node.outputs[0]).shape != out_shape) break;
      std::vector<EltwiseOp> ops;
      const bool is_eltwise = EltwiseInput(g, node) == out && EltwiseFor(g, node, &ops);
      const bool is_linear =
          is_eltwise && ops.size() == 1 && ops[0].alg == algorithm::eltwise_linear;
      FusionGroup::PostOp* last = group.post_ops.empty() ? nullptr : &group.post_ops.back();
      if (is_linear && last != nullptr && !last->is_sum &&
          last->eltwise.alg == algorithm::eltwise_linear) {
        last->eltwise.beta = ops[0].alpha * last->eltwise.beta + ops[0].beta;
        last->eltwise.alpha *= ops[0].alpha;
      } else if (is_eltwise && (eltwise_allowed || (linear_allowed && is_linear))) {
        for (const EltwiseOp& op : ops) {
          FusionGroup::PostOp p;
          p.eltwise = op;
          group.post_ops.push_back(p);
        }
        linear_allowed = eltwise_allowed && !is_linear && ops.size() == 1;
        eltwise_allowed = false;
        if (!is_conv) sum_allowed = false;
      } else if (sum_allowed && node.op == OpKind::kAdd && node.inputs.size() == 2 &&
                 node.outputs.size() == 1) {
        ValueId other = node.inputs[0] == out ? node.inputs[1] : node.inputs[0];
        if (other == out || !IsF32(g, other) || g.value(other).shape != out_shape ||
            g.value(node.outputs[0]).shape != out_shape) {
          break;
        }
        FusionGroup::PostOp p;
        p.is_sum = true;
        p.residual = other;
        group.post_ops.push_back(p);
        sum_allowed = false;
        eltwise_allowed = true;
        linear_allowed = false;
      } else {
        break;
      }
      group.nodes.push_back(c);
      out = node.outputs[0];
    }
    if (group.nodes.size() < 2) continue;
    group.output = out;
    for (int m : group.nodes)
      plan.group_of[static_cast<size_t>(m)] = static_cast<int>(plan.groups.size());
    plan.groups.push_back(std::move(group));
  }
  // Pre-activation blocks (DenseNet): BatchNormalization then Relu as one oneDNN step, for the
  // batch norms no convolution folded above.
  for (size_t n = 0; n < num_nodes; ++n) {
    const Node& head = g.nodes()[n];
    if (head.removed || plan.group_of[n] >= 0) continue;
    if (head.op == OpKind::kBatchNormalization && head.outputs.size() == 1 &&
        IsF32(g, head.outputs[0])) {
      const int c = only_consumer(head.outputs[0]);
      if (c >= 0 && plan.group_of[static_cast<size_t>(c)] < 0 &&
          g.nodes()[static_cast<size_t>(c)].op == OpKind::kRelu) {
        FusionGroup group;
        group.nodes = {static_cast<int>(n), c};
        group.output = g.nodes()[static_cast<size_t>(c)].outputs[0];
        for (int m : group.nodes) {
          plan.group_of[static_cast<size_t>(m)] = static_cast<int>(plan.groups.size());
        }
        plan.groups.push_back(std::move(group));
      }
    }
  }
  return plan;
}

}  // namespace edgeinfer::cpu

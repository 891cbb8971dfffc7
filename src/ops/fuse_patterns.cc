#include "ops/fuse_patterns.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace edgeinfer {
namespace {

bool Near(float a, double b) { return std::fabs(a - b) <= 1e-4 * std::fabs(b); }

class Matcher {
 public:
  explicit Matcher(Graph* g) : g_(*g) {
    for (ValueId v : g_.outputs()) is_output_.push_back(v);
  }

  const Node& node(int n) const { return g_.nodes()[static_cast<size_t>(n)]; }
  Node& mutable_node(int n) { return g_.mutable_nodes()[static_cast<size_t>(n)]; }

  // The one node using `v` (once), when `v` is no graph output; else -1.
  int OnlyConsumer(ValueId v) const {
    if (v == kNoValue || IsOutput(v)) return -1;
    const Value& value = g_.value(v);
    if (value.consumers.size() != 1) return -1;
    const int c = value.consumers[0];
    return node(c).removed ? -1 : c;
  }

  // The producer of `v` when it is an op of kind `op` with one output, else -1.
  int ProducerOf(ValueId v, OpKind op) const {
    if (v == kNoValue) return -1;
    const int p = g_.value(v).producer;
    if (p < 0 || node(p).removed || node(p).op != op || node(p).outputs.size() != 1) return -1;
    return p;
  }

  bool IsOutput(ValueId v) const {
    return std::find(is_output_.begin(), is_output_.end(), v) != is_output_.end();
  }

  // A float32 constant holding one element.
  bool Scalar(ValueId v, float* out) const {
    if (v == kNoValue) return false;
    const Value& value = g_.value(v);
    if (!value.is_constant() || value.dtype != DType::kFloat32 || value.constant.numel() != 1) {
      return false;
    }
    *out = value.constant.data<float>()[0];
    return true;
  }

  // For a binary node with `v` as one input: the other input (kNoValue if neither is `v`).
  ValueId Other(const Node& n, ValueId v) const {
    if (n.inputs.size() != 2) return kNoValue;
    if (n.inputs[0] == v) return n.inputs[1];
    if (n.inputs[1] == v) return n.inputs[0];
    return kNoValue;
  }

  // For a binary node: whether one input is a scalar constant near `expect`; `rest` gets the
  // other input.
  bool ScalarOperand(const Node& n, double expect, ValueId* rest) const {
    if (n.inputs.size() != 2) return false;
    for (int i = 0; i < 2; ++i) {
      float s = 0.f;
      if (Scalar(n.inputs[static_cast<size_t>(i)], &s) && Near(s, expect)) {
        *rest = n.inputs[static_cast<size_t>(1 - i)];
        return true;
      }
    }
    return false;
  }

  bool F32(ValueId v) const { return v != kNoValue && g_.value(v).dtype == DType::kFloat32; }

  Graph& g_;

 private:
  std::vector<ValueId> is_output_;
};

// Gelu(x) from the Erf node `e`; true when folded.
bool FuseGeluAt(Matcher& m, int e) {
  const Node& erf = m.node(e);
  if (erf.inputs.size() != 1 || erf.outputs.size() != 1) return false;
  const ValueId d = erf.inputs[0];
  if (m.OnlyConsumer(d) != e) return false;
  ValueId x = kNoValue;
  int scale = m.ProducerOf(d, OpKind::kDiv);
  if (scale >= 0) {
    float s = 0.f;
    if (!m.Scalar(m.node(scale).inputs[1], &s) || !Near(s, std::sqrt(2.0))) return false;
    x = m.node(scale).inputs[0];
  } else {
    scale = m.ProducerOf(d, OpKind::kMul);
    if (scale < 0 || !m.ScalarOperand(m.node(scale), std::sqrt(0.5), &x)) return false;
  }
  if (!m.F32(x)) return false;
  const int add = m.OnlyConsumer(erf.outputs[0]);
  ValueId rest = kNoValue;
  if (add < 0 || m.node(add).op != OpKind::kAdd || !m.ScalarOperand(m.node(add), 1.0, &rest) ||
      rest != erf.outputs[0]) {
    return false;
  }
  const ValueId add_out = m.node(add).outputs[0];
  const int mul = m.OnlyConsumer(add_out);
  if (mul < 0 || m.node(mul).op != OpKind::kMul) return false;
  const ValueId other = m.Other(m.node(mul), add_out);
  int half = -1;  // the node applying 0.5
  int last = -1;
  if (other == x) {
    // (x * (1 + erf)) * 0.5
    last = m.OnlyConsumer(m.node(mul).outputs[0]);
    if (last < 0 || m.node(last).op != OpKind::kMul || !m.ScalarOperand(m.node(last), 0.5, &rest) ||
        rest != m.node(mul).outputs[0]) {
      return false;
    }
    half = mul;  // removed along with the others; `last` is rewritten
  } else {
    // (x * 0.5) * (1 + erf)
    half = m.ProducerOf(other, OpKind::kMul);
    if (half < 0 || m.OnlyConsumer(other) != mul || !m.ScalarOperand(m.node(half), 0.5, &rest) ||
        rest != x) {
      return false;
    }
    last = mul;
  }
  const ValueId y = m.node(last).outputs[0];
  if (m.node(last).outputs.size() != 1 || m.g_.value(y).shape != m.g_.value(x).shape) {
    return false;
  }
  for (int n : {scale, e, add, half}) m.mutable_node(n).removed = true;
  Node& out = m.mutable_node(last);
  out.op = OpKind::kGelu;
  out.inputs = {x};
  out.attrs = Attributes();
  return true;
}

// The normalised axes of ReduceMean node `r` when they are the trailing axes k..rank-1 and
// keepdims is set: returns k, or -1.
int64_t TrailingReduceAxis(const Matcher& m, const Node& r) {
  if (r.inputs.empty() || r.outputs.size() != 1 || r.attrs.GetInt("keepdims", 1) != 1) return -1;
  std::vector<int64_t> axes;
  if (r.attrs.Has("axes")) {
    axes = r.attrs.GetInts("axes");
  } else if (r.inputs.size() > 1 && r.inputs[1] != kNoValue) {
    const Value& a = m.g_.value(r.inputs[1]);
    if (!a.is_constant() || a.dtype != DType::kInt64) return -1;
    axes.assign(a.constant.data<int64_t>(), a.constant.data<int64_t>() + a.constant.numel());
  }
  const auto rank = static_cast<int64_t>(m.g_.value(r.inputs[0]).shape.size());
  if (axes.empty() || rank == 0) return -1;
  for (int64_t& a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) return -1;
  }
  std::sort(axes.begin(), axes.end());
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] != rank - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i)) return -1;
  }
  return axes.front();
}

// A constant usable as LayerNormalization's Scale or B over x's dims from `axis`: float32, its
// shape (left-padded with 1s) is 1 on the leading axes and equal to x on the normalised ones.
// Returns the constant reshaped to the normalised dims, or an empty tensor.
Tensor NormalisedConstant(const Matcher& m, ValueId v, const Shape& xs, int64_t axis) {
  const Value& c = m.g_.value(v);
  if (!c.is_constant() || c.dtype != DType::kFloat32 || c.shape.size() > xs.size()) return {};
  Shape padded(xs.size() - c.shape.size(), 1);
  padded.insert(padded.end(), c.shape.begin(), c.shape.end());
  for (size_t i = 0; i < xs.size(); ++i) {
    const bool normalised = static_cast<int64_t>(i) >= axis;
    if (padded[i] != (normalised ? xs[i] : 1)) return {};
  }
  Result<Tensor> r = c.constant.Reshaped(Shape(xs.begin() + axis, xs.end()));
  return r.ok() ? std::move(r).value() : Tensor();
}

// LayerNormalization from the first ReduceMean `r1` of the decomposed form; true when folded.
bool FuseLayerNormAt(Matcher& m, int r1) {
  const Node& mean = m.node(r1);
  const int64_t axis = TrailingReduceAxis(m, mean);
  if (axis < 0) return false;
  const ValueId x = mean.inputs[0];
  if (!m.F32(x)) return false;
  const Shape xs = m.g_.value(x).shape;
  const int sub = m.OnlyConsumer(mean.outputs[0]);
  if (sub < 0 || m.node(sub).op != OpKind::kSub || m.node(sub).inputs.size() != 2 ||
      m.node(sub).inputs[0] != x || m.node(sub).inputs[1] != mean.outputs[0]) {
    return false;
  }
  const ValueId d = m.node(sub).outputs[0];
  if (m.IsOutput(d)) return false;
  // d feeds exactly the square (Pow(d, 2) or Mul(d, d)) and the final Div.
  std::vector<int> users = m.g_.value(d).consumers;
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  if (users.size() != 2) return false;
  int square = -1;
  int div = -1;
  for (int u : users) {
    const Node& n = m.node(u);
    if (n.removed || n.inputs.size() != 2) return false;
    float p = 0.f;
    if (n.op == OpKind::kPow && n.inputs[0] == d && m.Scalar(n.inputs[1], &p) && p == 2.f) {
      square = u;
    } else if (n.op == OpKind::kMul && n.inputs[0] == d && n.inputs[1] == d) {
      square = u;
    } else if (n.op == OpKind::kDiv && n.inputs[0] == d && n.inputs[1] != d) {
      div = u;
    }
  }
  if (square < 0 || div < 0) return false;
  const int r2 = m.OnlyConsumer(m.node(square).outputs[0]);
  if (r2 < 0 || m.node(r2).op != OpKind::kReduceMean || TrailingReduceAxis(m, m.node(r2)) != axis) {
    return false;
  }
  const int add = m.OnlyConsumer(m.node(r2).outputs[0]);
  if (add < 0 || m.node(add).op != OpKind::kAdd) return false;
  const ValueId var = m.node(r2).outputs[0];
  const ValueId eps_v = m.Other(m.node(add), var);
  float eps = 0.f;
  if (!m.Scalar(eps_v, &eps) || !(eps >= 0.f)) return false;
  const int sqrt = m.OnlyConsumer(m.node(add).outputs[0]);
  if (sqrt < 0 || m.node(sqrt).op != OpKind::kSqrt ||
      m.OnlyConsumer(m.node(sqrt).outputs[0]) != div ||
      m.node(div).inputs[1] != m.node(sqrt).outputs[0]) {
    return false;
  }
  std::vector<int> removed = {r1, sub, square, r2, add, sqrt};
  int last = div;
  Tensor gamma;
  Tensor beta;
  int next = m.OnlyConsumer(m.node(last).outputs[0]);
  if (next >= 0 && m.node(next).op == OpKind::kMul) {
    const ValueId c = m.Other(m.node(next), m.node(last).outputs[0]);
    if (c != kNoValue) gamma = NormalisedConstant(m, c, xs, axis);
    if (!gamma.empty()) {
      removed.push_back(last);
      last = next;
      next = m.OnlyConsumer(m.node(last).outputs[0]);
    }
  }
  if (next >= 0 && m.node(next).op == OpKind::kAdd) {
    const ValueId c = m.Other(m.node(next), m.node(last).outputs[0]);
    if (c != kNoValue) beta = NormalisedConstant(m, c, xs, axis);
    if (!beta.empty()) {
      removed.push_back(last);
      last = next;
    }
  }
  const ValueId y = m.node(last).outputs[0];
  if (m.node(last).outputs.size() != 1 || m.g_.value(y).shape != xs) return false;
  const Shape normalised(xs.begin() + axis, xs.end());
  if (gamma.empty()) {
    gamma = Tensor::FromVector<float>(std::vector<float>(NumElements(normalised), 1.f), normalised);
  }
  const std::string stem = m.node(last).name.empty() ? "layer_norm" : m.node(last).name;
  std::vector<ValueId> inputs = {m.g_.AddConstant(m.g_.UniqueName(stem + "_scale"), gamma)};
  if (!beta.empty()) inputs.push_back(m.g_.AddConstant(m.g_.UniqueName(stem + "_bias"), beta));
  inputs.insert(inputs.begin(), x);
  for (int n : removed) m.mutable_node(n).removed = true;
  Node& out = m.mutable_node(last);
  out.op = OpKind::kLayerNormalization;
  out.inputs = std::move(inputs);
  out.attrs = Attributes();
  out.attrs.Set("axis", axis);
  out.attrs.Set("epsilon", eps);
  return true;
}

// The bounds of Clip node `n` when both are constant scalars (attributes before opset 11).
bool ClipBounds(const Matcher& m, const Node& n, float* lo, float* hi) {
  if (m.g_.opset < 11) {
    if (!n.attrs.Has("min") || !n.attrs.Has("max")) return false;
    *lo = n.attrs.GetFloat("min", 0.f);
    *hi = n.attrs.GetFloat("max", 0.f);
    return true;
  }
  return n.inputs.size() == 3 && m.Scalar(n.inputs[1], lo) && m.Scalar(n.inputs[2], hi);
}

// HardSwish(x) from the Clip node `cl` of x * Clip(x + 3, 0, 6) / 6 (paddle2onnx's form; the
// division may be a multiplication by 1/6, and Add and Mul may take their operands in either
// order); true when folded.
bool FuseHardSwishAt(Matcher& m, int cl) {
  const Node& clip = m.node(cl);
  float lo = 0.f;
  float hi = 0.f;
  if (clip.outputs.size() != 1 || clip.inputs.empty() || !ClipBounds(m, clip, &lo, &hi) ||
      lo != 0.f || hi != 6.f) {
    return false;
  }
  const int add = m.ProducerOf(clip.inputs[0], OpKind::kAdd);
  ValueId x = kNoValue;
  if (add < 0 || m.OnlyConsumer(clip.inputs[0]) != cl || !m.ScalarOperand(m.node(add), 3.0, &x) ||
      !m.F32(x)) {
    return false;
  }
  const int mul = m.OnlyConsumer(clip.outputs[0]);
  if (mul < 0 || m.node(mul).op != OpKind::kMul || m.Other(m.node(mul), clip.outputs[0]) != x) {
    return false;
  }
  const ValueId prod = m.node(mul).outputs[0];
  const int last = m.OnlyConsumer(prod);
  if (last < 0 || m.node(last).outputs.size() != 1) return false;
  const Node& scale = m.node(last);
  ValueId rest = kNoValue;
  float six = 0.f;
  const bool by_div = scale.op == OpKind::kDiv && scale.inputs.size() == 2 &&
                      scale.inputs[0] == prod && m.Scalar(scale.inputs[1], &six) && Near(six, 6.0);
  const bool by_mul =
      scale.op == OpKind::kMul && m.ScalarOperand(scale, 1.0 / 6.0, &rest) && rest == prod;
  if (!by_div && !by_mul) return false;
  if (m.g_.value(scale.outputs[0]).shape != m.g_.value(x).shape) return false;
  for (int n : {add, cl, mul}) m.mutable_node(n).removed = true;
  Node& out = m.mutable_node(last);
  out.op = OpKind::kHardSwish;
  out.inputs = {x};
  out.attrs = Attributes();
  return true;
}

// The permutation of Transpose node `t` over rank `rank` (reversed axes when perm is absent);
// empty when it is not a permutation.
std::vector<int64_t> PermOf(const Node& t, size_t rank) {
  std::vector<int64_t> perm = t.attrs.GetInts("perm");
  if (perm.empty()) {
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  }
  std::vector<bool> seen(rank, false);
  if (perm.size() != rank) return {};
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)]) return {};
    seen[static_cast<size_t>(p)] = true;
  }
  return perm;
}

// Transpose `t2` of a Transpose whose output only it reads: one Transpose of the first one's
// input, or an Identity when the two cancel; true when folded.
bool FoldTransposePairAt(Matcher& m, int t2) {
  const Node& outer = m.node(t2);
  if (outer.inputs.size() != 1 || outer.outputs.size() != 1) return false;
  const ValueId mid = outer.inputs[0];
  const int t1 = m.ProducerOf(mid, OpKind::kTranspose);
  if (t1 < 0 || m.OnlyConsumer(mid) != t2 || m.node(t1).inputs.size() != 1) return false;
  const ValueId x = m.node(t1).inputs[0];
  const size_t rank = m.g_.value(x).shape.size();
  const std::vector<int64_t> p = PermOf(m.node(t1), rank);
  const std::vector<int64_t> q = PermOf(outer, rank);
  if (p.empty() || q.empty()) return false;
  // y1 dim k is x dim p[k]; y2 dim k is y1 dim q[k], so x dim p[q[k]].
  std::vector<int64_t> r(rank);
  bool identity = true;
  for (size_t k = 0; k < rank; ++k) {
    r[k] = p[static_cast<size_t>(q[k])];
    identity = identity && r[k] == static_cast<int64_t>(k);
  }
  m.mutable_node(t1).removed = true;
  Node& out = m.mutable_node(t2);
  out.inputs = {x};
  out.attrs = Attributes();
  if (identity) {
    out.op = OpKind::kIdentity;
  } else {
    out.attrs.Set("perm", r);
  }
  return true;
}

}  // namespace

Status FusePatterns(Graph* graph, FusedPatterns* counts) {
  FusedPatterns local;
  FusedPatterns& c = counts ? *counts : local;
  graph->RebuildUses();
  Matcher m(graph);
  // Index loop: FuseLayerNormAt appends constants (values), never nodes.
  for (size_t n = 0; n < graph->nodes().size(); ++n) {
    const Node& node = graph->nodes()[n];
    if (node.removed) continue;
    bool fused = false;
    if (node.op == OpKind::kErf) {
      fused = FuseGeluAt(m, static_cast<int>(n));
      c.gelu += fused;
    } else if (node.op == OpKind::kReduceMean) {
      fused = FuseLayerNormAt(m, static_cast<int>(n));
      c.layer_norm += fused;
    } else if (node.op == OpKind::kClip) {
      fused = FuseHardSwishAt(m, static_cast<int>(n));
      c.hard_swish += fused;
    } else if (node.op == OpKind::kTranspose) {
      fused = FoldTransposePairAt(m, static_cast<int>(n));
      c.transpose_pairs += fused;
    }
    if (fused) graph->RebuildUses();
  }
  return Status::Ok();
}

}  // namespace edgeinfer

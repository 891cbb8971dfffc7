// Tests of the exporter pattern fusion (ops/fuse_patterns.h) and of the cpu backend on the
// graphs it produces: GELU and decomposed LayerNormalization fold into one node each, only when
// the pattern is exact; the folded graph computes the same function as the original on the
// reference backend; and on the cpu backend no step of a ConvNeXt block runs a reference kernel.
#include "ops/fuse_patterns.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/registry.h"
#include "ir/graph.h"
#include "ops/passes.h"

namespace edgeinfer {
namespace {

// Folding reorders floating-point work (one fused kernel instead of seven); fp32 rounding of
// that stays near 1e-6, and a wrong constant or axis gives errors of 1e-2 or more.
constexpr double kTolerance = 1e-4;

Tensor Random(Shape shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::Empty(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

double RelativeL2(const Tensor& got, const Tensor& want) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    double d = double(got.data<float>()[i]) - want.data<float>()[i];
    num += d * d;
    den += double(want.data<float>()[i]) * want.data<float>()[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

Attributes Perm(std::vector<int64_t> p) {
  Attributes a;
  a.Set("perm", std::move(p));
  return a;
}

// Hand-built graphs; shapes are filled by Specialize.
class Builder {
 public:
  Graph g;
  ValueId Input(Shape shape) { return g.AddInput("x" + Next(), DType::kFloat32, shape); }
  ValueId Scalar(float v) { return g.AddConstant("s" + Next(), Tensor::Scalar<float>(v)); }
  ValueId Weight(Shape shape, float lo = -0.5f, float hi = 0.5f) {
    return g.AddConstant("w" + Next(), Random(shape, seed_++, lo, hi));
  }
  ValueId Op(OpKind op, std::vector<ValueId> ins, Attributes attrs = {}) {
    ValueId out = g.AddValue("t" + Next(), DType::kFloat32, {});
    g.mutable_value(out).rank_known = false;
    g.AddNode(op, std::string(OpName(op)) + Next(), std::move(ins), {out}, std::move(attrs));
    return out;
  }
  ValueId ReduceMeanLast(ValueId x) {
    Attributes a;
    a.Set("axes", std::vector<int64_t>{-1});
    return Op(OpKind::kReduceMean, {x}, a);
  }
  // torch.onnx's decomposed LayerNorm over the last axis with gamma and beta.
  ValueId LayerNorm(ValueId x, int64_t c, float eps = 1e-6f) {
    ValueId d = Op(OpKind::kSub, {x, ReduceMeanLast(x)});
    ValueId var = ReduceMeanLast(Op(OpKind::kPow, {d, Scalar(2.f)}));
    ValueId n = Op(OpKind::kDiv, {d, Op(OpKind::kSqrt, {Op(OpKind::kAdd, {var, Scalar(eps)})})});
    return Op(OpKind::kAdd, {Op(OpKind::kMul, {n, Weight({c}, 0.5f, 1.5f)}), Weight({c})});
  }
  // torch.onnx's erf GELU, with `root2` as the divisor.
  ValueId Gelu(ValueId x, float root2 = 1.4142135f) {
    ValueId erf = Op(OpKind::kErf, {Op(OpKind::kDiv, {x, Scalar(root2)})});
    return Op(OpKind::kMul,
              {Op(OpKind::kMul, {x, Op(OpKind::kAdd, {erf, Scalar(1.f)})}), Scalar(0.5f)});
  }

 private:
  std::string Next() { return std::to_string(counter_++); }
  int counter_ = 0;
  uint32_t seed_ = 11;
};

// A ConvNeXt block as torch.onnx exports it at opset 13; output [1, 8, 6, 5].
Graph ConvNextBlock() {
  Builder b;
  ValueId x = b.Input({1, 8, 6, 5});
  Attributes conv;
  conv.Set("group", int64_t{8});
  conv.Set("pads", std::vector<int64_t>{3, 3, 3, 3});
  ValueId dw = b.Op(OpKind::kConv, {x, b.Weight({8, 1, 7, 7}), b.Weight({8})}, conv);
  ValueId ln = b.LayerNorm(b.Op(OpKind::kTranspose, {dw}, Perm({0, 2, 3, 1})), 8);
  ValueId h = b.Op(OpKind::kAdd, {b.Op(OpKind::kMatMul, {ln, b.Weight({8, 32})}), b.Weight({32})});
  ValueId o =
      b.Op(OpKind::kAdd, {b.Op(OpKind::kMatMul, {b.Gelu(h), b.Weight({32, 8})}), b.Weight({8})});
  ValueId back =
      b.Op(OpKind::kTranspose, {b.Op(OpKind::kMul, {o, b.Weight({8})})}, Perm({0, 3, 1, 2}));
  b.g.AddOutput(b.Op(OpKind::kAdd, {x, back}));
  return std::move(b.g);
}

std::vector<Tensor> RunOn(const char* backend, Graph g, const Tensor& x, int* reference_steps) {
  std::vector<Tensor> outs;
  auto exe = FindBackend(backend)->Compile(std::move(g), CompileOptions{});
  EXPECT_TRUE(exe.ok()) << exe.status().ToString();
  if (!exe.ok()) return outs;
  std::vector<StepTiming> timings;
  Status s = (*exe)->RunProfiled({x}, &outs, &timings);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (reference_steps) {
    *reference_steps = 0;
    for (const StepTiming& t : timings) *reference_steps += t.reference;
  }
  return outs;
}

TEST(FusePatternsTest, FoldsConvNextBlockAndKeepsTheFunction) {
  Graph g = ConvNextBlock();
  ASSERT_TRUE(Specialize(&g, {}).ok());
  const Tensor x = Random({1, 8, 6, 5}, 3);
  std::vector<Tensor> want = RunOn("reference", g, x, nullptr);

  Graph fused = g;
  FusedPatterns counts;
  ASSERT_TRUE(FusePatterns(&fused, &counts).ok());
  EXPECT_EQ(counts.gelu, 1);
  EXPECT_EQ(counts.layer_norm, 1);
  int live = 0;
  for (const Node& n : fused.nodes()) live += !n.removed;
  EXPECT_EQ(live, static_cast<int>(g.nodes().size()) - 4 - 8);  // GELU 5 -> 1, LN 9 -> 1
  ASSERT_TRUE(fused.Verify().ok());
  std::vector<Tensor> got = RunOn("reference", fused, x, nullptr);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LE(RelativeL2(got[0], want[0]), kTolerance);

  // The cpu backend folds the patterns itself and runs every step on an optimised path.
  int reference_steps = -1;
  std::vector<Tensor> cpu = RunOn("cpu", g, x, &reference_steps);
  ASSERT_EQ(cpu.size(), 1u);
  EXPECT_LE(RelativeL2(cpu[0], want[0]), kTolerance);
  EXPECT_EQ(reference_steps, 0);
}

TEST(FusePatternsTest, LeavesInexactPatternsAlone) {
  // A divisor that is not sqrt(2), and a LayerNorm whose centred tensor is also an output.
  Builder b;
  ValueId x = b.Input({2, 5, 16});
  b.g.AddOutput(b.Gelu(x, 1.5f));
  ValueId d = b.Op(OpKind::kSub, {x, b.ReduceMeanLast(x)});
  ValueId var = b.ReduceMeanLast(b.Op(OpKind::kPow, {d, b.Scalar(2.f)}));
  b.g.AddOutput(
      b.Op(OpKind::kDiv, {d, b.Op(OpKind::kSqrt, {b.Op(OpKind::kAdd, {var, b.Scalar(1e-5f)})})}));
  b.g.AddOutput(d);
  ASSERT_TRUE(Specialize(&b.g, {}).ok());
  FusedPatterns counts;
  ASSERT_TRUE(FusePatterns(&b.g, &counts).ok());
  EXPECT_EQ(counts.gelu, 0);
  EXPECT_EQ(counts.layer_norm, 0);
}

TEST(FusePatternsTest, LayerNormWithoutAffineAndOverTwoAxes) {
  Builder b;
  ValueId x = b.Input({2, 3, 4, 6});
  Attributes axes;
  axes.Set("axes", std::vector<int64_t>{2, 3});
  ValueId d = b.Op(OpKind::kSub, {x, b.Op(OpKind::kReduceMean, {x}, axes)});
  ValueId var = b.Op(OpKind::kReduceMean, {b.Op(OpKind::kMul, {d, d})}, axes);
  b.g.AddOutput(
      b.Op(OpKind::kDiv, {d, b.Op(OpKind::kSqrt, {b.Op(OpKind::kAdd, {b.Scalar(1e-5f), var})})}));
  ASSERT_TRUE(Specialize(&b.g, {}).ok());
  const Tensor in = Random({2, 3, 4, 6}, 5, -2.f, 3.f);
  std::vector<Tensor> want = RunOn("reference", b.g, in, nullptr);
  Graph fused = b.g;
  FusedPatterns counts;
  ASSERT_TRUE(FusePatterns(&fused, &counts).ok());
  EXPECT_EQ(counts.layer_norm, 1);
  std::vector<Tensor> got = RunOn("reference", fused, in, nullptr);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LE(RelativeL2(got[0], want[0]), kTolerance);
  int reference_steps = -1;
  std::vector<Tensor> cpu = RunOn("cpu", b.g, in, &reference_steps);
  ASSERT_EQ(cpu.size(), 1u);
  EXPECT_LE(RelativeL2(cpu[0], want[0]), kTolerance);
  EXPECT_EQ(reference_steps, 0);
}

// Transpose(Transpose(x)): a pair that cancels becomes an Identity, one that does not becomes
// one Transpose of x, a chain of three folds into one, and a pair whose middle tensor is also
// an output is left alone. The folded graph computes the same function.
TEST(FusePatternsTest, TransposePairsCancelOrCompose) {
  Builder b;
  ValueId x = b.Input({2, 3, 4, 5});
  ValueId nhwc = b.Op(OpKind::kTranspose, {x}, Perm({0, 2, 3, 1}));
  b.g.AddOutput(b.Op(OpKind::kRelu, {b.Op(OpKind::kTranspose, {nhwc}, Perm({0, 3, 1, 2}))}));
  ValueId swap = b.Op(OpKind::kTranspose, {x}, Perm({1, 0, 2, 3}));
  b.g.AddOutput(b.Op(OpKind::kTranspose, {swap}, Perm({0, 2, 1, 3})));
  ValueId t1 = b.Op(OpKind::kTranspose, {x}, Perm({3, 2, 1, 0}));
  ValueId t2 = b.Op(OpKind::kTranspose, {t1}, Perm({0, 2, 1, 3}));
  b.g.AddOutput(b.Op(OpKind::kTranspose, {t2}));  // no perm: reversed axes
  ValueId kept = b.Op(OpKind::kTranspose, {x}, Perm({0, 1, 3, 2}));
  b.g.AddOutput(kept);
  b.g.AddOutput(b.Op(OpKind::kTranspose, {kept}, Perm({0, 1, 3, 2})));
  ASSERT_TRUE(Specialize(&b.g, {}).ok());
  const Tensor in = Random({2, 3, 4, 5}, 7);
  std::vector<Tensor> want = RunOn("reference", b.g, in, nullptr);

  Graph fused = b.g;
  FusedPatterns counts;
  ASSERT_TRUE(FusePatterns(&fused, &counts).ok());
  EXPECT_EQ(counts.transpose_pairs, 4);  // cancel, compose, and the chain of three (two folds)
  ASSERT_TRUE(fused.Verify().ok());
  int transposes = 0;
  int identities = 0;
  for (const Node& n : fused.nodes()) {
    if (n.removed) continue;
    transposes += n.op == OpKind::kTranspose;
    identities += n.op == OpKind::kIdentity;
  }
  EXPECT_EQ(identities, 1);
  EXPECT_EQ(transposes, 4);  // the composed pair, the chain, and the pair left alone
  std::vector<Tensor> got = RunOn("reference", fused, in, nullptr);
  std::vector<Tensor> cpu = RunOn("cpu", b.g, in, nullptr);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_EQ(cpu.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape()) << "output " << i;
    EXPECT_EQ(RelativeL2(got[i], want[i]), 0.0) << "output " << i;
    EXPECT_EQ(RelativeL2(cpu[i], want[i]), 0.0) << "output " << i;
  }
}

// A channel-last segment between two convolutions, as exporters write it: Transpose to NHWC,
// per-channel work on the last axis, Transpose back to NCHW. On the cpu backend the first
// convolution writes channel-last, so both Transposes are views (no step of their own), and
// the result matches the reference backend.
TEST(FusePatternsTest, ChannelLastSegmentBetweenConvs) {
  Builder b;
  ValueId x = b.Input({2, 8, 9, 7});
  Attributes conv;
  conv.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  ValueId c1 = b.Op(OpKind::kConv, {x, b.Weight({16, 8, 3, 3}), b.Weight({16})}, conv);
  ValueId nhwc = b.Op(OpKind::kTranspose, {c1}, Perm({0, 2, 3, 1}));  // node 1
  ValueId scaled = b.Op(OpKind::kMul, {nhwc, b.Weight({16}, 0.5f, 1.5f)});
  ValueId act = b.Op(OpKind::kRelu, {b.Op(OpKind::kAdd, {scaled, b.Weight({16})})});
  ValueId nchw = b.Op(OpKind::kTranspose, {act}, Perm({0, 3, 1, 2}));  // node 5
  b.g.AddOutput(b.Op(OpKind::kConv, {nchw, b.Weight({4, 16, 3, 3}), b.Weight({4})}, conv));
  ASSERT_TRUE(Specialize(&b.g, {}).ok());
  ASSERT_EQ(b.g.nodes()[1].op, OpKind::kTranspose);
  ASSERT_EQ(b.g.nodes()[5].op, OpKind::kTranspose);
  const Tensor in = Random({2, 8, 9, 7}, 9);
  std::vector<Tensor> want = RunOn("reference", b.g, in, nullptr);

  auto exe = FindBackend("cpu")->Compile(b.g, CompileOptions{});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  std::vector<Tensor> got;
  std::vector<StepTiming> steps;
  ASSERT_TRUE((*exe)->RunProfiled({in}, &got, &steps).ok());
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(want.size(), 1u);
  EXPECT_LE(RelativeL2(got[0], want[0]), kTolerance);
  for (const StepTiming& s : steps) {
    EXPECT_FALSE(s.reference);
    for (int n : s.nodes) EXPECT_TRUE(n != 1 && n != 5) << "a step for Transpose node " << n;
  }
}

// PP-OCRv4's backbone after each convolution: a learnable affine (Mul and Add of [1]-shaped
// constants), paddle2onnx's decomposed HardSwish x * Clip(x + 3, 0, 6) / 6, and a second affine.
// The HardSwish folds into one node; on the cpu backend the first affine folds into the
// convolution's weights and bias, the HardSwish and the second affine (its Mul and Add composed)
// run as the convolution's post-ops: one step for all nine nodes.
TEST(FusePatternsTest, PaddleHardSwishAndAffinesRunAsConvPostOps) {
  Builder b;
  auto one = [&](float v) {
    return b.g.AddConstant("k" + std::to_string(v), Tensor::FromVector<float>({v}, {1}));
  };
  ValueId x = b.Input({1, 4, 7, 6});
  Attributes conv;
  conv.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  ValueId c = b.Op(OpKind::kConv, {x, b.Weight({16, 4, 3, 3}), b.Weight({16})}, conv);
  ValueId a = b.Op(OpKind::kAdd, {b.Op(OpKind::kMul, {one(1.5f), c}), one(-0.25f)});
  ValueId clip =
      b.Op(OpKind::kClip, {b.Op(OpKind::kAdd, {a, b.Scalar(3.f)}), b.Scalar(0.f), b.Scalar(6.f)});
  ValueId hs = b.Op(OpKind::kDiv, {b.Op(OpKind::kMul, {a, clip}), b.Scalar(6.f)});
  b.g.AddOutput(b.Op(OpKind::kAdd, {b.Op(OpKind::kMul, {one(0.75f), hs}), one(0.5f)}));
  ASSERT_TRUE(Specialize(&b.g, {}).ok());
  const int num_nodes = static_cast<int>(b.g.nodes().size());
  ASSERT_EQ(num_nodes, 9);
  const Tensor in = Random({1, 4, 7, 6}, 13, -2.f, 2.f);
  std::vector<Tensor> want = RunOn("reference", b.g, in, nullptr);

  Graph fused = b.g;
  FusedPatterns counts;
  ASSERT_TRUE(FusePatterns(&fused, &counts).ok());
  EXPECT_EQ(counts.hard_swish, 1);
  ASSERT_TRUE(fused.Verify().ok());
  std::vector<Tensor> got = RunOn("reference", fused, in, nullptr);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LE(RelativeL2(got[0], want[0]), kTolerance);

  auto exe = FindBackend("cpu")->Compile(b.g, CompileOptions{});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  std::vector<Tensor> cpu;
  std::vector<StepTiming> steps;
  ASSERT_TRUE((*exe)->RunProfiled({in}, &cpu, &steps).ok());
  ASSERT_EQ(cpu.size(), 1u);
  EXPECT_LE(RelativeL2(cpu[0], want[0]), kTolerance);
  bool one_step = false;
  for (const StepTiming& s : steps) {
    EXPECT_FALSE(s.reference);
    // The three nodes folded into the HardSwish are not listed; the other six are.
    one_step = one_step || (s.nodes.size() == 6 && s.nodes.front() == 0);
  }
  EXPECT_TRUE(one_step) << steps.size() << " steps";
}

}  // namespace
}  // namespace edgeinfer

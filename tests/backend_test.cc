// Tests of the reference and cpu backends on small hand-built graphs: fusions, layouts,
// memory reuse, graph outputs that are also consumed, concurrency and input checking.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <thread>

#include "backend/cpu/conv_algorithm.h"
#include "backend/cpu/cpu_executable.h"
#include "backend/registry.h"
#include "ir/graph.h"
#include "ops/op_registry.h"

namespace edgeinfer {
namespace {

// Outputs are compared by relative L2 error. 1e-4 leaves room for fp32 accumulation-order
// differences (oneDNN sums conv/GEMM terms in blocked order; BN folding rounds weights once)
// while catching any indexing, padding or layout bug, which gives errors of order 1.
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

Attributes ConvAttrs(int64_t k, int64_t pad, int64_t stride = 1, int64_t group = 1) {
  Attributes a;
  a.Set("kernel_shape", std::vector<int64_t>{k, k});
  a.Set("pads", std::vector<int64_t>{pad, pad, pad, pad});
  a.Set("strides", std::vector<int64_t>{stride, stride});
  a.Set("group", group);
  return a;
}

// Builds graphs by hand with shapes from the same formulas the schemas use.
class Builder {
 public:
  explicit Builder(uint32_t seed = 1) : seed_(seed) {}
  Graph g;

  ValueId Input(const std::string& name, Shape shape) {
    return g.AddInput(name, DType::kFloat32, std::move(shape));
  }
  ValueId Const(const std::string& name, Tensor t) { return g.AddConstant(name, std::move(t)); }
  ValueId Conv(const std::string& name, ValueId x, int64_t oc, int64_t k, int64_t pad,
               int64_t stride = 1, int64_t group = 1, bool bias = true) {
    const Shape xs = g.value(x).shape;
    ValueId w = Const(name + ".w", Random({oc, xs[1] / group, k, k}, ++seed_));
    std::vector<ValueId> ins = {x, w};
    if (bias) ins.push_back(Const(name + ".b", Random({oc}, ++seed_)));
    int64_t oh = (xs[2] + 2 * pad - k) / stride + 1;
    int64_t ow = (xs[3] + 2 * pad - k) / stride + 1;
    ValueId y = g.AddValue(name + ".y", DType::kFloat32, {xs[0], oc, oh, ow});
    g.AddNode(OpKind::kConv, name, ins, {y}, ConvAttrs(k, pad, stride, group));
    return y;
  }
  ValueId Unary(OpKind op, const std::string& name, ValueId x, Attributes a = {}) {
    ValueId y = g.AddValue(name + ".y", DType::kFloat32, Shape(g.value(x).shape));
    g.AddNode(op, name, {x}, {y}, std::move(a));
    return y;
  }
  ValueId Binary(OpKind op, const std::string& name, ValueId a, ValueId b) {
    ValueId y = g.AddValue(name + ".y", DType::kFloat32, Shape(g.value(a).shape));
    g.AddNode(op, name, {a, b}, {y});
    return y;
  }
  ValueId BatchNorm(const std::string& name, ValueId x) {
    const int64_t c = g.value(x).shape[1];
    const Shape xs = g.value(x).shape;
    ValueId y = g.AddValue(name + ".y", DType::kFloat32, xs);
    Attributes a;
    a.Set("epsilon", 1e-3f);
    g.AddNode(
        OpKind::kBatchNormalization, name,
        {x, Const(name + ".scale", Random({c}, ++seed_, 0.5f, 1.5f)),
         Const(name + ".bias", Random({c}, ++seed_)), Const(name + ".mean", Random({c}, ++seed_)),
         Const(name + ".var", Random({c}, ++seed_, 0.5f, 2.f))},
        {y}, a);
    return y;
  }

 private:
  uint32_t seed_;
};

struct RunResult {
  std::vector<Tensor> outputs;
  std::vector<StepTiming> steps;
};

RunResult Run(const std::string& backend, const Graph& g, const std::vector<Tensor>& inputs) {
  RunResult r;
  const Backend* b = FindBackend(backend);
  EXPECT_NE(b, nullptr);
  auto exe = b->Compile(g, CompileOptions{});
  EXPECT_TRUE(exe.ok()) << exe.status().ToString();
  if (!exe.ok()) return r;
  Status s = (*exe)->RunProfiled(inputs, &r.outputs, &r.steps);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return r;
}

// Runs both backends and requires every output to agree; returns the cpu run.
RunResult ExpectAgree(const Graph& g, const std::vector<Tensor>& inputs) {
  RunResult ref = Run("reference", g, inputs);
  RunResult cpu = Run("cpu", g, inputs);
  EXPECT_EQ(ref.outputs.size(), g.outputs().size());
  EXPECT_EQ(cpu.outputs.size(), g.outputs().size());
  if (ref.outputs.size() != g.outputs().size() || cpu.outputs.size() != g.outputs().size()) {
    return cpu;  // failed above; there is nothing to pair up
  }
  for (size_t i = 0; i < ref.outputs.size(); ++i) {
    // A shape mismatch fails here; RelativeL2 would then read out of bounds, so the values are
    // compared only for matching shapes.
    if (cpu.outputs[i].shape() != ref.outputs[i].shape()) {
      ADD_FAILURE() << "output " << i << ": cpu shape " << ShapeToString(cpu.outputs[i].shape())
                    << ", reference " << ShapeToString(ref.outputs[i].shape());
      continue;
    }
    EXPECT_LE(RelativeL2(cpu.outputs[i], ref.outputs[i]), kTolerance) << "output " << i;
  }
  return cpu;
}

// True if one step covers all of `nodes` (they were fused).
bool Fused(const RunResult& r, std::vector<int> nodes) {
  for (const StepTiming& s : r.steps) {
    bool all = true;
    for (int n : nodes) all = all && std::count(s.nodes.begin(), s.nodes.end(), n) > 0;
    if (all) return true;
  }
  return false;
}

// The names of `ops` that have no schema, space separated ("" when all have one).
std::string MissingSchemas(std::initializer_list<OpKind> ops) {
  std::string missing;
  for (OpKind op : ops) {
    if (FindSchema(op) == nullptr) missing += std::string(missing.empty() ? "" : " ") + OpName(op);
  }
  return missing;
}

// Every op these tests build has a schema; a missing one fails the test (it used to skip it
// silently while the schemas were being written).
#define REQUIRE_SCHEMAS(...) ASSERT_EQ(MissingSchemas({__VA_ARGS__}), "") << "ops without a schema"

TEST(BackendTest, FindBackend) {
  ASSERT_NE(FindBackend("cpu"), nullptr);
  ASSERT_NE(FindBackend("reference"), nullptr);
  EXPECT_STREQ(FindBackend("cpu")->name(), "cpu");
  EXPECT_STREQ(FindBackend("reference")->name(), "reference");
  EXPECT_EQ(FindBackend("tpu"), nullptr);
}

TEST(BackendTest, ConvBiasReluIsOneStep) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kRelu);
  Builder b;
  ValueId x = b.Input("x", {1, 3, 12, 12});
  ValueId y = b.Unary(OpKind::kRelu, "relu", b.Conv("conv", x, 16, 3, 1));
  b.g.AddOutput(y);
  RunResult r = ExpectAgree(b.g, {Random({1, 3, 12, 12}, 7)});
  EXPECT_TRUE(Fused(r, {0, 1}));
}

TEST(BackendTest, ConvBatchNormFoldsIntoConv) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kBatchNormalization, OpKind::kClip);
  Builder b;
  ValueId x = b.Input("x", {2, 8, 9, 9});
  ValueId bn = b.BatchNorm("bn", b.Conv("conv", x, 16, 3, 1, 2));
  ValueId relu6 = b.g.AddValue("relu6.y", DType::kFloat32, {2, 16, 5, 5});
  b.g.AddNode(OpKind::kClip, "relu6",
              {bn, b.Const("lo", Tensor::Scalar(0.f)), b.Const("hi", Tensor::Scalar(6.f))},
              {relu6});
  b.g.AddOutput(relu6);
  RunResult r = ExpectAgree(b.g, {Random({2, 8, 9, 9}, 8)});
  EXPECT_TRUE(Fused(r, {0, 1, 2}));
}

TEST(BackendTest, DepthwiseConvBatchNorm) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kBatchNormalization);
  Builder b;
  ValueId x = b.Input("x", {1, 16, 10, 10});
  b.g.AddOutput(b.BatchNorm("bn", b.Conv("dw", x, 16, 3, 1, 1, 16, false)));
  RunResult r = ExpectAgree(b.g, {Random({1, 16, 10, 10}, 9)});
  EXPECT_TRUE(Fused(r, {0, 1}));
}

// DenseNet's pre-activation: a BatchNormalization no convolution can absorb (its input is a
// Concat) and its Relu run as one step; a second consumer of the batch norm prevents it.
TEST(BackendTest, BatchNormReluIsOneStep) {
  REQUIRE_SCHEMAS(OpKind::kConcat, OpKind::kBatchNormalization, OpKind::kRelu);
  Builder b;
  ValueId x0 = b.Input("x0", {1, 16, 7, 7});
  ValueId x1 = b.Input("x1", {1, 16, 7, 7});
  ValueId cat = b.g.AddValue("cat.y", DType::kFloat32, {1, 32, 7, 7});
  Attributes axis;
  axis.Set("axis", int64_t{1});
  b.g.AddNode(OpKind::kConcat, "cat", {x0, x1}, {cat}, axis);
  ValueId bn = b.BatchNorm("bn", cat);
  b.g.AddOutput(b.Unary(OpKind::kRelu, "relu", bn));
  ValueId bn2 = b.BatchNorm("bn2", x0);
  b.g.AddOutput(b.Unary(OpKind::kRelu, "relu2", bn2));
  b.g.AddOutput(bn2);
  const std::vector<Tensor> in = {Random({1, 16, 7, 7}, 21, -2.f, 2.f),
                                  Random({1, 16, 7, 7}, 22, -2.f, 2.f)};
  RunResult r = ExpectAgree(b.g, in);
  EXPECT_TRUE(Fused(r, {1, 2}));
  EXPECT_FALSE(Fused(r, {3, 4}));
}

TEST(BackendTest, ResidualAddReluAccumulatesInPlace) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kAdd, OpKind::kRelu);
  Builder b;
  ValueId x = b.Input("x", {1, 16, 8, 8});
  ValueId p = b.Conv("a", x, 16, 3, 1);
  ValueId q = b.Conv("b", x, 16, 1, 0);  // the residual: used once, by the Add
  ValueId s = b.Binary(OpKind::kAdd, "add", b.Conv("c", p, 16, 3, 1), q);
  b.g.AddOutput(b.Unary(OpKind::kRelu, "relu", s));
  RunResult r = ExpectAgree(b.g, {Random({1, 16, 8, 8}, 10)});
  // Either conv may take the Add as its sum post-op; the Relu follows it into the same step.
  EXPECT_TRUE(Fused(r, {2, 3, 4}) || Fused(r, {1, 3, 4}));
}

TEST(BackendTest, ResidualFromGraphInputIsCopiedNotOverwritten) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kAdd, OpKind::kRelu);
  Builder b;
  ValueId x = b.Input("x", {1, 8, 6, 6});
  ValueId s = b.Binary(OpKind::kAdd, "add", x, b.Conv("c", x, 8, 3, 1));
  b.g.AddOutput(b.Unary(OpKind::kRelu, "relu", s));
  Tensor in = Random({1, 8, 6, 6}, 11);
  Tensor copy = in.Clone();
  RunResult r = ExpectAgree(b.g, {in});
  EXPECT_TRUE(Fused(r, {0, 1, 2}));
  EXPECT_EQ(std::memcmp(in.raw_data(), copy.raw_data(), in.nbytes()), 0);
}

// True if some step covers exactly `nodes`.
bool HasStep(const RunResult& r, const std::vector<int>& nodes) {
  for (const StepTiming& s : r.steps) {
    if (s.nodes == nodes) return true;
  }
  return false;
}

TEST(BackendTest, ResidualIsOverwrittenAtItsLastUse) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kAdd, OpKind::kRelu);
  Builder b;
  ValueId x = b.Input("x", {1, 16, 8, 8});
  ValueId p = b.Conv("a", x, 16, 3, 1);  // node 0; used by conv b and by the Add
  ValueId q = b.Conv("b", p, 16, 3, 1);  // node 1
  ValueId s = b.Binary(OpKind::kAdd, "add", b.Conv("c", q, 16, 3, 1), p);  // nodes 2, 3
  b.g.AddOutput(b.Unary(OpKind::kRelu, "relu", s));                        // node 4
  RunResult r = ExpectAgree(b.g, {Random({1, 16, 8, 8}, 17)});
  EXPECT_TRUE(Fused(r, {2, 3, 4}));
  // Conv b read p before the fused step runs, so the sum accumulates into p's bytes; a copy of
  // p would be a separate step attributed to conv c alone.
  EXPECT_FALSE(HasStep(r, {2}));
}

TEST(BackendTest, ResidualStillNeededLaterIsNotOverwritten) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kAdd, OpKind::kRelu);
  Builder b;
  ValueId x = b.Input("x", {1, 16, 8, 8});
  ValueId p = b.Conv("a", x, 16, 3, 1);
  ValueId s =
      b.Unary(OpKind::kRelu, "relu", b.Binary(OpKind::kAdd, "add", b.Conv("c", x, 16, 1, 0), p));
  // p is read again after the fused conv+add+relu, which must therefore leave it intact.
  b.g.AddOutput(b.Binary(OpKind::kAdd, "add2", s, p));
  ExpectAgree(b.g, {Random({1, 16, 8, 8}, 18)});
}

TEST(BackendTest, BranchyGraphWithConcat) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kMaxPool, OpKind::kConcat, OpKind::kRelu);
  Builder b;
  ValueId x = b.Input("x", {1, 8, 10, 10});
  ValueId b1 = b.Unary(OpKind::kRelu, "r1", b.Conv("c1", x, 8, 1, 0));
  ValueId b2 = b.Conv("c2", x, 12, 3, 1);
  Attributes pool;
  pool.Set("kernel_shape", std::vector<int64_t>{3, 3});
  pool.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  pool.Set("strides", std::vector<int64_t>{1, 1});
  ValueId b3 = b.g.AddValue("pool.y", DType::kFloat32, {1, 8, 10, 10});
  b.g.AddNode(OpKind::kMaxPool, "pool", {x}, {b3}, pool);
  ValueId cat = b.g.AddValue("cat.y", DType::kFloat32, {1, 28, 10, 10});
  Attributes axis;
  axis.Set("axis", int64_t{1});
  b.g.AddNode(OpKind::kConcat, "cat", {b1, b2, b3}, {cat}, axis);
  b.g.AddOutput(b.Conv("head", cat, 4, 3, 1, 2));
  ExpectAgree(b.g, {Random({1, 8, 10, 10}, 12)});
}

// oneDNN's concat may lay out a one-row [1,C,1,W] result with a stride on the size-1 height
// that differs from the plain layout's; oneDNN 2.6's binary primitive broadcast a per-channel
// scale over such a source wrongly (garbage, found by the row-band tests).
TEST(BackendTest, OneRowConcatThenPerChannelMul) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kMaxPool, OpKind::kConcat, OpKind::kMul);
  Builder b;
  ValueId x = b.Input("x", {1, 8, 3, 6});
  ValueId conv = b.Conv("c1", x, 2, 3, 0);  // [1, 2, 1, 4]
  Attributes pool;
  pool.Set("kernel_shape", std::vector<int64_t>{3, 3});
  ValueId p = b.g.AddValue("pool.y", DType::kFloat32, {1, 8, 1, 4});
  b.g.AddNode(OpKind::kMaxPool, "pool", {x}, {p}, pool);
  ValueId cat = b.g.AddValue("cat.y", DType::kFloat32, {1, 10, 1, 4});
  Attributes axis;
  axis.Set("axis", int64_t{1});
  b.g.AddNode(OpKind::kConcat, "cat", {conv, p}, {cat}, axis);
  b.g.AddOutput(b.Binary(OpKind::kMul, "scale", cat, b.Const("s", Random({1, 10, 1, 1}, 5))));
  ExpectAgree(b.g, {Random({1, 8, 3, 6}, 13)});
}

// A DenseNet block: every layer concatenates the block input (plain here) with the outputs of
// all earlier layers, so the concat inputs come in mixed layouts: the first layer's wide 3x3
// convolution is Winograd-sized (oneDNN gives it nChw16c), the thin ones run direct (nhwc on
// AVX-512). Growths of 96, 16, 8 and 24 channels put the later concat offsets off the
// 16-channel blocks. A concat along the height mixes a convolution output with the plain
// input. No step may run a reference kernel (oneDNN's own `ref:any` concat counts).
TEST(BackendTest, DenseBlockConcatsOfMixedLayouts) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kBatchNormalization, OpKind::kRelu, OpKind::kConcat);
  Builder b;
  const Shape xs = {2, 32, 28, 28};
  ValueId x = b.Input("x", xs);
  std::vector<ValueId> features = {x};
  int64_t channels = xs[1];
  Attributes axis1;
  axis1.Set("axis", int64_t{1});
  int layer = 0;
  auto concat = [&](const std::vector<ValueId>& ins, int64_t c) {
    std::string name = "cat" + std::to_string(layer);
    ValueId y = b.g.AddValue(name + ".y", DType::kFloat32, {xs[0], c, xs[2], xs[3]});
    b.g.AddNode(OpKind::kConcat, name, ins, {y}, axis1);
    return y;
  };
  for (int64_t growth : {96, 16, 8, 24}) {
    const std::string l = "l" + std::to_string(layer);
    const int64_t width = growth == 96 ? 96 : 32;
    ValueId cat = features.size() == 1 ? x : concat(features, channels);
    ValueId h = b.Unary(OpKind::kRelu, l + ".r1", b.BatchNorm(l + ".bn1", cat));
    h = b.Unary(OpKind::kRelu, l + ".r2",
                b.BatchNorm(l + ".bn2", b.Conv(l + ".c1", h, width, 1, 0)));
    features.push_back(b.Conv(l + ".c3", h, growth, 3, 1));
    channels += growth;
    ++layer;
  }
  b.g.AddOutput(concat(features, channels));
  ValueId conv = b.Conv("ch", x, xs[1], 3, 1);
  ValueId rows = b.g.AddValue("rows.y", DType::kFloat32, {xs[0], xs[1], 2 * xs[2], xs[3]});
  Attributes axis2;
  axis2.Set("axis", int64_t{2});
  b.g.AddNode(OpKind::kConcat, "rows", {conv, x}, {rows}, axis2);
  b.g.AddOutput(b.Unary(OpKind::kRelu, "rows.relu", rows));
  RunResult r = ExpectAgree(b.g, {Random(xs, 31)});
  for (const StepTiming& s : r.steps) {
    EXPECT_FALSE(s.reference) << "step of node " << (s.nodes.empty() ? -1 : s.nodes.front())
                              << " runs a reference kernel";
  }
}

// torch.onnx writes an all-zero Pad before some AveragePools: it is a view of its input (no
// step), and the input, still read afterwards, is not overwritten through it.
TEST(BackendTest, ZeroPadIsAView) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kPad, OpKind::kAveragePool, OpKind::kRelu);
  Builder b;
  ValueId x = b.Input("x", {1, 16, 8, 8});
  ValueId conv = b.Conv("c", x, 16, 3, 1);  // node 0
  ValueId padded = b.g.AddValue("pad.y", DType::kFloat32, {1, 16, 8, 8});
  b.g.AddNode(OpKind::kPad, "pad",
              {conv, b.Const("pads", Tensor::FromVector<int64_t>(std::vector<int64_t>(8, 0), {8}))},
              {padded});  // node 1
  Attributes pool;
  pool.Set("kernel_shape", std::vector<int64_t>{2, 2});
  pool.Set("strides", std::vector<int64_t>{2, 2});
  ValueId avg = b.g.AddValue("avg.y", DType::kFloat32, {1, 16, 4, 4});
  b.g.AddNode(OpKind::kAveragePool, "avg", {padded}, {avg}, pool);  // node 2
  b.g.AddOutput(avg);
  b.g.AddOutput(b.Unary(OpKind::kRelu, "relu", padded));  // node 3: may run in place
  b.g.AddOutput(conv);
  RunResult r = ExpectAgree(b.g, {Random({1, 16, 8, 8}, 41)});
  for (const StepTiming& s : r.steps) {
    EXPECT_EQ(std::count(s.nodes.begin(), s.nodes.end(), 1), 0) << "a step for the Pad";
  }
}

TEST(BackendTest, OutputAlsoConsumedByAnotherNode) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kRelu);
  Builder b;
  ValueId x = b.Input("x", {1, 4, 8, 8});
  ValueId mid = b.Unary(OpKind::kRelu, "relu", b.Conv("c1", x, 8, 3, 1));
  b.g.AddOutput(mid);
  b.g.AddOutput(b.Conv("c2", mid, 8, 3, 1));
  b.g.AddOutput(mid);  // the same value twice: two independent tensors
  RunResult r = ExpectAgree(b.g, {Random({1, 4, 8, 8}, 13)});
  ASSERT_EQ(r.outputs.size(), 3u);
  EXPECT_NE(r.outputs[0].raw_data(), r.outputs[2].raw_data());
}

TEST(BackendTest, FlattenGemmSoftmaxHead) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kGlobalAveragePool, OpKind::kFlatten, OpKind::kGemm,
                  OpKind::kSoftmax);
  Builder b;
  ValueId x = b.Input("x", {2, 3, 16, 16});
  ValueId c = b.Unary(OpKind::kRelu, "relu", b.Conv("conv", x, 32, 3, 1, 2));
  ValueId gap = b.g.AddValue("gap.y", DType::kFloat32, {2, 32, 1, 1});
  b.g.AddNode(OpKind::kGlobalAveragePool, "gap", {c}, {gap});
  ValueId flat = b.g.AddValue("flat.y", DType::kFloat32, {2, 32});
  b.g.AddNode(OpKind::kFlatten, "flat", {gap}, {flat});
  ValueId logits = b.g.AddValue("fc.y", DType::kFloat32, {2, 10});
  Attributes gemm;
  gemm.Set("transB", int64_t{1});
  b.g.AddNode(OpKind::kGemm, "fc",
              {flat, b.Const("fc.w", Random({10, 32}, 20)), b.Const("fc.b", Random({10}, 21))},
              {logits}, gemm);
  b.g.AddOutput(b.Unary(OpKind::kSoftmax, "softmax", logits));
  ExpectAgree(b.g, {Random({2, 3, 16, 16}, 14)});
}

// Batch-1 fully connected layers (Gemm, transB) run as an inner product over the weights as
// stored; alpha and beta are folded into copies, a 2-D [1, N] bias is read as [N].
TEST(BackendTest, BatchOneFullyConnectedAgreesWithReference) {
  REQUIRE_SCHEMAS(OpKind::kGemm, OpKind::kRelu);
  for (float alpha : {1.f, 0.5f}) {
    for (bool bias2d : {false, true}) {
      Builder b;
      ValueId x = b.Input("x", {1, 300});
      Attributes gemm;
      gemm.Set("transB", int64_t{1});
      gemm.Set("alpha", alpha);
      gemm.Set("beta", 2.f);
      ValueId y = b.g.AddValue("fc.y", DType::kFloat32, {1, 70});
      b.g.AddNode(OpKind::kGemm, "fc",
                  {x, b.Const("fc.w", Random({70, 300}, 30)),
                   b.Const("fc.b", Random(bias2d ? Shape{1, 70} : Shape{70}, 31))},
                  {y}, gemm);
      b.g.AddOutput(b.Unary(OpKind::kRelu, "relu", y));
      RunResult cpu = ExpectAgree(b.g, {Random({1, 300}, 32)});
      EXPECT_TRUE(Fused(cpu, {0, 1})) << "Gemm and Relu should be one step";
    }
  }
}

Graph ResidualBlock(int64_t c, int64_t hw) {
  Builder b;
  ValueId x = b.Input("x", {1, c, hw, hw});
  ValueId r = b.Unary(OpKind::kRelu, "r1", b.BatchNorm("bn1", b.Conv("c1", x, c, 3, 1)));
  ValueId y = b.BatchNorm("bn2", b.Conv("c2", r, c, 3, 1));
  b.g.AddOutput(b.Unary(OpKind::kRelu, "r2", b.Binary(OpKind::kAdd, "add", y, x)));
  return b.g;
}

TEST(BackendTest, ConcurrentRunsGiveIdenticalResults) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kBatchNormalization, OpKind::kAdd, OpKind::kRelu);
  Graph g = ResidualBlock(16, 12);
  auto exe = FindBackend("cpu")->Compile(g, CompileOptions{});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  std::vector<Tensor> inputs = {Random({1, 16, 12, 12}, 15)};
  std::vector<Tensor> expected;
  ASSERT_TRUE((*exe)->Run(inputs, &expected).ok());
  ASSERT_EQ(expected.size(), 1u);
  // Every run of every thread is checked: a thread records its first failing run (and stops),
  // and the count of identical runs must be all of them, so a later failing run cannot hide
  // behind an earlier good one.
  constexpr int kThreads = 4, kRuns = 10;
  std::vector<std::string> failures(kThreads);
  std::atomic<int> identical{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRuns; ++i) {
        std::vector<Tensor> out;
        std::string& failure = failures[static_cast<size_t>(t)];
        const std::string run = "thread " + std::to_string(t) + " run " + std::to_string(i);
        Status s = (*exe)->Run(inputs, &out);
        if (!s.ok()) {
          failure = run + ": " + s.ToString();
        } else if (out.size() != 1 || out[0].shape() != expected[0].shape()) {
          failure = run + ": " + std::to_string(out.size()) + " outputs, wrong shape";
        } else if (std::memcmp(out[0].raw_data(), expected[0].raw_data(), out[0].nbytes()) != 0) {
          failure = run + ": output differs from the single-threaded run";
        }
        if (!failure.empty()) return;
        ++identical;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const std::string& failure : failures) EXPECT_EQ(failure, "");
  EXPECT_EQ(identical.load(), kThreads * kRuns);
}

TEST(BackendTest, WrongInputShapeNamesTheInput) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kBatchNormalization, OpKind::kAdd, OpKind::kRelu);
  Graph g = ResidualBlock(8, 6);
  for (const char* name : {"cpu", "reference"}) {
    auto exe = FindBackend(name)->Compile(g, CompileOptions{});
    ASSERT_TRUE(exe.ok()) << exe.status().ToString();
    std::vector<Tensor> out;
    Status s = (*exe)->Run({Random({1, 8, 6, 7}, 1)}, &out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(s.message().find("'x'"), std::string::npos) << s.message();
    s = (*exe)->Run({}, &out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    Tensor ints = Tensor::Zeros(DType::kInt32, {1, 8, 6, 6});
    EXPECT_EQ((*exe)->Run({ints}, &out).code(), StatusCode::kInvalidArgument) << name;
  }
}

TEST(BackendTest, UnknownShapeIsRejectedAtCompile) {
  REQUIRE_SCHEMAS(OpKind::kRelu);
  Graph g;
  ValueId x = g.AddInput("x", DType::kFloat32, {-1, 4});
  ValueId y = g.AddValue("y", DType::kFloat32, {-1, 4});
  g.AddNode(OpKind::kRelu, "relu", {x}, {y});
  g.AddOutput(y);
  for (const char* name : {"cpu", "reference"}) {
    auto exe = FindBackend(name)->Compile(g, CompileOptions{});
    EXPECT_FALSE(exe.ok()) << name;
  }
}

cpu::ConvShape Conv3x3(int64_t ic, int64_t oc, int64_t hw, int64_t stride = 1) {
  cpu::ConvShape c;
  c.in_channels = ic;
  c.out_channels = oc;
  c.out_h = c.out_w = hw;
  c.kernel_h = c.kernel_w = 3;
  c.stride_h = c.stride_w = stride;
  return c;
}

TEST(ConvAlgorithmTest, WinogradPolicyNames) {
  EXPECT_EQ(cpu::ParseWinogradPolicy("auto"), cpu::WinogradPolicy::kAuto);
  EXPECT_EQ(cpu::ParseWinogradPolicy("on"), cpu::WinogradPolicy::kOn);
  EXPECT_EQ(cpu::ParseWinogradPolicy("off"), cpu::WinogradPolicy::kOff);
  EXPECT_FALSE(cpu::ParseWinogradPolicy("yes").has_value());
  EXPECT_FALSE(cpu::ParseWinogradPolicy("").has_value());
}

TEST(ConvAlgorithmTest, AutoPicksWinogradForWideLayersWithWorkPerThread) {
  using cpu::PreferWinograd;
  using cpu::WinogradPolicy;
  // ResNet-18's 3x3 layers: 231 MFLOP each, at one and at two threads.
  EXPECT_TRUE(PreferWinograd(WinogradPolicy::kAuto, Conv3x3(64, 64, 56), 1));
  EXPECT_TRUE(PreferWinograd(WinogradPolicy::kAuto, Conv3x3(512, 512, 7), 2));
  // GoogLeNet's 4a 3x3 branch (96 -> 208 at 14x14, 71 MFLOP) stays direct; so does VGG-16's
  // first layer (3 input channels).
  EXPECT_FALSE(PreferWinograd(WinogradPolicy::kAuto, Conv3x3(96, 208, 14), 1));
  EXPECT_FALSE(PreferWinograd(WinogradPolicy::kAuto, Conv3x3(3, 64, 224), 1));
  // SqueezeNet's expand3x3 (16 -> 64 at 55x55, 56 MFLOP): a large map, so Winograd at one
  // thread; at two threads the work per thread is too small.
  EXPECT_TRUE(PreferWinograd(WinogradPolicy::kAuto, Conv3x3(16, 64, 55), 1));
  EXPECT_FALSE(PreferWinograd(WinogradPolicy::kAuto, Conv3x3(16, 64, 55), 2));
  EXPECT_FALSE(PreferWinograd(WinogradPolicy::kAuto, Conv3x3(16, 64, 13), 1));
  // The same layer can be worth it at one thread and not at four.
  EXPECT_TRUE(PreferWinograd(WinogradPolicy::kAuto, Conv3x3(256, 256, 14), 1));
  EXPECT_FALSE(PreferWinograd(WinogradPolicy::kAuto, Conv3x3(256, 256, 14), 4));
  // Shapes the kernels do not take are never chosen, whatever the policy.
  cpu::ConvShape grouped = Conv3x3(256, 256, 56);
  grouped.groups = 2;
  cpu::ConvShape dilated = Conv3x3(256, 256, 56);
  dilated.dilation_h = 2;
  cpu::ConvShape five = Conv3x3(256, 256, 56);
  five.kernel_h = five.kernel_w = 5;
  for (const cpu::ConvShape& c : {Conv3x3(256, 256, 56, 2), grouped, dilated, five}) {
    EXPECT_FALSE(cpu::WinogradEligible(c));
    EXPECT_FALSE(PreferWinograd(WinogradPolicy::kOn, c, 1));
  }
  EXPECT_TRUE(PreferWinograd(WinogradPolicy::kOn, Conv3x3(16, 64, 55), 2));
  EXPECT_FALSE(PreferWinograd(WinogradPolicy::kOff, Conv3x3(64, 64, 56), 1));
}

// A layer the default policy runs with Winograd (where the CPU has the kernels) must agree
// with the reference convolution within the usual tolerance.
TEST(BackendTest, WinogradSizedConvAgreesWithReference) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kAdd, OpKind::kRelu);
  Builder b;
  ValueId x = b.Input("x", {1, 64, 28, 28});
  ValueId y = b.Unary(OpKind::kRelu, "relu1", b.Conv("c1", x, 128, 3, 1));
  ValueId z = b.Conv("c2", y, 128, 3, 1);
  b.g.AddOutput(b.Unary(OpKind::kRelu, "relu2", z));
  ASSERT_TRUE(cpu::PreferWinograd(cpu::WinogradPolicy::kAuto, Conv3x3(128, 128, 28), 1));
  CompileOptions one;
  one.threads = 1;
  auto exe = FindBackend("cpu")->Compile(b.g, one);
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  const std::vector<Tensor> inputs = {Random({1, 64, 28, 28}, 7)};
  std::vector<Tensor> got;
  ASSERT_TRUE((*exe)->Run(inputs, &got).ok());
  RunResult ref = edgeinfer::Run("reference", b.g, inputs);
  ASSERT_EQ(ref.outputs.size(), 1u);
  EXPECT_LE(RelativeL2(got[0], ref.outputs[0]), kTolerance);
}

// A float tensor whose storage sets *freed when its last owner lets go.
Tensor Tracked(Tensor values, std::shared_ptr<bool> freed) {
  auto* bytes = new std::vector<uint8_t>(values.nbytes());
  std::memcpy(bytes->data(), values.raw_data(), values.nbytes());
  std::shared_ptr<void> owner(bytes, [freed](void* p) {
    *freed = true;
    delete static_cast<std::vector<uint8_t>*>(p);
  });
  return Tensor::Wrap(bytes->data(), DType::kFloat32, values.shape(), std::move(owner));
}

TEST(BackendTest, PlainWeightsAreFreedOnceTheirPackedCopyExists) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kAdd, OpKind::kRelu);
  // conv (weights reordered into oneDNN's blocked layout) + an Add of a constant that the
  // binary primitive reads in place.
  Builder b;
  ValueId x = b.Input("x", {1, 8, 10, 10});
  auto weights_freed = std::make_shared<bool>(false);
  auto addend_freed = std::make_shared<bool>(false);
  ValueId w = b.Const("conv.w", Tracked(Random({16, 8, 3, 3}, 3), weights_freed));
  ValueId y = b.g.AddValue("conv.y", DType::kFloat32, {1, 16, 10, 10});
  b.g.AddNode(OpKind::kConv, "conv", {x, w}, {y}, ConvAttrs(3, 1));
  ValueId c = b.Const("addend", Tracked(Random({1, 16, 10, 10}, 4), addend_freed));
  b.g.AddOutput(b.Unary(OpKind::kRelu, "relu", b.Binary(OpKind::kAdd, "add", y, c)));
  const std::vector<Tensor> inputs = {Random({1, 8, 10, 10}, 5)};
  std::vector<Tensor> want;
  {
    Graph copy = b.g;  // shares the weights: the caller's copy must stay intact
    auto exe = FindBackend("cpu")->Compile(copy, CompileOptions{});
    ASSERT_TRUE(exe.ok()) << exe.status().ToString();
    EXPECT_FALSE(*weights_freed);
    EXPECT_TRUE(copy.value(w).is_constant());
    auto ref = FindBackend("reference")->Compile(copy, CompileOptions{});
    ASSERT_TRUE(ref.ok());
    ASSERT_TRUE((*ref)->Run(inputs, &want).ok());
  }
  // Moved in, the executable is the only owner: the plain weights go during compilation.
  auto exe = FindBackend("cpu")->Compile(std::move(b.g), CompileOptions{});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  EXPECT_TRUE(*weights_freed) << "the plain conv weights outlived their packed copy";
  EXPECT_FALSE((*exe)->graph().value(w).is_constant());
  EXPECT_EQ((*exe)->graph().value(w).shape, (Shape{16, 8, 3, 3}));  // the shape stays
  EXPECT_FALSE(*addend_freed) << "a constant a step reads in place was freed";
  EXPECT_TRUE((*exe)->graph().value(c).is_constant());
  for (int run = 0; run < 2; ++run) {
    std::vector<Tensor> got;
    ASSERT_TRUE((*exe)->Run(inputs, &got).ok());
    EXPECT_LE(RelativeL2(got[0], want[0]), kTolerance);
  }
  (*exe).reset();  // the executable goes, and with it the last owner of the addend
  EXPECT_TRUE(*addend_freed);
}

TEST(BackendTest, SequentialRunsReuseOneRunState) {
  REQUIRE_SCHEMAS(OpKind::kConv, OpKind::kBatchNormalization, OpKind::kAdd, OpKind::kRelu);
  Graph g = ResidualBlock(16, 12);
  auto exe = FindBackend("cpu")->Compile(g, CompileOptions{});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  auto* cpu = dynamic_cast<const cpu::CpuExecutable*>(exe->get());
  ASSERT_NE(cpu, nullptr);
  std::vector<Tensor> first;
  ASSERT_TRUE((*exe)->Run({Random({1, 16, 12, 12}, 19)}, &first).ok());
  // Later runs with other inputs must rebind the inputs and outputs of the reused state.
  for (uint32_t seed = 20; seed < 25; ++seed) {
    Tensor in = Random({1, 16, 12, 12}, seed);
    std::vector<Tensor> out;
    ASSERT_TRUE((*exe)->Run({in}, &out).ok());
    RunResult ref = edgeinfer::Run("reference", g, {in});
    ASSERT_EQ(ref.outputs.size(), 1u);
    EXPECT_LE(RelativeL2(out[0], ref.outputs[0]), kTolerance) << "seed " << seed;
    EXPECT_NE(out[0].raw_data(), first[0].raw_data());
  }
  EXPECT_EQ(cpu->num_run_states(), 1u);
}

}  // namespace
}  // namespace edgeinfer

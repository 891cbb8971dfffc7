// Row maps and the band pass (ir/rows.h) and band runs on both backends (backend/band.h):
// stitched bands equal the whole run, refusals name the node.
#include "ir/rows.h"

#include <gtest/gtest.h>

#include <random>

#include "backend/band.h"
#include "backend/registry.h"
#include "band_util.h"
#include "ops/passes.h"

namespace edgeinfer {
namespace {

using testing::BitEqual;
using testing::RandomBandGraph;
using testing::RandomSplit;
using testing::RelativeL2;
using testing::RowsOf;
using testing::StitchRows;

Tensor RunWhole(const Graph& g, const std::string& backend, const Tensor& x) {
  const Backend* be = FindBackend(backend);
  EXPECT_NE(be, nullptr);
  Result<std::unique_ptr<Executable>> exe = be->Compile(g, CompileOptions{});
  EXPECT_TRUE(exe.ok()) << exe.status().ToString();
  std::vector<Tensor> outs;
  Status st = (*exe)->Run({x}, &outs);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return outs.empty() ? Tensor() : outs[0];
}

Tensor RandomInput(const Graph& g, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const Shape& shape = g.value(g.inputs()[0]).shape;
  std::vector<float> data(static_cast<size_t>(NumElements(shape)));
  for (float& v : data) v = dist(rng);
  return Tensor::FromVector<float>(data, shape);
}

// Cuts the output of `g` into `parts`, gives each band the input rows its row map asks for
// (plus up to `extra` rows of halo on each side) and stitches the outputs.
Tensor RunInBands(const BandRunner& runner, const Tensor& x, const std::vector<RowRange>& parts,
                  std::mt19937_64* rng, int extra, const std::string& context) {
  const Graph& g = runner.graph();
  const int64_t in_h = x.shape()[2];
  const int64_t out_h = g.value(g.outputs()[0]).shape[2];
  std::vector<std::pair<int64_t, Tensor>> bands;
  for (const RowRange& part : parts) {
    Result<RowMap> map = MapRows(g, {{"y", part}});
    EXPECT_TRUE(map.ok()) << map.status().ToString() << context;
    if (!map.ok()) return Tensor();
    const RowNeed& need = map->values[static_cast<size_t>(g.inputs()[0])];
    EXPECT_TRUE(need.needed);
    RowRange held = need.rows;
    held.begin =
        std::max<int64_t>(0, held.begin - std::uniform_int_distribution<int>(0, extra)(*rng));
    held.end = std::min(in_h, held.end + std::uniform_int_distribution<int>(0, extra)(*rng));
    Result<BandResult> run = runner.Run({{"x", RowsOf(x, held), held.begin}}, {{"y", part}});
    EXPECT_TRUE(run.ok()) << run.status().ToString() << " band " << part.ToString() << context;
    if (!run.ok()) return Tensor();
    EXPECT_EQ(run->outputs[0].offset, part.begin);
    EXPECT_EQ(run->outputs[0].tensor.shape()[2], part.size());
    bands.push_back({run->outputs[0].offset, run->outputs[0].tensor});
  }
  return StitchRows(bands, out_h);
}

TEST(RowsTest, RandomGraphsStitchBitExactOnReferenceAndWithin1e5OnCpu) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::string summary;
    Graph g = RandomBandGraph(seed, &summary);
    const std::string context = "\nseed " + std::to_string(seed) + ": " + summary;
    const Tensor x = RandomInput(g, seed);
    const int64_t out_h = g.value(g.outputs()[0]).shape[2];
    std::mt19937_64 rng(seed * 7919);
    const int n = static_cast<int>(std::uniform_int_distribution<int>(2, 7)(rng));
    const std::vector<RowRange> parts = RandomSplit(out_h, n, &rng);
    for (const std::string backend : {"reference", "cpu"}) {
      const Tensor whole = RunWhole(g, backend, x);
      BandRunner runner(g, FindBackend(backend), CompileOptions{});
      const Tensor stitched = RunInBands(runner, x, parts, &rng, 2, context);
      if (backend == std::string("reference")) {
        EXPECT_TRUE(BitEqual(stitched, whole))
            << "rel L2 " << RelativeL2(stitched, whole) << context;
      } else {
        EXPECT_LE(RelativeL2(stitched, whole), 1e-5) << context;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 40);
}

// x -> Conv(3x3, s1, pad 1) -> MaxPool(2, s2) -> Conv(3x3, s2, pad 1) -> y: total stride 4.
Graph StridedChain(int64_t height) {
  Graph g;
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {1, 2, height, 6});
  auto inter = [&](const std::string& name) {
    ValueId v = g.AddValue(name, DType::kUndefined, {});
    g.mutable_value(v).rank_known = false;
    return v;
  };
  std::vector<float> w(2 * 2 * 9, 0.25f);
  Attributes conv;
  conv.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  ValueId a = inter("a"), p = inter("p"), y = inter("y");
  g.AddNode(OpKind::kConv, "c1",
            {x, g.AddConstant("w1", Tensor::FromVector<float>(w, {2, 2, 3, 3}))}, {a}, conv);
  Attributes pool;
  pool.Set("kernel_shape", std::vector<int64_t>{2, 2});
  pool.Set("strides", std::vector<int64_t>{2, 2});
  g.AddNode(OpKind::kMaxPool, "p1", {a}, {p}, pool);
  conv.Set("strides", std::vector<int64_t>{2, 2});
  g.AddNode(OpKind::kConv, "c2",
            {p, g.AddConstant("w2", Tensor::FromVector<float>(w, {2, 2, 3, 3}))}, {y}, conv);
  g.AddOutput(y);
  EXPECT_TRUE(Specialize(&g, {{"x", {1, 2, height, 6}}}).ok());
  return g;
}

TEST(RowsTest, RowMapComposesStridesAndPads) {
  Graph g = StridedChain(64);  // a: 64, p: 32, y: 16
  Result<RowMap> map = MapRows(g, {{"y", {4, 8}}});
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  // y rows [4,8) need p rows [4*2-1, 7*2-1+3) = [7, 16); a rows [14, 32); x rows [13, 33).
  EXPECT_EQ(map->values[static_cast<size_t>(g.FindValue("p"))].rows, (RowRange{7, 16}));
  EXPECT_EQ(map->values[static_cast<size_t>(g.FindValue("a"))].rows, (RowRange{14, 32}));
  EXPECT_EQ(map->values[static_cast<size_t>(g.FindValue("x"))].rows, (RowRange{13, 33}));
  // At the top border the padding row is not a tensor row: clamped to 0.
  Result<RowMap> top = MapRows(g, {{"y", {0, 2}}});
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->values[static_cast<size_t>(g.FindValue("x"))].rows, (RowRange{0, 9}));
  Result<int64_t> stride = TotalRowStride(g, "x", "y");
  ASSERT_TRUE(stride.ok());
  EXPECT_EQ(*stride, 4);
}

TEST(RowsTest, QuantisedSplitsReuseCompiledBands) {
  Graph g = StridedChain(128);  // y: 32 rows, stride 4 from x
  BandRunner runner(g, FindBackend("reference"), CompileOptions{});
  const Tensor x = RandomInput(g, 3);
  auto run = [&](RowRange part) {
    Result<RowMap> map = MapRows(g, {{"y", part}});
    EXPECT_TRUE(map.ok());
    const RowRange held = map->values[static_cast<size_t>(g.FindValue("x"))].rows;
    Result<BandResult> r = runner.Run({{"x", RowsOf(x, held), held.begin}}, {{"y", part}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->compiled;
  };
  // Interior bands of 8 output rows: the first compiles, a shifted one of the same height does
  // not (their input offsets differ by multiples of the total stride).
  EXPECT_TRUE(run({8, 16}));
  EXPECT_FALSE(run({12, 20}));
  EXPECT_FALSE(run({16, 24}));
  EXPECT_EQ(runner.cached(), 1u);
  // A border band has other pads: its own compilation.
  EXPECT_TRUE(run({0, 8}));
  EXPECT_TRUE(run({24, 32}));
  EXPECT_EQ(runner.cached(), 3u);
}

// ceil_mode rounds the width too: a band above the bottom border keeps it (GoogLeNet's
// 3x3/2 ceil-mode pools on 112 columns give 56 columns, not 55).
TEST(RowsTest, CeilModePoolKeepsItsWidthInEveryBand) {
  for (const OpKind op : {OpKind::kMaxPool, OpKind::kAveragePool}) {
    Graph g;
    g.opset = 13;
    ValueId x = g.AddInput("x", DType::kFloat32, {1, 2, 13, 12});
    ValueId y = g.AddValue("y", DType::kUndefined, {});
    g.mutable_value(y).rank_known = false;
    Attributes pool;
    pool.Set("kernel_shape", std::vector<int64_t>{3, 3});
    pool.Set("strides", std::vector<int64_t>{2, 2});
    pool.Set("ceil_mode", int64_t{1});
    g.AddNode(op, "pool", {x}, {y}, pool);
    g.AddOutput(y);
    ASSERT_TRUE(Specialize(&g, {{"x", {1, 2, 13, 12}}}).ok());
    ASSERT_EQ(g.value(g.FindValue("y")).shape, (Shape{1, 2, 6, 6}));
    const Tensor x_data = RandomInput(g, 5);
    BandRunner runner(g, FindBackend("reference"), CompileOptions{});
    std::mt19937_64 rng(5);
    const Tensor stitched = RunInBands(runner, x_data, {{0, 2}, {2, 3}, {3, 6}}, &rng, 0,
                                       std::string("\n") + OpName(op));
    EXPECT_TRUE(BitEqual(stitched, RunWhole(g, "reference", x_data))) << OpName(op);
  }
}

TEST(RowsTest, SplitRowsQuantisesBoundaries) {
  Result<std::vector<RowRange>> parts = SplitRows(56, {1.0, 1.0, 2.0}, 4);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0], (RowRange{0, 16}));  // 14 rounded to a multiple of 4
  EXPECT_EQ((*parts)[1], (RowRange{16, 28}));
  EXPECT_EQ((*parts)[2], (RowRange{28, 56}));
  EXPECT_FALSE(SplitRows(0, {1.0}, 1).ok());
  EXPECT_FALSE(SplitRows(10, {0.0, 0.0}, 1).ok());
  EXPECT_FALSE(SplitRows(10, {1.0}, 0).ok());
}

TEST(RowsTest, BadGeometryIsRefusedNamingTheTensor) {
  Graph g = StridedChain(64);
  // Rows that do not fit the input.
  Result<BandGraph> outside = MakeBandGraph(g, {{"x", 60, 8}}, {{"y", {0, 2}}});
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("'x'"), std::string::npos);
  EXPECT_NE(outside.status().message().find("do not fit its height 64"), std::string::npos);
  // A halo too small for the requested rows: [4,8) of y need x rows [13, 33).
  Result<BandGraph> halo = MakeBandGraph(g, {{"x", 14, 19}}, {{"y", {4, 8}}});
  ASSERT_FALSE(halo.ok());
  EXPECT_NE(halo.status().message().find("input 'x' holds rows [14, 33)"), std::string::npos)
      << halo.status().message();
  EXPECT_NE(halo.status().message().find("need rows [13, 33)"), std::string::npos);
  // Wanted rows outside the output.
  Result<BandGraph> wanted = MakeBandGraph(g, {{"x", 0, 64}}, {{"y", {10, 17}}});
  ASSERT_FALSE(wanted.ok());
  EXPECT_NE(wanted.status().message().find("rows [10, 17) of output 'y'"), std::string::npos);
  EXPECT_EQ(wanted.status().code(), StatusCode::kInvalidArgument);
}

// x -> Conv(3x3 pad 1) -> <op under test> -> y, for the ops a band cannot pass.
Graph ConvThen(OpKind op, Attributes attrs, std::vector<ValueId> (*extra)(Graph*),
               const std::string& name) {
  Graph g;
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {1, 2, 16, 8});
  ValueId a = g.AddValue("a", DType::kUndefined, {});
  g.mutable_value(a).rank_known = false;
  Attributes conv;
  conv.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  std::vector<float> w(2 * 2 * 9, 0.5f);
  g.AddNode(OpKind::kConv, "conv",
            {x, g.AddConstant("w", Tensor::FromVector<float>(w, {2, 2, 3, 3}))}, {a}, conv);
  std::vector<ValueId> inputs = {a};
  for (ValueId v : extra(&g)) inputs.push_back(v);
  if (op == OpKind::kConcat) inputs.push_back(a);
  ValueId y = g.AddValue("y", DType::kUndefined, {});
  g.mutable_value(y).rank_known = false;
  g.AddNode(op, name, inputs, {y}, attrs);
  g.AddOutput(y);
  Status st = Specialize(&g, {{"x", {1, 2, 16, 8}}});
  EXPECT_TRUE(st.ok()) << st.ToString();
  return g;
}

std::vector<ValueId> NoExtra(Graph*) { return {}; }

TEST(RowsTest, EachUnsupportedOpIsRefusedNamingTheNode) {
  struct Case {
    OpKind op;
    Attributes attrs;
    std::vector<ValueId> (*extra)(Graph*);
    std::string expect;
  };
  std::vector<Case> cases;
  {
    Attributes a;
    a.Set("mode", std::string("nearest"));
    cases.push_back({OpKind::kResize, a,
                     [](Graph* g) -> std::vector<ValueId> {
                       return {kNoValue, g->AddConstant("scales", Tensor::FromVector<float>(
                                                                      {1, 1, 2, 2}, {4}))};
                     },
                     "Resize rescales rows"});
  }
  cases.push_back({OpKind::kConvTranspose,
                   {},
                   [](Graph* g) -> std::vector<ValueId> {
                     std::vector<float> w(2 * 2 * 4, 0.5f);
                     return {g->AddConstant("wt", Tensor::FromVector<float>(w, {2, 2, 2, 2}))};
                   },
                   "ConvTranspose spreads"});
  cases.push_back({OpKind::kPad,
                   {},
                   [](Graph* g) -> std::vector<ValueId> {
                     return {g->AddConstant(
                         "pads", Tensor::FromVector<int64_t>({0, 0, 1, 0, 0, 0, 1, 0}, {8}))};
                   },
                   "a Pad node is not handled"});
  {
    Attributes a;
    a.Set("axis", int64_t{2});
    cases.push_back({OpKind::kConcat, a, NoExtra, "Concat on the height axis"});
  }
  cases.push_back({OpKind::kGlobalAveragePool, {}, NoExtra, "GlobalAveragePool mixes rows"});
  {
    Attributes a;
    a.Set("axis", int64_t{1});
    cases.push_back({OpKind::kFlatten, a, NoExtra, "Flatten mixes rows"});
  }
  for (Case& c : cases) {
    Graph g = ConvThen(c.op, c.attrs, c.extra, "under_test");
    Result<BandGraph> band = MakeBandGraph(g, {{"x", 0, 9}}, {});
    ASSERT_FALSE(band.ok()) << OpName(c.op);
    EXPECT_EQ(band.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(band.status().message().find("node 'under_test'"), std::string::npos)
        << band.status().message();
    EXPECT_NE(band.status().message().find(c.expect), std::string::npos) << band.status().message();
    // The planner learns where the spatial front ends instead of crashing.
    Result<SpatialFront> front = FindSpatialFront(g);
    ASSERT_TRUE(front.ok()) << front.status().ToString();
    EXPECT_EQ(front->stop_node, "under_test");
    EXPECT_EQ(front->values, std::vector<std::string>{"a"});
  }
}

TEST(RowsTest, MaxPoolIndicesOutputIsRefused) {
  Graph g;
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {1, 1, 8, 8});
  ValueId y = g.AddValue("y", DType::kUndefined, {});
  ValueId idx = g.AddValue("idx", DType::kUndefined, {});
  g.mutable_value(y).rank_known = g.mutable_value(idx).rank_known = false;
  Attributes pool;
  pool.Set("kernel_shape", std::vector<int64_t>{2, 2});
  g.AddNode(OpKind::kMaxPool, "mp", {x}, {y, idx}, pool);
  g.AddOutput(y);
  g.AddOutput(idx);
  // The engine does not run the Indices output either; the row rule refuses it on its own
  // (shapes set by hand, as shape inference would).
  g.mutable_value(y) = Value{"y", DType::kFloat32, {1, 1, 7, 7}};
  g.mutable_value(idx) = Value{"idx", DType::kInt64, {1, 1, 7, 7}};
  g.RebuildUses();
  Result<BandGraph> band = MakeBandGraph(g, {{"x", 0, 4}}, {{"y", {0, 3}}});
  ASSERT_FALSE(band.ok());
  EXPECT_NE(band.status().message().find("MaxPool node 'mp'"), std::string::npos);
  EXPECT_NE(band.status().message().find("Indices"), std::string::npos);
}

}  // namespace
}  // namespace edgeinfer

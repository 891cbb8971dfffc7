// Planner tests: cost tables of synthetic chains and DAGs with hand-made profiles whose optimum
// is worked out by hand in each test, the policies, the estimators and the unit parsers.
//
// Units used throughout: 8 Mbit/s moves 1000 bytes per millisecond, so upload times below are
// bytes / 1000 ms at 8 Mbit/s. Predictions are sums of a few exact decimal terms, compared with
// a tolerance of 1e-9 ms (double rounding only).
#include "planner/planner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/units.h"
#include "ir/graph.h"
#include "planner/cost_table.h"
#include "planner/estimators.h"
#include "runtime/split_plan.h"

namespace edgeinfer::planner {
namespace {

constexpr double kTol = 1e-9;

// "stem" followed by i. (Not `"v" + std::to_string(i)`, on which GCC 12 warns spuriously.)
std::string Id(const char* stem, int i) {
  std::string s = stem;
  s += std::to_string(i);
  return s;
}

// A float32 value of `bytes` bytes (a multiple of 4), shaped [1, bytes / 4].
Shape Bytes(int64_t bytes) { return {1, bytes / 4}; }

// A chain x -> n0 -> v1 -> n1 -> ... -> y of Relu nodes; value_bytes[0] is the input, the last
// entry the output.
Graph Chain(const std::vector<int64_t>& value_bytes) {
  Graph g;
  g.name = "chain";
  ValueId prev = g.AddInput("x", DType::kFloat32, Bytes(value_bytes[0]));
  for (size_t i = 1; i < value_bytes.size(); ++i) {
    const bool last = i + 1 == value_bytes.size();
    ValueId out = g.AddValue(last ? "y" : Id("v", i), DType::kFloat32, Bytes(value_bytes[i]));
    g.AddNode(OpKind::kRelu, Id("n", i - 1), {prev}, {out});
    prev = out;
  }
  g.AddOutput(prev);
  return g;
}

std::vector<NodeProfile> Profile(const std::vector<double>& node_ms) {
  std::vector<NodeProfile> p;
  for (size_t i = 0; i < node_ms.size(); ++i) {
    NodeProfile step;
    step.name = Id("n", i);
    step.median_ms = node_ms[i];
    p.push_back(step);
  }
  return p;
}

Conditions Link(double mbit, double rtt_ms = 0.0) {
  Conditions c;
  c.bandwidth_mbit = mbit;
  c.rtt_ms = rtt_ms;
  return c;
}

// x (100 kB) -> n0 -> v1 (10 kB, the bottleneck) -> n1 -> v2 (200 kB) -> n2 -> y (400 B).
// Device 10 ms per node, server 1 ms per node.
CostTable ThreeNodeChain() {
  auto table = BuildCostTable(Chain({100000, 10000, 200000, 400}), Profile({10, 10, 10}),
                              Profile({1, 1, 1}));
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  return *table;
}

TEST(CostTableTest, ChainPrefixSumsBytesAndTensors) {
  CostTable t = ThreeNodeChain();
  ASSERT_EQ(t.node_count, 3);
  ASSERT_EQ(t.cuts.size(), 4u);
  EXPECT_EQ(t.cuts[0].tensors, std::vector<std::string>{"x"});
  EXPECT_EQ(t.cuts[1].tensors, std::vector<std::string>{"v1"});
  EXPECT_EQ(t.cuts[2].tensors, std::vector<std::string>{"v2"});
  EXPECT_TRUE(t.cuts[3].tensors.empty());
  EXPECT_EQ(t.cuts[1].upload_bytes, 10000);
  EXPECT_EQ(t.cuts[0].download_bytes, 400);
  EXPECT_EQ(t.cuts[2].download_bytes, 400);
  EXPECT_EQ(t.cuts[3].download_bytes, 0);
  EXPECT_NEAR(t.cuts[2].device_ms, 20.0, kTol);
  EXPECT_NEAR(t.cuts[1].server_ms, 2.0, kTol);
  EXPECT_NEAR(t.cuts[3].server_ms, 0.0, kTol);
  EXPECT_TRUE(t.cuts[3].all_local);
  EXPECT_FALSE(t.cuts[2].all_local);
}

TEST(CostTableTest, DynamicShapeIsAnError) {
  Graph g = Chain({400, 400});
  g.mutable_value(g.FindValue("y")).shape = {1, -1};
  auto table = BuildCostTable(g, {}, {});
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.status().message().find("'y'"), std::string::npos);
}

TEST(PlannerTest, ChainOptimaByBandwidth) {
  CostTable t = ThreeNodeChain();
  // 8 Mbit/s: p0 = 100 + 3 + 0.4 = 103.4, p1 = 10 + 10 + 2 + 0.4 = 22.4,
  // p2 = 20 + 200 + 1 + 0.4 = 221.4, local = 30: split at the bottleneck.
  Prediction p = Decide(t, Link(8), Policy::kLoadAware);
  EXPECT_EQ(p.device_nodes, 1);
  EXPECT_NEAR(p.total_ms, 22.4, kTol);
  EXPECT_NEAR(p.upload_ms, 10.0, kTol);
  EXPECT_NEAR(p.download_ms, 0.4, kTol);
  // 0.8 Mbit/s: p1 = 10 + 100 + 2 + 4 = 116 > 30: local.
  EXPECT_EQ(Decide(t, Link(0.8), Policy::kLoadAware).device_nodes, 3);
  // 8 Gbit/s: p0 = 0.1 + 3 + 0.0004 = 3.1004: remote.
  p = Decide(t, Link(8000), Policy::kLoadAware);
  EXPECT_EQ(p.device_nodes, 0);
  EXPECT_NEAR(p.total_ms, 3.1004, kTol);
}

TEST(PlannerTest, RttAndQueueAddToEveryRemoteCut) {
  CostTable t = ThreeNodeChain();
  Conditions c = Link(8, 5.0);
  c.queue_ms = 2.0;
  std::vector<Prediction> all = PredictAll(t, c);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_NEAR(all[1].total_ms, 22.4 + 5.0 + 2.0, kTol);
  EXPECT_NEAR(all[1].rtt_ms, 5.0, kTol);
  EXPECT_NEAR(all[1].server_ms, 4.0, kTol);
  EXPECT_NEAR(all[3].total_ms, 30.0, kTol);  // local pays neither
  EXPECT_NEAR(all[3].rtt_ms, 0.0, kTol);
}

TEST(PlannerTest, DeviceSpeedScalesThePrefix) {
  CostTable t = ThreeNodeChain();
  Conditions c = Link(8);
  c.device_speed = 4.0;  // local = 120; p1 = 40 + 10 + 2 + 0.4 = 52.4; p0 = 103.4
  Prediction p = Decide(t, c, Policy::kLoadAware);
  EXPECT_EQ(p.device_nodes, 1);
  EXPECT_NEAR(p.device_ms, 40.0, kTol);
  EXPECT_NEAR(PredictCut(t.cuts[3], c).total_ms, 120.0, kTol);
}

// x 100 kB -> v1 10 kB -> v2 5 kB -> v3 200 kB -> y 400 B; device 10 ms per node, server
// 1, 4, 1, 1 ms. At 8 Mbit/s: p0 = 100.4 + 7k, p1 = 20.4 + 6k, p2 = 25.4 + 2k,
// p3 = 230.4 + k, local = 40.
CostTable FourNodeChain() {
  auto table = BuildCostTable(Chain({100000, 10000, 5000, 200000, 400}), Profile({10, 10, 10, 10}),
                              Profile({1, 4, 1, 1}));
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  return *table;
}

TEST(PlannerTest, LoadedServerMovesTheCutLater) {
  CostTable t = FourNodeChain();
  Conditions idle = Link(8);
  // k = 1: p1 = 26.4 < p2 = 27.4 < local 40.
  EXPECT_EQ(Decide(t, idle, Policy::kLoadAware).device_nodes, 1);
  EXPECT_EQ(Decide(t, idle, Policy::kNeurosurgeon).device_nodes, 1);
  Conditions loaded = idle;
  loaded.load_factor = 4.0;  // p1 = 44.4, p2 = 33.4, local = 40
  Prediction aware = Decide(t, loaded, Policy::kLoadAware);
  Prediction neuro = Decide(t, loaded, Policy::kNeurosurgeon);
  EXPECT_EQ(aware.device_nodes, 2);
  EXPECT_NEAR(aware.total_ms, 33.4, kTol);
  EXPECT_EQ(neuro.device_nodes, 1);
  // Neurosurgeon reports its choice's cost under the real load.
  EXPECT_NEAR(neuro.total_ms, 44.4, kTol);
  EXPECT_NEAR(neuro.server_ms, 24.0, kTol);
  // k = 8: p2 = 41.4 > local 40.
  loaded.load_factor = 8.0;
  EXPECT_EQ(Decide(t, loaded, Policy::kLoadAware).device_nodes, 4);
}

TEST(PlannerTest, NeurosurgeonIgnoresLoadAndQueue) {
  CostTable t = FourNodeChain();
  Conditions c = Link(8);
  c.load_factor = 10.0;
  c.queue_ms = 50.0;
  EXPECT_EQ(Decide(t, c, Policy::kNeurosurgeon).device_nodes, 1);
  // Queue time alone (k = 1) pushes the load-aware planner to local: 26.4 + 50 > 40.
  c.load_factor = 1.0;
  EXPECT_EQ(Decide(t, c, Policy::kLoadAware).device_nodes, 4);
  EXPECT_EQ(Decide(t, c, Policy::kNeurosurgeon).device_nodes, 1);
}

TEST(PlannerTest, LoadEnvelopeListsTheCutsThatWinForSomeLoad) {
  // Crossings: p1/p2 at k = 1.25, p2/local at k = 7.3; p0 and p3 never win.
  CostTable t = FourNodeChain();
  EXPECT_EQ(LoadEnvelope(t, Link(8)), (std::vector<int>{1, 2, 4}));
  // Unknown bandwidth: only local is finite.
  EXPECT_EQ(LoadEnvelope(t, Link(0)), (std::vector<int>{4}));
}

TEST(PlannerTest, FixedLocalRemotePolicies) {
  CostTable t = FourNodeChain();
  Conditions c = Link(8);
  EXPECT_EQ(Decide(t, c, Policy::kLocal).device_nodes, 4);
  EXPECT_NEAR(Decide(t, c, Policy::kLocal).total_ms, 40.0, kTol);
  EXPECT_EQ(Decide(t, c, Policy::kRemote).device_nodes, 0);
  EXPECT_NEAR(Decide(t, c, Policy::kRemote).total_ms, 107.4, kTol);
  EXPECT_EQ(Decide(t, c, Policy::kFixed, 3).device_nodes, 3);
  EXPECT_EQ(Decide(t, c, Policy::kFixed, 99).device_nodes, 4);
  EXPECT_EQ(Decide(t, c, Policy::kFixed, -2).device_nodes, 0);
}

TEST(PlannerTest, UnknownBandwidthStaysLocal) {
  CostTable t = ThreeNodeChain();
  Conditions c = Link(0);
  EXPECT_TRUE(std::isinf(PredictCut(t.cuts[0], c).total_ms));
  EXPECT_TRUE(std::isinf(PredictCut(t.cuts[1], c).total_ms));
  EXPECT_EQ(Decide(t, c, Policy::kLoadAware).device_nodes, 3);
  EXPECT_EQ(Decide(t, c, Policy::kNeurosurgeon).device_nodes, 3);
  c.bandwidth_mbit = -1;
  EXPECT_EQ(Decide(t, c, Policy::kLoadAware).device_nodes, 3);
}

TEST(PlannerTest, CompressionChangesTheChoice) {
  CostTable t = ThreeNodeChain();
  // 1.6 Mbit/s = 200 B/ms. Raw: p1 = 10 + 50 + 2 + 2 = 64 > local 30.
  Conditions c = Link(1.6);
  EXPECT_EQ(Decide(t, c, Policy::kLoadAware).device_nodes, 3);
  // lz4 at ratio 0.25 and 1000 MB/s (1e6 B/ms): p1 = 10 + (0.01 + 12.5) + 2 + 2 = 26.51.
  CompressionModel lz4;
  lz4.codec = "lz4";
  lz4.compress_mb_per_s = 1000;
  lz4.default_ratio = 0.25;
  c.compression = &lz4;
  Prediction p = Decide(t, c, Policy::kLoadAware);
  EXPECT_EQ(p.device_nodes, 1);
  EXPECT_TRUE(p.compress);
  EXPECT_NEAR(p.upload_ms, 12.51, kTol);
  EXPECT_NEAR(p.total_ms, 26.51, kTol);
  // Decompression time counts when given: + 10000 B / 1e6 B/ms.
  lz4.decompress_mb_per_s = 1000;
  EXPECT_NEAR(Decide(t, c, Policy::kLoadAware).upload_ms, 12.52, kTol);
  lz4.decompress_mb_per_s = 0;
  // A learnt per-tensor ratio overrides the default: v1 does not compress at all, so raw
  // (50 ms) beats 0.01 + 50 ms and the choice is local again.
  lz4.ratio["v1"] = 1.0;
  EXPECT_EQ(Decide(t, c, Policy::kLoadAware).device_nodes, 3);
  Prediction raw = PredictCut(t.cuts[1], c);
  EXPECT_FALSE(raw.compress);
  EXPECT_NEAR(raw.upload_ms, 50.0, kTol);
  // A compressor too slow to pay: at 0.1 MB/s compressing 10 kB takes 100 ms, more than the
  // 37.5 ms it saves.
  lz4.ratio.clear();
  lz4.compress_mb_per_s = 0.1;
  EXPECT_FALSE(PredictCut(t.cuts[1], c).compress);
  // No codec or no speed: never compressed.
  lz4.compress_mb_per_s = 1000;
  lz4.codec = "";
  EXPECT_FALSE(PredictCut(t.cuts[1], c).compress);
}

// x -> n0 -> a; a -> n1 -> b; a -> n2 -> c; (b, c) -> n3 (Add) -> y.
// x 100 kB, a 100 kB, b 1 kB, c 3 kB, y 400 B.
Graph Branch() {
  Graph g;
  g.name = "branch";
  ValueId x = g.AddInput("x", DType::kFloat32, Bytes(100000));
  ValueId a = g.AddValue("a", DType::kFloat32, Bytes(100000));
  ValueId b = g.AddValue("b", DType::kFloat32, Bytes(1000));
  ValueId c = g.AddValue("c", DType::kFloat32, Bytes(3000));
  ValueId y = g.AddValue("y", DType::kFloat32, Bytes(400));
  g.AddNode(OpKind::kRelu, "n0", {x}, {a});
  g.AddNode(OpKind::kRelu, "n1", {a}, {b});
  g.AddNode(OpKind::kRelu, "n2", {a}, {c});
  g.AddNode(OpKind::kAdd, "n3", {b, c}, {y});
  g.AddOutput(y);
  return g;
}

TEST(CostTableTest, BranchCrossingSetsMatchSplitPlan) {
  Graph g = Branch();
  auto t = BuildCostTable(g, Profile({10, 10, 10, 10}), Profile({1, 1, 1, 1}));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->cuts[2].tensors, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t->cuts[2].upload_bytes, 101000);
  EXPECT_EQ(t->cuts[3].tensors, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(t->cuts[3].tensor_bytes, (std::vector<int64_t>{1000, 3000}));
  for (int p = 0; p <= 4; ++p) {
    auto expected = CrossingTensors(g, p);
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ(t->cuts[static_cast<size_t>(p)].tensors, *expected) << "cut after " << p << " nodes";
  }
  // 8 Mbit/s: p0 = 104.4, p1 = 113.4, p2 = 20 + 101 + 2 + 0.4 = 123.4,
  // p3 = 30 + 4 + 1 + 0.4 = 35.4, local 40: the two-tensor cut inside the join wins.
  Prediction best = Decide(*t, Link(8), Policy::kLoadAware);
  EXPECT_EQ(best.device_nodes, 3);
  EXPECT_NEAR(best.total_ms, 35.4, kTol);
}

TEST(CostTableTest, SkipFromModelInputCrosses) {
  Graph g;
  ValueId x = g.AddInput("x", DType::kFloat32, Bytes(800));
  ValueId a = g.AddValue("a", DType::kFloat32, Bytes(800));
  ValueId y = g.AddValue("y", DType::kFloat32, Bytes(800));
  g.AddNode(OpKind::kRelu, "n0", {x}, {a});
  g.AddNode(OpKind::kAdd, "n1", {x, a}, {y});
  g.AddOutput(y);
  auto t = BuildCostTable(g, {}, {});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->cuts[1].tensors, (std::vector<std::string>{"x", "a"}));
  EXPECT_EQ(t->cuts[1].upload_bytes, 1600);
}

TEST(CostTableTest, FusedStepSpreadByFlops) {
  // Relu costs one FLOP per output element: b has 250 elements, c 750, so the fused step
  // "n1+n2" of 20 ms gives n1 5 ms and n2 15 ms.
  Graph g = Branch();
  std::vector<NodeProfile> device = Profile({10, 0, 0, 10});
  device.erase(device.begin() + 1, device.begin() + 3);
  NodeProfile fused;
  fused.name = "n1+n2";
  fused.median_ms = 20;
  device.insert(device.begin() + 1, fused);
  NodeProfile stranger;  // names no node: ignored
  stranger.name = "elsewhere";
  stranger.median_ms = 1000;
  device.push_back(stranger);
  auto t = BuildCostTable(g, device, {});
  ASSERT_TRUE(t.ok());
  EXPECT_NEAR(t->cuts[1].device_ms, 10.0, kTol);
  EXPECT_NEAR(t->cuts[2].device_ms, 15.0, kTol);
  EXPECT_NEAR(t->cuts[3].device_ms, 30.0, kTol);
  EXPECT_NEAR(t->cuts[4].device_ms, 40.0, kTol);
  EXPECT_NEAR(t->cuts[0].server_ms, 0.0, kTol);
}

// A random residual DAG: a Relu chain where every third node adds the value two back.
Graph RandomDag(int nodes, std::mt19937_64* rng) {
  std::uniform_int_distribution<int64_t> elems(1, 20000);
  Graph g;
  ValueId prev = g.AddInput("x", DType::kFloat32, {1, elems(*rng)});
  ValueId skip = prev;
  for (int i = 0; i < nodes; ++i) {
    ValueId out = g.AddValue(Id("v", i), DType::kFloat32, {1, elems(*rng)});
    if (i % 3 == 2) {
      g.AddNode(OpKind::kAdd, Id("n", i), {prev, skip}, {out});
      skip = out;
    } else {
      g.AddNode(OpKind::kRelu, Id("n", i), {prev}, {out});
    }
    prev = out;
  }
  g.AddOutput(prev);
  return g;
}

TEST(PlannerTest, DecideMatchesExhaustiveSearchOnRandomDags) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int trial = 0; trial < 20; ++trial) {
    Graph g = RandomDag(40, &rng);
    std::vector<double> device_ms, server_ms;
    for (int i = 0; i < 40; ++i) {
      device_ms.push_back(5.0 * unit(rng));
      server_ms.push_back(0.5 * unit(rng));
    }
    auto t = BuildCostTable(g, Profile(device_ms), Profile(server_ms));
    ASSERT_TRUE(t.ok());
    for (int p = 0; p <= 40; ++p) {
      auto expected = CrossingTensors(g, p);
      ASSERT_TRUE(expected.ok());
      ASSERT_EQ(t->cuts[static_cast<size_t>(p)].tensors, *expected)
          << "cut after " << p << " nodes";
    }
    CompressionModel lz4;
    lz4.codec = "lz4";
    lz4.compress_mb_per_s = 500;
    for (const Value& v : g.values()) lz4.ratio[v.name] = unit(rng);
    for (int i = 0; i < 50; ++i) {
      Conditions c = Link(0.5 + 200.0 * unit(rng), 10.0 * unit(rng));
      c.load_factor = 1.0 + 7.0 * unit(rng);
      c.queue_ms = 5.0 * unit(rng);
      if (i % 2 == 1) c.compression = &lz4;
      std::vector<Prediction> all = PredictAll(*t, c);
      size_t best = 0;
      for (size_t k = 1; k < all.size(); ++k) {
        if (all[k].total_ms < all[best].total_ms) best = k;
      }
      Prediction chosen = Decide(*t, c, Policy::kLoadAware);
      EXPECT_EQ(chosen.device_nodes, static_cast<int>(best)) << "trial " << trial << " draw " << i;
      EXPECT_EQ(chosen.total_ms, all[best].total_ms);
    }
  }
}

TEST(PolicyTest, Parse) {
  int fixed = -1;
  EXPECT_EQ(*ParsePolicy("local", &fixed), Policy::kLocal);
  EXPECT_EQ(*ParsePolicy("remote", &fixed), Policy::kRemote);
  EXPECT_EQ(*ParsePolicy("auto", &fixed), Policy::kLoadAware);
  EXPECT_EQ(*ParsePolicy("loadaware", &fixed), Policy::kLoadAware);
  EXPECT_EQ(*ParsePolicy("auto-noload", &fixed), Policy::kNeurosurgeon);
  EXPECT_EQ(*ParsePolicy("neurosurgeon", &fixed), Policy::kNeurosurgeon);
  EXPECT_EQ(*ParsePolicy("fixed:7", &fixed), Policy::kFixed);
  EXPECT_EQ(fixed, 7);
  EXPECT_EQ(*ParsePolicy("split:5", &fixed), Policy::kFixed);
  EXPECT_EQ(fixed, 5);
  EXPECT_FALSE(ParsePolicy("split:conv1", &fixed).ok());  // a fixed policy counts nodes
  EXPECT_FALSE(ParsePolicy("fixed:", &fixed).ok());
  EXPECT_FALSE(ParsePolicy("fixed:-1", &fixed).ok());
  EXPECT_FALSE(ParsePolicy("fixed:3x", &fixed).ok());
  EXPECT_FALSE(ParsePolicy("fastest", &fixed).ok());
  EXPECT_STREQ(PolicyName(Policy::kNeurosurgeon), "neurosurgeon");
}

TEST(PolicyTest, CutAtNamesTheTrivialCuts) {
  EXPECT_EQ(CutAt(0, 5), Cut::Remote());
  EXPECT_EQ(CutAt(3, 5), Cut::AfterNodes(3));
  EXPECT_EQ(CutAt(5, 5), Cut::Local());
}

TEST(LinkEstimatorTest, ConstantSamplesGiveTheExactRate) {
  LinkEstimator link;
  EXPECT_LE(link.bandwidth_mbit(), 0.0);
  for (int i = 0; i < 5; ++i) link.AddRtt(10.0, i);
  EXPECT_NEAR(link.rtt_ms(), 10.0, kTol);
  // 1 MB in 90 ms of which 10 ms is RTT: 8 Mbit / 0.08 s = 100 Mbit/s.
  for (int i = 0; i < 5; ++i) link.AddTransfer(1000000, 90.0, 10 + i);
  EXPECT_NEAR(link.bandwidth_mbit(), 100.0, 1e-9);
  EXPECT_EQ(link.samples(), 5);
}

TEST(LinkEstimatorTest, RttIsSubtracted) {
  LinkEstimator link;
  link.AddRtt(10.0, 0);
  // 100 kB in 18 ms: 8 ms on the wire = 100 Mbit/s (44.4 if the RTT were not subtracted).
  link.AddTransfer(100000, 18.0, 1);
  EXPECT_NEAR(link.bandwidth_mbit(), 100.0, 1e-9);
}

TEST(LinkEstimatorTest, TooSmallTransfersAreIgnored) {
  LinkEstimator link;
  link.AddRtt(10.0, 0);
  link.AddTransfer(LinkEstimator::kMinTransferBytes - 1, 50.0, 1);  // too few bytes
  link.AddTransfer(1000000, 10.05, 2);                              // < 0.1 ms after RTT
  link.AddTransfer(1000000, 5.0, 3);                                // faster than the RTT
  EXPECT_EQ(link.samples(), 0);
  EXPECT_LE(link.bandwidth_mbit(), 0.0);
}

TEST(LinkEstimatorTest, ConvergesAfterAStepAndRejectsOneOutlier) {
  EstimatorOptions options;
  options.alpha = 0.3;
  LinkEstimator link(options);
  for (int i = 0; i < 5; ++i) link.AddRtt(10.0, i);
  // 20 Mbit/s: 250 kB takes 100 ms on the wire.
  for (int i = 0; i < 5; ++i) link.AddTransfer(250000, 110.0, i);
  EXPECT_NEAR(link.bandwidth_mbit(), 20.0, 1e-9);
  // One transfer 10x too slow (a retransmission stall) does not move the estimate at all: the
  // median of the last three samples is still 20.
  link.AddTransfer(250000, 1010.0, 6);
  EXPECT_NEAR(link.bandwidth_mbit(), 20.0, 1e-9);
  link.AddTransfer(250000, 110.0, 7);
  EXPECT_NEAR(link.bandwidth_mbit(), 20.0, 1e-9);
  // The rate drops to 10 Mbit/s for good: the median follows within one sample, then the EWMA
  // error shrinks by 0.7 per sample, so 15 samples leave at most 10 x 0.7^14 < 0.07 Mbit/s.
  for (int i = 0; i < 15; ++i) link.AddTransfer(250000, 210.0, 8 + i);
  EXPECT_NEAR(link.bandwidth_mbit(), 10.0, 0.07);
  EXPECT_GT(link.bandwidth_mbit(), 10.0);  // approached from above, never overshoots
}

// A change beyond a factor of two, seen in two consecutive samples, is taken at once: the
// link drops from 100 to 5 Mbit/s (a 20x step an EWMA would take many samples to follow).
TEST(LinkEstimatorTest, FollowsALargeStepAfterTwoSamples) {
  LinkEstimator link;
  for (int i = 0; i < 3; ++i) link.AddRtt(10.0, i);
  // 100 Mbit/s: 1.25 MB takes 100 ms on the wire; 5 Mbit/s: 2000 ms.
  for (int i = 0; i < 5; ++i) link.AddTransfer(1250000, 110.0, i);
  EXPECT_NEAR(link.bandwidth_mbit(), 100.0, 1e-9);
  link.AddTransfer(1250000, 2010.0, 10);
  EXPECT_NEAR(link.bandwidth_mbit(), 100.0, 1e-9);  // one slow transfer: maybe an outlier
  link.AddTransfer(1250000, 2010.0, 11);
  EXPECT_NEAR(link.bandwidth_mbit(), 5.0, 1e-9);  // two: a step
  // And back up.
  link.AddTransfer(1250000, 110.0, 12);
  link.AddTransfer(1250000, 110.0, 13);
  EXPECT_NEAR(link.bandwidth_mbit(), 100.0, 1e-9);
}

// The server's queue empties when a burst of load ends: the estimate drops to the new level
// after two replies instead of decaying.
TEST(LoadEstimatorTest, QueueFollowsTheEndOfABurst) {
  LoadEstimator load;
  for (int i = 0; i < 5; ++i) load.AddReply(3.0, 300.0, i);
  EXPECT_NEAR(load.queue_ms(), 300.0, 1e-9);
  load.AddReply(1.0, 0.0, 10);
  load.AddReply(1.0, 0.0, 11);
  EXPECT_NEAR(load.queue_ms(), 0.0, 1e-9);
  EXPECT_NEAR(load.load_factor(), 1.0, 1e-9);
}

TEST(LinkEstimatorTest, Staleness) {
  EstimatorOptions options;
  options.stale_after_ms = 2000;
  LinkEstimator link(options);
  EXPECT_TRUE(link.Stale(0));
  link.AddRtt(10.0, 1000);
  EXPECT_TRUE(link.Stale(1000));  // no bandwidth sample yet
  link.AddTransfer(100000, 18.0, 1000);
  EXPECT_FALSE(link.Stale(1000));
  EXPECT_FALSE(link.Stale(3000));
  EXPECT_TRUE(link.Stale(3001));
  link.AddRtt(10.0, 3500);  // an RTT sample alone does not refresh the bandwidth
  EXPECT_TRUE(link.Stale(3500));
}

TEST(LoadEstimatorTest, DefaultsSmoothingAndStaleness) {
  LoadEstimator load;
  EXPECT_EQ(load.load_factor(), 1.0);
  EXPECT_EQ(load.queue_ms(), 0.0);
  EXPECT_TRUE(load.Stale(0));
  load.AddReply(3.0, 5.0, 0);
  EXPECT_NEAR(load.load_factor(), 3.0, kTol);
  EXPECT_NEAR(load.queue_ms(), 5.0, kTol);
  EXPECT_FALSE(load.Stale(0));
  EXPECT_TRUE(load.Stale(2001));
  // A reply without a load factor updates only q.
  load.AddReply(0.0, 5.0, 10);
  EXPECT_NEAR(load.load_factor(), 3.0, kTol);
  EXPECT_NEAR(load.queue_ms(), 5.0, kTol);
  // Constant samples converge: the median lags at most two samples, then the EWMA error
  // shrinks by 0.7 per sample: after 30 replies at most 5 x 0.7^28 < 1e-3.
  for (int i = 0; i < 30; ++i) load.AddReply(1.0, 0.0, 20 + i);
  EXPECT_NEAR(load.load_factor(), 1.0, 1e-3);
  EXPECT_NEAR(load.queue_ms(), 0.0, 1e-3);
}

// The prober's decisions on a FakeClock: exact milliseconds, whatever the machine does.
TEST(ProbeSchedulerTest, ProbesWhenAnEstimateIsStaleWhileTheSessionIsUsed) {
  FakeClock clock;
  EstimatorOptions options;  // stale after 1000 ms
  ProbeScheduler probes(&clock, options, /*while_used_ms=*/10000);
  LinkEstimator link(options);
  LoadEstimator load(options);
  EXPECT_EQ(probes.period_ms(), 500.0);
  EXPECT_EQ(probes.NowMs(), 0.0);
  EXPECT_TRUE(probes.Due(link, load));  // no sample yet: stale, and a new session counts as used
  // A transfer refreshes the link, a reply the load: nothing is due until one is 1000 ms old.
  link.AddRtt(2.0, probes.NowMs());
  link.AddTransfer(100000, 12.0, probes.NowMs());
  load.AddReply(1.0, 0.0, probes.NowMs());
  EXPECT_FALSE(probes.Due(link, load));
  clock.AdvanceMs(1000);
  EXPECT_FALSE(probes.Due(link, load));
  clock.AdvanceMs(1);
  EXPECT_TRUE(probes.Due(link, load));
  // Only the load refreshed (a reply without a bandwidth sample): the link alone makes it due.
  load.AddReply(1.0, 0.0, probes.NowMs());
  EXPECT_TRUE(probes.Due(link, load));
  link.AddTransfer(100000, 12.0, probes.NowMs());
  EXPECT_FALSE(probes.Due(link, load));
}

TEST(ProbeSchedulerTest, AnIdleSessionIsNotProbedUntilItsNextRequest) {
  FakeClock clock;
  ProbeScheduler probes(&clock, EstimatorOptions(), /*while_used_ms=*/10000);
  LinkEstimator link;
  LoadEstimator load;  // both stale throughout
  clock.AdvanceMs(10000);
  EXPECT_TRUE(probes.Due(link, load));  // the last use (the open) is exactly 10 s old
  clock.AdvanceMs(0.001);
  EXPECT_FALSE(probes.Due(link, load));
  clock.AdvanceMs(3600e3);
  EXPECT_FALSE(probes.Due(link, load));
  probes.NoteRequest();
  EXPECT_TRUE(probes.Due(link, load));
  clock.AdvanceMs(10000);
  EXPECT_TRUE(probes.Due(link, load));
  clock.AdvanceMs(0.001);
  EXPECT_FALSE(probes.Due(link, load));
}

TEST(ProbeSchedulerTest, AFailedProbeIsRetriedAtTheNextWakeUp) {
  // No backoff: a probe that failed left the estimates stale, so every wake-up (period_ms apart)
  // while the session is used probes again.
  FakeClock clock;
  ProbeScheduler probes(&clock);
  LinkEstimator link;
  LoadEstimator load;
  for (int wake = 1; wake <= 19; ++wake) {
    clock.AdvanceMs(probes.period_ms());
    EXPECT_TRUE(probes.Due(link, load)) << "wake-up " << wake;
  }
  clock.AdvanceMs(probes.period_ms());  // 10.0 s: the last one while the open counts as a use
  EXPECT_TRUE(probes.Due(link, load));
  clock.AdvanceMs(probes.period_ms());
  EXPECT_FALSE(probes.Due(link, load));
}

TEST(EstimatorTest, ConcurrentSamplesAndReads) {
  LinkEstimator link;
  LoadEstimator load;
  link.AddRtt(10.0, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        link.AddTransfer(100000, 18.0, i);
        load.AddReply(2.0, 1.0, i);
        EXPECT_GE(link.bandwidth_mbit(), 0.0);
        (void)link.Stale(i);
        (void)load.load_factor();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(link.samples(), 8000);
  EXPECT_NEAR(link.bandwidth_mbit(), 100.0, 1e-9);
  EXPECT_NEAR(load.load_factor(), 2.0, kTol);
}

// Rates and durations are tested with the link emulator (linkem_test), which shares them.
TEST(UnitsTest, Numbers) {
  EXPECT_FALSE(ParseNumber("2x", "--load").ok());
  EXPECT_DOUBLE_EQ(*ParseNumber("2.5", "--load"), 2.5);
}

}  // namespace
}  // namespace edgeinfer::planner

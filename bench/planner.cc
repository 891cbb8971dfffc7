// bench_planner: how long the planner takes to build a cost table and to decide one request.
//
// The target is a decision in <= 1 ms for a 500-node graph. Graphs: a synthetic
// 500-node residual DAG (a chain of Relu nodes with an Add joining a skip every third node, so
// most cuts carry two tensors) and the zoo models. Profiles are synthetic (seeded per-node
// times; the server 8x faster), since the decision time does not depend on their values.
// Each decision draws new conditions (bandwidth 1..1000 Mbit/s, RTT, load 1..8, queue), as a
// runtime does per request; with --compression every cut also prices lz4 with a learnt ratio
// for every tensor. Reported: the median and the 99th percentile over all decisions after
// 100 warm-up ones, and the median of 5 BuildCostTable calls. Single threaded.
//
// usage: bench_planner [--decisions N] [--models a,b,...]
#include "planner/planner.h"

#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "planner/cost_table.h"
#include "zoo/zoo.h"

namespace edgeinfer::bench {
namespace {

using Clock = std::chrono::steady_clock;

// "stem" followed by i. (Not `"v" + std::to_string(i)`, on which GCC 12 warns spuriously.)
std::string Id(const char* stem, int i) {
  std::string s = stem;
  s += std::to_string(i);
  return s;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// `nodes` nodes: Relu chain, every third node an Add of the chain and the value two back.
Graph ResidualDag(int nodes) {
  Graph g;
  g.name = Id("residual", nodes);
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> channels(16, 512);
  ValueId prev = g.AddInput("input", DType::kFloat32, {1, 3, 224, 224});
  ValueId skip = prev;
  for (int i = 0; i < nodes; ++i) {
    const bool join = i % 3 == 2;
    ValueId out = g.AddValue(Id("v", i), DType::kFloat32, {1, channels(rng), 28, 28});
    if (join) {
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

std::vector<NodeProfile> SyntheticProfile(const Graph& g, double scale, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> ms(0.01, 2.0);
  std::vector<NodeProfile> p;
  for (const Node& n : g.nodes()) {
    NodeProfile step;
    step.name = n.name;
    step.median_ms = ms(rng) * scale;
    p.push_back(step);
  }
  return p;
}

void Bench(const std::string& name, const Graph& g, int decisions, bool compression) {
  const std::vector<NodeProfile> device = SyntheticProfile(g, 1.0, 1);
  const std::vector<NodeProfile> server = SyntheticProfile(g, 1.0 / 8, 2);
  std::vector<double> build_ms;
  planner::CostTable table;
  for (int r = 0; r < 5; ++r) {
    const auto start = Clock::now();
    auto t = planner::BuildCostTable(g, device, server);
    build_ms.push_back(Ms(Clock::now() - start));
    if (!t.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), t.status().ToString().c_str());
      return;
    }
    table = std::move(*t);
  }
  size_t max_tensors = 0;
  for (const auto& c : table.cuts) max_tensors = std::max(max_tensors, c.tensors.size());

  planner::CompressionModel lz4;
  lz4.codec = "lz4";
  lz4.compress_mb_per_s = 600;
  lz4.decompress_mb_per_s = 2000;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (const auto& v : g.values()) lz4.ratio[v.name] = 0.2 + 0.8 * unit(rng);

  std::vector<double> decide_us;
  int checksum = 0;
  for (int i = 0; i < decisions + 100; ++i) {
    planner::Conditions c;
    c.bandwidth_mbit = 1.0 + 999.0 * unit(rng);
    c.rtt_ms = 20.0 * unit(rng);
    c.load_factor = 1.0 + 7.0 * unit(rng);
    c.queue_ms = 10.0 * unit(rng);
    if (compression) c.compression = &lz4;
    const auto start = Clock::now();
    const planner::Prediction p = planner::Decide(table, c, planner::Policy::kLoadAware);
    const double us = Ms(Clock::now() - start) * 1e3;
    checksum += p.device_nodes;
    if (i >= 100) decide_us.push_back(us);
  }
  std::printf("%-16s %6d %6zu %12s %12.3f %12.2f %12.2f  %d\n", name.c_str(), table.node_count,
              max_tensors, compression ? "lz4" : "raw", Percentile(build_ms, 0.5),
              Percentile(decide_us, 0.5), Percentile(decide_us, 0.99), checksum % 10);
}

}  // namespace
}  // namespace edgeinfer::bench

int main(int argc, char** argv) {
  using namespace edgeinfer;
  int decisions = 10000;
  std::string models = "resnet50,googlenet,openpose";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--decisions") == 0) {
      decisions = std::max(1, std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--models") == 0) {
      models = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: bench_planner [--decisions N] [--models a,b,...]\n");
      return 2;
    }
  }
  utsname u{};
  uname(&u);
  std::printf("bench_planner: %d decisions per row after 100 warm-up, 1 thread, %s %s\n\n",
              decisions, u.sysname, u.machine);
  std::printf("%-16s %6s %6s %12s %12s %12s %12s  %s\n", "graph", "nodes", "max_t", "upload",
              "build ms", "decide us", "p99 us", "(chk)");
  const Graph dag = bench::ResidualDag(500);
  bench::Bench(dag.name, dag, decisions, false);
  bench::Bench(dag.name, dag, decisions, true);
  size_t start = 0;
  while (start < models.size()) {
    size_t end = models.find(',', start);
    if (end == std::string::npos) end = models.size();
    const std::string name = models.substr(start, end - start);
    start = end + 1;
    const ZooModel* m = FindZooModel(name);
    if (m == nullptr) {
      std::fprintf(stderr, "bench_planner: unknown zoo model '%s'\n", name.c_str());
      return 2;
    }
    auto g = m->build(1);
    if (!g.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), g.status().ToString().c_str());
      return 1;
    }
    bench::Bench(name, *g, decisions, false);
    bench::Bench(name, *g, decisions, true);
  }
  return 0;
}

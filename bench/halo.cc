// bench_halo: the halo cost of row bands (issue 14) on a zoo model's spatial front.
//
// The front (ir/rows.h FindSpatialFront) is cut into N bands of its output rows (SplitRows,
// equal weights). MapRows gives, per band, the rows every node computes; a convolution's work in
// a band is its MACs times the share of its output rows the band computes. Two schedules:
//   fused:  each band runs the whole front in one pass (DeepThings style): its input band holds
//           the receptive field of its output rows, and every layer computes the halo rows the
//           layers after it need;
//   staged: the front is cut at every MaxPool output (VGG's conv-conv-pool stages); each stage
//           is banded on its own (its output rows split into N), and bands exchange halos
//           between stages, so only the halo within one stage is recomputed.
// Per schedule and band: conv rows computed (summed over conv layers), conv GMACs, and the
// overhead: band work over an even share (1/N) of the whole front's conv work, and the total over
// all bands over the whole front. All numbers come from MapRows; none are by hand.
//
// --time also runs the fused bands with BandRunner on the cpu backend and --threads threads
// (default 1) and reports the median of --repeat runs (after one warm-up that compiles) of each
// band and of the whole front.
//
// usage: bench_halo [--model vgg16] [--bands 2,4,8] [--time] [--repeat N] [--threads N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/band.h"
#include "backend/registry.h"
#include "bench_util.h"
#include "core/parallel.h"
#include "ir/flops.h"
#include "ir/graph.h"
#include "ir/rows.h"
#include "zoo/zoo.h"

namespace edgeinfer {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_halo: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Check(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().ToString());
  return std::move(*r);
}

// Work of the conv layers of `g` for the rows `map` says each computes.
struct Work {
  int64_t conv_rows = 0;  // output rows computed, summed over conv layers
  double macs = 0.0;
};

Work ConvWork(const Graph& g, const RowMap* map) {
  Work w;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    if (n.removed || n.op != OpKind::kConv) continue;
    const int64_t h = g.value(n.outputs[0]).shape[2];
    int64_t rows = h;
    if (map != nullptr) rows = map->nodes[i] ? map->nodes[i]->size() : 0;
    w.conv_rows += rows;
    w.macs += NodeFlops(g, n) / 2.0 * static_cast<double>(rows) / static_cast<double>(h);
  }
  return w;
}

// Rows [r.begin, r.end) of a float NCHW tensor.
Tensor RowsOf(const Tensor& t, RowRange r) {
  const Shape& s = t.shape();
  Tensor out = Tensor::Empty(DType::kFloat32, {s[0], s[1], r.size(), s[3]});
  const int64_t planes = s[0] * s[1], w = s[3];
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int64_t p = 0; p < planes; ++p) {
    std::memcpy(dst + p * r.size() * w, src + (p * s[2] + r.begin) * w,
                static_cast<size_t>(r.size() * w) * sizeof(float));
  }
  return out;
}

double MedianMs(const std::function<void()>& fn, int repeat) {
  std::vector<double> ms;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int Main(int argc, char** argv) {
  std::string model = "vgg16", bands_arg = "2,4,8";
  bool time = false;
  int repeat = 5, threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--model") {
      model = next();
    } else if (a == "--bands") {
      bands_arg = next();
    } else if (a == "--time") {
      time = true;
    } else if (a == "--repeat") {
      repeat = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--threads") {
      threads = std::atoi(next().c_str());
    } else {
      Die("unknown argument '" + a + "' (usage: bench_halo [--model NAME] [--bands 2,4,8] " +
          "[--time] [--repeat N] [--threads N])");
    }
  }
  const ZooModel* zm = FindZooModel(model);
  if (zm == nullptr) Die("no zoo model '" + model + "'");
  const Graph g = Check(zm->build(1), "building " + model);
  const SpatialFront front = Check(FindSpatialFront(g), "finding the spatial front");
  if (front.values.size() != 1) {
    Die(model + ": the front ends in " + std::to_string(front.values.size()) +
        " values; this bench handles one");
  }
  const std::string input = g.value(g.inputs()[0]).name;
  const std::string out = front.values[0];
  const Graph fg = Check(g.Slice({input}, {out}), "slicing the front");
  const int64_t out_h = fg.value(fg.outputs()[0]).shape[2];
  const Work whole = ConvWork(fg, nullptr);

  // Stage boundaries: the MaxPool outputs of the front, in order, ending at the front's output.
  std::vector<std::string> cuts;
  Result<std::vector<int>> order = fg.TopologicalOrder();
  for (int i : Check(std::move(order), "ordering the front")) {
    const Node& n = fg.nodes()[static_cast<size_t>(i)];
    if (n.op == OpKind::kMaxPool) cuts.push_back(fg.value(n.outputs[0]).name);
  }
  if (cuts.empty() || cuts.back() != out) cuts.push_back(out);
  std::vector<Graph> stages;
  std::string from = input;
  for (const std::string& to : cuts) {
    stages.push_back(Check(fg.Slice({from}, {to}), "slicing stage " + from + " -> " + to));
    from = to;
  }

  std::printf("# bench_halo: %s, input %s, front %s -> '%s' (%lld rows), stop: %s\n", model.c_str(),
              ShapeToString(fg.value(fg.inputs()[0]).shape).c_str(), input.c_str(), out.c_str(),
              static_cast<long long>(out_h),
              front.stop_node.empty() ? "(graph outputs)" : front.stop_node.c_str());
  std::printf(
      "# whole front: %zu conv layers, %lld conv rows, %.3f GMACs; %zu stages\n",
      static_cast<size_t>(std::count_if(fg.nodes().begin(), fg.nodes().end(),
                                        [](const Node& n) { return n.op == OpKind::kConv; })),
      static_cast<long long>(whole.conv_rows), whole.macs / 1e9, stages.size());
  std::printf("# machine: %s\n", bench::MachineLine().c_str());
  std::printf("%-6s %-7s %5s %-10s %-10s %10s %9s %9s\n", "bands", "mode", "band", "out rows",
              "in rows", "conv rows", "GMACs", "vs 1/N");

  const Backend* cpu = time ? FindBackend("cpu") : nullptr;
  if (time && cpu == nullptr) Die("no cpu backend");
  for (const std::string& nb : bench::SplitComma(bands_arg)) {
    const int n = std::atoi(nb.c_str());
    if (n < 1) Die("bad band count '" + nb + "'");
    const std::vector<double> weights(static_cast<size_t>(n), 1.0);
    const double share = whole.macs / n;
    // Fused: one pass over the whole front per band.
    const std::vector<RowRange> parts = Check(SplitRows(out_h, weights), "splitting rows");
    double fused_total = 0.0, fused_max = 0.0;
    std::vector<RowRange> fused_inputs;
    for (int b = 0; b < n; ++b) {
      const RowRange part = parts[static_cast<size_t>(b)];
      if (part.empty()) {
        std::printf("%-6d %-7s %5d %-10s %-10s %10s %9s %9s\n", n, "fused", b, "[]", "-", "0", "0",
                    "0%");
        fused_inputs.push_back({});
        continue;
      }
      const RowMap map = Check(MapRows(fg, {{out, part}}), "mapping band " + part.ToString());
      const RowRange in = map.values[static_cast<size_t>(fg.inputs()[0])].rows;
      fused_inputs.push_back(in);
      const Work w = ConvWork(fg, &map);
      fused_total += w.macs;
      fused_max = std::max(fused_max, w.macs);
      std::printf("%-6d %-7s %5d %-10s %-10s %10lld %9.3f %+8.1f%%\n", n, "fused", b,
                  part.ToString().c_str(), in.ToString().c_str(),
                  static_cast<long long>(w.conv_rows), w.macs / 1e9, 100.0 * (w.macs / share - 1));
    }
    // Staged: every stage banded on its own.
    double staged_total = 0.0;
    std::vector<double> staged_band(static_cast<size_t>(n), 0.0);
    std::vector<int64_t> staged_rows(static_cast<size_t>(n), 0);
    for (const Graph& sg : stages) {
      const std::string so = sg.value(sg.outputs()[0]).name;
      const int64_t sh = sg.value(sg.outputs()[0]).shape[2];
      const std::vector<RowRange> sp = Check(SplitRows(sh, weights), "splitting stage rows");
      for (int b = 0; b < n; ++b) {
        if (sp[static_cast<size_t>(b)].empty()) continue;
        const RowMap map = Check(MapRows(sg, {{so, sp[static_cast<size_t>(b)]}}), "mapping stage");
        const Work w = ConvWork(sg, &map);
        staged_band[static_cast<size_t>(b)] += w.macs;
        staged_rows[static_cast<size_t>(b)] += w.conv_rows;
        staged_total += w.macs;
      }
    }
    double staged_max = 0.0;
    for (int b = 0; b < n; ++b) {
      const double m = staged_band[static_cast<size_t>(b)];
      staged_max = std::max(staged_max, m);
      std::printf("%-6d %-7s %5d %-10s %-10s %10lld %9.3f %+8.1f%%\n", n, "staged", b, "per stage",
                  "per stage", static_cast<long long>(staged_rows[static_cast<size_t>(b)]), m / 1e9,
                  100.0 * (m / share - 1));
    }
    std::printf(
        "SUMMARY bands=%d fused: total %+.1f%% max band %+.1f%% | staged: total %+.1f%% max band "
        "%+.1f%%\n",
        n, 100.0 * (fused_total / whole.macs - 1), 100.0 * (fused_max / share - 1),
        100.0 * (staged_total / whole.macs - 1), 100.0 * (staged_max / share - 1));

    if (time) {
      SetNumThreads(threads);
      CompileOptions options;
      options.threads = threads;
      BandRunner runner(fg, cpu, options, static_cast<size_t>(n) + 2);
      const Shape& ishape = fg.value(fg.inputs()[0]).shape;
      std::vector<float> data(static_cast<size_t>(NumElements(ishape)));
      std::mt19937 rng(7);
      std::uniform_real_distribution<float> dist(-1.f, 1.f);
      for (float& v : data) v = dist(rng);
      const Tensor x = Tensor::FromVector<float>(data, ishape);
      auto run_whole = [&] { Check(runner.Run({{input, x, 0}}, {}), "running the whole front"); };
      run_whole();
      const double whole_ms = MedianMs(run_whole, repeat);
      double sum_ms = 0.0, max_ms = 0.0;
      for (int b = 0; b < n; ++b) {
        const RowRange part = parts[static_cast<size_t>(b)];
        if (part.empty()) continue;
        const RowRange in = fused_inputs[static_cast<size_t>(b)];
        const Tensor xb = RowsOf(x, in);
        auto run_band = [&] {
          Check(runner.Run({{input, xb, in.begin}}, {{out, part}}), "running a band");
        };
        run_band();
        const double ms = MedianMs(run_band, repeat);
        sum_ms += ms;
        max_ms = std::max(max_ms, ms);
        std::printf("TIME bands=%d band %d %s: %.2f ms\n", n, b, part.ToString().c_str(), ms);
      }
      std::printf(
          "TIME bands=%d whole front %.2f ms; fused bands sum %.2f ms (%+.1f%%), slowest %.2f ms "
          "(%.2f of whole), %d thread(s), median of %d\n",
          n, whole_ms, sum_ms, 100.0 * (sum_ms / whole_ms - 1), max_ms, max_ms / whole_ms, threads,
          repeat);
    }
  }
  return 0;
}

}  // namespace
}  // namespace edgeinfer

int main(int argc, char** argv) { return edgeinfer::Main(argc, argv); }

// edgeinfer profile: per-node (or fused step) latency table of a model.
#include <cstdio>
#include <iostream>

#include "args.h"
#include "commands.h"
#include "core/parallel.h"
#include "edgeinfer/session.h"
#include "inputs.h"
#include "report.h"

namespace edgeinfer::tools {

int ProfileCommand(int argc, char** argv) {
  Args args({"--threads", "--repeat", "--seed", "--input", "--backend"},
            {"--json", "--help", "-h"});
  if (!args.Parse(argc, argv)) {
    std::fprintf(stderr, "edgeinfer profile: %s (see --help)\n", args.error().c_str());
    return 2;
  }
  if (args.Has("--help") || args.Has("-h")) {
    std::printf(
        "usage: edgeinfer profile MODEL.onnx [--threads N] [--repeat N] [--input SPEC]\n"
        "                         [--seed N] [--backend cpu|reference] [--json]\n\n"
        "Prints one row per executed step (a step is a node, or nodes fused into one kernel):\n"
        "op, output shape, output bytes, FLOPs, median latency over the repeats (default 10)\n"
        "and cumulative latency. 'ref' marks a step that ran a naive reference kernel (the op's\n"
        "own, or oneDNN's 'ref:any' implementation);\n"
        "the last line gives their share of the total (--json: reference_ms, reference_share).\n"
        "Inputs are built as in 'edgeinfer run'.\n");
    return 0;
  }
  if (args.positionals().size() != 1) {
    std::fprintf(stderr, "edgeinfer profile: expected one MODEL argument (see --help)\n");
    return 2;
  }
  long long threads, repeat, seed;
  if (!args.GetInt("--threads", 0, &threads) || !args.GetInt("--repeat", 10, &repeat) ||
      !args.GetInt("--seed", 0, &seed)) {
    std::fprintf(stderr, "edgeinfer profile: %s\n", args.error().c_str());
    return 2;
  }
  SessionOptions options;
  options.threads = static_cast<int>(threads);
  options.backend = args.Get("--backend", "cpu");
  const std::string model = args.positionals()[0];
  auto session = Session::Open(model, options);
  if (!session.ok()) {
    std::fprintf(stderr, "edgeinfer profile: %s: %s\n", model.c_str(),
                 session.status().ToString().c_str());
    return 1;
  }
  auto inputs =
      BuildInputs((*session)->inputs(), args.GetAll("--input"), static_cast<uint64_t>(seed));
  if (!inputs.ok()) {
    std::fprintf(stderr, "edgeinfer profile: %s\n", inputs.status().ToString().c_str());
    return 1;
  }
  auto profile = (*session)->Profile(*inputs, static_cast<int>(repeat));
  if (!profile.ok()) {
    std::fprintf(stderr, "edgeinfer profile: %s\n", profile.status().ToString().c_str());
    return 1;
  }
  double cumulative = 0.0, total_flops = 0.0, reference_ms = 0.0;
  nlohmann::json rows = nlohmann::json::array();
  for (const NodeProfile& p : *profile) {
    cumulative += p.median_ms;
    total_flops += p.flops;
    if (p.reference) reference_ms += p.median_ms;
    rows.push_back({{"name", p.name},
                    {"op", p.op},
                    {"output_shape", p.output_shape},
                    {"output_bytes", p.output_bytes},
                    {"flops", p.flops},
                    {"median_ms", p.median_ms},
                    {"reference", p.reference},
                    {"cumulative_ms", cumulative}});
  }
  // The share of the summed step time spent in naive reference kernels (0 when nothing ran).
  const double reference_share = cumulative > 0 ? reference_ms / cumulative : 0.0;
  if (args.Has("--json")) {
    nlohmann::json j = {{"model", model},
                        {"threads", GetNumThreads()},
                        {"repeat", repeat},
                        {"total_ms", cumulative},
                        {"total_flops", total_flops},
                        {"reference_ms", reference_ms},
                        {"reference_share", reference_share},
                        {"nodes", rows}};
    std::cout << j.dump() << std::endl;
    return 0;
  }
  std::printf("%-4s %-28s %-22s %12s %10s %10s %10s %-3s  %s\n", "#", "op", "output shape", "bytes",
              "MFLOPs", "median ms", "cum ms", "ref", "node");
  int i = 0;
  for (const auto& r : rows) {
    std::printf(
        "%-4d %-28.28s %-22s %12lld %10.2f %10.3f %10.3f %-3s  %s\n", i++,
        r["op"].get<std::string>().c_str(), ShapeToString(r["output_shape"].get<Shape>()).c_str(),
        static_cast<long long>(r["output_bytes"].get<int64_t>()), r["flops"].get<double>() / 1e6,
        r["median_ms"].get<double>(), r["cumulative_ms"].get<double>(),
        r["reference"].get<bool>() ? "ref" : "", r["name"].get<std::string>().c_str());
  }
  std::printf("total %.3f ms, %.2f GFLOPs, %.1f GFLOP/s, %d threads\n", cumulative,
              total_flops / 1e9, cumulative > 0 ? total_flops / 1e6 / cumulative : 0.0,
              GetNumThreads());
  std::printf("reference kernels (ref): %.3f ms, %.1f%% of the total\n", reference_ms,
              100.0 * reference_share);
  return 0;
}

}  // namespace edgeinfer::tools

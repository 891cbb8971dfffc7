// edgeinfer profile: per-node (or fused step) latency table of a model, or (--bands N) the
// model's spatial front run in N row bands.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>

#include "args.h"
#include "backend/band.h"
#include "backend/registry.h"
#include "commands.h"
#include "core/parallel.h"
#include "edgeinfer/session.h"
#include "inputs.h"
#include "ir/flops.h"
#include "ir/rows.h"
#include "onnx/onnx_io.h"
#include "ops/passes.h"
#include "report.h"

namespace edgeinfer::tools {
namespace {

// Rows [r.begin, r.end) of a rank-4 tensor (a copy).
Tensor CopyRows(const Tensor& t, RowRange r) {
  const Shape& s = t.shape();
  Tensor out = Tensor::Empty(t.dtype(), {s[0], s[1], r.size(), s[3]});
  const size_t row = static_cast<size_t>(s[3]) * DTypeSize(t.dtype());
  const auto* src = static_cast<const char*>(t.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  for (int64_t p = 0; p < s[0] * s[1]; ++p) {
    std::memcpy(dst + static_cast<size_t>(p * r.size()) * row,
                src + static_cast<size_t>(p * s[2] + r.begin) * row,
                static_cast<size_t>(r.size()) * row);
  }
  return out;
}

// Median wall time of `repeat` calls of `fn` (after the caller's warm-up); false on an error.
bool MedianMs(const std::function<Status()>& fn, int repeat, double* ms, Status* error) {
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = fn();
    if (!s.ok()) {
      *error = s;
      return false;
    }
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  *ms = times[times.size() / 2];
  return true;
}

// FLOPs of the front's nodes for the output rows `map` says each computes (all of them when
// `map` is null).
double FrontFlops(const Graph& front, const RowMap* map) {
  double flops = 0.0;
  for (size_t i = 0; i < front.nodes().size(); ++i) {
    const Node& n = front.nodes()[i];
    if (n.removed) continue;
    double share = 1.0;
    const Shape& out = front.value(n.outputs[0]).shape;
    if (map != nullptr) {
      if (!map->nodes[i]) continue;
      if (out.size() == 4 && out[2] > 0) {
        share = static_cast<double>(map->nodes[i]->size()) / static_cast<double>(out[2]);
      }
    }
    flops += NodeFlops(front, n) * share;
  }
  return flops;
}

// profile --bands: the spatial front of `model` in `bands` equal row bands on `backend`.
int ProfileBands(const std::string& model, const std::vector<NamedTensor>& inputs, int bands,
                 const std::string& backend_name, int threads, int repeat, bool json) {
  auto fail = [](const std::string& what) {
    std::fprintf(stderr, "edgeinfer profile: %s\n", what.c_str());
    return 1;
  };
  const Backend* backend = FindBackend(backend_name);
  if (backend == nullptr) return fail("--backend: unknown backend '" + backend_name + "'");
  Result<Graph> graph = ImportOnnxFile(model);
  if (!graph.ok()) return fail(model + ": " + graph.status().ToString());
  std::map<std::string, Shape> shapes;
  std::vector<std::string> input_names;
  for (const NamedTensor& in : inputs) {
    shapes[in.name] = in.tensor.shape();
    input_names.push_back(in.name);
  }
  Status specialised = Specialize(&*graph, shapes);
  if (!specialised.ok()) return fail(model + ": " + specialised.ToString());
  Result<SpatialFront> front = FindSpatialFront(*graph);
  if (!front.ok()) return fail(model + ": " + front.status().ToString());
  if (front->values.empty()) {
    return fail(model + ": --bands: the model has no band-able spatial front (node '" +
                front->stop_node + "' stops it at once: " + front->stop_reason + ")");
  }
  Result<Graph> sliced = graph->Slice(input_names, front->values);
  if (!sliced.ok()) return fail(model + ": slicing the front: " + sliced.status().ToString());
  const Graph& fg = *sliced;
  const std::string& first = front->values[0];
  const int64_t height = fg.value(fg.FindValue(first)).shape[2];
  for (const std::string& v : front->values) {
    if (fg.value(fg.FindValue(v)).shape[2] != height) {
      return fail(model + ": --bands: the front ends in tensors of different heights ('" + first +
                  "' and '" + v + "')");
    }
  }
  if (bands > height) {
    return fail("--bands " + std::to_string(bands) + ": the front's output '" + first +
                "' has only " + std::to_string(height) + " rows");
  }
  Result<std::vector<RowRange>> parts =
      SplitRows(height, std::vector<double>(static_cast<size_t>(bands), 1.0));
  if (!parts.ok()) return fail(parts.status().ToString());

  if (threads > 0) SetNumThreads(threads);
  CompileOptions options;
  options.threads = threads;
  BandRunner runner(fg, backend, options, static_cast<size_t>(bands) + 1);
  std::vector<BandTensor> whole_inputs;
  for (const NamedTensor& in : inputs) {
    if (fg.FindValue(in.name) != kNoValue) whole_inputs.push_back({in.name, in.tensor, 0});
  }
  Status error;
  auto run_whole = [&]() -> Status { return runner.Run(whole_inputs, {}).status(); };
  double whole_ms = 0.0;
  if (Status s = run_whole(); !s.ok()) return fail("whole front: " + s.ToString());
  if (!MedianMs(run_whole, repeat, &whole_ms, &error)) {
    return fail("whole front: " + error.ToString());
  }
  const double whole_flops = FrontFlops(fg, nullptr);
  const double share = whole_flops / bands;

  nlohmann::json rows = nlohmann::json::array();
  double sum_ms = 0.0;
  for (int b = 0; b < bands; ++b) {
    const RowRange part = (*parts)[static_cast<size_t>(b)];
    std::map<std::string, RowRange> wanted;
    for (const std::string& v : front->values) wanted[v] = part;
    Result<RowMap> map = MapRows(fg, wanted);
    if (!map.ok()) return fail("band " + part.ToString() + ": " + map.status().ToString());
    std::vector<BandTensor> band_inputs;
    nlohmann::json in_rows = nlohmann::json::object();
    for (const BandTensor& in : whole_inputs) {
      const RowNeed& need = map->values[static_cast<size_t>(fg.FindValue(in.name))];
      if (!need.needed) continue;
      if (need.whole) {
        band_inputs.push_back(in);
      } else {
        band_inputs.push_back({in.name, CopyRows(in.tensor, need.rows), need.rows.begin});
        in_rows[in.name] = {need.rows.begin, need.rows.end};
      }
    }
    auto run_band = [&]() -> Status { return runner.Run(band_inputs, wanted).status(); };
    if (Status s = run_band(); !s.ok())
      return fail("band " + part.ToString() + ": " + s.ToString());
    double ms = 0.0;
    if (!MedianMs(run_band, repeat, &ms, &error)) {
      return fail("band " + part.ToString() + ": " + error.ToString());
    }
    sum_ms += ms;
    const double flops = FrontFlops(fg, &*map);
    rows.push_back({{"band", b},
                    {"output_rows", {part.begin, part.end}},
                    {"input_rows", in_rows},
                    {"median_ms", ms},
                    {"flops", flops},
                    {"halo_overhead", share > 0 ? flops / share - 1.0 : 0.0}});
  }
  if (json) {
    nlohmann::json j = {{"model", model},
                        {"backend", backend_name},
                        {"threads", GetNumThreads()},
                        {"repeat", repeat},
                        {"front", front->values},
                        {"front_height", height},
                        {"stop_node", front->stop_node},
                        {"whole_ms", whole_ms},
                        {"whole_flops", whole_flops},
                        {"bands_ms", sum_ms},
                        {"bands", rows}};
    std::cout << j.dump() << std::endl;
    return 0;
  }
  std::string front_names;
  for (const std::string& v : front->values) front_names += (front_names.empty() ? "" : ", ") + v;
  std::printf("spatial front: %s (%lld rows)%s%s\n", front_names.c_str(),
              static_cast<long long>(height), front->stop_node.empty() ? "" : ", stopped by ",
              front->stop_node.c_str());
  std::printf("%-5s %-12s %-28s %10s %10s %8s\n", "band", "output rows", "input rows (halo)",
              "MFLOPs", "median ms", "halo");
  for (const auto& r : rows) {
    std::string in;
    for (const auto& [name, range] : r["input_rows"].items()) {
      in += (in.empty() ? "" : " ") + name +
            RowRange{range[0].get<int64_t>(), range[1].get<int64_t>()}.ToString();
    }
    const RowRange out{r["output_rows"][0].get<int64_t>(), r["output_rows"][1].get<int64_t>()};
    std::printf("%-5d %-12s %-28s %10.2f %10.3f %+7.1f%%\n", r["band"].get<int>(),
                out.ToString().c_str(), in.empty() ? "(whole)" : in.c_str(),
                r["flops"].get<double>() / 1e6, r["median_ms"].get<double>(),
                100.0 * r["halo_overhead"].get<double>());
  }
  std::printf("whole front %.3f ms, %.2f MFLOPs; bands sum %.3f ms; %s backend, %d threads\n",
              whole_ms, whole_flops / 1e6, sum_ms, backend_name.c_str(), GetNumThreads());
  std::printf("halo: extra FLOPs of a band over an even share (1/%d) of the whole front\n", bands);
  return 0;
}

}  // namespace

int ProfileCommand(int argc, char** argv) {
  Args args({"--threads", "--repeat", "--seed", "--input", "--backend", "--bands"},
            {"--json", "--help", "-h"});
  if (!args.Parse(argc, argv)) {
    std::fprintf(stderr, "edgeinfer profile: %s (see --help)\n", args.error().c_str());
    return 2;
  }
  if (args.Has("--help") || args.Has("-h")) {
    std::printf(
        "usage: edgeinfer profile MODEL.onnx [--threads N] [--repeat N] [--input SPEC]\n"
        "                         [--seed N] [--backend cpu|reference] [--bands N] [--json]\n\n"
        "Prints one row per executed step (a step is a node, or nodes fused into one kernel):\n"
        "op, output shape, output bytes, FLOPs, median latency over the repeats (default 10)\n"
        "and cumulative latency. 'ref' marks a step that ran a naive reference kernel (the op's\n"
        "own, or oneDNN's 'ref:any' implementation);\n"
        "the last line gives their share of the total (--json: reference_ms, reference_share).\n"
        "Inputs are built as in 'edgeinfer run'.\n\n"
        "--bands N runs the model's spatial front (up to the first node that mixes rows, such\n"
        "as Flatten or global pooling) in N equal row bands of its output, locally, and prints\n"
        "per band: output rows, the input rows it reads (with the receptive-field halo), FLOPs,\n"
        "median latency, and the halo overhead (its FLOPs over an even share 1/N of the whole\n"
        "front's), then the whole front's latency. Exits 1 when the model has no such front.\n");
    return 0;
  }
  if (args.positionals().size() != 1) {
    std::fprintf(stderr, "edgeinfer profile: expected one MODEL argument (see --help)\n");
    return 2;
  }
  long long threads, repeat, seed, bands;
  if (!args.GetInt("--threads", 0, &threads) || !args.GetInt("--repeat", 10, &repeat) ||
      !args.GetInt("--seed", 0, &seed) || !args.GetInt("--bands", 0, &bands)) {
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
  if (args.Has("--bands")) {
    if (bands < 1 || repeat < 1) {
      std::fprintf(stderr, "edgeinfer profile: --bands and --repeat must be at least 1\n");
      return 2;
    }
    return ProfileBands(model, *inputs, static_cast<int>(bands), options.backend,
                        static_cast<int>(threads), static_cast<int>(repeat), args.Has("--json"));
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

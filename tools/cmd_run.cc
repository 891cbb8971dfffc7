// edgeinfer run: run an ONNX model on this machine, or offload it to an edge server, and report
// outputs and latency.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "args.h"
#include "backend/cpu/openmp_env.h"
#include "commands.h"
#include "core/npy.h"
#include "core/parallel.h"
#include "core/units.h"
#include "edgeinfer/session.h"
#include "inputs.h"
#include "net/memory_policy.h"
#include "report.h"
#include "testbed/cpu_quota.h"

namespace edgeinfer::tools {

namespace {

void PrintHelp() {
  std::printf(
      "usage: edgeinfer run MODEL.onnx [options]\n\n"
      "Runs the model on the CPU, or on an edge server (--edge), and prints each output's shape\n"
      "and summary (top-5 classes for a classifier) and the median latency over the repeats.\n\n"
      "options:\n"
      "  --input SPEC           FILE.npy, NAME=FILE.npy, IMAGE.jpg/png or NAME=IMAGE (repeatable;\n"
      "                         a spec without NAME fills the next input not yet given)\n"
      "  --input-dir DIR        every DIR/<input name>.npy (as written by --save-inputs)\n"
      "  --seed N               seed of the random data for inputs not given (default 0)\n"
      "  --threads N            kernel threads (default: all cores)\n"
      "  --repeat N             timed runs after one warm-up run (default 10)\n"
      "  --save-outputs DIR     write each output as DIR/<output name>.npy\n"
      "  --save-inputs DIR      write each input actually used as DIR/<input name>.npy\n"
      "  --backend NAME         cpu (oneDNN, default) or reference (naive kernels)\n"
      "  --json                 print one JSON object on stdout instead of text\n"
      "  --edge HOST:PORT       edge server (grpc://HOST:PORT or grpcs://HOST:PORT also accepted;\n"
      "                         default: $EDGEINFER_ACCELERATOR). Several servers: a comma list\n"
      "                         (a:8001,b:8001) or dns:///NAME:PORT (every A record of NAME);\n"
      "                         a list turns on failover: a request that a server cannot answer\n"
      "                         (UNAVAILABLE, its attempt deadline, a full queue) is retried on\n"
      "                         another, a server that lost the model gets it again\n"
      "  --mode MODE            local, remote (whole model on the server; default with --edge),\n"
      "                         split:CUT (CUT: comma-separated tensor names the device\n"
      "                         computes, or N: the first N nodes run on the device), auto (the\n"
      "                         cut is chosen per run from profiles, bandwidth, RTT and the\n"
      "                         server's load), auto-noload (the same, ignoring the load) or\n"
      "                         collab (the whole model to --edge, a server started with --peers,\n"
      "                         which runs its convolutional front on row bands with its peers)\n"
      "  --deadline-ms N        per-run deadline: a run over it still returns its outputs and is\n"
      "                         counted as missed (collab: sent to the host, which reports it)\n"
      "  --token T              bearer token for the server (default: $EDGEINFER_TOKEN)\n"
      "  --tls-ca FILE          use TLS, trusting the CA in FILE (default: $EDGEINFER_TLS_CA)\n"
      "  --timeout-ms N         deadline of each server call (default 30000); with failover, of\n"
      "                         each request over all its attempts\n"
      "  --attempt-timeout-ms N failover: deadline of one attempt (default: the remaining\n"
      "                         deadline divided by the attempts left, 3 per request)\n"
      "  --fallback local       run on this device when no server can answer instead of failing\n"
      "                         (turns on failover; default: $EDGEINFER_FALLBACK)\n"
      "  --cpu-quota CORES      hold this process to CORES CPUs (e.g. 0.25) with a cgroup CPU\n"
      "                         quota before anything else, to emulate a weak device; needs\n"
      "                         root and a writable cgroup cpu controller, else it fails naming\n"
      "                         why\n"
      "  --cpu-quota-optional   with --cpu-quota: warn and run unlimited when the quota cannot\n"
      "                         be set\n\n"
      "In auto modes each run reports the chosen cut (local, remote or split:N, N nodes on the\n"
      "device) and its predicted latency; --json adds \"cut\", \"predicted_ms\" (of the last run)\n"
      "and \"runs\", one entry per timed run with its cut, prediction, measured total and the\n"
      "estimates it was decided with.\n\n"
      "Offloaded runs also report the median latency breakdown: device compute, upload, server\n"
      "queue, server compute, download. Upload and download are the round trip minus the\n"
      "server-reported queue and compute time, split in proportion to bytes sent and received.\n"
      "With failover, each run also reports the server that answered and its attempts (--json:\n"
      "\"runs\" entries with \"server\", \"attempts\" and \"fell_back\").\n\n"
      "%s",
      kImagePreprocessingHelp);
}

// Output names may contain '/' or ':' (PyTorch exports); keep file names flat and portable.
std::string SafeFileName(const std::string& name) {
  std::string s = name;
  for (char& c : s) {
    if (c == '/' || c == '\\' || c == ':' || c == '\0') c = '_';
  }
  return s.empty() || s == "." || s == ".." ? "output" : s;
}

// Writes each tensor as DIR/<name>.npy, creating DIR.
Status SaveTensors(const std::string& dir, const std::vector<NamedTensor>& tensors) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::NotFound("cannot create '" + dir + "': " + ec.message());
  for (const NamedTensor& t : tensors) {
    EI_RETURN_IF_ERROR(WriteNpyFile(dir + "/" + SafeFileName(t.name) + ".npy", t.tensor));
  }
  return Status::Ok();
}

// The latency breakdown of offloaded runs: JSON key, text label, RunStats field.
struct Breakdown {
  const char* key;
  const char* label;
  double RunStats::*field;
};
const std::vector<Breakdown> kBreakdown = {
    {"device_ms", "device", &RunStats::device_ms},
    {"upload_ms", "upload", &RunStats::upload_ms},
    {"server_queue_ms", "server queue", &RunStats::server_queue_ms},
    {"server_compute_ms", "server compute", &RunStats::server_compute_ms},
    {"download_ms", "download", &RunStats::download_ms},
};

}  // namespace

int RunCommand(int argc, char** argv) {
  Args args({"--input", "--input-dir", "--seed", "--threads", "--repeat", "--save-outputs",
             "--save-inputs", "--backend", "--edge", "--mode", "--token", "--tls-ca",
             "--timeout-ms", "--cpu-quota", "--attempt-timeout-ms", "--fallback", "--deadline-ms"},
            {"--json", "--help", "-h", "--cpu-quota-optional"});
  if (!args.Parse(argc, argv)) {
    std::fprintf(stderr, "edgeinfer run: %s (see --help)\n", args.error().c_str());
    return 2;
  }
  if (args.Has("--help") || args.Has("-h")) {
    PrintHelp();
    return 0;
  }
  if (args.positionals().size() != 1) {
    std::fprintf(stderr, "edgeinfer run: expected one MODEL argument (see --help)\n");
    return 2;
  }
  long long seed, threads, repeat, timeout_ms, attempt_timeout_ms, deadline_ms;
  if (!args.GetInt("--seed", 0, &seed) || !args.GetInt("--threads", 0, &threads) ||
      !args.GetInt("--repeat", 10, &repeat) || !args.GetInt("--timeout-ms", 30000, &timeout_ms) ||
      !args.GetInt("--attempt-timeout-ms", 0, &attempt_timeout_ms) ||
      !args.GetInt("--deadline-ms", 0, &deadline_ms)) {
    std::fprintf(stderr, "edgeinfer run: %s\n", args.error().c_str());
    return 2;
  }
  if (deadline_ms < 0 || deadline_ms > INT32_MAX) {
    std::fprintf(stderr, "edgeinfer run: --deadline-ms must be >= 0\n");
    return 2;
  }
  if (attempt_timeout_ms < 0 || attempt_timeout_ms > INT32_MAX) {
    std::fprintf(stderr, "edgeinfer run: --attempt-timeout-ms must be >= 0\n");
    return 2;
  }
  if (args.Has("--fallback") && args.Get("--fallback") != "local") {
    std::fprintf(stderr, "edgeinfer run: --fallback '%s': the only fallback is 'local'\n",
                 args.Get("--fallback").c_str());
    return 2;
  }
  if (repeat < 1 || threads < 0 || timeout_ms < 1 || timeout_ms > INT32_MAX) {
    std::fprintf(stderr,
                 "edgeinfer run: --repeat and --timeout-ms must be >= 1 and --threads >= 0\n");
    return 2;
  }
  const std::string model = args.positionals()[0];
  const bool json = args.Has("--json");
  if (args.Has("--cpu-quota")) {
    // Before the session exists, so that every thread it starts inherits the quota.
    auto cores = ParseNumber(args.Get("--cpu-quota"), "--cpu-quota");
    if (!cores.ok()) {
      std::fprintf(stderr, "edgeinfer run: %s\n", cores.status().ToString().c_str());
      return 2;
    }
    Status limited = LimitCpu(*cores);
    if (!limited.ok()) {
      if (!args.Has("--cpu-quota-optional")) {
        std::fprintf(stderr, "edgeinfer run: --cpu-quota %s: %s\n", args.Get("--cpu-quota").c_str(),
                     limited.ToString().c_str());
        return 1;
      }
      std::fprintf(stderr,
                   "edgeinfer run: warning: --cpu-quota %s not applied (%s); running "
                   "unlimited\n",
                   args.Get("--cpu-quota").c_str(), limited.ToString().c_str());
    }
  }

  SessionOptions options;
  options.threads = static_cast<int>(threads);
  options.backend = args.Get("--backend", "cpu");
  options.accelerator = args.Get("--edge");
  options.token = args.Get("--token");
  options.tls_ca_file = args.Get("--tls-ca");
  if (args.Has("--mode")) {
    ExecutionMode mode;
    Status parsed = ParseExecutionMode(args.Get("--mode"), &mode, &options.cut);
    if (!parsed.ok()) {
      std::fprintf(stderr, "edgeinfer run: --mode: %s (see --help)\n", parsed.message().c_str());
      return 2;
    }
    options.mode = mode;
  } else if (args.Has("--edge")) {
    options.mode = ExecutionMode::kRemote;
  }
  // Offloaded tensors cross several large buffers per run; keep their pages (the policy is
  // left alone for local runs so that their peak RSS is the engine's own).
  if (args.Has("--edge")) net::RetainLargeAllocations();
  options.timeout_ms = static_cast<int>(timeout_ms);
  options.deadline_ms = static_cast<int>(deadline_ms);
  options.attempt_timeout_ms = static_cast<int>(attempt_timeout_ms);
  options.fallback = args.Get("--fallback");
  auto t0 = std::chrono::steady_clock::now();
  auto session = Session::Open(model, options);
  if (!session.ok()) {
    std::fprintf(stderr, "edgeinfer run: %s: %s\n", model.c_str(),
                 session.status().ToString().c_str());
    return 1;
  }
  // Load time: reading, importing and (for static shapes) compiling the model.
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::vector<std::string> specs = args.GetAll("--input");
  if (args.Has("--input-dir")) {
    for (const TensorInfo& info : (*session)->inputs()) {
      specs.push_back(info.name + "=" + args.Get("--input-dir") + "/" + SafeFileName(info.name) +
                      ".npy");
    }
  }
  auto inputs = BuildInputs((*session)->inputs(), specs, static_cast<uint64_t>(seed));
  if (!inputs.ok()) {
    std::fprintf(stderr, "edgeinfer run: %s\n", inputs.status().ToString().c_str());
    return 1;
  }
  // The first run may compile for these input shapes (a model with symbolic dimensions) and
  // touches every buffer for the first time: it is reported on its own, not as latency.
  auto t1 = std::chrono::steady_clock::now();
  auto first = (*session)->Run(*inputs);
  if (!first.ok()) {
    std::fprintf(stderr, "edgeinfer run: %s: %s\n", model.c_str(),
                 first.status().ToString().c_str());
    return 1;
  }
  const double first_run_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  std::vector<double> ms;
  std::vector<std::vector<double>> parts(kBreakdown.size());
  std::vector<NamedTensor> outputs = std::move(first).value();
  int64_t bytes_sent = 0, bytes_received = 0;
  nlohmann::json runs = nlohmann::json::array();           // auto modes: each run's decision
  nlohmann::json failover_runs = nlohmann::json::array();  // failover: who answered each run
  RunStats last;
  int missed = 0;
  std::vector<double> collab_servers;
  for (long long r = 0; r < repeat; ++r) {
    RunStats stats;
    auto s = std::chrono::steady_clock::now();
    auto out = (*session)->RunWithStats(*inputs, &stats);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    for (size_t k = 0; k < kBreakdown.size(); ++k) parts[k].push_back(stats.*kBreakdown[k].field);
    bytes_sent = stats.bytes_sent;
    bytes_received = stats.bytes_received;
    if (stats.deadline_missed) ++missed;
    if (stats.collab_servers > 0) collab_servers.push_back(stats.collab_servers);
    if (!stats.server.empty() || stats.fell_back) {
      failover_runs.push_back(
          {{"server", stats.server}, {"attempts", stats.attempts}, {"fell_back", stats.fell_back}});
    }
    if (stats.cut.has_value()) {
      runs.push_back({{"cut", stats.cut->ToString()},
                      {"predicted_ms", stats.predicted_ms},
                      {"total_ms", stats.total_ms},
                      {"compressed", stats.compressed},
                      {"bandwidth_mbit", stats.bandwidth_mbit},
                      {"rtt_ms", stats.rtt_ms},
                      {"load_factor_estimate", stats.load_factor_estimate},
                      {"queue_ms_estimate", stats.queue_ms_estimate}});
    }
    last = stats;
    if (!out.ok()) {
      std::fprintf(stderr, "edgeinfer run: %s\n", out.status().ToString().c_str());
      return 1;
    }
    outputs = std::move(out).value();
  }
  for (const char* flag : {"--save-inputs", "--save-outputs"}) {
    if (!args.Has(flag)) continue;
    Status s =
        SaveTensors(args.Get(flag), flag == std::string("--save-inputs") ? *inputs : outputs);
    if (!s.ok()) {
      std::fprintf(stderr, "edgeinfer run: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  nlohmann::json report;
  report["model"] = model;
  report["backend"] = options.backend;
  const std::string mode = ExecutionModeText((*session)->mode(), (*session)->cut());
  report["mode"] = mode;
  report["threads"] = GetNumThreads();
  report["repeat"] = repeat;
  report["load_ms"] = load_ms;
  report["first_run_ms"] = first_run_ms;
  report["median_ms"] = Median(ms);
  report["min_ms"] = *std::min_element(ms.begin(), ms.end());
  report["max_ms"] = *std::max_element(ms.begin(), ms.end());
  report["run_ms"] = ms;
  for (size_t k = 0; k < kBreakdown.size(); ++k) report[kBreakdown[k].key] = Median(parts[k]);
  report["bytes_sent"] = bytes_sent;
  report["bytes_received"] = bytes_received;
  if (deadline_ms > 0) {
    report["deadline_ms"] = deadline_ms;
    report["deadline_missed"] = missed;
  }
  if (!collab_servers.empty()) report["collab_servers"] = Median(collab_servers);
  if (!failover_runs.empty()) {
    if (runs.empty()) {
      runs = failover_runs;
    } else {
      for (size_t i = 0; i < runs.size() && i < failover_runs.size(); ++i) {
        runs[i].update(failover_runs[i]);
      }
    }
  }
  if (last.cut.has_value()) {
    report["cut"] = last.cut->ToString();
    report["predicted_ms"] = last.predicted_ms;
  }
  if (!runs.empty()) report["runs"] = runs;
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  report["openmp_wait"] = OpenMpWaitDescription();
  report["peak_rss_mb"] = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB
  report["outputs"] = nlohmann::json::array();
  for (const NamedTensor& o : outputs) report["outputs"].push_back(SummarizeOutput(o));
  if (json) {
    std::cout << report.dump() << std::endl;
    return 0;
  }
  std::printf("model %s  (%d threads, backend %s, mode %s)\n", model.c_str(), GetNumThreads(),
              options.backend.c_str(), mode.c_str());
  std::printf("outputs:\n");
  for (const auto& o : report["outputs"]) std::printf("%s", FormatSummary(o).c_str());
  std::printf(
      "latency: median %.3f ms  min %.3f ms  over %lld runs  (load %.1f ms, first run %.1f ms)\n",
      report["median_ms"].get<double>(), report["min_ms"].get<double>(), repeat, load_ms,
      first_run_ms);
  if ((*session)->mode() != ExecutionMode::kLocal) {
    std::printf("breakdown (medians):");
    for (const Breakdown& b : kBreakdown) {
      std::printf("  %s %.3f ms", b.label, report[b.key].get<double>());
    }
    std::printf("\n  (%lld bytes sent, %lld received per run)\n",
                static_cast<long long>(bytes_sent), static_cast<long long>(bytes_received));
  }
  if (!collab_servers.empty()) {
    std::printf("collaborative: %.0f servers (median, the host included)\n",
                Median(collab_servers));
  }
  if (deadline_ms > 0) {
    std::printf("deadline %lld ms: missed by %d of %lld runs\n", deadline_ms, missed, repeat);
  }
  if (!failover_runs.empty()) {
    std::map<std::string, int> answered;
    int retried = 0, fell_back = 0;
    for (const auto& run : failover_runs) {
      if (run["fell_back"].get<bool>()) ++fell_back;
      if (!run["server"].get<std::string>().empty()) ++answered[run["server"].get<std::string>()];
      if (run["attempts"].get<int>() > 1) ++retried;
    }
    std::printf("servers:");
    for (const auto& [server, n] : answered) std::printf("  %s %d runs", server.c_str(), n);
    std::printf("  (%d retried, %d ran locally)\n", retried, fell_back);
  }
  if (!last.cut.has_value()) return 0;
  if (!runs.empty()) {
    std::printf("cuts (predicted / measured):");
    for (const auto& run : runs) {
      std::printf("  %s %.1f/%.1f ms", run["cut"].get<std::string>().c_str(),
                  run["predicted_ms"].get<double>(), run["total_ms"].get<double>());
    }
    std::printf(
        "\n  (estimates at the last run: %.1f Mbit/s, RTT %.2f ms, load factor %.2f, "
        "queue %.1f ms)\n",
        last.bandwidth_mbit, last.rtt_ms, last.load_factor_estimate, last.queue_ms_estimate);
  }
  return 0;
}

}  // namespace edgeinfer::tools

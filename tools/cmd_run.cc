// edgeinfer run: run an ONNX model on this machine and report outputs and latency.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "args.h"
#include "commands.h"
#include "core/npy.h"
#include "core/parallel.h"
#include "edgeinfer/session.h"
#include "inputs.h"
#include "report.h"

namespace edgeinfer::tools {

namespace {

void PrintHelp() {
  std::printf(
      "usage: edgeinfer run MODEL.onnx [options]\n\n"
      "Runs the model on the CPU and prints each output's shape and summary (top-5 classes for\n"
      "a classifier) and the median latency over the repeats.\n\n"
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
      "  --json                 print one JSON object on stdout instead of text\n\n%s",
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

}  // namespace

int RunCommand(int argc, char** argv) {
  Args args({"--input", "--input-dir", "--seed", "--threads", "--repeat", "--save-outputs",
             "--save-inputs", "--backend"},
            {"--json", "--help", "-h"});
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
  long long seed, threads, repeat;
  if (!args.GetInt("--seed", 0, &seed) || !args.GetInt("--threads", 0, &threads) ||
      !args.GetInt("--repeat", 10, &repeat)) {
    std::fprintf(stderr, "edgeinfer run: %s\n", args.error().c_str());
    return 2;
  }
  if (repeat < 1 || threads < 0) {
    std::fprintf(stderr, "edgeinfer run: --repeat must be >= 1 and --threads >= 0\n");
    return 2;
  }
  const std::string model = args.positionals()[0];
  const bool json = args.Has("--json");

  SessionOptions options;
  options.threads = static_cast<int>(threads);
  options.backend = args.Get("--backend", "cpu");
  auto t0 = std::chrono::steady_clock::now();
  auto session = Session::Open(model, options);
  if (!session.ok()) {
    std::fprintf(stderr, "edgeinfer run: %s: %s\n", model.c_str(),
                 session.status().ToString().c_str());
    return 1;
  }
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
  // The first run compiles for these input shapes; it counts as load time, not latency.
  auto first = (*session)->Run(*inputs);
  if (!first.ok()) {
    std::fprintf(stderr, "edgeinfer run: %s: %s\n", model.c_str(),
                 first.status().ToString().c_str());
    return 1;
  }
  double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> ms;
  std::vector<NamedTensor> outputs = std::move(first).value();
  for (long long r = 0; r < repeat; ++r) {
    auto s = std::chrono::steady_clock::now();
    auto out = (*session)->Run(*inputs);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
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
  report["threads"] = GetNumThreads();
  report["repeat"] = repeat;
  report["load_ms"] = load_ms;
  report["median_ms"] = Median(ms);
  report["min_ms"] = *std::min_element(ms.begin(), ms.end());
  report["max_ms"] = *std::max_element(ms.begin(), ms.end());
  report["run_ms"] = ms;
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  report["peak_rss_mb"] = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB
  report["outputs"] = nlohmann::json::array();
  for (const NamedTensor& o : outputs) report["outputs"].push_back(SummarizeOutput(o));
  if (json) {
    std::cout << report.dump() << std::endl;
    return 0;
  }
  std::printf("model %s  (%d threads, backend %s)\n", model.c_str(), GetNumThreads(),
              options.backend.c_str());
  std::printf("outputs:\n");
  for (const auto& o : report["outputs"]) std::printf("%s", FormatSummary(o).c_str());
  std::printf("latency: median %.3f ms  min %.3f ms  over %lld runs  (load+compile %.1f ms)\n",
              report["median_ms"].get<double>(), report["min_ms"].get<double>(), repeat, load_ms);
  return 0;
}

}  // namespace edgeinfer::tools

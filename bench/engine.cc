// bench_engine: edgeinfer vs ONNX Runtime on the same CPU, side by side, interleaved.
//
// For each zoo model (or the ONNX files given) and each thread count, it alternates rounds of
// `edgeinfer run --json` and ONNX Runtime (tests/oracle/ort_run.js: graph optimisation level
// all, the same intra-op thread count, one inter-op thread), each a fresh process that loads the
// model, warms up once and times --repeat runs. The reported latency is the median over all
// timed runs of all rounds; peak memory is the process's peak RSS (ONNX Runtime's includes the
// Node.js runtime, about 45 MB, reported separately as its baseline); load time is session
// creation (read, import, optimise, compile for static shapes) and first run is the warm-up run
// (which compiles for the input shapes where a model's shapes are symbolic), each the median over
// rounds. GFLOP/s uses edgeinfer's FLOP count of the model and is shown next
// to this machine's measured sgemm peak (oneDNN, 2048^3) at the same thread count.
//
// usage: bench_engine [--models a,b,...] [--threads 1,2] [--rounds N] [--repeat N]
//                     [--edgeinfer-env VAR=VALUE] [--out docs/benchmarks.md]
//                     [extra.onnx[@DIMS] ...]
//
// An extra model's first input takes the shape DIMS (e.g. det.onnx@1x3x320x448) when given,
// which models with dynamic spatial dims need; its data is seeded uniform [0, 1).
//
// The "ref %" column is the share of edgeinfer's summed step time spent in naive reference
// kernels (`edgeinfer profile --json`, reference_share: steps with no optimised path), measured
// once per model and thread count after the timed rounds.
//
// --edgeinfer-env runs every edgeinfer child with that variable, e.g. EDGEINFER_OMP_WAIT=passive
// to keep its idle OpenMP workers from spinning (edgeinfer's default, auto, spins briefly like
// ONNX Runtime's pool when the machine is idle as it starts; see backend/cpu/openmp_env.h). The
// table states the wait policy each edgeinfer run reported.
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu/openmp_env.h"
#include "bench_util.h"
#include "core/npy.h"
#include "core/parallel.h"
#include "ir/flops.h"
#include "onnx/onnx_io.h"
#include "ops/passes.h"
#include "sgemm_peak.h"
#include "zoo/zoo.h"

namespace edgeinfer::bench {
namespace {

std::string Shell(const std::string& cmd, int* rc) {
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  if (!pipe) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  *rc = pclose(pipe);
  return out;
}

// "spin x12, passive x2": how many edgeinfer runs reported each OpenMP wait policy.
std::string WaitSummary(const std::map<std::string, int>& seen) {
  std::string text;
  for (const auto& [policy, n] : seen) {
    if (!text.empty()) text += ", ";
    text += policy + " x" + std::to_string(n);
  }
  return text.empty() ? "none" : text;
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// "1x3x320x448" -> {1, 3, 320, 448}; empty on a malformed text.
Shape ParseDims(const std::string& text) {
  Shape dims;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, 'x')) {
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos) return {};
    dims.push_back(std::stoll(part));
  }
  return dims;
}

// `first_input`, when not empty, is the shape of the model's first input.
double ModelFlops(const std::string& path, const Shape& first_input) {
  auto g = ImportOnnxFile(path);
  if (!g.ok()) return NAN;
  std::map<std::string, Shape> shapes;
  for (ValueId id : g->inputs()) {
    Shape s = g->value(id).shape;
    for (int64_t& d : s) d = d < 0 ? 1 : d;
    if (id == g->inputs()[0] && !first_input.empty()) s = first_input;
    shapes[g->value(id).name] = s;
  }
  if (!Specialize(&*g, shapes).ok()) return NAN;
  double f = 0;
  for (const Node& node : g->nodes()) f += NodeFlops(*g, node);
  return f;
}

struct Row {
  std::string model;
  int threads;
  double ei_ms, ort_ms, ei_rss, ort_rss, ei_load, ort_load, ei_first, ort_first, gflop, peak;
  double reference_share;  // of edgeinfer's summed step time, 0..1; NAN when not measured
};

}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string> models = {"vgg16",       "resnet18",  "resnet50",
                                     "mobilenetv2", "googlenet", "squeezenet1.1",
                                     "openpose",    "alexnet",   "yolov2-tiny"};
  std::vector<int> threads = {1, 2};
  int rounds = 3, repeat = 10;
  std::string out_md;
  std::string ei_env;  // "VAR=VALUE" for the edgeinfer children, or empty
  std::vector<std::string> extra;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--models")
      models = SplitComma(next());
    else if (a == "--threads") {
      threads.clear();
      for (const auto& t : SplitComma(next())) threads.push_back(std::stoi(t));
    } else if (a == "--rounds")
      rounds = std::stoi(next());
    else if (a == "--repeat")
      repeat = std::stoi(next());
    else if (a == "--out")
      out_md = next();
    else if (a == "--edgeinfer-env") {
      ei_env = next();
      const size_t eq = ei_env.find('=');
      if (eq == std::string::npos || eq == 0 ||
          ei_env.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789=") != std::string::npos) {
        std::fprintf(stderr,
                     "bench_engine: --edgeinfer-env wants VAR=VALUE (e.g. "
                     "GOMP_SPINCOUNT=100000), got '%s'\n",
                     ei_env.c_str());
        return 2;
      }
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: bench_engine [--models a,b] [--threads 1,2] [--rounds N] [--repeat N] "
          "[--edgeinfer-env VAR=VALUE] [--out FILE.md] [extra.onnx[@DIMS] ...]\n");
      return 0;
    } else
      extra.push_back(a);
  }
  const std::string src = EDGEINFER_SOURCE_DIR;
  const std::string cli = EDGEINFER_CLI;
  const std::string work = "out/bench";
  std::filesystem::create_directories(work);

  std::vector<std::pair<std::string, std::string>> files;  // (label, path)
  std::map<std::string, Shape> first_input;                // by label, for extra@DIMS
  for (const std::string& m : models) {
    std::string path = work + "/" + m + ".onnx";
    if (!std::filesystem::exists(path)) {
      int rc;
      std::string o = Shell(cli + " zoo " + m + " -o " + path, &rc);
      if (rc != 0) {
        std::fprintf(stderr, "bench_engine: cannot write zoo model %s: %s\n", m.c_str(), o.c_str());
        return 1;
      }
    }
    files.push_back({m, path});
  }
  for (const std::string& e : extra) {
    const size_t at = e.rfind('@');
    const std::string path = at == std::string::npos ? e : e.substr(0, at);
    const std::string label = std::filesystem::path(path).stem().string();
    if (at != std::string::npos) {
      first_input[label] = ParseDims(e.substr(at + 1));
      if (first_input[label].empty()) {
        std::fprintf(stderr, "bench_engine: '%s': DIMS after @ must look like 1x3x320x448\n",
                     e.c_str());
        return 2;
      }
    }
    files.push_back({label, path});
  }

  std::vector<double> peaks;
  for (int t : threads) peaks.push_back(SgemmPeak(t));
  std::printf("sgemm 2048^3 peak:");
  for (size_t i = 0; i < threads.size(); ++i)
    std::printf("  %d thr %.1f GFLOP/s", threads[i], peaks[i]);
  std::printf("\n");

  std::vector<Row> rows;
  std::map<std::string, int> wait_seen;  // OpenMP wait policy -> edgeinfer runs
  for (const auto& [label, path] : files) {
    const Shape dims = first_input.count(label) ? first_input[label] : Shape{};
    double flops = ModelFlops(path, dims);
    // One input file so both engines see identical data.
    std::string in_dir = work + "/" + label + "_inputs";
    std::string given;  // --input for the first input when its shape is given
    if (!dims.empty()) {
      auto g = ImportOnnxFile(path);
      if (!g.ok() || g->inputs().empty()) {
        std::fprintf(stderr, "bench_engine: cannot read %s\n", path.c_str());
        continue;
      }
      Tensor x = Tensor::Empty(DType::kFloat32, dims);
      uint64_t state = 12345;
      for (int64_t i = 0; i < x.numel(); ++i) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        x.data<float>()[i] = static_cast<float>(state >> 40) / static_cast<float>(1 << 24);
      }
      const std::string name = g->value(g->inputs()[0]).name;
      const std::string file = work + "/" + label + "_given.npy";
      if (!WriteNpyFile(file, x).ok()) {
        std::fprintf(stderr, "bench_engine: cannot write %s\n", file.c_str());
        continue;
      }
      given = " --input '" + name + "=" + file + "'";
    }
    int rc;
    std::filesystem::remove_all(in_dir);
    std::string o = Shell(
        cli + " run " + path + given + " --repeat 1 --threads 1 --json --save-inputs " + in_dir,
        &rc);
    if (rc != 0) {
      std::fprintf(stderr, "bench_engine: edgeinfer cannot run %s: %s\n", label.c_str(), o.c_str());
      continue;
    }
    std::string ort_inputs;
    for (const auto& entry : std::filesystem::directory_iterator(in_dir)) {
      ort_inputs += " --input '" + entry.path().stem().string() + "=" + entry.path().string() + "'";
    }
    for (size_t ti = 0; ti < threads.size(); ++ti) {
      int t = threads[ti];
      std::vector<double> ei_runs, ort_runs, ei_rss, ort_rss, ei_load, ort_load, ei_first,
          ort_first;
      for (int r = 0; r < rounds; ++r) {
        std::string ei = Shell((ei_env.empty() ? "" : "env " + ei_env + " ") + cli + " run " +
                                   path + " --json --threads " + std::to_string(t) + " --repeat " +
                                   std::to_string(repeat) + " --input-dir " + in_dir,
                               &rc);
        auto ej = nlohmann::json::parse(ei, nullptr, false);
        if (rc != 0 || ej.is_discarded()) {
          std::fprintf(stderr, "bench_engine: edgeinfer failed on %s: %s\n", label.c_str(),
                       ei.c_str());
          break;
        }
        for (double ms : ej["run_ms"]) ei_runs.push_back(ms);
        ei_rss.push_back(ej["peak_rss_mb"]);
        ++wait_seen[ej.value("openmp_wait", std::string("unknown"))];
        ei_load.push_back(ej["load_ms"]);
        ei_first.push_back(ej.value("first_run_ms", NAN));
        std::string ort = Shell("node " + src + "/tests/oracle/ort_run.js --model " + path +
                                    ort_inputs + " --threads " + std::to_string(t) +
                                    " --warmup 1 --repeat " + std::to_string(repeat),
                                &rc);
        auto oj = nlohmann::json::parse(ort, nullptr, false);
        if (rc != 0 || oj.is_discarded()) {
          std::fprintf(stderr, "bench_engine: onnxruntime failed on %s: %s\n", label.c_str(),
                       ort.c_str());
          break;
        }
        for (double ms : oj["run_ms"]) ort_runs.push_back(ms);
        ort_rss.push_back(oj["rss_mb"]);
        ort_load.push_back(oj["load_ms"]);
        ort_first.push_back(oj.value("first_run_ms", NAN));
      }
      // The reference-kernel share, from one profile on the same inputs.
      double reference_share = NAN;
      std::string prof = Shell(cli + " profile " + path + " --json --threads " + std::to_string(t) +
                                   " --repeat 3" + ort_inputs,
                               &rc);
      auto pj = nlohmann::json::parse(prof, nullptr, false);
      if (rc == 0 && !pj.is_discarded() && pj.contains("reference_share")) {
        reference_share = pj["reference_share"];
      } else {
        std::fprintf(stderr, "bench_engine: edgeinfer profile failed on %s: %s\n", label.c_str(),
                     prof.c_str());
      }
      Row row{label,
              t,
              Median(ei_runs),
              Median(ort_runs),
              Median(ei_rss),
              Median(ort_rss),
              Median(ei_load),
              Median(ort_load),
              Median(ei_first),
              Median(ort_first),
              flops / 1e9,
              peaks[ti],
              reference_share};
      std::printf(
          "%-14s %d thr  edgeinfer %9.2f ms  onnxruntime %9.2f ms  ratio %.3f  ref %.1f%%  "
          "rss %6.0f / %6.0f MB  %6.1f GFLOP/s (peak %.0f)\n",
          label.c_str(), t, row.ei_ms, row.ort_ms, row.ei_ms / row.ort_ms,
          100.0 * row.reference_share, row.ei_rss, row.ort_rss, row.gflop / row.ei_ms * 1e3,
          row.peak);
      std::fflush(stdout);
      rows.push_back(row);
    }
  }

  // The table, in Markdown.
  std::ostringstream md;
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  struct utsname u {};
  uname(&u);
  const std::string cpu = CpuModelName();
  int ort_rc;
  std::string ort_version =
      Shell("node -e \"console.log(require('" + src +
                "/tests/oracle/node_modules/onnxruntime-node').env.versions.common)\"",
            &ort_rc);
  ort_version.erase(ort_version.find_last_not_of("\n ") + 1);
  md << "### Engine: edgeinfer vs ONNX Runtime " << ort_version << " (" << date << ")\n\n";
  md << "Machine: " << cpu << ", " << std::thread::hardware_concurrency() << " cores, " << u.sysname
     << " " << u.release << ". Batch 1, median of " << rounds << " interleaved rounds x " << repeat
     << " timed runs after a warm-up run. Ratio < 1 means edgeinfer is faster. edgeinfer OpenMP "
        "wait: "
     << (ei_env.empty() ? std::string("its default (auto)") : ei_env)
     << ", as the runs reported: " << WaitSummary(wait_seen)
     << "; ONNX Runtime: its default (spinning intra-op pool).\n\n";
  md << "| model | threads | edgeinfer ms | ORT ms | ratio | ref % | edgeinfer peak RSS MB | ORT "
        "peak RSS MB "
        "| edgeinfer load ms | ORT load ms | edgeinfer first run ms | ORT first run ms | GFLOPs "
        "| edgeinfer GFLOP/s | sgemm peak GFLOP/s |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  double log_sum = 0;
  int n = 0;
  for (const Row& r : rows) {
    char line[512];
    std::snprintf(
        line, sizeof line,
        "| %s | %d | %.2f | %.2f | %.3f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f | "
        "%.1f | %.0f |\n",
        r.model.c_str(), r.threads, r.ei_ms, r.ort_ms, r.ei_ms / r.ort_ms,
        100.0 * r.reference_share, r.ei_rss, r.ort_rss, r.ei_load, r.ort_load, r.ei_first,
        r.ort_first, r.gflop, r.gflop / r.ei_ms * 1e3, r.peak);
    md << line;
    if (std::isfinite(r.ei_ms / r.ort_ms)) {
      log_sum += std::log(r.ei_ms / r.ort_ms);
      ++n;
    }
  }
  char gm[128];
  std::snprintf(gm, sizeof gm, "\nGeometric mean of the latency ratio: %.3f over %d rows.\n",
                n ? std::exp(log_sum / n) : NAN, n);
  md << gm;
  std::string cmdline = "build/bench_engine";
  for (int i = 1; i < argc; ++i) cmdline += std::string(" ") + argv[i];
  md << "\nReproduce: `" << cmdline << "`\n";
  std::cout << "\n" << md.str();
  if (!out_md.empty()) {
    std::ofstream f(out_md, std::ios::app);
    f << "\n" << md.str();
    std::printf("appended to %s\n", out_md.c_str());
  }
  return 0;
}

}  // namespace edgeinfer::bench

int main(int argc, char** argv) {
  // The sgemm peak runs in this process, with the wait policy edgeinfer would choose; the
  // edgeinfer children choose their own (each run samples the machine as it starts).
  edgeinfer::ConfigureOpenMpWait(argv, edgeinfer::OpenMpWait::kAuto);
  edgeinfer::ForgetAppliedOpenMpWait();
  return edgeinfer::bench::Main(argc, argv);
}

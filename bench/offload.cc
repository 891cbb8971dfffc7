// bench_offload: what offloading to an edge server costs over running the same model locally.
//
// Against a running server (edgeinfer serve ... --threads N --allow-upload), it measures:
//  1. a zoo model (default ResNet-50) run locally in this process with N threads, and the same
//     model in remote mode (the server computes with its N threads): median latency of each,
//     the remote run's breakdown (upload, server queue, server compute, download), and the
//     overhead: remote median minus local median minus transfer time;
//  2. loopback throughput: a 50 MB float32 tensor through Relu on the server (50 MB each way);
//     throughput = bytes sent and received / (round trip - server compute).
// Transfer time is the round trip minus the server-reported queue and compute time, split by
// bytes sent and received (see RunStats in edgeinfer/session.h). Medians over --repeat runs
// after one warm-up run (which also uploads and compiles).
//
// usage: bench_offload --server HOST:PORT [--threads N] [--repeat N] [--model NAME]
//                      [--tensor-mb N] [--out FILE.md]
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "net/memory_policy.h"
#include "onnx/onnx_io.h"
#include "zoo/zoo.h"

namespace edgeinfer::bench {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timings {
  std::vector<double> total, upload, queue, compute, download;
  int64_t sent = 0, received = 0;
};

// Opens `bytes` with `options`, runs once to warm up, then `repeat` timed runs.
Result<Timings> Measure(const std::string& bytes, const SessionOptions& options,
                        const std::vector<NamedTensor>& inputs, int repeat) {
  EI_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                      Session::OpenFromBytes(bytes, ".", options));
  EI_RETURN_IF_ERROR(session->Run(inputs).status());
  Timings t;
  for (int r = 0; r < repeat; ++r) {
    RunStats s;
    EI_RETURN_IF_ERROR(session->RunWithStats(inputs, &s).status());
    t.total.push_back(s.total_ms);
    t.upload.push_back(s.upload_ms);
    t.queue.push_back(s.server_queue_ms);
    t.compute.push_back(s.server_compute_ms);
    t.download.push_back(s.download_ms);
    t.sent = s.bytes_sent;
    t.received = s.bytes_received;
  }
  return t;
}

Tensor Filled(const Shape& shape) {
  Tensor t = Tensor::Empty(DType::kFloat32, shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(i % 255) / 255.f - 0.5f;
  return t;
}

// x[1, n] -> Relu -> y: the server's compute is a memory pass, the rest is transfer.
Result<std::string> ReluModel(int64_t n) {
  Graph g;
  g.name = "relu_" + std::to_string(n);
  ValueId x = g.AddInput("x", DType::kFloat32, {1, n});
  ValueId y = g.AddValue("y", DType::kFloat32, {1, n});
  g.AddNode(OpKind::kRelu, "relu", {x}, {y});
  g.AddOutput(y);
  return ExportOnnx(g);
}

int Main(int argc, char** argv) {
  // As `edgeinfer run` and `serve` do (see net/memory_policy.h).
  net::RetainLargeAllocations();
  std::string server, model = "resnet50", out_md;
  int threads = 1, repeat = 20;
  double tensor_mb = 50;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--server") {
      server = next();
    } else if (a == "--threads") {
      threads = std::atoi(next().c_str());
    } else if (a == "--repeat") {
      repeat = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--model") {
      model = next();
    } else if (a == "--tensor-mb") {
      tensor_mb = std::atof(next().c_str());
    } else if (a == "--out") {
      out_md = next();
    } else {
      std::fprintf(stderr,
                   "usage: bench_offload --server HOST:PORT [--threads N] [--repeat N] "
                   "[--model NAME] [--tensor-mb N] [--out FILE.md]\n");
      return 2;
    }
  }
  if (server.empty()) {
    std::fprintf(stderr, "bench_offload: --server HOST:PORT is required\n");
    return 2;
  }
  const ZooModel* zoo = FindZooModel(model);
  if (zoo == nullptr) {
    std::fprintf(stderr, "bench_offload: no zoo model '%s'\n", model.c_str());
    return 2;
  }
  auto graph = zoo->build(1);
  auto bytes = graph.ok() ? ExportOnnx(*graph) : Result<std::string>(graph.status());
  if (!bytes.ok()) {
    std::fprintf(stderr, "bench_offload: %s\n", bytes.status().ToString().c_str());
    return 1;
  }
  std::vector<NamedTensor> inputs = {{"input", Filled(zoo->input_shape)}};
  SessionOptions local_options;
  local_options.threads = threads;
  local_options.mode = ExecutionMode::kLocal;
  SessionOptions remote_options = local_options;
  remote_options.mode = ExecutionMode::kRemote;
  remote_options.accelerator = server;
  remote_options.timeout_ms = 120000;
  auto local = Measure(*bytes, local_options, inputs, repeat);
  auto remote = Measure(*bytes, remote_options, inputs, repeat);
  const int64_t n = static_cast<int64_t>(tensor_mb * 1e6 / 4);
  auto relu = ReluModel(n);
  Result<Timings> big = relu.status();
  if (relu.ok()) big = Measure(*relu, remote_options, {{"x", Filled({1, n})}}, repeat);
  for (const Status& s : {local.status(), remote.status(), big.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "bench_offload: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  const double local_ms = Median(local->total), remote_ms = Median(remote->total);
  const double transfer_ms = Median(remote->upload) + Median(remote->download);
  const double overhead_ms = remote_ms - local_ms - transfer_ms;
  const double big_transfer_ms = Median(big->upload) + Median(big->download);
  const double gbps =
      static_cast<double>(big->sent + big->received) / 1e9 / std::max(1e-9, big_transfer_ms / 1e3);

  struct utsname un {};
  uname(&un);
  char date[32];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  std::ostringstream md;
  md << "### Offload overhead (" << date << ", " << un.machine << ", server " << server << ", "
     << threads << " threads each side, median of " << repeat << ")\n\n"
     << "| " << model << " | ms |\n|---|---:|\n";
  char line[200];
  auto row = [&](const char* label, double v) {
    std::snprintf(line, sizeof line, "| %s | %.3f |\n", label, v);
    md << line;
  };
  row("local (this process)", local_ms);
  row("remote total", remote_ms);
  row("  upload", Median(remote->upload));
  row("  server queue", Median(remote->queue));
  row("  server compute", Median(remote->compute));
  row("  download", Median(remote->download));
  row("remote - local - transfer (overhead)", overhead_ms);
  std::snprintf(line, sizeof line,
                "\nOverhead %.1f%% of local (target <= 5%% plus transfer). Request %lld B, "
                "reply %lld B.\n\n",
                100.0 * overhead_ms / local_ms, static_cast<long long>(remote->sent),
                static_cast<long long>(remote->received));
  md << line;
  std::snprintf(line, sizeof line,
                "Loopback: %.0f MB each way through Relu: round trip %.1f ms, server compute "
                "%.1f ms, transfer %.1f ms, %.2f GB/s (target >= 1 GB/s).\n",
                tensor_mb, Median(big->total), Median(big->compute), big_transfer_ms, gbps);
  md << line;
  std::printf("%s", md.str().c_str());
  if (!out_md.empty()) std::ofstream(out_md, std::ios::app) << "\n" << md.str();
  return 0;
}

}  // namespace
}  // namespace edgeinfer::bench

int main(int argc, char** argv) { return edgeinfer::bench::Main(argc, argv); }

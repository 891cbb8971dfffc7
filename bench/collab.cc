// bench_collab: the collaborative mode (issue 15) against one server, on one set-up.
//
// Edge servers run as child processes (`edgeinfer serve`), each held to a CPU share with a cgroup
// quota (--servers: cores per server, the host first), all loading the model from one repository
// directory. Each host-peer link goes through a userspace link emulator in this process
// (testbed/linkem.h: --bandwidth Mbit/s, --rtt ms). The device is this process, on loopback to
// the host (no emulated link: it is the same for every scheme).
//
// For every scheme a host is started: `single` is a host without peers, run in remote mode (the
// whole model on one server of the host's share); `modnn` and `halp` are the collaborative mode
// with --collab-scheme modnn / halp. Each scheme runs --warmup requests (bands are compiled on
// first use) and then --repeat timed requests; the table gives the median and minimum of
// RunStats::total_ms, the servers that took part and the speed-up over `single`. --static plans
// with the quotas as speeds and free links (serve --collab-speeds) instead of measuring.
//
// usage: bench_collab [--model vgg16] [--servers 0.5,0.5] [--bandwidth 1000] [--rtt 1]
//                     [--warmup 3] [--repeat 5] [--threads 1] [--schemes single,modnn,halp]
//                     [--static]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/units.h"
#include "edgeinfer/session.h"
#include "loadpart/process.h"
#include "onnx/onnx_io.h"
#include "testbed/linkem.h"
#include "zoo/zoo.h"

namespace edgeinfer {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_collab: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Check(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().ToString());
  return std::move(*r);
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    items.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

struct Flags {
  std::string model = "vgg16";
  std::vector<double> cores = {0.5, 0.5};
  double bandwidth_mbit = 1000.0;
  double rtt_ms = 1.0;
  int warmup = 3;
  int repeat = 5;
  int threads = 1;
  std::vector<std::string> schemes = {"single", "modnn", "halp"};
  bool fixed = false;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--static") {
      f.fixed = true;
      continue;
    }
    if (i + 1 >= argc) Die("flag " + flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--model") {
      f.model = value;
    } else if (flag == "--servers") {
      f.cores.clear();
      for (const std::string& c : SplitComma(value)) {
        f.cores.push_back(Check(ParseNumber(c, "--servers"), "--servers"));
      }
    } else if (flag == "--bandwidth") {
      f.bandwidth_mbit = Check(ParseNumber(value, "--bandwidth"), "--bandwidth");
    } else if (flag == "--rtt") {
      f.rtt_ms = Check(ParseNumber(value, "--rtt"), "--rtt");
    } else if (flag == "--warmup") {
      f.warmup = std::atoi(value.c_str());
    } else if (flag == "--repeat") {
      f.repeat = std::atoi(value.c_str());
    } else if (flag == "--threads") {
      f.threads = std::atoi(value.c_str());
    } else if (flag == "--schemes") {
      f.schemes = SplitComma(value);
    } else {
      Die("unknown flag " + flag);
    }
  }
  if (f.cores.empty() || f.repeat < 1 || f.warmup < 0 || f.threads < 1) Die("bad flags");
  return f;
}

std::unique_ptr<bench::ChildProcess> StartServer(const std::vector<std::string>& extra,
                                                 const std::string& log, std::string* address) {
  std::vector<std::string> argv = {EDGEINFER_CLI, "serve",  "--grpc",
                                   "127.0.0.1:0", "--http", "none"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto child = Check(bench::ChildProcess::Start(argv, false, log), "starting " + log);
  *address = Check(child->WaitForLogValue("listening grpc=", 600000), "waiting for " + log);
  return child;
}

struct Row {
  std::string scheme;
  double median_ms = 0.0;
  double min_ms = 0.0;
  int servers = 0;
};

}  // namespace
}  // namespace edgeinfer

int main(int argc, char** argv) {
  using namespace edgeinfer;
  bench::InstallCleanupHandlers();
  const Flags f = ParseFlags(argc, argv);
  const ZooModel* zm = FindZooModel(f.model);
  if (zm == nullptr) Die("unknown zoo model " + f.model);
  const std::string dir = "/tmp/bench_collab-" + std::to_string(getpid());
  const std::string model_dir = dir + "/repo/" + f.model + "/1";
  std::filesystem::create_directories(model_dir);
  const std::string model_path = model_dir + "/model.onnx";
  {
    Graph g = Check(zm->build(1), "building " + f.model);
    if (Status s = ExportOnnxFile(g, model_path); !s.ok()) Die(s.ToString());
  }
  const std::string threads = std::to_string(f.threads);
  auto common = [&](double cores) {
    return std::vector<std::string>{"--repository", dir + "/repo",        "--threads",
                                    threads,        "--workers",          "1",
                                    "--cpu-quota",  std::to_string(cores)};
  };
  // Peers and their links, once for every scheme.
  std::vector<std::unique_ptr<bench::ChildProcess>> peers;
  std::vector<std::unique_ptr<net::LinkEmulator>> links;
  std::string peer_list;
  for (size_t i = 1; i < f.cores.size(); ++i) {
    std::string address;
    peers.push_back(
        StartServer(common(f.cores[i]), dir + "/peer" + std::to_string(i) + ".log", &address));
    net::LinkOptions link;
    link.to = address;
    link.rate_bps = f.bandwidth_mbit * 1e6;
    link.delay_ms = f.rtt_ms / 2;
    links.push_back(Check(net::LinkEmulator::Start(link), "link emulator"));
    peer_list += (peer_list.empty() ? "" : ",") + links.back()->address();
  }
  std::string speeds;
  for (double c : f.cores) speeds += (speeds.empty() ? "" : ",") + std::to_string(c / f.cores[0]);

  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  Tensor input = Tensor::Allocate(DType::kFloat32, zm->input_shape).value();
  for (int64_t i = 0; i < input.numel(); ++i) input.data<float>()[i] = u(rng);

  std::vector<Row> rows;
  for (const std::string& scheme : f.schemes) {
    std::vector<std::string> args = common(f.cores[0]);
    const bool single = scheme == "single";
    if (!single) {
      if (peer_list.empty()) Die("collaborative schemes need at least two --servers");
      args.insert(args.end(),
                  {"--peers", peer_list, "--collab-scheme", scheme, "--peer-timeout-ms", "600000"});
      if (f.fixed) args.insert(args.end(), {"--collab-speeds", speeds});
    }
    std::string host_address;
    auto host = StartServer(args, dir + "/host-" + scheme + ".log", &host_address);
    SessionOptions options;
    options.accelerator = host_address;
    options.mode = single ? ExecutionMode::kRemote : ExecutionMode::kCollab;
    options.timeout_ms = 600000;
    auto session = Check(Session::Open(model_path, options), "session for " + scheme);
    const std::vector<NamedTensor> in = {{"input", input}};  // every zoo classifier reads "input"
    std::vector<double> ms;
    Row row;
    row.scheme = scheme;
    for (int r = 0; r < f.warmup + f.repeat; ++r) {
      RunStats stats;
      Check(session->RunWithStats(in, &stats), scheme + " run");
      if (r < f.warmup) continue;
      ms.push_back(stats.total_ms);
      row.servers = std::max(row.servers, single ? 1 : stats.collab_servers);
    }
    std::sort(ms.begin(), ms.end());
    row.median_ms = ms[ms.size() / 2];
    row.min_ms = ms.front();
    rows.push_back(row);
    std::fprintf(stderr, "bench_collab: %s done (median %.1f ms)\n", scheme.c_str(), row.median_ms);
    host->Kill();
  }
  double single_ms = 0.0;
  for (const Row& r : rows) {
    if (r.scheme == "single") single_ms = r.median_ms;
  }
  std::string cores;
  for (double c : f.cores) cores += (cores.empty() ? "" : ",") + std::to_string(c).substr(0, 4);
  std::printf(
      "bench_collab: %s, servers (cores) %s, host-peer links %.0f Mbit/s RTT %.1f ms, "
      "%d thread(s) per server, %s plan, median of %d after %d warm-up\n",
      f.model.c_str(), cores.c_str(), f.bandwidth_mbit, f.rtt_ms, f.threads,
      f.fixed ? "static" : "adaptive", f.repeat, f.warmup);
  std::printf("| scheme | servers used | median ms | min ms | speed-up vs single |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf(
        "| %s | %d | %.1f | %.1f | %s |\n", r.scheme.c_str(), r.servers, r.median_ms, r.min_ms,
        single_ms > 0 ? (std::to_string(single_ms / r.median_ms).substr(0, 4) + "x").c_str() : "-");
  }
  peers.clear();
  links.clear();
  if (std::getenv("BENCH_COLLAB_KEEP") == nullptr) std::filesystem::remove_all(dir);
  return 0;
}

// bench_loadpart: load-aware partitioning (LoADPart) against Neurosurgeon, local, remote and an
// oracle, on zoo models, with a varying link and a varying server load (issue #5 item 9).
//
// Set-up, all on one machine:
//  - an edge server child process (edgeinfer serve --threads T --workers W);
//  - three emulated devices, one for auto, one for auto-noload and one for the fixed cuts
//    (local, remote, split:P): each a child process held to --device-cores CPUs (or to
//    --device-gflops GFLOP/s of this host's sgemm peak) by a cgroup quota (testbed/cpu_quota.h),
//    behind its own link emulator (testbed/linkem.h) in this process, all links' rates stepped
//    together through --bandwidth between slots, --delay one way. Separate devices keep one auto
//    session's background probes off another policy's link and quota;
//  - server load from background clients, threads of this process that send closed-loop
//    remote inferences of --load-model straight to the server (not through the link):
//      idle   no background client
//      light  --light-clients clients (default 2: the server's workers busy, no queue)
//      heavy  --heavy-clients clients (default 8: a queue in front of the workers)
//      idle2  no background client again (does auto notice that the load is gone?)
// Each phase has --requests slots; slot j runs at link rate bandwidth[j % n]. In one slot every
// policy runs one request back to back, in an order rotated from slot to slot: auto,
// auto-noload, local, remote and split:P for the oracle's candidate cuts. The candidates are the
// distinct cuts the planner picks (load-aware policy) over a grid of conditions: bandwidth x
// server load factor k x queue time, using the device's profile under the quota and an
// unloaded profile of the server's thread count; at most --max-cuts, the most often picked.
// A split that auto or auto-noload chooses outside that set joins the fixed cuts from the slot
// where it was first chosen (measured in that slot too), so the oracle never lacks a used cut.
// The oracle of a slot is the fastest of the fixed cuts measured in it (local, remote, splits).
// Before the slot's measured requests the adaptive policies run unmeasured requests at the
// slot's conditions, taking turns, at least --settle each and for at least --settle-ms in all,
// so that their estimators (and background probes, which refresh estimates older than 1 s)
// have seen the new rate and load.
//
// usage: bench_loadpart [--models a,b] [--requests N] [--quick | --demo] [--no-write] ...
//        (--help lists every flag)
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench_util.h"
#include "edgeinfer/session.h"
#include "loadpart/process.h"
#include "loadpart/report.h"
#include "loadpart/worker.h"
#include "net/client.h"
#include "net/memory_policy.h"
#include "onnx/onnx_io.h"
#include "planner/cost_table.h"
#include "planner/planner.h"
#include "sgemm_peak.h"
#include "testbed/cpu_quota.h"
#include "testbed/linkem.h"
#include "zoo/zoo.h"

namespace edgeinfer::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::vector<std::string> models = {"resnet18",  "resnet50",      "mobilenetv2",
                                     "googlenet", "squeezenet1.1", "alexnet"};
  std::vector<double> bandwidths = {100, 50, 20, 10, 5};  // Mbit/s
  int requests = 5;                                       // slots per phase
  int settle = 2;
  int samples = 1;  // measured requests per policy per slot; the slot's value is their median
  double settle_ms = 1500;
  int max_cuts = 4;
  double delay_ms = 5;
  double device_cores = 0.1;
  double device_gflops = 0;  // > 0: the device's speed in GFLOP/s, overriding device_cores
  double quota_period_ms = 10;
  int device_threads = 1;
  int server_threads = 1;
  int server_workers = 2;
  int light_clients = 2;
  int heavy_clients = 8;
  std::string load_model = "resnet50";
  double load_warmup_s = 1.5;
  double gap_ms = 30;       // idle time before every measured request
  std::string server_cpus;  // empty: the upper half of this machine's CPUs
  std::string device_cpus;  // empty: the lower half
  bool pin = true;
  std::string cli = EDGEINFER_CLI;
  std::string svg_model;  // empty: the first model
  std::string csv;        // empty: docs/loadpart.csv when writing
  bool write = true;
  bool demo = false;
  bool oracle = true;
  std::string command;
};

const char kUsage[] =
    "usage: bench_loadpart [--models a,b,...] [--requests N] [--quick | --demo] [--no-write]\n"
    "  [--bandwidth 100,50,20,10,5] [--delay-ms 5] [--device-cores 0.1 | --device-gflops G]\n"
    "  [--quota-period-ms 10] [--device-threads 1] [--server-threads 1] [--server-workers 2]\n"
    "  [--light-clients 2] [--heavy-clients 8]\n"
    "  [--load-model resnet50] [--settle 2] [--settle-ms 1500] [--samples 1] [--max-cuts 4]\n"
    "  [--no-oracle] [--svg-model NAME]\n"
    "  [--csv FILE] [--cli PATH/edgeinfer] [--gap-ms 30]\n"
    "  [--server-cpus LIST] [--device-cpus LIST] [--no-pin]\n"
    "--requests: request slots per load phase (idle, light, heavy, idle2); in a slot every\n"
    "policy runs once. --quick: 3 small models, 3 slots per phase. --demo: the README demo\n"
    "(2 models, idle and heavy, local/remote/auto-noload/auto, prints only).\n"
    "Pinning (default with >= 2 CPUs): the server runs on the upper half of the CPUs\n"
    "(--server-cpus), the device worker, link emulator and background clients on the lower\n"
    "half (--device-cpus), like two machines; --no-pin lets them share every CPU.\n"
    "--gap-ms: idle time before each measured request, so that no request inherits CPU-quota\n"
    "debt (CFS throttling) from the one before it.\n"
    "--device-gflops G: the device's speed as G GFLOP/s of sgemm instead of a fraction of a\n"
    "core, so that the emulated device is equally fast on any host: its quota is G / (this\n"
    "host's one-core sgemm peak, measured at start) cores, with the CFS period lengthened\n"
    "where needed so the quota stays >= 1 ms (the kernel's minimum).\n";

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 0; i < argc; ++i) f->command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--models") {
      f->models = SplitComma(next());
    } else if (a == "--requests") {
      f->requests = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--quick") {
      f->models = {"resnet18", "mobilenetv2", "squeezenet1.1"};
      f->requests = 3;
      f->bandwidths = {50, 20, 5};
    } else if (a == "--demo") {
      f->demo = true;
      f->models = {"resnet18", "mobilenetv2"};
      f->requests = 3;
      f->bandwidths = {40, 20, 10};
      f->oracle = false;
      f->write = false;
    } else if (a == "--bandwidth") {
      f->bandwidths.clear();
      for (const std::string& b : SplitComma(next())) f->bandwidths.push_back(std::atof(b.c_str()));
    } else if (a == "--delay-ms") {
      f->delay_ms = std::atof(next().c_str());
    } else if (a == "--device-cores") {
      f->device_cores = std::atof(next().c_str());
    } else if (a == "--device-gflops") {
      f->device_gflops = std::atof(next().c_str());
      if (!(f->device_gflops > 0)) {
        std::fprintf(stderr, "bench_loadpart: --device-gflops must be > 0\n");
        return false;
      }
    } else if (a == "--quota-period-ms") {
      f->quota_period_ms = std::atof(next().c_str());
    } else if (a == "--device-threads") {
      f->device_threads = std::atoi(next().c_str());
    } else if (a == "--server-threads") {
      f->server_threads = std::atoi(next().c_str());
    } else if (a == "--server-workers") {
      f->server_workers = std::atoi(next().c_str());
    } else if (a == "--light-clients") {
      f->light_clients = std::atoi(next().c_str());
    } else if (a == "--heavy-clients") {
      f->heavy_clients = std::atoi(next().c_str());
    } else if (a == "--load-model") {
      f->load_model = next();
    } else if (a == "--samples") {
      f->samples = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--settle-ms") {
      f->settle_ms = std::max(0.0, std::atof(next().c_str()));
    } else if (a == "--settle") {
      f->settle = std::max(0, std::atoi(next().c_str()));
    } else if (a == "--max-cuts") {
      f->max_cuts = std::max(0, std::atoi(next().c_str()));
    } else if (a == "--gap-ms") {
      f->gap_ms = std::max(0.0, std::atof(next().c_str()));
    } else if (a == "--server-cpus") {
      f->server_cpus = next();
    } else if (a == "--device-cpus") {
      f->device_cpus = next();
    } else if (a == "--no-pin") {
      f->pin = false;
    } else if (a == "--no-oracle") {
      f->oracle = false;
    } else if (a == "--svg-model") {
      f->svg_model = next();
    } else if (a == "--csv") {
      f->csv = next();
    } else if (a == "--cli") {
      f->cli = next();
    } else if (a == "--no-write") {
      f->write = false;
    } else {
      std::fprintf(stderr, "%s", kUsage);
      return false;
    }
  }
  for (double b : f->bandwidths) {
    if (b <= 0) {
      std::fprintf(stderr, "bench_loadpart: --bandwidth values must be > 0 Mbit/s\n");
      return false;
    }
  }
  if (f->models.empty() || f->bandwidths.empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return false;
  }
  for (const std::string& m : f->models) {
    if (FindZooModel(m) == nullptr) {
      std::fprintf(stderr, "bench_loadpart: no zoo model '%s' (edgeinfer zoo --list)\n", m.c_str());
      return false;
    }
  }
  if (FindZooModel(f->load_model) == nullptr) {
    std::fprintf(stderr, "bench_loadpart: no zoo model '%s'\n", f->load_model.c_str());
    return false;
  }
  if (f->svg_model.empty()) f->svg_model = f->models.front();
  return true;
}

void Progress(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Background clients: closed-loop remote inferences of one model, straight to the server.
// Client i sends while i < active; the others wait. Sessions are opened up front (WaitReady).
class LoadGenerator {
 public:
  LoadGenerator(std::string server, std::string model, int clients)
      : server_(std::move(server)), model_(std::move(model)) {
    for (int i = 0; i < clients; ++i) threads_.emplace_back([this, i] { Loop(i); });
  }
  ~LoadGenerator() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  // Lets clients 0..n-1 send and waits until no other client has a request in flight, so that
  // a phase with less load starts without leftovers of the previous one.
  void SetActive(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    active_ = n;
    cv_.notify_all();
    cv_.wait(lock, [&] { return in_flight_ <= n; });
  }
  int64_t completed() const { return completed_.load(); }
  int64_t failed() const { return failed_.load(); }
  std::string last_error() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_;
  }

  // Waits until every client has opened its session and run one warm-up request (the first
  // uploads the model, the server compiles and profiles it), at most `timeout_s`. Returns the
  // number of clients ready.
  int WaitReady(double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                 [&] { return ready_ + given_up_ >= static_cast<int>(threads_.size()); });
    return ready_;
  }

 private:
  void Loop(int index) {
    std::unique_ptr<Session> session;
    std::vector<NamedTensor> inputs;
    // Client 0 uploads the model; the others wait so that only one upload happens.
    if (index > 0) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || ready_ + given_up_ > 0; });
    }
    for (int attempt = 0; attempt < 3 && session == nullptr; ++attempt) {
      auto bytes = ZooModelBytes(model_);
      SessionOptions options;
      options.threads = 1;
      options.mode = ExecutionMode::kRemote;
      options.accelerator = server_;
      options.timeout_ms = 300000;
      auto opened = bytes.ok() ? Session::OpenFromBytes(*bytes, ".", options)
                               : Result<std::unique_ptr<Session>>(bytes.status());
      if (opened.ok()) {
        inputs = {{"input", BenchInput(FindZooModel(model_)->input_shape)}};
        auto warm = (*opened)->Run(inputs);
        if (warm.ok()) {
          session = std::move(*opened);
        } else {
          Fail(warm.status());
        }
      } else {
        Fail(opened.status());
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++(session != nullptr ? ready_ : given_up_);
    }
    cv_.notify_all();
    if (session == nullptr) return;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || index < active_; });
        if (stop_) return;
        ++in_flight_;
      }
      auto out = session->Run(inputs);
      {
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
      }
      cv_.notify_all();
      if (out.ok()) {
        ++completed_;
      } else {
        Fail(out.status());
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  }
  void Fail(const Status& status) {
    ++failed_;
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = status.ToString();
  }

  const std::string server_;
  const std::string model_;
  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;
  int ready_ = 0;
  int given_up_ = 0;
  int in_flight_ = 0;
  bool stop_ = false;
  std::string last_error_;
  std::atomic<int64_t> completed_{0}, failed_{0};
  std::vector<std::thread> threads_;
};

// An emulated device: its link emulator and its worker process.
struct DeviceSide {
  std::unique_ptr<net::LinkEmulator> link;
  std::unique_ptr<DeviceWorker> worker;
};

struct Phase {
  std::string name;
  int clients = 0;
};

// The oracle's candidate cuts of `model` (see the file comment); `how` says how they were found.
std::vector<int> CandidateCuts(const std::string& model, DeviceWorker& worker, const Flags& f,
                               std::string* how) {
  const std::string bytes = *ZooModelBytes(model);
  auto graph = ImportOnnx(bytes, ImportOptions{});
  if (!graph.ok()) {
    *how = "none (" + graph.status().ToString() + ")";
    return {};
  }
  auto device = worker.Profile(model, 3);
  SessionOptions server_options;
  server_options.threads = f.server_threads;
  server_options.mode = ExecutionMode::kLocal;
  auto server_session = Session::OpenFromBytes(bytes, ".", server_options);
  Result<std::vector<NodeProfile>> server = server_session.status();
  if (server_session.ok()) {
    server =
        (*server_session)->Profile({{"input", BenchInput(FindZooModel(model)->input_shape)}}, 3);
  }
  Result<planner::CostTable> table = !device.ok() ? device.status()
                                     : !server.ok()
                                         ? server.status()
                                         : planner::BuildCostTable(*graph, *device, *server);
  const int nodes = static_cast<int>(graph->nodes().size());
  std::vector<int> cuts;
  if (!table.ok()) {
    // Without profiles: evenly spaced cuts.
    for (int k = 1; k <= f.max_cuts; ++k) cuts.push_back(nodes * k / (f.max_cuts + 1));
    *how = "every " + std::to_string(nodes / (f.max_cuts + 1)) +
           "th node (no cost table: " + table.status().ToString() + ")";
    return cuts;
  }
  std::map<int, int> wins;
  std::set<double> bandwidths(f.bandwidths.begin(), f.bandwidths.end());
  for (double b : {5.0, 7.0, 10.0, 14.0, 20.0, 30.0, 50.0, 70.0, 100.0}) bandwidths.insert(b);
  for (double bw : bandwidths) {
    for (double k : {1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0}) {
      for (double q : {0.0, 10.0, 30.0, 100.0, 300.0}) {
        planner::Conditions c;
        c.bandwidth_mbit = bw;
        c.rtt_ms = 2 * f.delay_ms;
        c.load_factor = k;
        c.queue_ms = q;
        const planner::Prediction p = planner::Decide(*table, c, planner::Policy::kLoadAware);
        if (p.device_nodes > 0 && p.device_nodes < table->node_count) ++wins[p.device_nodes];
      }
    }
  }
  std::vector<std::pair<int, int>> ranked;
  for (const auto& [device_nodes, n] : wins) ranked.push_back({-n, device_nodes});
  std::sort(ranked.begin(), ranked.end());
  for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < f.max_cuts; ++i) {
    cuts.push_back(ranked[i].second);
  }
  std::sort(cuts.begin(), cuts.end());
  *how = std::to_string(wins.size()) + " distinct split cut(s) on the planner's lower envelope";
  if (static_cast<int>(wins.size()) > f.max_cuts) {
    *how += ", the " + std::to_string(f.max_cuts) + " most often optimal kept";
  }
  return cuts;
}

std::string CpuText(const std::vector<int>& cpus) {
  std::string text;
  for (int c : cpus) {
    if (!text.empty()) text += ',';
    text += std::to_string(c);
  }
  return text;
}

// The CPUs of the server and of the device side (this process and the device worker): the
// flags, or the upper and the lower half of the CPUs this process may use. Pins this process.
// With fewer than two usable CPUs and no flags, nothing is pinned (`note` says so).
Status ResolvePinning(const Flags& f, std::vector<int>* server, std::vector<int>* device,
                      std::string* note) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    return Status::Internal("sched_getaffinity failed");
  }
  std::vector<int> usable;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) usable.push_back(c);
  }
  if (f.server_cpus.empty() && f.device_cpus.empty() && usable.size() < 2) {
    *note = "not pinned: only one usable CPU, server and device share it";
    return Status::Ok();
  }
  const size_t half = usable.size() / 2;
  *device = std::vector<int>(usable.begin(), usable.begin() + static_cast<long>(half));
  *server = std::vector<int>(usable.begin() + static_cast<long>(half), usable.end());
  for (auto [flag, text, out] : {std::tuple{"--server-cpus", &f.server_cpus, server},
                                 std::tuple{"--device-cpus", &f.device_cpus, device}}) {
    if (text->empty()) continue;
    auto parsed = ParseCpuList(*text);
    if (!parsed.ok()) return parsed.status().WithContext(flag);
    for (int c : *parsed) {
      if (c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed)) {
        return Status::InvalidArgument(std::string(flag) + ": CPU " + std::to_string(c) +
                                       " is not usable by this process");
      }
    }
    *out = *parsed;
  }
  EI_RETURN_IF_ERROR(PinToCpus(*device));
  *note = "server pinned to CPU " + CpuText(*server) +
          "; device worker, link emulator and background clients to CPU " + CpuText(*device);
  return Status::Ok();
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string DemoTable(const std::vector<Record>& records, const Flags& f,
                      const std::vector<Phase>& phases) {
  std::ostringstream md;
  md << "| model | load | local | remote | auto-noload | auto | auto vs noload | auto's cut | "
        "noload's cut |\n|---|---|---:|---:|---:|---:|---:|---|---|\n";
  for (const std::string& model : f.models) {
    for (const Phase& phase : phases) {
      std::map<std::string, std::vector<const Record*>> by;
      for (const Record& r : records) {
        if (r.model == model && r.phase == phase.name && r.ok) by[r.policy].push_back(&r);
      }
      auto mean = [&](const std::string& p) {
        double s = 0;
        for (const Record* r : by[p]) s += r->sample.total_ms;
        return by[p].empty() ? 0.0 : s / by[p].size();
      };
      auto cut = [&](const std::string& p) {
        std::map<std::string, int> n;
        for (const Record* r : by[p]) ++n[r->sample.cut];
        std::string text;
        for (const auto& [c, k] : n)
          text += (text.empty() ? "" : ", ") + c + " x" + std::to_string(k);
        return text;
      };
      const double a = mean("auto"), n = mean("auto-noload");
      md << "| " << model << " | " << phase.name << " (" << phase.clients << " clients) | "
         << Fmt("%.1f", mean("local")) << " | " << Fmt("%.1f", mean("remote")) << " | "
         << Fmt("%.1f", n) << " | " << Fmt("%.1f", a) << " | "
         << Fmt("%+.1f%%", n > 0 ? 100.0 * (n - a) / n : 0.0) << " | " << cut("auto") << " | "
         << cut("auto-noload") << " |\n";
    }
  }
  return md.str();
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--device-worker") {
    return RunDeviceWorker(argc - 2, argv + 2);
  }
  net::RetainLargeAllocations();
  Flags f;
  if (!ParseFlags(argc, argv, &f)) return 2;
  InstallCleanupHandlers();
  // Pinning first, before this process starts any thread, so that every thread inherits it.
  std::vector<int> server_cpus, device_cpus;
  std::string pin_note = "not pinned (--no-pin): server, device and clients share every CPU";
  if (f.pin) {
    const Status pinned = ResolvePinning(f, &server_cpus, &device_cpus, &pin_note);
    if (!pinned.ok()) {
      std::fprintf(stderr, "bench_loadpart: %s\n", pinned.ToString().c_str());
      return 2;
    }
  }
  std::string speed_note;
  if (f.device_gflops > 0) {
    // Measured here, after pinning: on the device's CPUs, with one thread.
    const double peak = SgemmPeak(1);
    f.device_cores = f.device_gflops / peak;
    if (f.device_cores > f.device_threads) {
      std::fprintf(stderr,
                   "bench_loadpart: --device-gflops %g needs %.2f cores of this host (one-core "
                   "sgemm peak %.1f GFLOP/s) but the device has --device-threads %d\n",
                   f.device_gflops, f.device_cores, peak, f.device_threads);
      return 2;
    }
    f.quota_period_ms = std::max(f.quota_period_ms, std::ceil(1.0 / f.device_cores));
    if (f.quota_period_ms > 1000) {
      std::fprintf(stderr,
                   "bench_loadpart: --device-gflops %g is %.4f cores of this host: below the "
                   "1 ms per 1000 ms the kernel's CPU quota can express\n",
                   f.device_gflops, f.device_cores);
      return 2;
    }
    speed_note = Fmt("%g", f.device_gflops) +
                 " GFLOP/s (--device-gflops) = " + Fmt("%.3f", f.device_cores) +
                 " core(s) of this host, whose one-core sgemm peak measured " + Fmt("%.1f", peak) +
                 " GFLOP/s at start";
    Progress("== device speed: " + speed_note + "; CFS period " + Fmt("%g", f.quota_period_ms) +
             " ms");
  }
  std::vector<Phase> phases = {
      {"idle", 0}, {"light", f.light_clients}, {"heavy", f.heavy_clients}, {"idle2", 0}};
  if (f.demo) phases = {{"idle", 0}, {"heavy", f.heavy_clients}};
  const std::string load_start = LoadAverage();
  char tmpl[] = "/tmp/bench_loadpart.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::fprintf(stderr, "bench_loadpart: cannot create a temporary directory\n");
    return 1;
  }
  const std::string tmp = tmpl;

  Progress("== starting the edge server (" + std::to_string(f.server_workers) + " workers x " +
           std::to_string(f.server_threads) + " threads)");
  auto server = ChildProcess::Start(
      {f.cli, "serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--repository", tmp,
       "--allow-upload", "--threads", std::to_string(f.server_threads), "--workers",
       std::to_string(f.server_workers), "--max-queue", "256"},
      false, tmp + "/server.log", /*nice=*/0, server_cpus);
  Result<std::string> server_addr =
      server.ok() ? (*server)->WaitForLogValue("listening grpc=", 30000) : server.status();
  if (!server_addr.ok()) {
    std::fprintf(stderr, "bench_loadpart: edge server: %s\n",
                 server_addr.status().ToString().c_str());
    return 1;
  }
  // One device per adaptive policy and one for the fixed cuts, each a process with its own
  // quota behind its own link emulator, as separate devices would be: one session's background
  // probes then never share a link or a CPU quota with another policy's measured request.
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  std::map<std::string, DeviceSide> devices;
  for (const std::string role : {"auto", "auto-noload", "fixed"}) {
    net::LinkOptions link_options;
    link_options.to = *server_addr;
    link_options.rate_bps = f.bandwidths.front() * 1e6;
    link_options.delay_ms = f.delay_ms;
    auto link = net::LinkEmulator::Start(link_options);
    if (!link.ok()) {
      std::fprintf(stderr, "bench_loadpart: link emulator: %s\n", link.status().ToString().c_str());
      return 1;
    }
    WorkerOptions worker_options;
    worker_options.self_exe = len > 0 ? std::string(self, static_cast<size_t>(len)) : argv[0];
    worker_options.edge = (*link)->address();
    worker_options.cores = f.device_cores;
    worker_options.quota_period_ms = f.quota_period_ms;
    worker_options.threads = f.device_threads;
    worker_options.cpus = device_cpus;
    auto worker = DeviceWorker::Start(worker_options);
    if (!worker.ok()) {
      std::fprintf(stderr, "bench_loadpart: %s\n", worker.status().ToString().c_str());
      return 1;
    }
    devices[role] = DeviceSide{std::move(*link), std::move(*worker)};
  }
  auto device_for = [&](const std::string& policy) -> DeviceWorker& {
    auto it = devices.find(policy);
    return *(it != devices.end() ? it : devices.find("fixed"))->second.worker;
  };
  auto set_rate = [&](double mbit) {
    for (auto& [role, side] : devices) side.link->SetRateMbit(mbit);
  };
  DeviceWorker& device = *devices["fixed"].worker;
  Progress("== server at " + *server_addr + "; 3 devices (auto, auto-noload, fixed cuts), each " +
           "behind its own link emulator (" + Fmt("%g", f.delay_ms) + " ms one way)");
  Progress("== device: " + std::to_string(f.device_threads) + " thread(s), " + device.quota_note());
  Progress("== CPUs: " + pin_note);
  if (!device.quota_applied()) {
    Progress(
        "   note: without the quota the device is as fast as the server's cores; the "
        "comparison still runs but offloading pays less");
  }
  LoadGenerator load(*server_addr, f.load_model, std::max(f.light_clients, f.heavy_clients));
  Progress("== preparing " + std::to_string(std::max(f.light_clients, f.heavy_clients)) +
           " background clients (" + f.load_model + ", uploaded once)");
  const int ready = load.WaitReady(600);
  if (ready < std::max(f.light_clients, f.heavy_clients)) {
    std::fprintf(stderr, "bench_loadpart: only %d background clients ready: %s\n", ready,
                 load.last_error().c_str());
    return 1;
  }

  std::vector<Record> records;
  std::map<std::string, std::string> cut_notes;
  std::map<std::string, double> load_rate;  // phase -> background requests per second
  std::map<std::string, double> phase_seconds;
  for (const std::string& model : f.models) {
    Progress("== " + model);
    std::vector<std::string> policies = {"auto", "auto-noload", "local", "remote"};
    if (f.oracle) {
      std::string how;
      const std::vector<int> cuts = CandidateCuts(model, device, f, &how);
      std::string list;
      for (int c : cuts) {
        policies.push_back("split:" + std::to_string(c));
        list += (list.empty() ? "" : ", ") + std::to_string(c);
      }
      cut_notes[model] = how + (cuts.empty() ? "" : ": " + list);
      Progress("   oracle candidates: local, remote and " + cut_notes[model]);
    }
    // Uploading the model is set-up, not part of any request: it goes straight to the server,
    // so the device sessions find it there and their estimators only ever see the emulated link.
    {
      net::EdgeClientOptions direct;
      direct.address = *server_addr;
      direct.timeout_ms = 600000;
      auto client = net::EdgeClient::Connect(direct);
      const auto bytes = ZooModelBytes(model);
      Status uploaded = client.ok() ? Status::Ok() : client.status();
      if (uploaded.ok()) uploaded = (*client)->EnsureModel(*bytes).status();
      if (!uploaded.ok()) Progress("   cannot upload " + model + ": " + uploaded.ToString());
    }
    set_rate(f.bandwidths.front());
    std::vector<std::string> usable;
    const auto model_start = Clock::now();
    for (const std::string& p : policies) {
      const Status s = device_for(p).Open(model + "/" + p, model, p);
      if (s.ok()) {
        usable.push_back(p);
      } else {
        Progress("   cannot open " + p + ": " + s.ToString());
      }
    }
    // A cut that auto or auto-noload chooses but the envelope above missed (their live profiles
    // and compression differ from the grid's) joins the fixed cuts from then on, so the oracle
    // never lacks a cut a planner used. Returns whether `cut` was new.
    std::vector<std::string> added;
    auto add_cut = [&](const std::string& cut) {
      if (!f.oracle || cut.rfind("split:", 0) != 0) return false;
      if (std::find(usable.begin(), usable.end(), cut) != usable.end()) return false;
      const Status s = device_for(cut).Open(model + "/" + cut, model, cut);
      if (!s.ok()) {
        Progress("   cannot open " + cut + ": " + s.ToString());
        return false;
      }
      usable.push_back(cut);
      added.push_back(cut);
      return true;
    };
    auto measure = [&](const std::string& p, const Phase& phase, int slot, double bw, int order) {
      Record r;
      r.model = model;
      r.phase = phase.name;
      r.slot = slot;
      r.bandwidth_mbit = bw;
      r.policy = p;
      r.order = order;
      if (f.gap_ms > 0) {
        std::this_thread::sleep_for(
            std::chrono::microseconds(static_cast<int64_t>(f.gap_ms * 1000)));
      }
      r.t_s = std::chrono::duration<double>(Clock::now() - model_start).count();
      auto sample = device_for(p).Run(model + "/" + p);
      r.ok = sample.ok();
      if (sample.ok()) {
        r.sample = *sample;
      } else {
        r.error = sample.status().ToString();
      }
      records.push_back(r);
    };
    int slot = 0;
    for (const Phase& phase : phases) {
      load.SetActive(phase.clients);
      if (phase.clients > 0) {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(static_cast<int>(f.load_warmup_s * 1000)));
      }
      const auto phase_start = Clock::now();
      const int64_t done_start = load.completed();
      for (int j = 0; j < f.requests; ++j, ++slot) {
        const double bw = f.bandwidths[static_cast<size_t>(j) % f.bandwidths.size()];
        set_rate(bw);
        const auto settle_start = Clock::now();
        for (int s = 0;
             s < f.settle ||
             std::chrono::duration<double, std::milli>(Clock::now() - settle_start).count() <
                 f.settle_ms;
             ++s) {
          // Not a loop over `usable`: add_cut appends to it.
          for (const char* name : {"auto", "auto-noload"}) {
            const std::string p = name;
            if (std::find(usable.begin(), usable.end(), p) == usable.end()) continue;
            auto sample = device_for(p).Run(model + "/" + p);
            if (sample.ok() && add_cut(sample->cut)) {
              Progress("   oracle candidate added: " + sample->cut + " (" + p + " chose it)");
            }
          }
        }
        std::string line = "   [" + phase.name + " " + std::to_string(j + 1) + "/" +
                           std::to_string(f.requests) + ", " + Fmt("%g", bw) + " Mbit/s]";
        for (int round = 0; round < f.samples; ++round) {
          for (size_t k = 0; k < usable.size(); ++k) {
            const std::string& p = usable[(k + static_cast<size_t>(slot + round)) % usable.size()];
            measure(p, phase, slot, bw,
                    static_cast<int>(k) + round * static_cast<int>(usable.size()));
          }
        }
        // A cut first chosen in a measured request is measured here, after the rounds, at the
        // same rate and load, as often as every other policy.
        std::vector<std::string> late;
        for (const Record& r : records) {
          if (r.slot == slot && r.model == model && r.ok && add_cut(r.sample.cut)) {
            late.push_back(r.sample.cut);
          }
        }
        for (const std::string& p : late) {
          Progress("   oracle candidate added: " + p + " (chosen in a measured request)");
        }
        int order = f.samples * static_cast<int>(usable.size());
        for (int round = 0; round < f.samples; ++round) {
          for (const std::string& p : late) measure(p, phase, slot, bw, order++);
        }
        std::vector<Record> this_slot;
        for (const Record& r : records) {
          if (r.slot == slot && r.model == model) this_slot.push_back(r);
        }
        const std::vector<Record> medians = SlotMedians(this_slot);
        for (const std::string& p : MainPolicies()) {
          for (const Record& r : medians) {
            if (r.policy == p) {
              line += " " + p + " " +
                      (r.ok ? Fmt("%.0f", r.sample.total_ms) + " (" + r.sample.cut + ")"
                            : std::string("failed"));
            }
          }
        }
        Progress(line);
      }
      const double secs = std::chrono::duration<double>(Clock::now() - phase_start).count();
      const int64_t done = load.completed() - done_start;
      phase_seconds[phase.name] += secs;
      load_rate[phase.name] += static_cast<double>(done);
      if (phase.clients > 0) {
        Progress("   (" + phase.name + ": " + Fmt("%.1f", done / std::max(secs, 1e-3)) + " " +
                 f.load_model + " inferences/s in the background, " +
                 std::to_string(load.failed()) + " failed so far)");
      }
    }
    load.SetActive(0);
    for (const std::string& p : usable) (void)device_for(p).Close(model + "/" + p);
    if (!added.empty()) {
      std::string list;
      for (const std::string& c : added) list += (list.empty() ? "" : ", ") + c.substr(6);
      cut_notes[model] += "; added when a planner chose them: " + list;
    }
  }
  const std::string load_end = LoadAverage();
  const std::string quota_note = device.quota_note();
  // The device process goes first, then the empty cgroup it leaves.
  devices.clear();
  RemoveStaleCpuGroups();
  int failures = 0;
  for (const Record& r : records) failures += r.ok ? 0 : 1;
  // Tables and plot use each slot's median per policy; the CSV keeps every request.
  std::vector<Record> all = SlotMedians(records);
  // With --no-oracle (and in the demo) the oracle is the better of local and remote.
  const std::vector<Record> oracle = OracleRecords(all);
  all.insert(all.end(), oracle.begin(), oracle.end());
  std::vector<Record> every_request = records;
  every_request.insert(every_request.end(), oracle.begin(), oracle.end());

  std::ostringstream phase_text;
  for (const Phase& p : phases) {
    const double rate = phase_seconds[p.name] > 0 ? load_rate[p.name] / phase_seconds[p.name] : 0;
    phase_text << "`" << p.name << "` " << p.clients << " background client(s), "
               << Fmt("%.1f", rate) << " " << f.load_model << " inferences/s; ";
  }
  std::string bws;
  for (double b : f.bandwidths) bws += (bws.empty() ? "" : ", ") + Fmt("%g", b);

  if (f.demo) {
    std::printf("\n%s\n", DemoTable(all, f, phases).c_str());
    std::printf(
        "Latency in ms, mean of %d requests per cell; link %s Mbit/s (cycled), %g ms "
        "one way; device %s; load: %s%lld failed requests.\n",
        f.requests, bws.c_str(), f.delay_ms, quota_note.c_str(), phase_text.str().c_str(),
        static_cast<long long>(failures));
    return 0;
  }

  ReportOptions report;
  report.models = f.models;
  for (const Phase& p : phases) report.phases.push_back(p.name);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  std::ostringstream md;
  md << "## Load-aware partitioning (bench/loadpart.cc)\n\n"
     << "Measured " << date << " on " << MachineLine() << " (load average " << load_start
     << " at start, " << load_end << " at the end).\n\n"
     << "```sh\n"
     << f.command << "\n```\n\n"
     << "Set-up (all on this machine; " << pin_note << "): edge server `edgeinfer serve` with "
     << f.server_workers << " workers x " << f.server_threads
     << " kernel thread(s); three emulated devices (auto, auto-noload, and one for the fixed "
        "cuts), each a separate process with "
     << f.device_threads << " kernel thread(s), held to " << quota_note
     << (speed_note.empty() ? "" : " (" + speed_note + ")")
     << ", and each behind its own in-process link emulator (`net::LinkEmulator`), so that one "
        "session's background probes never share a link or a quota with another policy's "
        "request; "
     << Fmt("%g", f.delay_ms) << " ms one way, all rates stepped "
     << "through " << bws << " Mbit/s (slot j of a phase runs at rate j mod " << f.bandwidths.size()
     << "). Server load: background clients send closed-loop remote " << f.load_model
     << " inferences straight to the server. Phases: " << phase_text.str() << "each phase has "
     << f.requests << " request slots, the load starting " << Fmt("%g", f.load_warmup_s)
     << " s before its first slot.\n\n"
     << "Method: in every slot each policy runs " << f.samples
     << " request(s) at the same link rate and load (rounds in which every policy runs once, "
        "back to back, in an order rotated from round to round and slot to slot; a policy's "
        "value for the slot is the median of its requests), each after "
     << Fmt("%g", f.gap_ms)
     << " ms idle (no CPU-quota debt carried over); before them auto and auto-noload take turns "
        "at unmeasured requests, at least "
     << f.settle << " each and for at least " << Fmt("%g", f.settle_ms)
     << " ms, so that their estimators see the slot's conditions. "
        "`auto` is the load-aware planner, `auto-noload` the same planner with k = 1, q = 0 "
        "(Neurosurgeon). The oracle of a slot is the fastest of the fixed cuts measured in that "
        "slot (local, remote and split:P for the candidates below; the minimum of their slot "
        "medians, so slightly optimistic). Means are over the slots where every policy "
        "succeeded. "
     << failures << " request(s) failed.\n\nOracle candidates: ";
  if (!f.oracle) md << "local and remote only (--no-oracle). ";
  for (const auto& [model, note] : cut_notes) md << model << ": " << note << ". ";
  md << "(Envelope over bandwidth 5-100 Mbit/s x k 1-8 x queue 0-300 ms, from the device's "
        "profile under the quota and an unloaded profile with the server's thread count. A split "
        "that auto or auto-noload chose outside these joins the fixed cuts from that slot on; "
        "chosen in a measured request, it is also measured in that slot right after the rounds, "
        "as often as the other policies.)\n\n"
     << MarkdownTables(all, report) << "Summary (improvement = (noload - auto) / noload; gap = "
     << "(auto - oracle) / oracle; means over models of per-model means):\n\n"
     << MarkdownSummary(all, report);
  const std::string svg_name = "loadpart_" + f.svg_model + ".svg";
  if (f.write)
    md << "\n![latency over time, " << f.svg_model << "](" << svg_name << ")\n\n"
       << "Every request: [loadpart.csv](loadpart.csv).\n";
  std::printf("\n%s", md.str().c_str());
  std::fflush(stdout);

  const std::string csv_path = !f.csv.empty() ? f.csv
                               : f.write ? std::string(EDGEINFER_SOURCE_DIR) + "/docs/loadpart.csv"
                                         : "";
  if (!csv_path.empty()) {
    std::ofstream(csv_path) << Csv(every_request);
    Progress("wrote " + csv_path);
  }
  if (f.write) {
    const std::string docs = std::string(EDGEINFER_SOURCE_DIR) + "/docs/";
    std::ofstream(docs + svg_name) << Svg(
        all, f.svg_model, report.phases,
        f.svg_model + ": latency per request slot, device " + Fmt("%g", f.device_cores) + " core");
    const Status s = ReplaceDocSection(docs + "benchmarks.md",
                                       "## Load-aware partitioning (bench/loadpart.cc)", md.str());
    if (!s.ok()) {
      std::fprintf(stderr, "bench_loadpart: %s\n", s.ToString().c_str());
      return 1;
    }
    Progress("wrote " + docs + "benchmarks.md and " + docs + svg_name);
  }
  return 0;
}

}  // namespace
}  // namespace edgeinfer::bench

int main(int argc, char** argv) { return edgeinfer::bench::Main(argc, argv); }

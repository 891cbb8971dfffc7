// bench_timing: the real-time measurements that used to be single-run assertions in the tests
// (tests/linkem_test.cc, tests/backend_test.cc, tests/cpu_quota_test.cc), where they depended on
// the machine's speed and load. The tests now check the same logic exactly (a FakeClock drives the
// link emulator; see tests/linkem_test.cc); this program measures what the real clock gives on this
// machine.
//
// Rows (each the median of --repeat measurements after one warm-up; min and max shown):
//   link upload/download rate at 5, 20, 80 Mbit/s: steady-state rate at the receiver, between
//     the receives that completed 30% and 100% of the bytes (the bucket's burst excluded);
//   link rate after SetRate 40 -> 10 Mbit/s mid-transfer, and of 4 flows sharing 20 Mbit/s;
//   link round trip over 15 ms each way (expected 30 ms; never less);
//   linkem idle CPU: CPU seconds the `edgeinfer linkem` process uses in 1 s with an idle open
//     connection (a spinning relay would use ~1 s);
//   remote run over 20 Mbit/s, 5 ms each way: RunStats::total_ms of one remote inference of a
//     192 KiB input through `edgeinfer serve` behind the emulator (expected >= 70 ms: 78 ms of
//     serialisation less the 25 KB burst, plus 2 x 5 ms);
//   CPU share under LimitCpu(0.25): CPU seconds per wall second of a child that busy-loops for
//     1 s in a cgroup limited to a quarter core (expected 0.25; -1 where cgroups are not
//     writable);
//   cpu / reference speed-up on a 32-channel 28x28 residual block, one thread.
//
// usage: bench_timing [--repeat N]   (default 5)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/registry.h"
#include "edgeinfer/session.h"
#include "ir/graph.h"
#include "onnx/onnx_io.h"
#include "testbed/cpu_quota.h"
#include "testbed/linkem.h"
#include "testbed/loopback.h"
#include "zoo/zoo.h"

namespace edgeinfer {
namespace {

using testbed::ConnectTo;
using testbed::EchoUntilEof;
using testbed::SendAll;
using TestServer = testbed::LoopbackServer;

using Steady = std::chrono::steady_clock;

double SecondsSince(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

// (seconds since t0, cumulative bytes) at every receive.
struct Samples {
  std::mutex mu;
  std::vector<std::pair<double, int64_t>> points;
  int64_t total = 0;
  void Add(Steady::time_point t0, int64_t n) {
    std::lock_guard<std::mutex> lock(mu);
    total += n;
    points.emplace_back(SecondsSince(t0), total);
  }
  // Bits per second between the first receive at or after from_s and the last at or before to_s.
  double RateBetween(double from_s, double to_s) {
    std::lock_guard<std::mutex> lock(mu);
    auto a = std::lower_bound(points.begin(), points.end(), std::make_pair(from_s, int64_t{0}));
    auto b = std::upper_bound(points.begin(), points.end(), std::make_pair(to_s, INT64_MAX));
    if (a == points.end() || b == points.begin() || std::prev(b) <= a) return 0.0;
    --b;
    return 8.0 * static_cast<double>(b->second - a->second) / (b->first - a->first);
  }
  double RateBetweenFractions(double fa, double fb) {
    double ta = -1, tb = -1;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& p : points) {
        if (ta < 0 && p.second >= fa * static_cast<double>(total)) ta = p.first;
        if (tb < 0 && p.second >= fb * static_cast<double>(total)) tb = p.first;
      }
    }
    return RateBetween(ta, tb);
  }
};

std::unique_ptr<net::LinkEmulator> StartLink(const net::LinkOptions& options) {
  auto link = net::LinkEmulator::Start(options);
  if (!link.ok()) {
    std::fprintf(stderr, "bench_timing: %s\n", link.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(link).value();
}

// Steady-state upload rate (Mbit/s) of `bytes` through a link of `mbit`.
double Upload(double mbit, int64_t bytes) {
  Samples samples;
  const auto t0 = Steady::now();
  TestServer sink([&](int fd) {
    char buffer[65536];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) samples.Add(t0, n);
    shutdown(fd, SHUT_WR);
  });
  net::LinkOptions options;
  options.to = sink.address();
  options.rate_bps = mbit * 1e6;
  auto link = StartLink(options);
  const int fd = ConnectTo(link->port());
  const std::string data(static_cast<size_t>(bytes), 'x');
  SendAll(fd, data.data(), data.size());
  shutdown(fd, SHUT_WR);
  char c;
  (void)recv(fd, &c, 1, 0);
  close(fd);
  return samples.RateBetweenFractions(0.3, 1.0) / 1e6;
}

// Steady-state download rate (Mbit/s) of `bytes` through a link of `mbit`.
double Download(double mbit, int64_t bytes) {
  const std::string data(static_cast<size_t>(bytes), 'y');
  TestServer source([&](int fd) {
    SendAll(fd, data.data(), data.size());
    shutdown(fd, SHUT_WR);
  });
  net::LinkOptions options;
  options.to = source.address();
  options.rate_bps = mbit * 1e6;
  auto link = StartLink(options);
  Samples samples;
  const auto t0 = Steady::now();
  const int fd = ConnectTo(link->port());
  char buffer[65536];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) samples.Add(t0, n);
  close(fd);
  return samples.RateBetweenFractions(0.3, 1.0) / 1e6;
}

// `connections` saturating senders for `seconds`; at `change_s` (if > 0) the rate becomes
// `then_mbit`. Returns the rate (Mbit/s) over [from_s, to_s].
double Saturated(double mbit, int connections, double change_s, double then_mbit, double from_s,
                 double to_s) {
  Samples samples;
  const auto t0 = Steady::now();
  TestServer sink([&](int fd) {
    char buffer[65536];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) samples.Add(t0, n);
  });
  net::LinkOptions options;
  options.to = sink.address();
  options.rate_bps = mbit * 1e6;
  auto link = StartLink(options);
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int i = 0; i < connections; ++i) {
    senders.emplace_back([&] {
      const int fd = ConnectTo(link->port());
      const std::string block(65536, 'z');
      while (!stop && SendAll(fd, block.data(), block.size())) {
      }
      close(fd);
    });
  }
  if (change_s > 0) {
    std::this_thread::sleep_until(t0 + std::chrono::duration<double>(change_s));
    link->SetRateMbit(then_mbit);
  }
  std::this_thread::sleep_until(t0 + std::chrono::duration<double>(to_s + 0.05));
  stop = true;
  link->Stop();
  for (auto& t : senders) t.join();
  return samples.RateBetween(from_s, to_s) / 1e6;
}

// One 1-byte round trip (ms) over a link with 15 ms each way.
double RoundTripMs() {
  TestServer echo(EchoUntilEof);
  net::LinkOptions options;
  options.to = echo.address();
  options.rate_bps = 100e6;
  options.delay_ms = 15;
  auto link = StartLink(options);
  const int fd = ConnectTo(link->port());
  char c = 'a', back = 0;
  const auto t0 = Steady::now();
  SendAll(fd, &c, 1);
  (void)recv(fd, &back, 1, MSG_WAITALL);
  const double ms = SecondsSince(t0) * 1000.0;
  close(fd);
  return ms;
}

double CpuSecondsOf(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return -1;
  char text[1024] = {};
  const size_t n = std::fread(text, 1, sizeof(text) - 1, f);
  std::fclose(f);
  const char* p = std::strrchr(text, ')');
  if (p == nullptr || n == 0) return -1;
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
      2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds `edgeinfer linkem` uses in 1 s with one idle open connection.
double LinkemIdleCpu() {
  TestServer echo(EchoUntilEof);
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const std::string to = echo.address();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    close(fds[0]);
    execl(EDGEINFER_CLI, EDGEINFER_CLI, "linkem", "--listen", "127.0.0.1:0", "--to", to.c_str(),
          "--rate", "50mbit", "--delay", "5ms", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  FILE* out = fdopen(fds[0], "r");
  char line[512] = {};
  double cpu = -1;
  const std::string prefix = "edgeinfer linkem: listening 127.0.0.1:";
  if (std::fgets(line, sizeof(line), out) != nullptr && std::string(line).rfind(prefix, 0) == 0) {
    const int fd = ConnectTo(std::atoi(line + prefix.size()));
    char c = 'q', back = 0;
    SendAll(fd, &c, 1);
    (void)recv(fd, &back, 1, MSG_WAITALL);
    const double cpu0 = CpuSecondsOf(pid);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    cpu = CpuSecondsOf(pid) - cpu0;
    close(fd);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::fclose(out);
  return cpu;
}

Tensor Random(Shape shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  Tensor t = Tensor::Empty(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// x -> conv3x3 -> BN -> relu -> conv3x3 -> BN -> + x -> relu, c channels, hw x hw.
Graph ResidualBlock(int64_t c, int64_t hw) {
  Graph g;
  g.opset = 13;
  uint32_t seed = 1;
  const Shape s = {1, c, hw, hw};
  ValueId x = g.AddInput("x", DType::kFloat32, s);
  auto conv_bn = [&](const std::string& name, ValueId in) {
    Attributes a;
    a.Set("kernel_shape", std::vector<int64_t>{3, 3});
    a.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
    ValueId w = g.AddConstant(name + ".w", Random({c, c, 3, 3}, ++seed));
    ValueId y = g.AddValue(name + ".y", DType::kFloat32, s);
    g.AddNode(OpKind::kConv, name, {in, w}, {y}, a);
    Tensor scale = Random({c}, ++seed), bias = Random({c}, ++seed), mean = Random({c}, ++seed);
    Tensor var = Random({c}, ++seed);
    for (int64_t i = 0; i < c; ++i) var.data<float>()[i] = 1.f + 0.5f * var.data<float>()[i];
    ValueId bn = g.AddValue(name + ".bn", DType::kFloat32, s);
    g.AddNode(OpKind::kBatchNormalization, name + "_bn",
              {y, g.AddConstant(name + ".scale", scale), g.AddConstant(name + ".bias", bias),
               g.AddConstant(name + ".mean", mean), g.AddConstant(name + ".var", var)},
              {bn});
    return bn;
  };
  ValueId r = g.AddValue("r", DType::kFloat32, s);
  g.AddNode(OpKind::kRelu, "relu1", {conv_bn("c1", x)}, {r});
  ValueId sum = g.AddValue("sum", DType::kFloat32, s);
  g.AddNode(OpKind::kAdd, "add", {conv_bn("c2", r), x}, {sum});
  ValueId y = g.AddValue("y", DType::kFloat32, s);
  g.AddNode(OpKind::kRelu, "relu2", {sum}, {y});
  g.AddOutput(y);
  return g;
}

// reference ms / cpu ms for one run each (after a warm-up), one thread.
double CpuSpeedup() {
  const Graph g = ResidualBlock(32, 28);
  const std::vector<Tensor> inputs = {Random({1, 32, 28, 28}, 16)};
  CompileOptions options;
  options.threads = 1;
  auto time_ms = [&](const char* name) {
    auto exe = FindBackend(name)->Compile(g, options);
    if (!exe.ok()) return -1.0;
    std::vector<Tensor> out;
    (void)(*exe)->Run(inputs, &out);
    const auto start = Steady::now();
    (void)(*exe)->Run(inputs, &out);
    return SecondsSince(start) * 1000.0;
  };
  const double ref = time_ms("reference");
  const double cpu = time_ms("cpu");
  return cpu > 0 ? ref / cpu : -1.0;
}

// `edgeinfer serve` in a temporary repository, behind a 20 Mbit/s, 5 ms link, and a remote
// session on it. Each Measure() is one remote run's total_ms (-1 when anything failed).
class RemoteOverLink {
 public:
  RemoteOverLink() {
    char dir[] = "/tmp/bench_timing_XXXXXX";
    if (mkdtemp(dir) == nullptr) return;
    dir_ = dir;
    const std::string log = dir_ + "/server.log";
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(EDGEINFER_CLI, EDGEINFER_CLI, "serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0",
            "--repository", dir_.c_str(), "--allow-upload", static_cast<char*>(nullptr));
      _exit(127);
    }
    std::string address;
    for (int i = 0; i < 3000 && address.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      FILE* f = std::fopen(log.c_str(), "r");
      if (f == nullptr) continue;
      char line[1024];
      while (std::fgets(line, sizeof(line), f) != nullptr) {
        const char* at = std::strstr(line, "listening grpc=");
        if (at != nullptr) address = std::string(at + 15, std::strcspn(at + 15, " \n"));
      }
      std::fclose(f);
    }
    if (address.empty()) return;
    net::LinkOptions options;
    options.to = address;
    options.rate_bps = 20e6;
    options.delay_ms = 5;
    link_ = StartLink(options);
    const std::string model = dir_ + "/wide.onnx";
    Result<Graph> wide = WideInputModel();
    if (!wide.ok() || !ExportOnnxFile(*wide, model).ok()) return;
    SessionOptions o;
    o.threads = 1;
    o.mode = ExecutionMode::kRemote;
    o.accelerator = "grpc://" + link_->address();
    o.timeout_ms = 20000;
    auto session = Session::Open(model, o);
    if (session.ok()) session_ = std::move(session).value();
    inputs_ = {{"x", Random({1, 3, 128, 128}, 5)}};
  }
  ~RemoteOverLink() {
    session_.reset();
    if (link_) link_->Stop();
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) (void)!std::system(("rm -rf " + dir_).c_str());
  }
  double Measure() {
    if (!session_) return -1.0;
    RunStats stats;
    return session_->RunWithStats(inputs_, &stats).ok() ? stats.total_ms : -1.0;
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  std::unique_ptr<net::LinkEmulator> link_;
  std::unique_ptr<Session> session_;
  std::vector<NamedTensor> inputs_;
};

// CPU seconds per wall second of a forked child held to 0.25 cores that busy-loops for 1 s.
double QuarterCoreShare() {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    double share = -1;
    if (LimitCpu(0.25).ok()) {
      timespec c0{}, c1{};
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
      const auto t0 = Steady::now();
      volatile unsigned long spin = 0;
      while (SecondsSince(t0) < 1.0) {
        for (int i = 0; i < 10000; ++i) spin = spin + 1;
      }
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
      const double cpu = static_cast<double>(c1.tv_sec - c0.tv_sec) +
                         static_cast<double>(c1.tv_nsec - c0.tv_nsec) * 1e-9;
      share = cpu / SecondsSince(t0);
    }
    (void)!write(fds[1], &share, sizeof(share));
    _exit(0);
  }
  close(fds[1]);
  double share = -1;
  if (read(fds[0], &share, sizeof(share)) != static_cast<ssize_t>(sizeof(share))) share = -1;
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  RemoveStaleCpuGroups();
  return share;
}

void Row(const char* what, const char* unit, const char* expected, int repeat,
         const std::function<double()>& measure) {
  (void)measure();  // warm-up
  std::vector<double> v;
  for (int i = 0; i < repeat; ++i) v.push_back(measure());
  std::sort(v.begin(), v.end());
  std::printf("| %-44s | %9.3f | %9.3f | %9.3f | %-6s | %-22s |\n", what, v[v.size() / 2],
              v.front(), v.back(), unit, expected);
  std::fflush(stdout);
}

}  // namespace
}  // namespace edgeinfer

int main(int argc, char** argv) {
  using namespace edgeinfer;
  int repeat = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_timing [--repeat N]\n");
      return 2;
    }
  }
  std::printf("bench_timing: median of %d after one warm-up\n\n", repeat);
  std::printf("| %-44s | %9s | %9s | %9s | %-6s | %-22s |\n", "measurement", "median", "min", "max",
              "unit", "expected");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(11, '-').c_str(),
              std::string(11, '-').c_str(), std::string(11, '-').c_str(),
              std::string(8, '-').c_str(), std::string(24, '-').c_str());
  Row("link upload rate, 20 Mbit/s", "Mbit/s", "20", repeat, [] { return Upload(20, 1500000); });
  Row("link download rate, 80 Mbit/s", "Mbit/s", "80", repeat,
      [] { return Download(80, 6000000); });
  Row("link download rate, 5 Mbit/s", "Mbit/s", "5", repeat, [] { return Download(5, 400000); });
  Row("link rate before SetRate (40 Mbit/s)", "Mbit/s", "40", repeat,
      [] { return Saturated(40, 1, 0.45, 10, 0.1, 0.45); });
  Row("link rate after SetRate 40 -> 10 Mbit/s", "Mbit/s", "10", repeat,
      [] { return Saturated(40, 1, 0.45, 10, 0.55, 1.0); });
  Row("link rate, 4 flows sharing 20 Mbit/s", "Mbit/s", "20 in total", repeat,
      [] { return Saturated(20, 4, 0, 0, 0.2, 0.7); });
  Row("link round trip, 15 ms each way", "ms", "30 (never less)", repeat, RoundTripMs);
  Row("edgeinfer linkem idle CPU in 1 s", "s", "~0 (spinning: ~1)", repeat, LinkemIdleCpu);
  {
    RemoteOverLink remote;
    Row("remote run over 20 Mbit/s, 5 ms (192 KiB in)", "ms", ">= 70", repeat,
        [&] { return remote.Measure(); });
  }
  Row("CPU share under LimitCpu(0.25)", "cores", "0.25", repeat, QuarterCoreShare);
  Row("cpu speed-up over reference (residual block)", "x", "10-50", repeat, CpuSpeedup);
  return 0;
}

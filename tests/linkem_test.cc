// LinkEmulator against real loopback TCP: rate, delay, rate changes (direct and by trace),
// shared buckets, half-close, refused upstream, many connections, byte-exact relaying, and the
// `edgeinfer linkem` command. Rates are measured at the receiver between receive events after
// the initial burst, so the bucket is in steady state; tolerances are stated where used.
#include "testbed/linkem.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
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
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "edgeinfer/session.h"
#include "offload_util.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"

namespace edgeinfer::net {
namespace {

using Clock = std::chrono::steady_clock;

// Rates measured over >= 0.3 s of steady state; 10% covers chunk granularity (16 KiB) and
// scheduling jitter on a busy 2-core machine.
constexpr double kRateTolerance = 0.10;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int ConnectTo(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool SendAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t k = send(fd, data, n, MSG_NOSIGNAL);
    if (k <= 0) return false;
    data += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

// (seconds since t0, cumulative bytes) at every receive.
struct Samples {
  std::mutex mu;
  std::vector<std::pair<double, int64_t>> points;
  int64_t total = 0;
  void Add(Clock::time_point t0, int64_t n) {
    std::lock_guard<std::mutex> lock(mu);
    total += n;
    points.emplace_back(SecondsSince(t0), total);
  }
  // Bits per second between the first receive at or after `from_s` and the last at or before
  // `to_s`. Aligning the window to receive events avoids a one-chunk quantisation error.
  double RateBetween(double from_s, double to_s) {
    std::lock_guard<std::mutex> lock(mu);
    auto a = std::lower_bound(points.begin(), points.end(), std::make_pair(from_s, int64_t{0}));
    auto b = std::upper_bound(points.begin(), points.end(), std::make_pair(to_s, INT64_MAX));
    if (a == points.end() || b == points.begin() || std::prev(b) <= a) return 0.0;
    --b;
    return 8.0 * static_cast<double>(b->second - a->second) / (b->first - a->first);
  }
  // Bits per second between the receives that completed fractions `fa` and `fb` of `total`.
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

// A loopback TCP server: each accepted connection runs `handler(fd)` on its own thread.
class TestServer {
 public:
  using Handler = std::function<void(int)>;
  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(listener_, 128), 0);
    socklen_t length = sizeof(a);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &length);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      while (true) {
        const int fd = accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        std::lock_guard<std::mutex> lock(mu_);
        fds_.push_back(fd);
        workers_.emplace_back([this, fd] { handler_(fd); });
      }
    });
  }
  ~TestServer() {
    shutdown(listener_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    close(listener_);
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    for (auto& w : workers_) w.join();
    for (int fd : fds_) close(fd);
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> workers_;
};

// Echoes until EOF, then half-closes: the client sees EOF only if FINs cross the relay.
void Echo(int fd) {
  char buffer[65536];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0 || !SendAll(fd, buffer, static_cast<size_t>(n))) break;
  }
  shutdown(fd, SHUT_WR);
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Sends `data` (then half-closes) while reading the echo until EOF; returns what came back.
std::string EchoRoundTrip(int fd, const std::string& data) {
  std::thread sender([&] {
    SendAll(fd, data.data(), data.size());
    shutdown(fd, SHUT_WR);
  });
  std::string back;
  char buffer[65536];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) back.append(buffer, n);
  sender.join();
  return back;
}

std::unique_ptr<LinkEmulator> StartLink(LinkOptions options) {
  auto link = LinkEmulator::Start(options);
  EXPECT_TRUE(link.ok()) << link.status().ToString();
  return link.ok() ? std::move(link).value() : nullptr;
}

// Uploads `bytes` through a link of `mbit` to a sink and returns the steady-state rate in
// Mbit/s, measured at the sink between 30% and 100% of the bytes.
double MeasureUpload(double mbit, int64_t bytes) {
  Samples samples;
  const auto t0 = Clock::now();
  TestServer sink([&](int fd) {
    char buffer[65536];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) samples.Add(t0, n);
    shutdown(fd, SHUT_WR);  // the FIN back tells the client every byte arrived
  });
  LinkOptions options;
  options.to = sink.address();
  options.rate_bps = mbit * 1e6;
  auto link = StartLink(options);
  if (!link) return 0.0;
  const int fd = ConnectTo(link->port());
  const std::string data(static_cast<size_t>(bytes), 'x');
  EXPECT_TRUE(SendAll(fd, data.data(), data.size()));
  shutdown(fd, SHUT_WR);
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0);  // the sink closes after EOF
  close(fd);
  EXPECT_EQ(samples.total, bytes);
  EXPECT_EQ(link->stats().bytes_up, bytes);
  return samples.RateBetweenFractions(0.3, 1.0) / 1e6;
}

// Downloads `bytes` from a source through a link of `mbit`; same measurement at the client.
double MeasureDownload(double mbit, int64_t bytes) {
  const std::string data(static_cast<size_t>(bytes), 'y');
  TestServer source([&](int fd) {
    SendAll(fd, data.data(), data.size());
    shutdown(fd, SHUT_WR);
  });
  LinkOptions options;
  options.to = source.address();
  options.rate_bps = mbit * 1e6;
  auto link = StartLink(options);
  if (!link) return 0.0;
  Samples samples;
  const auto t0 = Clock::now();
  const int fd = ConnectTo(link->port());
  char buffer[65536];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) samples.Add(t0, n);
  close(fd);
  EXPECT_EQ(samples.total, bytes);
  EXPECT_EQ(link->stats().bytes_down, bytes);
  return samples.RateBetweenFractions(0.3, 1.0) / 1e6;
}

TEST(LinkEmulatorTest, UploadRateHoldsAt20Mbit) {
  // 1.5 MB at 2.5 MB/s: 0.6 s, of which the 16 KiB burst is ~1%.
  const double measured = MeasureUpload(20, 1500000);
  std::printf("measured %.3f Mbit/s at 20 Mbit/s\n", measured);
  EXPECT_NEAR(measured, 20.0, 20.0 * kRateTolerance);
}

TEST(LinkEmulatorTest, DownloadRateHoldsAt80Mbit) {
  // 6 MB at 10 MB/s: 0.6 s; the 100 KB burst (10 ms of rate) is excluded by the 30% start.
  const double measured = MeasureDownload(80, 6000000);
  std::printf("measured %.3f Mbit/s at 80 Mbit/s\n", measured);
  EXPECT_NEAR(measured, 80.0, 80.0 * kRateTolerance);
}

TEST(LinkEmulatorTest, DownloadRateHoldsAt5Mbit) {
  // 400 KB at 625 KB/s: 0.64 s; 16 KiB chunks keep this smooth.
  const double measured = MeasureDownload(5, 400000);
  std::printf("measured %.3f Mbit/s at 5 Mbit/s\n", measured);
  EXPECT_NEAR(measured, 5.0, 5.0 * kRateTolerance);
}

TEST(LinkEmulatorTest, RoundTripIsTwiceTheDelay) {
  TestServer echo(Echo);
  LinkOptions options;
  options.to = echo.address();
  options.rate_bps = 100e6;
  options.delay_ms = 15;
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  const int fd = ConnectTo(link->port());
  std::vector<double> rtts;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    char c = static_cast<char>('a' + i), back = 0;
    ASSERT_TRUE(SendAll(fd, &c, 1));
    ASSERT_EQ(recv(fd, &back, 1, MSG_WAITALL), 1);
    EXPECT_EQ(back, c);
    rtts.push_back(SecondsSince(t0) * 1000.0);
  }
  close(fd);
  std::sort(rtts.begin(), rtts.end());
  std::printf("round trips %.2f .. %.2f ms (delay 15 ms each way)\n", rtts.front(), rtts.back());
  // Never early (the delay line releases at arrival + delay); up to 10 ms late for scheduling
  // of three processes' worth of threads on 2 cores.
  EXPECT_GE(rtts.front(), 30.0);
  EXPECT_LE(rtts[2], 40.0);
}

// A sender that keeps a link saturated until stopped, with the receive samples at the sink.
struct SaturatedUpload {
  Samples samples;
  Clock::time_point t0 = Clock::now();
  TestServer sink{[this](int fd) {
    char buffer[65536];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) samples.Add(t0, n);
  }};
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;

  void Run(int port, int connections) {
    for (int i = 0; i < connections; ++i) {
      senders.emplace_back([this, port] {
        const int fd = ConnectTo(port);
        const std::string block(65536, 'z');
        while (!stop && SendAll(fd, block.data(), block.size())) {
        }
        close(fd);
      });
    }
  }
  // Stopping the link resets the blocked senders; then everything joins.
  void Finish(LinkEmulator& link) {
    stop = true;
    link.Stop();
    for (auto& t : senders) t.join();
  }
};

TEST(LinkEmulatorTest, SetRateChangesRateMidTransfer) {
  SaturatedUpload upload;
  LinkOptions options;
  options.to = upload.sink.address();
  options.rate_bps = 40e6;
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  upload.Run(link->port(), 1);
  std::this_thread::sleep_until(upload.t0 + std::chrono::milliseconds(450));
  link->SetRateMbit(10);
  EXPECT_DOUBLE_EQ(link->rate_bps(), 10e6);
  std::this_thread::sleep_until(upload.t0 + std::chrono::milliseconds(1000));
  upload.Finish(*link);
  EXPECT_NEAR(upload.samples.RateBetween(0.1, 0.45) / 1e6, 40.0, 40.0 * kRateTolerance);
  EXPECT_NEAR(upload.samples.RateBetween(0.55, 1.0) / 1e6, 10.0, 10.0 * kRateTolerance);
}

TEST(LinkEmulatorTest, TraceChangesRateMidTransfer) {
  SaturatedUpload upload;
  LinkOptions options;
  options.to = upload.sink.address();
  options.rate_bps = 1e6;  // replaced by the first step at t = 0
  options.trace = {{0.0, 10e6}, {0.5, 40e6}};
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  upload.Run(link->port(), 1);
  std::this_thread::sleep_until(upload.t0 + std::chrono::milliseconds(950));
  EXPECT_DOUBLE_EQ(link->rate_bps(), 40e6);  // the last step holds
  upload.Finish(*link);
  EXPECT_NEAR(upload.samples.RateBetween(0.1, 0.5) / 1e6, 10.0, 10.0 * kRateTolerance);
  EXPECT_NEAR(upload.samples.RateBetween(0.6, 0.95) / 1e6, 40.0, 40.0 * kRateTolerance);
}

TEST(LinkEmulatorTest, TraceLoopsWithItsPeriod) {
  TestServer echo(Echo);
  LinkOptions options;
  options.to = echo.address();
  options.rate_bps = 1e6;
  options.trace = {{0.2, 2e6}};
  options.trace_period_s = 0.4;  // 1 Mbit/s for 0.2 s, 2 Mbit/s for 0.2 s, repeat
  const auto t0 = Clock::now();
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  // Sampled mid-phase; each phase lasts 200 ms, so a 100 ms scheduling delay is tolerated.
  const double expected[] = {1e6, 2e6, 1e6, 2e6};
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_until(t0 + std::chrono::milliseconds(100 + 200 * i));
    EXPECT_DOUBLE_EQ(link->rate_bps(), expected[i]) << "phase " << i;
  }
}

TEST(LinkEmulatorTest, ConnectionsShareOneBucketPerDirection) {
  SaturatedUpload upload;
  LinkOptions options;
  options.to = upload.sink.address();
  options.rate_bps = 20e6;
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  upload.Run(link->port(), 4);
  std::this_thread::sleep_until(upload.t0 + std::chrono::milliseconds(700));
  upload.Finish(*link);
  // Four flows on one 20 Mbit/s link get 20 in total, not 80.
  EXPECT_NEAR(upload.samples.RateBetween(0.2, 0.7) / 1e6, 20.0, 20.0 * kRateTolerance);
  EXPECT_EQ(link->stats().connections_accepted, 4);
}

TEST(LinkEmulatorTest, RelaysBytesExactlyAndForwardsHalfClose) {
  TestServer echo(Echo);
  LinkOptions options;
  options.to = echo.address();
  options.delay_ms = 2;
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  const std::string data = RandomBytes(3 << 20, 7);
  const int fd = ConnectTo(link->port());
  ASSERT_GE(fd, 0);
  const std::string back = EchoRoundTrip(fd, data);  // returns only after EOF came back
  close(fd);
  ASSERT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data) << "relayed bytes differ";
  const LinkStats stats = link->stats();
  EXPECT_EQ(stats.bytes_up, static_cast<int64_t>(data.size()));
  EXPECT_EQ(stats.bytes_down, static_cast<int64_t>(data.size()));
}

TEST(LinkEmulatorTest, ManyConcurrentConnections) {
  TestServer echo(Echo);
  LinkOptions options;
  options.to = echo.address();
  options.rate_bps = 200e6;
  options.delay_ms = 1;
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  constexpr int kConnections = 32;
  std::vector<std::thread> clients;
  std::atomic<int> exact{0};
  for (int i = 0; i < kConnections; ++i) {
    clients.emplace_back([&, i] {
      const std::string data = RandomBytes(48 * 1024 + i * 1000, 100 + i);
      const int fd = ConnectTo(link->port());
      if (fd < 0) return;
      if (EchoRoundTrip(fd, data) == data) ++exact;
      close(fd);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(exact.load(), kConnections);
  EXPECT_EQ(link->stats().connections_accepted, kConnections);
  // Closed connections leave the relay (it notices within one loop).
  for (int i = 0; i < 100 && link->stats().connections_open > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(link->stats().connections_open, 0);
}

TEST(LinkEmulatorTest, RefusedUpstreamClosesClient) {
  // A port with nothing listening: bind without listen, so connects are refused.
  const int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t length = sizeof(a);
  getsockname(holder, reinterpret_cast<sockaddr*>(&a), &length);
  LinkOptions options;
  options.to = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  const int fd = ConnectTo(link->port());
  ASSERT_GE(fd, 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0) << "expected EOF, errno " << std::strerror(errno);
  close(fd);
  close(holder);
  EXPECT_EQ(link->stats().connections_failed, 1);
}

TEST(LinkEmulatorTest, StartRejectsBadOptions) {
  LinkOptions options;
  options.to = "nohostport";
  EXPECT_FALSE(LinkEmulator::Start(options).ok());
  options.to = "127.0.0.1:1";
  options.rate_bps = -1;
  EXPECT_FALSE(LinkEmulator::Start(options).ok());
  options.rate_bps = 0;
  options.trace = {{1.0, 1e6}, {0.5, 2e6}};
  auto bad_trace = LinkEmulator::Start(options);
  ASSERT_FALSE(bad_trace.ok());
  EXPECT_NE(bad_trace.status().message().find("trace step 2"), std::string::npos);
}

TEST(LinkSpecTest, ParsesRatesWithTcUnits) {
  EXPECT_DOUBLE_EQ(*ParseRate("20mbit"), 20e6);
  EXPECT_DOUBLE_EQ(*ParseRate("20Mbit"), 20e6);
  EXPECT_DOUBLE_EQ(*ParseRate("1.5gbit"), 1.5e9);
  EXPECT_DOUBLE_EQ(*ParseRate("512kbit"), 512e3);
  EXPECT_DOUBLE_EQ(*ParseRate("1kibit"), 1024.0);
  EXPECT_DOUBLE_EQ(*ParseRate("1000"), 1000.0);  // bare: bits per second
  EXPECT_DOUBLE_EQ(*ParseRate("2mbps"), 16e6);   // tc: bps units are bytes per second
  EXPECT_DOUBLE_EQ(*ParseRate("1kbps"), 8000.0);
  EXPECT_FALSE(ParseRate("20 furlongs").ok());
  EXPECT_FALSE(ParseRate("-1mbit").ok());
  EXPECT_FALSE(ParseRate("mbit").ok());
  EXPECT_EQ(FormatRate(20e6), "20mbit");
  EXPECT_EQ(FormatRate(0), "unlimited");
}

TEST(LinkSpecTest, ParsesDurations) {
  EXPECT_DOUBLE_EQ(*ParseDurationMs("10ms"), 10.0);
  EXPECT_DOUBLE_EQ(*ParseDurationMs("250us"), 0.25);
  EXPECT_DOUBLE_EQ(*ParseDurationMs("1.5s"), 1500.0);
  EXPECT_DOUBLE_EQ(*ParseDurationMs("0"), 0.0);
  auto bare = ParseDurationMs("10");
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.status().message().find("needs a unit"), std::string::npos);
}

TEST(LinkSpecTest, ParsesTracesAndNamesBadLines) {
  auto trace = ParseTrace("# phases\n0 20mbit\n\n10 5mbit  # congested\n12.5s 1gbit\n");
  ASSERT_TRUE(trace.ok()) << trace.status().ToString();
  ASSERT_EQ(trace->size(), 3u);
  EXPECT_DOUBLE_EQ((*trace)[1].time_s, 10.0);
  EXPECT_DOUBLE_EQ((*trace)[1].rate_bps, 5e6);
  EXPECT_DOUBLE_EQ((*trace)[2].time_s, 12.5);
  auto bad_rate = ParseTrace("0 20mbit\n5 fast\n");
  ASSERT_FALSE(bad_rate.ok());
  EXPECT_NE(bad_rate.status().message().find("trace line 2"), std::string::npos)
      << bad_rate.status().message();
  auto backwards = ParseTrace("5 1mbit\n# x\n3 2mbit\n");
  ASSERT_FALSE(backwards.ok());
  EXPECT_NE(backwards.status().message().find("trace line 3"), std::string::npos);
  EXPECT_FALSE(ParseTrace("1 2mbit 3\n").ok());
}

// `edgeinfer linkem` as a child process; its first stdout line is read through a pipe.
class LinkemProcess {
 public:
  explicit LinkemProcess(const std::vector<std::string>& args) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      close(fds[0]);
      std::vector<char*> argv = {const_cast<char*>(EDGEINFER_CLI), const_cast<char*>("linkem")};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(EDGEINFER_CLI, argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
    char line[512];
    if (std::fgets(line, sizeof(line), out_) != nullptr) first_line_ = line;
  }
  ~LinkemProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) std::fclose(out_);
  }
  const std::string& first_line() const { return first_line_; }
  pid_t pid() const { return pid_; }
  // SIGTERM, then the exit code (-1: killed by a signal or still running after 5 s).
  int Terminate() {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string first_line_;
};

// utime + stime of a process in seconds, from /proc/PID/stat.
double CpuSecondsOf(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return -1;
  char text[1024] = {};
  const size_t n = std::fread(text, 1, sizeof(text) - 1, f);
  std::fclose(f);
  // Fields after the ")" ending the command name: state is field 3, utime 14, stime 15.
  const char* p = std::strrchr(text, ')');
  if (p == nullptr || n == 0) return -1;
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
      2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

TEST(LinkemCliTest, RelaysWithDelayIdlesWithoutSpinningAndStopsOnSigterm) {
  TestServer echo(Echo);
  LinkemProcess link(
      {"--listen", "127.0.0.1:0", "--to", echo.address(), "--rate", "50mbit", "--delay", "5ms"});
  const std::string& line = link.first_line();
  const std::string prefix = "edgeinfer linkem: listening 127.0.0.1:";
  ASSERT_EQ(line.rfind(prefix, 0), 0u) << line;
  EXPECT_NE(line.find("-> " + echo.address() + " rate=50mbit delay=5ms"), std::string::npos)
      << line;
  const int port = std::atoi(line.c_str() + prefix.size());
  const int fd = ConnectTo(port);
  ASSERT_GE(fd, 0);

  char c = 'q', back = 0;
  const auto t0 = Clock::now();
  ASSERT_TRUE(SendAll(fd, &c, 1));
  ASSERT_EQ(recv(fd, &back, 1, MSG_WAITALL), 1);
  EXPECT_GE(SecondsSince(t0) * 1000.0, 10.0);  // 2 x 5 ms, never early
  EXPECT_EQ(back, c);

  // An idle link with an open connection must sleep, not poll in a loop: under 50 ms of CPU in
  // 1 s (a spinning relay would use ~1 s).
  const double cpu0 = CpuSecondsOf(link.pid());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle_cpu = CpuSecondsOf(link.pid()) - cpu0;
  EXPECT_GE(cpu0, 0.0);
  EXPECT_LT(idle_cpu, 0.05);

  const std::string data = RandomBytes(256 * 1024, 11);
  EXPECT_TRUE(EchoRoundTrip(fd, data) == data);
  close(fd);
  EXPECT_EQ(link.Terminate(), 0);
}

std::string RunCli(const std::string& args) {
  const std::string command = std::string(EDGEINFER_CLI) + " linkem " + args + " 2>&1; echo rc=$?";
  FILE* p = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), p)) > 0) out.append(buffer, n);
  pclose(p);
  return out;
}

TEST(LinkemCliTest, RejectsBadArgumentsClearly) {
  EXPECT_NE(RunCli("--help").find("BYTES per second"), std::string::npos);
  std::string out = RunCli("--to 127.0.0.1:1 --rate 5furlongs");
  EXPECT_NE(out.find("--rate: bad rate '5furlongs'"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=2"), std::string::npos) << out;
  out = RunCli("--to 127.0.0.1:1 --delay 10");
  EXPECT_NE(out.find("needs a unit"), std::string::npos) << out;
  out = RunCli("--rate 1mbit");
  EXPECT_NE(out.find("--to HOST:PORT is required"), std::string::npos) << out;
  char path[] = "/tmp/linkem_trace_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string trace = "0 20mbit\n1 oops\n";
  ASSERT_EQ(write(fd, trace.data(), trace.size()), static_cast<ssize_t>(trace.size()));
  close(fd);
  out = RunCli(std::string("--to 127.0.0.1:1 --trace ") + path);
  unlink(path);
  EXPECT_NE(out.find("trace line 2: bad rate 'oops'"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=2"), std::string::npos) << out;
}

// x[1,3,128,128] (192 KiB) -> Conv(4, 3x3) -> GlobalAveragePool -> Flatten -> y[1,4].
Graph WideInputModel() {
  Graph g;
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {1, 3, 128, 128});
  ValueId w = g.AddConstant("w", testing::RandomTensor(DType::kFloat32, {4, 3, 3, 3}, 1));
  ValueId c = g.AddValue("c", DType::kFloat32, {1, 4, 126, 126});
  ValueId p = g.AddValue("p", DType::kFloat32, {1, 4, 1, 1});
  ValueId y = g.AddValue("y", DType::kFloat32, {1, 4});
  g.AddNode(OpKind::kConv, "conv", {x, w}, {c});
  g.AddNode(OpKind::kGlobalAveragePool, "gap", {c}, {p});
  g.AddNode(OpKind::kFlatten, "flat", {p}, {y});
  g.AddOutput(y);
  return g;
}

TEST(LinkEmulatorGrpcTest, RemoteInferenceThroughTheLinkMatchesLocal) {
  testing::TempDir repo;
  auto server = testing::EdgeServerProcess::Start(EDGEINFER_CLI, repo.path());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  LinkOptions options;
  options.to = (*server)->grpc_address();
  options.rate_bps = 20e6;
  options.delay_ms = 5;
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  const std::string model = repo.path() + "/wide.onnx";
  ASSERT_TRUE(ExportOnnxFile(WideInputModel(), model).ok());
  const std::vector<NamedTensor> inputs = {
      {"x", testing::RandomTensor(DType::kFloat32, {1, 3, 128, 128}, 5)}};

  SessionOptions local_options;
  local_options.threads = 1;
  auto local = Session::Open(model, local_options);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  auto expected = (*local)->Run(inputs);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();

  SessionOptions remote_options = local_options;
  remote_options.mode = ExecutionMode::kRemote;
  remote_options.accelerator = "grpc://" + link->address();
  remote_options.timeout_ms = 20000;
  auto remote = Session::Open(model, remote_options);
  ASSERT_TRUE(remote.ok()) << remote.status().ToString() << "\n" << (*server)->Log();
  for (int i = 0; i < 2; ++i) {
    RunStats stats;
    auto got = (*remote)->RunWithStats(inputs, &stats);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    // Same kernels on both sides; 1e-5 relative L2 as in offload_e2e_test.
    EXPECT_LE(testing::RelativeL2((*got)[0].tensor, (*expected)[0].tensor), 1e-5);
    // 196,608 input bytes at 20 Mbit/s take >= 78 ms less the 25 KB burst (10 ms), plus the
    // 2 x 5 ms delay: a faster run means the link did not shape gRPC.
    EXPECT_GE(stats.total_ms, 70.0) << "run " << i;
    std::printf("remote run over 20mbit/5ms: %.1f ms\n", stats.total_ms);
  }
  EXPECT_GE(link->stats().bytes_up, 2 * 196608);
}

}  // namespace
}  // namespace edgeinfer::net

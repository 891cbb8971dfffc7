// LinkEmulator: its pacing decisions (RateSchedule, TokenBucket) checked exactly on a FakeClock;
// the relay on real loopback TCP driven by a FakeClock (the delay and the shared bucket, so that
// no check depends on how fast or loaded the machine is); byte-exact relaying, half-close,
// refused upstream, many connections, and the `edgeinfer linkem` command. What the emulator
// achieves in real time (rates, round trips, idle CPU, gRPC through a shaped link) is measured by
// bench/timing.cc, not asserted here.
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
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "edgeinfer/session.h"
#include "offload_util.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"
#include "testbed/loopback.h"
#include "zoo/zoo.h"

namespace edgeinfer::net {
namespace {

using testbed::ConnectTo;
using testbed::EchoUntilEof;
using testbed::SendAll;
using TestServer = testbed::LoopbackServer;

using namespace std::chrono_literals;

// Real-time waits for what a FakeClock-driven relay must do without any more fake time passing:
// a hang guard only (a correct relay gets there in microseconds), never a measurement.
constexpr auto kHangGuard = 20s;

// Waits (polling in real time, up to kHangGuard) until `done()` holds; false on timeout.
bool WaitFor(const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + kHangGuard;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
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

// --- Pacing decisions on a FakeClock: exact. ---
//
// Rates are chosen so that every duration and token count is exact in binary floating point:
// 1 MiB/s (8 * 2^20 bits/s) moves 16 KiB in exactly 1/64 s = 15.625 ms, so the checks below are
// equalities, not tolerances.
constexpr double kMiBps = 8.0 * 1048576.0;  // bits per second
constexpr auto kSixtyFourth = 15625us;      // 1/64 s: 16 KiB at 1 MiB/s

TEST(TokenBucketTest, BurstDepthFollowsTheOptionOrTheRate) {
  EXPECT_EQ(TokenBucket::Burst(0, 5e6), 16 * 1024);  // 10 ms at 5 Mbit/s is only 6250 bytes
  EXPECT_EQ(TokenBucket::Burst(0, 80e6), 100000);    // 10 ms at 80 Mbit/s
  EXPECT_EQ(TokenBucket::Burst(1500, 80e6), 1500);   // the option wins
}

TEST(TokenBucketTest, BurstPassesAtOnceThenTheRatePaces) {
  FakeClock clock;
  const Clock::TimePoint t0 = clock.Now();
  TokenBucket bucket(16384, kMiBps, t0);
  EXPECT_EQ(bucket.tokens(), 16384.0);
  // A full bucket: 16 KiB leave at once, and then no token is left.
  ASSERT_TRUE(bucket.CanPass(kMiBps));
  EXPECT_EQ(bucket.Pass(16384, t0, kMiBps), t0);
  EXPECT_EQ(bucket.tokens(), 0.0);
  EXPECT_FALSE(bucket.CanPass(kMiBps));
  EXPECT_EQ(bucket.NextPass(t0, kMiBps), t0 + 20us);  // the wake-up margin past zero

  // 1/256 s later 4 KiB of tokens: a 16 KiB chunk may go, and its last byte leaves once the
  // other 12 KiB are paid for, 12/1024 s later.
  clock.Advance(3906250ns);
  bucket.Refill(clock.Now(), kMiBps);
  EXPECT_EQ(bucket.tokens(), 4096.0);
  ASSERT_TRUE(bucket.CanPass(kMiBps));
  EXPECT_EQ(bucket.Pass(16384, clock.Now(), kMiBps), clock.Now() + 11718750ns);
  EXPECT_EQ(bucket.tokens(), -12288.0);
  EXPECT_FALSE(bucket.CanPass(kMiBps));
  EXPECT_EQ(bucket.NextPass(clock.Now(), kMiBps), clock.Now() + 11718750ns + 20us);

  // Paid off exactly at that moment: zero tokens still do not pass, one nanosecond later does.
  clock.Advance(11718750ns);
  bucket.Refill(clock.Now(), kMiBps);
  EXPECT_EQ(bucket.tokens(), 0.0);
  EXPECT_FALSE(bucket.CanPass(kMiBps));
  clock.Advance(1ns);
  bucket.Refill(clock.Now(), kMiBps);
  EXPECT_TRUE(bucket.CanPass(kMiBps));

  // An idle link refills only up to the burst depth.
  clock.Advance(10s);
  bucket.Refill(clock.Now(), kMiBps);
  EXPECT_EQ(bucket.tokens(), 16384.0);
}

// A sender that always has data: at each step of 1/64 s, passes 1 KiB chunks while the bucket
// allows. The bytes whose serialisation has ended by step k are exactly burst + rate * t.
TEST(TokenBucketTest, ASaturatedSenderGetsBurstPlusRateTimesTime) {
  FakeClock clock;
  const Clock::TimePoint t0 = clock.Now();
  TokenBucket bucket(16384, kMiBps, t0);
  std::vector<Clock::TimePoint> ends;  // one per 1 KiB chunk
  for (int k = 0; k <= 64; ++k) {
    bucket.Refill(clock.Now(), kMiBps);
    while (bucket.CanPass(kMiBps)) ends.push_back(bucket.Pass(1024, clock.Now(), kMiBps));
    const int64_t sent =
        1024 * std::count_if(ends.begin(), ends.end(), [&](auto e) { return e <= clock.Now(); });
    EXPECT_EQ(sent, 16384 + 16384 * k) << "step " << k;
    EXPECT_EQ(static_cast<int64_t>(ends.size()) * 1024, sent) << "step " << k;
    clock.Advance(kSixtyFourth);
  }
}

TEST(TokenBucketTest, RateChangeMidTransferKeepsWhatPassedAndPacesTheRestAtTheNewRate) {
  FakeClock clock;
  const Clock::TimePoint t0 = clock.Now();
  TokenBucket bucket(16384, kMiBps, t0);
  ASSERT_TRUE(bucket.CanPass(kMiBps));
  // 32 KiB pass on a full 16 KiB bucket: the second half is paid for by 1/64 s of rate.
  EXPECT_EQ(bucket.Pass(32768, t0, kMiBps), t0 + kSixtyFourth);
  // The rate drops to a quarter: the chunk that passed keeps its end; the debt of 16 KiB now takes
  // four times as long to pay off.
  const double quarter = kMiBps / 4;
  EXPECT_EQ(bucket.NextPass(t0, quarter), t0 + 4 * kSixtyFourth + 20us);
  clock.Advance(4 * kSixtyFourth);
  bucket.Refill(clock.Now(), quarter);
  EXPECT_EQ(bucket.tokens(), 0.0);
  EXPECT_FALSE(bucket.CanPass(quarter));
  clock.Advance(kSixtyFourth);
  bucket.Refill(clock.Now(), quarter);
  EXPECT_EQ(bucket.tokens(), 4096.0);  // 1/64 s at 256 KiB/s
  // Unlimited: everything passes at once and the bucket is full.
  EXPECT_EQ(bucket.Pass(1 << 20, clock.Now(), 0.0), clock.Now());
  bucket.Refill(clock.Now(), 0.0);
  EXPECT_TRUE(bucket.CanPass(0.0));
  EXPECT_EQ(bucket.tokens(), 16384.0);
}

TEST(RateScheduleTest, WithoutATraceTheRateHolds) {
  FakeClock clock;
  LinkOptions options;
  options.rate_bps = 5e6;
  RateSchedule schedule(options, clock.Now());
  std::optional<Clock::TimePoint> next = clock.Now();
  EXPECT_EQ(schedule.RateAt(clock.Now(), &next), 5e6);
  EXPECT_FALSE(next.has_value());
  clock.Advance(1h);
  EXPECT_EQ(schedule.RateAt(clock.Now()), 5e6);
  schedule.SetRate(-1.0);  // negative counts as unlimited
  EXPECT_EQ(schedule.RateAt(clock.Now()), 0.0);
}

TEST(RateScheduleTest, TraceStepsAtItsTimesAndTheLastStepHolds) {
  FakeClock clock;
  const Clock::TimePoint t0 = clock.Now();
  LinkOptions options;
  options.rate_bps = 1e6;  // replaced by the first step at t = 0
  options.trace = {{0.0, 10e6}, {0.5, 40e6}};
  RateSchedule schedule(options, t0);
  std::optional<Clock::TimePoint> next;
  EXPECT_EQ(schedule.RateAt(t0, &next), 10e6);
  EXPECT_EQ(next, t0 + 500ms);
  clock.Advance(500ms - 1ns);
  EXPECT_EQ(schedule.RateAt(clock.Now(), &next), 10e6);
  EXPECT_EQ(next, t0 + 500ms);
  clock.Advance(1ns);
  EXPECT_EQ(schedule.RateAt(clock.Now(), &next), 40e6);
  EXPECT_FALSE(next.has_value());  // the last step holds forever
  clock.Advance(1h);
  EXPECT_EQ(schedule.RateAt(clock.Now()), 40e6);
  // SetRate stops the trace.
  schedule.SetRate(3e6);
  EXPECT_EQ(schedule.RateAt(clock.Now(), &next), 3e6);
  EXPECT_FALSE(next.has_value());
}

TEST(RateScheduleTest, TraceLoopsWithItsPeriod) {
  FakeClock clock;
  const Clock::TimePoint t0 = clock.Now();
  LinkOptions options;
  options.rate_bps = 1e6;
  options.trace = {{0.25, 2e6}};
  options.trace_period_s = 0.5;  // 1 Mbit/s for 0.25 s, 2 Mbit/s for 0.25 s, repeat
  RateSchedule schedule(options, t0);
  // Every phase boundary of the first 100 s, and one nanosecond before each: binary-exact times,
  // so the boundary belongs to the new phase exactly.
  for (int phase = 0; phase < 400; ++phase) {
    const Clock::TimePoint start = t0 + phase * 250ms;
    const double rate = phase % 2 == 0 ? 1e6 : 2e6;
    std::optional<Clock::TimePoint> next;
    EXPECT_EQ(schedule.RateAt(start, &next), rate) << "phase " << phase;
    EXPECT_EQ(next, start + 250ms) << "phase " << phase;
    EXPECT_EQ(schedule.RateAt(start + 250ms - 1ns), rate) << "phase " << phase;
  }
}

// --- The relay driven by a FakeClock: only the fake time decides when bytes move. ---

TEST(LinkEmulatorFakeClockTest, EchoReturnsExactlyAfterTwiceTheDelay) {
  TestServer echo(EchoUntilEof);
  FakeClock clock;
  LinkOptions options;
  options.to = echo.address();
  options.delay_ms = 15;
  options.clock = &clock;
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  const int fd = ConnectTo(link->port());
  ASSERT_GE(fd, 0);
  timeval timeout{static_cast<time_t>(kHangGuard.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const char c = 'a';
  ASSERT_TRUE(SendAll(fd, &c, 1));
  // Read at fake time t0: it is due upstream at t0 + 15 ms, not a nanosecond earlier.
  ASSERT_TRUE(WaitFor([&] { return link->stats().bytes_read_up == 1; }));
  clock.Advance(15ms - 1ns);
  link->Wake();
  std::this_thread::sleep_for(50ms);  // (can only miss an early release, never invent one)
  EXPECT_EQ(link->stats().bytes_up, 0) << "released before the delay";
  clock.Advance(1ns);
  link->Wake();
  ASSERT_TRUE(WaitFor([&] { return link->stats().bytes_up == 1; }));
  // The echo is read back at t0 + 15 ms and due at the client at t0 + 30 ms; the fake clock
  // stands still, so it must still be in the delay line.
  ASSERT_TRUE(WaitFor([&] { return link->stats().bytes_read_down == 1; }));
  char back = 0;
  EXPECT_EQ(recv(fd, &back, 1, MSG_DONTWAIT), -1) << "released before the delay";
  EXPECT_EQ(link->stats().bytes_down, 0);
  clock.Advance(15ms);
  link->Wake();
  ASSERT_EQ(recv(fd, &back, 1, 0), 1) << std::strerror(errno);
  EXPECT_EQ(back, c);
  close(fd);
}

TEST(LinkEmulatorFakeClockTest, ConnectionsShareOneBucketAndTheRateHolds) {
  // Four connections upload 48 KiB each through one 1 MiB/s direction with a 16 KiB bucket. With
  // all data read before time moves, a correct link has delivered between rate * t and
  // burst + rate * t after t (chunks are at most 16 KiB = the burst); four buckets would deliver
  // up to four times that.
  constexpr int kConnections = 4;
  constexpr int64_t kEach = 48 * 1024, kTotal = kConnections * kEach, kBurst = 16384;
  std::atomic<int64_t> received{0};
  TestServer sink([&](int fd) {
    char buffer[65536];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) received += n;
  });
  FakeClock clock;
  LinkOptions options;
  options.to = sink.address();
  options.rate_bps = kMiBps;
  options.burst_bytes = kBurst;
  options.clock = &clock;
  auto link = StartLink(options);
  ASSERT_NE(link, nullptr);
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    fds.push_back(ConnectTo(link->port()));
    ASSERT_GE(fds.back(), 0);
    const std::string data = RandomBytes(kEach, 30 + i);
    ASSERT_TRUE(SendAll(fds.back(), data.data(), data.size()));
  }
  ASSERT_TRUE(WaitFor([&] { return link->stats().bytes_read_up == kTotal; }));
  for (int k = 0; k <= kTotal / kBurst; ++k) {
    const int64_t lower = std::min(kTotal, kBurst * k), upper = std::min(kTotal, kBurst * (k + 1));
    EXPECT_TRUE(WaitFor([&] { return received.load() >= lower; }))
        << "step " << k << ": " << received.load() << " bytes, expected at least " << lower;
    std::this_thread::sleep_for(5ms);  // (can only miss excess bytes, never invent them)
    EXPECT_LE(received.load(), upper) << "step " << k;
    clock.Advance(kSixtyFourth);
    link->Wake();
  }
  EXPECT_EQ(received.load(), kTotal);
  EXPECT_EQ(link->stats().bytes_up, kTotal);
  EXPECT_EQ(link->stats().connections_accepted, kConnections);
  for (int fd : fds) close(fd);
}

TEST(LinkEmulatorTest, RelaysBytesExactlyAndForwardsHalfClose) {
  TestServer echo(EchoUntilEof);
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
  TestServer echo(EchoUntilEof);
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

TEST(LinkemCliTest, RelaysWithDelayAndStopsOnSigterm) {
  TestServer echo(EchoUntilEof);
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

  // The delay's timing and the idle CPU are measured by bench_timing; here the command relays.
  char c = 'q', back = 0;
  ASSERT_TRUE(SendAll(fd, &c, 1));
  ASSERT_EQ(recv(fd, &back, 1, MSG_WAITALL), 1);
  EXPECT_EQ(back, c);

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
  Result<Graph> wide = WideInputModel();
  ASSERT_TRUE(wide.ok()) << wide.status().ToString();
  ASSERT_TRUE(ExportOnnxFile(*wide, model).ok());
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
    auto got = (*remote)->Run(inputs);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    // Same kernels on both sides; 1e-5 relative L2 as in offload_e2e_test.
    EXPECT_LE(testing::RelativeL2((*got)[0].tensor, (*expected)[0].tensor), 1e-5);
  }
  // Both runs' inputs crossed the link (how long they took on it is bench_timing's business).
  EXPECT_GE(link->stats().bytes_up, 2 * 196608);
}

}  // namespace
}  // namespace edgeinfer::net

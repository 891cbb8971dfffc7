// Failover across several edge servers (an accelerator list): a server killed mid-run, a server
// that accepts connections and never answers, every server down (with and without the local
// fallback), and a server that lost the uploaded model. Every answer is compared with the local
// run of the same model. Servers are real child processes on loopback.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "inference.grpc.pb.h"
#include "net/model_hash.h"
#include "offload_util.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"
#include "testbed/linkem.h"
#include "zoo/builder.h"

namespace edgeinfer::testing {
namespace {

// Same engine on both sides, same kernels: outputs agree to float rounding of reordered
// accumulations at most.
constexpr double kTolerance = 1e-5;

// x[1,8,32,32] -> conv 3x3 (16) -> relu -> conv 3x3 (8) -> y: a few milliseconds per request, so
// that a kill lands while requests are in flight.
std::string ModelBytes() {
  zoo::GraphBuilder b("failover_net", 11);
  ValueId x = b.Input("x", {1, 8, 32, 32});
  zoo::ConvOptions c1;
  c1.out_channels = 16;
  c1.kernel = 3;
  c1.pad = 1;
  ValueId h = b.Relu("relu1", b.Conv("conv1", x, c1));
  zoo::ConvOptions c2 = c1;
  c2.out_channels = 8;
  c2.gain = zoo::kGainLinear;
  b.Output(b.Conv("conv2", h, c2), "y");
  Result<Graph> graph = b.Finish();
  EXPECT_TRUE(graph.ok()) << graph.status().ToString();
  Result<std::string> bytes = ExportOnnx(*graph);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? *bytes : std::string();
}

std::vector<NamedTensor> Input(uint64_t seed) {
  return {{"x", RandomTensor(DType::kFloat32, {1, 8, 32, 32}, seed)}};
}

// The local run of request `seed`.
Tensor LocalOutput(Session& local, uint64_t seed) {
  auto out = local.Run(Input(seed));
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? (*out)[0].tensor : Tensor();
}

// A loopback port whose kernel accepts connections that nobody ever reads: a server that is
// reachable and silent (a link that stopped forwarding).
class BlackHole {
 public:
  BlackHole() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 64);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~BlackHole() { close(fd_); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class OffloadFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bytes_ = ModelBytes();
    SessionOptions local;
    local.mode = ExecutionMode::kLocal;
    local.threads = 1;
    auto session = Session::OpenFromBytes(bytes_, ".", local);
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    local_ = std::move(session).value();
  }

  std::unique_ptr<EdgeServerProcess> StartServer(TempDir& repo) {
    auto server = EdgeServerProcess::Start(EDGEINFER_CLI, repo.path(), {"--threads", "1"});
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(server).value() : nullptr;
  }

  Result<std::unique_ptr<Session>> Open(const std::string& accelerator, const std::string& mode,
                                        int timeout_ms = 20000, int attempt_timeout_ms = 0,
                                        const std::string& fallback = "") {
    SessionOptions o;
    o.accelerator = accelerator;
    o.threads = 1;
    o.timeout_ms = timeout_ms;
    o.attempt_timeout_ms = attempt_timeout_ms;
    o.fallback = fallback;
    EI_RETURN_IF_ERROR(o.SetMode(mode));
    return Session::OpenFromBytes(bytes_, ".", o);
  }

  // 4 clients x 12 requests; server `victim` is killed (SIGKILL) after 8 answers. Every request
  // must be answered and equal the local run.
  void KillOneOfTwo(const std::string& mode) {
    TempDir repo_a, repo_b;
    auto a = StartServer(repo_a);
    auto b = StartServer(repo_b);
    ASSERT_TRUE(a && b);
    auto session = Open(a->endpoint() + "," + b->endpoint(), mode);
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    constexpr int kClients = 4;
    constexpr int kRequests = 12;
    std::vector<Tensor> expected;
    for (int i = 0; i < kClients * kRequests; ++i) expected.push_back(LocalOutput(*local_, i));
    std::atomic<int> answered{0};
    std::mutex mu;
    std::vector<std::string> failures;
    std::set<std::string> servers_after_kill;
    std::atomic<bool> killed{false};
    int retried = 0;
    int local_runs = 0;  // auto mode: runs the planner kept on the device
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        for (int r = 0; r < kRequests; ++r) {
          const int seed = c * kRequests + r;
          RunStats stats;
          auto out = (*session)->RunWithStats(Input(seed), &stats);
          std::lock_guard<std::mutex> lock(mu);
          if (!out.ok()) {
            failures.push_back(out.status().ToString());
            continue;
          }
          const double err = RelativeL2((*out)[0].tensor, expected[seed]);
          if (!(err <= kTolerance)) {
            failures.push_back("request " + std::to_string(seed) +
                               " differs: " + std::to_string(err));
          }
          const bool on_device = stats.cut.has_value() && stats.cut->kind() == Cut::Kind::kLocal;
          if (on_device) {
            ++local_runs;
          } else if (stats.attempts < 1 || stats.server.empty()) {
            failures.push_back("request " + std::to_string(seed) + " has no server in RunStats");
          }
          if (stats.attempts > 1) ++retried;
          if (killed) servers_after_kill.insert(stats.server);
          ++answered;
        }
      });
    }
    while (answered.load() < 8) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    a->Kill();
    killed = true;
    for (std::thread& t : clients) t.join();
    EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
    EXPECT_EQ(answered.load(), kClients * kRequests);
    // Requests answered after the kill went to b (some that a answered just before it may be
    // counted too).
    if (local_runs < kClients * kRequests) {
      EXPECT_EQ(servers_after_kill.count(b->grpc_address()), 1u);
    }
    std::printf("[failover %s] %d requests retried on another server, %d ran on the device\n",
                mode.c_str(), retried, local_runs);
  }

  std::string bytes_;
  std::unique_ptr<Session> local_;
};

TEST_F(OffloadFailoverTest, RemoteModeSurvivesAKilledServer) { KillOneOfTwo("remote"); }

TEST_F(OffloadFailoverTest, SplitModeSurvivesAKilledServer) { KillOneOfTwo("split:1"); }

// Auto mode goes through the same FailoverCaller for its server part. On this machine (device
// and servers share the same cores) the planner may keep every run on the device, so this test
// checks that auto with a list opens, answers every request correctly and survives the kill; the
// failover itself is exercised by the remote and split tests.
TEST_F(OffloadFailoverTest, AutoModeWithAListAnswersEveryRequestThroughAKill) {
  TempDir cache;
  setenv("EDGEINFER_CACHE_DIR", cache.path().c_str(), 1);
  KillOneOfTwo("auto");
}

TEST_F(OffloadFailoverTest, SilentServerCostsOneAttemptDeadlineThenIsSkipped) {
  TempDir repo;
  auto server = StartServer(repo);
  ASSERT_TRUE(server);
  BlackHole hole;
  constexpr int kAttemptMs = 300;
  // The silent server first: the session's first choice.
  const auto open_start = std::chrono::steady_clock::now();
  auto session = Open(hole.endpoint() + "," + server->endpoint(), "remote", 20000, kAttemptMs);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  // Opening asks the silent server first and gives up on it after one attempt deadline.
  const double open_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - open_start)
          .count();
  EXPECT_LT(open_ms, kAttemptMs + 3000.0);
  int retried = 0;
  for (int i = 0; i < 6; ++i) {
    RunStats stats;
    auto out = (*session)->RunWithStats(Input(i), &stats);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_LE(RelativeL2((*out)[0].tensor, LocalOutput(*local_, i)), kTolerance);
    EXPECT_EQ(stats.server, server->grpc_address());
    if (stats.attempts > 1) {
      ++retried;
      // One attempt deadline on the silent server, then the answer: far below the 20 s
      // request deadline (3 s of slack for a loaded machine).
      EXPECT_LT(stats.total_ms, kAttemptMs + 3000.0);
    }
  }
  // At most two requests try the silent server (healthy -> suspect -> down); afterwards it is
  // skipped while its backoff lasts.
  EXPECT_LE(retried, 2);
}

TEST_F(OffloadFailoverTest, StalledLinkCostsOneAttemptDeadlineThenTheOtherServerAnswers) {
  TempDir repo_a, repo_b;
  auto a = StartServer(repo_a);
  auto b = StartServer(repo_b);
  ASSERT_TRUE(a && b);
  net::LinkOptions link;
  link.to = a->grpc_address();
  auto linkem = net::LinkEmulator::Start(link);
  ASSERT_TRUE(linkem.ok()) << linkem.status().ToString();
  constexpr int kAttemptMs = 400;
  auto session =
      Open("grpc://" + (*linkem)->address() + "," + b->endpoint(), "remote", 20000, kAttemptMs);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  std::set<std::string> before;
  for (int i = 0; i < 6; ++i) {
    RunStats stats;
    ASSERT_TRUE((*session)->RunWithStats(Input(i), &stats).ok());
    before.insert(stats.server);
  }
  EXPECT_EQ(before.count((*linkem)->address()), 1u) << "the link carried requests before";
  (*linkem)->SetStalled(true);
  int retried = 0;
  for (int i = 0; i < 8; ++i) {
    RunStats stats;
    auto out = (*session)->RunWithStats(Input(i), &stats);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_LE(RelativeL2((*out)[0].tensor, LocalOutput(*local_, i)), kTolerance);
    EXPECT_EQ(stats.server, b->grpc_address());
    // The per-attempt deadline plus one retry (2 s of slack for a loaded machine), far below
    // the 20 s request deadline.
    EXPECT_LT(stats.total_ms, kAttemptMs + 2000.0);
    if (stats.attempts > 1) ++retried;
  }
  EXPECT_GE(retried, 1) << "some request met the stalled link";
  (*linkem)->SetStalled(false);
}

TEST_F(OffloadFailoverTest, KeepaliveNoticesAStalledLinkBeforeTheAttemptDeadline) {
  TempDir repo_a, repo_b;
  auto a = StartServer(repo_a);
  auto b = StartServer(repo_b);
  ASSERT_TRUE(a && b);
  net::LinkOptions link;
  link.to = a->grpc_address();
  auto linkem = net::LinkEmulator::Start(link);
  ASSERT_TRUE(linkem.ok()) << linkem.status().ToString();
  // 30 s per request, so 10 s for the first attempt: only keepalive (2 s ping, 2 s timeout) can
  // end an attempt on the stalled link sooner.
  auto session = Open("grpc://" + (*linkem)->address() + "," + b->endpoint(), "remote", 30000);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*session)->Run(Input(i)).ok());
  (*linkem)->SetStalled(true);
  double slowest_ms = 0.0;
  int retried = 0;
  for (int i = 0; i < 4; ++i) {
    RunStats stats;
    auto out = (*session)->RunWithStats(Input(i), &stats);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(stats.server, b->grpc_address());
    if (stats.attempts > 1) ++retried;
    slowest_ms = std::max(slowest_ms, stats.total_ms);
  }
  EXPECT_GE(retried, 1);
  EXPECT_LT(slowest_ms, 8000.0) << "the stalled attempt ran to its 10 s deadline";
  std::printf("[failover] keepalive: slowest request over the stalled link %.0f ms\n", slowest_ms);
  (*linkem)->SetStalled(false);
}

TEST_F(OffloadFailoverTest, AllServersDownFailsNamingThemOrRunsLocally) {
  const std::string a = "127.0.0.1:" + std::to_string(ClosedPort());
  const std::string b = "127.0.0.1:" + std::to_string(ClosedPort());
  auto session = Open(a + "," + b, "remote", 5000);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kUnavailable) << session.status().ToString();
  EXPECT_NE(session.status().message().find(a), std::string::npos) << session.status().ToString();
  EXPECT_NE(session.status().message().find(b), std::string::npos) << session.status().ToString();

  auto fallback = Open(a + "," + b, "remote", 5000, 0, "local");
  ASSERT_TRUE(fallback.ok()) << fallback.status().ToString();
  RunStats stats;
  auto out = (*fallback)->RunWithStats(Input(3), &stats);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(stats.fell_back);
  EXPECT_LE(RelativeL2((*out)[0].tensor, LocalOutput(*local_, 3)), kTolerance);
}

TEST_F(OffloadFailoverTest, ServersThatDieAfterOpenFailTheRequestWithinItsDeadline) {
  TempDir repo_a, repo_b;
  auto a = StartServer(repo_a);
  auto b = StartServer(repo_b);
  ASSERT_TRUE(a && b);
  constexpr int kDeadlineMs = 5000;
  auto session = Open(a->endpoint() + "," + b->endpoint(), "remote", kDeadlineMs);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  ASSERT_TRUE((*session)->Run(Input(1)).ok());
  a->Kill();
  b->Kill();
  RunStats stats;
  const auto start = std::chrono::steady_clock::now();
  auto out = (*session)->RunWithStats(Input(1), &stats);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable) << out.status().ToString();
  EXPECT_NE(out.status().message().find(a->grpc_address()), std::string::npos);
  EXPECT_NE(out.status().message().find(b->grpc_address()), std::string::npos);
  EXPECT_LT(ms, kDeadlineMs + 1000.0);
}

TEST_F(OffloadFailoverTest, ServerThatLostTheModelGetsItAgain) {
  TempDir repo_a, repo_b;
  auto a = StartServer(repo_a);
  auto b = StartServer(repo_b);
  ASSERT_TRUE(a && b);
  auto session = Open(a->endpoint() + "," + b->endpoint(), "remote");
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*session)->Run(Input(i)).ok());
  // Both servers forget the uploaded model (as a restarted server does).
  const std::string name = net::ContentModelName(bytes_);
  for (EdgeServerProcess* s : {a.get(), b.get()}) {
    auto channel = grpc::CreateChannel(s->grpc_address(), grpc::InsecureChannelCredentials());
    auto stub = inference::GRPCInferenceService::NewStub(channel);
    grpc::ClientContext ctx;
    inference::RepositoryModelUnloadRequest req;
    req.set_model_name(name);
    inference::RepositoryModelUnloadResponse res;
    ASSERT_TRUE(stub->RepositoryModelUnload(&ctx, req, &res).ok());
  }
  RunStats stats;
  auto out = (*session)->RunWithStats(Input(7), &stats);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(stats.attempts, 2) << "NOT_FOUND, upload, then the answer";
  EXPECT_LE(RelativeL2((*out)[0].tensor, LocalOutput(*local_, 7)), kTolerance);
}

TEST_F(OffloadFailoverTest, RestartedServerIsUsedAgainAndGetsTheModelAgain) {
  TempDir repo_a, repo_a2, repo_b;
  const std::string port = std::to_string(ClosedPort());
  auto start_a = [&](TempDir& repo) {
    // A later --grpc wins: the restarted server listens where the first one did.
    auto s = EdgeServerProcess::Start(EDGEINFER_CLI, repo.path(),
                                      {"--threads", "1", "--grpc", "127.0.0.1:" + port});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  };
  auto a = start_a(repo_a);
  auto b = StartServer(repo_b);
  ASSERT_TRUE(a && b);
  const std::string a_address = a->grpc_address();
  auto session = Open(a->endpoint() + "," + b->endpoint(), "remote");
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*session)->Run(Input(i)).ok());
  a->Kill();
  for (int i = 0; i < 4; ++i) {
    RunStats stats;
    ASSERT_TRUE((*session)->RunWithStats(Input(i), &stats).ok());
    EXPECT_EQ(stats.server, b->grpc_address());
  }
  // A restarts empty (it lost the uploaded model), on the same address.
  auto a2 = start_a(repo_a2);
  ASSERT_TRUE(a2);
  ASSERT_EQ(a2->grpc_address(), a_address);
  const auto restarted = std::chrono::steady_clock::now();
  double used_after_ms = -1.0;
  for (int i = 0; i < 2000 && used_after_ms < 0.0; ++i) {
    RunStats stats;
    auto out = (*session)->RunWithStats(Input(i), &stats);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_LE(RelativeL2((*out)[0].tensor, LocalOutput(*local_, i)), kTolerance);
    if (stats.server == a_address) {
      used_after_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - restarted)
              .count();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(used_after_ms, 0.0) << "the restarted server was never used again";
  // Backoff capped at 2 s, probes every 100 ms: well within 5 s.
  EXPECT_LT(used_after_ms, 5000.0);
  std::printf("[failover] restarted server used again after %.0f ms\n", used_after_ms);
}

}  // namespace
}  // namespace edgeinfer::testing

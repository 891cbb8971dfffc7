// Endpoint lists (comma lists, dns:///NAME:PORT) and the EndpointPool's health state machine,
// timed exactly with a FakeClock.
#include "net/endpoint_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "offload_util.h"
#include "oracle_util.h"

namespace edgeinfer::net {
namespace {

std::vector<std::string> Addresses(const std::vector<EdgeClientOptions>& servers) {
  std::vector<std::string> a;
  for (const auto& s : servers) a.push_back(s.address);
  return a;
}

TEST(EndpointListTest, IsEndpointListOnlyForListsAndDns) {
  EXPECT_FALSE(IsEndpointList("a:1"));
  EXPECT_FALSE(IsEndpointList("grpc://a:1"));
  EXPECT_TRUE(IsEndpointList("a:1,b:2"));
  EXPECT_TRUE(IsEndpointList("dns:///edge.default.svc:8001"));
}

TEST(EndpointListTest, CommaListKeepsOrderAndCopiesTheBaseOptions) {
  EdgeClientOptions base;
  base.token = "t";
  base.timeout_ms = 1234;
  auto servers = ParseEndpointList("a:8001, grpc://b:8002 ,grpcs://c:8003", base);
  ASSERT_TRUE(servers.ok()) << servers.status().ToString();
  EXPECT_EQ(Addresses(*servers), (std::vector<std::string>{"a:8001", "b:8002", "c:8003"}));
  EXPECT_FALSE((*servers)[0].tls);
  EXPECT_TRUE((*servers)[2].tls);
  for (const auto& s : *servers) {
    EXPECT_EQ(s.token, "t");
    EXPECT_EQ(s.timeout_ms, 1234);
  }
}

TEST(EndpointListTest, BadListsNameTheItem) {
  auto empty = ParseEndpointList("a:1,,b:2", {});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("item 2 is empty"), std::string::npos)
      << empty.status().ToString();
  auto dup = ParseEndpointList("a:1,grpc://a:1", {});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("a:1 twice"), std::string::npos);
  auto port = ParseEndpointList("a:1,b:x", {});
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.status().message().find("'b:x'"), std::string::npos);
  auto dns = ParseEndpointList("dns:///edge", {});
  ASSERT_FALSE(dns.ok());
  EXPECT_EQ(dns.status().code(), StatusCode::kInvalidArgument);
}

TEST(EndpointListTest, DnsTargetGivesOneServerPerAddress) {
  std::string asked;
  HostResolver resolver = [&](const std::string& host) -> Result<std::vector<std::string>> {
    asked = host;
    return std::vector<std::string>{"10.0.0.7", "10.0.0.9"};
  };
  auto servers = ParseEndpointList("dns:///edge.default.svc.cluster.local:8001", {}, resolver);
  ASSERT_TRUE(servers.ok()) << servers.status().ToString();
  EXPECT_EQ(asked, "edge.default.svc.cluster.local");
  EXPECT_EQ(Addresses(*servers), (std::vector<std::string>{"10.0.0.7:8001", "10.0.0.9:8001"}));

  HostResolver none = [](const std::string&) -> Result<std::vector<std::string>> {
    return std::vector<std::string>{};
  };
  auto empty = ParseEndpointList("dns:///gone:8001", {}, none);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(empty.status().message().find("'gone'"), std::string::npos);
}

TEST(EndpointListTest, DnsResolvesLocalhostForReal) {
  auto servers = ParseEndpointList("dns:///localhost:8001", {});
  ASSERT_TRUE(servers.ok()) << servers.status().ToString();
  EXPECT_EQ(Addresses(*servers), (std::vector<std::string>{"127.0.0.1:8001"}));
}

class EndpointPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<EdgeClientOptions> servers(3);
    for (int i = 0; i < 3; ++i) {
      servers[i].address = "127.0.0.1:" + std::to_string(testing::ClosedPort());
    }
    PoolOptions options;
    options.clock = &clock_;
    options.backoff_initial_ms = 250;
    options.backoff_max_ms = 2000;
    options.probe_timeout_ms = 2000;
    auto pool = EndpointPool::Create(servers, options);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    pool_ = std::move(pool).value();
  }

  bool Contains(const std::vector<size_t>& v, size_t i) {
    return std::find(v.begin(), v.end(), i) != v.end();
  }

  FakeClock clock_;
  std::unique_ptr<EndpointPool> pool_;
};

TEST_F(EndpointPoolTest, HealthyServersShareRequestsInTurn) {
  std::map<size_t, int> first;
  for (int k = 0; k < 30; ++k) ++first[pool_->Candidates().front()];
  EXPECT_EQ(first[0], 10);
  EXPECT_EQ(first[1], 10);
  EXPECT_EQ(first[2], 10);
}

TEST_F(EndpointPoolTest, FewestAttemptsInFlightComeFirst) {
  pool_->BeginAttempt(0);
  pool_->BeginAttempt(0);
  pool_->BeginAttempt(1);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(pool_->Candidates(), (std::vector<size_t>{2, 1, 0}));
  }
  pool_->EndAttempt(0);
  pool_->EndAttempt(0);
  pool_->EndAttempt(1);
  EXPECT_EQ(pool_->Candidates().size(), 3u);
}

TEST_F(EndpointPoolTest, FailuresMakeSuspectThenDownWithDoublingBackoff) {
  pool_->set_model_ready(1, true);
  pool_->ReportFailure(1);
  EXPECT_EQ(pool_->health(1), ServerHealth::kSuspect);
  EXPECT_TRUE(pool_->model_ready(1));
  // Suspect servers are still tried, after the healthy ones.
  for (int k = 0; k < 4; ++k) EXPECT_EQ(pool_->Candidates().back(), 1u);
  // ... and probed after the first wait.
  clock_.AdvanceMs(249);
  EXPECT_TRUE(pool_->DueForProbe().empty());
  clock_.AdvanceMs(1);
  EXPECT_EQ(pool_->DueForProbe(), (std::vector<size_t>{1}));

  pool_->ReportFailure(1);
  EXPECT_EQ(pool_->health(1), ServerHealth::kDown);
  EXPECT_FALSE(pool_->model_ready(1)) << "a server that went down may have lost the model";
  EXPECT_FALSE(Contains(pool_->Candidates(), 1));
  EXPECT_EQ(pool_->AllByPreference().back(), 1u);
  EXPECT_TRUE(pool_->DueForProbe().empty());

  // Waits 250, 500, 1000, 2000, 2000 ms after each further failure.
  for (double wait : {250.0, 500.0, 1000.0, 2000.0, 2000.0}) {
    clock_.AdvanceMs(wait - 1);
    EXPECT_TRUE(pool_->DueForProbe().empty()) << wait;
    EXPECT_FALSE(Contains(pool_->Candidates(), 1)) << wait;
    clock_.AdvanceMs(1);
    EXPECT_EQ(pool_->DueForProbe(), (std::vector<size_t>{1})) << wait;
    EXPECT_TRUE(Contains(pool_->Candidates(), 1)) << wait;
    pool_->ReportFailure(1);
  }
  pool_->ReportSuccess(1);
  EXPECT_EQ(pool_->health(1), ServerHealth::kHealthy);
  // Back to the first wait after a success.
  pool_->ReportFailure(1);
  pool_->ReportFailure(1);
  clock_.AdvanceMs(250);
  EXPECT_EQ(pool_->DueForProbe(), (std::vector<size_t>{1}));
}

TEST_F(EndpointPoolTest, ProbeOfAClosedPortKeepsTheServerDownAndDescribesIt) {
  pool_->ReportFailure(2);
  pool_->ReportFailure(2);
  clock_.AdvanceMs(250);
  pool_->ProbeDue();  // connection refused at once
  EXPECT_EQ(pool_->health(2), ServerHealth::kDown);
  EXPECT_TRUE(pool_->DueForProbe().empty()) << "the failed probe doubled the backoff";
  clock_.AdvanceMs(500);
  EXPECT_EQ(pool_->DueForProbe(), (std::vector<size_t>{2}));
  const std::string text = pool_->Describe();
  EXPECT_NE(text.find(pool_->address(2) + " (down)"), std::string::npos) << text;
  EXPECT_NE(text.find(pool_->address(0) + " (healthy)"), std::string::npos) << text;
}

TEST(EndpointPoolLiveTest, ProbeOfALiveServerMakesItHealthy) {
  testing::TempDir repo;
  auto server = testing::EdgeServerProcess::Start(EDGEINFER_CLI, repo.path(), {"--threads", "1"});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  FakeClock clock;
  PoolOptions options;
  options.clock = &clock;
  EdgeClientOptions o;
  o.address = (*server)->grpc_address();
  auto pool = EndpointPool::Create({o}, options);
  ASSERT_TRUE(pool.ok());
  (*pool)->ReportFailure(0);
  (*pool)->ReportFailure(0);
  EXPECT_TRUE((*pool)->DueForProbe().empty());
  clock.AdvanceMs(options.backoff_initial_ms);
  (*pool)->ProbeDue();
  EXPECT_EQ((*pool)->health(0), ServerHealth::kHealthy);
  EXPECT_TRUE((*pool)->client(0).ServerReady().ok()) << "uploads are allowed: ready";
}

}  // namespace
}  // namespace edgeinfer::net

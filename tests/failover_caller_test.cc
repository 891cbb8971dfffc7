// FailoverCaller's retry classes against in-process fake servers that answer ModelInfer in one
// chosen way: a reply with another request id (dropped, retried elsewhere), a full queue
// (retried elsewhere), a bad request (returned at once), and a good answer.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "inference.grpc.pb.h"
#include "runtime/failover.h"

namespace edgeinfer {
namespace {

enum class Behaviour { kOk, kWrongId, kExhausted, kInvalid };

class FakeService final : public inference::GRPCInferenceService::Service {
 public:
  explicit FakeService(Behaviour behaviour) : behaviour_(behaviour) {}

  grpc::Status ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest*,
                          inference::ModelReadyResponse* response) override {
    response->set_ready(true);
    return grpc::Status::OK;
  }

  grpc::Status ModelInfer(grpc::ServerContext*, const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ids_.push_back(request->id());
    }
    switch (behaviour_) {
      case Behaviour::kExhausted:
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "queue full");
      case Behaviour::kInvalid:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad input 'x'");
      case Behaviour::kWrongId:
        response->set_id(request->id() + "-late");
        break;
      case Behaviour::kOk:
        response->set_id(request->id());
        break;
    }
    auto* out = response->add_outputs();
    out->set_name("y");
    out->set_datatype("FP32");
    out->add_shape(1);
    const float value = 7.0f;
    response->add_raw_output_contents()->assign(reinterpret_cast<const char*>(&value),
                                                sizeof(value));
    return grpc::Status::OK;
  }

  std::vector<std::string> ids() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_;
  }

 private:
  const Behaviour behaviour_;
  mutable std::mutex mu_;
  std::vector<std::string> ids_;  // guarded by mu_
};

struct FakeServer {
  explicit FakeServer(Behaviour b) : service(b) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  ~FakeServer() { server->Shutdown(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }

  FakeService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

class FailoverCallerTest : public ::testing::Test {
 protected:
  // A caller over `first` then `second`; the pool's first choice is `first`.
  std::unique_ptr<FailoverCaller> Caller(const FakeServer& first, const FakeServer& second) {
    std::vector<net::EdgeClientOptions> servers(2);
    servers[0].address = first.address();
    servers[1].address = second.address();
    for (auto& s : servers) s.timeout_ms = 5000;
    net::PoolOptions options;
    options.clock = &clock_;
    auto pool = net::EndpointPool::Create(servers, options);
    EXPECT_TRUE(pool.ok()) << pool.status().ToString();
    FailoverOptions failover;
    failover.timeout_ms = 5000;
    return std::make_unique<FailoverCaller>(std::move(pool).value(),
                                            std::make_shared<const std::string>("model"), failover);
  }

  Result<std::vector<NamedTensor>> Run(FailoverCaller& caller, FailoverReport* report) {
    std::vector<NamedTensor> inputs = {{"x", Tensor::Zeros(DType::kFloat32, {1})}};
    net::InferTiming timing;
    return caller.Infer(inputs, {"y"}, &timing, {}, report);
  }

  FakeClock clock_;  // no backoff passes during a test
};

TEST_F(FailoverCallerTest, ALateReplyWithAnotherIdIsDroppedAndRetriedElsewhere) {
  FakeServer late(Behaviour::kWrongId), good(Behaviour::kOk);
  auto caller = Caller(late, good);
  FailoverReport report;
  auto out = Run(*caller, &report);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(report.server, good.address());
  EXPECT_EQ(report.attempts, 2);
  // Both attempts carried the same request id; the server was not marked failed.
  ASSERT_EQ(late.service.ids().size(), 1u);
  ASSERT_EQ(good.service.ids().size(), 1u);
  EXPECT_EQ(late.service.ids()[0], good.service.ids()[0]);
  EXPECT_EQ(caller->pool().health(0), net::ServerHealth::kHealthy);
}

TEST_F(FailoverCallerTest, AFullQueueMovesTheRequestWithoutMarkingTheServer) {
  FakeServer full(Behaviour::kExhausted), good(Behaviour::kOk);
  auto caller = Caller(full, good);
  FailoverReport report;
  auto out = Run(*caller, &report);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(report.server, good.address());
  EXPECT_EQ(report.attempts, 2);
  EXPECT_EQ(caller->pool().health(0), net::ServerHealth::kHealthy);
}

TEST_F(FailoverCallerTest, TheRequestsOwnErrorIsNotRetried) {
  FakeServer invalid(Behaviour::kInvalid), good(Behaviour::kOk);
  auto caller = Caller(invalid, good);
  FailoverReport report;
  auto out = Run(*caller, &report);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument) << out.status().ToString();
  EXPECT_TRUE(good.service.ids().empty()) << "another server would answer the same";
}

TEST_F(FailoverCallerTest, EveryRequestHasItsOwnId) {
  FakeServer a(Behaviour::kOk), b(Behaviour::kOk);
  auto caller = Caller(a, b);
  for (int i = 0; i < 6; ++i) {
    FailoverReport report;
    ASSERT_TRUE(Run(*caller, &report).ok());
    EXPECT_EQ(report.attempts, 1);
  }
  std::set<std::string> ids;
  for (const auto& id : a.service.ids()) ids.insert(id);
  for (const auto& id : b.service.ids()) ids.insert(id);
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(a.service.ids().size(), 3u) << "equal servers share the requests";
}

}  // namespace
}  // namespace edgeinfer

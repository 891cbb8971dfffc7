// The edge server's behaviour around the edges of a request's life: a request whose deadline
// passes while it waits behind a slow one is dropped with DEADLINE_EXCEEDED (and the server
// keeps serving), SIGTERM stops `serve` promptly, and bad HTTP requests get a clear JSON error.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgeinfer/session.h"
#include "offload_util.h"
#include "server_test_util.h"

namespace edgeinfer {
namespace {

using json = nlohmann::json;
using testing::LocalOptions;
using testing::TempDir;
using testing::TinyModelBytes;
using testing::WriteModel;
using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// x[1,3,512,512] -> 6 x (conv 3x3 to 64 channels + Relu) -> conv 64->1: about 100 GFLOP,
// 0.7 s on one AVX-512 core (the test checks that it is slow enough).
std::string SlowModelBytes() {
  zoo::GraphBuilder b("slow", 11);
  ValueId h = b.Input("x", {1, 3, 512, 512});
  zoo::ConvOptions c;
  c.out_channels = 64;
  c.kernel = 3;
  c.pad = 1;
  for (int i = 0; i < 14; ++i)
    h = b.Relu("relu" + std::to_string(i), b.Conv("conv" + std::to_string(i), h, c));
  c.out_channels = 1;  // a small reply: the stub's default receive limit is 4 MB
  b.Output(b.Conv("head", h, c), "y");
  Result<Graph> graph = b.Finish();
  EXPECT_TRUE(graph.ok()) << graph.status().ToString();
  Result<std::string> bytes = ExportOnnx(*graph);
  return bytes.ok() ? *bytes : std::string();
}

inference::ModelInferRequest Request(const std::string& model, const Shape& shape) {
  inference::ModelInferRequest req;
  req.set_model_name(model);
  auto* in = req.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  int64_t n = 1;
  for (int64_t d : shape) {
    in->add_shape(d);
    n *= d;
  }
  std::vector<float> x(static_cast<size_t>(n), 0.25f);
  req.add_raw_input_contents()->assign(reinterpret_cast<const char*>(x.data()),
                                       x.size() * sizeof(float));
  return req;
}

grpc::Status Infer(inference::GRPCInferenceService::Stub* stub,
                   const inference::ModelInferRequest& req, std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  inference::ModelInferResponse res;
  return stub->ModelInfer(&ctx, req, &res);
}

TEST(ServerLifecycleTest, QueuedRequestPastItsDeadlineIsDroppedAndServerKeepsServing) {
  TempDir dir;
  WriteModel(dir.path(), "slow", SlowModelBytes());
  WriteModel(dir.path(), "tiny", TinyModelBytes());
  server::EdgeServer edge;
  server::ServerOptions options = LocalOptions(dir.path().string());
  options.workers = 1;  // so that the second request must wait for the first
  ASSERT_TRUE(edge.Start(options).ok());
  auto stub = testing::Connect(edge.ports().grpc);
  const auto slow = Request("slow", {1, 3, 512, 512});
  const auto tiny = Request("tiny", {1, 3, 8, 8});
  const auto kLong = std::chrono::seconds(120);
  // Warm-up compiles both slices, so that the timed slow request starts computing at once.
  ASSERT_TRUE(Infer(stub.get(), tiny, kLong).ok());
  const auto warm_start = Clock::now();
  grpc::Status warm = Infer(stub.get(), slow, kLong);
  ASSERT_TRUE(warm.ok()) << warm.error_message();
  const double slow_ms = MsSince(warm_start);
  // The slow request gets a head start of a quarter of its own run time (at least 100 ms), so
  // that on a loaded machine (or under ASan, where sending its 3 MB input is slow) it has
  // reached the worker before the tiny one is sent; it must then outlast the queued deadline.
  constexpr int kDeadlineMs = 150;
  const int head_start_ms = std::max(100, static_cast<int>(0.25 * slow_ms));
  ASSERT_GT(slow_ms, head_start_ms + 2.0 * kDeadlineMs + 100)
      << "the slow model is too fast on this machine to hold the queue";

  grpc::Status slow_status;
  std::thread first([&] { slow_status = Infer(stub.get(), slow, kLong); });
  std::this_thread::sleep_for(std::chrono::milliseconds(head_start_ms));
  const auto queued_start = Clock::now();
  grpc::Status queued = Infer(stub.get(), tiny, std::chrono::milliseconds(kDeadlineMs));
  const double queued_ms = MsSince(queued_start);
  first.join();
  EXPECT_EQ(queued.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << queued.error_message();
  // The client gives up at its deadline rather than when the slow request ends; the bound
  // leaves room for a loaded 2-core machine.
  EXPECT_LT(queued_ms, kDeadlineMs + 0.5 * slow_ms);
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  grpc::Status after = Infer(stub.get(), tiny, kLong);
  EXPECT_TRUE(after.ok()) << after.error_message();
}

TEST(ServerLifecycleTest, SigtermStopsServePromptly) {
  TempDir repo;
  auto server = testing::EdgeServerProcess::Start(EDGEINFER_CLI, repo.path().string());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  // A client that has just been served keeps its HTTP/2 connection open.
  SessionOptions o;
  o.accelerator = (*server)->endpoint();
  o.timeout_ms = 20000;
  auto session = Session::OpenFromBytes(TinyModelBytes(), ".", o);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  Tensor x = Tensor::Empty(DType::kFloat32, {1, 3, 8, 8});
  std::memset(x.raw_data(), 0, x.nbytes());
  ASSERT_TRUE((*session)->Run({{"x", x}}).ok());
  const auto start = Clock::now();
  Result<int> code = (*server)->Terminate(5000);
  const double ms = MsSince(start);
  ASSERT_TRUE(code.ok()) << code.status().ToString() << "\n" << (*server)->Log();
  EXPECT_EQ(*code, 0) << (*server)->Log();
  // Nothing is running, so nothing justifies a wait; 1 s leaves room for a loaded machine.
  EXPECT_LT(ms, 1000) << (*server)->Log();
}

class HttpErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteModel(dir_.path(), "tiny", TinyModelBytes());
    server::ServerOptions options = LocalOptions(dir_.path().string());
    options.http_address = "127.0.0.1:0";
    ASSERT_TRUE(edge_.Start(options).ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", edge_.ports().http);
  }

  // POSTs `body` and expects status `code` with a JSON {"error": ...} containing `part`.
  void ExpectError(const std::string& path, const std::string& body, const char* content_type,
                   int code, const std::string& part) {
    auto res = content_type ? client_->Post(path.c_str(), body, content_type)
                            : client_->Post(path.c_str(), httplib::Headers{}, body, "");
    ASSERT_TRUE(res) << "no HTTP reply for " << path;
    EXPECT_EQ(res->status, code) << res->body;
    json j = json::parse(res->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: '" << res->body << "'";
    ASSERT_TRUE(j.contains("error")) << res->body;
    EXPECT_NE(j["error"].get<std::string>().find(part), std::string::npos) << res->body;
  }

  static std::string TinyJson(size_t values) {
    json in = {{"name", "x"},
               {"datatype", "FP32"},
               {"shape", {1, 3, 8, 8}},
               {"data", std::vector<float>(values, 0.5f)}};
    return json{{"inputs", {in}}}.dump();
  }

  TempDir dir_;
  server::EdgeServer edge_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpErrorTest, BadRequestsGetAJsonError) {
  const std::string infer = "/v2/models/tiny/infer";
  ExpectError(infer, "{\"inputs\": [", "application/json", 400, "JSON");
  ExpectError(infer, TinyJson(7), "application/json", 400, "x");
  ExpectError("/v2/models/nosuch/infer", TinyJson(192), "application/json", 404, "nosuch");
  // The server keeps serving after each of them.
  auto ok = client_->Post(infer.c_str(), TinyJson(192), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST_F(HttpErrorTest, BodyWithoutJsonContentTypeIsStillAnswered) {
  const std::string infer = "/v2/models/tiny/infer";
  for (const char* type :
       {static_cast<const char*>(nullptr), "text/plain", "application/x-www-form-urlencoded"}) {
    SCOPED_TRACE(type ? type : "no Content-Type");
    auto res = type ? client_->Post(infer.c_str(), TinyJson(192), type)
                    : client_->Post(infer.c_str(), httplib::Headers{}, TinyJson(192), "");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    json j = json::parse(res->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: '" << res->body << "'";
    EXPECT_TRUE(j.contains("outputs")) << res->body;
    ExpectError(infer, "not json", type, 400, "JSON");
  }
}

}  // namespace
}  // namespace edgeinfer

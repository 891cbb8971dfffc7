// Edge server: gRPC (KServe v2 / Triton) behaviour in process, plus its parts (SHA-256,
// scheduler, HTTP codec) on their own.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "core/sha256.h"
#include "edgeinfer/session.h"
#include "net/model_hash.h"
#include "server/scheduler.h"
#include "server_test_util.h"

namespace edgeinfer {
namespace {

using testing::Connect;
using testing::LocalOptions;
using testing::TempDir;
using testing::TinyModelBytes;
using testing::WriteModel;

TEST(ModelHashTest, MatchesKnownDigests) {
  // Lengths 55, 56 and 64 cover one- and two-block padding.
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(Sha256Hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(Sha256Hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  EXPECT_EQ(Sha256Hex(std::string(1000, 'a')),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  EXPECT_EQ(net::ContentModelName("abc"), "sha256-ba7816bf8f01cfea");
  EXPECT_TRUE(net::IsContentModelName("sha256-ba7816bf8f01cfea"));
  EXPECT_FALSE(net::IsContentModelName("sha256-BA7816BF8F01CFEA"));
  EXPECT_FALSE(net::IsContentModelName("resnet"));
}

// Blocks the scheduler's only worker until released, so queue behaviour is deterministic.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void AwaitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

TEST(SchedulerTest, FullQueueIsResourceExhaustedAndDeadlineDropsQueuedWork) {
  server::Scheduler scheduler({/*workers=*/1, /*threads=*/1, /*max_queue=*/1});
  const auto never = server::Scheduler::Clock::time_point::max();
  Gate gate;
  std::thread blocker(
      [&] { EXPECT_TRUE(scheduler.Run([&] { gate.Wait(); }, never, nullptr).ok()); });
  gate.AwaitEntered();
  // The worker is busy: one job may wait; its deadline passes while it is queued.
  bool ran = false;
  Status late =
      scheduler.Run([&] { ran = true; },
                    server::Scheduler::Clock::now() + std::chrono::milliseconds(50), nullptr);
  EXPECT_EQ(late.code(), StatusCode::kDeadlineExceeded) << late.ToString();
  EXPECT_FALSE(ran);
  EXPECT_EQ(scheduler.queue_length(), 0);
  // Fill the one queue slot, then the next job is refused.
  std::thread waiter([&] {
    server::ScheduleTiming timing;
    EXPECT_TRUE(scheduler.Run([] {}, never, &timing).ok());
    EXPECT_GT(timing.queue_us, 0);
  });
  while (scheduler.queue_length() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Status full = scheduler.Run([] {}, never, nullptr);
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full.ToString();
  gate.Open();
  blocker.join();
  waiter.join();
  server::ScheduleTiming timing;
  EXPECT_TRUE(scheduler.Run([] {}, never, &timing).ok());
  EXPECT_EQ(timing.queue_length, 0);
}

TEST(SchedulerTest, ShutdownFailsQueuedWork) {
  server::Scheduler scheduler({1, 1, 4});
  const auto never = server::Scheduler::Clock::time_point::max();
  Gate gate;
  std::thread blocker(
      [&] { EXPECT_TRUE(scheduler.Run([&] { gate.Wait(); }, never, nullptr).ok()); });
  gate.AwaitEntered();
  Status queued_status;
  std::thread queued([&] { queued_status = scheduler.Run([] {}, never, nullptr); });
  while (scheduler.queue_length() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread stopper([&] { scheduler.Shutdown(); });
  queued.join();
  EXPECT_EQ(queued_status.code(), StatusCode::kUnavailable);
  gate.Open();
  blocker.join();
  stopper.join();
  EXPECT_EQ(scheduler.Run([] {}, never, nullptr).code(), StatusCode::kUnavailable);
}

// One server for the whole suite: starting one loads and profiles the model (~100 ms).
class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    model_bytes_ = new std::string(TinyModelBytes());
    WriteModel(dir_->path(), "tiny", *model_bytes_);
    server_ = new server::EdgeServer();
    server::ServerOptions options = LocalOptions(dir_->path().string());
    options.allow_upload = true;
    ASSERT_TRUE(server_->Start(options).ok());
  }
  static void TearDownTestSuite() {
    delete server_;
    delete model_bytes_;
    delete dir_;
  }
  void SetUp() override { stub_ = Connect(server_->ports().grpc); }

  // The whole model run locally: the oracle for the server's answers.
  static std::vector<float> LocalRun(const std::vector<float>& x, const std::string& output) {
    SessionOptions options;
    options.threads = 1;
    auto session = Session::OpenFromBytes(*model_bytes_, ".", options);
    EXPECT_TRUE(session.ok());
    auto outs = (*session)->Run({{"x", Tensor::FromVector(x, {1, 3, 8, 8})}});
    EXPECT_TRUE(outs.ok());
    const Tensor& y = (*outs)[0].tensor;
    EXPECT_EQ((*outs)[0].name, output);
    return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
  }

  static std::vector<float> Input(int seed) {
    std::vector<float> x(3 * 8 * 8);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37 + seed) % 17) / 8 - 1;
    return x;
  }

  static void AddRaw(inference::ModelInferRequest* req, const std::string& name,
                     const std::string& datatype, const Shape& shape, const void* data,
                     size_t bytes) {
    auto* in = req->add_inputs();
    in->set_name(name);
    in->set_datatype(datatype);
    for (int64_t d : shape) in->add_shape(d);
    req->add_raw_input_contents()->assign(static_cast<const char*>(data), bytes);
  }

  inference::ModelInferRequest TinyRequest(const std::vector<float>& x) {
    inference::ModelInferRequest req;
    req.set_model_name("tiny");
    AddRaw(&req, "x", "FP32", {1, 3, 8, 8}, x.data(), x.size() * sizeof(float));
    return req;
  }

  static std::vector<float> Floats(const inference::ModelInferResponse& res, int i) {
    const std::string& raw = res.raw_output_contents(i);
    std::vector<float> v(raw.size() / sizeof(float));
    std::memcpy(v.data(), raw.data(), v.size() * sizeof(float));
    return v;
  }

  grpc::Status Infer(const inference::ModelInferRequest& req, inference::ModelInferResponse* res) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->ModelInfer(&ctx, req, res);
  }

  // The server keeps serving: a good request after a bad one succeeds.
  void ExpectStillServing() {
    inference::ModelInferResponse res;
    grpc::Status s = Infer(TinyRequest(Input(1)), &res);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  void ExpectCode(const inference::ModelInferRequest& req, grpc::StatusCode code,
                  const std::string& message_part) {
    inference::ModelInferResponse res;
    grpc::Status s = Infer(req, &res);
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_NE(s.error_message().find(message_part), std::string::npos) << s.error_message();
    ExpectStillServing();
  }

  static TempDir* dir_;
  static std::string* model_bytes_;
  static server::EdgeServer* server_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

TempDir* ServerTest::dir_ = nullptr;
std::string* ServerTest::model_bytes_ = nullptr;
server::EdgeServer* ServerTest::server_ = nullptr;

// Server and local runs use the same kernels with one thread each, so results agree to float
// rounding of identical operation order; 1e-5 absolute leaves room only for that.
constexpr float kTolerance = 1e-5f;

void ExpectNear(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], kTolerance) << "at " << i;
}

TEST_F(ServerTest, HealthAndMetadata) {
  {
    grpc::ClientContext ctx;
    inference::ServerLiveResponse res;
    ASSERT_TRUE(stub_->ServerLive(&ctx, {}, &res).ok());
    EXPECT_TRUE(res.live());
  }
  {
    grpc::ClientContext ctx;
    inference::ServerReadyResponse res;
    ASSERT_TRUE(stub_->ServerReady(&ctx, {}, &res).ok());
    EXPECT_TRUE(res.ready());
  }
  {
    grpc::ClientContext ctx;
    inference::ServerMetadataResponse res;
    ASSERT_TRUE(stub_->ServerMetadata(&ctx, {}, &res).ok());
    EXPECT_EQ(res.name(), "edgeinfer");
    std::vector<std::string> ext(res.extensions().begin(), res.extensions().end());
    EXPECT_NE(std::find(ext.begin(), ext.end(), "model_repository"), ext.end());
  }
  {
    grpc::ClientContext ctx;
    inference::ModelReadyRequest req;
    req.set_name("tiny");
    inference::ModelReadyResponse res;
    ASSERT_TRUE(stub_->ModelReady(&ctx, req, &res).ok());
    EXPECT_TRUE(res.ready());
  }
  {
    grpc::ClientContext ctx;
    inference::ModelMetadataRequest req;
    req.set_name("tiny");
    inference::ModelMetadataResponse res;
    ASSERT_TRUE(stub_->ModelMetadata(&ctx, req, &res).ok());
    ASSERT_EQ(res.inputs_size(), 1);
    EXPECT_EQ(res.inputs(0).name(), "x");
    EXPECT_EQ(res.inputs(0).datatype(), "FP32");
    EXPECT_EQ(std::vector<int64_t>(res.inputs(0).shape().begin(), res.inputs(0).shape().end()),
              (std::vector<int64_t>{1, 3, 8, 8}));
    ASSERT_EQ(res.outputs_size(), 1);
    EXPECT_EQ(res.outputs(0).name(), "y");
    EXPECT_EQ(res.outputs(0).datatype(), "FP32");
    ASSERT_EQ(res.versions_size(), 1);
    EXPECT_EQ(res.versions(0), "1");
  }
  {
    grpc::ClientContext ctx;
    inference::ModelConfigRequest req;
    req.set_name("tiny");
    inference::ModelConfigResponse res;
    ASSERT_TRUE(stub_->ModelConfig(&ctx, req, &res).ok());
    ASSERT_EQ(res.config().input_size(), 1);
    EXPECT_EQ(res.config().input(0).data_type(), inference::TYPE_FP32);
  }
  {
    grpc::ClientContext ctx;
    inference::RepositoryIndexResponse res;
    ASSERT_TRUE(stub_->RepositoryIndex(&ctx, {}, &res).ok());
    bool found = false;
    for (const auto& m : res.models())
      found = found || (m.name() == "tiny" && m.state() == "READY");
    EXPECT_TRUE(found);
  }
  {
    grpc::ClientContext ctx;
    inference::ModelMetadataRequest req;
    req.set_name("nope");
    inference::ModelMetadataResponse res;
    EXPECT_EQ(stub_->ModelMetadata(&ctx, req, &res).error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(ServerTest, InferMatchesLocalRunAndReportsLoad) {
  const std::vector<float> x = Input(3);
  inference::ModelInferRequest req = TinyRequest(x);
  req.set_id("req-1");
  inference::ModelInferResponse res;
  grpc::Status s = Infer(req, &res);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(res.id(), "req-1");
  EXPECT_EQ(res.model_version(), "1");
  ASSERT_EQ(res.outputs_size(), 1);
  EXPECT_EQ(res.outputs(0).name(), "y");
  EXPECT_EQ(res.outputs(0).datatype(), "FP32");
  ExpectNear(Floats(res, 0), LocalRun(x, "y"));
  const auto& p = res.parameters();
  ASSERT_TRUE(p.count("edgeinfer_queue_us") && p.count("edgeinfer_compute_us") &&
              p.count("edgeinfer_load_factor") && p.count("edgeinfer_queue_length"));
  EXPECT_GE(p.at("edgeinfer_queue_us").int64_param(), 0);
  EXPECT_GE(p.at("edgeinfer_compute_us").int64_param(), 0);
  EXPECT_GT(p.at("edgeinfer_load_factor").double_param(), 0.0);
  EXPECT_EQ(p.at("edgeinfer_queue_length").int64_param(), 0);  // nothing else is running

  // Typed contents (as standard clients may send) give the same answer.
  inference::ModelInferRequest typed;
  typed.set_model_name("tiny");
  auto* in = typed.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  for (int64_t d : {1, 3, 8, 8}) in->add_shape(d);
  for (float v : x) in->mutable_contents()->add_fp32_contents(v);
  inference::ModelInferResponse typed_res;
  ASSERT_TRUE(Infer(typed, &typed_res).ok());
  EXPECT_EQ(typed_res.raw_output_contents(0), res.raw_output_contents(0));
}

TEST_F(ServerTest, PartialExecutionRunsSlices) {
  const std::vector<float> x = Input(5);
  // Prefix: x -> relu1 (an intermediate requested as output), plus conv1.
  inference::ModelInferRequest prefix = TinyRequest(x);
  prefix.add_outputs()->set_name("relu1");
  prefix.add_outputs()->set_name("conv1");
  inference::ModelInferResponse prefix_res;
  grpc::Status s = Infer(prefix, &prefix_res);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(prefix_res.outputs_size(), 2);
  EXPECT_EQ(prefix_res.outputs(0).name(), "relu1");
  EXPECT_EQ(prefix_res.outputs(1).name(), "conv1");
  const std::vector<float> relu = Floats(prefix_res, 0), conv = Floats(prefix_res, 1);
  ASSERT_EQ(relu.size(), 8u * 8 * 8);
  for (size_t i = 0; i < relu.size(); ++i) ASSERT_EQ(relu[i], std::max(conv[i], 0.0f));
  // Suffix: relu1 -> y, fed the prefix's bytes; together they equal the whole model.
  inference::ModelInferRequest suffix;
  suffix.set_model_name("tiny");
  AddRaw(&suffix, "relu1", "FP32", {1, 8, 8, 8}, relu.data(), relu.size() * sizeof(float));
  inference::ModelInferResponse suffix_res;
  s = Infer(suffix, &suffix_res);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(suffix_res.outputs(0).name(), "y");
  ExpectNear(Floats(suffix_res, 0), LocalRun(x, "y"));
  // A batch of two through the suffix: intermediate shapes are not pinned to the profile's.
  std::vector<float> two(relu);
  two.insert(two.end(), relu.begin(), relu.end());
  inference::ModelInferRequest batch;
  batch.set_model_name("tiny");
  AddRaw(&batch, "relu1", "FP32", {2, 8, 8, 8}, two.data(), two.size() * sizeof(float));
  inference::ModelInferResponse batch_res;
  s = Infer(batch, &batch_res);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(batch_res.outputs(0).shape(0), 2);
  EXPECT_EQ(batch_res.raw_output_contents(0).substr(0, suffix_res.raw_output_contents(0).size()),
            suffix_res.raw_output_contents(0));
}

TEST_F(ServerTest, MalformedRequestsGetClearStatusesAndServerKeepsServing) {
  const std::vector<float> x = Input(2);
  inference::ModelInferRequest req = TinyRequest(x);
  req.set_model_name("missing");
  ExpectCode(req, grpc::StatusCode::NOT_FOUND, "missing");

  req = TinyRequest(x);
  req.mutable_raw_input_contents(0)->resize(10);
  ExpectCode(req, grpc::StatusCode::INVALID_ARGUMENT, "bytes");

  req = TinyRequest(x);
  req.mutable_inputs(0)->set_datatype("INT32");
  ExpectCode(req, grpc::StatusCode::INVALID_ARGUMENT, "dtype");

  req = TinyRequest(x);
  req.mutable_inputs(0)->set_datatype("NOPE");
  ExpectCode(req, grpc::StatusCode::INVALID_ARGUMENT, "NOPE");

  req = TinyRequest(x);
  req.mutable_inputs(0)->set_name("bogus");
  ExpectCode(req, grpc::StatusCode::INVALID_ARGUMENT, "bogus");

  req = TinyRequest(x);
  req.add_outputs()->set_name("nowhere");
  ExpectCode(req, grpc::StatusCode::INVALID_ARGUMENT, "nowhere");

  req = TinyRequest(x);
  req.mutable_inputs(0)->set_shape(1, 4);
  req.mutable_inputs(0)->set_shape(1, 4);
  req.mutable_raw_input_contents(0)->resize(4 * 8 * 8 * 4);
  ExpectCode(req, grpc::StatusCode::INVALID_ARGUMENT, "x");

  req = TinyRequest(x);
  req.mutable_inputs(0)->set_shape(0, -1);
  ExpectCode(req, grpc::StatusCode::INVALID_ARGUMENT, "negative");

  req = TinyRequest(x);
  req.add_raw_input_contents("extra");
  ExpectCode(req, grpc::StatusCode::INVALID_ARGUMENT, "raw_input_contents");

  inference::ModelInferRequest none;  // y needs x, which is not given
  none.set_model_name("tiny");
  ExpectCode(none, grpc::StatusCode::INVALID_ARGUMENT, "missing input 'x'");

  inference::ModelInferRequest weight = TinyRequest(x);  // weights are not inputs
  AddRaw(&weight, "conv1.weight", "FP32", {1}, x.data(), 4);
  ExpectCode(weight, grpc::StatusCode::INVALID_ARGUMENT, "constant");

  inference::ModelInferRequest typed;  // typed contents with the wrong count
  typed.set_model_name("tiny");
  auto* in = typed.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  for (int64_t d : {1, 3, 8, 8}) in->add_shape(d);
  in->mutable_contents()->add_fp32_contents(1.0f);
  ExpectCode(typed, grpc::StatusCode::INVALID_ARGUMENT, "values");
}

TEST_F(ServerTest, UploadByContentHashThenUnload) {
  const std::string bytes = *model_bytes_;
  const std::string name = net::ContentModelName(bytes);
  auto load = [&](const std::string& model, const std::string& payload) {
    grpc::ClientContext ctx;
    inference::RepositoryModelLoadRequest req;
    req.set_model_name(model);
    (*req.mutable_parameters())["file:1/model.onnx"].set_bytes_param(payload);
    (*req.mutable_parameters())["config"].set_string_param("{}");
    inference::RepositoryModelLoadResponse res;
    return stub_->RepositoryModelLoad(&ctx, req, &res);
  };
  grpc::Status s = load(name, bytes);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(load(name, bytes).ok());  // idempotent
  inference::ModelInferRequest req = TinyRequest(Input(4));
  req.set_model_name(name);
  inference::ModelInferResponse res;
  ASSERT_TRUE(Infer(req, &res).ok());
  ExpectNear(Floats(res, 0), LocalRun(Input(4), "y"));

  EXPECT_EQ(load("sha256-0000000000000000", bytes).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status corrupt = load("junk", "this is not an onnx model");
  EXPECT_NE(corrupt.error_code(), grpc::StatusCode::OK);
  EXPECT_NE(corrupt.error_code(), grpc::StatusCode::INTERNAL) << corrupt.error_message();
  grpc::Status truncated = load("half", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(truncated.error_code(), grpc::StatusCode::OK);
  {
    grpc::ClientContext ctx;
    inference::RepositoryModelLoadRequest bad;
    bad.set_model_name("x");
    (*bad.mutable_parameters())["file:../1/model.onnx"].set_bytes_param(bytes);
    inference::RepositoryModelLoadResponse r;
    EXPECT_EQ(stub_->RepositoryModelLoad(&ctx, bad, &r).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    inference::RepositoryModelUnloadRequest unload;
    unload.set_model_name(name);
    inference::RepositoryModelUnloadResponse r;
    ASSERT_TRUE(stub_->RepositoryModelUnload(&ctx, unload, &r).ok());
  }
  {
    // The uploaded copy is gone from the index ...
    grpc::ClientContext ctx;
    inference::RepositoryIndexResponse index;
    ASSERT_TRUE(stub_->RepositoryIndex(&ctx, {}, &index).ok());
    for (const auto& m : index.models()) EXPECT_NE(m.name(), name);
  }
  grpc::ClientContext ctx;
  inference::ModelReadyRequest ready;
  ready.set_name(name);
  inference::ModelReadyResponse ready_res;
  ASSERT_TRUE(stub_->ModelReady(&ctx, ready, &ready_res).ok());
  // ... but the content name still finds the same bytes on disk, as "tiny": a device asking for
  // it uploads nothing.
  EXPECT_TRUE(ready_res.ready());
  ExpectStillServing();
}

TEST_F(ServerTest, StatisticsCountRequests) {
  auto stats = [&] {
    grpc::ClientContext ctx;
    inference::ModelStatisticsRequest req;
    req.set_name("tiny");
    inference::ModelStatisticsResponse res;
    EXPECT_TRUE(stub_->ModelStatistics(&ctx, req, &res).ok());
    EXPECT_EQ(res.model_stats_size(), 1);
    return res.model_stats(0);
  };
  const auto before = stats();
  inference::ModelInferResponse res;
  ASSERT_TRUE(Infer(TinyRequest(Input(0)), &res).ok());
  inference::ModelInferRequest bad = TinyRequest(Input(0));
  bad.mutable_inputs(0)->set_name("bogus");
  ASSERT_FALSE(Infer(bad, &res).ok());
  const auto after = stats();
  EXPECT_EQ(after.inference_stats().success().count(),
            before.inference_stats().success().count() + 1);
  EXPECT_EQ(after.inference_stats().fail().count(), before.inference_stats().fail().count() + 1);
  EXPECT_GT(after.last_inference(), 0u);
}

TEST_F(ServerTest, DeadlineAlreadyPassedIsDeadlineExceeded) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
  inference::ModelInferResponse res;
  EXPECT_EQ(stub_->ModelInfer(&ctx, TinyRequest(Input(0)), &res).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  ExpectStillServing();
}

}  // namespace
}  // namespace edgeinfer

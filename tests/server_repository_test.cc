// Model repository: config.pbtxt is parsed and checked against the model (and reported by
// ModelConfig), and models with ONNX external data offload end to end to a real server process
// (the device inlines the weights into the one self-contained model it uploads).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "edgeinfer/session.h"
#include "net/client.h"
#include "net/model_hash.h"
#include "offload_util.h"
#include "onnx/external_data.h"
#include "onnx/onnx_pb.h"
#include "server/repository.h"
#include "server/triton_config.h"
#include "server_test_util.h"

namespace edgeinfer {
namespace {

using server::ModelRepository;
using server::ParseTritonConfig;
using server::RepositoryOptions;
using server::TritonConfig;
using testing::TempDir;
using testing::TinyModelBytes;
using testing::WriteModel;
namespace fs = std::filesystem;

// The tiny model: x[1,3,8,8] float32 -> conv1 -> relu1 -> conv2 -> y[1,4,8,8].
constexpr char kGoodConfig[] = R"cfg(
# A configuration as Triton users write it.
name: "tiny"
platform: "onnxruntime_onnx"
max_batch_size: 0
input [
  {
    name: "x"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 1, 3, -1, 8 ]
  }
]
output {
  name: 'y', data_type: TYPE_FP32; dims: 1 dims: 4 dims: 8 dims: 8
}
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
instance_group [ { count: 1, kind: KIND_CPU } ]
)cfg";

class RepositoryConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { WriteModel(repo_.path(), "tiny", TinyModelBytes()); }

  void WriteConfig(const std::string& text) {
    std::ofstream(repo_.path() / "tiny" / "config.pbtxt", std::ios::binary) << text;
  }

  // Loads "tiny" into a fresh repository; it stays in repository_.
  Status Load() {
    RepositoryOptions options;
    options.directory = repo_.path().string();
    options.model.threads = 1;
    options.model.profile_repeat = 1;
    repository_ = std::make_unique<ModelRepository>(options);
    return repository_->LoadFromDirectory("tiny");
  }

  // The load fails with InvalidArgument, the model is listed UNAVAILABLE with the same reason,
  // and the message contains every one of `parts`.
  void ExpectLoadError(const std::vector<std::string>& parts) {
    Status s = Load();
    ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    for (const std::string& part : parts)
      EXPECT_NE(s.message().find(part), std::string::npos)
          << "'" << part << "' not in: " << s.message();
    EXPECT_EQ(repository_->Find("tiny", "").status().code(), StatusCode::kUnavailable);
    auto index = repository_->Index();
    ASSERT_EQ(index.size(), 1u);
    EXPECT_EQ(index[0].state, "UNAVAILABLE");
    EXPECT_NE(index[0].reason.find(parts.front()), std::string::npos) << index[0].reason;
  }

  TempDir repo_;
  std::unique_ptr<ModelRepository> repository_;
};

TEST_F(RepositoryConfigTest, GoodConfigLoadsAndIsReportedByModelConfig) {
  WriteConfig(kGoodConfig);
  ASSERT_TRUE(Load().ok());
  auto config = repository_->Config("tiny");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->name, "tiny");
  ASSERT_EQ(config->inputs.size(), 1u);
  EXPECT_EQ(config->inputs[0].dims, (std::vector<int64_t>{1, 3, -1, 8}));
  EXPECT_EQ(config->inputs[0].dtype, DType::kFloat32);
  ASSERT_EQ(config->outputs.size(), 1u);
  EXPECT_EQ(config->outputs[0].dims, (std::vector<int64_t>{1, 4, 8, 8}));
  // format (inside input) and instance_group are not honoured here: ignored with a warning
  // each, in the order of the text; platform and parameters are ignored silently.
  ASSERT_EQ(config->warnings.size(), 2u);
  EXPECT_NE(config->warnings[0].find("line 10, column 11: Message type "
                                     "\"edgeinfer.config.TensorEntry\" has no field named "
                                     "\"format\""),
            std::string::npos)
      << config->warnings[0];
  EXPECT_NE(config->warnings[1].find("line 18, column 1: field 'instance_group' is not honoured"),
            std::string::npos)
      << config->warnings[1];

  // Through the server: a broken file makes the model unavailable with the reason; once fixed
  // and reloaded, ModelConfig says what the file said (the -1 the model itself does not have).
  WriteConfig(std::string(kGoodConfig) + "max_batch_size: 0\n");
  server::EdgeServer edge;
  ASSERT_TRUE(edge.Start(testing::LocalOptions(repo_.path().string())).ok());
  auto stub = testing::Connect(edge.ports().grpc);
  {
    grpc::ClientContext ctx;
    inference::ModelConfigRequest req;
    req.set_name("tiny");
    inference::ModelConfigResponse res;
    grpc::Status s = stub->ModelConfig(&ctx, req, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(s.error_message().find("Non-repeated field \"max_batch_size\" is specified multiple "
                                     "times"),
              std::string::npos)
        << s.error_message();
  }
  WriteConfig(kGoodConfig);
  {
    grpc::ClientContext ctx;
    inference::RepositoryModelLoadRequest req;
    req.set_model_name("tiny");
    inference::RepositoryModelLoadResponse res;
    ASSERT_TRUE(stub->RepositoryModelLoad(&ctx, req, &res).ok());
  }
  grpc::ClientContext ctx;
  inference::ModelConfigRequest req;
  req.set_name("tiny");
  inference::ModelConfigResponse res;
  ASSERT_TRUE(stub->ModelConfig(&ctx, req, &res).ok());
  EXPECT_EQ(res.config().name(), "tiny");
  EXPECT_EQ(res.config().max_batch_size(), 0);
  ASSERT_EQ(res.config().input_size(), 1);
  EXPECT_EQ(res.config().input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(std::vector<int64_t>(res.config().input(0).dims().begin(),
                                 res.config().input(0).dims().end()),
            (std::vector<int64_t>{1, 3, -1, 8}));
  ASSERT_EQ(res.config().output_size(), 1);
  EXPECT_EQ(res.config().output(0).name(), "y");
}

TEST_F(RepositoryConfigTest, NameMismatchFailsTheLoad) {
  WriteConfig("name: \"other\"\n");
  ExpectLoadError({"name 'other' does not match the model directory 'tiny'", "config.pbtxt"});
}

TEST_F(RepositoryConfigTest, DimsMismatchNamesTheTensorAndField) {
  WriteConfig(R"(name: "tiny" input { name: "x" data_type: TYPE_FP32 dims: [1, 3, 8, 9] })");
  ExpectLoadError(
      {"input 'x': dims [1, 3, 8, 9] do not match the model's [1, 3, 8, 8]", "version 1"});
}

TEST_F(RepositoryConfigTest, RankMismatchIsADimsMismatch) {
  WriteConfig(R"(output { name: "y" dims: [4, 8, 8] })");
  ExpectLoadError({"output 'y': dims [4, 8, 8] do not match the model's [1, 4, 8, 8]"});
}

TEST_F(RepositoryConfigTest, DataTypeMismatchNamesTheField) {
  WriteConfig(R"(input { name: "x" data_type: TYPE_INT64 })");
  ExpectLoadError({"input 'x': data_type TYPE_INT64 does not match the model's TYPE_FP32"});
}

TEST_F(RepositoryConfigTest, UnknownTensorIsAnError) {
  WriteConfig(R"(input { name: "image" data_type: TYPE_FP32 dims: [1, 3, 8, 8] })");
  ExpectLoadError({"input 'image' is not an input of the model (its inputs: x)"});
}

TEST_F(RepositoryConfigTest, BatchingNeedsADynamicFirstDimension) {
  // Triton's convention: with max_batch_size > 0 the model's first dim is the (dynamic) batch.
  WriteConfig("max_batch_size: 8\n");
  ExpectLoadError({"max_batch_size 8 needs the model's first dimension to be dynamic"});
}

TEST_F(RepositoryConfigTest, BatchedConfigLeavesOutTheBatchDimension) {
  // x[-1,3,8,8] -> Relu -> y: a model with a dynamic batch, as Triton batching requires.
  Graph g;
  g.name = "batched";
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {-1, 3, 8, 8});
  ValueId y = g.AddValue("y", DType::kFloat32, {-1, 3, 8, 8});
  g.AddNode(OpKind::kRelu, "relu", {x}, {y});
  g.AddOutput(y);
  Result<std::string> bytes = ExportOnnx(g);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  WriteModel(repo_.path(), "tiny", *bytes);
  WriteConfig("max_batch_size: 8 input { name: \"x\" dims: [3, 8, 8] }");
  ASSERT_TRUE(Load().ok());
  EXPECT_EQ(repository_->Config("tiny")->max_batch_size, 8);
  WriteConfig("max_batch_size: 8 input { name: \"x\" dims: [-1, 3, 8, 8] }");
  ExpectLoadError(
      {"input 'x': dims [-1, 3, 8, 8] do not match the model's [3, 8, 8] (without "
       "the batch dimension, as max_batch_size > 0)"});
}

TEST_F(RepositoryConfigTest, GarbageFileIsAClearError) {
  WriteConfig("name: \"tiny\"\ninput {\n  name: \"x\"\n");
  ExpectLoadError({"config.pbtxt, line 4, column 1: Expected identifier"});
  WriteConfig(std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  ExpectLoadError({"line 1, column 1: Interpreting non ascii codepoint 137"});
  WriteConfig("name: tiny\n");
  ExpectLoadError({"line 1, column 7: Expected string, got: tiny"});
  WriteConfig("max_batch_size: -3\n");
  ExpectLoadError({"field 'max_batch_size' must be an integer from 0"});
  WriteConfig("input { name: \"x\" data_type: TYPE_STRING }\n");
  ExpectLoadError({"data_type TYPE_STRING is not supported"});
  WriteConfig(std::string(100, '{'));
  ExpectLoadError({"line 1, column 1: Expected identifier, got: {"});
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "a {";
  WriteConfig(deep);
  ExpectLoadError({"recursion limit of 32"});
}

TEST_F(RepositoryConfigTest, NoConfigReportsTheModel) {
  ASSERT_TRUE(Load().ok());
  EXPECT_EQ(repository_->Config("tiny"), nullptr);
  EXPECT_TRUE(repository_->Find("tiny", "1").ok());
}

TEST(TritonConfigParseTest, AcceptsTheTextFormatsSyntax) {
  // Angle brackets, ':' before '{', adjacent strings, escapes, extensions, lists of messages,
  // empty lists, separators, '+' integers and comments after values.
  auto config = ParseTritonConfig(R"(
      name: "ti" 'ny'  # split in two
      max_batch_size: 4;
      input: < name: "a\"b" dims: [] data_type: TYPE_FP16 >
      output [ { name: "o1" dims: -1 }, { name: "o2" } ]
      [ext.field] { any { nested: [1.5, inf, "s"] } }
      dynamic_batching { }
  )",
                                  "test");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->name, "tiny");
  EXPECT_EQ(config->max_batch_size, 4);
  ASSERT_EQ(config->inputs.size(), 1u);
  EXPECT_EQ(config->inputs[0].name, "a\"b");
  EXPECT_EQ(config->inputs[0].dtype, DType::kFloat16);
  EXPECT_FALSE(config->inputs[0].has_dims);
  ASSERT_EQ(config->outputs.size(), 2u);
  EXPECT_EQ(config->outputs[0].dims, (std::vector<int64_t>{-1}));
  EXPECT_EQ(config->outputs[1].name, "o2");
  ASSERT_EQ(config->warnings.size(), 2u);
  EXPECT_NE(config->warnings[0].find("test, line 6, column 19: Ignoring extension \"ext.field\""),
            std::string::npos)
      << config->warnings[0];
  EXPECT_NE(config->warnings[1].find("no field named \"dynamic_batching\""), std::string::npos)
      << config->warnings[1];
}

TEST(TritonConfigParseTest, RejectsMalformedText) {
  // Syntax: protobuf's text-format parser names the line and column.
  for (const char* text :
       {"name", "name:", "name: \"x", "input { name: \"x\" } }", "dims: [1, 2", "dims: [1 2]",
        "input { name: \"x\" dims: 2.5 }", "output: \"y\"", "name: 3", "name: \"a\" name: \"b\"",
        "@", "input { name: \"x\" data_type: TYPE_NOPE }"}) {
    SCOPED_TRACE(text);
    auto config = ParseTritonConfig(text, "test");
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(config.status().message().rfind("test, line 1, column ", 0), 0u)
        << config.status().message();
  }
  // Meaning: the entry or field is named.
  const std::pair<const char*, const char*> semantic[] = {
      {"input { dims: 3 }", "test: input entry has no name"},
      {"output { name: \"y\" data_type: TYPE_BF16 }",
       "test: output 'y': data_type TYPE_BF16 is not supported"},
      {"max_batch_size: 99999999999", "test: field 'max_batch_size' must be an integer from 0"},
  };
  for (const auto& [text, message] : semantic) {
    auto config = ParseTritonConfig(text, "test");
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_EQ(config.status().message().rfind(message, 0), 0u) << config.status().message();
  }
}

// ---------------------------------------------------------------------------------------------
// External data.

// Writes the tiny model to DIR/tiny.onnx with every initializer in DIR/tiny.weights.
std::string WriteExternalModel(const fs::path& dir) {
  Result<std::string> moved =
      MoveWeightsToExternalData(TinyModelBytes(), dir.string(), "tiny.weights", 0);
  EXPECT_TRUE(moved.ok()) << moved.status().ToString();
  const std::string path = (dir / "tiny.onnx").string();
  std::ofstream(path, std::ios::binary) << *moved;
  return path;
}

std::vector<NamedTensor> TinyInput() {
  Tensor x = Tensor::Zeros(DType::kFloat32, {1, 3, 8, 8});
  float* p = x.data<float>();
  // A fixed, non-trivial pattern in [-1, 1].
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = std::sin(0.37f * static_cast<float>(i));
  return {{"x", x}};
}

// Relative L2 error. The server runs the same kernels with other thread counts and fusion
// boundaries, which reassociates float32 sums by a few ulp; 1e-5 is far above that and far
// below any real defect (missing or wrong weights give errors of order 1).
double RelativeError(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = a.data<float>()[i] - b.data<float>()[i];
    num += d * d;
    den += static_cast<double>(a.data<float>()[i]) * a.data<float>()[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

TEST(ExternalDataTest, InliningRestoresTheSelfContainedModel) {
  TempDir dir;
  const std::string path = WriteExternalModel(dir.path());
  std::ifstream in(path, std::ios::binary);
  const std::string external((std::istreambuf_iterator<char>(in)), {});
  ImportOptions options;
  options.base_dir = dir.path().string();
  auto inlined = InlineExternalData(external, options);
  ASSERT_TRUE(inlined.ok()) << inlined.status().ToString();
  ASSERT_TRUE(inlined->has_value());
  EXPECT_GT((*inlined)->size(), external.size());
  // A self-contained model needs no inlining, and the inlined one imports with no files at all.
  auto again = InlineExternalData(**inlined, options);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  ImportOptions nowhere;
  nowhere.base_dir = (dir.path() / "missing").string();
  EXPECT_TRUE(ImportOnnx(**inlined, nowhere).ok());
  EXPECT_FALSE(ImportOnnx(external, nowhere).ok());

  // The content name covers the weights: other weights behind the same .onnx, another name.
  {
    std::fstream weights(dir.path() / "tiny.weights",
                         std::ios::in | std::ios::out | std::ios::binary);
    weights.seekp(0);
    weights.write("\x7f\x7f\x7f\x7f", 4);
  }
  auto changed = InlineExternalData(external, options);
  ASSERT_TRUE(changed.ok() && changed->has_value());
  EXPECT_NE(net::ContentModelName(**changed), net::ContentModelName(**inlined));

  // A missing weights file is the importer's clear error.
  fs::remove(dir.path() / "tiny.weights");
  auto missing = InlineExternalData(external, options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("tiny.weights"), std::string::npos)
      << missing.status().ToString();
}

TEST(ExternalDataTest, OverTwoGibibytesIsRefusedBeforeReading) {
  TempDir dir;
  const std::string path = WriteExternalModel(dir.path());
  std::ifstream in(path, std::ios::binary);
  const std::string external((std::istreambuf_iterator<char>(in)), {});
  // One external weight whose dims claim 3 GiB of float32: the size check comes before any
  // read, so the weights file (a few kilobytes) is never read and nothing large is allocated.
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(external));
  ASSERT_GT(model.graph().initializer_size(), 0);
  onnx::TensorProto* w = model.mutable_graph()->mutable_initializer(0);
  ASSERT_EQ(w->data_location(), onnx::TensorProto::EXTERNAL);
  w->clear_dims();
  w->add_dims(int64_t{805306368});
  std::string inflated;
  ASSERT_TRUE(model.SerializeToString(&inflated));
  ImportOptions options;
  options.base_dir = dir.path().string();
  auto inlined = InlineExternalData(inflated, options);
  ASSERT_FALSE(inlined.ok());
  EXPECT_EQ(inlined.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(inlined.status().message().find("over the 2 GiB protobuf limit"), std::string::npos)
      << inlined.status().ToString();
}

// A server indexes every repository model by its content name: a device asking for
// sha256-... of bytes the server holds under another name finds them and uploads nothing.
TEST_F(RepositoryConfigTest, RepositoryModelIsFoundByItsContentName) {
  ASSERT_TRUE(Load().ok());
  const std::string content = net::ContentModelName(TinyModelBytes());
  auto by_content = repository_->Find(content, "");
  ASSERT_TRUE(by_content.ok()) << by_content.status().ToString();
  EXPECT_EQ(by_content->get(), repository_->Find("tiny", "").value().get());
  EXPECT_EQ(repository_->Find(net::ContentModelName("other bytes"), "").status().code(),
            StatusCode::kNotFound);
  // The index lists the model once, under its own name.
  ASSERT_EQ(repository_->Index().size(), 1u);
  EXPECT_EQ(repository_->Index()[0].name, "tiny");
  // Unloading the model drops its content name too.
  ASSERT_TRUE(repository_->Unload("tiny").ok());
  EXPECT_EQ(repository_->Find(content, "").status().code(), StatusCode::kNotFound);
}

TEST(RepositoryContentOffloadTest, DeviceUploadsNothingTheServerHoldsUnderAnotherName) {
  testing::TempDir repo;
  const std::string bytes = TinyModelBytes();
  WriteModel(repo.path(), "tiny_on_disk", bytes);
  auto server = testing::EdgeServerProcess::Start(EDGEINFER_CLI, repo.path(), {"--threads", "1"});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  // One server, and a list (failover) whose second server is down.
  const std::string down = "127.0.0.1:" + std::to_string(testing::ClosedPort());
  for (const std::string& accelerator :
       {(*server)->endpoint(), (*server)->endpoint() + "," + down}) {
    SCOPED_TRACE(accelerator);
    SessionOptions o;
    o.accelerator = accelerator;
    o.threads = 1;
    auto session = Session::OpenFromBytes(bytes, ".", o);
    ASSERT_TRUE(session.ok()) << session.status().ToString() << "\n" << (*server)->Log();
    auto got = (*session)->Run(TinyInput());
    ASSERT_TRUE(got.ok()) << got.status().ToString();
  }
  net::EdgeClientOptions options;
  options.address = (*server)->grpc_address();
  auto client = net::EdgeClient::Connect(options);
  ASSERT_TRUE(client.ok());
  auto ready = (*client)->ModelReady(net::ContentModelName(bytes));
  ASSERT_TRUE(ready.ok());
  EXPECT_TRUE(*ready);
  // Nothing was uploaded: the repository holds the one model from disk.
  auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel((*server)->grpc_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  inference::RepositoryIndexRequest req;
  inference::RepositoryIndexResponse res;
  ASSERT_TRUE(stub->RepositoryIndex(&ctx, req, &res).ok());
  ASSERT_EQ(res.models_size(), 1);
  EXPECT_EQ(res.models(0).name(), "tiny_on_disk");
}

class ExternalDataOffloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_.Start(EDGEINFER_CLI); }
  static void TearDownTestSuite() { server_.Stop(); }
  void SetUp() override {
    ASSERT_NE(server_.get(), nullptr) << server_.error();
    setenv("EDGEINFER_CACHE_DIR", (dir_.path() / "cache").c_str(), 1);
    model_path_ = WriteExternalModel(dir_.path());
  }

  Result<std::unique_ptr<Session>> Open(const std::string& mode) {
    return server_.OpenSession(model_path_, mode);
  }

  static testing::SharedEdgeServer server_;
  TempDir dir_;
  std::string model_path_;
};

testing::SharedEdgeServer ExternalDataOffloadTest::server_;

TEST_F(ExternalDataOffloadTest, EveryModeMatchesLocal) {
  auto local = Open("local");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  auto expected = (*local)->Run(TinyInput());
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  for (const std::string mode : {"remote", "split:1", "split:2", "auto"}) {
    SCOPED_TRACE(mode);
    auto session = Open(mode);
    ASSERT_TRUE(session.ok()) << session.status().ToString() << "\n" << server_->Log();
    EXPECT_EQ(ExecutionModeText((*session)->mode(), (*session)->cut()), mode);
    auto got = (*session)->Run(TinyInput());
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), 1u);
    EXPECT_LT(RelativeError((*expected)[0].tensor, (*got)[0].tensor), 1e-5);
  }
  // The server holds the inlined model under its content name, not the external-data file's.
  net::EdgeClientOptions options;
  options.address = server_->grpc_address();
  auto client = net::EdgeClient::Connect(options);
  ASSERT_TRUE(client.ok());
  std::ifstream in(model_path_, std::ios::binary);
  const std::string external((std::istreambuf_iterator<char>(in)), {});
  ImportOptions import;
  import.base_dir = dir_.path().string();
  auto inlined = InlineExternalData(external, import);
  ASSERT_TRUE(inlined.ok() && inlined->has_value());
  auto ready = (*client)->ModelReady(net::ContentModelName(**inlined));
  ASSERT_TRUE(ready.ok());
  EXPECT_TRUE(*ready);
  ready = (*client)->ModelReady(net::ContentModelName(external));
  ASSERT_TRUE(ready.ok());
  EXPECT_FALSE(*ready);
}

}  // namespace
}  // namespace edgeinfer

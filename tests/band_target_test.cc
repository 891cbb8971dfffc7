// Row bands on the wire (docs/protocol.md, "Row bands") and the device's band targets
// (runtime/band_target.h): band requests over gRPC and HTTP stitch to the whole run, bad
// geometry is refused naming the tensor while the server keeps serving, and an intermediate
// input of another height without geometry is refused instead of silently padded twice.
#include "runtime/band_target.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "band_util.h"
#include "inference.grpc.pb.h"
#include "net/protocol.h"
#include "onnx/onnx_io.h"
#include "server/server.h"
#include "zoo/builder.h"

namespace edgeinfer::testing {
namespace {

using json = nlohmann::json;

// x [1, 3, 16, 12] -> conv1 (3x3, pad 1) -> relu1 -> pool1 (max 2x2/2) -> conv2 (3x3, pad 1)
// -> y [1, 4, 8, 6]. Edge padding at two layers makes a band run without geometry wrong.
Graph SmallFront() {
  zoo::GraphBuilder b("front", 11);
  ValueId x = b.Input("x", {1, 3, 16, 12});
  zoo::ConvOptions c1;
  c1.out_channels = 8;
  c1.kernel = 3;
  c1.pad = 1;
  ValueId h = b.Relu("relu1", b.Conv("conv1", x, c1));
  zoo::PoolOptions p;
  h = b.MaxPool("pool1", h, p);
  zoo::ConvOptions c2 = c1;
  c2.out_channels = 4;
  c2.gain = zoo::kGainLinear;
  b.Output(b.Conv("conv2", h, c2), "y");
  Result<Graph> graph = b.Finish();
  EXPECT_TRUE(graph.ok()) << graph.status().ToString();
  return std::move(graph).value();
}

// The whole model run on this device (one thread): the reference the bands are held to.
std::vector<NamedTensor> WholeRun(const std::string& bytes, const std::vector<NamedTensor>& in) {
  SessionOptions options;
  options.threads = 1;
  auto session = Session::OpenFromBytes(bytes, ".", options);
  EXPECT_TRUE(session.ok()) << session.status().ToString();
  auto outs = (*session)->Run(in);
  EXPECT_TRUE(outs.ok()) << outs.status().ToString();
  return outs.ok() ? *outs : std::vector<NamedTensor>{};
}

// Input rows of `input` that output rows `rows` of `output` need (ir/rows.h).
RowRange NeededRows(const Graph& graph, const std::string& output, RowRange rows,
                    const std::string& input) {
  Result<RowMap> map = MapRows(graph, {{output, rows}});
  EXPECT_TRUE(map.ok()) << map.status().ToString();
  return map->values[graph.FindValue(input)].rows;
}

std::vector<float> Floats(const std::string& raw) {
  std::vector<float> v(raw.size() / sizeof(float));
  std::memcpy(v.data(), raw.data(), v.size() * sizeof(float));
  return v;
}

class BandServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    graph_ = SmallFront();
    bytes_ = ExportOnnx(graph_).value();
    const std::filesystem::path model_dir = std::filesystem::path(dir_.path()) / "front" / "1";
    std::filesystem::create_directories(model_dir);
    std::ofstream(model_dir / "model.onnx", std::ios::binary) << bytes_;
    server::ServerOptions options;
    options.grpc_address = "127.0.0.1:0";
    options.http_address = "127.0.0.1:0";
    options.repository = dir_.path();
    options.threads = 1;
    options.workers = 1;
    options.allow_upload = true;
    ASSERT_TRUE(edge_.Start(options).ok());
    stub_ = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(edge_.ports().grpc), grpc::InsecureChannelCredentials()));
    x_ = Image({1, 3, 16, 12}, 5);
    whole_ = WholeRun(bytes_, {{"x", x_}});
    ASSERT_EQ(whole_.size(), 1u);
  }

  // A raw gRPC request for model "front" with `t` as input `name`.
  static inference::ModelInferRequest Request(const std::string& name, const Tensor& t) {
    inference::ModelInferRequest req;
    req.set_model_name("front");
    auto* in = req.add_inputs();
    in->set_name(name);
    in->set_datatype("FP32");
    for (int64_t d : t.shape()) in->add_shape(d);
    req.add_raw_input_contents()->assign(static_cast<const char*>(t.raw_data()), t.nbytes());
    return req;
  }
  static void SetInt(inference::ModelInferRequest::InferInputTensor* t, const std::string& key,
                     int64_t v) {
    (*t->mutable_parameters())[key].set_int64_param(v);
  }
  // Band request: rows `in` of x, rows `out` of y wanted.
  inference::ModelInferRequest BandRequest(RowRange in, RowRange out) const {
    inference::ModelInferRequest req = Request("x", RowsOf(x_, in));
    SetInt(req.mutable_inputs(0), net::kRowOffsetParam, in.begin);
    SetInt(req.mutable_inputs(0), net::kFullHeightParam, 16);
    auto* o = req.add_outputs();
    o->set_name("y");
    (*o->mutable_parameters())[net::kRowBeginParam].set_int64_param(out.begin);
    (*o->mutable_parameters())[net::kRowEndParam].set_int64_param(out.end);
    return req;
  }

  grpc::Status Infer(const inference::ModelInferRequest& req, inference::ModelInferResponse* res) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->ModelInfer(&ctx, req, res);
  }

  void ExpectStillServing() {
    inference::ModelInferResponse res;
    grpc::Status s = Infer(Request("x", x_), &res);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(Floats(res.raw_output_contents(0)),
              std::vector<float>(whole_[0].tensor.data<float>(),
                                 whole_[0].tensor.data<float>() + whole_[0].tensor.numel()));
  }

  // `req` fails INVALID_ARGUMENT with every part of `parts` in the message; the server then
  // still answers a good request.
  void ExpectInvalid(const inference::ModelInferRequest& req,
                     const std::vector<std::string>& parts) {
    inference::ModelInferResponse res;
    grpc::Status s = Infer(req, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    for (const std::string& part : parts) {
      EXPECT_NE(s.error_message().find(part), std::string::npos)
          << "'" << part << "' not in: " << s.error_message();
    }
    ExpectStillServing();
  }

  TempDir dir_;
  server::EdgeServer edge_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  Graph graph_;
  std::string bytes_;
  Tensor x_;
  std::vector<NamedTensor> whole_;
};

// Band requests stitch to the whole run, and each reply states its rows.
TEST_F(BandServerTest, GrpcBandsStitchToTheWholeRun) {
  // Unequal bands of y's 8 rows; inputs carry exactly the rows they need, or two more.
  const std::vector<RowRange> bands = {{0, 3}, {3, 4}, {4, 8}};
  std::vector<std::pair<int64_t, Tensor>> parts;
  for (size_t i = 0; i < bands.size(); ++i) {
    RowRange in = NeededRows(graph_, "y", bands[i], "x");
    if (i == 1) in = {std::max<int64_t>(0, in.begin - 2), std::min<int64_t>(16, in.end + 2)};
    inference::ModelInferResponse res;
    grpc::Status s = Infer(BandRequest(in, bands[i]), &res);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(res.outputs_size(), 1);
    const auto& out = res.outputs(0);
    ASSERT_EQ(out.shape_size(), 4);
    EXPECT_EQ(out.shape(2), bands[i].end - bands[i].begin);
    ASSERT_TRUE(out.parameters().count(net::kRowOffsetParam));
    EXPECT_EQ(out.parameters().at(net::kRowOffsetParam).int64_param(), bands[i].begin);
    Tensor t = Tensor::Allocate(DType::kFloat32, {1, 4, out.shape(2), 6}).value();
    ASSERT_EQ(res.raw_output_contents(0).size(), t.nbytes());
    std::memcpy(t.raw_data(), res.raw_output_contents(0).data(), t.nbytes());
    parts.push_back({out.parameters().at(net::kRowOffsetParam).int64_param(), t});
  }
  const double err = RelativeL2(StitchRows(parts, 8), whole_[0].tensor);
  EXPECT_LE(err, 1e-5);
}

TEST_F(BandServerTest, HttpBandRequestStatesItsRows) {
  const RowRange out{5, 8};
  const RowRange in = NeededRows(graph_, "y", out, "x");
  const Tensor rows = RowsOf(x_, in);
  json input = {
      {"name", "x"},
      {"datatype", "FP32"},
      {"shape", rows.shape()},
      {"parameters", {{net::kRowOffsetParam, in.begin}, {net::kFullHeightParam, 16}}},
      {"data", std::vector<float>(rows.data<float>(), rows.data<float>() + rows.numel())}};
  json output = {{"name", "y"},
                 {"parameters", {{net::kRowBeginParam, out.begin}, {net::kRowEndParam, out.end}}}};
  // Built explicitly: a braced {input} inside a json initializer list may move from `input`.
  auto body = [&] {
    json j = json::object();
    j["inputs"] = json::array();
    j["inputs"].push_back(input);
    j["outputs"] = json::array();
    j["outputs"].push_back(output);
    return j.dump();
  };
  httplib::Client http("127.0.0.1", edge_.ports().http);
  auto res = http.Post("/v2/models/front/infer", body(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  ASSERT_EQ(j["outputs"].size(), 1u);
  const json& y = j["outputs"][0];
  EXPECT_EQ(y["shape"], json({1, 4, 3, 6}));
  EXPECT_EQ(y["parameters"][net::kRowOffsetParam], 5);
  Tensor got = Tensor::FromVector(y["data"].get<std::vector<float>>(), {1, 4, 3, 6});
  EXPECT_LE(RelativeL2(got, RowsOf(whole_[0].tensor, out)), 1e-5);

  // Bad geometry over HTTP: 400 naming the tensor.
  input["parameters"][net::kRowOffsetParam] = 15;
  auto bad = http.Post("/v2/models/front/infer", body(), "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("'x'"), std::string::npos) << bad->body;
  ExpectStillServing();
}

TEST_F(BandServerTest, BadGeometryIsInvalidArgumentNamingTheTensor) {
  const RowRange out{2, 5};
  const RowRange in = NeededRows(graph_, "y", out, "x");
  // Rows that do not fit the full height.
  {
    inference::ModelInferRequest req = BandRequest(in, out);
    SetInt(req.mutable_inputs(0), net::kRowOffsetParam, 16 - (in.end - in.begin) + 1);
    ExpectInvalid(req, {"'x'", "full height 16"});
  }
  // A full height that is not the model's.
  {
    inference::ModelInferRequest req = BandRequest(in, out);
    SetInt(req.mutable_inputs(0), net::kFullHeightParam, 32);
    ExpectInvalid(req, {"'x'", "32", "16"});
  }
  // A halo too small: the rows wanted need rows the band does not hold.
  {
    inference::ModelInferRequest req = BandRequest({in.begin + 1, in.end}, out);
    ExpectInvalid(req, {"'x'"});
  }
  // Rows wanted outside the output.
  {
    inference::ModelInferRequest req = BandRequest({0, 16}, {6, 9});
    ExpectInvalid(req, {"'y'"});
  }
  // Empty rows wanted.
  {
    inference::ModelInferRequest req = BandRequest(in, {4, 4});
    ExpectInvalid(req, {"'y'", "empty"});
  }
  // Half of a pair.
  {
    inference::ModelInferRequest req = BandRequest(in, out);
    req.mutable_inputs(0)->mutable_parameters()->erase(net::kFullHeightParam);
    ExpectInvalid(req, {"'x'", net::kFullHeightParam});
  }
  // A non-integer value.
  {
    inference::ModelInferRequest req = BandRequest(in, out);
    (*req.mutable_inputs(0)->mutable_parameters())[net::kRowOffsetParam].set_string_param("3");
    ExpectInvalid(req, {"'x'", "integer"});
  }
  // An output's parameter on an input.
  {
    inference::ModelInferRequest req = BandRequest(in, out);
    SetInt(req.mutable_inputs(0), net::kRowBeginParam, 0);
    ExpectInvalid(req, {"'x'", net::kRowBeginParam});
  }
  // Geometry on a tensor that is not rank 4.
  {
    Tensor flat = Tensor::FromVector(std::vector<float>(10, 1.f), {10});
    inference::ModelInferRequest req = Request("x", flat);
    SetInt(req.mutable_inputs(0), net::kRowOffsetParam, 0);
    SetInt(req.mutable_inputs(0), net::kFullHeightParam, 16);
    ExpectInvalid(req, {"'x'"});
  }
}

// The defect the wire fixes: an intermediate tensor of fewer rows than the model computes was
// run as a whole tensor (the model's pads applied at both band edges: wrong rows, no error).
TEST_F(BandServerTest, IntermediateOfAnotherHeightNeedsBandGeometry) {
  // The device's own prefix run, to get relu1 whole.
  Graph prefix_graph = SmallFront();
  Result<Graph> slice = SpecialisedBandSlice(prefix_graph, {{"x", {1, 3, 16, 12}}}, {"relu1"});
  ASSERT_TRUE(slice.ok()) << slice.status().ToString();
  auto local = LocalBandTarget(std::move(slice).value(), "cpu");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  Result<BandRun> relu1 = (*local)->Run({{"x", x_, 0}}, {});
  ASSERT_TRUE(relu1.ok()) << relu1.status().ToString();
  const Tensor& full = relu1->outputs[0].tensor;  // [1, 8, 16, 12]
  ASSERT_EQ(full.shape(), (Shape{1, 8, 16, 12}));

  const RowRange out{4, 8};
  const RowRange need = NeededRows(graph_, "y", out, "relu1");
  inference::ModelInferRequest bare = Request("relu1", RowsOf(full, need));
  ExpectInvalid(bare, {"'relu1'", std::to_string(need.end - need.begin) + " rows", "16",
                       net::kRowOffsetParam});

  // The same rows with their geometry give exactly the model's rows.
  inference::ModelInferRequest banded = bare;
  SetInt(banded.mutable_inputs(0), net::kRowOffsetParam, need.begin);
  SetInt(banded.mutable_inputs(0), net::kFullHeightParam, 16);
  auto* o = banded.add_outputs();
  o->set_name("y");
  (*o->mutable_parameters())[net::kRowBeginParam].set_int64_param(out.begin);
  (*o->mutable_parameters())[net::kRowEndParam].set_int64_param(out.end);
  inference::ModelInferResponse res;
  grpc::Status s = Infer(banded, &res);
  ASSERT_TRUE(s.ok()) << s.error_message();
  Tensor got = Tensor::FromVector(Floats(res.raw_output_contents(0)), {1, 4, 4, 6});
  EXPECT_LE(RelativeL2(got, RowsOf(whole_[0].tensor, out)), 1e-5);
}

// The device API: random conv/pool DAGs (tests/band_util.h) uploaded to the server, cut into
// 2-5 bands of unequal heights, alternately run remotely (band requests through EdgeClient)
// and locally (BandRunner on cpu), stitch to the whole run within 1e-5 relative L2.
TEST_F(BandServerTest, RemoteAndLocalTargetsStitchRandomGraphs) {
  net::EdgeClientOptions copts;
  copts.address = "127.0.0.1:" + std::to_string(edge_.ports().grpc);
  auto client = net::EdgeClient::Connect(copts);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  std::mt19937_64 rng(2024);
  double worst = 0.0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    std::string summary;
    Graph graph = RandomBandGraph(seed, &summary);
    SCOPED_TRACE("graph " + std::to_string(seed) + ": " + summary);
    Result<std::string> bytes = ExportOnnx(graph);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    Result<std::string> name = (*client)->EnsureModel(*bytes);
    ASSERT_TRUE(name.ok()) << name.status().ToString();
    const Value& xv = graph.value(graph.FindValue("x"));
    Tensor x = Image(xv.shape, seed);
    std::vector<NamedTensor> whole = WholeRun(*bytes, {{"x", x}});
    ASSERT_EQ(whole.size(), 1u);
    const int64_t height = whole[0].tensor.shape()[2];

    Result<Graph> slice = SpecialisedBandSlice(graph, {{"x", xv.shape}}, {"y"});
    ASSERT_TRUE(slice.ok()) << slice.status().ToString();
    auto remote = RemoteBandTarget(*slice, client->get(), *name);
    auto local = LocalBandTarget(*slice, "cpu");
    ASSERT_TRUE(remote.ok() && local.ok());
    EXPECT_EQ((*remote)->full_heights().at("x"), xv.shape[2]);

    const int n = 2 + static_cast<int>(seed % 4);
    std::vector<RowRange> bands = RandomSplit(height, std::min<int>(n, height), &rng);
    std::vector<std::pair<int64_t, Tensor>> parts;
    for (size_t i = 0; i < bands.size(); ++i) {
      BandTarget& target = i % 2 == 0 ? **remote : **local;
      RowRange in = NeededRows(*slice, "y", bands[i], "x");
      Result<BandRun> run = target.Run({{"x", RowsOf(x, in), in.begin}}, {{"y", bands[i]}});
      ASSERT_TRUE(run.ok()) << target.where() << ": " << run.status().ToString();
      ASSERT_EQ(run->outputs.size(), 1u);
      EXPECT_EQ(run->outputs[0].offset, bands[i].begin);
      if (i % 2 == 0) {
        EXPECT_GT(run->timing.bytes_sent, 0);
      }
      parts.push_back({run->outputs[0].offset, run->outputs[0].tensor});
    }
    worst = std::max(worst, RelativeL2(StitchRows(parts, height), whole[0].tensor));
  }
  EXPECT_LE(worst, 1e-5);
}

TEST(BandTargetTest, SliceAndTargetErrorsNameWhatIsWrong) {
  Graph graph = SmallFront();
  Result<Graph> missing = SpecialisedBandSlice(graph, {{"nope", {1, 3, 16, 12}}}, {"y"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos);
  Result<Graph> needs = SpecialisedBandSlice(graph, {{"relu1", {1, 8, 16, 12}}}, {"conv1"});
  ASSERT_FALSE(needs.ok());
  EXPECT_NE(needs.status().message().find("'x'"), std::string::npos) << needs.status().ToString();
  Result<Graph> slice = SpecialisedBandSlice(graph, {{"x", {1, 3, 16, 12}}}, {"y"});
  ASSERT_TRUE(slice.ok());
  EXPECT_FALSE(LocalBandTarget(*slice, "no-such-backend").ok());
  auto local = LocalBandTarget(*slice, "reference");
  ASSERT_TRUE(local.ok());
  Tensor x = Image({1, 3, 16, 12}, 3);
  // A halo too small for the rows wanted.
  Result<BandRun> run = (*local)->Run({{"x", RowsOf(x, {4, 10}), 4}}, {{"y", {2, 5}}});
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(run.status().message().find("'x'"), std::string::npos) << run.status().ToString();
  EXPECT_FALSE(RemoteBandTarget(*slice, nullptr, "front").ok());
}

}  // namespace
}  // namespace edgeinfer::testing

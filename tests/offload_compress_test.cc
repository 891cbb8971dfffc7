// Compressed and quantised transfers against the real edge server process: ResNet-18 (64x64
// input) split at a ReLU output in the middle of the network, the cut tensor sent raw, lz4,
// zstd, fp16 and int8+lz4. Lossless codecs give bit-identical outputs to the raw transfer (the
// server runs the same compiled slice on the same bytes); quantised ones stay within the bounds
// stated at kFp16Bound / kInt8Bound; malformed payloads and parameters are INVALID_ARGUMENT and
// the server keeps serving. The HTTP front end decodes the same parameters (checked on its
// parser directly).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "inference.grpc.pb.h"
#include "net/client.h"
#include "net/compress.h"
#include "net/transfer_codec.h"
#include "offload_util.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"
#include "runtime/local_session.h"
#include "runtime/split_plan.h"
#include "server/http_codec.h"
#include "zoo/zoo.h"

namespace edgeinfer::testing {
namespace {

// Output relative L2 bounds against the raw transfer. fp16 rounds each cut value with relative
// error <= 2^-11, so the cut tensor's relative L2 error is <= 4.9e-4; int8 with scale
// max/255 on ReLU data has a uniform error of +-scale/2, about 1e-2 relative L2 for a
// half-Gaussian. The suffix (convolutions, batch norm folded, ReLU, residual adds, pooling,
// a linear classifier) is piecewise linear, so errors propagate with a gain of order one
// (measured: 1.1e-4 for fp16, 3.3e-3 for int8, i.e. a gain below 1 with these random weights);
// the bounds allow a gain of 5 and still sit far below the error of a wrong tensor (order 1).
constexpr double kFp16Bound = 2.5e-3;
constexpr double kInt8Bound = 5e-2;

// The zoo model with a 1x3x64x64 input (dims left for shape inference, as offload_split_test).
Result<Graph> ResNet18At64() {
  const ZooModel* zoo = FindZooModel("resnet18");
  if (zoo == nullptr) return Status::NotFound("zoo model resnet18");
  EI_ASSIGN_OR_RETURN(Graph g, zoo->build(42));
  for (Value& v : g.mutable_values()) {
    if (v.is_constant()) continue;
    for (int64_t& d : v.shape) d = -1;
  }
  for (ValueId id : g.inputs()) g.mutable_value(id).shape = {1, 3, 64, 64};
  return g;
}

class OffloadCompressTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_.Start(EDGEINFER_CLI); }
  static void TearDownTestSuite() { server_.Stop(); }

  // Uploads the model, picks the first single-tensor cut at or after half the nodes whose
  // tensor is a ReLU output, and computes that tensor and the model output locally.
  void SetUp() override {
    ASSERT_NE(server_.get(), nullptr) << server_.error();
    auto graph = ResNet18At64();
    ASSERT_TRUE(graph.ok()) << graph.status().ToString();
    auto bytes = ExportOnnx(*graph);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto imported = ImportOnnx(*bytes, {});
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    auto order = imported->TopologicalOrder();
    ASSERT_TRUE(order.ok());
    for (size_t k = order->size() / 2; k < order->size() && cut_.empty(); ++k) {
      auto crossing = CrossingTensors(*imported, static_cast<int>(k));
      ASSERT_TRUE(crossing.ok());
      if (crossing->size() != 1) continue;
      const Value& v = imported->value(imported->FindValue((*crossing)[0]));
      if (v.producer >= 0 && imported->nodes()[static_cast<size_t>(v.producer)].op == OpKind::kRelu)
        cut_ = (*crossing)[0];
    }
    ASSERT_FALSE(cut_.empty()) << "no single ReLU cut in the second half of resnet18";
    Graph probe = *imported;
    probe.mutable_outputs().insert(probe.mutable_outputs().begin(), probe.FindValue(cut_));
    SessionOptions o;
    o.threads = 1;
    auto local = MakeLocalSession(std::move(probe), o);
    ASSERT_TRUE(local.ok()) << local.status().ToString();
    auto out =
        (*local)->Run({{"input", RandomTensor(DType::kFloat32, {1, 3, 64, 64}, 21, 0.f, 1.f)}});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->size(), 2u);
    cut_tensor_ = (*out)[0].tensor;
    net::EdgeClientOptions co;
    co.address = server_->grpc_address();
    auto client = net::EdgeClient::Connect(co);
    ASSERT_TRUE(client.ok());
    client_ = std::move(client).value();
    auto name = client_->EnsureModel(*bytes);
    ASSERT_TRUE(name.ok()) << name.status().ToString();
    model_ = *name;
  }

  Result<Tensor> Send(const net::TransferOptions& transfer, net::InferTiming* timing) {
    EI_ASSIGN_OR_RETURN(
        auto out, client_->Infer(model_, {{cut_, cut_tensor_}}, {"output"}, timing, transfer));
    return out[0].tensor;
  }

  // A hand-made request with the cut tensor's bytes `payload` and `params`, straight on the
  // gRPC stub (EdgeClient never sends malformed data).
  grpc::Status SendRaw(const std::string& payload,
                       const std::map<std::string, inference::InferParameter>& params) {
    auto stub = inference::GRPCInferenceService::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
    inference::ModelInferRequest request;
    request.set_model_name(model_);
    auto* in = request.add_inputs();
    in->set_name(cut_);
    in->set_datatype("FP32");
    for (int64_t d : cut_tensor_.shape()) in->add_shape(d);
    for (const auto& [k, v] : params) (*in->mutable_parameters())[k] = v;
    request.add_raw_input_contents(payload);
    request.add_outputs()->set_name("output");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    inference::ModelInferResponse response;
    return stub->ModelInfer(&context, request, &response);
  }

  static SharedEdgeServer server_;
  std::unique_ptr<net::EdgeClient> client_;
  std::string model_;
  std::string cut_;
  Tensor cut_tensor_;
};

SharedEdgeServer OffloadCompressTest::server_;

inference::InferParameter Str(const std::string& s) {
  inference::InferParameter p;
  p.set_string_param(s);
  return p;
}
inference::InferParameter Int(int64_t v) {
  inference::InferParameter p;
  p.set_int64_param(v);
  return p;
}

TEST_F(OffloadCompressTest, LosslessCodecsGiveTheRawOutputExactlyWithFewerBytes) {
  net::InferTiming raw_timing;
  auto raw = Send({}, &raw_timing);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString() << "\n" << server_->Log();
  EXPECT_EQ(raw_timing.raw_input_bytes, static_cast<int64_t>(cut_tensor_.nbytes()));
  EXPECT_TRUE(raw_timing.compression_ratio.empty());
  for (const char* codec : {"lz4", "zstd"}) {
    SCOPED_TRACE(codec);
    net::InferTiming timing;
    auto got = Send({codec, ""}, &timing);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->nbytes(), raw->nbytes());
    EXPECT_EQ(std::memcmp(got->raw_data(), raw->raw_data(), raw->nbytes()), 0);
    // A ReLU output of random-weight ResNet-18 is about half zeros: lz4/zstd reach < 0.8.
    ASSERT_EQ(timing.compression_ratio.count(cut_), 1u);
    EXPECT_LT(timing.compression_ratio[cut_], 0.8);
    EXPECT_LT(timing.bytes_sent, raw_timing.bytes_sent * 0.8);
    EXPECT_EQ(timing.raw_input_bytes, raw_timing.raw_input_bytes);
    EXPECT_GT(timing.compress_ms, 0.0);
  }
}

TEST_F(OffloadCompressTest, QuantisedTransfersStayWithinTheirBounds) {
  auto raw = Send({}, nullptr);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  net::InferTiming fp16_timing, int8_timing;
  auto fp16 = Send({"", "fp16"}, &fp16_timing);
  ASSERT_TRUE(fp16.ok()) << fp16.status().ToString();
  auto int8 = Send({"lz4", "int8"}, &int8_timing);
  ASSERT_TRUE(int8.ok()) << int8.status().ToString();
  const double e16 = RelativeL2(*fp16, *raw), e8 = RelativeL2(*int8, *raw);
  EXPECT_LE(e16, kFp16Bound);
  EXPECT_LE(e8, kInt8Bound);
  EXPECT_GT(e8, 0.0) << "int8 cannot be exact on this data";
  // fp16 halves the payload; int8 quarters it before lz4 shrinks it further.
  EXPECT_NEAR(fp16_timing.compression_ratio[cut_], 0.5, 1e-3);
  EXPECT_LT(int8_timing.compression_ratio[cut_], 0.25);
  std::printf("cut %s %s: fp16 rel L2 %.2e (ratio %.3f), int8+lz4 rel L2 %.2e (ratio %.3f)\n",
              cut_.c_str(), ShapeToString(cut_tensor_.shape()).c_str(), e16,
              fp16_timing.compression_ratio[cut_], e8, int8_timing.compression_ratio[cut_]);
}

TEST_F(OffloadCompressTest, MalformedPayloadsAndParametersAreRejectedAndTheServerKeepsServing) {
  const std::string raw(static_cast<const char*>(cut_tensor_.raw_data()), cut_tensor_.nbytes());
  std::string frame;
  ASSERT_TRUE(net::Compress(net::Codec::kZstd, raw.data(), raw.size(), &frame).ok());
  std::string lz4;
  ASSERT_TRUE(net::Compress(net::Codec::kLz4, raw.data(), raw.size(), &lz4).ok());
  std::string corrupt = frame;
  corrupt[corrupt.size() / 2] ^= 0x5a;
  const auto nbytes = static_cast<int64_t>(raw.size());
  struct Case {
    const char* what;
    std::string payload;
    std::map<std::string, inference::InferParameter> params;
  };
  const std::vector<Case> cases = {
      {"corrupt zstd",
       corrupt,
       {{net::kCompressionParam, Str("zstd")}, {net::kRawBytesParam, Int(nbytes)}}},
      {"truncated lz4",
       lz4.substr(0, lz4.size() - 7),
       {{net::kCompressionParam, Str("lz4")}, {net::kRawBytesParam, Int(nbytes)}}},
      {"unknown codec",
       frame,
       {{net::kCompressionParam, Str("brotli")}, {net::kRawBytesParam, Int(nbytes)}}},
      {"raw bytes disagree with the shape",
       frame,
       {{net::kCompressionParam, Str("zstd")}, {net::kRawBytesParam, Int(nbytes * 2)}}},
      {"raw bytes missing", frame, {{net::kCompressionParam, Str("zstd")}}},
      {"raw bytes of a string type",
       frame,
       {{net::kCompressionParam, Str("zstd")}, {net::kRawBytesParam, Str("many")}}},
      {"unknown quantization",
       raw.substr(0, raw.size() / 2),
       {{net::kQuantizationParam, Str("int4")}, {net::kRawBytesParam, Int(nbytes)}}},
      {"int8 without scale",
       raw.substr(0, raw.size() / 4),
       {{net::kQuantizationParam, Str("int8")}, {net::kRawBytesParam, Int(nbytes)}}},
      {"bomb: 4 TiB declared",
       frame,
       {{net::kCompressionParam, Str("zstd")}, {net::kRawBytesParam, Int(int64_t{4} << 40)}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    grpc::Status s = SendRaw(c.payload, c.params);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find(cut_), std::string::npos) << s.error_message();
  }
  // The well-formed frame by hand, then a plain client: both still served.
  grpc::Status ok =
      SendRaw(frame, {{net::kCompressionParam, Str("zstd")}, {net::kRawBytesParam, Int(nbytes)}});
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_TRUE(client_->ServerLive().ok());
  auto plain = Send({}, nullptr);
  EXPECT_TRUE(plain.ok()) << plain.status().ToString();
  // A client asking for an unknown codec fails before sending anything.
  auto bad = Send({"gzip", ""}, nullptr);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

// The HTTP front end accepts the same parameters on binary inputs and refuses them on JSON data.
TEST(HttpTransferTest, BinaryInputsDecodeTheTransferParameters) {
  std::vector<float> v(4096);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = (i % 3 == 0) ? 0.0f : static_cast<float>(i % 64) * 0.5f;
  const Tensor t = Tensor::FromVector(v, {1, 4096});
  std::string wire;
  auto enc = net::EncodeTransferTensor(t, net::Codec::kLz4, net::Quantization::kFp16, &wire);
  ASSERT_TRUE(enc.ok());
  ASSERT_EQ(enc->codec, net::Codec::kLz4);
  nlohmann::json header = {{"inputs",
                            {{{"name", "x"},
                              {"datatype", "FP32"},
                              {"shape", {1, 4096}},
                              {"parameters",
                               {{"binary_data_size", wire.size()},
                                {net::kCompressionParam, "lz4"},
                                {net::kQuantizationParam, "fp16"},
                                {net::kRawBytesParam, t.nbytes()}}}}}}};
  const std::string json = header.dump();
  auto parsed = server::ParseHttpInfer(json + wire, static_cast<int64_t>(json.size()), 1 << 20);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const Tensor& got = parsed->call.inputs.at(0).tensor;
  ASSERT_EQ(got.numel(), t.numel());
  // Values up to 31.5 round to fp16 with relative error <= 2^-11.
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_LE(std::fabs(got.data<float>()[i] - v[i]), std::ldexp(v[i], -11)) << i;
  }
  header["inputs"][0]["parameters"][net::kCompressionParam] = "lzma";
  const std::string bad = header.dump();
  auto refused = server::ParseHttpInfer(bad + wire, static_cast<int64_t>(bad.size()), 1 << 20);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("'x'"), std::string::npos);
  nlohmann::json as_json = {{"inputs",
                             {{{"name", "x"},
                               {"datatype", "FP32"},
                               {"shape", {1, 2}},
                               {"data", {1.0, 2.0}},
                               {"parameters", {{net::kCompressionParam, "lz4"}}}}}}};
  auto json_refused = server::ParseHttpInfer(as_json.dump(), -1, 1 << 20);
  EXPECT_EQ(json_refused.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeinfer::testing

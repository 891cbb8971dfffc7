// Writes the seed corpora of the fuzz targets (fuzz_replay --make-seeds DIR): real models and
// real requests as the client and tools produce them, so that fuzzing starts from valid inputs
// and mutates from there. The committed fuzz/corpus/ was made with it; regression inputs found
// by fuzzing are added beside the seeds by hand.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/npy.h"
#include "inference.pb.h"
#include "net/transfer_codec.h"
#include "onnx/onnx_io.h"
#include "remoting/protocol.h"
#include "zoo/builder.h"

namespace edgeinfer::fuzz {

namespace {

namespace fs = std::filesystem;

bool Write(const fs::path& dir, const std::string& target, const std::string& name,
           const std::string& bytes) {
  fs::create_directories(dir / target);
  std::ofstream out(dir / target / name, std::ios::binary);
  out << bytes;
  return static_cast<bool>(out);
}

std::string TinyModel() {
  zoo::GraphBuilder b("tiny", 7);
  ValueId x = b.Input("x", {1, 3, 8, 8});
  zoo::ConvOptions c;
  c.out_channels = 4;
  c.kernel = 3;
  c.pad = 1;
  b.Output(b.Relu("relu", b.Conv("conv", x, c)), "y");
  return *ExportOnnx(*b.Finish());
}

std::string SmallCnn() {
  zoo::GraphBuilder b("small_cnn", 11);
  ValueId x = b.Input("x", {1, 3, 16, 16});
  zoo::ConvOptions c;
  c.out_channels = 8;
  c.kernel = 3;
  c.pad = 1;
  ValueId h = b.Relu("relu1", b.BatchNorm("bn1", b.Conv("conv1", x, c)));
  zoo::PoolOptions p;
  p.kernel = 2;
  p.stride = 2;
  h = b.MaxPool("pool1", h, p);
  ValueId skip = h;
  c.out_channels = 8;
  h = b.Add("add", b.Conv("conv2", h, c), skip);
  h = b.Flatten("flatten", b.GlobalAveragePool("gap", h));
  b.Output(b.Linear("fc", h, 10), "logits");
  return *ExportOnnx(*b.Finish());
}

Tensor Ramp(Shape shape) {
  Tensor t = Tensor::Zeros(DType::kFloat32, shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>((i * 37) % 101) / 17.0f;
  return t;
}

inference::ModelInferRequest Request(const Tensor& x, net::Codec codec,
                                     net::Quantization quantization) {
  inference::ModelInferRequest req;
  req.set_model_name("tiny");
  req.set_id("seed");
  auto* in = req.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  for (int64_t d : x.shape()) in->add_shape(d);
  std::string wire;
  Result<net::TransferEncoding> encoding = net::EncodeTransferTensor(x, codec, quantization, &wire);
  if (encoding.ok()) net::WriteTransferParameters(*encoding, in->mutable_parameters());
  req.add_raw_input_contents(wire);
  req.add_outputs()->set_name("y");
  return req;
}

// remoting_frame_fuzz: a client's byte stream after the hello (first byte 1: the target sends
// a valid hello first). Device addresses are those the cpu executor hands out in order.
bool WriteRemotingSeeds(const fs::path& dir) {
  using namespace remoting;
  auto frame = [](FrameType type, uint16_t flags, const std::vector<uint8_t>& payload) {
    MemoryStream s(nullptr, 0);
    (void)WriteFrame(s, type, flags, payload.data(), payload.size());
    return s.written();
  };
  auto calls = [&](uint16_t flags, std::initializer_list<std::pair<Op, Encoder>> list) {
    std::vector<uint8_t> payload;
    for (const auto& [op, args] : list) AppendCall(&payload, op, args.bytes().data(), args.size());
    return frame(FrameType::kCalls, flags, payload);
  };
  auto seed = [](std::initializer_list<std::vector<uint8_t>> frames) {
    std::string s(1, '\1');
    for (const auto& f : frames) s.append(f.begin(), f.end());
    return s;
  };
  const uint64_t a = uint64_t{1} << 36;  // the first allocation
  const uint64_t b = a + 512;            // the second (256 bytes, aligned, plus a gap)
  std::vector<uint8_t> floats(256, 0);
  Encoder h2d;
  h2d.U64(a).U64(floats.size()).U8(1).Raw(floats.data(), floats.size());
  bool ok = Write(
      dir, "remoting_frame_fuzz", "memory",
      seed({calls(kFlagSync, {{Op::kMalloc, Encoder().U64(256)}}),
            calls(kFlagSync, {{Op::kMalloc, Encoder().U64(256)}}),
            calls(0, {{Op::kMemcpyHtoD, h2d},
                      {Op::kMemcpyDtoD, Encoder().U64(b).U64(a).U64(128)},
                      {Op::kMemset, Encoder().U64(a).U32(7).U64(16)},
                      {Op::kMemcpyDtoH, Encoder().U64(b).U64(64)}}),
            calls(kFlagSync, {{Op::kSynchronize, Encoder().U64(0)}}),
            calls(kFlagSync, {{Op::kFree, Encoder().U64(a)}, {Op::kMemGetInfo, Encoder()}})}));
  Encoder sgemm;
  sgemm.U64(0x100).U8(0).U8(1).I32(4).I32(4).I32(4).F32(1).U64(a).I32(4).U64(a).I32(4).F32(0);
  sgemm.U64(b).I32(4).I64(0).I64(0).I64(0).I32(1);
  ok &= Write(dir, "remoting_frame_fuzz", "blas",
              seed({calls(kFlagSync, {{Op::kMalloc, Encoder().U64(256)}}),
                    calls(kFlagSync, {{Op::kMalloc, Encoder().U64(256)}}),
                    calls(kFlagSync, {{Op::kBlasCreate, Encoder().U64(0x100)},
                                      {Op::kStreamCreate, Encoder().U64(0x200)},
                                      {Op::kBlasSetStream, Encoder().U64(0x100).U64(0x200)},
                                      {Op::kSgemm, sgemm},
                                      {Op::kEventCreate, Encoder().U64(0x300)},
                                      {Op::kEventRecord, Encoder().U64(0x300).U64(0x200)},
                                      {Op::kEventElapsed, Encoder().U64(0x300).U64(0x300)}})}));
  auto tensor = [](uint64_t id, int n, int c, int h, int w) {
    Encoder e;
    e.U64(id).I32(n).I32(c).I32(h).I32(w).I32(c * h * w).I32(h * w).I32(w).I32(1);
    return e;
  };
  const uint8_t kTensor = 1, kFilter = 2, kConv = 3, kPool = 4, kAct = 5;
  Encoder conv;
  conv.U64(0x10).F32(1).U64(0x20).U64(a).U64(0x30).U64(a).U64(0x40).F32(0).U64(0x21).U64(b);
  Encoder pool;
  pool.U64(0x10).U64(0x50).F32(1).U64(0x21).U64(b).F32(0).U64(0x22).U64(a);
  Encoder act;
  act.U64(0x10).U64(0x60).F32(1).U64(0x21).U64(b).F32(0).U64(0x21).U64(b);
  Encoder softmax;
  softmax.U64(0x10).U8(0).U8(1).F32(1).U64(0x21).U64(b).F32(0).U64(0x21).U64(b);
  ok &= Write(
      dir, "remoting_frame_fuzz", "dnn",
      seed({calls(kFlagSync, {{Op::kMalloc, Encoder().U64(256)}}),
            calls(kFlagSync, {{Op::kMalloc, Encoder().U64(256)}}),
            calls(kFlagSync,
                  {{Op::kDnnCreate, Encoder().U64(0x10)},
                   {Op::kDescCreate, Encoder().U8(kTensor).U64(0x20)},
                   {Op::kDescCreate, Encoder().U8(kTensor).U64(0x21)},
                   {Op::kDescCreate, Encoder().U8(kTensor).U64(0x22)},
                   {Op::kDescCreate, Encoder().U8(kFilter).U64(0x30)},
                   {Op::kDescCreate, Encoder().U8(kConv).U64(0x40)},
                   {Op::kDescCreate, Encoder().U8(kPool).U64(0x50)},
                   {Op::kDescCreate, Encoder().U8(kAct).U64(0x60)},
                   {Op::kTensorDescSet, tensor(0x20, 1, 2, 4, 4)},
                   {Op::kTensorDescSet, tensor(0x21, 1, 2, 4, 4)},
                   {Op::kTensorDescSet, tensor(0x22, 1, 2, 2, 2)},
                   {Op::kFilterDescSet, Encoder().U64(0x30).I32(2).I32(2).I32(3).I32(3)},
                   {Op::kConvDescSet,
                    Encoder().U64(0x40).I32(1).I32(1).I32(1).I32(1).I32(1).I32(1).U8(1).I32(1)},
                   {Op::kPoolDescSet,
                    Encoder().U64(0x50).U8(0).I32(2).I32(2).I32(0).I32(0).I32(2).I32(2)},
                   {Op::kActDescSet, Encoder().U64(0x60).U8(1).F64(0)},
                   {Op::kConvForward, conv},
                   {Op::kActivationForward, act},
                   {Op::kSoftmaxForward, softmax},
                   {Op::kPoolingForward, pool},
                   {Op::kDescDestroy, Encoder().U64(0x60)},
                   {Op::kDnnDestroy, Encoder().U64(0x10)}})}));
  // Raw: a hello with a token, then an oversized header.
  Hello hello;
  hello.token = "token";
  std::string raw;
  const std::vector<uint8_t> hello_frame = frame(FrameType::kHello, 0, EncodeHello(hello));
  raw.assign(hello_frame.begin(), hello_frame.end());
  raw.append("\xff\xff\xff\x7f\x03\x00\x00\x00", 8);
  ok &= Write(dir, "remoting_frame_fuzz", "raw_hello", raw);
  return ok;
}

}  // namespace

int MakeSeeds(const std::string& dir_name) {
  const fs::path dir(dir_name);
  bool ok = true;
  ok &= Write(dir, "onnx_import_fuzz", "tiny.onnx", TinyModel());
  ok &= Write(dir, "onnx_import_fuzz", "small_cnn.onnx", SmallCnn());

  const Tensor x = Ramp({1, 3, 8, 8});
  struct Encoded {
    const char* name;
    net::Codec codec;
    net::Quantization quantization;
  };
  const Encoded kinds[] = {{"raw", net::Codec::kNone, net::Quantization::kNone},
                           {"lz4", net::Codec::kLz4, net::Quantization::kNone},
                           {"zstd", net::Codec::kZstd, net::Quantization::kNone},
                           {"fp16", net::Codec::kNone, net::Quantization::kFp16},
                           {"int8_zstd", net::Codec::kZstd, net::Quantization::kInt8}};
  // A compressible tensor too, so that lz4 and zstd frames are really used.
  const Tensor zeros = Tensor::Zeros(DType::kFloat32, {1, 3, 8, 8});
  for (const Encoded& k : kinds) {
    for (const auto& [tag, t] : {std::pair<const char*, const Tensor*>{"ramp", &x},
                                 std::pair<const char*, const Tensor*>{"zeros", &zeros}}) {
      const std::string bytes = Request(*t, k.codec, k.quantization).SerializeAsString();
      const std::string name = std::string(k.name) + "_" + tag + ".pb";
      ok &= Write(dir, "model_infer_fuzz", name, bytes);
      ok &= Write(dir, "transfer_codec_fuzz", name, bytes);
    }
  }
  inference::ModelInferRequest typed;
  typed.set_model_name("tiny");
  auto* in = typed.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  for (int64_t d : {1, 3, 8, 8}) in->add_shape(d);
  for (int i = 0; i < 3 * 8 * 8; ++i) in->mutable_contents()->add_fp32_contents(0.5f * i);
  ok &= Write(dir, "model_infer_fuzz", "typed.pb", typed.SerializeAsString());

  auto http = [&](const std::string& name, const std::string& json, const std::string& binary) {
    uint32_t length = binary.empty() ? 0xffffffffu : static_cast<uint32_t>(json.size());
    std::string bytes(4, '\0');
    std::memcpy(bytes.data(), &length, 4);
    ok &= Write(dir, "http_codec_fuzz", name, bytes + json + binary);
  };
  http("json.bin",
       R"({"id":"1","inputs":[{"name":"x","datatype":"FP32","shape":[1,2,2],)"
       R"("data":[[1.5,2],[3,4]]}],"outputs":[{"name":"y"}]})",
       "");
  http("json_types.bin",
       R"({"inputs":[{"name":"b","datatype":"BOOL","shape":[2],"data":[true,false]},)"
       R"({"name":"i","datatype":"INT64","shape":[3],"data":[1,-2,3]},)"
       R"({"name":"u","datatype":"UINT8","shape":[1],"data":[255]}],)"
       R"("parameters":{"binary_data_output":true}})",
       "");
  {
    std::string binary(16, '\0');
    const float values[4] = {1, 2, 3, 4};
    std::memcpy(binary.data(), values, 16);
    http("binary.bin",
         R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],)"
         R"("parameters":{"binary_data_size":16}}],)"
         R"("outputs":[{"name":"y","parameters":{"binary_data":true}}]})",
         binary);
    std::string wire;
    Result<net::TransferEncoding> e =
        net::EncodeTransferTensor(zeros, net::Codec::kLz4, net::Quantization::kNone, &wire);
    if (e.ok()) {
      http("binary_lz4.bin",
           R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3,8,8],"parameters":)"
           R"({"binary_data_size":)" +
               std::to_string(wire.size()) + R"(,"edgeinfer_compression":"lz4",)" +
               R"("edgeinfer_raw_bytes":768}}]})",
           wire);
    }
  }

  ok &= Write(dir, "triton_config_fuzz", "full.pbtxt",
              "name: \"tiny\"\nplatform: \"onnxruntime_onnx\"\nmax_batch_size: 0\n"
              "input [\n  {\n    name: \"x\"\n    data_type: TYPE_FP32\n    dims: [ 1, 3, 8, 8 ]\n"
              "  }\n]\noutput [\n  {\n    name: \"y\"\n    data_type: TYPE_FP32\n"
              "    dims: [ 1, 4, 8, 8 ]\n  }\n]\n"
              "instance_group [ { count: 2, kind: KIND_CPU } ]\n"
              "dynamic_batching { max_queue_delay_microseconds: 100 }\n"
              "parameters { key: \"k\" value: { string_value: \"v\" } }\n");
  ok &= Write(dir, "triton_config_fuzz", "minimal.pbtxt", "name: \"tiny\"\n");
  ok &= Write(dir, "triton_config_fuzz", "batched.pbtxt",
              "max_batch_size: 8\ninput { name: \"x\", data_type: TYPE_FP32, dims: [3, 8, 8] };\n"
              "ensemble_scheduling { step [ { model_name: \"a\" } ] }\n");

  ok &= Write(dir, "npy_fuzz", "f32.npy", *SerializeNpy(x));
  ok &= Write(dir, "npy_fuzz", "i64.npy",
              *SerializeNpy(Tensor::FromVector<int64_t>({1, -2, 3, 4, 5, 6}, {2, 3})));
  ok &= Write(dir, "npy_fuzz", "u8.npy", *SerializeNpy(Tensor::FromVector<uint8_t>({7}, {})));
  ok &= WriteRemotingSeeds(dir);
  if (!ok) {
    std::fprintf(stderr, "cannot write the seeds under %s\n", dir_name.c_str());
    return 1;
  }
  std::printf("seeds written under %s\n", dir_name.c_str());
  return 0;
}

}  // namespace edgeinfer::fuzz

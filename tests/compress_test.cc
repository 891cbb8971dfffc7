// Transfer compression and quantisation (net/compress.h, net/transfer_codec.h): lossless round
// trips, hostile payloads (corrupt, truncated, wrong size, bombs) answered with errors, and the
// stated error bounds of fp16 and int8.
#include "net/compress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/half.h"
#include "inference.pb.h"
#include "net/codec.h"
#include "net/transfer_codec.h"

namespace edgeinfer::net {
namespace {

std::vector<float> Uniform(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// ReLU of a zero-mean Gaussian: about half the values are exact zeros, like a cut tensor after
// an activation.
std::vector<float> ReluLike(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = std::max(0.0f, g(rng));
  return v;
}

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

class CodecTest : public ::testing::TestWithParam<Codec> {};

TEST_P(CodecTest, RoundTripsRandomReluAndEmptyData) {
  const Codec codec = GetParam();
  const std::vector<std::string> inputs = {Bytes(Uniform(10000, 1, -1, 1)),
                                           Bytes(ReluLike(50000, 2)), std::string(),
                                           std::string(1, 'x'), std::string(1 << 20, '\0')};
  for (const std::string& in : inputs) {
    std::string frame;
    ASSERT_TRUE(Compress(codec, in.data(), in.size(), &frame).ok());
    std::string out(in.size(), '\x55');
    ASSERT_TRUE(Decompress(codec, frame, out.data(), out.size(), "t").ok()) << in.size();
    EXPECT_EQ(out, in);
  }
}

TEST_P(CodecTest, ReluDataShrinksAndRandomDataDoesNot) {
  const Codec codec = GetParam();
  const std::string relu = Bytes(ReluLike(100000, 3));
  const std::string random = Bytes(Uniform(100000, 4, -1, 1));
  std::string a, b;
  ASSERT_TRUE(Compress(codec, relu.data(), relu.size(), &a).ok());
  ASSERT_TRUE(Compress(codec, random.data(), random.size(), &b).ok());
  // Half the floats are zeros (4 of 8 bytes per pair), so any LZ coder gets well under 0.8;
  // uniform mantissas are incompressible beyond the exponent bytes (ratio above 0.8).
  EXPECT_LT(static_cast<double>(a.size()) / relu.size(), 0.8);
  EXPECT_GT(static_cast<double>(b.size()) / random.size(), 0.8);
}

TEST_P(CodecTest, WrongExpectedSizeIsAnErrorNamingTheTensor) {
  const Codec codec = GetParam();
  const std::string in = Bytes(ReluLike(1000, 5));
  std::string frame;
  ASSERT_TRUE(Compress(codec, in.data(), in.size(), &frame).ok());
  for (size_t expected : {in.size() - 1, in.size() + 1, size_t{0}, in.size() / 2}) {
    std::vector<char> out(in.size() + 64);
    Status s = Decompress(codec, frame, out.data(), expected, "conv3_out");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << expected;
    EXPECT_NE(s.message().find("conv3_out"), std::string::npos) << s.message();
  }
}

TEST_P(CodecTest, TruncatedFramesAreErrors) {
  const Codec codec = GetParam();
  const std::string in = Bytes(ReluLike(2000, 6));
  std::string frame;
  ASSERT_TRUE(Compress(codec, in.data(), in.size(), &frame).ok());
  std::vector<char> out(in.size());
  for (size_t len = 0; len < frame.size(); len += 1 + len / 16) {
    Status s =
        Decompress(codec, std::string_view(frame).substr(0, len), out.data(), out.size(), "t");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "prefix of " << len;
  }
}

// Random byte flips must never crash or write out of bounds (AddressSanitizer checks the
// latter in CI). zstd frames carry a checksum, so every flip is detected; the lz4 block format
// has none, so a flip in a literal may decode to other bytes of the right size, which is allowed.
TEST_P(CodecTest, CorruptFramesNeverCrash) {
  const Codec codec = GetParam();
  const std::string in = Bytes(ReluLike(4000, 7));
  std::string frame;
  ASSERT_TRUE(Compress(codec, in.data(), in.size(), &frame).ok());
  std::mt19937_64 rng(8);
  int errors = 0;
  const int kTrials = 300;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string bad = frame;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    if (bad == frame) continue;
    std::vector<char> out(in.size());
    Status s = Decompress(codec, bad, out.data(), out.size(), "t");
    if (!s.ok()) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
      ++errors;
    } else {
      EXPECT_EQ(codec, Codec::kLz4) << "zstd accepted a corrupted frame";
    }
  }
  EXPECT_GT(errors, codec == Codec::kZstd ? kTrials - 5 : kTrials / 10);
  // Garbage that was never a frame.
  const std::string junk = Bytes(Uniform(64, 9, -1e6f, 1e6f));
  std::vector<char> out(4096);
  EXPECT_FALSE(Decompress(codec, junk, out.data(), out.size(), "t").ok());
}

// 16 MiB of zeros compress to a few KiB; a receiver expecting 1 KiB must refuse without writing
// (or allocating) more than 1 KiB.
TEST_P(CodecTest, DecompressionBombIsRefused) {
  const Codec codec = GetParam();
  const std::string zeros(size_t{16} << 20, '\0');
  std::string frame;
  ASSERT_TRUE(Compress(codec, zeros.data(), zeros.size(), &frame).ok());
  ASSERT_LT(frame.size(), size_t{1} << 20);
  std::vector<char> out(1024);
  Status s = Decompress(codec, frame, out.data(), out.size(), "bomb");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("bomb"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecTest, ::testing::Values(Codec::kLz4, Codec::kZstd),
                         [](const auto& info) { return std::string(CodecName(info.param)); });

TEST(CompressNamesTest, ParsesKnownNamesAndRejectsOthers) {
  EXPECT_EQ(*ParseCodec(""), Codec::kNone);
  EXPECT_EQ(*ParseCodec("lz4"), Codec::kLz4);
  EXPECT_EQ(*ParseCodec("zstd"), Codec::kZstd);
  EXPECT_EQ(ParseCodec("gzip").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseQuantization("fp16"), Quantization::kFp16);
  EXPECT_EQ(*ParseQuantization("int8"), Quantization::kInt8);
  EXPECT_EQ(ParseQuantization("int4").status().code(), StatusCode::kInvalidArgument);
}

// fp16 bounds (round to nearest even): relative 2^-11 in the normal range, absolute 2^-25 below
// it; overflow to inf; NaN preserved.
TEST(QuantizeTest, Fp16MeetsItsErrorBounds) {
  std::vector<float> v = Uniform(20000, 10, -1000, 1000);
  const std::vector<float> small = Uniform(2000, 11, -1e-4f, 1e-4f);
  v.insert(v.end(), small.begin(), small.end());
  v.push_back(70000.0f);
  v.push_back(-std::numeric_limits<float>::infinity());
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  v.push_back(0.0f);
  std::vector<uint16_t> h(v.size());
  std::vector<float> back(v.size());
  QuantizeFp16(v.data(), v.size(), h.data());
  DequantizeFp16(h.data(), h.size(), back.data());
  for (size_t i = 0; i < v.size(); ++i) {
    const float x = v[i], y = back[i];
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(y));
    } else if (std::fabs(x) > 65504.0f) {
      EXPECT_TRUE(std::isinf(y) && std::signbit(x) == std::signbit(y)) << x;
    } else if (std::fabs(x) >= 6.103515625e-5f) {
      EXPECT_LE(std::fabs(y - x), std::ldexp(std::fabs(x), -11)) << x;
    } else {
      EXPECT_LE(std::fabs(y - x), std::ldexp(1.0f, -25)) << x;
    }
  }
}

// int8 bound: |x - x'| <= scale = (hi - lo) / 255 (scale / 2 away from the range ends).
TEST(QuantizeTest, Int8MeetsItsErrorBoundAndKeepsZeros) {
  for (const auto& [lo, hi] : std::vector<std::pair<float, float>>{{-3, 5}, {0, 7}, {-2, -1}}) {
    std::vector<float> v = Uniform(20000, 12, lo, hi);
    v.push_back(0.0f);
    const Int8Params p = ChooseInt8Params(v.data(), v.size());
    ASSERT_TRUE(ValidateInt8Params(p, "t").ok());
    const float range = std::max(hi, 0.0f) - std::min(lo, 0.0f);
    EXPECT_NEAR(p.scale, range / 255.0f, range * 1e-3f);
    std::vector<int8_t> q(v.size());
    std::vector<float> back(v.size());
    QuantizeInt8(v.data(), v.size(), p, q.data());
    DequantizeInt8(q.data(), q.size(), p, back.data());
    for (size_t i = 0; i < v.size(); ++i) {
      // 1e-6 relative slack for float rounding of scale and of the products.
      EXPECT_LE(std::fabs(back[i] - v[i]), p.scale * (1 + 1e-5f) + range * 1e-6f) << v[i];
    }
    EXPECT_EQ(back.back(), 0.0f) << "zero must be exact";
  }
  // ReLU data uses the whole grid from zero up: zero_point is -128.
  std::vector<float> relu = ReluLike(1000, 13);
  EXPECT_EQ(ChooseInt8Params(relu.data(), relu.size()).zero_point, -128);
  // All zeros and empty: scale 1, exact.
  std::vector<float> zeros(16, 0.0f);
  Int8Params z = ChooseInt8Params(zeros.data(), zeros.size());
  EXPECT_EQ(z.scale, 1.0f);
  EXPECT_EQ(z.zero_point, 0);
  EXPECT_EQ(ChooseInt8Params(nullptr, 0).scale, 1.0f);
  // Non-finite values: NaN -> 0, inf saturates to the range of the finite values.
  std::vector<float> odd = {1.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity()};
  Int8Params po = ChooseInt8Params(odd.data(), odd.size());
  std::vector<int8_t> qo(odd.size());
  std::vector<float> bo(odd.size());
  QuantizeInt8(odd.data(), odd.size(), po, qo.data());
  DequantizeInt8(qo.data(), qo.size(), po, bo.data());
  EXPECT_NEAR(bo[2], 0.0f, po.scale);
  EXPECT_NEAR(bo[3], 1.0f, po.scale);
  EXPECT_FALSE(ValidateInt8Params({0.0f, 0}, "t").ok());
  EXPECT_FALSE(ValidateInt8Params({std::numeric_limits<float>::infinity(), 0}, "t").ok());
  EXPECT_FALSE(ValidateInt8Params({1.0f, 128}, "t").ok());
}

Tensor FloatTensor(const std::vector<float>& v, Shape shape) {
  return Tensor::FromVector(v, shape);
}

// Encode then decode as the client and server do.
Result<Tensor> RoundTrip(const Tensor& t, Codec codec, Quantization q, TransferEncoding* used,
                         std::string* wire) {
  EI_ASSIGN_OR_RETURN(*used, EncodeTransferTensor(t, codec, q, wire));
  const char* datatype = t.dtype() == DType::kFloat32 ? "FP32" : "INT64";
  if (!used->any()) return DecodeRawTensor("t", datatype, t.shape(), *wire, nullptr, 1 << 30);
  return DecodeTransferTensor("t", datatype, t.shape(), *wire, *used, 1 << 30);
}

TEST(TransferCodecTest, LosslessRoundTripsAndSkipsIncompressibleTensors) {
  const Tensor relu = FloatTensor(ReluLike(4 * 16 * 16 * 8, 14), {4, 16, 16, 8});
  for (Codec codec : {Codec::kLz4, Codec::kZstd}) {
    TransferEncoding used;
    std::string wire;
    Result<Tensor> back = RoundTrip(relu, codec, Quantization::kNone, &used, &wire);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(used.codec, codec);
    EXPECT_EQ(used.raw_bytes, static_cast<int64_t>(relu.nbytes()));
    EXPECT_LT(wire.size(), relu.nbytes());
    EXPECT_EQ(std::memcmp(back->raw_data(), relu.raw_data(), relu.nbytes()), 0);
  }
  // Uniform random floats do not shrink by 3%: sent raw, no parameters.
  const Tensor random = FloatTensor(Uniform(4096, 15, -1, 1), {4096});
  TransferEncoding used;
  std::string wire;
  ASSERT_TRUE(RoundTrip(random, Codec::kLz4, Quantization::kNone, &used, &wire).ok());
  EXPECT_FALSE(used.encoded());
  EXPECT_EQ(wire.size(), random.nbytes());
  // Empty tensors round trip too.
  const Tensor empty = Tensor::Empty(DType::kFloat32, {0, 3});
  for (Quantization q : {Quantization::kNone, Quantization::kFp16, Quantization::kInt8}) {
    Result<Tensor> back = RoundTrip(empty, Codec::kZstd, q, &used, &wire);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->shape(), empty.shape());
  }
}

TEST(TransferCodecTest, QuantisedRoundTripsStayWithinTheirBounds) {
  const std::vector<float> v = ReluLike(8192, 16);
  const Tensor t = FloatTensor(v, {8192});
  const float hi = *std::max_element(v.begin(), v.end());
  for (Codec codec : {Codec::kNone, Codec::kLz4}) {
    TransferEncoding used;
    std::string wire;
    Result<Tensor> fp16 = RoundTrip(t, codec, Quantization::kFp16, &used, &wire);
    ASSERT_TRUE(fp16.ok()) << fp16.status().ToString();
    EXPECT_EQ(used.quantization, Quantization::kFp16);
    EXPECT_LE(wire.size(), t.nbytes() / 2);
    Result<Tensor> int8 = RoundTrip(t, codec, Quantization::kInt8, &used, &wire);
    ASSERT_TRUE(int8.ok()) << int8.status().ToString();
    EXPECT_LE(wire.size(), t.nbytes() / 4);
    for (size_t i = 0; i < v.size(); ++i) {
      EXPECT_LE(std::fabs(fp16->data<float>()[i] - v[i]), std::ldexp(v[i], -11) + 1e-7f);
      EXPECT_LE(std::fabs(int8->data<float>()[i] - v[i]), hi / 255.0f * 1.0001f);
    }
  }
  // Quantisation applies to float32 only: an INT64 tensor travels exactly.
  const Tensor ids = Tensor::FromVector(std::vector<int64_t>{1, 2, 3, 1 << 30}, {4});
  TransferEncoding used;
  std::string wire;
  Result<Tensor> back = RoundTrip(ids, Codec::kNone, Quantization::kInt8, &used, &wire);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(used.encoded());
  EXPECT_EQ(back->data<int64_t>()[3], int64_t{1} << 30);
}

TEST(TransferCodecTest, BadParametersAreInvalidArgumentsNamingTheTensor) {
  const Tensor relu = FloatTensor(ReluLike(1024, 17), {1024});
  std::string wire;
  Result<TransferEncoding> enc =
      EncodeTransferTensor(relu, Codec::kLz4, Quantization::kNone, &wire);
  ASSERT_TRUE(enc.ok() && enc->codec == Codec::kLz4);
  auto expect_invalid = [&](TransferEncoding e, const std::string& datatype, Shape shape,
                            const std::string& bytes, const char* what) {
    Result<Tensor> r = DecodeTransferTensor("cut0", datatype, shape, bytes, e, 1 << 20);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << what;
    EXPECT_NE(r.status().message().find("cut0"), std::string::npos) << r.status().message();
  };
  TransferEncoding e = *enc;
  e.raw_bytes = 4096 + 4;
  expect_invalid(e, "FP32", {1024}, wire, "raw_bytes disagrees with the shape");
  e.raw_bytes = -1;
  expect_invalid(e, "FP32", {1024}, wire, "raw_bytes missing");
  expect_invalid(*enc, "FP32", {1025}, wire, "shape disagrees with raw_bytes");
  expect_invalid(*enc, "FP32", {1024}, wire.substr(0, wire.size() / 2), "truncated payload");
  e = *enc;
  e.quantization = Quantization::kFp16;
  expect_invalid(e, "INT32", {1024}, wire, "quantised non-float");
  e = *enc;
  e.quantization = Quantization::kInt8;
  e.raw_bytes = 4096;
  expect_invalid(e, "FP32", {1024}, wire, "int8 without scale");
  e.scale = 0.5;
  e.zero_point = 300;
  expect_invalid(e, "FP32", {1024}, wire, "zero point out of range");
  e.zero_point = 0;
  e.scale = -1.0;
  expect_invalid(e, "FP32", {1024}, wire, "negative scale");
  e = *enc;
  e.scale = 1.0;
  expect_invalid(e, "FP32", {1024}, wire, "scale without int8");
  // Over the limit: refused before any allocation.
  e = *enc;
  e.raw_bytes = int64_t{4} << 40;
  Result<Tensor> huge = DecodeTransferTensor("cut0", "FP32", {int64_t{1} << 40}, wire, e, 1 << 20);
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted);
}

TEST(TransferCodecTest, ParametersRoundTripThroughTheProtobufMap) {
  inference::ModelInferRequest::InferInputTensor tensor;
  TransferEncoding e;
  e.codec = Codec::kZstd;
  e.quantization = Quantization::kInt8;
  e.raw_bytes = 4096;
  e.scale = 0.25;
  e.zero_point = -128;
  WriteTransferParameters(e, tensor.mutable_parameters());
  Result<TransferEncoding> back = ReadTransferParameters("x", tensor.parameters());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->codec, Codec::kZstd);
  EXPECT_EQ(back->quantization, Quantization::kInt8);
  EXPECT_EQ(back->raw_bytes, 4096);
  EXPECT_EQ(*back->scale, 0.25);
  EXPECT_EQ(*back->zero_point, -128);
  // Unrelated parameters are ignored; a plain tensor has no encoding.
  inference::ModelInferRequest::InferInputTensor plain;
  (*plain.mutable_parameters())["binary_data_size"].set_int64_param(4);
  EXPECT_FALSE(ReadTransferParameters("x", plain.parameters())->any());
  // Unknown values and wrong types are errors naming the tensor.
  (*tensor.mutable_parameters())[kCompressionParam].set_string_param("brotli");
  Result<TransferEncoding> bad = ReadTransferParameters("x_in", tensor.parameters());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("x_in"), std::string::npos);
  (*tensor.mutable_parameters())[kCompressionParam].set_string_param("lz4");
  (*tensor.mutable_parameters())[kRawBytesParam].set_string_param("4096");
  EXPECT_FALSE(ReadTransferParameters("x", tensor.parameters()).ok());
}

}  // namespace
}  // namespace edgeinfer::net

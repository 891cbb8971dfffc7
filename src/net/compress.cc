#include "net/compress.h"

#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "core/half.h"

namespace edgeinfer::net {

namespace {

// One zstd context of each kind per thread: creating one costs an allocation of a few hundred
// KiB, which would dominate small tensors.
struct ZstdContexts {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx{ZSTD_createCCtx(), ZSTD_freeCCtx};
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx{ZSTD_createDCtx(), ZSTD_freeDCtx};
};

ZstdContexts& ThreadZstd() {
  thread_local ZstdContexts contexts;
  return contexts;
}

Status Corrupt(Codec codec, const std::string& tensor, const std::string& why) {
  return Status::InvalidArgument("tensor '" + tensor + "': " + CodecName(codec) +
                                 " payload is invalid: " + why);
}

}  // namespace

Result<Codec> ParseCodec(const std::string& name) {
  if (name.empty()) return Codec::kNone;
  if (name == "lz4") return Codec::kLz4;
  if (name == "zstd") return Codec::kZstd;
  return Status::InvalidArgument("unknown compression '" + name + "' (expected lz4 or zstd)");
}

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kLz4:
      return "lz4";
    case Codec::kZstd:
      return "zstd";
    default:
      return "";
  }
}

Status Compress(Codec codec, const void* data, size_t size, std::string* out, int level) {
  const size_t base = out->size();
  switch (codec) {
    case Codec::kNone:
      out->append(static_cast<const char*>(data), size);
      return Status::Ok();
    case Codec::kLz4: {
      if (size > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
        return Status::InvalidArgument("lz4 cannot compress " + std::to_string(size) +
                                       " bytes (limit " + std::to_string(LZ4_MAX_INPUT_SIZE) + ")");
      }
      const int bound = LZ4_compressBound(static_cast<int>(size));
      out->resize(base + static_cast<size_t>(bound));
      const int n = LZ4_compress_fast(static_cast<const char*>(data), out->data() + base,
                                      static_cast<int>(size), bound, std::max(level, 1));
      if (n <= 0) {
        out->resize(base);
        return Status::Internal("lz4 compression of " + std::to_string(size) + " bytes failed");
      }
      out->resize(base + static_cast<size_t>(n));
      return Status::Ok();
    }
    case Codec::kZstd: {
      ZSTD_CCtx* cctx = ThreadZstd().cctx.get();
      if (cctx == nullptr) return Status::ResourceExhausted("cannot create a zstd context");
      // The frame records its content size (checked before decoding) and a checksum (4 bytes),
      // so a corrupted payload is an error rather than wrong numbers.
      ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level <= 0 ? 1 : level);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
      const size_t bound = ZSTD_compressBound(size);
      out->resize(base + bound);
      const size_t n = ZSTD_compress2(cctx, out->data() + base, bound, data, size);
      if (ZSTD_isError(n)) {
        out->resize(base);
        return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
      }
      out->resize(base + n);
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("unknown codec");
}

Status Decompress(Codec codec, std::string_view frame, void* out, size_t expected_size,
                  const std::string& tensor) {
  // Codecs reject a null destination even for zero bytes.
  char empty = 0;
  if (expected_size == 0) out = &empty;
  switch (codec) {
    case Codec::kNone:
      if (frame.size() != expected_size) {
        return Status::InvalidArgument("tensor '" + tensor + "' needs " +
                                       std::to_string(expected_size) + " bytes, got " +
                                       std::to_string(frame.size()));
      }
      if (expected_size) std::memcpy(out, frame.data(), expected_size);
      return Status::Ok();
    case Codec::kLz4: {
      if (frame.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
          expected_size > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
        return Corrupt(codec, tensor, "over the lz4 size limit");
      }
      // The safe decoder never writes past the capacity and never reads past the frame; it
      // fails when the frame does not end exactly at the end of a sequence.
      const int n =
          LZ4_decompress_safe(frame.data(), static_cast<char*>(out), static_cast<int>(frame.size()),
                              static_cast<int>(expected_size));
      if (n < 0) {
        return Corrupt(codec, tensor,
                       "corrupt, truncated or larger than the expected " +
                           std::to_string(expected_size) + " bytes");
      }
      if (static_cast<size_t>(n) != expected_size) {
        return Corrupt(codec, tensor,
                       "decodes to " + std::to_string(n) + " bytes, expected " +
                           std::to_string(expected_size));
      }
      return Status::Ok();
    }
    case Codec::kZstd: {
      // A frame that states its content size must state the expected one; a frame without it
      // is still bounded by the capacity below.
      const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
      if (declared == ZSTD_CONTENTSIZE_ERROR) return Corrupt(codec, tensor, "bad frame header");
      if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected_size) {
        return Corrupt(codec, tensor,
                       "frame declares " + std::to_string(declared) + " bytes, expected " +
                           std::to_string(expected_size));
      }
      ZSTD_DCtx* dctx = ThreadZstd().dctx.get();
      if (dctx == nullptr) return Status::ResourceExhausted("cannot create a zstd context");
      // Decoding into a flat buffer needs no window allocation: memory stays bounded by the
      // caller's buffer whatever the frame claims.
      const size_t n = ZSTD_decompressDCtx(dctx, out, expected_size, frame.data(), frame.size());
      if (ZSTD_isError(n)) {
        return Corrupt(codec, tensor,
                       std::string(ZSTD_getErrorName(n)) + " (expected " +
                           std::to_string(expected_size) + " bytes)");
      }
      if (n != expected_size) {
        return Corrupt(codec, tensor,
                       "decodes to " + std::to_string(n) + " bytes, expected " +
                           std::to_string(expected_size));
      }
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("tensor '" + tensor + "': unknown codec");
}

Result<Quantization> ParseQuantization(const std::string& name) {
  if (name.empty()) return Quantization::kNone;
  if (name == "fp16") return Quantization::kFp16;
  if (name == "int8") return Quantization::kInt8;
  return Status::InvalidArgument("unknown quantization '" + name + "' (expected fp16 or int8)");
}

const char* QuantizationName(Quantization quantization) {
  switch (quantization) {
    case Quantization::kFp16:
      return "fp16";
    case Quantization::kInt8:
      return "int8";
    default:
      return "";
  }
}

size_t QuantizedElementSize(Quantization quantization) {
  switch (quantization) {
    case Quantization::kFp16:
      return 2;
    case Quantization::kInt8:
      return 1;
    default:
      return 4;
  }
}

void QuantizeFp16(const float* in, size_t n, uint16_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = FloatToHalf(in[i]);
}

void DequantizeFp16(const uint16_t* in, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = HalfToFloat(in[i]);
}

Int8Params ChooseInt8Params(const float* in, size_t n) {
  float lo = 0.0f, hi = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float x = in[i];
    if (!std::isfinite(x)) continue;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  Int8Params p;
  const double range = static_cast<double>(hi) - static_cast<double>(lo);
  const double scale = range / 255.0;
  // A range so small that the scale underflows float is treated as all zeros.
  if (!(scale > 0.0) || static_cast<float>(scale) <= 0.0f ||
      !std::isfinite(static_cast<float>(scale))) {
    return p;
  }
  p.scale = static_cast<float>(scale);
  const double zp = std::nearbyint(-128.0 - static_cast<double>(lo) / p.scale);
  p.zero_point = static_cast<int32_t>(std::clamp(zp, -128.0, 127.0));
  return p;
}

void QuantizeInt8(const float* in, size_t n, const Int8Params& params, int8_t* out) {
  const float inv = 1.0f / params.scale;
  const float zp = static_cast<float>(params.zero_point);
  for (size_t i = 0; i < n; ++i) {
    float q = std::nearbyint(in[i] * inv) + zp;
    if (std::isnan(q)) q = zp;
    out[i] = static_cast<int8_t>(std::clamp(q, -128.0f, 127.0f));
  }
}

void DequantizeInt8(const int8_t* in, size_t n, const Int8Params& params, float* out) {
  const float zp = static_cast<float>(params.zero_point);
  for (size_t i = 0; i < n; ++i) out[i] = (static_cast<float>(in[i]) - zp) * params.scale;
}

Status ValidateInt8Params(const Int8Params& params, const std::string& tensor) {
  if (!std::isfinite(params.scale) || !(params.scale > 0.0f)) {
    return Status::InvalidArgument("tensor '" + tensor + "': int8 scale must be finite and > 0");
  }
  if (params.zero_point < -128 || params.zero_point > 127) {
    return Status::InvalidArgument("tensor '" + tensor + "': int8 zero point " +
                                   std::to_string(params.zero_point) + " is outside [-128, 127]");
  }
  return Status::Ok();
}

}  // namespace edgeinfer::net

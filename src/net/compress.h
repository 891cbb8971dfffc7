// Tensor bytes in transit: lossless compression (lz4, zstd) and lossy quantisation of float32
// (fp16, int8). Pure functions over caller-owned buffers; thread safe (the codec contexts are
// per thread). The wire parameters that announce them are in net/transfer_codec.h.
#ifndef EDGEINFER_NET_COMPRESS_H_
#define EDGEINFER_NET_COMPRESS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "edgeinfer/status.h"

namespace edgeinfer::net {

enum class Codec { kNone, kLz4, kZstd };

// "" -> kNone, "lz4", "zstd"; anything else is InvalidArgument naming the value.
Result<Codec> ParseCodec(const std::string& name);
// "", "lz4" or "zstd".
const char* CodecName(Codec codec);

// Appends the compressed form of `size` bytes at `data` to `out`. lz4 uses the block format
// (LZ4_compress_fast; `level` is the acceleration, 1 = LZ4_compress_default; the block format
// has no checksum); zstd is one frame with content size and checksum at `level` (1..3 are the
// fast levels this project uses; 0 means 1). Errors: an input over the codec's limit (lz4:
// about 2 GiB), a codec failure. kNone copies.
Status Compress(Codec codec, const void* data, size_t size, std::string* out, int level = 0);

// Decompresses `frame` into exactly `expected_size` bytes at `out`, which the caller allocated
// from a size it validated. Nothing beyond `expected_size` is ever written or allocated, so a
// decompression bomb costs no memory. A corrupt or truncated frame, or one that decodes to any
// other size, is InvalidArgument naming `tensor`.
Status Decompress(Codec codec, std::string_view frame, void* out, size_t expected_size,
                  const std::string& tensor);

enum class Quantization { kNone, kFp16, kInt8 };

// "" -> kNone, "fp16", "int8"; anything else is InvalidArgument naming the value.
Result<Quantization> ParseQuantization(const std::string& name);
// "", "fp16" or "int8".
const char* QuantizationName(Quantization quantization);
// Bytes per element on the wire: 2 (fp16), 1 (int8), 4 (none: float32 as is).
size_t QuantizedElementSize(Quantization quantization);

// fp16: IEEE binary16, round to nearest even. For |x| in the normal half range [6.1e-5, 65504]
// the relative error is at most 2^-11 (4.9e-4); below it the absolute error is at most 2^-25
// (half the smallest subnormal); |x| above 65504 becomes +-inf. NaN stays NaN.
void QuantizeFp16(const float* in, size_t n, uint16_t* out);
void DequantizeFp16(const uint16_t* in, size_t n, float* out);

// int8: per-tensor asymmetric affine quantisation, x ~= (q - zero_point) * scale.
// The range [min(x, 0), max(x, 0)] over the finite values maps onto [-128, 127]:
// scale = (hi - lo) / 255, zero_point = round(-128 - lo / scale). Including 0 in the range makes
// 0 exactly representable, so ReLU zeros stay zeros (and stay compressible). For finite x the
// error is at most scale / 2 inside the range and at most scale = (hi - lo) / 255 at its ends
// (rounding zero_point to an integer shifts the grid by up to half a step, so one end may
// clip). NaN becomes 0 and +-inf saturate to the range.
// An all-zero (or empty) tensor gets scale 1, zero_point 0.
struct Int8Params {
  float scale = 1.0f;      // finite and > 0
  int32_t zero_point = 0;  // in [-128, 127]
};
Int8Params ChooseInt8Params(const float* in, size_t n);
void QuantizeInt8(const float* in, size_t n, const Int8Params& params, int8_t* out);
void DequantizeInt8(const int8_t* in, size_t n, const Int8Params& params, float* out);
// InvalidArgument naming `tensor` unless scale is finite and > 0 and zero_point in [-128, 127].
Status ValidateInt8Params(const Int8Params& params, const std::string& tensor);

}  // namespace edgeinfer::net

#endif  // EDGEINFER_NET_COMPRESS_H_

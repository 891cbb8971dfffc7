// The wire form of compressed / quantised input tensors (docs/protocol.md, "Transfer compression
// and quantisation"): per-tensor KServe parameters announce how the raw bytes were encoded; the
// datatype and shape stay the logical ones.
//
// Parameters of an InferInputTensor:
//   edgeinfer_compression  string  "lz4" | "zstd"        (absent: bytes are not compressed)
//   edgeinfer_quantization string  "fp16" | "int8"       (absent: FP32 values as is; FP32 only)
//   edgeinfer_raw_bytes    int64   logical size: shape x datatype size (required with either)
//   edgeinfer_scale        double  int8 only, > 0
//   edgeinfer_zero_point   int64   int8 only, in [-128, 127]
// Quantisation is applied before compression, so the decompressed bytes are numel x 2 (fp16),
// numel x 1 (int8) or raw_bytes (none). Thread safe: pure functions.
#ifndef EDGEINFER_NET_TRANSFER_CODEC_H_
#define EDGEINFER_NET_TRANSFER_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "inference.pb.h"
#include "net/compress.h"
#include "net/protocol.h"

namespace edgeinfer::net {

// Compression that saves less than this fraction is not worth the receiver's decoding time: the
// tensor is sent uncompressed instead.
inline constexpr double kMaxUsefulRatio = 0.97;

// How one tensor's bytes are encoded; all defaults mean "raw".
struct TransferEncoding {
  Codec codec = Codec::kNone;
  Quantization quantization = Quantization::kNone;
  int64_t raw_bytes = -1;  // -1: not given
  std::optional<double> scale;
  std::optional<int64_t> zero_point;

  bool encoded() const { return codec != Codec::kNone || quantization != Quantization::kNone; }
  // Whether any transfer parameter was given: such a tensor goes through DecodeTransferTensor.
  bool any() const { return encoded() || raw_bytes >= 0 || scale || zero_point; }
};

// One parameter value as a front end received it (gRPC InferParameter or JSON).
struct TransferParamValue {
  std::optional<std::string> text;
  std::optional<int64_t> integer;
  std::optional<double> number;  // set for integers too
};

// Folds parameter `key` of tensor `tensor` into `encoding`. Keys that are not edgeinfer transfer
// parameters are ignored. A value of the wrong type, an unknown codec or quantisation is
// InvalidArgument naming the tensor and the parameter.
Status ReadTransferParameter(const std::string& tensor, const std::string& key,
                             const TransferParamValue& value, TransferEncoding* encoding);
// The same over the parameters of a gRPC input tensor.
Result<TransferEncoding> ReadTransferParameters(
    const std::string& tensor,
    const google::protobuf::Map<std::string, inference::InferParameter>& params);

// Decodes `bytes` of tensor `name` sent with `encoding` into a new tensor of the logical
// `datatype` and `shape`. Before allocating anything it checks that raw_bytes equals shape x
// datatype size and does not exceed `max_bytes`, that quantisation is only on FP32 and its
// parameters are valid. Every failure is InvalidArgument (ResourceExhausted over max_bytes)
// naming the tensor; a corrupt payload never crashes or over-allocates.
Result<Tensor> DecodeTransferTensor(const std::string& name, const std::string& datatype,
                                    const Shape& shape, std::string_view bytes,
                                    const TransferEncoding& encoding, size_t max_bytes);

// Encodes `tensor` for transfer into `wire` (replacing its contents) and returns the encoding
// used. Quantisation applies to float32 tensors only (others ignore it); compression is dropped
// when it saves less than kMaxUsefulRatio. `encoding.encoded()` is false when the bytes are the
// raw ones. Errors: a codec failure.
Result<TransferEncoding> EncodeTransferTensor(const Tensor& tensor, Codec codec,
                                              Quantization quantization, std::string* wire);

// Sets the parameters of `encoding` on a gRPC input tensor (nothing when not encoded).
void WriteTransferParameters(const TransferEncoding& encoding,
                             google::protobuf::Map<std::string, inference::InferParameter>* params);

}  // namespace edgeinfer::net

#endif  // EDGEINFER_NET_TRANSFER_CODEC_H_

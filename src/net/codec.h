// Tensors on the wire: KServe v2 datatype names and raw little-endian bytes.
//
// Used by both the edge server and the device client. Decoding adopts the bytes of a message
// without copying when the caller keeps the message alive (see DecodeRawTensor).
#ifndef EDGEINFER_NET_CODEC_H_
#define EDGEINFER_NET_CODEC_H_

#include <memory>
#include <string>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"

namespace edgeinfer::net {

// "FP32", "INT64", "BOOL", ...; nullptr for dtypes the protocol cannot carry.
const char* KserveDatatype(DType dtype);
// The DType of a KServe datatype name; kUndefined when unknown (including "BYTES").
DType DTypeFromKserve(const std::string& datatype);

// Validates that `bytes` holds exactly the data of a `datatype` tensor of `shape` and returns a
// Tensor over it. `owner` keeps the bytes alive (the Tensor adopts them without copying when
// they are suitably aligned for the dtype; otherwise they are copied). Errors name `name` and
// say what is wrong: unknown datatype, negative dim, byte count mismatch, size over
// `max_bytes`.
Result<Tensor> DecodeRawTensor(const std::string& name, const std::string& datatype,
                               const Shape& shape, const std::string& bytes,
                               std::shared_ptr<const void> owner, size_t max_bytes);

// Appends the raw bytes of `tensor` to `out` (one copy: the protobuf field owns its bytes).
void EncodeRawTensor(const Tensor& tensor, std::string* out);

}  // namespace edgeinfer::net

#endif  // EDGEINFER_NET_CODEC_H_

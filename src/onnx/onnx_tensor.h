// TensorProto <-> Tensor conversion, shared by the importer and the exporter.
//
// Internal to src/onnx: it exposes onnx types, so only files in this folder include it.
#ifndef EDGEINFER_ONNX_ONNX_TENSOR_H_
#define EDGEINFER_ONNX_ONNX_TENSOR_H_

#include <string>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
// onnx_pb.h defines ONNX_API, which onnx-ml.pb.h needs, and then includes it.
#include "onnx/onnx_pb.h"

namespace edgeinfer {

// Maps an ONNX TensorProto.DataType to a DType storable in a Tensor. Errors (Unimplemented)
// name `what` and the type for strings, complex, bfloat16 and unknown codes.
Result<DType> DTypeFromOnnx(int32_t elem_type, const std::string& what);

// Where a tensor's bytes may come from, and how many may be read.
struct TensorSource {
  std::string base_dir;     // external-data locations are relative to this directory
  size_t max_tensor_bytes;  // upper bound on any one tensor
};

// Decodes `proto` (raw_data, typed fields or external data). Errors name the tensor (and the
// file for external data): a bad dtype, a negative or overflowing dim, a byte or element count
// that disagrees with the dims, a location outside base_dir, a missing file or a short read.
Result<Tensor> TensorFromOnnx(const onnx::TensorProto& proto, const TensorSource& source);
// As TensorFromOnnx, but moves raw_data out of `proto` (left without it) instead of copying.
Result<Tensor> TensorFromOnnxConsuming(onnx::TensorProto* proto, const TensorSource& source);

// Encodes `tensor` as `name` with its bytes in raw_data (little-endian, as ONNX requires).
void TensorToOnnx(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto);

}  // namespace edgeinfer

#endif  // EDGEINFER_ONNX_ONNX_TENSOR_H_

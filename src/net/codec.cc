#include "net/codec.h"

#include <cstring>

namespace edgeinfer::net {

namespace {

struct Pair {
  DType dtype;
  const char* name;
};

const Pair kPairs[] = {
    {DType::kBool, "BOOL"},     {DType::kUInt8, "UINT8"},   {DType::kUInt16, "UINT16"},
    {DType::kUInt32, "UINT32"}, {DType::kUInt64, "UINT64"}, {DType::kInt8, "INT8"},
    {DType::kInt16, "INT16"},   {DType::kInt32, "INT32"},   {DType::kInt64, "INT64"},
    {DType::kFloat16, "FP16"},  {DType::kFloat32, "FP32"},  {DType::kFloat64, "FP64"},
};

}  // namespace

const char* KserveDatatype(DType dtype) {
  for (const Pair& p : kPairs) {
    if (p.dtype == dtype) return p.name;
  }
  return nullptr;
}

DType DTypeFromKserve(const std::string& datatype) {
  for (const Pair& p : kPairs) {
    if (datatype == p.name) return p.dtype;
  }
  return DType::kUndefined;
}

Result<Tensor> DecodeRawTensor(const std::string& name, const std::string& datatype,
                               const Shape& shape, const std::string& bytes,
                               std::shared_ptr<const void> owner, size_t max_bytes) {
  DType dtype = DTypeFromKserve(datatype);
  if (dtype == DType::kUndefined) {
    return Status::InvalidArgument("tensor '" + name + "' has unsupported datatype '" + datatype +
                                   "'");
  }
  size_t expected = DTypeSize(dtype);
  for (int64_t d : shape) {
    if (d < 0) {
      return Status::InvalidArgument("tensor '" + name + "' has a negative dimension in shape " +
                                     ShapeToString(shape));
    }
    if (d != 0 && expected > max_bytes / static_cast<size_t>(d)) {
      return Status::ResourceExhausted("tensor '" + name + "' of shape " + ShapeToString(shape) +
                                       " exceeds the limit of " + std::to_string(max_bytes) +
                                       " bytes");
    }
    expected *= static_cast<size_t>(d);
  }
  if (bytes.size() != expected) {
    return Status::InvalidArgument("tensor '" + name + "' (" + datatype + ShapeToString(shape) +
                                   ") needs " + std::to_string(expected) + " bytes, got " +
                                   std::to_string(bytes.size()));
  }
  const auto address = reinterpret_cast<uintptr_t>(bytes.data());
  if (owner && address % DTypeSize(dtype) == 0) {
    // The const_cast is safe: tensors made here are only read (they are model inputs).
    return Tensor::Wrap(const_cast<char*>(bytes.data()), dtype, shape,
                        std::const_pointer_cast<void>(owner));
  }
  Tensor t = Tensor::Empty(dtype, shape);
  if (expected) std::memcpy(t.raw_data(), bytes.data(), expected);
  return t;
}

void EncodeRawTensor(const Tensor& tensor, std::string* out) {
  out->append(static_cast<const char*>(tensor.raw_data()), tensor.nbytes());
}

}  // namespace edgeinfer::net

#include "server/typed_contents.h"

#include "net/codec.h"

namespace edgeinfer::server {

namespace {

template <typename T, typename Field>
Result<Tensor> Fill(const std::string& name, DType dtype, const Shape& shape, const Field& field,
                    size_t max_bytes) {
  EI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape, max_bytes));
  if (static_cast<int64_t>(field.size()) != t.numel()) {
    return Status::InvalidArgument("tensor '" + name + "' of shape " + ShapeToString(shape) +
                                   " needs " + std::to_string(t.numel()) + " values, got " +
                                   std::to_string(field.size()));
  }
  T* dst = t.data<T>();
  for (int i = 0; i < field.size(); ++i) dst[i] = static_cast<T>(field.Get(i));
  return t;
}

}  // namespace

Result<Tensor> DecodeTypedTensor(const std::string& name, const std::string& datatype,
                                 const Shape& shape, const inference::InferTensorContents& c,
                                 size_t max_bytes) {
  for (int64_t d : shape) {
    if (d < 0) {
      return Status::InvalidArgument("tensor '" + name + "' has a negative dimension in shape " +
                                     ShapeToString(shape));
    }
  }
  const DType dtype = net::DTypeFromKserve(datatype);
  Result<Tensor> t = Status::InvalidArgument("tensor '" + name + "': datatype '" + datatype +
                                             "' cannot be sent as typed contents");
  switch (dtype) {
    case DType::kFloat32:
      t = Fill<float>(name, dtype, shape, c.fp32_contents(), max_bytes);
      break;
    case DType::kFloat64:
      t = Fill<double>(name, dtype, shape, c.fp64_contents(), max_bytes);
      break;
    case DType::kInt64:
      t = Fill<int64_t>(name, dtype, shape, c.int64_contents(), max_bytes);
      break;
    case DType::kInt32:
      t = Fill<int32_t>(name, dtype, shape, c.int_contents(), max_bytes);
      break;
    case DType::kInt16:
      t = Fill<int16_t>(name, dtype, shape, c.int_contents(), max_bytes);
      break;
    case DType::kInt8:
      t = Fill<int8_t>(name, dtype, shape, c.int_contents(), max_bytes);
      break;
    case DType::kUInt64:
      t = Fill<uint64_t>(name, dtype, shape, c.uint64_contents(), max_bytes);
      break;
    case DType::kUInt32:
      t = Fill<uint32_t>(name, dtype, shape, c.uint_contents(), max_bytes);
      break;
    case DType::kUInt16:
      t = Fill<uint16_t>(name, dtype, shape, c.uint_contents(), max_bytes);
      break;
    case DType::kUInt8:
      t = Fill<uint8_t>(name, dtype, shape, c.uint_contents(), max_bytes);
      break;
    case DType::kBool:
      t = Fill<bool>(name, dtype, shape, c.bool_contents(), max_bytes);
      break;
    default:
      break;
  }
  if (!t.ok() && t.status().code() != StatusCode::kInvalidArgument) {
    return Status::ResourceExhausted("tensor '" + name + "': " + t.status().message());
  }
  return t;
}

}  // namespace edgeinfer::server

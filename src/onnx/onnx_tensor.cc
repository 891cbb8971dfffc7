#include "onnx/onnx_tensor.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>

namespace edgeinfer {
namespace {

// ONNX stores raw_data little-endian; we copy bytes straight into host tensors.
static_assert(std::endian::native == std::endian::little, "big-endian hosts are not supported");

std::string Quoted(const std::string& name) { return "tensor '" + name + "'"; }

Result<uint64_t> ParseUnsigned(const std::string& text, const std::string& what) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return Status::InvalidArgument(what + " '" + text + "' is not a non-negative integer");
  }
  return v;
}

// Rejects locations that could read outside base_dir: absolute paths and any '..' component.
Status CheckRelativeLocation(const std::string& location, const std::string& tensor) {
  if (location.empty()) {
    return Status::InvalidArgument(Quoted(tensor) + " has external data without a location");
  }
  if (location.find('\0') != std::string::npos) {
    return Status::InvalidArgument(Quoted(tensor) + " has an external data location with a NUL");
  }
  std::filesystem::path p(location);
  if (p.is_absolute() || p.has_root_name() || p.has_root_directory()) {
    return Status::InvalidArgument(Quoted(tensor) + ": external data location '" + location +
                                   "' must be relative to the model's directory");
  }
  for (const auto& part : p) {
    if (part == "..") {
      return Status::InvalidArgument(Quoted(tensor) + ": external data location '" + location +
                                     "' escapes the model's directory");
    }
  }
  return Status::Ok();
}

Status ReadExternal(const onnx::TensorProto& proto, const TensorSource& source, size_t nbytes,
                    void* dst) {
  const std::string& name = proto.name();
  std::string location;
  uint64_t offset = 0;
  bool has_length = false;
  uint64_t length = 0;
  for (const auto& entry : proto.external_data()) {
    if (entry.key() == "location") {
      location = entry.value();
    } else if (entry.key() == "offset") {
      EI_ASSIGN_OR_RETURN(offset, ParseUnsigned(entry.value(), Quoted(name) + " external offset"));
    } else if (entry.key() == "length") {
      EI_ASSIGN_OR_RETURN(length, ParseUnsigned(entry.value(), Quoted(name) + " external length"));
      has_length = true;
    }
  }
  EI_RETURN_IF_ERROR(CheckRelativeLocation(location, name));
  if (has_length && length != nbytes) {
    return Status::InvalidArgument(Quoted(name) + ": external length " + std::to_string(length) +
                                   " in '" + location + "' disagrees with its dims (" +
                                   std::to_string(nbytes) + " bytes)");
  }
  const std::filesystem::path path = std::filesystem::path(source.base_dir) / location;
  std::error_code ec;
  const uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (ec) {
    return Status::NotFound(Quoted(name) + ": external data file '" + path.string() +
                            "' cannot be read: " + ec.message());
  }
  if (offset > file_size || file_size - offset < nbytes) {
    return Status::DataLoss(Quoted(name) + ": external data file '" + path.string() + "' has " +
                            std::to_string(file_size) + " bytes, needs " + std::to_string(nbytes) +
                            " at offset " + std::to_string(offset));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound(Quoted(name) + ": cannot open external data file '" + path.string() +
                            "'");
  }
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(nbytes));
  if (!in || static_cast<size_t>(in.gcount()) != nbytes) {
    return Status::DataLoss(Quoted(name) + ": short read from external data file '" +
                            path.string() + "'");
  }
  return Status::Ok();
}

Status CountMismatch(const std::string& name, const char* field, int64_t got, int64_t want,
                     const Shape& dims) {
  return Status::InvalidArgument(Quoted(name) + " has " + std::to_string(got) + " values in " +
                                 field + ", its dims " + ShapeToString(dims) + " need " +
                                 std::to_string(want));
}

// Copies a repeated typed field into `dst`, converting each element to T.
template <typename T, typename Field>
Status CopyTyped(const Field& field, const char* field_name, const onnx::TensorProto& proto,
                 const Shape& dims, int64_t numel, Tensor* dst) {
  if (field.size() != numel) {
    return CountMismatch(proto.name(), field_name, field.size(), numel, dims);
  }
  T* out = dst->data<T>();
  for (int64_t i = 0; i < numel; ++i) out[i] = static_cast<T>(field.Get(static_cast<int>(i)));
  return Status::Ok();
}

Status DecodeTyped(const onnx::TensorProto& proto, const Shape& dims, int64_t numel, Tensor* dst) {
  switch (dst->dtype()) {
    case DType::kFloat32:
      return CopyTyped<float>(proto.float_data(), "float_data", proto, dims, numel, dst);
    case DType::kFloat64:
      return CopyTyped<double>(proto.double_data(), "double_data", proto, dims, numel, dst);
    case DType::kInt64:
      return CopyTyped<int64_t>(proto.int64_data(), "int64_data", proto, dims, numel, dst);
    case DType::kUInt32:
      return CopyTyped<uint32_t>(proto.uint64_data(), "uint64_data", proto, dims, numel, dst);
    case DType::kUInt64:
      return CopyTyped<uint64_t>(proto.uint64_data(), "uint64_data", proto, dims, numel, dst);
    case DType::kInt32:
      return CopyTyped<int32_t>(proto.int32_data(), "int32_data", proto, dims, numel, dst);
    case DType::kInt16:
      return CopyTyped<int16_t>(proto.int32_data(), "int32_data", proto, dims, numel, dst);
    case DType::kInt8:
      return CopyTyped<int8_t>(proto.int32_data(), "int32_data", proto, dims, numel, dst);
    case DType::kUInt16:
    case DType::kFloat16:  // int32_data carries the IEEE half bits
      return CopyTyped<uint16_t>(proto.int32_data(), "int32_data", proto, dims, numel, dst);
    case DType::kUInt8:
      return CopyTyped<uint8_t>(proto.int32_data(), "int32_data", proto, dims, numel, dst);
    case DType::kBool: {
      EI_RETURN_IF_ERROR(
          CopyTyped<uint8_t>(proto.int32_data(), "int32_data", proto, dims, numel, dst));
      uint8_t* out = dst->data<uint8_t>();
      for (int64_t i = 0; i < numel; ++i) out[i] = out[i] != 0 ? 1 : 0;
      return Status::Ok();
    }
    default:
      return Status::Internal(Quoted(proto.name()) + " has an unhandled dtype");
  }
}

}  // namespace

Result<DType> DTypeFromOnnx(int32_t elem_type, const std::string& what) {
  switch (elem_type) {
    case onnx::TensorProto::FLOAT:
      return DType::kFloat32;
    case onnx::TensorProto::UINT8:
      return DType::kUInt8;
    case onnx::TensorProto::INT8:
      return DType::kInt8;
    case onnx::TensorProto::UINT16:
      return DType::kUInt16;
    case onnx::TensorProto::INT16:
      return DType::kInt16;
    case onnx::TensorProto::INT32:
      return DType::kInt32;
    case onnx::TensorProto::INT64:
      return DType::kInt64;
    case onnx::TensorProto::BOOL:
      return DType::kBool;
    case onnx::TensorProto::FLOAT16:
      return DType::kFloat16;
    case onnx::TensorProto::DOUBLE:
      return DType::kFloat64;
    case onnx::TensorProto::UINT32:
      return DType::kUInt32;
    case onnx::TensorProto::UINT64:
      return DType::kUInt64;
    default:
      break;
  }
  std::string type_name =
      onnx::TensorProto::DataType_IsValid(elem_type)
          ? onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(elem_type))
          : "code " + std::to_string(elem_type);
  return Status::Unimplemented(what + " has unsupported element type " + type_name);
}

namespace {

// Decodes `proto`; when `steal` (the same message) is given, raw_data is moved into the
// tensor instead of copied, so a model's weights are never held twice during import.
Result<Tensor> Decode(const onnx::TensorProto& proto, const TensorSource& source,
                      onnx::TensorProto* steal) {
  const std::string& name = proto.name();
  EI_ASSIGN_OR_RETURN(DType dtype, DTypeFromOnnx(proto.data_type(), Quoted(name)));
  Shape dims(proto.dims().begin(), proto.dims().end());
  const size_t elem = DTypeSize(dtype);
  uint64_t numel = 1;
  for (int64_t d : dims) {
    if (d < 0) {
      return Status::InvalidArgument(Quoted(name) + " has a negative dim in " +
                                     ShapeToString(dims));
    }
    if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / elem / static_cast<uint64_t>(d)) {
      return Status::ResourceExhausted(Quoted(name) + " with dims " + ShapeToString(dims) +
                                       " is too large");
    }
    numel *= static_cast<uint64_t>(d);
  }
  const uint64_t nbytes = numel * elem;
  if (nbytes > source.max_tensor_bytes) {
    return Status::ResourceExhausted(Quoted(name) + " with dims " + ShapeToString(dims) +
                                     " needs " + std::to_string(nbytes) + " bytes, the limit is " +
                                     std::to_string(source.max_tensor_bytes));
  }
  const bool external = proto.data_location() == onnx::TensorProto::EXTERNAL;
  const bool has_raw = proto.has_raw_data();
  // Every byte of the tensor is checked to be present in the model or its external file before
  // allocating, so a hostile header cannot make us allocate more than the input holds.
  if (!external && has_raw && proto.raw_data().size() != nbytes) {
    return Status::InvalidArgument(
        Quoted(name) + " has " + std::to_string(proto.raw_data().size()) +
        " bytes of raw_data, its dims " + ShapeToString(dims) + " and dtype " + DTypeName(dtype) +
        " need " + std::to_string(nbytes));
  }
  if (steal != nullptr && !external && has_raw && nbytes > 0) {
    std::shared_ptr<std::string> holder(steal->release_raw_data());
    return Tensor::Wrap(holder->data(), dtype, dims, holder);
  }
  Result<Tensor> allocated = Tensor::Allocate(dtype, dims, source.max_tensor_bytes);
  if (!allocated.ok()) return allocated.status().WithContext(Quoted(name));
  Tensor tensor = std::move(allocated).value();
  if (external) {
    EI_RETURN_IF_ERROR(ReadExternal(proto, source, static_cast<size_t>(nbytes), tensor.raw_data()));
  } else if (has_raw) {
    if (nbytes) std::memcpy(tensor.raw_data(), proto.raw_data().data(), nbytes);
  } else {
    EI_RETURN_IF_ERROR(DecodeTyped(proto, dims, static_cast<int64_t>(numel), &tensor));
  }
  return tensor;
}

}  // namespace

Result<Tensor> TensorFromOnnx(const onnx::TensorProto& proto, const TensorSource& source) {
  return Decode(proto, source, nullptr);
}

Result<Tensor> TensorFromOnnxConsuming(onnx::TensorProto* proto, const TensorSource& source) {
  return Decode(*proto, source, proto);
}

void TensorToOnnx(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto) {
  proto->Clear();
  proto->set_name(name);
  proto->set_data_type(static_cast<int32_t>(tensor.dtype()));
  for (int64_t d : tensor.shape()) proto->add_dims(d);
  if (tensor.nbytes() == 0) {
    proto->set_raw_data(std::string());
  } else {
    proto->set_raw_data(static_cast<const char*>(tensor.raw_data()), tensor.nbytes());
  }
}

}  // namespace edgeinfer

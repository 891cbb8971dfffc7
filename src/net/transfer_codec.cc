#include "net/transfer_codec.h"

#include <cstring>
#include <vector>

#include "net/codec.h"

namespace edgeinfer::net {

namespace {

Status BadParam(const std::string& tensor, const std::string& key, const std::string& why) {
  return Status::InvalidArgument("input '" + tensor + "': parameter " + key + " " + why);
}

// Quantised payloads are read through typed pointers; a buffer that is not aligned for them is
// copied first.
template <typename T>
const T* AlignedOrCopy(std::string_view bytes, std::vector<T>* copy) {
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(T) == 0) {
    return reinterpret_cast<const T*>(bytes.data());
  }
  copy->resize(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(copy->data(), bytes.data(), bytes.size());
  return copy->data();
}

}  // namespace

Status ReadTransferParameter(const std::string& tensor, const std::string& key,
                             const TransferParamValue& value, TransferEncoding* encoding) {
  if (key == kCompressionParam || key == kQuantizationParam) {
    if (!value.text) return BadParam(tensor, key, "must be a string");
    if (key == kCompressionParam) {
      Result<Codec> codec = ParseCodec(*value.text);
      if (!codec.ok()) return BadParam(tensor, key, "is invalid: " + codec.status().message());
      encoding->codec = *codec;
    } else {
      Result<Quantization> q = ParseQuantization(*value.text);
      if (!q.ok()) return BadParam(tensor, key, "is invalid: " + q.status().message());
      encoding->quantization = *q;
    }
  } else if (key == kRawBytesParam || key == kZeroPointParam) {
    if (!value.integer) return BadParam(tensor, key, "must be an integer");
    if (key == kRawBytesParam) {
      if (*value.integer < 0) return BadParam(tensor, key, "must not be negative");
      encoding->raw_bytes = *value.integer;
    } else {
      encoding->zero_point = *value.integer;
    }
  } else if (key == kScaleParam) {
    if (!value.number) return BadParam(tensor, key, "must be a number");
    encoding->scale = *value.number;
  }
  return Status::Ok();
}

Result<TransferEncoding> ReadTransferParameters(
    const std::string& tensor,
    const google::protobuf::Map<std::string, inference::InferParameter>& params) {
  TransferEncoding encoding;
  for (const auto& [key, p] : params) {
    if (key.rfind(kParamPrefix, 0) != 0) continue;
    TransferParamValue value;
    switch (p.parameter_choice_case()) {
      case inference::InferParameter::kStringParam:
        value.text = p.string_param();
        break;
      case inference::InferParameter::kInt64Param:
        value.integer = p.int64_param();
        value.number = static_cast<double>(p.int64_param());
        break;
      case inference::InferParameter::kUint64Param:
        if (p.uint64_param() <= static_cast<uint64_t>(INT64_MAX)) {
          value.integer = static_cast<int64_t>(p.uint64_param());
        }
        value.number = static_cast<double>(p.uint64_param());
        break;
      case inference::InferParameter::kDoubleParam:
        value.number = p.double_param();
        break;
      default:
        break;
    }
    EI_RETURN_IF_ERROR(ReadTransferParameter(tensor, key, value, &encoding));
  }
  return encoding;
}

Result<Tensor> DecodeTransferTensor(const std::string& name, const std::string& datatype,
                                    const Shape& shape, std::string_view bytes,
                                    const TransferEncoding& encoding, size_t max_bytes) {
  const DType dtype = DTypeFromKserve(datatype);
  if (dtype == DType::kUndefined) {
    return Status::InvalidArgument("input '" + name + "' has unsupported datatype '" + datatype +
                                   "'");
  }
  size_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return Status::InvalidArgument("input '" + name + "' has a negative dimension in shape " +
                                     ShapeToString(shape));
    }
    if (d != 0 && numel > max_bytes / DTypeSize(dtype) / static_cast<size_t>(d)) {
      return Status::ResourceExhausted("input '" + name + "' of shape " + ShapeToString(shape) +
                                       " exceeds the limit of " + std::to_string(max_bytes) +
                                       " bytes");
    }
    numel *= static_cast<size_t>(d);
  }
  const size_t logical = numel * DTypeSize(dtype);
  if (encoding.raw_bytes < 0) {
    return Status::InvalidArgument("input '" + name + "': " + kRawBytesParam +
                                   " is required with compression or quantization");
  }
  if (static_cast<uint64_t>(encoding.raw_bytes) != logical) {
    return Status::InvalidArgument(
        "input '" + name + "': " + kRawBytesParam + " is " + std::to_string(encoding.raw_bytes) +
        " but " + datatype + ShapeToString(shape) + " has " + std::to_string(logical) + " bytes");
  }
  const Quantization quant = encoding.quantization;
  if (quant != Quantization::kNone && dtype != DType::kFloat32) {
    return Status::InvalidArgument("input '" + name + "': " + QuantizationName(quant) +
                                   " quantization applies to FP32 tensors only, not " + datatype);
  }
  const bool int8 = quant == Quantization::kInt8;
  if (int8 != encoding.scale.has_value() || int8 != encoding.zero_point.has_value()) {
    return Status::InvalidArgument("input '" + name + "': " + kScaleParam + " and " +
                                   kZeroPointParam + " are required with int8 and only with it");
  }
  Int8Params int8_params;
  if (int8) {
    int8_params.scale = static_cast<float>(*encoding.scale);
    if (*encoding.zero_point < -128 || *encoding.zero_point > 127) {
      return Status::InvalidArgument("input '" + name + "': int8 zero point " +
                                     std::to_string(*encoding.zero_point) +
                                     " is outside [-128, 127]");
    }
    int8_params.zero_point = static_cast<int32_t>(*encoding.zero_point);
    EI_RETURN_IF_ERROR(ValidateInt8Params(int8_params, name));
  }
  const size_t payload = numel * QuantizedElementSize(quant);
  if (encoding.codec == Codec::kNone && bytes.size() != payload) {
    return Status::InvalidArgument(
        "input '" + name + "' (" + datatype + ShapeToString(shape) +
        (quant != Quantization::kNone ? std::string(", ") + QuantizationName(quant)
                                      : std::string()) +
        ") needs " + std::to_string(payload) + " bytes, got " + std::to_string(bytes.size()));
  }
  EI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape, max_bytes));
  if (quant == Quantization::kNone) {
    EI_RETURN_IF_ERROR(Decompress(encoding.codec, bytes, t.raw_data(), logical, name));
    return t;
  }
  // Quantised: decompress (when compressed) into a buffer of the quantised size, then expand.
  std::vector<uint16_t> halfs;
  std::vector<int8_t> bytes8;
  std::string_view quantized = bytes;
  if (encoding.codec != Codec::kNone) {
    void* buffer;
    if (int8) {
      bytes8.resize(payload);
      buffer = bytes8.data();
    } else {
      halfs.resize(numel);
      buffer = halfs.data();
    }
    EI_RETURN_IF_ERROR(Decompress(encoding.codec, bytes, buffer, payload, name));
    quantized = std::string_view(static_cast<const char*>(buffer), payload);
  }
  if (int8) {
    DequantizeInt8(reinterpret_cast<const int8_t*>(quantized.data()), numel, int8_params,
                   t.data<float>());
  } else {
    std::vector<uint16_t> copy;
    DequantizeFp16(AlignedOrCopy<uint16_t>(quantized, &copy), numel, t.data<float>());
  }
  return t;
}

Result<TransferEncoding> EncodeTransferTensor(const Tensor& tensor, Codec codec,
                                              Quantization quantization, std::string* wire) {
  TransferEncoding encoding;
  const auto* payload = static_cast<const char*>(tensor.raw_data());
  size_t payload_size = tensor.nbytes();
  const size_t numel = static_cast<size_t>(tensor.numel());
  std::vector<uint16_t> halfs;
  std::vector<int8_t> bytes8;
  if (tensor.dtype() == DType::kFloat32 && quantization != Quantization::kNone) {
    encoding.quantization = quantization;
    if (quantization == Quantization::kFp16) {
      halfs.resize(numel);
      QuantizeFp16(tensor.data<float>(), numel, halfs.data());
      payload = reinterpret_cast<const char*>(halfs.data());
    } else {
      const Int8Params p = ChooseInt8Params(tensor.data<float>(), numel);
      bytes8.resize(numel);
      QuantizeInt8(tensor.data<float>(), numel, p, bytes8.data());
      encoding.scale = p.scale;
      encoding.zero_point = p.zero_point;
      payload = reinterpret_cast<const char*>(bytes8.data());
    }
    payload_size = numel * QuantizedElementSize(quantization);
  }
  wire->clear();
  if (codec != Codec::kNone) {
    EI_RETURN_IF_ERROR(Compress(codec, payload, payload_size, wire));
    if (static_cast<double>(wire->size()) <= kMaxUsefulRatio * static_cast<double>(payload_size)) {
      encoding.codec = codec;
    } else {
      wire->clear();
    }
  }
  if (encoding.codec == Codec::kNone) wire->assign(payload, payload_size);
  if (encoding.encoded()) encoding.raw_bytes = static_cast<int64_t>(tensor.nbytes());
  return encoding;
}

void WriteTransferParameters(
    const TransferEncoding& encoding,
    google::protobuf::Map<std::string, inference::InferParameter>* params) {
  if (!encoding.encoded()) return;
  if (encoding.codec != Codec::kNone) {
    (*params)[kCompressionParam].set_string_param(CodecName(encoding.codec));
  }
  if (encoding.quantization != Quantization::kNone) {
    (*params)[kQuantizationParam].set_string_param(QuantizationName(encoding.quantization));
  }
  (*params)[kRawBytesParam].set_int64_param(encoding.raw_bytes);
  if (encoding.scale) (*params)[kScaleParam].set_double_param(*encoding.scale);
  if (encoding.zero_point) (*params)[kZeroPointParam].set_int64_param(*encoding.zero_point);
}

}  // namespace edgeinfer::net

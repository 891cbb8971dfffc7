#include "server/http_codec.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "net/codec.h"
#include "net/protocol.h"
#include "net/transfer_codec.h"

namespace edgeinfer::server {

namespace {

using nlohmann::json;

// Appends the leaves of a (possibly nested) JSON array in row-major order.
Status Flatten(const json& j, std::vector<const json*>* out, int depth) {
  if (depth > 32) return Status::InvalidArgument("tensor data nested too deeply");
  if (j.is_array()) {
    for (const json& e : j) EI_RETURN_IF_ERROR(Flatten(e, out, depth + 1));
    return Status::Ok();
  }
  out->push_back(&j);
  return Status::Ok();
}

template <typename T>
Status FillFromJson(const std::string& name, const std::vector<const json*>& leaves, Tensor* t) {
  T* dst = t->data<T>();
  for (size_t i = 0; i < leaves.size(); ++i) {
    const json& v = *leaves[i];
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean())
        return Status::InvalidArgument("tensor '" + name + "': BOOL data must be true/false");
      dst[i] = v.get<bool>();
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number())
        return Status::InvalidArgument("tensor '" + name + "': data must be numbers");
      dst[i] = static_cast<T>(v.get<double>());
    } else {
      if (!v.is_number_integer()) {
        return Status::InvalidArgument("tensor '" + name + "': integer data must be integers");
      }
      dst[i] = static_cast<T>(std::is_signed_v<T> ? v.get<int64_t>()
                                                  : static_cast<int64_t>(v.get<uint64_t>()));
    }
  }
  return Status::Ok();
}

Result<Tensor> FromJsonData(const std::string& name, DType dtype, const Shape& shape,
                            const json& data, size_t max_bytes) {
  EI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape, max_bytes));
  std::vector<const json*> leaves;
  EI_RETURN_IF_ERROR(Flatten(data, &leaves, 0));
  if (static_cast<int64_t>(leaves.size()) != t.numel()) {
    return Status::InvalidArgument("tensor '" + name + "' of shape " + ShapeToString(shape) +
                                   " needs " + std::to_string(t.numel()) + " values, got " +
                                   std::to_string(leaves.size()));
  }
  switch (dtype) {
    case DType::kFloat32:
      EI_RETURN_IF_ERROR(FillFromJson<float>(name, leaves, &t));
      break;
    case DType::kFloat64:
      EI_RETURN_IF_ERROR(FillFromJson<double>(name, leaves, &t));
      break;
    case DType::kInt64:
      EI_RETURN_IF_ERROR(FillFromJson<int64_t>(name, leaves, &t));
      break;
    case DType::kInt32:
      EI_RETURN_IF_ERROR(FillFromJson<int32_t>(name, leaves, &t));
      break;
    case DType::kInt16:
      EI_RETURN_IF_ERROR(FillFromJson<int16_t>(name, leaves, &t));
      break;
    case DType::kInt8:
      EI_RETURN_IF_ERROR(FillFromJson<int8_t>(name, leaves, &t));
      break;
    case DType::kUInt64:
      EI_RETURN_IF_ERROR(FillFromJson<uint64_t>(name, leaves, &t));
      break;
    case DType::kUInt32:
      EI_RETURN_IF_ERROR(FillFromJson<uint32_t>(name, leaves, &t));
      break;
    case DType::kUInt16:
      EI_RETURN_IF_ERROR(FillFromJson<uint16_t>(name, leaves, &t));
      break;
    case DType::kUInt8:
      EI_RETURN_IF_ERROR(FillFromJson<uint8_t>(name, leaves, &t));
      break;
    case DType::kBool:
      EI_RETURN_IF_ERROR(FillFromJson<bool>(name, leaves, &t));
      break;
    default:
      return Status::InvalidArgument("tensor '" + name + "': datatype " + DTypeName(dtype) +
                                     " must be sent as binary data");
  }
  return t;
}

template <typename T>
json ToJsonData(const Tensor& t) {
  json data = json::array();
  const T* src = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) data.push_back(src[i]);
  return data;
}

Result<json> JsonData(const std::string& name, const Tensor& t) {
  switch (t.dtype()) {
    case DType::kFloat32:
      return ToJsonData<float>(t);
    case DType::kFloat64:
      return ToJsonData<double>(t);
    case DType::kInt64:
      return ToJsonData<int64_t>(t);
    case DType::kInt32:
      return ToJsonData<int32_t>(t);
    case DType::kInt16:
      return ToJsonData<int16_t>(t);
    case DType::kInt8:
      return ToJsonData<int8_t>(t);
    case DType::kUInt64:
      return ToJsonData<uint64_t>(t);
    case DType::kUInt32:
      return ToJsonData<uint32_t>(t);
    case DType::kUInt16:
      return ToJsonData<uint16_t>(t);
    case DType::kUInt8:
      return ToJsonData<uint8_t>(t);
    case DType::kBool:
      return ToJsonData<bool>(t);
    default:
      return Status::Unimplemented("output '" + name + "' of dtype " + DTypeName(t.dtype()) +
                                   " can only be returned as binary data");
  }
}

net::TransferParamValue JsonParamValue(const json& value) {
  net::TransferParamValue v;
  if (value.is_string()) v.text = value.get<std::string>();
  if (value.is_number_integer()) v.integer = value.get<int64_t>();
  if (value.is_number()) v.number = value.get<double>();
  return v;
}

bool BoolParam(const json& obj, const char* key) {
  if (!obj.is_object()) return false;
  auto params = obj.find("parameters");
  if (params == obj.end() || !params->is_object()) return false;
  auto it = params->find(key);
  return it != params->end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

Result<HttpInferRequest> ParseHttpInfer(const std::string& body, int64_t json_length,
                                        size_t max_tensor_bytes) {
  if (json_length > static_cast<int64_t>(body.size())) {
    return Status::InvalidArgument("Inference-Header-Content-Length " +
                                   std::to_string(json_length) + " exceeds the body of " +
                                   std::to_string(body.size()) + " bytes");
  }
  const size_t header_len = json_length < 0 ? body.size() : static_cast<size_t>(json_length);
  json j = json::parse(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(header_len),
                       nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("request body is not a JSON object");
  }
  HttpInferRequest req;
  BandParams band;
  if (j.contains("id") && j["id"].is_string()) req.id = j["id"].get<std::string>();
  req.all_binary = BoolParam(j, "binary_data_output");
  if (auto params = j.find("parameters"); params != j.end() && params->is_object()) {
    for (const auto& [key, value] : params->items()) {
      std::optional<bool> flag;
      std::optional<int64_t> integer;
      if (value.is_boolean()) flag = value.get<bool>();
      if (value.is_number_integer()) integer = value.get<int64_t>();
      EI_RETURN_IF_ERROR(ReadRequestParam(key, flag, integer, &req.call));
    }
  }
  if (!j.contains("inputs") || !j["inputs"].is_array()) {
    return Status::InvalidArgument("request has no \"inputs\" array");
  }
  size_t offset = header_len;
  for (const json& in : j["inputs"]) {
    if (!in.is_object() || !in.contains("name") || !in["name"].is_string() ||
        !in.contains("datatype") || !in["datatype"].is_string() || !in.contains("shape") ||
        !in["shape"].is_array()) {
      return Status::InvalidArgument("each input needs \"name\", \"datatype\" and \"shape\"");
    }
    const std::string name = in["name"].get<std::string>();
    const std::string datatype = in["datatype"].get<std::string>();
    Shape shape;
    for (const json& d : in["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) {
        return Status::InvalidArgument("input '" + name + "' has an invalid shape");
      }
      shape.push_back(d.get<int64_t>());
    }
    const DType dtype = net::DTypeFromKserve(datatype);
    if (dtype == DType::kUndefined) {
      return Status::InvalidArgument("input '" + name + "' has unsupported datatype '" + datatype +
                                     "'");
    }
    auto params = in.find("parameters");
    const json* size_param = nullptr;
    if (params != in.end() && params->is_object() && params->contains(net::kBinaryDataSizeParam)) {
      size_param = &(*params)[net::kBinaryDataSizeParam];
    }
    // Compressed / quantised binary inputs and row bands: the same parameters as over gRPC.
    net::TransferEncoding encoding;
    if (params != in.end() && params->is_object()) {
      for (const auto& [key, value] : params->items()) {
        if (key.rfind(net::kParamPrefix, 0) != 0) continue;
        const net::TransferParamValue v = JsonParamValue(value);
        EI_RETURN_IF_ERROR(net::ReadTransferParameter(name, key, v, &encoding));
        EI_RETURN_IF_ERROR(band.Read(false, name, key, v));
      }
    }
    if (encoding.any() && size_param == nullptr) {
      return Status::InvalidArgument("input '" + name +
                                     "': compressed or quantized data must be sent as binary "
                                     "data (binary_data_size)");
    }
    Result<Tensor> tensor = Status::Internal("unset");
    if (size_param != nullptr && encoding.any()) {
      if (!size_param->is_number_integer() || size_param->get<int64_t>() < 0 ||
          static_cast<uint64_t>(size_param->get<int64_t>()) > body.size() - offset) {
        return Status::InvalidArgument("input '" + name +
                                       "': binary_data_size must be an integer within the body");
      }
      const auto size = static_cast<size_t>(size_param->get<int64_t>());
      tensor = net::DecodeTransferTensor(name, datatype, shape,
                                         std::string_view(body).substr(offset, size), encoding,
                                         max_tensor_bytes);
      offset += size;
    } else if (size_param != nullptr) {
      if (!size_param->is_number_unsigned() && !size_param->is_number_integer()) {
        return Status::InvalidArgument("input '" + name + "': binary_data_size must be an integer");
      }
      const int64_t size = size_param->get<int64_t>();
      if (size < 0 || static_cast<size_t>(size) > body.size() - offset) {
        return Status::InvalidArgument("input '" + name + "': binary_data_size " +
                                       std::to_string(size) + " exceeds the remaining body");
      }
      tensor = net::DecodeRawTensor(name, datatype, shape,
                                    body.substr(offset, static_cast<size_t>(size)), nullptr,
                                    max_tensor_bytes);
      offset += static_cast<size_t>(size);
    } else {
      if (!in.contains("data")) return Status::InvalidArgument("input '" + name + "' has no data");
      tensor = FromJsonData(name, dtype, shape, in["data"], max_tensor_bytes);
    }
    if (!tensor.ok()) return tensor.status();
    req.call.inputs.push_back({name, std::move(tensor).value()});
  }
  if (offset != body.size()) {
    return Status::InvalidArgument(std::to_string(body.size() - offset) +
                                   " bytes of binary data follow the inputs unclaimed");
  }
  if (j.contains("outputs")) {
    if (!j["outputs"].is_array()) return Status::InvalidArgument("\"outputs\" must be an array");
    for (const json& out : j["outputs"]) {
      if (!out.is_object() || !out.contains("name") || !out["name"].is_string()) {
        return Status::InvalidArgument("each requested output needs a \"name\"");
      }
      const std::string name = out["name"].get<std::string>();
      req.call.outputs.push_back(name);
      if (BoolParam(out, "binary_data")) req.binary_outputs.push_back(name);
      auto out_params = out.find("parameters");
      if (out_params != out.end() && out_params->is_object()) {
        for (const auto& [key, value] : out_params->items()) {
          EI_RETURN_IF_ERROR(band.Read(true, name, key, JsonParamValue(value)));
        }
      }
    }
  }
  EI_ASSIGN_OR_RETURN(req.call.band, band.Finish());
  return req;
}

Result<HttpInferBody> BuildHttpInfer(const std::string& model, const HttpInferRequest& request,
                                     const InferReply& reply) {
  json j;
  j["model_name"] = model;
  j["model_version"] = reply.version;
  if (!request.id.empty()) j["id"] = request.id;
  j["parameters"] = {{net::kQueueUsParam, reply.queue_us},
                     {net::kComputeUsParam, reply.compute_us},
                     {net::kLoadFactorParam, reply.load_factor},
                     {net::kQueueLengthParam, reply.queue_length},
                     {net::kOtherUsParam, reply.other_us}};
  if (request.call.collab) j["parameters"][net::kCollabServersParam] = reply.collab_servers;
  if (request.call.deadline_ms > 0) {
    j["parameters"][net::kDeadlineMissedParam] = reply.deadline_missed;
  }
  j["outputs"] = json::array();
  std::string binary;
  bool any_binary = false;
  for (const NamedTensor& out : reply.outputs) {
    const char* datatype = net::KserveDatatype(out.tensor.dtype());
    if (datatype == nullptr) {
      return Status::Unimplemented("output '" + out.name + "' has a dtype the protocol lacks");
    }
    json o = {{"name", out.name}, {"datatype", datatype}, {"shape", out.tensor.shape()}};
    json out_params = json::object();
    auto row_offset = reply.row_offsets.find(out.name);
    if (row_offset != reply.row_offsets.end())
      out_params[net::kRowOffsetParam] = row_offset->second;
    const bool as_binary = request.all_binary ||
                           std::find(request.binary_outputs.begin(), request.binary_outputs.end(),
                                     out.name) != request.binary_outputs.end();
    if (as_binary) {
      any_binary = true;
      out_params[net::kBinaryDataSizeParam] = out.tensor.nbytes();
      net::EncodeRawTensor(out.tensor, &binary);
    } else {
      EI_ASSIGN_OR_RETURN(o["data"], JsonData(out.name, out.tensor));
    }
    if (!out_params.empty()) o["parameters"] = std::move(out_params);
    j["outputs"].push_back(std::move(o));
  }
  HttpInferBody result;
  result.body = j.dump();
  if (any_binary) {
    result.json_length = static_cast<int64_t>(result.body.size());
    result.body += binary;
  }
  return result;
}

}  // namespace edgeinfer::server

#include "server/grpc_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "net/codec.h"
#include "net/protocol.h"
#include "net/transfer_codec.h"
#include "server/auth.h"
#include "server/typed_contents.h"

namespace edgeinfer::server {

const char kServerName[] = "edgeinfer";
const char kServerVersion[] = "0.1.0";

const std::vector<std::string>& ServerExtensions() {
  static const std::vector<std::string> kExtensions = {
      "model_configuration", "statistics",       "model_repository",
      "binary_tensor_data",  "edgeinfer_slices", "edgeinfer_load_report"};
  return kExtensions;
}

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // Never an empty message: INTERNAL without one means "gRPC could not parse the request"
  // to MalformedRequestInterceptorFactory (server/grpc_guard.h).
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(status.code())),
                      status.message().empty() ? "error without a message" : status.message());
}

namespace {

#define EI_GRPC_RETURN_IF_ERROR(expr)                          \
  do {                                                         \
    ::edgeinfer::Status ei_grpc_status_ = (expr);              \
    if (!ei_grpc_status_.ok()) return ToGrpc(ei_grpc_status_); \
  } while (0)

std::string DatatypeOf(DType dtype) {
  const char* name = net::KserveDatatype(dtype);
  return name != nullptr ? name : "INVALID";
}

inference::DataType ConfigDataType(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return inference::TYPE_BOOL;
    case DType::kUInt8:
      return inference::TYPE_UINT8;
    case DType::kUInt16:
      return inference::TYPE_UINT16;
    case DType::kUInt32:
      return inference::TYPE_UINT32;
    case DType::kUInt64:
      return inference::TYPE_UINT64;
    case DType::kInt8:
      return inference::TYPE_INT8;
    case DType::kInt16:
      return inference::TYPE_INT16;
    case DType::kInt32:
      return inference::TYPE_INT32;
    case DType::kInt64:
      return inference::TYPE_INT64;
    case DType::kFloat16:
      return inference::TYPE_FP16;
    case DType::kFloat32:
      return inference::TYPE_FP32;
    case DType::kFloat64:
      return inference::TYPE_FP64;
    default:
      return inference::TYPE_INVALID;
  }
}

// A gRPC parameter in the form the transport-independent readers take.
net::TransferParamValue ParamValue(const inference::InferParameter& p) {
  net::TransferParamValue value;
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
  return value;
}

// Collects the row-band parameters of every input and requested output.
Result<BandSpec> ReadBand(const inference::ModelInferRequest& request) {
  BandParams band;
  for (const auto& in : request.inputs()) {
    for (const auto& [key, p] : in.parameters()) {
      EI_RETURN_IF_ERROR(band.Read(false, in.name(), key, ParamValue(p)));
    }
  }
  for (const auto& out : request.outputs()) {
    for (const auto& [key, p] : out.parameters()) {
      EI_RETURN_IF_ERROR(band.Read(true, out.name(), key, ParamValue(p)));
    }
  }
  return band.Finish();
}

void SetInt(google::protobuf::Map<std::string, inference::InferParameter>* params,
            const std::string& key, int64_t value) {
  (*params)[key].set_int64_param(value);
}

}  // namespace

Status GrpcService::Authorize(const grpc::ServerContext* context) const {
  EI_RETURN_IF_ERROR(CheckNotStopping(*state_));
  if (state_->tokens.empty()) return Status::Ok();
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return CheckBearer(nullptr, state_->tokens);
  const std::string header(it->second.data(), it->second.size());
  return CheckBearer(&header, state_->tokens);
}

grpc::Status GrpcService::ServerLive(grpc::ServerContext* context,
                                     const inference::ServerLiveRequest*,
                                     inference::ServerLiveResponse* response) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  response->set_live(true);
  return grpc::Status::OK;
}

grpc::Status GrpcService::ServerReady(grpc::ServerContext* context,
                                      const inference::ServerReadyRequest*,
                                      inference::ServerReadyResponse* response) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  // Ready: not draining, and able to serve a request: some model is ready, or a device may
  // upload one.
  bool has_model = false;
  for (const ModelIndexEntry& e : state_->repository->Index()) {
    has_model = has_model || e.state == "READY";
  }
  response->set_ready(!state_->scheduler->stopping() && (has_model || state_->allow_upload));
  return grpc::Status::OK;
}

grpc::Status GrpcService::ModelReady(grpc::ServerContext* context,
                                     const inference::ModelReadyRequest* request,
                                     inference::ModelReadyResponse* response) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  response->set_ready(state_->repository->Find(request->name(), request->version()).ok());
  return grpc::Status::OK;
}

grpc::Status GrpcService::ServerMetadata(grpc::ServerContext* context,
                                         const inference::ServerMetadataRequest*,
                                         inference::ServerMetadataResponse* response) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  response->set_name(kServerName);
  response->set_version(kServerVersion);
  for (const std::string& e : ServerExtensions()) response->add_extensions(e);
  return grpc::Status::OK;
}

grpc::Status GrpcService::ModelMetadata(grpc::ServerContext* context,
                                        const inference::ModelMetadataRequest* request,
                                        inference::ModelMetadataResponse* response) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  auto model = state_->repository->Find(request->name(), request->version());
  if (!model.ok()) return ToGrpc(model.status());
  response->set_name(request->name());
  for (const std::string& v : state_->repository->Versions(request->name())) {
    response->add_versions(v);
  }
  response->set_platform("onnxruntime_onnx");
  for (const TensorInfo& info : (*model)->inputs()) {
    auto* t = response->add_inputs();
    t->set_name(info.name);
    t->set_datatype(DatatypeOf(info.dtype));
    for (int64_t d : info.shape) t->add_shape(d < 0 ? -1 : d);
  }
  for (const TensorInfo& info : (*model)->outputs()) {
    auto* t = response->add_outputs();
    t->set_name(info.name);
    t->set_datatype(DatatypeOf(info.dtype));
    for (int64_t d : info.shape) t->add_shape(d < 0 ? -1 : d);
  }
  return grpc::Status::OK;
}

grpc::Status GrpcService::ModelInfer(grpc::ServerContext* context,
                                     const inference::ModelInferRequest* request,
                                     inference::ModelInferResponse* response) {
  const auto received = std::chrono::steady_clock::now();
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  InferCall call;
  call.model = request->model_name();
  call.version = request->model_version();
  call.deadline = context->deadline();
  const bool raw = request->raw_input_contents_size() > 0;
  if (raw && request->raw_input_contents_size() != request->inputs_size()) {
    return ToGrpc(Status::InvalidArgument(
        "request has " + std::to_string(request->inputs_size()) + " inputs but " +
        std::to_string(request->raw_input_contents_size()) + " raw_input_contents"));
  }
  // KServe and Triton refuse a request that carries both forms: which one holds the data?
  if (raw) {
    for (const auto& in : request->inputs()) {
      if (in.has_contents() && in.contents().ByteSizeLong() > 0) {
        return ToGrpc(Status::InvalidArgument(
            "input '" + in.name() +
            "' has typed 'contents' but the request also has raw_input_contents; send every "
            "input one way"));
      }
    }
  }
  // The request outlives every tensor decoded from it (the call is synchronous), so its bytes
  // are adopted without a copy through a non-owning handle.
  std::shared_ptr<const void> owner(request, [](const void*) {});
  for (int i = 0; i < request->inputs_size(); ++i) {
    const auto& in = request->inputs(i);
    Shape shape(in.shape().begin(), in.shape().end());
    // Compressed / quantised inputs (net/transfer_codec.h) are decoded into fresh buffers; the
    // time this takes is part of edgeinfer_other_us.
    Result<net::TransferEncoding> encoding =
        net::ReadTransferParameters(in.name(), in.parameters());
    if (!encoding.ok()) return ToGrpc(encoding.status());
    if (encoding->any() && !raw) {
      return ToGrpc(Status::InvalidArgument("input '" + in.name() +
                                            "': compressed or quantized data must be sent in "
                                            "raw_input_contents"));
    }
    if (encoding->any()) {
      Result<Tensor> decoded =
          net::DecodeTransferTensor(in.name(), in.datatype(), shape, request->raw_input_contents(i),
                                    *encoding, state_->max_tensor_bytes);
      if (!decoded.ok()) return ToGrpc(decoded.status());
      call.inputs.push_back({in.name(), std::move(decoded).value()});
      continue;
    }
    Result<Tensor> tensor =
        raw ? net::DecodeRawTensor(in.name(), in.datatype(), shape, request->raw_input_contents(i),
                                   owner, state_->max_tensor_bytes)
            : DecodeTypedTensor(in.name(), in.datatype(), shape, in.contents(),
                                state_->max_tensor_bytes);
    if (!tensor.ok()) return ToGrpc(tensor.status());
    call.inputs.push_back({in.name(), std::move(tensor).value()});
  }
  for (const auto& out : request->outputs()) call.outputs.push_back(out.name());
  Result<BandSpec> band = ReadBand(*request);
  if (!band.ok()) return ToGrpc(band.status());
  call.band = std::move(band).value();
  // Request-level parameters of the collaborative mode (docs/protocol.md).
  for (const auto& [key, p] : request->parameters()) {
    std::optional<bool> flag;
    std::optional<int64_t> integer;
    if (p.parameter_choice_case() == inference::InferParameter::kBoolParam) flag = p.bool_param();
    if (p.parameter_choice_case() == inference::InferParameter::kInt64Param) {
      integer = p.int64_param();
    }
    EI_GRPC_RETURN_IF_ERROR(ReadRequestParam(key, flag, integer, &call));
  }
  Result<InferReply> reply = RunInference(*state_, call);
  if (!reply.ok()) return ToGrpc(reply.status());
  response->set_model_name(request->model_name());
  response->set_model_version(reply->version);
  response->set_id(request->id());
  for (const NamedTensor& out : reply->outputs) {
    const char* datatype = net::KserveDatatype(out.tensor.dtype());
    if (datatype == nullptr) {
      return ToGrpc(Status::Unimplemented("output '" + out.name + "' has dtype " +
                                          DTypeName(out.tensor.dtype()) +
                                          ", which the protocol cannot carry"));
    }
    auto* t = response->add_outputs();
    t->set_name(out.name);
    t->set_datatype(datatype);
    for (int64_t d : out.tensor.shape()) t->add_shape(d);
    auto offset = reply->row_offsets.find(out.name);
    if (offset != reply->row_offsets.end()) {
      (*t->mutable_parameters())[net::kRowOffsetParam].set_int64_param(offset->second);
    }
    net::EncodeRawTensor(out.tensor, response->add_raw_output_contents());
  }
  auto* params = response->mutable_parameters();
  SetInt(params, net::kQueueUsParam, reply->queue_us);
  SetInt(params, net::kComputeUsParam, reply->compute_us);
  (*params)[net::kLoadFactorParam].set_double_param(reply->load_factor);
  SetInt(params, net::kQueueLengthParam, reply->queue_length);
  // Everything the handler spent outside the queue and the slice's execution: decoding,
  // compiling a slice on first use, encoding the reply.
  const int64_t handler_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - received)
                                 .count();
  SetInt(params, net::kOtherUsParam,
         std::max<int64_t>(0, handler_us - reply->queue_us - reply->compute_us));
  if (call.collab) SetInt(params, net::kCollabServersParam, reply->collab_servers);
  if (call.deadline_ms > 0) {
    (*params)[net::kDeadlineMissedParam].set_bool_param(reply->deadline_missed ||
                                                        handler_us > call.deadline_ms * 1000);
  }
  return grpc::Status::OK;
}

grpc::Status GrpcService::ModelConfig(grpc::ServerContext* context,
                                      const inference::ModelConfigRequest* request,
                                      inference::ModelConfigResponse* response) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  auto model = state_->repository->Find(request->name(), request->version());
  if (!model.ok()) return ToGrpc(model.status());
  auto* config = response->mutable_config();
  config->set_name(request->name());
  config->set_platform("onnxruntime_onnx");
  config->set_backend("onnxruntime");
  // What config.pbtxt said (checked against the model at load) wins; the model fills the rest.
  const std::shared_ptr<const TritonConfig> file = state_->repository->Config(request->name());
  const int64_t max_batch = file != nullptr ? file->max_batch_size : 0;
  config->set_max_batch_size(static_cast<int32_t>(max_batch));
  auto describe = [&](const TensorInfo& info, const std::vector<TritonTensorConfig>* configured,
                      auto* tensor) {
    const TritonTensorConfig* entry = nullptr;
    for (size_t i = 0; configured != nullptr && i < configured->size(); ++i) {
      if ((*configured)[i].name == info.name) entry = &(*configured)[i];
    }
    tensor->set_name(info.name);
    const DType dtype =
        entry != nullptr && entry->dtype != DType::kUndefined ? entry->dtype : info.dtype;
    tensor->set_data_type(ConfigDataType(dtype));
    if (entry != nullptr && entry->has_dims) {
      for (int64_t d : entry->dims) tensor->add_dims(d);
      return;
    }
    // With batching, Triton's dims leave out the batch dimension.
    for (size_t i = max_batch > 0 ? 1 : 0; i < info.shape.size(); ++i) {
      tensor->add_dims(info.shape[i] < 0 ? -1 : info.shape[i]);
    }
  };
  for (const TensorInfo& info : (*model)->inputs()) {
    describe(info, file != nullptr ? &file->inputs : nullptr, config->add_input());
  }
  for (const TensorInfo& info : (*model)->outputs()) {
    describe(info, file != nullptr ? &file->outputs : nullptr, config->add_output());
  }
  if (!(*model)->node_profile().empty()) {
    nlohmann::json profile = nlohmann::json::array();
    for (const NodeProfile& step : (*model)->node_profile()) {
      profile.push_back({{"name", step.name}, {"op", step.op}, {"ms", step.median_ms}});
    }
    (*config->mutable_parameters())[net::kNodeProfileParam].set_string_value(profile.dump());
  }
  return grpc::Status::OK;
}

grpc::Status GrpcService::ModelStatistics(grpc::ServerContext* context,
                                          const inference::ModelStatisticsRequest* request,
                                          inference::ModelStatisticsResponse* response) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  if (!request->name().empty()) {
    auto model = state_->repository->Find(request->name(), request->version());
    if (!model.ok()) return ToGrpc(model.status());
  }
  const std::vector<ModelCounters> counters = state_->metrics->Snapshot(request->name());
  for (const auto& model : state_->repository->All()) {
    if (!request->name().empty() && model->name() != request->name()) continue;
    if (!request->version().empty() && model->version() != request->version()) continue;
    ModelCounters c;
    for (const ModelCounters& k : counters) {
      if (k.name == model->name() && k.version == model->version()) c = k;
    }
    auto* s = response->add_model_stats();
    s->set_name(model->name());
    s->set_version(model->version());
    s->set_last_inference(c.last_inference_ms);
    s->set_inference_count(c.inference_count);
    s->set_execution_count(c.execution_count);
    auto* stats = s->mutable_inference_stats();
    stats->mutable_success()->set_count(c.success_count);
    stats->mutable_success()->set_ns(c.success_ns);
    stats->mutable_fail()->set_count(c.fail_count);
    stats->mutable_fail()->set_ns(c.fail_ns);
    stats->mutable_queue()->set_count(c.success_count);
    stats->mutable_queue()->set_ns(c.queue_ns);
    stats->mutable_compute_infer()->set_count(c.success_count);
    stats->mutable_compute_infer()->set_ns(c.compute_ns);
  }
  return grpc::Status::OK;
}

grpc::Status GrpcService::RepositoryIndex(grpc::ServerContext* context,
                                          const inference::RepositoryIndexRequest* request,
                                          inference::RepositoryIndexResponse* response) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  for (const ModelIndexEntry& e : state_->repository->Index()) {
    if (request->ready() && e.state != "READY") continue;
    auto* m = response->add_models();
    m->set_name(e.name);
    m->set_version(e.version);
    m->set_state(e.state);
    m->set_reason(e.reason);
  }
  return grpc::Status::OK;
}

grpc::Status GrpcService::RepositoryModelLoad(grpc::ServerContext* context,
                                              const inference::RepositoryModelLoadRequest* request,
                                              inference::RepositoryModelLoadResponse*) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  const std::string& name = request->model_name();
  if (!IsValidModelName(name)) {
    return ToGrpc(Status::InvalidArgument("invalid model name '" + name + "'"));
  }
  // Files are "file:<version>/model.onnx"; "config" (JSON) is accepted and not interpreted.
  std::vector<std::pair<std::string, const std::string*>> files;
  for (const auto& [key, value] : request->parameters()) {
    if (key == net::kModelConfigParam) continue;
    const std::string kPrefix = net::kModelFilePrefix, kSuffix = net::kModelFileSuffix;
    if (key.rfind(kPrefix, 0) != 0) {
      return ToGrpc(Status::InvalidArgument("unknown load parameter '" + key + "'"));
    }
    if (key.size() <= kPrefix.size() + kSuffix.size() ||
        key.compare(key.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      return ToGrpc(Status::InvalidArgument(
          "unsupported model file '" + key.substr(kPrefix.size()) +
          "': only '<version>/model.onnx' (self-contained, no external data) is accepted"));
    }
    if (value.parameter_choice_case() != inference::ModelRepositoryParameter::kBytesParam) {
      return ToGrpc(Status::InvalidArgument("load parameter '" + key + "' must be bytes_param"));
    }
    const std::string version =
        key.substr(kPrefix.size(), key.size() - kPrefix.size() - kSuffix.size());
    files.push_back({version, &value.bytes_param()});
  }
  if (files.empty()) return ToGrpc(ReloadModel(*state_, name, context->deadline()));
  if (!state_->allow_upload) {
    return ToGrpc(Status(StatusCode::kPermissionDenied,
                         "model upload is disabled on this server (start it with --allow-upload)"));
  }
  for (const auto& [version, bytes] : files) {
    EI_GRPC_RETURN_IF_ERROR(UploadModel(*state_, name, version, *bytes, context->deadline()));
  }
  return grpc::Status::OK;
}

grpc::Status GrpcService::RepositoryModelUnload(
    grpc::ServerContext* context, const inference::RepositoryModelUnloadRequest* request,
    inference::RepositoryModelUnloadResponse*) {
  EI_GRPC_RETURN_IF_ERROR(Authorize(context));
  return ToGrpc(state_->repository->Unload(request->model_name()));
}

}  // namespace edgeinfer::server

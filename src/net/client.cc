#include "net/client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "inference.grpc.pb.h"
#include "net/codec.h"
#include "net/model_hash.h"
#include "net/protocol.h"
#include "net/transfer_codec.h"

namespace edgeinfer::net {

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A numeric reply parameter in whichever representation the server chose; `fallback` if absent.
double NumberParameter(const google::protobuf::Map<std::string, inference::InferParameter>& params,
                       const std::string& key, double fallback) {
  auto it = params.find(key);
  if (it == params.end()) return fallback;
  const inference::InferParameter& p = it->second;
  switch (p.parameter_choice_case()) {
    case inference::InferParameter::kInt64Param:
      return static_cast<double>(p.int64_param());
    case inference::InferParameter::kUint64Param:
      return static_cast<double>(p.uint64_param());
    case inference::InferParameter::kDoubleParam:
      return p.double_param();
    case inference::InferParameter::kStringParam: {
      char* end = nullptr;
      double v = std::strtod(p.string_param().c_str(), &end);
      return end != p.string_param().c_str() ? v : fallback;
    }
    default:
      return fallback;
  }
}

}  // namespace

Status ParseEndpoint(const std::string& endpoint, EdgeClientOptions* options) {
  std::string rest = endpoint;
  options->tls = !options->tls_ca_file.empty();
  if (rest.rfind("grpcs://", 0) == 0) {
    options->tls = true;
    rest = rest.substr(8);
  } else if (rest.rfind("grpc://", 0) == 0) {
    options->tls = !options->tls_ca_file.empty();
    rest = rest.substr(7);
  } else if (rest.find("://") != std::string::npos) {
    return Status::InvalidArgument("accelerator endpoint '" + endpoint +
                                   "': unknown scheme (use grpc://HOST:PORT or grpcs://HOST:PORT)");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  if (rest.empty() || colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return Status::InvalidArgument("accelerator endpoint '" + endpoint +
                                   "': expected HOST:PORT with a numeric port");
  }
  options->address = rest;
  return Status::Ok();
}

struct EdgeClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub;

  // A context with the deadline and the token; one per call (gRPC contexts are single use).
  void Prepare(const EdgeClientOptions& options, grpc::ClientContext* context,
               int timeout_ms = 0) const {
    context->set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : options.timeout_ms));
    if (!options.token.empty()) context->AddMetadata("authorization", "Bearer " + options.token);
  }

  static Status Convert(const grpc::Status& s, const EdgeClientOptions& options, const char* call,
                        int timeout_ms = 0) {
    if (s.ok()) return Status::Ok();
    std::string message = "edge server " + options.address + ": " + call + ": " + s.error_message();
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      message +=
          " (deadline " + std::to_string(timeout_ms > 0 ? timeout_ms : options.timeout_ms) + " ms)";
    }
    // gRPC and edgeinfer share the canonical code numbering.
    return Status(static_cast<StatusCode>(s.error_code()), message);
  }
};

EdgeClient::EdgeClient(EdgeClientOptions options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}

EdgeClient::~EdgeClient() = default;

Result<std::unique_ptr<EdgeClient>> EdgeClient::Connect(const EdgeClientOptions& options) {
  if (options.address.empty()) return Status::InvalidArgument("edge server address is empty");
  if (options.timeout_ms <= 0) {
    return Status::InvalidArgument("edge server timeout must be positive, got " +
                                   std::to_string(options.timeout_ms) + " ms");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_file.empty()) {
      auto pem = ReadFileBytes(options.tls_ca_file);
      if (!pem.ok()) {
        return Status::NotFound("TLS CA file '" + options.tls_ca_file +
                                "': " + pem.status().ToString());
      }
      ssl.pem_root_certs = std::move(pem).value();
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  // Tensors and models may be large; the per-call deadline bounds the cost instead.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // A large HTTP/2 receive window so big replies stream without waiting on window updates.
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 20);
  if (options.keepalive_ms > 0) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, options.keepalive_ms);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, options.keepalive_ms);
    // Pings while a call waits for a long computation carry no data; without these gRPC stops
    // pinging after two of them.
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  }
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateCustomChannel(options.address, credentials, args);
  impl->stub = inference::GRPCInferenceService::NewStub(impl->channel);
  return std::unique_ptr<EdgeClient>(new EdgeClient(options, std::move(impl)));
}

Status EdgeClient::ServerLive() {
  grpc::ClientContext context;
  impl_->Prepare(options_, &context);
  inference::ServerLiveRequest request;
  inference::ServerLiveResponse response;
  EI_RETURN_IF_ERROR(
      Impl::Convert(impl_->stub->ServerLive(&context, request, &response), options_, "ServerLive"));
  if (!response.live())
    return Status::Unavailable("edge server " + options_.address + " is not live");
  return Status::Ok();
}

Status EdgeClient::ServerReady() {
  grpc::ClientContext context;
  impl_->Prepare(options_, &context);
  inference::ServerReadyRequest request;
  inference::ServerReadyResponse response;
  EI_RETURN_IF_ERROR(Impl::Convert(impl_->stub->ServerReady(&context, request, &response), options_,
                                   "ServerReady"));
  if (!response.ready()) {
    return Status::Unavailable("edge server " + options_.address + " is not ready");
  }
  return Status::Ok();
}

Result<bool> EdgeClient::ModelReady(const std::string& name, const CallOptions& call) {
  grpc::ClientContext context;
  impl_->Prepare(options_, &context, call.timeout_ms);
  inference::ModelReadyRequest request;
  request.set_name(name);
  inference::ModelReadyResponse response;
  grpc::Status s = impl_->stub->ModelReady(&context, request, &response);
  // Triton answers an unknown model with NOT_FOUND (or UNAVAILABLE) rather than ready=false.
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return false;
  EI_RETURN_IF_ERROR(Impl::Convert(s, options_, "ModelReady", call.timeout_ms));
  return response.ready();
}

Status EdgeClient::LoadModel(const std::string& name, const std::string& bytes,
                             const CallOptions& call) {
  // One request carries the whole model, and protobuf cannot serialize a message of 2 GiB.
  constexpr size_t kMaxUploadBytes = (size_t{1} << 31) - (size_t{1} << 20);
  if (bytes.size() > kMaxUploadBytes) {
    return Status::ResourceExhausted(
        "edge server " + options_.address + ": model '" + name + "' has " +
        std::to_string(bytes.size()) + " bytes; one upload is limited to " +
        std::to_string(kMaxUploadBytes) + " (protobuf's 2 GiB message limit)");
  }
  grpc::ClientContext context;
  impl_->Prepare(options_, &context, call.timeout_ms);
  inference::RepositoryModelLoadRequest request;
  request.set_model_name(name);
  (*request.mutable_parameters())[kModelFileParam].set_bytes_param(bytes);
  inference::RepositoryModelLoadResponse response;
  return Impl::Convert(impl_->stub->RepositoryModelLoad(&context, request, &response), options_,
                       "RepositoryModelLoad", call.timeout_ms);
}

Result<std::string> EdgeClient::EnsureModel(const std::string& bytes) {
  std::string name = ContentModelName(bytes);
  EI_ASSIGN_OR_RETURN(bool ready, ModelReady(name));
  if (!ready) EI_RETURN_IF_ERROR(LoadModel(name, bytes));
  return name;
}

Result<std::vector<NodeProfile>> EdgeClient::ServerProfile(const std::string& model) {
  grpc::ClientContext context;
  impl_->Prepare(options_, &context);
  inference::ModelConfigRequest request;
  request.set_name(model);
  inference::ModelConfigResponse response;
  EI_RETURN_IF_ERROR(Impl::Convert(impl_->stub->ModelConfig(&context, request, &response), options_,
                                   "ModelConfig"));
  const auto& params = response.config().parameters();
  auto it = params.find(kNodeProfileParam);
  if (it == params.end()) {
    return Status::NotFound("edge server " + options_.address + " reports no node profile for " +
                            "model '" + model + "' (dynamic input shapes, or not an edgeinfer " +
                            "server)");
  }
  const std::string where =
      "edge server " + options_.address + ": node profile of model '" + model + "'";
  nlohmann::json json = nlohmann::json::parse(it->second.string_value(), nullptr, false);
  if (json.is_discarded() || !json.is_array()) {
    return Status::DataLoss(where + " is not a JSON array");
  }
  std::vector<NodeProfile> profile;
  for (const nlohmann::json& step : json) {
    if (!step.is_object() || !step.contains("name") || !step["name"].is_string() ||
        !step.contains("ms") || !step["ms"].is_number()) {
      return Status::DataLoss(where + ": an entry lacks a string 'name' or a number 'ms'");
    }
    NodeProfile p;
    p.name = step["name"].get<std::string>();
    if (step.contains("op") && step["op"].is_string()) p.op = step["op"].get<std::string>();
    p.median_ms = step["ms"].get<double>();
    profile.push_back(std::move(p));
  }
  return profile;
}

Result<std::vector<NamedTensor>> EdgeClient::Infer(const std::string& model,
                                                   const std::vector<NamedTensor>& inputs,
                                                   const std::vector<std::string>& output_names,
                                                   InferTiming* timing,
                                                   const TransferOptions& transfer,
                                                   const CallOptions& call) {
  const auto start = Clock::now();
  EI_ASSIGN_OR_RETURN(const Codec codec, ParseCodec(transfer.compression));
  EI_ASSIGN_OR_RETURN(const Quantization quantization, ParseQuantization(transfer.quantization));
  const bool encode = codec != Codec::kNone || quantization != Quantization::kNone;
  double compress_ms = 0.0;
  int64_t raw_input_bytes = 0;
  std::map<std::string, double> compression_ratio;
  inference::ModelInferRequest request;
  request.set_model_name(model);
  if (!call.request_id.empty()) request.set_id(call.request_id);
  for (const auto& [key, value] : call.parameters) {
    (*request.mutable_parameters())[key].set_int64_param(value);
  }
  for (const NamedTensor& in : inputs) {
    const char* datatype = KserveDatatype(in.tensor.dtype());
    if (datatype == nullptr) {
      return Status::InvalidArgument("input '" + in.name + "' has dtype " +
                                     DTypeName(in.tensor.dtype()) +
                                     ", which the inference protocol cannot carry");
    }
    auto* tensor = request.add_inputs();
    tensor->set_name(in.name);
    tensor->set_datatype(datatype);
    for (int64_t d : in.tensor.shape()) tensor->add_shape(d);
    auto rows = transfer.input_rows.find(in.name);
    if (rows != transfer.input_rows.end()) {
      (*tensor->mutable_parameters())[kRowOffsetParam].set_int64_param(rows->second.first);
      (*tensor->mutable_parameters())[kFullHeightParam].set_int64_param(rows->second.second);
    }
    std::string* raw = request.add_raw_input_contents();
    raw_input_bytes += static_cast<int64_t>(in.tensor.nbytes());
    if (!encode) {
      raw->reserve(in.tensor.nbytes());
      EncodeRawTensor(in.tensor, raw);
      continue;
    }
    const auto encode_start = Clock::now();
    Result<TransferEncoding> encoding = EncodeTransferTensor(in.tensor, codec, quantization, raw);
    if (!encoding.ok()) {
      return Status(encoding.status().code(),
                    "input '" + in.name + "': " + encoding.status().message());
    }
    WriteTransferParameters(*encoding, tensor->mutable_parameters());
    compress_ms += MsSince(encode_start);
    compression_ratio[in.name] =
        in.tensor.nbytes() == 0 || !encoding->encoded()
            ? 1.0
            : static_cast<double>(raw->size()) / static_cast<double>(in.tensor.nbytes());
  }
  for (const std::string& name : output_names) {
    auto* out = request.add_outputs();
    out->set_name(name);
    auto rows = transfer.output_rows.find(name);
    if (rows != transfer.output_rows.end()) {
      (*out->mutable_parameters())[kRowBeginParam].set_int64_param(rows->second.first);
      (*out->mutable_parameters())[kRowEndParam].set_int64_param(rows->second.second);
    }
  }

  grpc::ClientContext context;
  impl_->Prepare(options_, &context, call.timeout_ms);
  // The reply owns the output bytes; tensors decoded from it keep it alive.
  auto response = std::make_shared<inference::ModelInferResponse>();
  EI_RETURN_IF_ERROR(Impl::Convert(impl_->stub->ModelInfer(&context, request, response.get()),
                                   options_, "ModelInfer", call.timeout_ms));
  if (!call.request_id.empty() && response->id() != call.request_id) {
    return Status::DataLoss("edge server " + options_.address + ": reply id '" + response->id() +
                            "' is not request id '" + call.request_id + "' (reply dropped)");
  }

  const int n = response->outputs_size();
  if (response->raw_output_contents_size() != n) {
    return Status::DataLoss("edge server " + options_.address + ": reply for model '" + model +
                            "' has " + std::to_string(n) + " outputs but " +
                            std::to_string(response->raw_output_contents_size()) +
                            " raw output buffers");
  }
  std::map<std::string, Tensor> by_name;
  std::vector<NamedTensor> in_reply_order;
  for (int i = 0; i < n; ++i) {
    const auto& out = response->outputs(i);
    Shape shape(out.shape().begin(), out.shape().end());
    EI_ASSIGN_OR_RETURN(Tensor t,
                        DecodeRawTensor(out.name(), out.datatype(), shape,
                                        response->raw_output_contents(i), response, SIZE_MAX));
    auto rows = transfer.output_rows.find(out.name());
    if (rows != transfer.output_rows.end()) {
      auto offset = out.parameters().find(kRowOffsetParam);
      const int64_t want = rows->second.second - rows->second.first;
      if (offset == out.parameters().end() || offset->second.int64_param() != rows->second.first ||
          shape.size() != 4 || shape[2] != want) {
        return Status::DataLoss("edge server " + options_.address + ": output '" + out.name() +
                                "' does not hold the requested rows [" +
                                std::to_string(rows->second.first) + ", " +
                                std::to_string(rows->second.second) + ")");
      }
    }
    by_name[out.name()] = t;
    in_reply_order.push_back({out.name(), std::move(t)});
  }
  std::vector<NamedTensor> result;
  if (output_names.empty()) {
    result = std::move(in_reply_order);
  } else {
    for (const std::string& name : output_names) {
      auto it = by_name.find(name);
      if (it == by_name.end()) {
        return Status::DataLoss("edge server " + options_.address + ": reply for model '" + model +
                                "' lacks requested output '" + name + "'");
      }
      result.push_back({name, it->second});
    }
  }
  if (timing != nullptr) {
    timing->round_trip_ms = MsSince(start);
    timing->server_queue_ms = NumberParameter(response->parameters(), kQueueUsParam, 0) / 1e3;
    timing->server_compute_ms = NumberParameter(response->parameters(), kComputeUsParam, 0) / 1e3;
    timing->load_factor = NumberParameter(response->parameters(), kLoadFactorParam, 0);
    timing->server_other_ms = NumberParameter(response->parameters(), kOtherUsParam, 0) / 1e3;
    timing->bytes_sent = static_cast<int64_t>(request.ByteSizeLong());
    timing->bytes_received = static_cast<int64_t>(response->ByteSizeLong());
    timing->compress_ms = compress_ms;
    timing->raw_input_bytes = raw_input_bytes;
    timing->compression_ratio = std::move(compression_ratio);
    timing->collab_servers =
        static_cast<int64_t>(NumberParameter(response->parameters(), kCollabServersParam, 0));
    auto missed = response->parameters().find(kDeadlineMissedParam);
    timing->deadline_missed = missed != response->parameters().end() &&
                              (missed->second.bool_param() || missed->second.int64_param() != 0);
  }
  return result;
}

}  // namespace edgeinfer::net

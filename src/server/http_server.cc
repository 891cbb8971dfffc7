#include "server/http_server.h"

// Debian's libcpp-httplib is compiled with these features; the header must see the same ones.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "net/codec.h"
#include "server/auth.h"
#include "server/grpc_service.h"
#include "server/http_codec.h"

namespace edgeinfer::server {

namespace {

using nlohmann::json;

// Regex groups: 1 model name, 3 version (may be empty).
constexpr char kModelPrefix[] = R"(/v2/models/([^/]+)(/versions/([0-9]+))?)";

int HttpCode(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

void SendError(httplib::Response& res, const Status& status) {
  res.status = HttpCode(status.code());
  res.set_content(json{{"error", status.message()}}.dump(), "application/json");
}

json TensorInfos(const std::vector<TensorInfo>& infos) {
  json list = json::array();
  for (const TensorInfo& info : infos) {
    const char* datatype = net::KserveDatatype(info.dtype);
    Shape shape;
    for (int64_t d : info.shape) shape.push_back(d < 0 ? -1 : d);
    list.push_back({{"name", info.name},
                    {"datatype", datatype != nullptr ? datatype : "INVALID"},
                    {"shape", shape}});
  }
  return list;
}

}  // namespace

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 >= address.size()) return false;
  *host = address.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  int value = 0;
  for (size_t i = colon + 1; i < address.size(); ++i) {
    const char c = address[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
    if (value > 65535) return false;
  }
  *port = value;
  return !host->empty();
}

struct HttpFrontEnd::Impl {
  const ServerState* state = nullptr;
  std::unique_ptr<httplib::Server> server;
  std::thread listener;
  int port = 0;

  // Unauthenticated requests are refused before routing; GET /metrics too (it names models).
  bool Authorized(const httplib::Request& req, httplib::Response& res) const {
    const std::string* header = nullptr;
    std::string value;
    if (req.has_header("Authorization")) {
      value = req.get_header_value("Authorization");
      header = &value;
    }
    Status s = CheckBearer(header, state->tokens);
    if (s.ok()) return true;
    SendError(res, s);
    return false;
  }

  void Routes() {
    server->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return Authorized(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                  : httplib::Server::HandlerResponse::Handled;
    });
    server->Get("/v2/health/live",
                [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    server->Get("/v2/health/ready",
                [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    server->Get("/v2", [](const httplib::Request&, httplib::Response& res) {
      json j = {{"name", std::string(kServerName)},
                {"version", std::string(kServerVersion)},
                {"extensions", ServerExtensions()}};
      res.set_content(j.dump(), "application/json");
    });
    server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(state->metrics->Prometheus(), "text/plain; version=0.0.4");
    });
    server->Get(std::string(kModelPrefix) + "/ready",
                [this](const httplib::Request& req, httplib::Response& res) {
                  const bool ready = state->repository->Find(req.matches[1], req.matches[3]).ok();
                  res.status = ready ? 200 : 400;
                });
    server->Get(std::string(kModelPrefix) + "/?",
                [this](const httplib::Request& req, httplib::Response& res) {
                  const std::string name = req.matches[1];
                  auto model = state->repository->Find(name, req.matches[3]);
                  if (!model.ok()) return SendError(res, model.status());
                  json j = {{"name", name},
                            {"versions", state->repository->Versions(name)},
                            {"platform", "onnxruntime_onnx"},
                            {"inputs", TensorInfos((*model)->inputs())},
                            {"outputs", TensorInfos((*model)->outputs())}};
                  res.set_content(j.dump(), "application/json");
                });
    server->Post(std::string(kModelPrefix) + "/infer",
                 [this](const httplib::Request& req, httplib::Response& res) { Infer(req, res); });
  }

  void Infer(const httplib::Request& req, httplib::Response& res) const {
    const auto received = std::chrono::steady_clock::now();
    int64_t json_length = -1;
    if (req.has_header("Inference-Header-Content-Length")) {
      const std::string v = req.get_header_value("Inference-Header-Content-Length");
      char* end = nullptr;
      json_length = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || json_length < 0) {
        return SendError(
            res, Status::InvalidArgument("bad Inference-Header-Content-Length '" + v + "'"));
      }
    }
    Result<HttpInferRequest> parsed =
        ParseHttpInfer(req.body, json_length, state->max_tensor_bytes);
    if (!parsed.ok()) return SendError(res, parsed.status());
    parsed->call.model = req.matches[1];
    parsed->call.version = req.matches[3];
    Result<InferReply> reply = RunInference(*state, parsed->call);
    if (!reply.ok()) return SendError(res, reply.status());
    const int64_t handler_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - received)
                                   .count();
    reply->other_us = std::max<int64_t>(0, handler_us - reply->queue_us - reply->compute_us);
    Result<HttpInferBody> body = BuildHttpInfer(parsed->call.model, *parsed, *reply);
    if (!body.ok()) return SendError(res, body.status());
    if (body->json_length >= 0) {
      res.set_header("Inference-Header-Content-Length", std::to_string(body->json_length));
      res.set_content(body->body, "application/octet-stream");
    } else {
      res.set_content(body->body, "application/json");
    }
  }
};

HttpFrontEnd::HttpFrontEnd(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpFrontEnd::~HttpFrontEnd() { Stop(); }

Result<std::unique_ptr<HttpFrontEnd>> HttpFrontEnd::Start(const ServerState* state,
                                                          const HttpOptions& options) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(options.address, &host, &port)) {
    return Status::InvalidArgument("bad HTTP address '" + options.address + "' (HOST:PORT)");
  }
  auto impl = std::make_unique<Impl>();
  impl->state = state;
  if (!options.tls_cert.empty()) {
    impl->server =
        std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
  } else {
    impl->server = std::make_unique<httplib::Server>();
  }
  if (!impl->server->is_valid()) {
    return Status::InvalidArgument("cannot set up the HTTP server (TLS certificate or key?)");
  }
  impl->server->set_payload_max_length(options.max_body_bytes);
  impl->Routes();
  impl->port = port == 0 ? impl->server->bind_to_any_port(host)
                         : (impl->server->bind_to_port(host, port) ? port : -1);
  if (impl->port <= 0) {
    return Status::Unavailable("cannot listen for HTTP on '" + options.address + "'");
  }
  httplib::Server* server = impl->server.get();
  impl->listener = std::thread([server] { server->listen_after_bind(); });
  return std::unique_ptr<HttpFrontEnd>(new HttpFrontEnd(std::move(impl)));
}

void HttpFrontEnd::Stop() {
  if (!impl_ || !impl_->listener.joinable()) return;
  impl_->server->stop();
  impl_->listener.join();
}

int HttpFrontEnd::port() const { return impl_->port; }

}  // namespace edgeinfer::server

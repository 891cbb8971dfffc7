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
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "net/codec.h"
#include "server/auth.h"
#include "server/grpc_service.h"
#include "server/http_codec.h"

// cpp-httplib serves a connection in Server::process_and_close_socket, a private virtual
// function (SSLServer overrides it for TLS). Our accept loop hands admitted connections to it;
// an explicit instantiation may name a private member (C++17 [temp.explicit]/12), which is how
// this pointer is obtained. Calls through it dispatch virtually, so TLS works as well.
namespace edgeinfer_httplib_access {
using ProcessFn = bool (httplib::Server::*)(socket_t);
ProcessFn ProcessAndClose();
template <ProcessFn F>
struct Grant {
  friend ProcessFn ProcessAndClose() { return F; }
};
template struct Grant<&httplib::Server::process_and_close_socket>;

// The listening socket is a protected member; a derived class may name it.
struct ListenSocket : httplib::Server {
  static std::atomic<socket_t> httplib::Server::*Member() { return &ListenSocket::svr_sock_; }
};
}  // namespace edgeinfer_httplib_access

namespace edgeinfer::server {

namespace {

using nlohmann::json;
namespace access = edgeinfer_httplib_access;

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
      return 429;  // a full queue; a request too large to accept is 413 (ParseError)
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

void SendError(httplib::Response& res, const Status& status, int http_code) {
  res.status = http_code;
  res.set_content(json{{"error", status.message()}}.dump(), "application/json");
}

void SendError(httplib::Response& res, const Status& status) {
  SendError(res, status, HttpCode(status.code()));
}

// Refusing a request's contents (before it reaches the queue): over a size limit is 413
// Payload Too Large, not 429 Too Many Requests, which says "retry later" (a full queue).
void SendRequestError(httplib::Response& res, const Status& status) {
  SendError(res, status,
            status.code() == StatusCode::kResourceExhausted ? 413 : HttpCode(status.code()));
}

std::string PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, text, sizeof(text));
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, text, sizeof(text));
  }
  return text;
}

int PeerPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return 0;
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
  HttpOptions options;
  std::unique_ptr<httplib::Server> server;
  int listen_fd = -1;
  std::thread acceptor;
  std::thread watchdog;
  int port = 0;

  // One admitted connection. Reading: since `since`, the client has been sending a request
  // (or idling between requests); handling: a handler runs.
  struct Connection {
    int fd = -1;
    std::string client;
    bool handling = false;
    bool closed = false;  // the watchdog shut it down
    Clock::TimePoint since;
  };
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;                          // guarded by mu
  std::map<std::string, Connection> connections;  // by "address:port"; guarded by mu
  std::map<std::string, int> per_client;          // open connections; guarded by mu
  // Connection threads, joined once done (by the acceptor) or at Stop; guarded by mu.
  std::map<std::thread::id, std::thread> threads;
  std::vector<std::thread::id> done;  // guarded by mu

  static std::string Key(const std::string& address, int port) {
    return address + ":" + std::to_string(port);
  }

  void MarkHandling(const httplib::Request& req, bool handling) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = connections.find(Key(req.remote_addr, req.remote_port));
    if (it == connections.end()) return;
    it->second.handling = handling;
    it->second.since = options.clock->Now();
  }

  void AcceptLoop() {
    while (true) {
      pollfd p{listen_fd, POLLIN, 0};
      const int ready = poll(&p, 1, 100);
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping) return;
      }
      if (ready <= 0) continue;
      const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      Admit(fd);
    }
  }

  void Admit(int fd) {
    const std::string client = PeerAddress(fd);
    const std::string key = Key(client, PeerPort(fd));
    {
      std::lock_guard<std::mutex> lock(mu);
      const bool admitted = static_cast<int>(connections.size()) < options.max_connections &&
                            per_client[client] < options.max_connections_per_client &&
                            connections.count(key) == 0;
      if (admitted) {
        ++per_client[client];
        connections[key] = Connection{fd, client, false, false, options.clock->Now()};
      } else if (per_client[client] == 0) {
        per_client.erase(client);
      }
      if (!admitted) {
        // Answered without reading the request, so a refused client costs no thread.
        const std::string body = R"({"error":"too many connections"})";
        const std::string reply =
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        (void)!send(fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        close(fd);
        return;
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    for (const std::thread::id& id : done) {
      threads[id].join();
      threads.erase(id);
    }
    done.clear();
    std::thread t([this, fd, key, client] {
      // Reads, dispatches and writes every request of the connection, then closes it.
      (server.get()->*access::ProcessAndClose())(fd);
      std::lock_guard<std::mutex> lock(mu);
      connections.erase(key);
      if (--per_client[client] == 0) per_client.erase(client);
      done.push_back(std::this_thread::get_id());
      cv.notify_all();
    });
    threads[t.get_id()] = std::move(t);
  }

  // Shuts down connections that have been reading one request for longer than the timeout; the
  // connection's thread then sees the end of the stream and closes it.
  void WatchdogLoop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      cv.wait_for(lock, std::chrono::milliseconds(50));
      const Clock::TimePoint now = options.clock->Now();
      for (auto& [key, c] : connections) {
        if (!c.handling && !c.closed && now - c.since >= options.request_timeout) {
          shutdown(c.fd, SHUT_RDWR);
          c.closed = true;
        }
      }
    }
  }

  void StopServing() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) return;
      stopping = true;
    }
    cv.notify_all();
    if (acceptor.joinable()) acceptor.join();
    if (watchdog.joinable()) watchdog.join();
    // cpp-httplib's keep-alive loop ends once its listening socket is invalid.
    std::atomic<socket_t>& svr_sock = server.get()->*access::ListenSocket::Member();
    svr_sock = INVALID_SOCKET;
    shutdown(listen_fd, SHUT_RDWR);
    close(listen_fd);
    std::unique_lock<std::mutex> lock(mu);
    for (auto& [key, c] : connections) {
      if (!c.handling) shutdown(c.fd, SHUT_RDWR);
    }
    // A handler that is running finishes (the scheduler has stopped, so it is quick).
    cv.wait(lock, [&] { return connections.empty(); });
    std::map<std::thread::id, std::thread> remaining = std::move(threads);
    lock.unlock();
    for (auto& [id, t] : remaining) t.join();
  }

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

  // Runs before the body is read: an inference body over its limits is refused from its
  // Content-Length without reading it (a 200 MB JSON body would take seconds to parse).
  bool BodyAcceptable(const httplib::Request& req, httplib::Response& res) const {
    if (req.method != "POST" || !req.has_header("Content-Length")) return true;
    const uint64_t length =
        std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
    if (length > options.max_body_bytes) {
      SendError(res,
                Status::ResourceExhausted("request body of " + std::to_string(length) +
                                          " bytes is over the limit of " +
                                          std::to_string(options.max_body_bytes)),
                413);
      return false;
    }
    uint64_t json_length = length;
    if (req.has_header("Inference-Header-Content-Length")) {
      json_length = std::strtoull(req.get_header_value("Inference-Header-Content-Length").c_str(),
                                  nullptr, 10);
    }
    if (json_length > options.max_json_bytes) {
      SendError(res,
                Status::ResourceExhausted(
                    "the JSON part of the request has " + std::to_string(json_length) +
                    " bytes, over the limit of " + std::to_string(options.max_json_bytes) +
                    "; send large tensors as binary data (Inference-Header-Content-Length)"),
                413);
      return false;
    }
    return true;
  }

  void Routes() {
    server->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return Authorized(req, res) && BodyAcceptable(req, res)
                 ? httplib::Server::HandlerResponse::Unhandled
                 : httplib::Server::HandlerResponse::Handled;
    });
    // Handlers run once the request is read: the request timeout stops, and starts again for
    // the next request once the reply is ready.
    server->set_post_routing_handler(
        [this](const httplib::Request& req, httplib::Response&) { MarkHandling(req, false); });
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
      // The queue gauge is what a HorizontalPodAutoscaler scales on (docs/deploy.md).
      std::string text = state->metrics->Prometheus();
      text +=
          "# HELP edgeinfer_queue_length Inference requests waiting for a worker\n"
          "# TYPE edgeinfer_queue_length gauge\n"
          "edgeinfer_queue_length " +
          std::to_string(state->scheduler->queue_length()) + "\n";
      res.set_content(text, "text/plain; version=0.0.4");
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
                 [this](const httplib::Request& req, httplib::Response& res) {
                   MarkHandling(req, true);
                   Infer(req, res);
                 });
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
    if (!parsed.ok()) return SendRequestError(res, parsed.status());
    parsed->call.model = req.matches[1];
    parsed->call.version = req.matches[3];
    Result<InferReply> reply = RunInference(*state, parsed->call);
    if (!reply.ok()) return SendError(res, reply.status());
    const int64_t handler_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - received)
                                   .count();
    reply->other_us = std::max<int64_t>(0, handler_us - reply->queue_us - reply->compute_us);
    const int64_t deadline_ms = parsed->call.deadline_ms;
    if (deadline_ms > 0 && handler_us > deadline_ms * 1000) reply->deadline_missed = true;
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
  impl->options = options;
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
  const time_t idle_s =
      static_cast<time_t>(std::max<int64_t>(1, (options.idle_timeout.count() + 999) / 1000));
  impl->server->set_keep_alive_timeout(idle_s);
  impl->server->set_read_timeout(idle_s, 0);
  impl->Routes();
  impl->port = port == 0 ? impl->server->bind_to_any_port(host)
                         : (impl->server->bind_to_port(host, port) ? port : -1);
  if (impl->port <= 0) {
    return Status::Unavailable("cannot listen for HTTP on '" + options.address + "'");
  }
  impl->listen_fd = impl->server.get()->*access::ListenSocket::Member();
  // cpp-httplib listens with a backlog of 5: a burst of connections beyond it waits for SYN
  // retransmissions (1 s, then 3 s). Listening again only raises the backlog.
  listen(impl->listen_fd, SOMAXCONN);
  Impl* raw = impl.get();
  impl->acceptor = std::thread([raw] { raw->AcceptLoop(); });
  impl->watchdog = std::thread([raw] { raw->WatchdogLoop(); });
  return std::unique_ptr<HttpFrontEnd>(new HttpFrontEnd(std::move(impl)));
}

void HttpFrontEnd::Stop() {
  if (!impl_) return;
  impl_->StopServing();
}

int HttpFrontEnd::port() const { return impl_->port; }

}  // namespace edgeinfer::server

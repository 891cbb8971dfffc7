#include "server/server.h"

#include <grpcpp/grpcpp.h>

#include <climits>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/units.h"
#include "net/endpoint_pool.h"
#include "planner/collab_plan.h"
#include "server/auth.h"
#include "server/collab_host.h"
#include "server/grpc_guard.h"
#include "server/grpc_service.h"
#include "server/http_server.h"
#include "server/inference.h"
#include "server/log_limit.h"

namespace edgeinfer::server {

namespace {

Result<std::string> ReadText(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(std::string("cannot read ") + what + " '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

struct EdgeServer::Impl {
  std::unique_ptr<CollabHost> collab;  // outlives the schedulers' workers, which use it
  std::unique_ptr<ModelRepository> repository;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<Scheduler> loader;
  Metrics metrics;
  ServerState state;
  std::unique_ptr<GrpcService> service;
  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<HttpFrontEnd> http;
  ServerPorts ports;

  std::mutex mu;
  std::condition_variable cv;
  bool started = false;  // guarded by mu
  bool stopped = false;  // guarded by mu
};

EdgeServer::EdgeServer() : impl_(std::make_unique<Impl>()) {}

EdgeServer::~EdgeServer() { Shutdown(); }

Status EdgeServer::Start(const ServerOptions& options) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->started) return Status::FailedPrecondition("the server was already started");
    impl_->started = true;
  }
  if (options.workers < 1 || options.max_queue < 1 || options.max_message_bytes <= 0 ||
      options.max_model_bytes <= 0 || options.max_model_nodes <= 0) {
    return Status::InvalidArgument(
        "--workers must be >= 1, --max-queue >= 1, --max-message-bytes, --max-model-bytes and "
        "--max-model-nodes > 0");
  }
  if (options.http_max_connections < 1 || options.http_max_connections_per_client < 1 ||
      options.http_request_timeout_ms <= 0 || options.http_idle_timeout_ms <= 0) {
    return Status::InvalidArgument(
        "--http-max-connections and --http-max-connections-per-client must be >= 1, "
        "--http-request-timeout-ms and --http-idle-timeout-ms > 0");
  }
  // Invalid UTF-8 in a request's strings makes protobuf log a line per request.
  LimitProtobufLogging();
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return Status::InvalidArgument("--tls-cert and --tls-key must be given together");
  }
  Impl& s = *impl_;
  CollabOptions collab;
  if (!options.peers.empty()) {
    EI_ASSIGN_OR_RETURN(collab.scheme, planner::ParseCollabScheme(options.collab_scheme));
    if (options.peer_timeout_ms <= 0) {
      return Status::InvalidArgument("--peer-timeout-ms must be > 0");
    }
    net::EdgeClientOptions base;
    base.timeout_ms = options.peer_timeout_ms;
    Result<std::vector<net::EdgeClientOptions>> peers =
        net::ParseEndpointList(options.peers, base);
    if (!peers.ok()) return peers.status().WithContext("--peers");
    collab.peers = std::move(peers).value();
    collab.peer_timeout_ms = options.peer_timeout_ms;
    if (!options.collab_speeds.empty()) {
      size_t start = 0;
      while (start <= options.collab_speeds.size()) {
        size_t end = options.collab_speeds.find(',', start);
        if (end == std::string::npos) end = options.collab_speeds.size();
        Result<double> speed =
            ParseNumber(options.collab_speeds.substr(start, end - start), "--collab-speeds");
        if (!speed.ok()) return speed.status();
        collab.static_speeds.push_back(*speed);
        start = end + 1;
      }
    }
  } else if (!options.collab_speeds.empty()) {
    return Status::InvalidArgument("--collab-speeds needs --peers");
  }
  if (!options.token_file.empty()) {
    EI_ASSIGN_OR_RETURN(s.state.tokens, LoadTokens(options.token_file));
  }
  RepositoryOptions repo;
  repo.directory = options.repository;
  repo.max_model_bytes = static_cast<size_t>(options.max_model_bytes);
  repo.model.threads = options.threads;
  repo.model.max_nodes = static_cast<size_t>(options.max_model_nodes);
  s.repository = std::make_unique<ModelRepository>(repo);
  SchedulerOptions sched;
  sched.workers = options.workers;
  sched.threads = options.threads;
  sched.max_queue = options.max_queue;
  s.scheduler = std::make_unique<Scheduler>(sched);
  // One loader thread: loads queue behind each other, never behind (or in front of) inference.
  SchedulerOptions load_sched = sched;
  load_sched.workers = 1;
  s.loader = std::make_unique<Scheduler>(load_sched);
  s.state.repository = s.repository.get();
  s.state.scheduler = s.scheduler.get();
  s.state.loader = s.loader.get();
  s.state.metrics = &s.metrics;
  s.state.allow_upload = options.allow_upload;
  s.state.max_tensor_bytes = static_cast<size_t>(options.max_message_bytes);

  if (!options.repository.empty()) {
    // Loading runs on a worker, within the thread budget, like every later load.
    Status loaded = Status::Internal("repository load did not run");
    EI_RETURN_IF_ERROR(s.loader->Run([&] { loaded = s.repository->LoadAll(); },
                                     Scheduler::Clock::time_point::max(), nullptr));
    if (!loaded.ok()) {
      std::fprintf(stderr, "edgeinfer serve: warning: %s\n", loaded.ToString().c_str());
    }
  }

  if (!collab.peers.empty()) {
    EI_ASSIGN_OR_RETURN(s.collab, CollabHost::Create(std::move(collab)));
    s.state.collab = s.collab.get();
  }
  std::string cert, key;
  if (!options.tls_cert.empty()) {
    EI_ASSIGN_OR_RETURN(cert, ReadText(options.tls_cert, "TLS certificate"));
    EI_ASSIGN_OR_RETURN(key, ReadText(options.tls_key, "TLS key"));
  }
  // Tokens are checked on a call's headers, before its message is read (server/grpc_guard.h).
  std::shared_ptr<grpc::ServerCredentials> credentials =
      GuardedCredentials(s.state.tokens, &s.state.stopping, cert, key);
  s.service = std::make_unique<GrpcService>(&s.state);
  grpc::ServerBuilder builder;
  const int max_message = static_cast<int>(std::min<int64_t>(options.max_message_bytes, INT_MAX));
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  // A large HTTP/2 receive window so that a big request streams without waiting for window
  // updates from this (possibly busy) process; the client sets the same for replies.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 20);
  // Devices with several servers send keepalive pings (net::EdgeClientOptions::keepalive_ms) to
  // notice a silent partition within seconds; accept one per 500 ms instead of answering them
  // with GOAWAY (gRPC's default minimum is 5 minutes).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddListeningPort(options.grpc_address, credentials, &s.ports.grpc);
  builder.RegisterService(s.service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<MalformedRequestInterceptorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  s.grpc_server = builder.BuildAndStart();
  if (s.grpc_server == nullptr || s.ports.grpc == 0) {
    s.scheduler->Shutdown();
    s.loader->Shutdown();
    return Status::Unavailable("cannot listen for gRPC on '" + options.grpc_address + "'");
  }
  if (s.collab != nullptr) {
    // The port is known only now (0 picks one).
    Status self = CheckPeersAreNotSelf(s.collab->options().peers, s.ports.grpc);
    if (!self.ok()) {
      s.grpc_server->Shutdown();
      s.scheduler->Shutdown();
      s.loader->Shutdown();
      return self;
    }
  }
  if (!options.http_address.empty()) {
    HttpOptions http;
    http.address = options.http_address;
    http.tls_cert = options.tls_cert;
    http.tls_key = options.tls_key;
    http.max_body_bytes = static_cast<size_t>(options.max_message_bytes);
    http.max_connections = options.http_max_connections;
    http.max_connections_per_client = options.http_max_connections_per_client;
    http.request_timeout = std::chrono::milliseconds(options.http_request_timeout_ms);
    http.idle_timeout = std::chrono::milliseconds(options.http_idle_timeout_ms);
    http.clock = options.clock != nullptr ? options.clock : RealClock();
    Result<std::unique_ptr<HttpFrontEnd>> front = HttpFrontEnd::Start(&s.state, http);
    if (!front.ok()) {
      s.grpc_server->Shutdown();
      s.scheduler->Shutdown();
      s.loader->Shutdown();
      return front.status();
    }
    s.http = std::move(front).value();
    s.ports.http = s.http->port();
  }
  return Status::Ok();
}

void EdgeServer::Wait() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->stopped || !impl_->started; });
}

void EdgeServer::Shutdown() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopped) return;
    s.stopped = true;
  }
  // From here on the front ends answer new calls UNAVAILABLE without touching the queue.
  s.state.stopping.store(true, std::memory_order_release);
  // Queued requests fail and running ones finish here (the scheduler joins its workers), so
  // every handler is about to return. The grace period only lets their replies be written:
  // gRPC otherwise waits for the whole deadline whenever a client holds an idle connection.
  if (s.scheduler) s.scheduler->Shutdown();
  if (s.loader) s.loader->Shutdown();
  if (s.http) s.http->Stop();
  if (s.grpc_server) {
    // Calls that passed the gate just before `stopping` was set reach their handler (which
    // answers UNAVAILABLE) rather than being cancelled by gRPC's shutdown below.
    constexpr auto kDrain = std::chrono::milliseconds(50);
    std::this_thread::sleep_for(kDrain);
    constexpr auto kReplyGrace = std::chrono::milliseconds(300);
    s.grpc_server->Shutdown(std::chrono::system_clock::now() + kReplyGrace);
    s.grpc_server->Wait();
  }
  s.cv.notify_all();
}

ServerPorts EdgeServer::ports() const { return impl_->ports; }

}  // namespace edgeinfer::server

// EdgeServer: the edge daemon as a library class (used by `edgeinfer serve` and by tests).
//
// Start() loads and profiles the repository, then listens for gRPC (KServe v2 / Triton) and,
// when http_address is set, HTTP/REST v2 with Prometheus /metrics. Model loads (the repository,
// uploads, reloads) run on a loader thread of their own, so a slow load never delays
// inference. Shutdown() stops both front ends (calls arriving meanwhile get UNAVAILABLE), fails
// queued requests with UNAVAILABLE and lets running ones finish. Not copyable; Start once.
#ifndef EDGEINFER_SERVER_SERVER_H_
#define EDGEINFER_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"
#include "edgeinfer/status.h"

namespace edgeinfer::server {

struct ServerOptions {
  std::string grpc_address = "0.0.0.0:8001";  // HOST:PORT; port 0 picks a free port
  std::string http_address = "0.0.0.0:8000";  // "" disables HTTP
  std::string repository;                     // model directory; "" for uploads only
  int threads = 0;                            // kernel threads per worker; <= 0 all cores
  int workers = 1;
  int max_queue = 64;
  int64_t max_message_bytes = int64_t{1} << 30;
  int64_t max_model_bytes = int64_t{1} << 30;
  // Models with more nodes are refused before any per-node work (load time grows with it).
  int64_t max_model_nodes = 10000;
  // HTTP connections: at most this many open at once, and per client address; a connection
  // over either bound is answered 503 and closed at once. Each admitted one holds a thread.
  int http_max_connections = 256;
  int http_max_connections_per_client = 32;
  // Reading one HTTP request (headers and body) may take at most this long, however slowly
  // the bytes trickle in; then the connection is closed. An idle keep-alive connection is
  // closed after http_idle_timeout_ms.
  int64_t http_request_timeout_ms = 30000;
  int64_t http_idle_timeout_ms = 5000;
  const Clock* clock = RealClock();  // time source of the HTTP request timeout (tests: FakeClock)
  std::string token_file;            // one bearer token a line; "" disables authentication
  std::string tls_cert;              // PEM files; both or neither
  std::string tls_key;
  bool allow_upload = false;
  // Collaborative host (server/collab_host.h): the peers ("HOST:PORT,..." or dns:///NAME:PORT;
  // "" disables it), how long a peer's band may take, and the scheme ("halp" or "modnn").
  std::string peers;
  int peer_timeout_ms = 5000;
  std::string collab_scheme = "halp";
  // "1,0.5,...": a static plan with these relative speeds (the host first, then each peer), links
  // taken as free; "" plans from measured speeds and links (CollabOptions::static_speeds).
  std::string collab_speeds;
};

struct ServerPorts {
  int grpc = 0;
  int http = 0;  // 0 when HTTP is disabled
};

class EdgeServer {
 public:
  EdgeServer();
  ~EdgeServer();  // Shutdown()
  EdgeServer(const EdgeServer&) = delete;
  EdgeServer& operator=(const EdgeServer&) = delete;

  // Errors: a bad option (InvalidArgument), unreadable token or TLS files (NotFound), a port
  // that cannot be bound (Unavailable). A repository model that fails to load does not stop
  // the server: it is listed UNAVAILABLE with its reason, and a warning goes to stderr.
  Status Start(const ServerOptions& options);
  // Blocks until Shutdown() is called (from another thread or a signal handler thread).
  void Wait();
  // Idempotent; safe from any thread but a request handler.
  void Shutdown();

  ServerPorts ports() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_SERVER_H_

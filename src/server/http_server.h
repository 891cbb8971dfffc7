// The KServe v2 HTTP/REST front end (with Triton's binary tensor extension) and Prometheus
// GET /metrics, over the same ServerState as the gRPC service; compute still goes through the
// scheduler.
//
// Connections are admitted by our own accept loop, not cpp-httplib's fixed pool of 8 threads
// (which 8 idle clients could stall): each admitted connection gets a thread, up to
// max_connections in all and max_connections_per_client per client address; a connection over
// either bound is answered 503 and closed without reading it. A watchdog closes a connection
// that takes longer than request_timeout to send one request (headers and body), however slowly
// it trickles bytes; an idle keep-alive connection is closed after idle_timeout. So health,
// metrics and inference stay served while slow or idle clients hold connections.
#ifndef EDGEINFER_SERVER_HTTP_SERVER_H_
#define EDGEINFER_SERVER_HTTP_SERVER_H_

#include <chrono>
#include <memory>
#include <string>

#include "core/clock.h"
#include "edgeinfer/status.h"
#include "server/inference.h"

namespace edgeinfer::server {

struct HttpOptions {
  std::string address = "0.0.0.0:8000";  // HOST:PORT; port 0 picks a free port
  std::string tls_cert;                  // PEM files; both empty: plain HTTP
  std::string tls_key;
  size_t max_body_bytes = size_t{1} << 30;
  // The JSON part of an inference request (the whole body without the binary extension): a
  // larger one is refused with 413 from its Content-Length, before the body is read. Big
  // tensors belong in binary data.
  size_t max_json_bytes = size_t{32} << 20;
  int max_connections = 256;
  int max_connections_per_client = 32;
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds idle_timeout{5000};  // whole seconds (rounded up) in cpp-httplib
  const Clock* clock = RealClock();              // the watchdog's time source
};

class HttpFrontEnd {
 public:
  // Binds and starts serving. Unavailable when the address cannot be bound.
  static Result<std::unique_ptr<HttpFrontEnd>> Start(const ServerState* state,
                                                     const HttpOptions& options);
  ~HttpFrontEnd();  // Stop()
  // Stops listening and joins the listener. Idempotent.
  void Stop();
  int port() const;

  struct Impl;

 private:
  explicit HttpFrontEnd(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "HOST:PORT" (HOST may be "[v6]"); false when malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_HTTP_SERVER_H_

// The KServe v2 HTTP/REST front end (with Triton's binary tensor extension) and Prometheus
// GET /metrics, over the same ServerState as the gRPC service. Runs its own listener thread
// and cpp-httplib's connection pool; compute still goes through the scheduler.
#ifndef EDGEINFER_SERVER_HTTP_SERVER_H_
#define EDGEINFER_SERVER_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "edgeinfer/status.h"
#include "server/inference.h"

namespace edgeinfer::server {

struct HttpOptions {
  std::string address = "0.0.0.0:8000";  // HOST:PORT; port 0 picks a free port
  std::string tls_cert;                  // PEM files; both empty: plain HTTP
  std::string tls_key;
  size_t max_body_bytes = size_t{1} << 30;
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

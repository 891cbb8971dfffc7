// EdgeClient: the device side of the KServe v2 gRPC protocol (see proto/inference.proto).
//
// One client holds one channel to one edge server. It is thread safe: every method may be
// called concurrently (gRPC stubs and channels are). Every call carries a deadline and, when
// configured, a bearer token; gRPC errors become Status with the same code and a message that
// names the server and the call.
#ifndef EDGEINFER_NET_CLIENT_H_
#define EDGEINFER_NET_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "edgeinfer/status.h"

namespace edgeinfer::net {

struct EdgeClientOptions {
  std::string address;      // "HOST:PORT"
  bool tls = false;         // TLS with tls_ca_file (or the system roots when it is empty)
  std::string tls_ca_file;  // PEM CA bundle
  std::string token;        // sent as "authorization: Bearer <token>" when non-empty
  int timeout_ms = 30000;   // deadline of each call (CallOptions::timeout_ms may shorten one)
  // HTTP/2 keepalive pings every keepalive_ms while a call is in flight, and a call fails
  // UNAVAILABLE when a ping is not answered within keepalive_ms: a silent partition is noticed
  // in seconds instead of at the deadline. 0: off (gRPC's default). The server must accept
  // pings that often (edgeinfer serve accepts one per 500 ms).
  int keepalive_ms = 0;
};

// Per-call settings that override EdgeClientOptions for one call.
struct CallOptions {
  int timeout_ms = 0;      // deadline of this call; <= 0: EdgeClientOptions::timeout_ms
  std::string request_id;  // sent as the request's "id"; a reply with another id is dropped
  // Request-level parameters (int64_param), e.g. edgeinfer_collab and edgeinfer_deadline_ms
  // (net/protocol.h).
  std::map<std::string, int64_t> parameters;
};

// Parses "grpc://HOST:PORT", "grpcs://HOST:PORT" or "HOST:PORT" into address and tls (a bare
// address uses TLS iff tls_ca_file is set). Errors name the endpoint.
Status ParseEndpoint(const std::string& endpoint, EdgeClientOptions* options);

// What one inference cost, as seen by the client and as reported by the server.
struct InferTiming {
  double round_trip_ms = 0.0;      // from before serialising the request to the decoded reply
  double server_queue_ms = 0.0;    // reply parameter "edgeinfer_queue_us"
  double server_compute_ms = 0.0;  // reply parameter "edgeinfer_compute_us"
  double load_factor = 0.0;        // reply parameter "edgeinfer_load_factor" (0 if absent)
  double server_other_ms = 0.0;    // reply parameter "edgeinfer_other_us": server time outside
                                   // queue and compute (decoding, compiling a new slice)
  double compress_ms = 0.0;        // client time spent compressing / quantising the inputs
  int64_t bytes_sent = 0;          // serialized request
  int64_t bytes_received = 0;      // serialized reply
  int64_t raw_input_bytes = 0;     // the inputs before compression / quantisation
  // Per input, whenever TransferOptions ask for compression or quantisation: wire bytes / raw
  // bytes (1.0 for an input sent as is because it did not shrink). The planner learns from it.
  std::map<std::string, double> compression_ratio;
  // Collaborative mode (reply parameters edgeinfer_collab_servers, edgeinfer_deadline_missed):
  // the servers that computed part of the request (0: not reported) and whether the host
  // finished it after its deadline.
  int64_t collab_servers = 0;
  bool deadline_missed = false;
};

// How the inputs of one Infer travel. Compression is lossless; quantisation (float32 inputs
// only) is lossy and off unless asked for. See docs/protocol.md for the wire parameters.
struct TransferOptions {
  std::string compression;   // "" (raw), "lz4" or "zstd"
  std::string quantization;  // "" (none), "fp16" or "int8"
  // Row bands (docs/protocol.md, "Row bands"): per banded input, {first row held, full height};
  // per requested output, the rows wanted {begin, end}. The reply's outputs then hold exactly
  // those rows (checked). Empty: whole tensors.
  std::map<std::string, std::pair<int64_t, int64_t>> input_rows;
  std::map<std::string, std::pair<int64_t, int64_t>> output_rows;
};

class EdgeClient {
 public:
  // Creates the channel (connection is lazy: the first call connects). Errors: an unreadable CA
  // file, an empty address.
  static Result<std::unique_ptr<EdgeClient>> Connect(const EdgeClientOptions& options);
  ~EdgeClient();
  EdgeClient(const EdgeClient&) = delete;
  EdgeClient& operator=(const EdgeClient&) = delete;

  const EdgeClientOptions& options() const { return options_; }

  Status ServerLive();
  // ServerReady: Ok when ready, Unavailable when the server answers that it is not (draining,
  // or no model ready and uploads refused).
  Status ServerReady();
  // Whether the server has `name` loaded and ready (false, not an error, when it is unknown).
  Result<bool> ModelReady(const std::string& name, const CallOptions& call = {});
  // Uploads `bytes` as model `name` (RepositoryModelLoad, parameter "file:1/model.onnx").
  Status LoadModel(const std::string& name, const std::string& bytes, const CallOptions& call = {});
  // Makes sure the server holds the model in `bytes`, uploading it only when ModelReady says it
  // does not; returns its repository name (ContentModelName in net/model_hash.h).
  Result<std::string> EnsureModel(const std::string& bytes);
  // The server's load-time profile of `model` (ModelConfig parameter "edgeinfer_node_profile"):
  // one entry per executed step in execution order, with name, op and median_ms. Errors:
  // NotFound when the server reports none (a model with dynamic input shapes, or a server
  // that is not edgeinfer), DataLoss when the parameter is malformed.
  Result<std::vector<NodeProfile>> ServerProfile(const std::string& model);

  // Runs `model` on `inputs` (raw little-endian bytes, one copy into the request) and returns
  // the requested outputs in the order of `output_names` (all model outputs when it is empty,
  // in the server's order). Inputs may be intermediate tensors of the model: the server then
  // runs the slice from them to the outputs. Output tensors adopt the reply's buffer without
  // copying. `timing` may be null. With call.request_id set, a reply that carries another id is
  // a DataLoss error (a late or misrouted reply, dropped).
  Result<std::vector<NamedTensor>> Infer(const std::string& model,
                                         const std::vector<NamedTensor>& inputs,
                                         const std::vector<std::string>& output_names,
                                         InferTiming* timing, const TransferOptions& transfer = {},
                                         const CallOptions& call = {});

 private:
  struct Impl;
  EdgeClient(EdgeClientOptions options, std::unique_ptr<Impl> impl);

  const EdgeClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgeinfer::net

#endif  // EDGEINFER_NET_CLIENT_H_

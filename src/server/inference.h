// The transport-independent inference path shared by the gRPC and HTTP front ends: find the
// model, queue the slice run on the scheduler, record metrics, report load.
#ifndef EDGEINFER_SERVER_INFERENCE_H_
#define EDGEINFER_SERVER_INFERENCE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "net/transfer_codec.h"
#include "server/collab_host.h"
#include "server/metrics.h"
#include "server/repository.h"
#include "server/scheduler.h"

namespace edgeinfer::server {

struct InferCall {
  std::string model;
  std::string version;  // empty: newest
  std::vector<NamedTensor> inputs;
  std::vector<std::string> outputs;  // empty: the model outputs
  BandSpec band;                     // row-band geometry; empty for whole tensors
  bool collab = false;  // edgeinfer_collab: run as a collaborative host (server/collab_host.h)
  int64_t deadline_ms = 0;  // edgeinfer_deadline_ms; 0: none (reported, not enforced)
  Scheduler::Clock::time_point deadline = Scheduler::Clock::time_point::max();
};

// Load report of one request (docs/protocol.md names the reply parameters).
struct InferReply {
  std::string version;  // the version that ran
  std::vector<NamedTensor> outputs;
  std::map<std::string, int64_t> row_offsets;  // banded runs: first row each output holds
  int64_t queue_us = 0;
  int64_t compute_us = 0;
  double load_factor = 1.0;
  int64_t queue_length = 0;
  // Time of the request on the server outside queue and compute (decoding the request,
  // compiling a slice the first time it is asked for, encoding the reply); the front end sets
  // it, since only it sees the whole request.
  int64_t other_us = 0;
  int collab_servers = 0;  // collaborative requests: the servers that computed part of it
  // With a deadline: over it (the collaborative host's clock, or the front end's measure).
  bool deadline_missed = false;
};

// Everything a front end needs; owned by EdgeServer, outliving both front ends.
struct ServerState {
  ModelRepository* repository = nullptr;
  Scheduler* scheduler = nullptr;  // inference
  Scheduler* loader = nullptr;     // model loads; null: loads run on `scheduler`
  Metrics* metrics = nullptr;
  std::set<std::string> tokens;  // empty: no authentication
  bool allow_upload = false;
  // Set when the server has --peers: requests with edgeinfer_collab run through it; null:
  // they run whole here (edgeinfer_collab_servers 1).
  CollabHost* collab = nullptr;
  size_t max_tensor_bytes = size_t{1} << 30;
  // Set when shutdown begins: front ends answer new calls UNAVAILABLE from then on.
  std::atomic<bool> stopping{false};
};

// UNAVAILABLE "the server is shutting down" once `state.stopping` is set, else OK.
Status CheckNotStopping(const ServerState& state);

// Collects the row-band parameters (net/protocol.h) of a request's tensors, as either front end
// received them, into a BandSpec.
class BandParams {
 public:
  // Folds parameter `key` of input (`output` false) or requested output `tensor`; keys that are
  // not row-band parameters are ignored. A non-integer value, or an output parameter on an input
  // (or the reverse), is InvalidArgument naming the tensor and the parameter.
  Status Read(bool output, const std::string& tensor, const std::string& key,
              const net::TransferParamValue& value);
  // InvalidArgument naming the tensor when only one of a pair was given or rows are empty.
  Result<BandSpec> Finish() const;

 private:
  struct Pair {
    std::optional<int64_t> first, second;
  };
  std::map<std::string, Pair> inputs_;   // offset, full height
  std::map<std::string, Pair> outputs_;  // row begin, row end
};

// Folds request-level parameter `key` of the collaborative mode (edgeinfer_collab,
// edgeinfer_deadline_ms; docs/protocol.md) into `call`, as either front end received it: `flag`
// is set for a bool parameter, `integer` for an integer one. Other keys are ignored.
// InvalidArgument naming the parameter for a value of the wrong type or range.
Status ReadRequestParam(const std::string& key, std::optional<bool> flag,
                        std::optional<int64_t> integer, InferCall* call);

Result<InferReply> RunInference(const ServerState& state, const InferCall& call);

// Loads an uploaded model on the loader (so compilation and profiling stay within the thread
// budget and never wait in, or delay, the inference queue). PermissionDenied unless uploads are
// enabled; an already loaded content-named model (sha256-...) is kept as is.
Status UploadModel(const ServerState& state, const std::string& name, const std::string& version,
                   const std::string& bytes, Scheduler::Clock::time_point deadline);

// Reloads a model from the repository directory on the loader.
Status ReloadModel(const ServerState& state, const std::string& name,
                   Scheduler::Clock::time_point deadline);

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_INFERENCE_H_

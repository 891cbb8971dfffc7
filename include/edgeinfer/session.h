// Session: the device-side API. Open a model once, run it many times.
//
// A Session is thread safe: Run() may be called concurrently. A model whose input shapes are
// all static is compiled as the session opens; one with dynamic dimensions is compiled for
// each distinct set of input shapes it sees (resolved from the actual inputs), and the result
// cached.
//
// Offload to an edge server is transparent: when SessionOptions::accelerator is empty and the
// mode is not explicitly kLocal, Open reads the environment:
//   EDGEINFER_ACCELERATOR  grpc://HOST:PORT (plain) or grpcs://HOST:PORT (TLS)
//   EDGEINFER_TOKEN        bearer token sent with every call
//   EDGEINFER_TLS_CA       PEM file of the CA that signed the server's certificate
//   EDGEINFER_MODE         local | remote | split:CUT | auto | auto-noload | collab (default
//                          remote when an accelerator is set)
// so an unchanged program runs on the edge. The model is uploaded to the server only when the
// server does not already hold it (it is named by the SHA-256 of its bytes).
#ifndef EDGEINFER_SESSION_H_
#define EDGEINFER_SESSION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgeinfer/mode.h"
#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"

namespace edgeinfer {

struct SessionOptions {
  int threads = 0;              // kernel threads; <= 0 means all cores
  std::string backend = "cpu";  // "cpu" (oneDNN) or "reference" (naive kernels)

  // Edge server: "grpc://HOST:PORT", "grpcs://HOST:PORT" (TLS) or "HOST:PORT" (plain, or TLS
  // when tls_ca_file is set). Empty: EDGEINFER_ACCELERATOR, unless mode is kLocal. Several
  // servers: a comma list of those ("a:8001,b:8001") or "dns:///NAME:PORT" (every A record of
  // NAME is a server, e.g. a Kubernetes headless Service). A list turns on failover: requests
  // retry on another server, a server that lost the model gets it again, and health is tracked
  // (docs/architecture.md, "Several servers").
  std::string accelerator;
  std::string token;        // bearer token; empty: EDGEINFER_TOKEN
  std::string tls_ca_file;  // PEM CA bundle for TLS; empty: EDGEINFER_TLS_CA
  // Where the model runs (edgeinfer/mode.h). kSplit runs at `cut`; kAuto chooses the cut for
  // every request from the device's and the server's per-node profiles and the measured
  // bandwidth, RTT, server load factor and queue time (LoADPart; docs/planner.md); it needs
  // static model input shapes and profiles the device at open (cached on disk). kAutoNoLoad
  // does the same but ignores the server's load (Neurosurgeon). kCollab sends the whole model
  // to the accelerator, an edge server started with --peers, which runs it with its peers
  // (HALP; docs/architecture.md "collaborative"). Unset: EDGEINFER_MODE (its text
  // form), else kRemote when an accelerator is set, else kLocal.
  std::optional<ExecutionMode> mode;
  Cut cut;  // kSplit only: Cut::AfterNodes(N) or Cut::AtTensors({...})
  // A per-request deadline in milliseconds (0: none). A run that takes longer still returns
  // its outputs and sets RunStats::deadline_missed. kCollab sends it to the host
  // (edgeinfer_deadline_ms), which reports whether it finished in time.
  int deadline_ms = 0;
  // Sets `mode` and `cut` from a mode's text form ("split:conv5", "auto": ParseExecutionMode),
  // for programs that read the mode from a flag or a file. On error both stay unchanged.
  Status SetMode(std::string_view text);
  // Deadline of every call to the server (connecting, upload, inference), in milliseconds. With
  // failover it is the overall deadline of one request, over all its attempts.
  int timeout_ms = 30000;
  // Failover only: the deadline of one attempt; <= 0 splits the remaining deadline over the
  // attempts left (3 per request).
  int attempt_timeout_ms = 0;
  // "local": when no server can answer, run the model on this device instead of failing (turns
  // on failover, also with a single server). "": fail. Empty field: EDGEINFER_FALLBACK.
  std::string fallback;
};

// Where the time of one Run went, in milliseconds. Local runs fill total_ms and device_ms only.
// upload_ms and download_ms are the measured round trip minus the server-reported queue and
// compute time, split in proportion to the bytes sent and received.
struct RunStats {
  double total_ms = 0.0;            // wall time of the whole Run
  double device_ms = 0.0;           // compute on this device (the device part when offloading)
  double upload_ms = 0.0;           // request transfer
  double server_queue_ms = 0.0;     // waiting in the server's queue
  double server_compute_ms = 0.0;   // the server's compute
  double download_ms = 0.0;         // reply transfer
  int64_t bytes_sent = 0;           // serialized request size
  int64_t bytes_received = 0;       // serialized reply size
  double server_load_factor = 0.0;  // server-reported load factor (0: not reported)
  // Auto modes only: the cut this run took (Local, Remote or AfterNodes(N)), its predicted
  // total, whether the upload was compressed, and the estimates the decision used (bandwidth in
  // Mbit/s, RTT, server load factor k and queue time q).
  std::optional<Cut> cut;
  double predicted_ms = 0.0;
  bool compressed = false;
  double bandwidth_mbit = 0.0;
  double rtt_ms = 0.0;
  double load_factor_estimate = 0.0;
  double queue_ms_estimate = 0.0;
  // Failover (an accelerator list or a fallback): the server that answered ("HOST:PORT"; empty
  // when none did), the inference attempts this run made, and whether it ran locally because
  // no server could answer.
  std::string server;
  int attempts = 0;
  bool fell_back = false;
  // kCollab: the edge servers that computed part of this run, the host included (0: the
  // server did not say). With SessionOptions::deadline_ms: whether the run took longer (as
  // measured here, or as the host reported).
  int collab_servers = 0;
  bool deadline_missed = false;
};

// Name, dtype and shape (-1 for a dynamic dim) of a model input or output.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Per-node (or fused step) timing from Session::Profile.
struct NodeProfile {
  std::string name;  // node name(s), '+' joined when fused
  std::string op;    // op type(s), '+' joined when fused
  Shape output_shape;
  int64_t output_bytes = 0;
  double flops = 0.0;
  double median_ms = 0.0;
  // The step ran an op's naive reference kernel (no optimised path in the backend).
  bool reference = false;
};

class Session {
 public:
  virtual ~Session() = default;

  // Loads an ONNX model from a file (external data is resolved next to it).
  static Result<std::unique_ptr<Session>> Open(const std::string& model_path,
                                               const SessionOptions& options = {});
  // Loads an ONNX model from serialized bytes; `base_dir` resolves external data files.
  static Result<std::unique_ptr<Session>> OpenFromBytes(const std::string& bytes,
                                                        const std::string& base_dir,
                                                        const SessionOptions& options = {});

  virtual const std::vector<TensorInfo>& inputs() const = 0;
  virtual const std::vector<TensorInfo>& outputs() const = 0;

  // Runs the model. Every model input must be given (by name); outputs come in model order.
  virtual Result<std::vector<NamedTensor>> Run(const std::vector<NamedTensor>& inputs) = 0;

  // Run that also reports where the time went (`stats` may be null). The default times Run as
  // device compute; offloading sessions fill the transfer and server fields.
  virtual Result<std::vector<NamedTensor>> RunWithStats(const std::vector<NamedTensor>& inputs,
                                                        RunStats* stats);

  // The resolved execution mode, and the cut it runs at: Local() for kLocal, Remote() for
  // kRemote, the given cut for kSplit, Local() for the auto modes (their cut changes with every
  // request; RunStats::cut says which one a run took). ExecutionModeText(mode(), cut()) is the
  // text form ("split:12").
  virtual ExecutionMode mode() const { return ExecutionMode::kLocal; }
  virtual Cut cut() const { return Cut::Local(); }

  // Runs `repeat` times and reports per-step median latency, in execution order.
  virtual Result<std::vector<NodeProfile>> Profile(const std::vector<NamedTensor>& inputs,
                                                   int repeat) = 0;
};

}  // namespace edgeinfer

#endif  // EDGEINFER_SESSION_H_

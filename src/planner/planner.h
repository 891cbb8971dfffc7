// Choosing the cut for one request: predicted latency of every cut under the current
// estimates, minimum wins (LoADPart). The baselines share the interface.
//
// predicted = device part + upload(compressed bytes) / bandwidth + RTT
//             + k x server part + q + download / bandwidth
// where k (load factor) and q (queue ms) are the server's, estimated from its replies; the
// load-oblivious Neurosurgeon baseline uses k = 1, q = 0. All-local pays only the device part
// (the whole model). Deciding is O(cuts x crossing tensors) and allocation-free.
#ifndef EDGEINFER_PLANNER_PLANNER_H_
#define EDGEINFER_PLANNER_PLANNER_H_

#include <map>
#include <string>
#include <vector>

#include "edgeinfer/mode.h"
#include "edgeinfer/status.h"
#include "planner/cost_table.h"

namespace edgeinfer::planner {

enum class Policy {
  kLocal,         // everything on the device
  kRemote,        // everything on the server (the cut after 0 nodes)
  kFixed,         // a given cut
  kNeurosurgeon,  // bandwidth-aware, load-oblivious: k = 1, q = 0
  kLoadAware,     // bandwidth- and load-aware (LoADPart)
};

// The cut after the first `device_nodes` of `node_count` nodes: Remote() at 0, Local() at
// node_count (and beyond), AfterNodes(device_nodes) between. Auto sessions report their
// decisions this way, and `edgeinfer plan` prints them so.
Cut CutAt(int device_nodes, int node_count);

// Parses "neurosurgeon", "loadaware", "fixed:N" and the session modes' text forms that name a
// policy: "local", "remote", "split:N" (= fixed:N), "auto-noload", "auto".
Result<Policy> ParsePolicy(const std::string& text, int* fixed_device_nodes);
const char* PolicyName(Policy policy);

// Lossless compression of the uploaded tensors, as the cost model sees it.
struct CompressionModel {
  std::string codec;                    // "" (never compress), "lz4" or "zstd"
  double compress_mb_per_s = 0.0;       // device side; <= 0 disables compression
  double decompress_mb_per_s = 0.0;     // server side; <= 0 counts as free
  std::map<std::string, double> ratio;  // compressed / raw bytes, learnt per tensor name
  double default_ratio = 1.0;           // for tensors not yet seen
};

// What the planner knows about the world for this request.
struct Conditions {
  double bandwidth_mbit = 0.0;  // megabits per second, both directions; <= 0: unknown
  double rtt_ms = 0.0;
  double load_factor = 1.0;                       // k: server compute / its unloaded profile
  double queue_ms = 0.0;                          // q: server queue time
  double device_speed = 1.0;                      // device compute / its profile (1: as profiled)
  const CompressionModel* compression = nullptr;  // null: send raw
};

struct Prediction {
  int device_nodes = 0;
  bool compress = false;  // upload compressed with Conditions::compression->codec
  double total_ms = 0.0;
  double device_ms = 0.0;
  double upload_ms = 0.0;  // includes compression and decompression time when compress
  double rtt_ms = 0.0;
  double server_ms = 0.0;  // k x server part + q
  double download_ms = 0.0;
};

// The prediction for one cut under `conditions` (with the cheaper of raw and compressed
// upload). A cut that needs the network when the bandwidth is unknown predicts +infinity.
Prediction PredictCut(const CutCost& cut, const Conditions& conditions);

// Every cut's prediction, index == device_nodes (for `edgeinfer plan`).
std::vector<Prediction> PredictAll(const CostTable& table, const Conditions& conditions);

// The cut `policy` picks. kNeurosurgeon evaluates with k = 1 and q = 0 and then reports the
// prediction under the real conditions; kFixed uses `fixed_device_nodes` (clamped to the table).
Prediction Decide(const CostTable& table, const Conditions& conditions, Policy policy,
                  int fixed_device_nodes = 0);

// The cuts that are optimal for some server load factor k >= 0 when the other conditions hold
// (the lower envelope of the lines total(k) = rest + k x server part), as device node counts in
// order of increasing k: the first is the choice of an idle server, the last that of a saturated
// one. Of cuts with equal predictions the one with the fewest device nodes stands for all. Empty
// when no cut has a finite prediction.
std::vector<int> LoadEnvelope(const CostTable& table, const Conditions& conditions);

}  // namespace edgeinfer::planner

#endif  // EDGEINFER_PLANNER_PLANNER_H_

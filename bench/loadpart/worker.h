// The emulated weak device of bench_loadpart: a child process held to a CPU quota that opens
// and runs Sessions on request.
//
// The quota (testbed/cpu_quota.h, a cgroup) binds the whole process it is applied to, so the
// device sessions live in their own process and the benchmark itself (link emulator, load
// clients, bookkeeping) stays unlimited. Protocol: one JSON object a line on the worker's
// stdin, one JSON reply a line on its stdout (the worker moves everything else it might print
// to stderr).
#ifndef EDGEINFER_BENCH_LOADPART_WORKER_H_
#define EDGEINFER_BENCH_LOADPART_WORKER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "edgeinfer/status.h"
#include "loadpart/process.h"

namespace edgeinfer::bench {

// One measured request of one device session.
struct RunSample {
  double total_ms = 0.0;
  double device_ms = 0.0;
  double upload_ms = 0.0;
  double queue_ms = 0.0;
  double server_ms = 0.0;
  double download_ms = 0.0;
  double load_factor = 0.0;   // server-reported k (0: none, e.g. local)
  double predicted_ms = 0.0;  // the planner's prediction (auto modes only; 0 otherwise)
  std::string cut;            // the cut that ran: "local", "remote" or "split:N"
  int64_t bytes_sent = 0;
  // Auto modes only: whether the upload was compressed and the estimates the decision used.
  bool compressed = false;
  double est_bandwidth_mbit = 0.0;
  double est_rtt_ms = 0.0;
  double est_load_factor = 0.0;
  double est_queue_ms = 0.0;
};

// The deterministic input every device request uses (seeded, not all equal).
Tensor BenchInput(const Shape& shape);

// Zoo model `name` (seed 1) as ONNX bytes; the same bytes in every process, so the server holds
// one copy. Errors: unknown name.
Result<std::string> ZooModelBytes(const std::string& name);

// The worker's main: `argv` after "--device-worker".
int RunDeviceWorker(int argc, char** argv);

struct WorkerOptions {
  std::string self_exe;         // this binary
  std::string edge;             // what device sessions connect to (the link emulator)
  double cores = 0.5;           // CPU quota; <= 0: none
  double quota_period_ms = 10;  // CFS period of the quota (LimitCpu in testbed/cpu_quota.h)
  int threads = 1;              // kernel threads of device sessions
  int timeout_ms = 60000;
  std::vector<int> cpus;  // CPUs the worker is pinned to; empty: not pinned
};

// The benchmark's handle on the worker process.
class DeviceWorker {
 public:
  // Starts the worker and reads its greeting (which says whether the quota holds).
  static Result<std::unique_ptr<DeviceWorker>> Start(const WorkerOptions& options);

  // The quota as applied, or why it is not ("not limited: ...").
  const std::string& quota_note() const { return quota_note_; }
  bool quota_applied() const { return quota_applied_; }

  // Opens session `id` of zoo model `model` in `mode` and runs it once (warm-up: upload,
  // compile, server slice compile, device profile for auto modes).
  Status Open(const std::string& id, const std::string& model, const std::string& mode);
  Result<RunSample> Run(const std::string& id);
  Status Close(const std::string& id);
  // The device's per-node profile of `model` (a local session under the quota).
  Result<std::vector<NodeProfile>> Profile(const std::string& model, int repeat);

 private:
  DeviceWorker() = default;
  Result<std::string> Call(const std::string& request_json, int timeout_ms);

  std::unique_ptr<ChildProcess> child_;
  std::string quota_note_;
  bool quota_applied_ = false;
  int timeout_ms_ = 60000;
};

}  // namespace edgeinfer::bench

#endif  // EDGEINFER_BENCH_LOADPART_WORKER_H_

// Per-model request statistics, served as Triton's ModelStatistics and as Prometheus text
// (Triton's metric names, so existing dashboards work). Thread safe.
#ifndef EDGEINFER_SERVER_METRICS_H_
#define EDGEINFER_SERVER_METRICS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace edgeinfer::server {

struct ModelCounters {
  std::string name;
  std::string version;
  uint64_t success_count = 0;
  uint64_t success_ns = 0;  // request duration (queue + compute) of successes
  uint64_t fail_count = 0;
  uint64_t fail_ns = 0;
  uint64_t queue_ns = 0;    // over successes
  uint64_t compute_ns = 0;  // over successes
  uint64_t inference_count = 0;
  uint64_t execution_count = 0;
  uint64_t last_inference_ms = 0;  // since the epoch
};

class Metrics {
 public:
  void RecordSuccess(const std::string& model, const std::string& version, int64_t queue_us,
                     int64_t compute_us);
  // `duration_us`: time spent before failing (queue and compute), 0 when unknown.
  void RecordFailure(const std::string& model, const std::string& version, int64_t duration_us);

  // Counters of `model` (every version; every model when empty), ordered by name, version.
  std::vector<ModelCounters> Snapshot(const std::string& model = "") const;

  // Prometheus text exposition format 0.0.4: nv_inference_request_success,
  // nv_inference_request_failure, nv_inference_count, nv_inference_exec_count,
  // nv_inference_request_duration_us, nv_inference_queue_duration_us,
  // nv_inference_compute_infer_duration_us, each labelled {model, version}.
  std::string Prometheus() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, ModelCounters> counters_;  // guarded by mu_
};

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_METRICS_H_

#include "server/metrics.h"

#include <chrono>

namespace edgeinfer::server {

namespace {

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t Ns(int64_t us) { return us > 0 ? static_cast<uint64_t>(us) * 1000 : 0; }

// Label values escape backslash, double quote and newline (the exposition format's rule).
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void Metrics::RecordSuccess(const std::string& model, const std::string& version, int64_t queue_us,
                            int64_t compute_us) {
  std::lock_guard<std::mutex> lock(mu_);
  ModelCounters& c = counters_[{model, version}];
  c.name = model;
  c.version = version;
  ++c.success_count;
  c.success_ns += Ns(queue_us) + Ns(compute_us);
  c.queue_ns += Ns(queue_us);
  c.compute_ns += Ns(compute_us);
  ++c.inference_count;
  ++c.execution_count;
  c.last_inference_ms = NowMs();
}

void Metrics::RecordFailure(const std::string& model, const std::string& version,
                            int64_t duration_us) {
  std::lock_guard<std::mutex> lock(mu_);
  ModelCounters& c = counters_[{model, version}];
  c.name = model;
  c.version = version;
  ++c.fail_count;
  c.fail_ns += Ns(duration_us);
}

std::vector<ModelCounters> Metrics::Snapshot(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ModelCounters> out;
  for (const auto& [key, c] : counters_) {
    if (model.empty() || key.first == model) out.push_back(c);
  }
  return out;
}

std::string Metrics::Prometheus() const {
  struct Family {
    const char* name;
    const char* help;
    uint64_t (*get)(const ModelCounters&);
  };
  static const Family kFamilies[] = {
      {"nv_inference_request_success", "Number of successful inference requests",
       [](const ModelCounters& c) { return c.success_count; }},
      {"nv_inference_request_failure", "Number of failed inference requests",
       [](const ModelCounters& c) { return c.fail_count; }},
      {"nv_inference_count", "Number of inferences performed",
       [](const ModelCounters& c) { return c.inference_count; }},
      {"nv_inference_exec_count", "Number of model executions performed",
       [](const ModelCounters& c) { return c.execution_count; }},
      {"nv_inference_request_duration_us", "Cumulative inference request duration in microseconds",
       [](const ModelCounters& c) { return c.success_ns / 1000; }},
      {"nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds",
       [](const ModelCounters& c) { return c.queue_ns / 1000; }},
      {"nv_inference_compute_infer_duration_us",
       "Cumulative compute inference duration in microseconds",
       [](const ModelCounters& c) { return c.compute_ns / 1000; }},
  };
  const std::vector<ModelCounters> all = Snapshot();
  std::string out;
  for (const Family& f : kFamilies) {
    out += std::string("# HELP ") + f.name + " " + f.help + "\n";
    out += std::string("# TYPE ") + f.name + " counter\n";
    for (const ModelCounters& c : all) {
      out += std::string(f.name) + "{model=\"" + Escape(c.name) + "\",version=\"" +
             Escape(c.version) + "\"} " + std::to_string(f.get(c)) + "\n";
    }
  }
  return out;
}

}  // namespace edgeinfer::server

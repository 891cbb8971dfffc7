#include "runtime/auto_session.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "core/lru_cache.h"
#include "net/client.h"
#include "net/endpoint_pool.h"
#include "ops/passes.h"
#include "planner/cost_table.h"
#include "planner/estimators.h"
#include "planner/planner.h"
#include "runtime/auto_servers.h"
#include "runtime/device_profile.h"
#include "runtime/failover.h"
#include "runtime/local_session.h"
#include "runtime/remote_stats.h"
#include "runtime/session_inputs.h"
#include "runtime/split_plan.h"

namespace edgeinfer {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Compiled device parts kept (oldest dropped first): a decision moves between a few cuts,
// and each cut holds its own compiled device part.
constexpr size_t kMaxParts = 8;
// Timed ServerLive round trips at open (after one that connects).
constexpr int kRttProbes = 5;
// The probe slice uploads at least this much, so that its transfer is a bandwidth sample
// (LinkEstimator ignores transfers under 16 KiB).
constexpr int64_t kProbeMinBytes = 64 * 1024;
// A server part profiled at under this many milliseconds times too coarsely (microsecond
// timers, fused steps shared evenly) for its load factor to mean anything; only its queue time
// is used.
constexpr double kMinLoadFactorMs = 0.5;
// Failover: probes of down servers run this often.
constexpr int kFailoverProbePeriodMs = 100;
// Deadline of background probes: a probe never holds the destructor longer than this.
constexpr int kProbeTimeoutMs = 5000;
// Lossless codec tried for uploads. Its ratio per tensor and its speed are learnt from the
// first compressed upload of each cut.
constexpr char kCodec[] = "lz4";
// EWMA weight of a new compression sample.
constexpr double kCompressionAlpha = 0.5;
// Whole-model device runs at open that calibrate the device speed factor.
constexpr int kCalibrationRuns = 3;
// EWMA weight of a new device speed sample (after SmoothedValue's median of 3, so that one
// outlier run never moves the factor), and the smallest profiled device part (ms) that gives one
// (shorter device parts are dominated by timer and scheduling noise).
constexpr double kSpeedAlpha = 0.5;
constexpr double kMinSpeedSampleMs = 1.0;

// One cut as it runs: which tensors the device computes and sends, and the compiled device part.
struct Part {
  int device_nodes = 0;
  SplitPlan plan;
  std::unique_ptr<Session> device;  // null when the device computes nothing (remote)
};

class AutoSession final : public Session {
 public:
  AutoSession(Graph specialised, std::unique_ptr<Session> full,
              std::unique_ptr<net::EdgeClient> client, std::unique_ptr<net::EdgeClient> prober,
              std::unique_ptr<FailoverCaller> caller, size_t profiled_server, bool fallback_local,
              std::string model_name, planner::CostTable table, planner::Policy policy,
              SessionOptions options)
      : graph_(std::move(specialised)),
        full_(std::move(full)),
        client_(std::move(client)),
        prober_(std::move(prober)),
        caller_(std::move(caller)),
        profiled_server_(profiled_server),
        fallback_local_(fallback_local),
        model_name_(std::move(model_name)),
        table_(std::move(table)),
        policy_(policy),
        options_(std::move(options)) {
    compression_.codec = kCodec;
    if (caller_ != nullptr) {
      for (size_t i = 0; i < caller_->pool().size(); ++i) {
        server_load_.push_back(std::make_unique<planner::LoadEstimator>());
      }
    }
    // The cut with the smallest upload of at least kProbeMinBytes (the latest of equals, so
    // the server's share is small too): every probe costs the link as little as a bandwidth
    // sample allows. All-remote when no cut uploads that much.
    probe_cut_nodes_ = 0;
    int64_t probe_bytes = -1;
    for (int p = table_.node_count - 1; p >= 0; --p) {
      const int64_t bytes = table_.cuts[static_cast<size_t>(p)].upload_bytes;
      if (bytes >= kProbeMinBytes && (probe_bytes < 0 || bytes < probe_bytes)) {
        probe_cut_nodes_ = p;
        probe_bytes = bytes;
      }
    }
  }

  ~AutoSession() override {
    {
      std::lock_guard<std::mutex> lock(probe_mu_);
      stop_ = true;
    }
    probe_cv_.notify_all();
    if (probe_thread_.joinable()) probe_thread_.join();
  }

  const std::vector<TensorInfo>& inputs() const override { return full_->inputs(); }
  const std::vector<TensorInfo>& outputs() const override { return full_->outputs(); }
  ExecutionMode mode() const override {
    return policy_ == planner::Policy::kLoadAware ? ExecutionMode::kAuto
                                                  : ExecutionMode::kAutoNoLoad;
  }

  Result<std::vector<NamedTensor>> Run(const std::vector<NamedTensor>& inputs) override {
    return RunWithStats(inputs, nullptr);
  }

  Result<std::vector<NamedTensor>> RunWithStats(const std::vector<NamedTensor>& inputs,
                                                RunStats* stats) override;

  // The device's profile of the whole model (what the planner's device costs come from).
  Result<std::vector<NodeProfile>> Profile(const std::vector<NamedTensor>& inputs,
                                           int repeat) override {
    return full_->Profile(inputs, repeat);
  }

  // The link and load probes of open: RTT round trips, one remote run of zero inputs, one
  // probe slice; and the device speed factor from whole-model runs. Errors: the server's, the
  // device's.
  Status Warm(const std::vector<NamedTensor>& zeros);
  void StartProber() {
    probe_thread_ = std::thread([this] { ProbeLoop(); });
  }

 private:
  double NowMs() const { return probes_.NowMs(); }
  planner::Conditions CurrentConditions(planner::CompressionModel* snapshot) const;
  Result<std::shared_ptr<const Part>> GetPart(int device_nodes);
  // Feeds one reply's timing into the estimators; the cut it ran was after `device_nodes` nodes.
  // With failover, `server` (a pool index, or -1) also gets the reply's load sample.
  void Learn(const net::InferTiming& timing, int device_nodes, int server = -1);
  // Feeds a measured device time of the first `device_nodes` nodes into the device speed factor.
  void LearnDevice(double measured_ms, int device_nodes);
  // Zero tensors for every tensor the cut `part` sends.
  Result<std::vector<NamedTensor>> ZeroInputs(const Part& part) const;
  // One probe: a ServerLive round trip (RTT) and the probe slice on zero inputs (bandwidth,
  // load factor, queue time).
  Status Probe(net::EdgeClient& client);
  void ProbeLoop();

  const Graph graph_;                              // specialised to the model's static input shapes
  const std::unique_ptr<Session> full_;            // the whole model on this device
  const std::unique_ptr<net::EdgeClient> client_;  // thread safe
  const std::unique_ptr<net::EdgeClient> prober_;  // background probes, short deadline
  // Failover (an accelerator list): the server part's calls go through it; client_ and prober_
  // then talk to the server whose profile built the cost table, for the link and load probes.
  const std::unique_ptr<FailoverCaller> caller_;  // thread safe; may be null
  const size_t profiled_server_;  // with caller_: the pool index client_ and prober_ talk to
  const bool fallback_local_;     // with caller_: run locally when no server can answer
  // With caller_: one load estimator per pool server, fed by its replies (and, for
  // profiled_server_, by the probes). The link estimate is shared.
  std::vector<std::unique_ptr<planner::LoadEstimator>> server_load_;
  const std::string model_name_;
  const planner::CostTable table_;
  const planner::Policy policy_;
  const SessionOptions options_;
  int probe_cut_nodes_ = 0;  // the cut the probe slice starts from; fixed after construction
  // The time axis of the estimators and the prober's decisions (real time; tests of the
  // decisions use ProbeScheduler with a FakeClock). Thread safe.
  planner::ProbeScheduler probes_;

  planner::LinkEstimator link_;  // thread safe
  planner::LoadEstimator load_;  // thread safe

  mutable std::mutex mu_;
  planner::CompressionModel compression_;  // guarded by mu_
  // Measured device time / profiled: a per-step profile misses what only whole runs see, e.g.
  // a CFS quota that lets a burst run at full speed and then throttles the process.
  planner::SmoothedValue device_speed_;                          // guarded by mu_; 1 until a sample
  LruCache<int, std::shared_ptr<const Part>> parts_{kMaxParts};  // guarded by mu_

  std::mutex probe_mu_;
  std::condition_variable probe_cv_;
  bool stop_ = false;  // guarded by probe_mu_
  std::thread probe_thread_;
};

planner::Conditions AutoSession::CurrentConditions(planner::CompressionModel* snapshot) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    *snapshot = compression_;
  }
  planner::Conditions c;
  c.bandwidth_mbit = link_.bandwidth_mbit();
  c.rtt_ms = link_.rtt_ms();
  c.load_factor = load_.load_factor();
  c.queue_ms = load_.queue_ms();
  c.compression = snapshot;
  std::lock_guard<std::mutex> lock(mu_);
  c.device_speed = device_speed_.has_value() ? device_speed_.value() : 1.0;
  return c;
}

Result<std::shared_ptr<const Part>> AutoSession::GetPart(int device_nodes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto cached = parts_.Get(device_nodes)) return *cached;
  }
  // Compiled outside the lock; two first requests for one cut may both compile, and either
  // result is correct (compilation is deterministic).
  auto part = std::make_shared<Part>();
  part->device_nodes = device_nodes;
  EI_ASSIGN_OR_RETURN(part->plan, PlanSplit(graph_, Cut::AfterNodes(device_nodes)));
  if (!part->plan.local_targets.empty()) {
    EI_ASSIGN_OR_RETURN(Graph device_graph, graph_.Slice({}, part->plan.local_targets));
    EI_ASSIGN_OR_RETURN(part->device, MakeLocalSession(std::move(device_graph), options_));
    // The device part's session compiled as it opened (its input shapes are static); one run
    // here, on zeros, also keeps first-run costs (page faults, oneDNN's lazy initialisation)
    // out of the timed device runs that teach the device speed factor (a first run of a new
    // cut once took 10x its steady time and pushed the next decisions to the wrong cut).
    std::vector<NamedTensor> zeros;
    for (const TensorInfo& info : part->device->inputs()) {
      zeros.push_back({info.name, Tensor::Zeros(info.dtype, info.shape)});
    }
    EI_RETURN_IF_ERROR(part->device->Run(zeros).status());
  }
  std::lock_guard<std::mutex> lock(mu_);
  return parts_.Insert(device_nodes, std::move(part));
}

void AutoSession::Learn(const net::InferTiming& timing, int device_nodes, int server) {
  const double now = NowMs();
  // The wire's share of the round trip: what the server did not spend queued, computing or on
  // other work (decoding, compiling a new slice), and the client did not spend compressing.
  const double wire_ms = timing.round_trip_ms - timing.server_queue_ms - timing.server_compute_ms -
                         timing.server_other_ms - timing.compress_ms;
  link_.AddTransfer(timing.bytes_sent + timing.bytes_received, wire_ms, now);
  const bool k_meaningful =
      table_.cuts[static_cast<size_t>(device_nodes)].server_ms >= kMinLoadFactorMs;
  load_.AddReply(k_meaningful ? timing.load_factor : 0.0, timing.server_queue_ms, now);
  if (server >= 0 && static_cast<size_t>(server) < server_load_.size()) {
    server_load_[static_cast<size_t>(server)]->AddReply(k_meaningful ? timing.load_factor : 0.0,
                                                        timing.server_queue_ms, now);
  }
  if (timing.compression_ratio.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, ratio] : timing.compression_ratio) {
    auto it = compression_.ratio.find(name);
    if (it == compression_.ratio.end()) {
      compression_.ratio[name] = ratio;
    } else {
      it->second = kCompressionAlpha * ratio + (1.0 - kCompressionAlpha) * it->second;
    }
  }
  if (timing.compress_ms > 0.0 && timing.raw_input_bytes > 0) {
    // Megabytes (1e6) per second.
    const double speed = static_cast<double>(timing.raw_input_bytes) / (timing.compress_ms * 1e3);
    compression_.compress_mb_per_s =
        compression_.compress_mb_per_s > 0.0
            ? kCompressionAlpha * speed + (1.0 - kCompressionAlpha) * compression_.compress_mb_per_s
            : speed;
  }
}

void AutoSession::LearnDevice(double measured_ms, int device_nodes) {
  const double profiled = table_.cuts[static_cast<size_t>(device_nodes)].device_ms;
  if (profiled < kMinSpeedSampleMs || !(measured_ms > 0.0)) return;
  std::lock_guard<std::mutex> lock(mu_);
  device_speed_.Add(measured_ms / profiled, kSpeedAlpha);
}

Result<std::vector<NamedTensor>> AutoSession::ZeroInputs(const Part& part) const {
  std::vector<NamedTensor> zeros;
  for (const std::string& name : part.plan.remote_inputs) {
    const Value& v = graph_.value(graph_.FindValue(name));
    if (DTypeSize(v.dtype) == 0 || !v.shape_known()) {
      return Status::Internal("auto session of model '" + model_name_ + "': tensor '" + name +
                              "' has no static shape or dtype after specialisation");
    }
    zeros.push_back({name, Tensor::Zeros(v.dtype, v.shape)});
  }
  return zeros;
}

Result<std::vector<NamedTensor>> AutoSession::RunWithStats(const std::vector<NamedTensor>& inputs,
                                                           RunStats* stats) {
  const auto start = SteadyClock::now();
  probes_.NoteRequest();
  std::vector<Tensor> ordered;
  EI_RETURN_IF_ERROR(OrderInputs(full_->inputs(), inputs, &ordered));
  planner::CompressionModel compression;
  planner::Conditions conditions = CurrentConditions(&compression);
  planner::Prediction prediction;
  int preferred = -1;  // failover, load-aware: the server of the chosen (server, cut)
  std::vector<size_t> candidates;
  if (caller_ != nullptr && policy_ == planner::Policy::kLoadAware) {
    candidates = caller_->pool().Candidates();
  }
  if (!candidates.empty()) {
    // Each server under its own load; one whose estimate is stale (never used, or not for a
    // while) counts as unloaded, so that a request goes there and measures it.
    const double now = NowMs();
    std::vector<planner::Conditions> per_server(server_load_.size(), conditions);
    for (size_t i = 0; i < server_load_.size(); ++i) {
      const bool fresh = !server_load_[i]->Stale(now);
      per_server[i].load_factor = fresh ? server_load_[i]->load_factor() : 1.0;
      per_server[i].queue_ms = fresh ? server_load_[i]->queue_ms() : 0.0;
    }
    const ServerChoice choice = DecideAcrossServers(table_, per_server, candidates, policy_);
    prediction = choice.prediction;
    preferred = static_cast<int>(choice.server);
    conditions = per_server[choice.server];
  } else {
    prediction = planner::Decide(table_, conditions, policy_);
  }
  RunStats local;
  local.predicted_ms = prediction.total_ms;
  local.bandwidth_mbit = conditions.bandwidth_mbit;
  local.rtt_ms = conditions.rtt_ms;
  local.load_factor_estimate = conditions.load_factor;
  local.queue_ms_estimate = conditions.queue_ms;
  std::vector<NamedTensor> result;
  if (prediction.device_nodes >= table_.node_count) {
    local.cut = planner::CutAt(prediction.device_nodes, table_.node_count);
    const auto device_start = SteadyClock::now();
    EI_ASSIGN_OR_RETURN(result, full_->Run(inputs));
    local.device_ms = MsBetween(device_start, SteadyClock::now());
    LearnDevice(local.device_ms, prediction.device_nodes);
  } else {
    local.cut = planner::CutAt(prediction.device_nodes, table_.node_count);
    EI_ASSIGN_OR_RETURN(std::shared_ptr<const Part> part, GetPart(prediction.device_nodes));
    std::map<std::string, Tensor> available;
    for (size_t i = 0; i < ordered.size(); ++i) available[full_->inputs()[i].name] = ordered[i];
    if (part->device != nullptr) {
      std::vector<NamedTensor> device_inputs;
      for (const TensorInfo& info : part->device->inputs()) {
        device_inputs.push_back({info.name, available[info.name]});
      }
      const auto device_start = SteadyClock::now();
      EI_ASSIGN_OR_RETURN(std::vector<NamedTensor> computed, part->device->Run(device_inputs));
      local.device_ms = MsBetween(device_start, SteadyClock::now());
      LearnDevice(local.device_ms, prediction.device_nodes);
      for (NamedTensor& t : computed) available[t.name] = std::move(t.tensor);
    }
    if (!part->plan.remote_outputs.empty()) {
      std::vector<NamedTensor> sent;
      bool unseen = false;  // a tensor whose compression ratio is not known yet
      for (const std::string& name : part->plan.remote_inputs) {
        sent.push_back({name, available[name]});
        unseen = unseen || compression.ratio.count(name) == 0;
      }
      // The first upload of each cut goes compressed so that its ratio is learnt; afterwards
      // the prediction decides.
      net::TransferOptions transfer;
      if (prediction.compress || unseen) transfer.compression = kCodec;
      net::InferTiming timing;
      std::vector<NamedTensor> received;
      int answered_by = -1;  // failover: the pool index of the server that answered
      if (caller_ == nullptr) {
        EI_ASSIGN_OR_RETURN(received, client_->Infer(model_name_, sent, part->plan.remote_outputs,
                                                     &timing, transfer));
      } else {
        FailoverReport report;
        Result<std::vector<NamedTensor>> r =
            caller_->Infer(sent, part->plan.remote_outputs, &timing, transfer, &report, preferred);
        if (!r.ok()) {
          if (!fallback_local_ || !FailoverCaller::IsServerFailure(r.status())) return r.status();
          // No server could answer: the whole model on this device.
          const auto device_start = SteadyClock::now();
          EI_ASSIGN_OR_RETURN(result, full_->Run(inputs));
          local.device_ms += MsBetween(device_start, SteadyClock::now());
          local.fell_back = true;
          local.total_ms = MsBetween(start, SteadyClock::now());
          if (stats != nullptr) *stats = std::move(local);
          return result;
        }
        received = std::move(r).value();
        local.server = report.server;
        local.attempts = report.attempts;
        answered_by = static_cast<int>(report.server_index);
      }
      Learn(timing, prediction.device_nodes, answered_by);
      for (NamedTensor& t : received) available[t.name] = std::move(t.tensor);
      local.compressed = !transfer.compression.empty();
      FillRemoteStats(timing, &local);
    }
    for (const TensorInfo& info : full_->outputs()) {
      auto it = available.find(info.name);
      if (it == available.end() || it->second.empty()) {
        return Status::Internal("auto run of model '" + model_name_ + "' at cut " +
                                local.cut->ToString() + " produced no output '" + info.name + "'");
      }
      result.push_back({info.name, it->second});
    }
  }
  local.total_ms = MsBetween(start, SteadyClock::now());
  if (stats != nullptr) *stats = std::move(local);
  return result;
}

Status AutoSession::Probe(net::EdgeClient& client) {
  const auto live_start = SteadyClock::now();
  EI_RETURN_IF_ERROR(client.ServerLive());
  link_.AddRtt(MsBetween(live_start, SteadyClock::now()), NowMs());
  EI_ASSIGN_OR_RETURN(std::shared_ptr<const Part> part, GetPart(probe_cut_nodes_));
  EI_ASSIGN_OR_RETURN(std::vector<NamedTensor> zeros, ZeroInputs(*part));
  net::InferTiming timing;
  EI_RETURN_IF_ERROR(client.Infer(model_name_, zeros, part->plan.remote_outputs, &timing).status());
  Learn(timing, probe_cut_nodes_, caller_ != nullptr ? static_cast<int>(profiled_server_) : -1);
  return Status::Ok();
}

Status AutoSession::Warm(const std::vector<NamedTensor>& zeros) {
  const double profiled = table_.cuts.back().device_ms;
  for (int i = 0; i < kCalibrationRuns; ++i) {
    const auto t = SteadyClock::now();
    EI_RETURN_IF_ERROR(full_->Run(zeros).status());
    const double ms = MsBetween(t, SteadyClock::now());
    if (profiled > 0.0 && ms > 0.0) {
      std::lock_guard<std::mutex> lock(mu_);
      device_speed_.Add(ms / profiled, kSpeedAlpha);
    }
  }
  // The first call connects; its time is not a round trip.
  EI_RETURN_IF_ERROR(client_->ServerLive());
  for (int i = 0; i < kRttProbes; ++i) {
    const auto t = SteadyClock::now();
    EI_RETURN_IF_ERROR(client_->ServerLive());
    link_.AddRtt(MsBetween(t, SteadyClock::now()), NowMs());
  }
  // The whole model remotely on zeros: a bandwidth sample of the model inputs' size, and the
  // server's current load.
  EI_ASSIGN_OR_RETURN(std::shared_ptr<const Part> remote, GetPart(0));
  EI_ASSIGN_OR_RETURN(std::vector<NamedTensor> remote_zeros, ZeroInputs(*remote));
  net::InferTiming timing;
  EI_RETURN_IF_ERROR(
      client_->Infer(model_name_, remote_zeros, remote->plan.remote_outputs, &timing).status());
  Learn(timing, 0);
  // The probe slice once, so that the server has compiled it before the first background
  // probe.
  return Probe(*client_);
}

void AutoSession::ProbeLoop() {
  // Probes run only while the session is in use (planner::ProbeScheduler): an idle application
  // costs the link nothing; its first request after a pause decides on the last estimates, and
  // its own reply refreshes them.
  const auto period = std::chrono::duration<double, std::milli>(probes_.period_ms());
  std::unique_lock<std::mutex> lock(probe_mu_);
  while (!probe_cv_.wait_for(lock, period, [this] { return stop_; })) {
    if (!probes_.Due(link_, load_)) continue;
    lock.unlock();
    // A failed probe (server down, deadline) leaves the estimates as they are; the next
    // request reports the error if the server stays unreachable.
    (void)Probe(*prober_);
    lock.lock();
  }
}

}  // namespace

Result<std::unique_ptr<Session>> OpenAutoSession(Graph graph, const std::string& model_bytes,
                                                 const OffloadConfig& config,
                                                 const SessionOptions& options) {
  const planner::Policy policy = config.mode == ExecutionMode::kAutoNoLoad
                                     ? planner::Policy::kNeurosurgeon
                                     : planner::Policy::kLoadAware;
  const std::string what =
      std::string("mode ") + ExecutionModeName(config.mode) + ", model '" + graph.name + "'";
  if (const ValueId dynamic = graph.FirstDynamicInput(); dynamic != kNoValue) {
    const Value& v = graph.value(dynamic);
    return Status::InvalidArgument(what + ": input " + v.name + " " + ShapeToString(v.shape) +
                                   " has a dynamic shape; the planner's cost table needs static "
                                   "input shapes (export the model with fixed shapes)");
  }
  std::map<std::string, Shape> shapes;
  std::vector<NamedTensor> zeros;
  for (ValueId id : graph.inputs()) {
    const Value& v = graph.value(id);
    shapes[v.name] = v.shape;
    zeros.push_back({v.name, Tensor::Zeros(v.dtype, v.shape)});
  }
  Graph specialised = graph;
  Status s = Specialize(&specialised, shapes);
  if (!s.ok()) return s.WithContext(what);

  // Failover: some server must hold the model; the first that does gives the server profile
  // and is the one the link and load probes measure.
  std::unique_ptr<FailoverCaller> caller;
  net::EdgeClientOptions profiled = config.client;
  size_t profiled_server = 0;
  if (config.failover) {
    EI_ASSIGN_OR_RETURN(std::unique_ptr<net::EndpointPool> pool,
                        net::EndpointPool::Create(config.servers));
    FailoverOptions failover;
    failover.timeout_ms = config.client.timeout_ms;
    failover.attempt_timeout_ms = config.attempt_timeout_ms;
    caller = std::make_unique<FailoverCaller>(
        std::move(pool), std::make_shared<const std::string>(model_bytes), failover);
    Status ensured = caller->EnsureSomewhere();
    if (!ensured.ok()) return ensured.WithContext(what + ": uploading the model");
    for (size_t i = 0; i < caller->pool().size(); ++i) {
      if (caller->pool().model_ready(i)) {
        profiled = config.servers[i];
        profiled_server = i;
        break;
      }
    }
    caller->StartProber(kFailoverProbePeriodMs);
  }
  EI_ASSIGN_OR_RETURN(std::unique_ptr<net::EdgeClient> client, net::EdgeClient::Connect(profiled));
  net::EdgeClientOptions probe_options = profiled;
  probe_options.timeout_ms = std::min(profiled.timeout_ms, kProbeTimeoutMs);
  EI_ASSIGN_OR_RETURN(std::unique_ptr<net::EdgeClient> prober,
                      net::EdgeClient::Connect(probe_options));
  Result<std::string> model_name = client->EnsureModel(model_bytes);
  if (!model_name.ok()) return model_name.status().WithContext(what + ": uploading the model");
  Result<std::vector<NodeProfile>> server = client->ServerProfile(*model_name);
  if (!server.ok()) return server.status().WithContext(what + ": the server's profile");

  EI_ASSIGN_OR_RETURN(std::unique_ptr<Session> full, MakeLocalSession(std::move(graph), options));
  Result<std::vector<NodeProfile>> device =
      DeviceProfile(*full, model_bytes, zeros, options.threads, nullptr);
  if (!device.ok()) return device.status().WithContext(what + ": profiling the device");
  Result<planner::CostTable> table = planner::BuildCostTable(specialised, *device, *server);
  if (!table.ok()) return table.status().WithContext(what + ": building the cost table");

  auto session = std::make_unique<AutoSession>(
      std::move(specialised), std::move(full), std::move(client), std::move(prober),
      std::move(caller), profiled_server, config.fallback_local, std::move(model_name).value(),
      std::move(table).value(), policy, options);
  s = session->Warm(zeros);
  if (!s.ok()) return s.WithContext(what + ": probing the server");
  session->StartProber();
  return std::unique_ptr<Session>(std::move(session));
}

}  // namespace edgeinfer

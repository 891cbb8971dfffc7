#include "runtime/offload_session.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "net/client.h"
#include "net/endpoint_pool.h"
#include "net/model_hash.h"
#include "net/protocol.h"
#include "runtime/failover.h"
#include "runtime/local_session.h"
#include "runtime/remote_stats.h"
#include "runtime/session_inputs.h"
#include "runtime/split_plan.h"

namespace edgeinfer {

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Remote mode is the split whose device part is empty: the model inputs cross, the server
// computes every output.
// Failover: probes of down servers run this often.
constexpr int kProbePeriodMs = 100;

class OffloadSession final : public Session {
 public:
  // Exactly one of `client` (one server) and `caller` (failover) is set. `fallback`: the whole
  // model on this device, run when no server can answer; may be null.
  OffloadSession(std::unique_ptr<net::EdgeClient> client, std::unique_ptr<FailoverCaller> caller,
                 std::unique_ptr<Session> fallback, std::string model_name, const Graph& graph,
                 std::unique_ptr<Session> device_part, SplitPlan plan, ExecutionMode mode, Cut cut,
                 net::CallOptions call, int deadline_ms)
      : client_(std::move(client)),
        caller_(std::move(caller)),
        fallback_(std::move(fallback)),
        model_name_(std::move(model_name)),
        device_part_(std::move(device_part)),
        plan_(std::move(plan)),
        mode_(mode),
        cut_(std::move(cut)),
        call_(std::move(call)),
        deadline_ms_(deadline_ms) {
    for (ValueId id : graph.inputs()) {
      const Value& v = graph.value(id);
      inputs_.push_back({v.name, v.dtype, v.shape});
    }
    for (ValueId id : graph.outputs()) {
      const Value& v = graph.value(id);
      outputs_.push_back({v.name, v.dtype, v.shape});
    }
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  ExecutionMode mode() const override { return mode_; }
  Cut cut() const override { return cut_; }

  Result<std::vector<NamedTensor>> Run(const std::vector<NamedTensor>& inputs) override {
    return RunWithStats(inputs, nullptr);
  }

  Result<std::vector<NamedTensor>> RunWithStats(const std::vector<NamedTensor>& inputs,
                                                RunStats* stats) override {
    const auto start = Clock::now();
    std::vector<Tensor> ordered;
    EI_RETURN_IF_ERROR(OrderInputs(inputs_, inputs, &ordered));
    std::map<std::string, Tensor> available;
    for (size_t i = 0; i < inputs_.size(); ++i) available[inputs_[i].name] = ordered[i];
    RunStats local;
    int64_t timing_collab_servers = 0;
    bool timing_deadline_missed = false;
    if (device_part_ != nullptr) {
      std::vector<NamedTensor> device_inputs;
      for (const TensorInfo& info : device_part_->inputs()) {
        device_inputs.push_back({info.name, available[info.name]});
      }
      const auto device_start = Clock::now();
      EI_ASSIGN_OR_RETURN(std::vector<NamedTensor> computed, device_part_->Run(device_inputs));
      local.device_ms = MsSince(device_start);
      for (NamedTensor& t : computed) available[t.name] = std::move(t.tensor);
    }
    if (!plan_.remote_outputs.empty()) {
      std::vector<NamedTensor> sent;
      for (const std::string& name : plan_.remote_inputs) sent.push_back({name, available[name]});
      net::InferTiming timing;
      if (caller_ == nullptr) {
        EI_ASSIGN_OR_RETURN(
            std::vector<NamedTensor> received,
            client_->Infer(model_name_, sent, plan_.remote_outputs, &timing, {}, call_));
        for (NamedTensor& t : received) available[t.name] = std::move(t.tensor);
        FillRemoteStats(timing, &local);
        timing_collab_servers = timing.collab_servers;
        timing_deadline_missed = timing.deadline_missed;
      } else {
        // The device part above ran once; only the server part is retried.
        FailoverReport report;
        Result<std::vector<NamedTensor>> received =
            caller_->Infer(sent, plan_.remote_outputs, &timing, {}, &report);
        if (received.ok()) {
          for (NamedTensor& t : *received) available[t.name] = std::move(t.tensor);
          FillRemoteStats(timing, &local);
          local.server = report.server;
          local.attempts = report.attempts;
          timing_collab_servers = timing.collab_servers;
          timing_deadline_missed = timing.deadline_missed;
        } else if (fallback_ != nullptr && FailoverCaller::IsServerFailure(received.status())) {
          const auto fallback_start = Clock::now();
          EI_ASSIGN_OR_RETURN(std::vector<NamedTensor> all, fallback_->Run(inputs));
          local.device_ms += MsSince(fallback_start);
          local.fell_back = true;
          for (NamedTensor& t : all) available[t.name] = std::move(t.tensor);
        } else {
          return received.status();
        }
      }
    }
    std::vector<NamedTensor> result;
    for (const TensorInfo& info : outputs_) {
      auto it = available.find(info.name);
      if (it == available.end() || it->second.empty()) {
        return Status::Internal("split run of model '" + model_name_ + "' produced no output '" +
                                info.name + "'");
      }
      result.push_back({info.name, it->second});
    }
    local.total_ms = MsSince(start);
    local.collab_servers = static_cast<int>(timing_collab_servers);
    local.deadline_missed =
        deadline_ms_ > 0 && (timing_deadline_missed || local.total_ms > deadline_ms_);
    if (stats != nullptr) *stats = local;
    return result;
  }

  // The device part's steps (split mode), then one step for the server call: its median
  // round trip, named after the model on the server.
  Result<std::vector<NodeProfile>> Profile(const std::vector<NamedTensor>& inputs,
                                           int repeat) override {
    std::vector<NodeProfile> profile;
    if (device_part_ != nullptr) {
      std::vector<Tensor> ordered;
      EI_RETURN_IF_ERROR(OrderInputs(inputs_, inputs, &ordered));
      std::vector<NamedTensor> device_inputs;
      for (const TensorInfo& info : device_part_->inputs()) {
        for (size_t i = 0; i < inputs_.size(); ++i) {
          if (inputs_[i].name == info.name) device_inputs.push_back({info.name, ordered[i]});
        }
      }
      EI_ASSIGN_OR_RETURN(profile, device_part_->Profile(device_inputs, repeat));
    }
    if (plan_.remote_outputs.empty()) return profile;
    EI_RETURN_IF_ERROR(Run(inputs).status());  // warm-up: the server compiles the slice
    std::vector<double> ms;
    for (int r = 0; r < std::max(1, repeat); ++r) {
      RunStats stats;
      EI_RETURN_IF_ERROR(RunWithStats(inputs, &stats).status());
      ms.push_back(stats.total_ms - stats.device_ms);
    }
    std::sort(ms.begin(), ms.end());
    NodeProfile remote;
    remote.name = "edge:" + model_name_;
    remote.op = "ModelInfer";
    remote.median_ms = ms[ms.size() / 2];
    profile.push_back(std::move(remote));
    return profile;
  }

 private:
  const std::unique_ptr<net::EdgeClient> client_;  // thread safe; null with failover
  const std::unique_ptr<FailoverCaller> caller_;   // thread safe; null with one server
  const std::unique_ptr<Session> fallback_;        // the whole model locally; may be null
  const std::string model_name_;                   // the model's name on the server
  const std::unique_ptr<Session> device_part_;     // the device part; null in remote mode
  const SplitPlan plan_;
  const ExecutionMode mode_;  // kRemote, kSplit or kCollab
  const Cut cut_;
  const net::CallOptions call_;  // kCollab: edgeinfer_collab and edgeinfer_deadline_ms
  const int deadline_ms_;        // 0: none
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
};

}  // namespace

Result<std::unique_ptr<Session>> OpenOffloadSession(Graph graph, const std::string& model_bytes,
                                                    const OffloadConfig& config,
                                                    const SessionOptions& options) {
  SplitPlan plan;
  const Cut cut = config.mode == ExecutionMode::kSplit ? config.cut : Cut::Remote();
  if (config.mode == ExecutionMode::kSplit) {
    EI_ASSIGN_OR_RETURN(plan, PlanSplit(graph, config.cut));
  } else {
    for (ValueId id : graph.inputs()) plan.remote_inputs.push_back(graph.value(id).name);
    for (ValueId id : graph.outputs()) plan.remote_outputs.push_back(graph.value(id).name);
  }
  // Collaborative mode is remote mode with the request parameters that make the server a host.
  net::CallOptions call;
  if (config.mode == ExecutionMode::kCollab) {
    call.parameters[net::kCollabParam] = 1;
    if (options.deadline_ms > 0) call.parameters[net::kDeadlineMsParam] = options.deadline_ms;
  }
  if (options.deadline_ms < 0) {
    return Status::InvalidArgument("SessionOptions::deadline_ms must be >= 0 (0: no deadline)");
  }
  std::unique_ptr<Session> device_part;
  if (!plan.local_targets.empty()) {
    EI_ASSIGN_OR_RETURN(Graph device_graph, graph.Slice({}, plan.local_targets));
    EI_ASSIGN_OR_RETURN(device_part, MakeLocalSession(std::move(device_graph), options));
  }
  if (config.failover) {
    EI_ASSIGN_OR_RETURN(std::unique_ptr<net::EndpointPool> pool,
                        net::EndpointPool::Create(config.servers));
    FailoverOptions failover;
    failover.parameters = call.parameters;
    failover.timeout_ms = config.client.timeout_ms;
    failover.attempt_timeout_ms = config.attempt_timeout_ms;
    auto caller = std::make_unique<FailoverCaller>(
        std::move(pool), std::make_shared<const std::string>(model_bytes), failover);
    std::unique_ptr<Session> fallback;
    if (config.fallback_local) {
      EI_ASSIGN_OR_RETURN(fallback, MakeLocalSession(graph, options));
    }
    if (!plan.remote_outputs.empty()) {
      // Some server must hold the model, unless the device can run it alone.
      Status ensured = caller->EnsureSomewhere();
      if (!ensured.ok() && fallback == nullptr) return ensured;
    }
    caller->StartProber(kProbePeriodMs);
    std::string name = caller->model_name();
    return std::unique_ptr<Session>(new OffloadSession(
        nullptr, std::move(caller), std::move(fallback), std::move(name), graph,
        std::move(device_part), std::move(plan), config.mode, cut, call, options.deadline_ms));
  }
  EI_ASSIGN_OR_RETURN(std::unique_ptr<net::EdgeClient> client,
                      net::EdgeClient::Connect(config.client));
  std::string model_name;
  if (!plan.remote_outputs.empty()) {
    EI_ASSIGN_OR_RETURN(model_name, client->EnsureModel(model_bytes));
  } else {
    model_name = net::ContentModelName(model_bytes);
  }
  return std::unique_ptr<Session>(new OffloadSession(
      std::move(client), nullptr, nullptr, std::move(model_name), graph, std::move(device_part),
      std::move(plan), config.mode, cut, call, options.deadline_ms));
}

}  // namespace edgeinfer

#include "server/collab_host.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "net/model_hash.h"
#include "onnx/onnx_io.h"

namespace edgeinfer::server {

namespace {

using SteadyClock = std::chrono::steady_clock;

double MsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

// The host's compute per GFLOP when the model was not profiled at load (dynamic shapes).
constexpr double kDefaultMsPerGflop = 10.0;
// Weight of the newest speed sample.
constexpr double kSpeedAlpha = 0.3;

// Rows `rows` of an NCHW tensor, copied into a tensor of their own.
Tensor ExtractRows(const Tensor& full, RowRange rows) {
  const Shape& s = full.shape();
  Shape shape = s;
  shape[2] = rows.size();
  Tensor out = Tensor::Empty(full.dtype(), shape);
  const size_t row = static_cast<size_t>(s[3]) * DTypeSize(full.dtype());
  const size_t planes = static_cast<size_t>(s[0] * s[1]);
  const auto* src = static_cast<const char*>(full.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  const size_t band = static_cast<size_t>(rows.size()) * row;
  for (size_t p = 0; p < planes; ++p) {
    std::memcpy(dst + p * band, src + (p * static_cast<size_t>(s[2]) + rows.begin) * row, band);
  }
  return out;
}

// Copies `band`, which holds rows from `offset`, into `full` in place. DataLoss when the band
// does not fit (a peer's reply is not trusted).
Status StitchRows(const Tensor& band, int64_t offset, Tensor* full) {
  const Shape& b = band.shape();
  const Shape& f = full->shape();
  if (band.dtype() != full->dtype() || b.size() != 4 || b[0] != f[0] || b[1] != f[1] ||
      b[3] != f[3] || offset < 0 || b[2] > f[2] - offset) {
    return Status::DataLoss("a band of shape " + ShapeToString(b) + " at row " +
                            std::to_string(offset) + " does not fit the stage output " +
                            ShapeToString(f));
  }
  const size_t row = static_cast<size_t>(f[3]) * DTypeSize(full->dtype());
  const size_t planes = static_cast<size_t>(f[0] * f[1]);
  const auto* src = static_cast<const char*>(band.raw_data());
  auto* dst = static_cast<char*>(full->raw_data());
  const size_t bytes = static_cast<size_t>(b[2]) * row;
  for (size_t p = 0; p < planes; ++p) {
    std::memcpy(dst + (p * static_cast<size_t>(f[2]) + offset) * row, src + p * bytes, bytes);
  }
  return Status::Ok();
}

}  // namespace

struct CollabHost::Analysis {
  planner::CollabModel model;
  std::string input;                         // the model input the first stage reads
  std::map<std::string, DType> dtypes;       // stage outputs
  std::map<std::string, Shape> shapes;       // stage outputs
  double ms_per_gflop = kDefaultMsPerGflop;  // the host's unloaded compute
};

namespace {

// Whether `now` is close enough to the estimates `before` that a plan made with them still
// holds: the same servers usable, every speed and bandwidth within kReplanRatio. Re-planning on
// every small change would move the segment boundaries, and every new band height is compiled
// once by each server.
constexpr double kReplanRatio = 2.0;
// And a plan serves at least this many requests before the estimates may replace it (a peer that
// goes down or comes back re-plans at once): measured speeds on shared machines are noisy.
constexpr int kMinPlanUses = 20;

bool Near(double a, double b) {
  if (a <= 0.0 || b <= 0.0) return a == b;
  return a / b < kReplanRatio && b / a < kReplanRatio;
}

bool SamePlanInputs(const std::vector<planner::CollabServer>& before,
                    const std::vector<planner::CollabServer>& now, int uses) {
  if (before.size() != now.size()) return false;
  for (size_t i = 0; i < now.size(); ++i) {
    if (before[i].usable != now[i].usable) return false;
  }
  if (uses < kMinPlanUses) return true;
  for (size_t i = 0; i < now.size(); ++i) {
    if (!Near(before[i].speed, now[i].speed) ||
        !Near(before[i].bandwidth_mbit, now[i].bandwidth_mbit)) {
      return false;
    }
  }
  return true;
}

}  // namespace

struct CollabHost::PeerCall {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu
  Status status;      // guarded by mu
  std::vector<NamedTensor> outputs;
  net::InferTiming timing;
};

CollabHost::CollabHost(CollabOptions options)
    : options_(std::move(options)), clock_(options_.clock ? options_.clock : RealClock()) {}

Result<std::unique_ptr<CollabHost>> CollabHost::Create(CollabOptions options) {
  if (options.peers.empty()) return Status::InvalidArgument("a collaborative host needs peers");
  if (options.peer_timeout_ms <= 0) {
    return Status::InvalidArgument("--peer-timeout-ms must be > 0");
  }
  if (!options.static_speeds.empty()) {
    bool positive = true;
    for (double s : options.static_speeds) positive = positive && s > 0.0;
    if (options.static_speeds.size() != options.peers.size() + 1 || !positive) {
      return Status::InvalidArgument(
          "--collab-speeds needs one speed > 0 for the host and one for each of the " +
          std::to_string(options.peers.size()) + " peers");
    }
  }
  std::unique_ptr<CollabHost> host(new CollabHost(std::move(options)));
  for (net::EdgeClientOptions& peer : host->options_.peers) {
    peer.timeout_ms = host->options_.peer_timeout_ms;
  }
  net::PoolOptions pool;
  pool.clock = host->clock_;
  pool.probe_timeout_ms = std::min(1000, host->options_.peer_timeout_ms);
  EI_ASSIGN_OR_RETURN(host->pool_, net::EndpointPool::Create(host->options_.peers, pool));
  for (size_t i = 0; i < host->options_.peers.size(); ++i) {
    host->stats_.push_back(std::make_unique<PeerStats>());
  }
  if (host->options_.probe_period_ms > 0) {
    host->prober_ = std::thread([h = host.get()] { h->ProbeLoop(); });
  }
  return host;
}

CollabHost::~CollabHost() {
  {
    std::lock_guard<std::mutex> lock(probe_mu_);
    stopping_ = true;
  }
  probe_cv_.notify_all();
  if (prober_.joinable()) prober_.join();
  std::vector<std::thread> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls.swap(calls_);
  }
  for (std::thread& t : calls) t.join();
}

void CollabHost::ProbeLoop() {
  std::unique_lock<std::mutex> lock(probe_mu_);
  while (!stopping_) {
    probe_cv_.wait_for(lock, std::chrono::milliseconds(options_.probe_period_ms));
    if (stopping_) break;
    lock.unlock();
    pool_->ProbeDue();
    lock.lock();
  }
}

Result<std::shared_ptr<const CollabHost::Analysis>> CollabHost::Analyse(
    const ServedModel& model, const std::vector<NamedTensor>& inputs) {
  std::string key = model.name() + "|" + model.version();
  std::vector<TensorInfo> infos;
  for (const NamedTensor& in : inputs) {
    key += "|" + in.name + DTypeName(in.tensor.dtype()) + ShapeToString(in.tensor.shape());
    infos.push_back({in.name, in.tensor.dtype(), in.tensor.shape()});
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = analyses_.find(key);
    if (it != analyses_.end()) return it->second;
  }
  EI_ASSIGN_OR_RETURN(Graph graph, model.Specialised(infos));
  auto analysis = std::make_shared<Analysis>();
  EI_ASSIGN_OR_RETURN(analysis->model, planner::AnalyseCollab(graph, options_.scheme));
  if (!analysis->model.stages.empty()) {
    analysis->input = analysis->model.stages.front().input;
    for (const planner::CollabStage& stage : analysis->model.stages) {
      const Value& v = graph.value(graph.FindValue(stage.output));
      analysis->dtypes[stage.output] = v.dtype;
      analysis->shapes[stage.output] = v.shape;
    }
  }
  if (model.profiled_ms() > 0.0 && analysis->model.total_flops > 0.0) {
    analysis->ms_per_gflop = model.profiled_ms() / (analysis->model.total_flops / 1e9);
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Bounded: a new shape set per request would otherwise grow it without end.
  if (analyses_.size() >= 64) {
    analyses_.clear();
    plans_.clear();  // keyed by analysis
  }
  analyses_[key] = analysis;
  return std::shared_ptr<const Analysis>(analysis);
}

Result<std::string> CollabHost::EnsureOnPeer(size_t peer, const ServedModel& model) {
  const std::string key = std::to_string(peer) + "|" + model.name() + "|" + model.version();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peer_models_.find(key);
    if (it != peer_models_.end()) return it->second;
  }
  net::EdgeClient& client = pool_->client(peer);
  net::CallOptions call;
  call.timeout_ms = options_.peer_timeout_ms;
  std::string name = model.name();
  EI_ASSIGN_OR_RETURN(bool ready, client.ModelReady(name, call));
  if (!ready) {
    EI_ASSIGN_OR_RETURN(std::string bytes, ExportOnnx(model.graph()));
    name = net::ContentModelName(bytes);
    EI_ASSIGN_OR_RETURN(ready, client.ModelReady(name, call));
    if (!ready) {
      net::CallOptions upload = call;
      // As the device's uploads: the deadline plus the model's size at 10 Mbit/s.
      upload.timeout_ms = static_cast<int>(
          std::min(2e9, options_.peer_timeout_ms + static_cast<double>(bytes.size()) * 8.0 / 1e4));
      EI_RETURN_IF_ERROR(client.LoadModel(name, bytes, upload));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  peer_models_[key] = name;
  return name;
}

std::shared_ptr<CollabHost::PeerCall> CollabHost::StartPeerCall(
    size_t peer, size_t stage_index, std::shared_ptr<const ServedModel> model,
    const planner::CollabStage& stage, const planner::StageTask& task, const Tensor& input) {
  auto state = std::make_shared<PeerCall>();
  Tensor band = ExtractRows(input, task.input);
  auto body = [this, state, peer, stage_index, model = std::move(model), stage_in = stage.input,
               stage_out = stage.output, in_height = stage.in_height, task,
               band = std::move(band)]() {
    Status status = Status::Ok();
    std::vector<NamedTensor> outputs;
    net::InferTiming timing;
    if (options_.before_peer_call) options_.before_peer_call(peer + 1, stage_index);
    Result<std::string> name = EnsureOnPeer(peer, *model);
    if (!name.ok()) {
      status = name.status();
    } else {
      net::TransferOptions transfer;
      transfer.input_rows[stage_in] = {task.input.begin, in_height};
      transfer.output_rows[stage_out] = {task.output.begin, task.output.end};
      net::CallOptions call;
      call.timeout_ms = options_.peer_timeout_ms;
      Result<std::vector<NamedTensor>> reply = pool_->client(peer).Infer(
          *name, {{stage_in, band}}, {stage_out}, &timing, transfer, call);
      if (reply.ok()) {
        outputs = std::move(reply).value();
      } else {
        status = reply.status();
      }
    }
    std::lock_guard<std::mutex> lock(state->mu);
    state->status = status;
    state->outputs = std::move(outputs);
    state->timing = timing;
    state->done = true;
    state->cv.notify_all();
  };
  std::lock_guard<std::mutex> lock(mu_);
  // Join the calls that finished (a stalled one stays until its gRPC deadline ends it).
  for (size_t i = 0; i < calls_.size();) {
    bool done;
    {
      std::lock_guard<std::mutex> call_lock(call_states_[i]->mu);
      done = call_states_[i]->done;
    }
    if (done) {
      calls_[i].join();
      calls_.erase(calls_.begin() + static_cast<std::ptrdiff_t>(i));
      call_states_.erase(call_states_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  calls_.emplace_back(std::move(body));
  call_states_.push_back(state);
  return state;
}

Result<CollabResult> CollabHost::Run(std::shared_ptr<const ServedModel> shared,
                                     const std::vector<NamedTensor>& inputs,
                                     const std::vector<std::string>& outputs, int64_t deadline_ms) {
  const Clock::TimePoint clock_start = clock_->Now();
  Result<CollabResult> result = RunCollab(std::move(shared), inputs, outputs);
  if (result.ok() && deadline_ms > 0) {
    result->deadline_missed =
        MsBetween(clock_start, clock_->Now()) > static_cast<double>(deadline_ms);
  }
  return result;
}

Result<CollabResult> CollabHost::RunCollab(std::shared_ptr<const ServedModel> shared,
                                           const std::vector<NamedTensor>& inputs,
                                           const std::vector<std::string>& outputs) {
  const auto start = SteadyClock::now();
  const ServedModel& model = *shared;
  EI_ASSIGN_OR_RETURN(std::shared_ptr<const Analysis> analysis, Analyse(model, inputs));
  CollabResult result;
  if (analysis->model.stages.empty()) {
    EI_ASSIGN_OR_RETURN(SliceResult whole, model.Run(inputs, outputs));
    result.outputs = std::move(whole.outputs);
    result.compute_us = static_cast<int64_t>(MsSince(start) * 1e3);
    return result;
  }
  const planner::CollabModel& cm = analysis->model;
  const size_t peers = pool_->size();
  std::vector<planner::CollabServer> servers(peers + 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    servers[0].speed = host_speed_;
    for (size_t i = 0; i < peers; ++i) {
      planner::CollabServer& s = servers[i + 1];
      s.speed = stats_[i]->speed;
      const double bw = stats_[i]->link.bandwidth_mbit();
      s.bandwidth_mbit = bw > 0.0 ? bw : options_.default_bandwidth_mbit;
      s.rtt_ms = stats_[i]->link.samples() > 0 ? stats_[i]->link.rtt_ms() : options_.default_rtt_ms;
      s.usable = pool_->health(i) != net::ServerHealth::kDown;
    }
    if (!options_.static_speeds.empty()) {
      for (size_t i = 0; i <= peers; ++i) {
        servers[i].speed = options_.static_speeds[i];
        servers[i].bandwidth_mbit = i == 0 ? 0.0 : 1e12;
        servers[i].rtt_ms = 0.0;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto cached = plans_.find(analysis.get());
    if (cached != plans_.end() &&
        SamePlanInputs(cached->second.servers, servers, cached->second.uses)) {
      result.plan = cached->second.plan;
      ++cached->second.uses;
    } else {
      result.plan = planner::PlanCollab(cm, servers, analysis->ms_per_gflop, options_.scheme);
      if (plans_.size() >= 64) plans_.clear();
      plans_[analysis.get()] = {servers, result.plan, 1};
    }
  }
  if (result.plan.servers_used == 1) {
    // No peer pays off (or none is up): the whole model as one slice, as without --peers.
    EI_ASSIGN_OR_RETURN(SliceResult whole, model.Run(inputs, outputs));
    result.outputs = std::move(whole.outputs);
    result.compute_us = static_cast<int64_t>(MsSince(start) * 1e3);
    return result;
  }
  auto input = std::find_if(inputs.begin(), inputs.end(),
                            [&](const NamedTensor& t) { return t.name == analysis->input; });
  if (input == inputs.end()) {
    return Status::InvalidArgument("missing input '" + analysis->input + "' of model '" +
                                   model.name() + "'");
  }
  Tensor current = input->tensor;
  std::vector<bool> contributed(peers + 1, false);
  std::vector<bool> failed(peers + 1, false);
  contributed[0] = true;
  // The host's speed estimate: unit-speed ms of its rows over its band execution time (bands
  // compiled in this request leave it alone, as their first run is not typical either).
  double host_unit_ms = 0.0, host_ms = 0.0;
  bool host_compiled = false;
  for (size_t s = 0; s < cm.stages.size(); ++s) {
    const planner::CollabStage& stage = cm.stages[s];
    const planner::StagePlan& sp = result.plan.stages[s];
    const double unit_row_ms =
        stage.flops / 1e9 * analysis->ms_per_gflop / static_cast<double>(stage.out_height);
    if (sp.tasks.empty()) {
      // Consecutive stages at the host alone run as one slice (no stitching, no copies).
      size_t last = s;
      while (last + 1 < cm.stages.size() && result.plan.stages[last + 1].tasks.empty()) ++last;
      EI_ASSIGN_OR_RETURN(SliceResult whole,
                          model.Run({{stage.input, current}}, {cm.stages[last].output}));
      current = whole.outputs[0].tensor;
      s = last;
      continue;
    }
    // Rows of the stage output computed here, from the whole stage input.
    auto run_rows = [&](RowRange rows, Tensor* out) -> Status {
      BandSpec band;
      band.inputs[stage.input] = {0, stage.in_height};
      band.outputs[stage.output] = rows;
      EI_ASSIGN_OR_RETURN(SliceResult part,
                          model.Run({{stage.input, current}}, {stage.output}, band));
      host_ms += static_cast<double>(part.compute_us) / 1e3;
      host_compiled = host_compiled || part.compiled;
      return StitchRows(part.outputs[0].tensor, rows.begin, out);
    };
    Result<Tensor> allocated =
        Tensor::Allocate(analysis->dtypes.at(stage.output), analysis->shapes.at(stage.output));
    if (!allocated.ok()) return allocated.status();
    Tensor out = std::move(allocated).value();
    const Clock::TimePoint deadline =
        clock_->Now() + std::chrono::milliseconds(options_.peer_timeout_ms);
    // A peer that failed earlier in this request gets no more of it: the host computes its
    // rows below.
    std::vector<std::shared_ptr<PeerCall>> calls;
    for (const planner::StageTask& task : sp.tasks) {
      calls.push_back(failed[task.server]
                          ? nullptr
                          : StartPeerCall(task.server - 1, s, shared, stage, task, current));
    }
    // The host's own segment and the overlap zones, while the peers' segments are on the wire.
    int64_t host_rows = 0;
    for (const RowRange& rows : sp.host_rows) {
      EI_RETURN_IF_ERROR(run_rows(rows, &out));
      host_rows += rows.size();
    }
    host_unit_ms += unit_row_ms * static_cast<double>(host_rows);
    for (size_t k = 0; k < calls.size(); ++k) {
      const planner::StageTask& task = sp.tasks[k];
      const size_t peer = task.server - 1;
      if (calls[k] == nullptr) {
        EI_RETURN_IF_ERROR(run_rows(task.output, &out));
        host_unit_ms += unit_row_ms * static_cast<double>(task.output.size());
        continue;
      }
      PeerCall& call = *calls[k];
      Status status = Status::Ok();
      {
        std::unique_lock<std::mutex> lock(call.mu);
        // Polled, so that a FakeClock moved by a test ends the wait as the real one would.
        while (!call.done && clock_->Now() < deadline) {
          call.cv.wait_for(lock, std::chrono::milliseconds(2));
        }
        if (!call.done) {
          status = Status(StatusCode::kDeadlineExceeded,
                          "peer " + pool_->address(peer) + " did not answer " + "within " +
                              std::to_string(options_.peer_timeout_ms) + " ms");
        } else {
          status = call.status;
        }
      }
      if (status.ok()) {
        if (call.outputs.size() != 1) {
          status = Status::DataLoss("peer " + pool_->address(peer) + " sent no stage output");
        } else {
          status = StitchRows(call.outputs[0].tensor, task.output.begin, &out);
        }
      }
      if (status.ok()) {
        pool_->ReportSuccess(peer);
        contributed[task.server] = true;
        const net::InferTiming& t = call.timing;
        const double wire =
            t.round_trip_ms - t.server_queue_ms - t.server_compute_ms - t.server_other_ms;
        const double now_ms =
            std::chrono::duration<double, std::milli>(clock_->Now().time_since_epoch()).count();
        stats_[peer]->link.AddTransfer(t.bytes_sent + t.bytes_received, std::max(0.0, wire),
                                       now_ms);
        if (t.server_compute_ms > 0.0) {
          const double sample =
              unit_row_ms * static_cast<double>(task.output.size()) / t.server_compute_ms;
          std::lock_guard<std::mutex> lock(mu_);
          PeerStats& ps = *stats_[peer];
          ps.speed = ps.measured ? kSpeedAlpha * sample + (1 - kSpeedAlpha) * ps.speed : sample;
          ps.measured = true;
        }
        continue;
      }
      // The peer failed, stalled or answered nonsense: its rows are computed here.
      ++result.peer_failures;
      failed[task.server] = true;
      pool_->ReportDown(peer);
      {
        std::lock_guard<std::mutex> lock(mu_);
        const std::string prefix = std::to_string(peer) + "|";
        for (auto it = peer_models_.begin(); it != peer_models_.end();) {
          it = it->first.rfind(prefix, 0) == 0 ? peer_models_.erase(it) : std::next(it);
        }
      }
      std::fprintf(
          stderr, "edgeinfer serve: collaborative peer %s: %s; computing its rows %s here\n",
          pool_->address(peer).c_str(), status.ToString().c_str(), task.output.ToString().c_str());
      EI_RETURN_IF_ERROR(run_rows(task.output, &out));
      host_unit_ms += unit_row_ms * static_cast<double>(task.output.size());
    }
    current = std::move(out);
  }
  if (host_ms > 0.0 && host_unit_ms > 0.0 && !host_compiled) {
    std::lock_guard<std::mutex> lock(mu_);
    const double sample = std::clamp(host_unit_ms / host_ms, 0.05, 20.0);
    host_speed_ = kSpeedAlpha * sample + (1 - kSpeedAlpha) * host_speed_;
  }
  std::vector<std::string> wanted = outputs;
  if (wanted.empty()) {
    for (const TensorInfo& info : model.outputs()) wanted.push_back(info.name);
  }
  Result<SliceResult> tail = model.Run({{cm.front, current}}, wanted);
  if (!tail.ok()) {
    // An output the tail does not reach from the front (one computed inside it): run whole.
    EI_ASSIGN_OR_RETURN(SliceResult whole, model.Run(inputs, wanted));
    tail = std::move(whole);
  }
  result.outputs = std::move(tail->outputs);
  result.servers = static_cast<int>(std::count(contributed.begin(), contributed.end(), true));
  result.compute_us = static_cast<int64_t>(MsSince(start) * 1e3);
  return result;
}

Status CheckPeersAreNotSelf(const std::vector<net::EdgeClientOptions>& peers, int own_port,
                            const net::HostResolver& resolve) {
  std::set<std::string> local = {"0.0.0.0"};
  struct ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) == 0) {
    for (struct ifaddrs* a = addrs; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
      char text[INET_ADDRSTRLEN];
      const auto* in = reinterpret_cast<const struct sockaddr_in*>(a->ifa_addr);
      if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) != nullptr) local.insert(text);
    }
    freeifaddrs(addrs);
  }
  for (const net::EdgeClientOptions& peer : peers) {
    const std::string& address = peer.address;
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) continue;
    std::string host = address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (address.substr(colon + 1) != std::to_string(own_port)) continue;
    std::vector<std::string> ips;
    if (host == "localhost" || host == "::1" || host == "::" || host.empty()) {
      ips.push_back("127.0.0.1");
    } else {
      Result<std::vector<std::string>> resolved = resolve(host);
      if (!resolved.ok()) continue;  // not resolvable now: not provably this server
      ips = std::move(resolved).value();
    }
    for (const std::string& ip : ips) {
      if (local.count(ip) || ip.rfind("127.", 0) == 0) {
        return Status::InvalidArgument(
            "--peers lists this server itself: '" + address + "' is " + ip +
            ", an address of this machine, on this server's own port " + std::to_string(own_port) +
            " (a collaborative host must not be its own peer)");
      }
    }
  }
  return Status::Ok();
}

}  // namespace edgeinfer::server

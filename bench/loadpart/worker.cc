#include "loadpart/worker.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "net/memory_policy.h"
#include "onnx/onnx_io.h"
#include "testbed/cpu_quota.h"
#include "zoo/zoo.h"

namespace edgeinfer::bench {

using nlohmann::json;

Tensor BenchInput(const Shape& shape) {
  Tensor t = Tensor::Empty(DType::kFloat32, shape);
  float* p = t.data<float>();
  uint32_t state = 12345;
  for (int64_t i = 0; i < t.numel(); ++i) {
    state = state * 1664525u + 1013904223u;
    p[i] = static_cast<float>(state >> 8) / static_cast<float>(1 << 24) - 0.5f;
  }
  return t;
}

Result<std::string> ZooModelBytes(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const ZooModel* zoo = FindZooModel(name);
  if (zoo == nullptr) return Status::NotFound("no zoo model '" + name + "'");
  EI_ASSIGN_OR_RETURN(Graph graph, zoo->build(1));
  EI_ASSIGN_OR_RETURN(std::string bytes, ExportOnnx(graph));
  cache[name] = bytes;
  return bytes;
}

namespace {

json Error(const Status& status) { return {{"ok", false}, {"error", status.ToString()}}; }

class Worker {
 public:
  Worker(std::string edge, int threads, int timeout_ms)
      : edge_(std::move(edge)), threads_(threads), timeout_ms_(timeout_ms) {}

  json Handle(const json& request) {
    const std::string cmd = request.value("cmd", "");
    if (cmd == "open")
      return Open(request.value("id", ""), request.value("model", ""), request.value("mode", ""));
    if (cmd == "run") return RunOnce(request.value("id", ""));
    if (cmd == "close") {
      sessions_.erase(request.value("id", ""));
      return {{"ok", true}};
    }
    if (cmd == "profile") return Profile(request.value("model", ""), request.value("repeat", 3));
    return Error(Status::InvalidArgument("unknown command '" + cmd + "'"));
  }

 private:
  struct Entry {
    std::unique_ptr<Session> session;
    std::vector<NamedTensor> inputs;
  };

  Result<SessionOptions> Options(const std::string& mode) const {
    SessionOptions options;
    options.threads = threads_;
    EI_RETURN_IF_ERROR(options.SetMode(mode));
    if (options.mode != ExecutionMode::kLocal) options.accelerator = edge_;
    options.timeout_ms = timeout_ms_;
    return options;
  }

  Result<std::vector<NamedTensor>> Inputs(const std::string& model) {
    const ZooModel* zoo = FindZooModel(model);
    if (zoo == nullptr) return Status::NotFound("no zoo model '" + model + "'");
    return std::vector<NamedTensor>{{"input", BenchInput(zoo->input_shape)}};
  }

  json Open(const std::string& id, const std::string& model, const std::string& mode) {
    auto bytes = ZooModelBytes(model);
    if (!bytes.ok()) return Error(bytes.status());
    auto inputs = Inputs(model);
    if (!inputs.ok()) return Error(inputs.status());
    auto options = Options(mode);
    if (!options.ok()) return Error(options.status());
    auto session = Session::OpenFromBytes(*bytes, ".", *options);
    if (!session.ok()) return Error(session.status());
    auto warm = (*session)->Run(*inputs);
    if (!warm.ok()) return Error(warm.status());
    sessions_[id] = Entry{std::move(*session), std::move(*inputs)};
    return {{"ok", true}};
  }

  json RunOnce(const std::string& id) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return Error(Status::NotFound("no session '" + id + "'"));
    RunStats s;
    auto out = it->second.session->RunWithStats(it->second.inputs, &s);
    if (!out.ok()) return Error(out.status());
    const Session& session = *it->second.session;
    const std::string cut =
        s.cut.has_value() ? s.cut->ToString() : ExecutionModeText(session.mode(), session.cut());
    return {{"ok", true},
            {"total_ms", s.total_ms},
            {"device_ms", s.device_ms},
            {"upload_ms", s.upload_ms},
            {"queue_ms", s.server_queue_ms},
            {"server_ms", s.server_compute_ms},
            {"download_ms", s.download_ms},
            {"load_factor", s.server_load_factor},
            {"predicted_ms", s.predicted_ms},
            {"compressed", s.compressed},
            {"est_bandwidth_mbit", s.bandwidth_mbit},
            {"est_rtt_ms", s.rtt_ms},
            {"est_load_factor", s.load_factor_estimate},
            {"est_queue_ms", s.queue_ms_estimate},
            {"cut", cut},
            {"bytes_sent", s.bytes_sent}};
  }

  json Profile(const std::string& model, int repeat) {
    auto bytes = ZooModelBytes(model);
    if (!bytes.ok()) return Error(bytes.status());
    auto inputs = Inputs(model);
    if (!inputs.ok()) return Error(inputs.status());
    auto session = Session::OpenFromBytes(*bytes, ".", *Options("local"));  // "local" parses
    if (!session.ok()) return Error(session.status());
    auto profile = (*session)->Profile(*inputs, repeat);
    if (!profile.ok()) return Error(profile.status());
    json rows = json::array();
    for (const NodeProfile& p : *profile) {
      rows.push_back({{"name", p.name}, {"op", p.op}, {"median_ms", p.median_ms}});
    }
    return {{"ok", true}, {"profile", rows}};
  }

  const std::string edge_;
  const int threads_;
  const int timeout_ms_;
  std::map<std::string, Entry> sessions_;
};

}  // namespace

int RunDeviceWorker(int argc, char** argv) {
  net::RetainLargeAllocations();
  // Replies go to the original stdout; anything else printed lands on stderr.
  const int reply_fd = dup(STDOUT_FILENO);
  dup2(STDERR_FILENO, STDOUT_FILENO);
  FILE* replies = fdopen(reply_fd, "w");
  if (replies == nullptr) return 1;
  std::string edge;
  double cores = 0.5, period_ms = 10;
  int threads = 1, timeout_ms = 60000;
  for (int i = 0; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--edge") edge = value;
    if (flag == "--device-cores") cores = std::atof(value.c_str());
    if (flag == "--device-threads") threads = std::atoi(value.c_str());
    if (flag == "--timeout-ms") timeout_ms = std::atoi(value.c_str());
    if (flag == "--quota-period-ms") period_ms = std::atof(value.c_str());
  }
  auto send = [&](const json& reply) {
    std::fprintf(replies, "%s\n", reply.dump().c_str());
    std::fflush(replies);
  };
  json hello = {{"ok", true}, {"quota_applied", false}};
  char note[200];
  if (cores > 0) {
    const Status quota = LimitCpu(cores, period_ms);
    if (quota.ok()) {
      std::snprintf(note, sizeof note,
                    "%.2f core(s) by a cgroup CPU quota on the device process (%g ms period)",
                    cores, period_ms);
      hello["quota_applied"] = true;
      hello["note"] = note;
    } else {
      hello["note"] = "not limited (" + quota.ToString() + "): the device runs at full speed";
    }
  } else {
    hello["note"] = "not limited (--device-cores 0)";
  }
  send(hello);
  Worker worker(edge, threads, timeout_ms);
  std::string line;
  while (std::getline(std::cin, line)) {
    const json request = json::parse(line, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      send(Error(Status::InvalidArgument("not a JSON object: " + line)));
      continue;
    }
    if (request.value("cmd", "") == "quit") break;
    send(worker.Handle(request));
  }
  return 0;
}

Result<std::unique_ptr<DeviceWorker>> DeviceWorker::Start(const WorkerOptions& options) {
  std::unique_ptr<DeviceWorker> worker(new DeviceWorker());
  worker->timeout_ms_ = options.timeout_ms;
  char cores[32];
  std::snprintf(cores, sizeof cores, "%g", options.cores);
  EI_ASSIGN_OR_RETURN(
      worker->child_,
      ChildProcess::Start(
          {options.self_exe, "--device-worker", "--edge", options.edge, "--device-cores", cores,
           "--device-threads", std::to_string(options.threads), "--timeout-ms",
           std::to_string(options.timeout_ms), "--quota-period-ms",
           std::to_string(options.quota_period_ms)},
          /*pipes=*/true, "", /*nice=*/0, options.cpus));
  EI_ASSIGN_OR_RETURN(std::string line, worker->child_->ReadLine(60000));
  const json hello = json::parse(line, nullptr, false);
  if (hello.is_discarded() || !hello.value("ok", false)) {
    return Status::Internal("device worker failed to start: " + line);
  }
  worker->quota_applied_ = hello.value("quota_applied", false);
  worker->quota_note_ = hello.value("note", "");
  return worker;
}

Result<std::string> DeviceWorker::Call(const std::string& request_json, int timeout_ms) {
  EI_RETURN_IF_ERROR(child_->WriteLine(request_json));
  return child_->ReadLine(timeout_ms);
}

namespace {

Result<json> ParseReply(const Result<std::string>& line) {
  if (!line.ok()) return line.status();
  json reply = json::parse(*line, nullptr, false);
  if (reply.is_discarded()) return Status::Internal("bad worker reply: " + *line);
  if (!reply.value("ok", false)) return Status::Internal(reply.value("error", *line));
  return reply;
}

}  // namespace

Status DeviceWorker::Open(const std::string& id, const std::string& model,
                          const std::string& mode) {
  const json request = {{"cmd", "open"}, {"id", id}, {"model", model}, {"mode", mode}};
  // Opening an auto session profiles the device under the quota: allow for it.
  return ParseReply(Call(request.dump(), 4 * timeout_ms_)).status();
}

Result<RunSample> DeviceWorker::Run(const std::string& id) {
  const json request = {{"cmd", "run"}, {"id", id}};
  EI_ASSIGN_OR_RETURN(json r, ParseReply(Call(request.dump(), 2 * timeout_ms_)));
  RunSample s;
  s.total_ms = r.value("total_ms", 0.0);
  s.device_ms = r.value("device_ms", 0.0);
  s.upload_ms = r.value("upload_ms", 0.0);
  s.queue_ms = r.value("queue_ms", 0.0);
  s.server_ms = r.value("server_ms", 0.0);
  s.download_ms = r.value("download_ms", 0.0);
  s.load_factor = r.value("load_factor", 0.0);
  s.predicted_ms = r.value("predicted_ms", 0.0);
  s.cut = r.value("cut", "");
  s.bytes_sent = r.value("bytes_sent", int64_t{0});
  s.compressed = r.value("compressed", false);
  s.est_bandwidth_mbit = r.value("est_bandwidth_mbit", 0.0);
  s.est_rtt_ms = r.value("est_rtt_ms", 0.0);
  s.est_load_factor = r.value("est_load_factor", 0.0);
  s.est_queue_ms = r.value("est_queue_ms", 0.0);
  return s;
}

Status DeviceWorker::Close(const std::string& id) {
  const json request = {{"cmd", "close"}, {"id", id}};
  return ParseReply(Call(request.dump(), timeout_ms_)).status();
}

Result<std::vector<NodeProfile>> DeviceWorker::Profile(const std::string& model, int repeat) {
  const json request = {{"cmd", "profile"}, {"model", model}, {"repeat", repeat}};
  EI_ASSIGN_OR_RETURN(json r, ParseReply(Call(request.dump(), 4 * timeout_ms_)));
  std::vector<NodeProfile> profile;
  for (const json& row : r["profile"]) {
    NodeProfile p;
    p.name = row.value("name", "");
    p.op = row.value("op", "");
    p.median_ms = row.value("median_ms", 0.0);
    profile.push_back(std::move(p));
  }
  return profile;
}

}  // namespace edgeinfer::bench

#include "server/inference.h"

#include <algorithm>
#include <chrono>

#include "net/model_hash.h"
#include "net/protocol.h"

namespace edgeinfer::server {

namespace {

Scheduler* LoaderOf(const ServerState& state) {
  return state.loader != nullptr ? state.loader : state.scheduler;
}

}  // namespace

Status CheckNotStopping(const ServerState& state) {
  if (state.stopping.load(std::memory_order_acquire)) {
    return Status::Unavailable("the server is shutting down");
  }
  return Status::Ok();
}

Status BandParams::Read(bool output, const std::string& tensor, const std::string& key,
                        const net::TransferParamValue& value) {
  const bool input_key = key == net::kRowOffsetParam || key == net::kFullHeightParam;
  const bool output_key = key == net::kRowBeginParam || key == net::kRowEndParam;
  if (!input_key && !output_key) return Status::Ok();
  const std::string what =
      std::string(output ? "output '" : "input '") + tensor + "': parameter " + key;
  if (output ? input_key : output_key) {
    return Status::InvalidArgument(what + " belongs to " +
                                   (output ? "input tensors" : "requested outputs"));
  }
  if (!value.integer) return Status::InvalidArgument(what + " must be an integer");
  Pair& pair = output ? outputs_[tensor] : inputs_[tensor];
  if (key == net::kRowOffsetParam || key == net::kRowBeginParam) {
    pair.first = *value.integer;
  } else {
    pair.second = *value.integer;
  }
  return Status::Ok();
}

Result<BandSpec> BandParams::Finish() const {
  BandSpec spec;
  for (const auto& [name, pair] : inputs_) {
    if (!pair.first || !pair.second) {
      return Status::InvalidArgument("input '" + name + "': " + net::kRowOffsetParam + " and " +
                                     net::kFullHeightParam + " must be given together");
    }
    spec.inputs[name] = {*pair.first, *pair.second};
  }
  for (const auto& [name, pair] : outputs_) {
    if (!pair.first || !pair.second) {
      return Status::InvalidArgument("output '" + name + "': " + net::kRowBeginParam + " and " +
                                     net::kRowEndParam + " must be given together");
    }
    if (*pair.first < 0 || *pair.second <= *pair.first) {
      return Status::InvalidArgument("output '" + name + "': rows [" + std::to_string(*pair.first) +
                                     ", " + std::to_string(*pair.second) +
                                     ") are empty or negative");
    }
    spec.outputs[name] = {*pair.first, *pair.second};
  }
  return spec;
}

Status ReadRequestParam(const std::string& key, std::optional<bool> flag,
                        std::optional<int64_t> integer, InferCall* call) {
  if (key == net::kCollabParam) {
    if (!flag && !integer) {
      return Status::InvalidArgument(std::string("request parameter ") + net::kCollabParam +
                                     " must be a bool or an integer");
    }
    call->collab = flag ? *flag : *integer != 0;
  } else if (key == net::kDeadlineMsParam) {
    if (!integer || *integer <= 0) {
      return Status::InvalidArgument(std::string("request parameter ") + net::kDeadlineMsParam +
                                     " must be a positive integer (milliseconds)");
    }
    call->deadline_ms = *integer;
  }
  return Status::Ok();
}

Result<InferReply> RunInference(const ServerState& state, const InferCall& call) {
  EI_RETURN_IF_ERROR(CheckNotStopping(state));
  Result<std::shared_ptr<const ServedModel>> model =
      state.repository->Find(call.model, call.version);
  if (!model.ok()) return model.status();
  const std::string& version = (*model)->version();
  const auto start = std::chrono::steady_clock::now();
  Result<SliceResult> result = Status::Internal("request did not run");
  ScheduleTiming timing;
  int collab_servers = 0;
  bool collab_missed = false;
  if (call.collab && !call.band.empty()) {
    return Status::InvalidArgument(std::string(net::kCollabParam) +
                                   " cannot be combined with row bands");
  }
  auto run = [&] {
    if (!call.collab || state.collab == nullptr) {
      result = (*model)->Run(call.inputs, call.outputs, call.band);
      collab_servers = 1;
      return;
    }
    Result<CollabResult> collab =
        state.collab->Run(*model, call.inputs, call.outputs, call.deadline_ms);
    if (!collab.ok()) {
      result = collab.status();
      return;
    }
    SliceResult slice;
    slice.outputs = std::move(collab->outputs);
    slice.compute_us = collab->compute_us;
    collab_servers = collab->servers;
    collab_missed = collab->deadline_missed;
    result = std::move(slice);
  };
  Status scheduled = state.scheduler->Run(run, call.deadline, &timing);
  if (scheduled.ok() && !result.ok()) scheduled = result.status();
  if (!scheduled.ok()) {
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
    state.metrics->RecordFailure(call.model, version, us);
    return scheduled;
  }
  InferReply reply;
  reply.version = version;
  reply.outputs = std::move(result->outputs);
  reply.row_offsets = std::move(result->row_offsets);
  reply.queue_us = timing.queue_us;
  reply.compute_us = result->compute_us;
  reply.load_factor = result->load_factor;
  reply.queue_length = timing.queue_length;
  if (call.collab) reply.collab_servers = collab_servers;
  reply.deadline_missed = collab_missed;
  state.metrics->RecordSuccess(call.model, version, reply.queue_us, reply.compute_us);
  return reply;
}

Status UploadModel(const ServerState& state, const std::string& name, const std::string& version,
                   const std::string& bytes, Scheduler::Clock::time_point deadline) {
  if (!state.allow_upload) {
    return Status(StatusCode::kPermissionDenied,
                  "model upload is disabled on this server (start it with --allow-upload)");
  }
  // Loaded under this very name (not only found by content under another one: an explicit
  // upload makes the name its own, so that it can be unloaded by it).
  const std::vector<std::string> versions = state.repository->Versions(name);
  if (net::IsContentModelName(name) &&
      std::find(versions.begin(), versions.end(), version) != versions.end() &&
      net::ContentModelName(bytes) == name) {
    return Status::Ok();
  }
  Status loaded = Status::Internal("load did not run");
  EI_RETURN_IF_ERROR(LoaderOf(state)->Run(
      [&] { loaded = state.repository->LoadFromBytes(name, version, bytes); }, deadline, nullptr));
  return loaded;
}

Status ReloadModel(const ServerState& state, const std::string& name,
                   Scheduler::Clock::time_point deadline) {
  Status loaded = Status::Internal("load did not run");
  EI_RETURN_IF_ERROR(LoaderOf(state)->Run(
      [&] { loaded = state.repository->LoadFromDirectory(name); }, deadline, nullptr));
  return loaded;
}

}  // namespace edgeinfer::server

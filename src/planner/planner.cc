#include "planner/planner.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>

namespace edgeinfer::planner {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Bytes per millisecond of a link of `mbit` megabits (1e6 bits) per second.
double BytesPerMs(double mbit) { return mbit * 1e6 / 8.0 / 1e3; }

// Milliseconds to process `bytes` at `mb_per_s` megabytes (1e6 bytes) per second.
double CodecMs(double bytes, double mb_per_s) { return bytes / (mb_per_s * 1e3); }

// Index of the cut with the smallest total under `conditions`; the fewest device nodes on ties.
size_t ArgMin(const CostTable& table, const Conditions& conditions) {
  size_t best = 0;
  double best_ms = kInf;
  const double bytes_per_ms =
      conditions.bandwidth_mbit > 0.0 ? BytesPerMs(conditions.bandwidth_mbit) : 0.0;
  for (size_t i = 0; i < table.cuts.size(); ++i) {
    const CutCost& cut = table.cuts[i];
    // Everything but the upload is cheap to price; a cut that loses without it loses with it,
    // and skipping it saves the per-tensor compression lookups. The bound adds the same terms
    // in the same order as PredictCut with a zero upload, so it never exceeds the total.
    if (!cut.all_local && bytes_per_ms > 0.0) {
      const double server_ms = conditions.load_factor * cut.server_ms + conditions.queue_ms;
      const double bound = cut.device_ms * conditions.device_speed + 0.0 + conditions.rtt_ms +
                           server_ms + static_cast<double>(cut.download_bytes) / bytes_per_ms;
      if (bound >= best_ms) continue;
    }
    const double ms = PredictCut(cut, conditions).total_ms;
    if (ms < best_ms) {
      best_ms = ms;
      best = i;
    }
  }
  // Every cut unpredictable (cannot happen with an all-local cut): stay local.
  if (best_ms == kInf) best = table.cuts.size() - 1;
  return best;
}

}  // namespace

Cut CutAt(int device_nodes, int node_count) {
  if (device_nodes <= 0) return Cut::Remote();
  if (device_nodes >= node_count) return Cut::Local();
  return Cut::AfterNodes(device_nodes);
}

Result<Policy> ParsePolicy(const std::string& text, int* fixed_device_nodes) {
  // The planner's own names; every other form is a session mode's text (edgeinfer/mode.h).
  if (text == "neurosurgeon") return Policy::kNeurosurgeon;
  if (text == "loadaware") return Policy::kLoadAware;
  std::string mode_text = text;
  if (text.rfind("fixed:", 0) == 0) mode_text = "split:" + text.substr(6);
  ExecutionMode mode;
  Cut cut;
  if (!ParseExecutionMode(mode_text, &mode, &cut).ok() ||
      (mode == ExecutionMode::kSplit && cut.kind() != Cut::Kind::kAfterNodes) ||
      cut.nodes() > std::numeric_limits<int>::max()) {
    return Status::InvalidArgument("unknown policy '" + text +
                                   "' (expected local, remote, fixed:N or split:N with N a node "
                                   "count, neurosurgeon / auto-noload or loadaware / auto)");
  }
  switch (mode) {
    case ExecutionMode::kLocal:
      return Policy::kLocal;
    case ExecutionMode::kRemote:
      return Policy::kRemote;
    case ExecutionMode::kAuto:
      return Policy::kLoadAware;
    case ExecutionMode::kAutoNoLoad:
      return Policy::kNeurosurgeon;
    case ExecutionMode::kSplit:
      break;
    case ExecutionMode::kCollab:
      return Status::InvalidArgument("policy 'collab' is not a cut policy (expected local, "
                                     "remote, fixed:N or split:N, neurosurgeon / auto-noload or "
                                     "loadaware / auto)");
  }
  if (fixed_device_nodes != nullptr) *fixed_device_nodes = static_cast<int>(cut.nodes());
  return Policy::kFixed;
}

const char* PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kLocal:
      return "local";
    case Policy::kRemote:
      return "remote";
    case Policy::kFixed:
      return "fixed";
    case Policy::kNeurosurgeon:
      return "neurosurgeon";
    case Policy::kLoadAware:
      return "loadaware";
  }
  return "unknown";
}

Prediction PredictCut(const CutCost& cut, const Conditions& conditions) {
  Prediction p;
  p.device_nodes = cut.device_nodes;
  p.device_ms = cut.device_ms * conditions.device_speed;
  if (cut.all_local) {
    p.total_ms = p.device_ms;
    return p;
  }
  p.server_ms = conditions.load_factor * cut.server_ms + conditions.queue_ms;
  p.rtt_ms = conditions.rtt_ms;
  if (!(conditions.bandwidth_mbit > 0.0)) {
    p.upload_ms = kInf;
    p.download_ms = kInf;
    p.total_ms = kInf;
    return p;
  }
  const double bytes_per_ms = BytesPerMs(conditions.bandwidth_mbit);
  p.upload_ms = static_cast<double>(cut.upload_bytes) / bytes_per_ms;
  const CompressionModel* c = conditions.compression;
  if (c != nullptr && !c->codec.empty() && c->compress_mb_per_s > 0.0 && cut.upload_bytes > 0) {
    double wire_bytes = 0.0;
    for (size_t i = 0; i < cut.tensors.size(); ++i) {
      auto it = c->ratio.find(cut.tensors[i]);
      const double ratio = it != c->ratio.end() ? it->second : c->default_ratio;
      wire_bytes += static_cast<double>(cut.tensor_bytes[i]) * ratio;
    }
    const double raw = static_cast<double>(cut.upload_bytes);
    double compressed_ms = CodecMs(raw, c->compress_mb_per_s) + wire_bytes / bytes_per_ms;
    if (c->decompress_mb_per_s > 0.0) compressed_ms += CodecMs(raw, c->decompress_mb_per_s);
    if (compressed_ms < p.upload_ms) {
      p.upload_ms = compressed_ms;
      p.compress = true;
    }
  }
  p.download_ms = static_cast<double>(cut.download_bytes) / bytes_per_ms;
  p.total_ms = p.device_ms + p.upload_ms + p.rtt_ms + p.server_ms + p.download_ms;
  return p;
}

std::vector<Prediction> PredictAll(const CostTable& table, const Conditions& conditions) {
  std::vector<Prediction> all;
  all.reserve(table.cuts.size());
  for (const CutCost& cut : table.cuts) all.push_back(PredictCut(cut, conditions));
  return all;
}

Prediction Decide(const CostTable& table, const Conditions& conditions, Policy policy,
                  int fixed_device_nodes) {
  if (table.cuts.empty()) {
    Prediction none;
    none.total_ms = kInf;
    return none;
  }
  const int last = static_cast<int>(table.cuts.size()) - 1;
  switch (policy) {
    case Policy::kLocal:
      return PredictCut(table.cuts.back(), conditions);
    case Policy::kRemote:
      return PredictCut(table.cuts.front(), conditions);
    case Policy::kFixed:
      return PredictCut(table.cuts[static_cast<size_t>(std::clamp(fixed_device_nodes, 0, last))],
                        conditions);
    case Policy::kNeurosurgeon: {
      Conditions unloaded = conditions;
      unloaded.load_factor = 1.0;
      unloaded.queue_ms = 0.0;
      return PredictCut(table.cuts[ArgMin(table, unloaded)], conditions);
    }
    case Policy::kLoadAware:
      break;
  }
  return PredictCut(table.cuts[ArgMin(table, conditions)], conditions);
}

std::vector<int> LoadEnvelope(const CostTable& table, const Conditions& conditions) {
  // Line i: total(k) = rest[i] + k x slope[i].
  Conditions idle = conditions;
  idle.load_factor = 0.0;
  std::vector<double> rest, slope;
  for (const CutCost& cut : table.cuts) {
    rest.push_back(PredictCut(cut, idle).total_ms);
    slope.push_back(cut.all_local ? 0.0 : cut.server_ms);
  }
  // Ordering of lines at the same point: the smaller slope (it stays best longer), then the
  // cut with fewer device nodes.
  auto better = [&](size_t a, size_t b) {
    return slope[a] < slope[b] || (slope[a] == slope[b] && a < b);
  };
  std::vector<int> envelope;
  size_t best = rest.size();
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == kInf) continue;
    if (best == rest.size() || rest[i] < rest[best] || (rest[i] == rest[best] && better(i, best))) {
      best = i;
    }
  }
  while (best < rest.size()) {
    envelope.push_back(static_cast<int>(best));
    // The next line to undercut `best` as k grows: the smallest crossing point among lines of
    // smaller slope.
    size_t next = rest.size();
    double next_k = kInf;
    for (size_t j = 0; j < rest.size(); ++j) {
      if (rest[j] == kInf || slope[j] >= slope[best]) continue;
      const double k = (rest[j] - rest[best]) / (slope[best] - slope[j]);
      if (next == rest.size() || k < next_k || (k == next_k && better(j, next))) {
        next = j;
        next_k = k;
      }
    }
    best = next;
  }
  return envelope;
}

}  // namespace edgeinfer::planner

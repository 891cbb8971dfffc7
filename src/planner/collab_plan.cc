#include "planner/collab_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "ir/flops.h"

namespace edgeinfer::planner {

namespace {

// Milliseconds to move `bytes` at `mbit` Mbit/s (1 Mbit = 1e6 bit).
double TransferMs(double bytes, double mbit) { return bytes * 8.0 / (mbit * 1e3); }

bool Spatial(const RowRule& rule) {
  return rule.kind == RowRuleKind::kPointwise || rule.kind == RowRuleKind::kWindow;
}

int64_t RowBytes(const Value& v) {
  if (v.shape.size() != 4 || v.shape[2] <= 0) return 0;
  return NumElements(v.shape) / v.shape[2] * static_cast<int64_t>(DTypeSize(v.dtype));
}

struct Candidate {
  int position = 0;  // cut after this many nodes of the topological order
  ValueId value = kNoValue;
};

Status FillNeeds(const Graph& graph, CollabStage* stage) {
  EI_ASSIGN_OR_RETURN(Graph slice, graph.Slice({stage->input}, {stage->output}));
  stage->need_begin.resize(static_cast<size_t>(stage->out_height));
  stage->need_end.resize(static_cast<size_t>(stage->out_height));
  const ValueId in = slice.FindValue(stage->input);
  for (int64_t r = 0; r < stage->out_height; ++r) {
    EI_ASSIGN_OR_RETURN(RowMap map,
                        MapRows(slice, {{stage->output, RowRange{r, r + 1}}}, {stage->input}));
    const RowNeed& need = map.values[static_cast<size_t>(in)];
    stage->need_begin[static_cast<size_t>(r)] = need.rows.begin;
    stage->need_end[static_cast<size_t>(r)] = need.rows.end;
  }
  for (int64_t r = 1; r < stage->out_height; ++r) {
    const size_t i = static_cast<size_t>(r);
    if (stage->need_begin[i] < stage->need_begin[i - 1] ||
        stage->need_end[i] < stage->need_end[i - 1]) {
      return Status::Internal("stage " + stage->input + " -> " + stage->output +
                              ": the rows needed do not grow with the output row");
    }
  }
  return Status::Ok();
}

// Output rows [0, H) split into consecutive lengths proportional to `lengths` (cumulative
// rounding, so the parts sum to H exactly). Inner boundaries are multiples of H / 16 (at least
// 1), so that heights that drift a little with the estimates keep the same bands, whose
// compilations the servers cache.
std::vector<int64_t> Boundaries(int64_t height, const std::vector<double>& lengths) {
  const int64_t quantum = std::max<int64_t>(1, height / 16);
  double total = 0.0;
  for (double l : lengths) total += std::max(0.0, l);
  std::vector<int64_t> bounds{0};
  double cumulative = 0.0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    cumulative += std::max(0.0, lengths[i]);
    int64_t b = i + 1 == lengths.size()
                    ? height
                    : quantum * static_cast<int64_t>(std::llround(
                                    static_cast<double>(height) * cumulative /
                                    std::max(total, 1e-12) / static_cast<double>(quantum)));
    bounds.push_back(std::clamp(b, bounds.back(), height));
  }
  return bounds;
}

StagePlan HostAlone(const CollabStage& stage, size_t servers, double row_ms) {
  StagePlan plan;
  plan.rows.assign(servers, 0);
  plan.rows[0] = stage.out_height;
  plan.host_rows.push_back({0, stage.out_height});
  plan.host_ms = row_ms * static_cast<double>(stage.out_height);
  plan.predicted_ms = plan.host_ms;
  return plan;
}

StagePlan PlanStage(const CollabStage& stage, const std::vector<CollabServer>& servers,
                    double host_ms_per_gflop, CollabScheme scheme) {
  const int64_t H = stage.out_height;
  const double unit_row_ms = stage.flops / 1e9 * host_ms_per_gflop / static_cast<double>(H);
  std::vector<double> row_ms(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    row_ms[i] =
        unit_row_ms * std::max(servers[i].load_factor, 1e-3) / std::max(servers[i].speed, 1e-6);
  }
  StagePlan alone = HostAlone(stage, servers.size(), row_ms[0]);
  std::vector<size_t> peers;
  for (size_t i = 1; i < servers.size(); ++i) {
    if (servers[i].usable && servers[i].bandwidth_mbit > 0.0 && servers[i].speed > 0.0) {
      peers.push_back(i);
    }
  }
  if (peers.empty() || H < 2) return alone;

  // Approximations that steer the heights; the concrete segments are then priced exactly.
  const double S = static_cast<double>(stage.in_height) / static_cast<double>(H);
  const size_t mid = static_cast<size_t>(H / 2);
  const double E = static_cast<double>(stage.need_end[mid] - stage.need_begin[mid]);
  const double gap = scheme == CollabScheme::kHalp ? std::ceil(std::max(0.0, E - 1.0) / S) : 0.0;
  const double halo_rows = std::max(0.0, E - S);
  std::vector<double> per_row(servers.size(), 0.0), fixed(servers.size(), 0.0);
  for (size_t i : peers) {
    const double mbit = servers[i].bandwidth_mbit;
    per_row[i] = row_ms[i] + TransferMs(S * static_cast<double>(stage.in_row_bytes) +
                                            static_cast<double>(stage.out_row_bytes),
                                        mbit);
    fixed[i] =
        servers[i].rtt_ms + TransferMs(halo_rows * static_cast<double>(stage.in_row_bytes), mbit);
  }
  // Rows the servers can compute by time T; the host's include the overlap zones.
  auto capacity = [&](double T, std::vector<double>* caps) {
    double total = T / row_ms[0];
    for (size_t i : peers) {
      (*caps)[i] = std::max(0.0, (T - fixed[i]) / per_row[i]);
      total += (*caps)[i];
    }
    (*caps)[0] = T / row_ms[0];
    return total;
  };
  std::vector<double> caps(servers.size(), 0.0);
  double lo = 0.0, hi = alone.predicted_ms;
  for (int it = 0; it < 60; ++it) {
    const double T = 0.5 * (lo + hi);
    if (capacity(T, &caps) >= static_cast<double>(H)) {
      hi = T;
    } else {
      lo = T;
    }
  }
  capacity(hi, &caps);
  // Segment lengths top to bottom: the host first, then the peers with at least one row.
  std::vector<size_t> order{0};
  std::vector<double> lengths;
  for (size_t i : peers) {
    if (caps[i] >= 1.0) order.push_back(i);
  }
  if (order.size() == 1) return alone;
  // HALP: the overlap zone between two consecutive peers is carved from the upper one's
  // segment and computed by the host (the host's own segment, on top, borders the first peer's
  // interior directly, and the last peer ends at the border).
  const double gaps = gap * static_cast<double>(order.size() - 2);
  lengths.push_back(std::max(0.0, caps[0] - gaps));
  for (size_t k = 1; k < order.size(); ++k) {
    lengths.push_back(caps[order[k]] + (k + 1 < order.size() ? gap : 0.0));
  }
  const std::vector<int64_t> bounds = Boundaries(H, lengths);

  StagePlan plan;
  plan.rows.assign(servers.size(), 0);
  std::vector<RowRange> peer_rows;  // computed by peers, top to bottom
  for (size_t k = 1; k < order.size(); ++k) {
    const size_t i = order[k];
    RowRange out{bounds[k], bounds[k + 1]};
    if (out.empty()) continue;
    if (scheme == CollabScheme::kHalp) {
      // The peer's disjoint input segment [a, b) and the output rows it can compute from it.
      const int64_t a = stage.need_begin[static_cast<size_t>(out.begin)];
      const int64_t b = k + 1 < order.size() ? stage.need_begin[static_cast<size_t>(bounds[k + 1])]
                                             : stage.in_height;
      auto first = std::lower_bound(stage.need_begin.begin(), stage.need_begin.end(), a);
      auto last = std::upper_bound(stage.need_end.begin(), stage.need_end.end(), b);
      out = {first - stage.need_begin.begin(), last - stage.need_end.begin()};
      if (out.empty()) continue;
    }
    StageTask task;
    task.server = i;
    task.output = out;
    task.input = stage.Needs(out);
    const double bytes = static_cast<double>(task.input.size() * stage.in_row_bytes +
                                             task.output.size() * stage.out_row_bytes);
    task.predicted_ms = servers[i].rtt_ms + TransferMs(bytes, servers[i].bandwidth_mbit) +
                        row_ms[i] * static_cast<double>(out.size());
    plan.rows[i] = out.size();
    peer_rows.push_back(out);
    plan.predicted_ms = std::max(plan.predicted_ms, task.predicted_ms);
    plan.tasks.push_back(task);
  }
  int64_t next = 0;
  for (const RowRange& r : peer_rows) {
    if (r.begin > next) plan.host_rows.push_back({next, r.begin});
    next = r.end;
  }
  if (next < H) plan.host_rows.push_back({next, H});
  for (const RowRange& r : plan.host_rows) plan.rows[0] += r.size();
  plan.host_ms = row_ms[0] * static_cast<double>(plan.rows[0]);
  plan.predicted_ms = std::max(plan.predicted_ms, plan.host_ms);
  if (plan.tasks.empty() || plan.predicted_ms >= alone.predicted_ms) return alone;
  return plan;
}

}  // namespace

RowRange CollabStage::Needs(RowRange out) const {
  if (out.empty()) return {};
  return {need_begin[static_cast<size_t>(out.begin)], need_end[static_cast<size_t>(out.end - 1)]};
}

const char* CollabSchemeName(CollabScheme scheme) {
  return scheme == CollabScheme::kHalp ? "halp" : "modnn";
}

Result<CollabScheme> ParseCollabScheme(std::string_view text) {
  if (text == "halp") return CollabScheme::kHalp;
  if (text == "modnn") return CollabScheme::kModnn;
  return Status::InvalidArgument("unknown collaborative scheme '" + std::string(text) +
                                 "' (expected halp or modnn)");
}

Result<CollabModel> AnalyseCollab(const Graph& graph, CollabScheme scheme) {
  CollabModel model;
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
  const int n = static_cast<int>(order.size());
  std::vector<int> position(graph.nodes().size(), -1);
  for (int p = 0; p < n; ++p) position[static_cast<size_t>(order[static_cast<size_t>(p)])] = p;
  for (int node : order) model.total_flops += NodeFlops(graph, graph.nodes()[node]);

  // The spatial prefix: nodes [0, spatial) of the order are pointwise or windows in rows.
  int spatial = n;
  for (int p = 0; p < n; ++p) {
    Result<RowRule> rule = NodeRowRule(graph, order[static_cast<size_t>(p)]);
    if (!rule.ok() || !Spatial(*rule)) {
      spatial = p;
      break;
    }
  }
  // How many non-constant values cross each cut, and which one when only one does.
  std::vector<int> count(static_cast<size_t>(n) + 1, 0);
  std::vector<ValueId> only(static_cast<size_t>(n) + 1, kNoValue);
  std::vector<bool> is_output(graph.values().size(), false);
  for (ValueId id : graph.outputs()) is_output[static_cast<size_t>(id)] = true;
  for (size_t id = 0; id < graph.values().size(); ++id) {
    const Value& v = graph.values()[id];
    if (v.is_constant()) continue;
    if (v.producer >= 0 && position[static_cast<size_t>(v.producer)] < 0) continue;
    const int start = v.producer < 0 ? 0 : position[static_cast<size_t>(v.producer)] + 1;
    int end = is_output[id] ? n : -1;
    for (int c : v.consumers) end = std::max(end, position[static_cast<size_t>(c)]);
    for (int p = start; p <= end; ++p) {
      ++count[static_cast<size_t>(p)];
      only[static_cast<size_t>(p)] = static_cast<ValueId>(id);
    }
  }
  if (count[0] != 1) {
    model.why_none = "the model has " + std::to_string(count[0]) + " inputs (one is needed)";
    return model;
  }
  std::vector<Candidate> candidates;
  for (int p = 0; p <= spatial && p <= n; ++p) {
    if (count[static_cast<size_t>(p)] != 1) continue;
    const ValueId id = only[static_cast<size_t>(p)];
    const Value& v = graph.value(id);
    if (v.shape.size() != 4 || !v.shape_known() || v.shape[2] < 1) continue;
    if (!candidates.empty() && candidates.back().value == id) continue;
    candidates.push_back({p, id});
  }
  if (candidates.empty() || candidates[0].position != 0) {
    model.why_none = "the model input is not a rank-4 NCHW tensor";
    return model;
  }
  if (candidates.size() < 2) {
    model.why_none = spatial < n ? "the first node is not spatially local in rows"
                                 : "the model has no spatially local layers";
    return model;
  }
  std::vector<Candidate> kept{candidates[0]};
  for (size_t i = 1; i < candidates.size(); ++i) {
    const bool last = i + 1 == candidates.size();
    const bool down =
        graph.value(candidates[i].value).shape[2] < graph.value(kept.back().value).shape[2];
    if (scheme == CollabScheme::kModnn || down || last) kept.push_back(candidates[i]);
  }
  for (size_t s = 0; s + 1 < kept.size(); ++s) {
    CollabStage stage;
    const Value& in = graph.value(kept[s].value);
    const Value& out = graph.value(kept[s + 1].value);
    stage.input = in.name;
    stage.output = out.name;
    stage.in_height = in.shape[2];
    stage.out_height = out.shape[2];
    stage.in_row_bytes = RowBytes(in);
    stage.out_row_bytes = RowBytes(out);
    for (int p = kept[s].position; p < kept[s + 1].position; ++p) {
      stage.flops += NodeFlops(graph, graph.nodes()[order[static_cast<size_t>(p)]]);
      ++stage.nodes;
    }
    EI_RETURN_IF_ERROR(FillNeeds(graph, &stage));
    model.front_flops += stage.flops;
    model.stages.push_back(std::move(stage));
  }
  model.front = model.stages.back().output;
  return model;
}

CollabPlan PlanCollab(const CollabModel& model, const std::vector<CollabServer>& servers,
                      double host_ms_per_gflop, CollabScheme scheme) {
  CollabPlan plan;
  plan.scheme = scheme;
  if (servers.empty()) return plan;
  const double host_k = std::max(servers[0].load_factor, 1e-3) / std::max(servers[0].speed, 1e-6);
  plan.host_alone_ms = model.total_flops / 1e9 * host_ms_per_gflop * host_k;
  plan.tail_ms = (model.total_flops - model.front_flops) / 1e9 * host_ms_per_gflop * host_k;
  plan.predicted_ms = plan.tail_ms;
  std::vector<bool> used(servers.size(), false);
  used[0] = true;
  for (const CollabStage& stage : model.stages) {
    plan.stages.push_back(PlanStage(stage, servers, host_ms_per_gflop, scheme));
    plan.predicted_ms += plan.stages.back().predicted_ms;
    for (const StageTask& t : plan.stages.back().tasks) used[t.server] = true;
  }
  plan.servers_used = static_cast<int>(std::count(used.begin(), used.end(), true));
  return plan;
}

std::string DescribeCollabPlan(const CollabModel& model, const CollabPlan& plan) {
  std::string text;
  char line[256];
  for (size_t s = 0; s < model.stages.size() && s < plan.stages.size(); ++s) {
    const CollabStage& st = model.stages[s];
    const StagePlan& sp = plan.stages[s];
    std::snprintf(line, sizeof(line),
                  "stage %zu  %s -> %s  %lld -> %lld rows  %d nodes  %.2f ms:", s + 1,
                  st.input.c_str(), st.output.c_str(), static_cast<long long>(st.in_height),
                  static_cast<long long>(st.out_height), st.nodes, sp.predicted_ms);
    text += line;
    for (const RowRange& r : sp.host_rows) text += " host " + r.ToString();
    for (const StageTask& t : sp.tasks) {
      text += " | server " + std::to_string(t.server) + " " + t.output.ToString() + " from " +
              t.input.ToString();
    }
    text += "\n  heights:";
    for (size_t i = 0; i < sp.rows.size(); ++i) text += " " + std::to_string(sp.rows[i]);
    text += "\n";
  }
  std::snprintf(line, sizeof(line),
                "tail from %s: %.2f ms\npredicted %.2f ms (host alone %.2f ms), %d servers used\n",
                model.front.c_str(), plan.tail_ms, plan.predicted_ms, plan.host_alone_ms,
                plan.servers_used);
  text += line;
  return text;
}

}  // namespace edgeinfer::planner

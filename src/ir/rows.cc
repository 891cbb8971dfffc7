#include "ir/rows.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <tuple>

namespace edgeinfer {

namespace {

std::string Label(const Node& node) {
  return std::string(OpName(node.op)) + " node '" + node.name + "'";
}

Status Bad(const Node& node, const std::string& message) {
  return Status::InvalidArgument("row band: " + Label(node) + ": " + message);
}

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

RowRange Clamp(RowRange r, int64_t height) {
  r.begin = std::clamp<int64_t>(r.begin, 0, height);
  r.end = std::clamp<int64_t>(r.end, r.begin, height);
  return r;
}

RowRange Hull(const RowRange& a, const RowRange& b) {
  return {std::min(a.begin, b.begin), std::max(a.end, b.end)};
}

bool Rank4(const Value& v) { return v.rank_known && v.shape.size() == 4 && v.shape_known(); }

// Ops that compute each output element from the elements at the same position of their inputs
// (after broadcasting): row r of the output needs row r of each input of the same height.
bool IsElementwise(OpKind op) {
  switch (op) {
    case OpKind::kRelu:
    case OpKind::kLeakyRelu:
    case OpKind::kPRelu:
    case OpKind::kClip:
    case OpKind::kSigmoid:
    case OpKind::kHardSigmoid:
    case OpKind::kHardSwish:
    case OpKind::kTanh:
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
    case OpKind::kPow:
    case OpKind::kSqrt:
    case OpKind::kExp:
    case OpKind::kErf:
    case OpKind::kMax:
    case OpKind::kMin:
    case OpKind::kDropout:
    case OpKind::kIdentity:
    case OpKind::kCast:
    case OpKind::kEqual:
    case OpKind::kWhere:
    case OpKind::kNeg:
    case OpKind::kReciprocal:
    case OpKind::kAbs:
    case OpKind::kLog:
    case OpKind::kFloor:
    case OpKind::kCeil:
    case OpKind::kSum:
    case OpKind::kMean:
    case OpKind::kLess:
    case OpKind::kGreater:
    case OpKind::kNot:
    case OpKind::kSoftplus:
    case OpKind::kElu:
    case OpKind::kSelu:
    case OpKind::kMish:
    case OpKind::kSin:
    case OpKind::kCos:
      return true;
    default:
      return false;
  }
}

int64_t NormalizedAxis(const Node& node, int64_t fallback, size_t rank) {
  int64_t axis = node.attrs.GetInt("axis", fallback);
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

// A pointwise node: which inputs are banded (of the output's height, along their own axis
// rank-2), the others are passed whole.
RowRule PointwiseRule(const Graph& graph, const Node& node, const std::vector<int>& banded_slots) {
  RowRule rule;
  rule.kind = RowRuleKind::kPointwise;
  rule.banded.assign(node.inputs.size(), false);
  const ValueId out = node.outputs.empty() ? kNoValue : node.outputs[0];
  if (out < 0 || !Rank4(graph.value(out))) return rule;  // no rows: every input whole
  const int64_t h = graph.value(out).shape[2];
  rule.in_height = rule.out_height = h;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const bool candidate =
        banded_slots.empty() || std::find(banded_slots.begin(), banded_slots.end(),
                                          static_cast<int>(i)) != banded_slots.end();
    const ValueId v = node.inputs[i];
    if (!candidate || v < 0) continue;
    const Value& value = graph.value(v);
    if (!value.rank_known || !value.shape_known() || value.shape.size() < 2) continue;
    const size_t rank = value.shape.size();
    if (value.shape[rank - 2] == h && (h > 1 || rank == 4)) rule.banded[i] = true;
  }
  return rule;
}

Result<RowRule> WindowRule(const Graph& graph, const Node& node) {
  RowRule rule;
  rule.kind = RowRuleKind::kWindow;
  rule.banded.assign(node.inputs.size(), false);
  const ValueId x = node.input(0);
  const ValueId y = node.outputs.empty() ? kNoValue : node.outputs[0];
  if (x < 0 || y < 0 || !Rank4(graph.value(x)) || !Rank4(graph.value(y))) {
    return Bad(node, "a row band needs the input and output shapes as rank-4 NCHW tensors");
  }
  rule.banded[0] = true;
  const Shape& in = graph.value(x).shape;
  rule.in_height = in[2];
  rule.out_height = graph.value(y).shape[2];
  std::vector<int64_t> kernel = node.attrs.GetInts("kernel_shape");
  if (node.op == OpKind::kConv && kernel.empty()) {
    const ValueId w = node.input(1);
    if (w >= 0 && Rank4(graph.value(w))) {
      kernel = {graph.value(w).shape[2], graph.value(w).shape[3]};
    }
  }
  if (kernel.size() != 2) return Bad(node, "kernel_shape must have 2 values");
  std::vector<int64_t> strides = node.attrs.GetInts("strides", {1, 1});
  std::vector<int64_t> dilations = node.attrs.GetInts("dilations", {1, 1});
  std::vector<int64_t> pads = node.attrs.GetInts("pads", {0, 0, 0, 0});
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4) {
    return Bad(node, "strides, dilations and pads must have 2, 2 and 4 values");
  }
  for (int i = 0; i < 2; ++i) {
    if (strides[i] <= 0 || dilations[i] <= 0 || kernel[i] <= 0) {
      return Bad(node, "kernel, strides and dilations must be positive");
    }
  }
  std::string auto_pad = node.attrs.GetString("auto_pad", "NOTSET");
  if (auto_pad.empty()) auto_pad = "NOTSET";
  if (auto_pad == "VALID") {
    pads = {0, 0, 0, 0};
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (int i = 0; i < 2; ++i) {
      const int64_t ek = (kernel[i] - 1) * dilations[i] + 1;
      const int64_t size = in[2 + i];
      const int64_t total =
          std::max<int64_t>(0, (CeilDiv(size, strides[i]) - 1) * strides[i] + ek - size);
      const int64_t small = total / 2;
      pads[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      pads[i + 2] = total - pads[i];
    }
  } else if (auto_pad != "NOTSET") {
    return Bad(node, "unknown auto_pad '" + auto_pad + "'");
  }
  rule.stride = strides[0];
  rule.extent = (kernel[0] - 1) * dilations[0] + 1;
  rule.pad_top = pads[0];
  rule.pad_bottom = pads[2];
  rule.pad_left = pads[1];
  rule.pad_right = pads[3];
  rule.ceil_mode = node.op != OpKind::kConv && node.attrs.GetInt("ceil_mode", 0) != 0;
  // The heights the rule implies must be the graph's: a stale shape would band wrongly.
  const int64_t span = rule.in_height + rule.pad_top + rule.pad_bottom - rule.extent;
  int64_t out_h = -1;
  if (span >= 0) {
    if (rule.ceil_mode) {
      out_h = CeilDiv(span, rule.stride) + 1;
      if ((out_h - 1) * rule.stride >= rule.in_height + rule.pad_top) --out_h;
    } else {
      out_h = span / rule.stride + 1;
    }
  }
  if (out_h != rule.out_height) {
    return Bad(node, "output height " + std::to_string(rule.out_height) +
                         " does not follow from input height " + std::to_string(rule.in_height) +
                         " (expected " + std::to_string(out_h) + ")");
  }
  return rule;
}

bool OutputUsed(const Graph& graph, ValueId v) {
  if (v < 0) return false;
  if (!graph.value(v).consumers.empty()) return true;
  const auto& outs = graph.outputs();
  return std::find(outs.begin(), outs.end(), v) != outs.end();
}

RowRule Refuse(RowRuleKind kind, const std::string& reason) {
  RowRule rule;
  rule.kind = kind;
  rule.reason = reason;
  return rule;
}

}  // namespace

std::string RowRange::ToString() const {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

RowRange RowRule::InputRows(RowRange out) const {
  if (kind != RowRuleKind::kWindow) return out;
  const int64_t begin = out.begin * stride - pad_top;
  if (out.empty()) return {begin, begin};
  return {begin, (out.end - 1) * stride - pad_top + extent};
}

Result<RowRule> NodeRowRule(const Graph& graph, int node_index) {
  const Node& node = graph.nodes()[static_cast<size_t>(node_index)];
  const std::string op = OpName(node.op);
  switch (node.op) {
    case OpKind::kConv:
    case OpKind::kAveragePool:
      return WindowRule(graph, node);
    case OpKind::kMaxPool: {
      if (node.outputs.size() > 1 && OutputUsed(graph, node.outputs[1])) {
        return Refuse(RowRuleKind::kUnsupported,
                      "MaxPool's Indices output indexes the whole tensor; a band cannot give it");
      }
      return WindowRule(graph, node);
    }
    case OpKind::kResize:
    case OpKind::kUpsample:
      return Refuse(RowRuleKind::kUnsupported,
                    op + " rescales rows; the band pass does not handle it (end the band before "
                         "it)");
    case OpKind::kConvTranspose:
      return Refuse(RowRuleKind::kUnsupported,
                    "ConvTranspose spreads each input row over several output rows; the band pass "
                    "does not handle it (end the band before it)");
    case OpKind::kPad:
      return Refuse(RowRuleKind::kUnsupported,
                    "a Pad node is not handled by the band pass (fold it into the next Conv's "
                    "pads, or end the band before it)");
    case OpKind::kBatchNormalization:
    case OpKind::kLRN:
      return PointwiseRule(graph, node, {0});
    case OpKind::kConcat:
    case OpKind::kSplit: {
      const ValueId ref = node.op == OpKind::kConcat
                              ? (node.outputs.empty() ? kNoValue : node.outputs[0])
                              : node.input(0);
      if (ref < 0 || !graph.value(ref).rank_known) {
        return Bad(node, "its rank must be known to band it");
      }
      const size_t rank = graph.value(ref).shape.size();
      const int64_t axis = NormalizedAxis(node, node.op == OpKind::kConcat ? 1 : 0, rank);
      if (rank == 4 && axis == 2) {
        return Refuse(RowRuleKind::kUnsupported,
                      op + " on the height axis (axis 2) joins or splits rows; the band pass does "
                           "not handle it");
      }
      if (rank == 4 && axis != 1 && axis != 3 && axis != 0) {
        return Bad(node, "axis " + std::to_string(axis) + " out of range");
      }
      return PointwiseRule(graph, node,
                           node.op == OpKind::kSplit ? std::vector<int>{0} : std::vector<int>{});
    }
    default:
      break;
  }
  if (IsElementwise(node.op)) {
    // Clip's bounds, Dropout's ratio and similar scalars are rank < 2: passed whole.
    return PointwiseRule(graph, node, {});
  }
  return Refuse(RowRuleKind::kStop,
                op + " mixes rows (each output row needs every input row); a row band ends "
                     "before it");
}

namespace {

void Merge(RowNeed* need, bool whole, RowRange rows, int64_t height) {
  if (whole) rows = {0, height};
  if (!need->needed) {
    need->needed = true;
    need->whole = whole;
    need->rows = rows;
    return;
  }
  need->whole = need->whole || whole;
  need->rows = need->whole ? RowRange{0, height} : Hull(need->rows, rows);
}

int64_t Height(const Value& v) { return Rank4(v) ? v.shape[2] : 0; }

Result<RowMap> MapRowsImpl(const Graph& graph, const std::map<std::string, RowRange>& wanted,
                           const std::set<ValueId>& banded_inputs) {
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
  RowMap map;
  map.values.assign(graph.values().size(), RowNeed{});
  map.nodes.assign(graph.nodes().size(), std::nullopt);
  map.rules.assign(graph.nodes().size(), RowRule{});
  // Values that depend on a banded input: a stop may not need them.
  std::vector<bool> derived(graph.values().size(), false);
  for (ValueId v : banded_inputs) derived[static_cast<size_t>(v)] = true;
  for (int n : order) {
    const Node& node = graph.nodes()[static_cast<size_t>(n)];
    bool any = false;
    for (ValueId v : node.inputs) any = any || (v >= 0 && derived[static_cast<size_t>(v)]);
    for (ValueId v : node.outputs)
      if (v >= 0) derived[static_cast<size_t>(v)] = any;
  }
  for (const auto& [name, rows] : wanted) {
    const ValueId v = graph.FindValue(name);
    if (v == kNoValue) {
      return Status::InvalidArgument("row band: no tensor named '" + name + "'");
    }
    const Value& value = graph.value(v);
    if (!Rank4(value)) {
      return Status::InvalidArgument("row band: output '" + name +
                                     "' is not a rank-4 NCHW tensor of known shape (shape " +
                                     ShapeToString(value.shape) + ")");
    }
    if (rows.begin < 0 || rows.empty() || rows.end > value.shape[2]) {
      return Status::InvalidArgument("row band: rows " + rows.ToString() + " of output '" + name +
                                     "' are outside its height " + std::to_string(value.shape[2]) +
                                     " or empty");
    }
    Merge(&map.values[static_cast<size_t>(v)], false, rows, value.shape[2]);
  }
  for (ValueId v : graph.outputs()) {
    if (wanted.count(graph.value(v).name)) continue;
    Merge(&map.values[static_cast<size_t>(v)], true, {}, Height(graph.value(v)));
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int n = *it;
    const Node& node = graph.nodes()[static_cast<size_t>(n)];
    bool needed = false;
    bool whole = false;
    RowRange rows{0, 0};
    bool first = true;
    for (ValueId v : node.outputs) {
      if (v < 0 || !map.values[static_cast<size_t>(v)].needed) continue;
      const RowNeed& need = map.values[static_cast<size_t>(v)];
      needed = true;
      whole = whole || need.whole;
      rows = first ? need.rows : Hull(rows, need.rows);
      first = false;
    }
    if (!needed) continue;
    EI_ASSIGN_OR_RETURN(RowRule rule, NodeRowRule(graph, n));
    bool banding = false;
    for (ValueId v : node.inputs) banding = banding || (v >= 0 && derived[static_cast<size_t>(v)]);
    if (rule.kind == RowRuleKind::kStop || rule.kind == RowRuleKind::kUnsupported) {
      if (banding) return Bad(node, rule.reason);
      // Computed from whole inputs only: runs as is.
      for (ValueId v : node.inputs) {
        if (v >= 0 && !graph.value(v).is_constant()) {
          Merge(&map.values[static_cast<size_t>(v)], true, {}, Height(graph.value(v)));
        }
      }
      map.rules[static_cast<size_t>(n)] = std::move(rule);
      map.nodes[static_cast<size_t>(n)] = RowRange{0, 0};
      continue;
    }
    const ValueId out = node.outputs[0];
    const bool has_rows = out >= 0 && Rank4(graph.value(out));
    if (!has_rows) {
      std::fill(rule.banded.begin(), rule.banded.end(), false);
      rows = {0, 0};
    } else if (whole) {
      rows = {0, graph.value(out).shape[2]};
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const ValueId v = node.inputs[i];
      if (v < 0 || graph.value(v).is_constant()) continue;
      const Value& value = graph.value(v);
      if (!rule.banded[i]) {
        Merge(&map.values[static_cast<size_t>(v)], true, {}, Height(value));
        continue;
      }
      const int64_t height = value.shape[value.shape.size() - 2];
      Merge(&map.values[static_cast<size_t>(v)], false, Clamp(rule.InputRows(rows), height),
            height);
    }
    map.rules[static_cast<size_t>(n)] = std::move(rule);
    map.nodes[static_cast<size_t>(n)] = rows;
  }
  return map;
}

// Appends a Slice of rows [begin, end) of `x` along `axis`; returns the new value.
ValueId AppendCrop(Graph* graph, ValueId x, int64_t axis, int64_t begin, int64_t end) {
  const std::string stem =
      graph->value(x).name + "_rows" + std::to_string(begin) + "_" + std::to_string(end);
  const std::string name = graph->UniqueName(stem);
  const ValueId out = graph->AddValue(name, graph->value(x).dtype, {});
  graph->mutable_value(out).rank_known = false;
  if (graph->opset >= 10) {
    auto constant = [&](const char* what, int64_t value) {
      return graph->AddConstant(graph->UniqueName(name + "_" + what),
                                Tensor::FromVector<int64_t>({value}, {1}));
    };
    const ValueId starts = constant("starts", begin);
    const ValueId ends = constant("ends", end);
    const ValueId axes = constant("axes", axis);
    graph->AddNode(OpKind::kSlice, name, {x, starts, ends, axes}, {out});
  } else {
    Attributes attrs;
    attrs.Set("starts", std::vector<int64_t>{begin});
    attrs.Set("ends", std::vector<int64_t>{end});
    attrs.Set("axes", std::vector<int64_t>{axis});
    graph->AddNode(OpKind::kSlice, name, {x}, {out}, std::move(attrs));
  }
  return out;
}

}  // namespace

Result<RowMap> MapRows(const Graph& graph, const std::map<std::string, RowRange>& wanted,
                       const std::vector<std::string>& banded_inputs) {
  std::set<ValueId> banded;
  if (banded_inputs.empty()) {
    for (ValueId v : graph.inputs())
      if (Rank4(graph.value(v))) banded.insert(v);
  } else {
    for (const std::string& name : banded_inputs) {
      const ValueId v = graph.FindValue(name);
      if (v == kNoValue) return Status::InvalidArgument("row band: no input named '" + name + "'");
      banded.insert(v);
    }
  }
  return MapRowsImpl(graph, wanted, banded);
}

Result<BandGraph> MakeBandGraph(const Graph& graph, const std::vector<BandInput>& inputs,
                                const std::map<std::string, RowRange>& wanted) {
  std::set<ValueId> banded;
  std::map<ValueId, RowRange> held;
  for (const BandInput& in : inputs) {
    const ValueId v = graph.FindValue(in.name);
    const auto& graph_inputs = graph.inputs();
    if (v == kNoValue ||
        std::find(graph_inputs.begin(), graph_inputs.end(), v) == graph_inputs.end()) {
      return Status::InvalidArgument("row band: '" + in.name + "' is not an input of the band");
    }
    const Value& value = graph.value(v);
    if (!Rank4(value)) {
      return Status::InvalidArgument("row band: input '" + in.name +
                                     "' is not a rank-4 NCHW tensor of known shape (shape " +
                                     ShapeToString(value.shape) + ")");
    }
    const int64_t height = value.shape[2];
    if (in.offset < 0 || in.rows <= 0 || in.offset > height - in.rows) {
      return Status::InvalidArgument("row band: input '" + in.name + "' holds rows " +
                                     RowRange{in.offset, in.offset + in.rows}.ToString() +
                                     ", which do not fit its height " + std::to_string(height));
    }
    if (!banded.insert(v).second) {
      return Status::InvalidArgument("row band: input '" + in.name + "' given twice");
    }
    held[v] = {in.offset, in.offset + in.rows};
  }
  EI_ASSIGN_OR_RETURN(RowMap map, MapRowsImpl(graph, wanted, banded));
  BandGraph band;
  std::ostringstream sig;
  for (const auto& [v, rows] : held) {
    const RowNeed& need = map.values[static_cast<size_t>(v)];
    const std::string& name = graph.value(v).name;
    if (!need.needed) continue;
    if (!rows.Contains(need.rows)) {
      return Status::InvalidArgument(
          "row band: input '" + name + "' holds rows " + rows.ToString() + " of " +
          std::to_string(graph.value(v).shape[2]) + ", but the wanted output rows need rows " +
          need.rows.ToString() + " of it (the halo is too small)");
    }
    band.input_needs[name] = need.rows;
    sig << "in" << v << ":" << rows.size() << "@" << (need.rows.begin - rows.begin) << ";";
  }
  Graph b = graph;
  // Rows each value holds in the band graph; values not listed hold their whole tensor.
  std::map<ValueId, RowRange> have = held;
  auto have_of = [&](ValueId v) -> RowRange {
    auto it = have.find(v);
    if (it != have.end()) return it->second;
    const Value& value = b.value(v);
    return {0, value.shape[value.shape.size() - 2]};
  };
  std::map<std::tuple<ValueId, int64_t, int64_t>, ValueId> crops;
  auto crop = [&](ValueId v, RowRange from, RowRange to) {
    const auto key = std::make_tuple(v, to.begin, to.end);
    auto it = crops.find(key);
    if (it != crops.end()) return it->second;
    const int64_t axis = static_cast<int64_t>(graph.value(v).shape.size()) - 2;
    const ValueId out = AppendCrop(&b, v, axis, to.begin - from.begin, to.end - from.begin);
    sig << "crop" << v << ":" << (to.begin - from.begin) << "," << to.size() << ";";
    crops[key] = out;
    return out;
  };
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
  for (int n : order) {
    const size_t ni = static_cast<size_t>(n);
    if (!map.nodes[ni]) {
      b.mutable_nodes()[ni].removed = true;
      continue;
    }
    const RowRule& rule = map.rules[ni];
    if (rule.kind == RowRuleKind::kStop || rule.kind == RowRuleKind::kUnsupported) {
      sig << "n" << n << "whole;";
      continue;
    }
    const RowRange rows = *map.nodes[ni];
    const Node& node = graph.nodes()[ni];
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const ValueId v = node.inputs[i];
      if (v < 0 || i >= rule.banded.size() || !rule.banded[i]) continue;
      const Value& value = graph.value(v);
      const int64_t height = value.shape[value.shape.size() - 2];
      const RowRange need = Clamp(rule.InputRows(rows), height);
      const RowRange from = have_of(v);
      if (!from.Contains(need)) {
        return Status::Internal("row band: " + Label(node) + " needs rows " + need.ToString() +
                                " of '" + value.name + "', which holds " + from.ToString());
      }
      if (from != need) b.mutable_nodes()[ni].inputs[i] = crop(v, from, need);
    }
    if (rule.kind == RowRuleKind::kWindow) {
      const RowRange unclamped = rule.InputRows(rows);
      const RowRange clamped = Clamp(unclamped, rule.in_height);
      const int64_t top = clamped.begin - unclamped.begin;
      int64_t bottom = unclamped.end - clamped.end;
      // ceil_mode stays the model's in every band: it also rounds the width, which bands keep
      // whole. Along the height it changes nothing above the bottom border, where the band's
      // padded input spans exactly (rows - 1) * stride + extent rows (no partial window).
      const bool ceil_mode = rule.ceil_mode;
      if (rows.end == rule.out_height) {
        // The bottom border: the model's pad and ceil_mode give exactly the remaining rows, and
        // keep average pooling's divisor at the border what it is in the whole run.
        bottom = rule.pad_bottom;
      }
      Node& rewritten = b.mutable_nodes()[ni];
      // Width pads as the whole run resolved them (SAME included), height pads per band edge.
      const std::vector<int64_t> pads = {top, rule.pad_left, bottom, rule.pad_right};
      rewritten.attrs.Erase("auto_pad");
      rewritten.attrs.Set("pads", pads);
      if (node.op != OpKind::kConv) rewritten.attrs.Set("ceil_mode", int64_t{ceil_mode ? 1 : 0});
      sig << "n" << n << "p" << top << "," << bottom << (ceil_mode ? "c" : "") << ";";
    }
    sig << "n" << n << "h" << rows.size() << ";";
    for (ValueId out : node.outputs)
      if (out >= 0) have[out] = rows;
  }
  // Outputs hold exactly the wanted rows, under their own names.
  std::vector<std::pair<ValueId, ValueId>> renames;  // original output, crop holding its name
  for (size_t k = 0; k < b.outputs().size(); ++k) {
    const ValueId v = graph.outputs()[k];
    const std::string& name = graph.value(v).name;
    auto it = wanted.find(name);
    if (it == wanted.end()) continue;
    band.output_rows[name] = it->second;
    const RowRange from = have_of(v);
    if (from == it->second) continue;
    const ValueId cropped = crop(v, from, it->second);
    b.mutable_outputs()[k] = cropped;
    renames.push_back({v, cropped});
  }
  for (const auto& [v, cropped] : renames) {
    const std::string name = b.value(v).name;
    b.mutable_value(v).name = name + "@band";
    b.mutable_value(cropped).name = name;
  }
  for (const auto& [v, rows] : held) b.mutable_value(v).shape[2] = rows.size();
  // Inner shapes were the whole run's: shape inference redoes them from the band heights.
  for (Value& value : b.mutable_values()) {
    if (value.producer < 0) continue;
    value.shape.clear();
    value.rank_known = false;
  }
  b.Compact();
  band.graph = std::move(b);
  band.signature = sig.str();
  return band;
}

Result<SpatialFront> FindSpatialFront(const Graph& graph) {
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
  std::vector<bool> front(graph.values().size(), false);
  std::vector<bool> derived(graph.values().size(), false);
  for (ValueId v : graph.inputs()) {
    if (Rank4(graph.value(v)))
      front[static_cast<size_t>(v)] = derived[static_cast<size_t>(v)] = true;
  }
  std::vector<bool> in_front(graph.nodes().size(), false);
  SpatialFront result;
  for (int n : order) {
    const Node& node = graph.nodes()[static_cast<size_t>(n)];
    bool touches = false;
    for (ValueId v : node.inputs) touches = touches || (v >= 0 && derived[static_cast<size_t>(v)]);
    for (ValueId v : node.outputs)
      if (v >= 0) derived[static_cast<size_t>(v)] = touches;
    if (!touches) continue;
    std::string reason;
    Result<RowRule> rule = NodeRowRule(graph, n);
    bool ok =
        rule.ok() && (rule->kind == RowRuleKind::kPointwise || rule->kind == RowRuleKind::kWindow);
    if (!rule.ok()) reason = rule.status().message();
    if (rule.ok() && !ok) reason = rule->reason;
    const ValueId out = node.outputs.empty() ? kNoValue : node.outputs[0];
    if (ok && (out < 0 || !Rank4(graph.value(out)))) {
      ok = false;
      reason = "its output is not a rank-4 NCHW tensor";
    }
    for (size_t i = 0; ok && i < node.inputs.size(); ++i) {
      const ValueId v = node.inputs[i];
      if (v < 0 || !derived[static_cast<size_t>(v)]) continue;
      if (!rule->banded[i] || !front[static_cast<size_t>(v)]) {
        ok = false;
        reason = "it needs all rows of '" + graph.value(v).name + "'";
      }
    }
    if (!ok) {
      if (result.stop_node.empty()) {
        result.stop_node = node.name;
        result.stop_reason = Label(node) + ": " + reason;
      }
      continue;
    }
    in_front[static_cast<size_t>(n)] = true;
    for (ValueId v : node.outputs)
      if (v >= 0) front[static_cast<size_t>(v)] = true;
  }
  std::set<ValueId> ends;
  for (size_t n = 0; n < graph.nodes().size(); ++n) {
    if (in_front[n]) continue;
    for (ValueId v : graph.nodes()[n].inputs) {
      if (v >= 0 && front[static_cast<size_t>(v)] && graph.value(v).producer >= 0) ends.insert(v);
    }
  }
  for (ValueId v : graph.outputs()) {
    if (front[static_cast<size_t>(v)] && graph.value(v).producer >= 0) ends.insert(v);
  }
  for (ValueId v : ends) result.values.push_back(graph.value(v).name);
  return result;
}

Result<int64_t> TotalRowStride(const Graph& graph, const std::string& from, const std::string& to) {
  const ValueId src = graph.FindValue(from);
  const ValueId dst = graph.FindValue(to);
  if (src == kNoValue) return Status::InvalidArgument("row band: no tensor named '" + from + "'");
  if (dst == kNoValue) return Status::InvalidArgument("row band: no tensor named '" + to + "'");
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
  std::vector<int64_t> stride(graph.values().size(), 0);  // 0: not reached from `from`
  stride[static_cast<size_t>(src)] = 1;
  for (int n : order) {
    const Node& node = graph.nodes()[static_cast<size_t>(n)];
    int64_t best = 0;
    for (ValueId v : node.inputs)
      if (v >= 0) best = std::max(best, stride[static_cast<size_t>(v)]);
    if (best == 0) continue;
    if (node.op == OpKind::kConv || node.op == OpKind::kMaxPool ||
        node.op == OpKind::kAveragePool) {
      const std::vector<int64_t> s = node.attrs.GetInts("strides", {1, 1});
      best *= s.empty() ? 1 : std::max<int64_t>(1, s[0]);
    }
    for (ValueId v : node.outputs)
      if (v >= 0) stride[static_cast<size_t>(v)] = best;
  }
  if (stride[static_cast<size_t>(dst)] == 0) {
    return Status::InvalidArgument("row band: '" + to + "' does not depend on '" + from + "'");
  }
  return stride[static_cast<size_t>(dst)];
}

Result<std::vector<RowRange>> SplitRows(int64_t height, const std::vector<double>& weights,
                                        int64_t quantum) {
  if (height <= 0) return Status::InvalidArgument("row split: height must be positive");
  if (quantum <= 0) return Status::InvalidArgument("row split: quantum must be positive");
  if (weights.empty()) return Status::InvalidArgument("row split: no parts");
  double total = 0.0;
  for (double w : weights) {
    if (!(w >= 0.0) || !std::isfinite(w)) {
      return Status::InvalidArgument("row split: weights must be finite and non-negative");
    }
    total += w;
  }
  if (total <= 0.0) return Status::InvalidArgument("row split: the weights sum to zero");
  std::vector<RowRange> parts;
  double cumulative = 0.0;
  int64_t begin = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    cumulative += weights[i];
    int64_t end = height;
    if (i + 1 < weights.size()) {
      const double ideal = static_cast<double>(height) * cumulative / total;
      end = static_cast<int64_t>(std::llround(ideal / static_cast<double>(quantum))) * quantum;
      end = std::clamp<int64_t>(end, begin, height);
    }
    parts.push_back({begin, end});
    begin = end;
  }
  return parts;
}

}  // namespace edgeinfer

#include "planner/cost_table.h"

#include <algorithm>
#include <unordered_map>

#include "ir/flops.h"

namespace edgeinfer::planner {

namespace {

// Per-node milliseconds (indexed by node id) from a profile whose steps are nodes or fused
// nodes "a+b". A fused step is spread over its nodes in proportion to their FLOPs, in equal
// shares when none has any. Steps naming no node of `graph` are ignored.
std::vector<double> PerNodeMs(const Graph& graph, const std::vector<NodeProfile>& profile) {
  std::unordered_map<std::string, int> by_name;
  for (size_t i = 0; i < graph.nodes().size(); ++i) {
    if (!graph.nodes()[i].removed) by_name.emplace(graph.nodes()[i].name, static_cast<int>(i));
  }
  std::vector<double> ms(graph.nodes().size(), 0.0);
  for (const NodeProfile& step : profile) {
    std::vector<int> nodes;
    auto whole = by_name.find(step.name);
    if (whole != by_name.end()) {
      nodes.push_back(whole->second);
    } else {
      size_t start = 0;
      while (start <= step.name.size()) {
        size_t end = step.name.find('+', start);
        if (end == std::string::npos) end = step.name.size();
        auto it = by_name.find(step.name.substr(start, end - start));
        if (it != by_name.end()) nodes.push_back(it->second);
        start = end + 1;
      }
    }
    if (nodes.empty()) continue;
    std::vector<double> flops(nodes.size(), 0.0);
    double total_flops = 0.0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      flops[i] = std::max(0.0, NodeFlops(graph, graph.nodes()[static_cast<size_t>(nodes[i])]));
      total_flops += flops[i];
    }
    for (size_t i = 0; i < nodes.size(); ++i) {
      const double share =
          total_flops > 0.0 ? flops[i] / total_flops : 1.0 / static_cast<double>(nodes.size());
      ms[static_cast<size_t>(nodes[i])] += step.median_ms * share;
    }
  }
  return ms;
}

}  // namespace

Result<CostTable> BuildCostTable(const Graph& graph, const std::vector<NodeProfile>& device,
                                 const std::vector<NodeProfile>& server) {
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
  const int n = static_cast<int>(order.size());
  std::vector<int> position(graph.nodes().size(), -1);
  for (int p = 0; p < n; ++p) position[static_cast<size_t>(order[static_cast<size_t>(p)])] = p;

  std::vector<bool> is_input(graph.values().size(), false);
  for (ValueId id : graph.inputs()) is_input[static_cast<size_t>(id)] = true;

  // A non-constant value crosses the cut after P nodes when it is available to the device part
  // (a model input, or produced at position < P) and some live node at position >= P reads it:
  // that is, for P in [first, last] with first = producer position + 1 (0 for model inputs)
  // and last = the latest consumer position.
  struct Span {
    ValueId id;
    int first;
    int last;
    int64_t bytes;
  };
  std::vector<Span> spans;
  for (size_t id = 0; id < graph.values().size(); ++id) {
    const Value& v = graph.values()[id];
    if (v.is_constant()) continue;
    int first;
    if (v.producer >= 0) {
      first = position[static_cast<size_t>(v.producer)];
      if (first < 0) continue;  // produced by a removed node
      ++first;
    } else if (is_input[id]) {
      first = 0;
    } else {
      continue;
    }
    int last = -1;
    for (int c : v.consumers) last = std::max(last, position[static_cast<size_t>(c)]);
    if (last < first) continue;
    if (!v.shape_known()) {
      return Status::InvalidArgument("cost table: tensor '" + v.name + "' of model '" + graph.name +
                                     "' has a dynamic shape " + ShapeToString(v.shape) +
                                     "; specialise the graph first");
    }
    spans.push_back({static_cast<ValueId>(id), first, last,
                     NumElements(v.shape) * static_cast<int64_t>(DTypeSize(v.dtype))});
  }

  // Model outputs the server part computes are downloaded: output produced at position p is
  // downloaded for every cut after P <= p nodes.
  std::vector<int64_t> download(static_cast<size_t>(n) + 1, 0);
  for (ValueId id : graph.outputs()) {
    const Value& v = graph.value(id);
    if (v.producer < 0 || position[static_cast<size_t>(v.producer)] < 0) continue;
    if (!v.shape_known()) {
      return Status::InvalidArgument("cost table: output '" + v.name + "' of model '" + graph.name +
                                     "' has a dynamic shape " + ShapeToString(v.shape) +
                                     "; specialise the graph first");
    }
    download[static_cast<size_t>(position[static_cast<size_t>(v.producer)])] +=
        NumElements(v.shape) * static_cast<int64_t>(DTypeSize(v.dtype));
  }
  for (int p = n - 1; p >= 0; --p) {
    download[static_cast<size_t>(p)] += download[static_cast<size_t>(p) + 1];
  }

  const std::vector<double> device_node = PerNodeMs(graph, device);
  const std::vector<double> server_node = PerNodeMs(graph, server);
  double server_total = 0.0;
  for (int node : order) server_total += server_node[static_cast<size_t>(node)];

  CostTable table;
  table.node_count = n;
  table.cuts.resize(static_cast<size_t>(n) + 1);
  double device_prefix = 0.0, server_prefix = 0.0;
  for (int p = 0; p <= n; ++p) {
    CutCost& cut = table.cuts[static_cast<size_t>(p)];
    cut.device_nodes = p;
    cut.all_local = p == n;
    // Spans are in value order, so the crossing tensors are too (as CrossingTensors lists them).
    for (const Span& s : spans) {
      if (s.first <= p && p <= s.last) {
        cut.tensors.push_back(graph.value(s.id).name);
        cut.tensor_bytes.push_back(s.bytes);
        cut.upload_bytes += s.bytes;
      }
    }
    cut.download_bytes = download[static_cast<size_t>(p)];
    cut.device_ms = device_prefix;
    // Subtracting prefix sums can leave -1e-16 behind; a server part never costs less than nothing.
    cut.server_ms = std::max(0.0, server_total - server_prefix);
    if (p < n) {
      const int node = order[static_cast<size_t>(p)];
      device_prefix += device_node[static_cast<size_t>(node)];
      server_prefix += server_node[static_cast<size_t>(node)];
    }
  }
  table.cuts.back().server_ms = 0.0;
  return table;
}

}  // namespace edgeinfer::planner

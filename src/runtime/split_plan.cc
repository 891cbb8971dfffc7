#include "runtime/split_plan.h"

#include <algorithm>

namespace edgeinfer {

namespace {

void AddUnique(std::vector<std::string>* list, const std::string& name) {
  if (std::find(list->begin(), list->end(), name) == list->end()) list->push_back(name);
}

}  // namespace

Result<std::vector<std::string>> CrossingTensors(const Graph& graph, int device_nodes) {
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
  if (device_nodes < 0 || device_nodes > static_cast<int>(order.size())) {
    return Status::InvalidArgument("cut after " + std::to_string(device_nodes) +
                                   " nodes is outside [0, " + std::to_string(order.size()) +
                                   "] (the model's node count)");
  }
  std::vector<bool> on_device(graph.nodes().size(), false);
  for (int i = 0; i < device_nodes; ++i)
    on_device[static_cast<size_t>(order[static_cast<size_t>(i)])] = true;
  std::vector<std::string> crossing;
  for (size_t id = 0; id < graph.values().size(); ++id) {
    const Value& v = graph.values()[id];
    if (v.is_constant()) continue;
    const bool from_device = v.producer >= 0
                                 ? on_device[static_cast<size_t>(v.producer)]
                                 : std::count(graph.inputs().begin(), graph.inputs().end(),
                                              static_cast<ValueId>(id)) > 0;
    if (!from_device) continue;
    bool read_later = false;
    for (int c : v.consumers) {
      if (!graph.nodes()[static_cast<size_t>(c)].removed && !on_device[static_cast<size_t>(c)]) {
        read_later = true;
      }
    }
    if (read_later) crossing.push_back(v.name);
  }
  return crossing;
}

Result<SplitPlan> PlanSplit(const Graph& graph, const Cut& cut) {
  SplitPlan plan;
  const std::string cut_text = cut.ToString();
  std::vector<bool> local_node(graph.nodes().size(), false);
  if (cut.kind() != Cut::Kind::kAtTensors) {
    EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
    int64_t device_nodes = 0;
    if (cut.kind() == Cut::Kind::kAfterNodes) device_nodes = cut.nodes();
    if (cut.kind() == Cut::Kind::kLocal) device_nodes = static_cast<int64_t>(order.size());
    if (device_nodes > static_cast<int64_t>(order.size())) {
      return Status::InvalidArgument("split cut '" + cut_text + "' is outside [0, " +
                                     std::to_string(order.size()) + "] (the model's node count)");
    }
    const int n = static_cast<int>(device_nodes);
    EI_ASSIGN_OR_RETURN(plan.crossing, CrossingTensors(graph, n));
    for (int i = 0; i < n; ++i)
      local_node[static_cast<size_t>(order[static_cast<size_t>(i)])] = true;
  } else {
    plan.crossing = cut.tensors();
    if (plan.crossing.empty())
      return Status::InvalidArgument("split cut '" + cut_text + "' names no tensor");
    // The device runs every node the cut tensors depend on.
    std::vector<ValueId> stack;
    for (const std::string& name : plan.crossing) {
      ValueId id = graph.FindValue(name);
      if (id == kNoValue) {
        return Status::NotFound("split cut tensor '" + name + "' is not in model '" + graph.name +
                                "'");
      }
      if (graph.value(id).is_constant()) {
        return Status::InvalidArgument("split cut tensor '" + name +
                                       "' is a constant; cut at computed tensors");
      }
      stack.push_back(id);
    }
    while (!stack.empty()) {
      const Value& v = graph.value(stack.back());
      stack.pop_back();
      if (v.producer < 0 || local_node[static_cast<size_t>(v.producer)]) continue;
      local_node[static_cast<size_t>(v.producer)] = true;
      for (ValueId in : graph.nodes()[static_cast<size_t>(v.producer)].inputs) {
        if (in >= 0) stack.push_back(in);
      }
    }
  }
  for (const std::string& name : plan.crossing) {
    if (graph.value(graph.FindValue(name)).producer >= 0) AddUnique(&plan.local_targets, name);
  }
  for (ValueId id : graph.outputs()) {
    const Value& v = graph.value(id);
    const bool local =
        v.producer < 0 || local_node[static_cast<size_t>(v.producer)] ||
        std::find(plan.crossing.begin(), plan.crossing.end(), v.name) != plan.crossing.end();
    if (local) {
      if (v.producer >= 0) AddUnique(&plan.local_targets, v.name);
    } else {
      AddUnique(&plan.remote_outputs, v.name);
    }
  }
  if (!plan.remote_outputs.empty()) {
    auto server_part = graph.Slice(plan.crossing, plan.remote_outputs);
    if (!server_part.ok()) return server_part.status().WithContext("split cut '" + cut_text + "'");
    for (ValueId id : server_part->inputs()) {
      AddUnique(&plan.remote_inputs, server_part->value(id).name);
    }
  }
  return plan;
}

}  // namespace edgeinfer

#include "runtime/split_plan.h"

#include <algorithm>

namespace edgeinfer {

namespace {

bool IsNodeIndex(const std::string& s) {
  return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) parts.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

void AddUnique(std::vector<std::string>* list, const std::string& name) {
  if (std::find(list->begin(), list->end(), name) == list->end()) list->push_back(name);
}

}  // namespace

Result<std::vector<std::string>> CrossingTensors(const Graph& graph, int prefix) {
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
  if (prefix < 0 || prefix > static_cast<int>(order.size())) {
    return Status::InvalidArgument("split point " + std::to_string(prefix) + " is outside [0, " +
                                   std::to_string(order.size()) + "] (the model's node count)");
  }
  std::vector<bool> in_prefix(graph.nodes().size(), false);
  for (int i = 0; i < prefix; ++i)
    in_prefix[static_cast<size_t>(order[static_cast<size_t>(i)])] = true;
  std::vector<std::string> cut;
  for (size_t id = 0; id < graph.values().size(); ++id) {
    const Value& v = graph.values()[id];
    if (v.is_constant()) continue;
    const bool from_prefix = v.producer >= 0
                                 ? in_prefix[static_cast<size_t>(v.producer)]
                                 : std::count(graph.inputs().begin(), graph.inputs().end(),
                                              static_cast<ValueId>(id)) > 0;
    if (!from_prefix) continue;
    bool read_later = false;
    for (int c : v.consumers) {
      if (!graph.nodes()[static_cast<size_t>(c)].removed && !in_prefix[static_cast<size_t>(c)]) {
        read_later = true;
      }
    }
    if (read_later) cut.push_back(v.name);
  }
  return cut;
}

Result<SplitPlan> PlanSplit(const Graph& graph, const std::string& cut_spec) {
  SplitPlan plan;
  std::vector<bool> local_node(graph.nodes().size(), false);
  if (IsNodeIndex(cut_spec)) {
    const int prefix = std::stoi(cut_spec);
    EI_ASSIGN_OR_RETURN(plan.cut, CrossingTensors(graph, prefix));
    EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
    for (int i = 0; i < prefix; ++i)
      local_node[static_cast<size_t>(order[static_cast<size_t>(i)])] = true;
  } else {
    plan.cut = SplitComma(cut_spec);
    if (plan.cut.empty())
      return Status::InvalidArgument("split cut '" + cut_spec + "' names no tensor");
    // The device runs every node the cut tensors depend on.
    std::vector<ValueId> stack;
    for (const std::string& name : plan.cut) {
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
  for (const std::string& name : plan.cut) {
    if (graph.value(graph.FindValue(name)).producer >= 0) AddUnique(&plan.local_targets, name);
  }
  for (ValueId id : graph.outputs()) {
    const Value& v = graph.value(id);
    const bool local = v.producer < 0 || local_node[static_cast<size_t>(v.producer)] ||
                       std::find(plan.cut.begin(), plan.cut.end(), v.name) != plan.cut.end();
    if (local) {
      if (v.producer >= 0) AddUnique(&plan.local_targets, v.name);
    } else {
      AddUnique(&plan.remote_outputs, v.name);
    }
  }
  if (!plan.remote_outputs.empty()) {
    auto suffix = graph.Slice(plan.cut, plan.remote_outputs);
    if (!suffix.ok()) return suffix.status().WithContext("split cut '" + cut_spec + "'");
    for (ValueId id : suffix->inputs()) AddUnique(&plan.remote_inputs, suffix->value(id).name);
  }
  return plan;
}

}  // namespace edgeinfer

#include "ir/graph.h"

#include <algorithm>
#include <queue>
#include <set>
#include <unordered_set>

namespace edgeinfer {

namespace {

const char* const kOpNames[] = {
#define EI_OP(kind, name) name,
#include "ir/ops.def"
#undef EI_OP
};

}  // namespace

const char* OpName(OpKind kind) {
  auto i = static_cast<size_t>(kind);
  return i < static_cast<size_t>(OpKind::kCount) ? kOpNames[i] : "<invalid op>";
}

bool OpKindFromName(const std::string& name, OpKind* kind) {
  for (size_t i = 0; i < static_cast<size_t>(OpKind::kCount); ++i) {
    if (name == kOpNames[i]) {
      *kind = static_cast<OpKind>(i);
      return true;
    }
  }
  return false;
}

int64_t Attributes::GetInt(const std::string& name, int64_t fallback) const {
  auto it = map_.find(name);
  if (it == map_.end()) return fallback;
  if (auto* v = std::get_if<int64_t>(&it->second)) return *v;
  return fallback;
}

float Attributes::GetFloat(const std::string& name, float fallback) const {
  auto it = map_.find(name);
  if (it == map_.end()) return fallback;
  if (auto* v = std::get_if<float>(&it->second)) return *v;
  if (auto* v = std::get_if<int64_t>(&it->second)) return static_cast<float>(*v);
  return fallback;
}

std::string Attributes::GetString(const std::string& name, const std::string& fallback) const {
  auto it = map_.find(name);
  if (it == map_.end()) return fallback;
  if (auto* v = std::get_if<std::string>(&it->second)) return *v;
  return fallback;
}

std::vector<int64_t> Attributes::GetInts(const std::string& name,
                                         std::vector<int64_t> fallback) const {
  auto it = map_.find(name);
  if (it == map_.end()) return fallback;
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  return fallback;
}

std::vector<float> Attributes::GetFloats(const std::string& name,
                                         std::vector<float> fallback) const {
  auto it = map_.find(name);
  if (it == map_.end()) return fallback;
  if (auto* v = std::get_if<std::vector<float>>(&it->second)) return *v;
  return fallback;
}

const Tensor* Attributes::GetTensor(const std::string& name) const {
  auto it = map_.find(name);
  if (it == map_.end()) return nullptr;
  return std::get_if<Tensor>(&it->second);
}

bool Value::shape_known() const {
  if (!rank_known) return false;
  for (int64_t d : shape) {
    if (d < 0) return false;
  }
  return true;
}

ValueId Graph::AddValue(const std::string& name, DType dtype, Shape shape) {
  Value v;
  v.name = name;
  v.dtype = dtype;
  v.shape = std::move(shape);
  values_.push_back(std::move(v));
  auto id = static_cast<ValueId>(values_.size() - 1);
  by_name_.emplace(name, id);
  return id;
}

ValueId Graph::AddConstant(const std::string& name, Tensor tensor) {
  ValueId id = AddValue(name, tensor.dtype(), tensor.shape());
  values_[static_cast<size_t>(id)].constant = std::move(tensor);
  return id;
}

ValueId Graph::AddInput(const std::string& name, DType dtype, Shape shape) {
  ValueId id = AddValue(name, dtype, std::move(shape));
  inputs_.push_back(id);
  return id;
}

int Graph::AddNode(OpKind op, const std::string& name, std::vector<ValueId> inputs,
                   std::vector<ValueId> outputs, Attributes attrs) {
  Node n;
  n.name = name;
  n.op = op;
  n.attrs = std::move(attrs);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  int index = static_cast<int>(nodes_.size());
  for (ValueId in : n.inputs) {
    if (in >= 0 && static_cast<size_t>(in) < values_.size()) {
      values_[static_cast<size_t>(in)].consumers.push_back(index);
    }
  }
  for (ValueId out : n.outputs) {
    if (out >= 0 && static_cast<size_t>(out) < values_.size()) {
      values_[static_cast<size_t>(out)].producer = index;
    }
  }
  nodes_.push_back(std::move(n));
  return index;
}

ValueId Graph::FindValue(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? kNoValue : it->second;
}

std::string Graph::UniqueName(const std::string& stem) {
  std::string name = stem;
  while (by_name_.count(name)) name = stem + "_" + std::to_string(++unique_counter_);
  return name;
}

void Graph::RebuildUses() {
  for (Value& v : values_) {
    v.producer = -1;
    v.consumers.clear();
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (n.removed) continue;
    for (ValueId in : n.inputs) {
      if (in >= 0) values_[static_cast<size_t>(in)].consumers.push_back(static_cast<int>(i));
    }
    for (ValueId out : n.outputs) {
      if (out >= 0) values_[static_cast<size_t>(out)].producer = static_cast<int>(i);
    }
  }
  by_name_.clear();
  for (size_t i = 0; i < values_.size(); ++i) {
    by_name_.emplace(values_[i].name, static_cast<ValueId>(i));
  }
}

void Graph::Compact() {
  std::vector<Node> kept_nodes;
  for (Node& n : nodes_) {
    if (!n.removed) kept_nodes.push_back(std::move(n));
  }
  std::vector<bool> used(values_.size(), false);
  for (const Node& n : kept_nodes) {
    for (ValueId v : n.inputs)
      if (v >= 0) used[static_cast<size_t>(v)] = true;
    for (ValueId v : n.outputs)
      if (v >= 0) used[static_cast<size_t>(v)] = true;
  }
  for (ValueId v : inputs_) used[static_cast<size_t>(v)] = true;
  for (ValueId v : outputs_) used[static_cast<size_t>(v)] = true;
  std::vector<ValueId> remap(values_.size(), kNoValue);
  std::vector<Value> kept_values;
  for (size_t i = 0; i < values_.size(); ++i) {
    if (!used[i]) continue;
    remap[i] = static_cast<ValueId>(kept_values.size());
    kept_values.push_back(std::move(values_[i]));
  }
  auto fix = [&](std::vector<ValueId>& ids) {
    for (ValueId& v : ids)
      if (v >= 0) v = remap[static_cast<size_t>(v)];
  };
  for (Node& n : kept_nodes) {
    fix(n.inputs);
    fix(n.outputs);
  }
  fix(inputs_);
  fix(outputs_);
  nodes_ = std::move(kept_nodes);
  values_ = std::move(kept_values);
  RebuildUses();
}

void Graph::ReplaceUses(ValueId from, ValueId to) {
  for (Node& n : nodes_) {
    if (n.removed) continue;
    for (ValueId& v : n.inputs)
      if (v == from) v = to;
  }
  for (ValueId& v : outputs_)
    if (v == from) v = to;
  RebuildUses();
}

ValueId Graph::FirstDynamicInput() const {
  for (ValueId id : inputs_) {
    if (!value(id).shape_known()) return id;
  }
  return kNoValue;
}

Result<std::vector<int>> Graph::TopologicalOrder() const {
  const size_t n = nodes_.size();
  std::vector<int> pending(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (nodes_[i].removed) continue;
    std::set<int> producers;
    for (ValueId in : nodes_[i].inputs) {
      if (in < 0) continue;
      int p = values_[static_cast<size_t>(in)].producer;
      if (p >= 0 && !nodes_[static_cast<size_t>(p)].removed) producers.insert(p);
    }
    pending[i] = static_cast<int>(producers.size());
  }
  // Min-heap on node index keeps the original order where it is valid.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < n; ++i) {
    if (!nodes_[i].removed && pending[i] == 0) ready.push(static_cast<int>(i));
  }
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    std::set<int> consumers;
    for (ValueId out : nodes_[static_cast<size_t>(i)].outputs) {
      if (out < 0) continue;
      for (int c : values_[static_cast<size_t>(out)].consumers) consumers.insert(c);
    }
    for (int c : consumers) {
      if (nodes_[static_cast<size_t>(c)].removed) continue;
      if (--pending[static_cast<size_t>(c)] == 0) ready.push(c);
    }
  }
  size_t live = 0;
  for (const Node& node : nodes_) live += node.removed ? 0 : 1;
  if (order.size() != live) {
    for (size_t i = 0; i < n; ++i) {
      if (!nodes_[i].removed && pending[i] > 0) {
        return Status::InvalidArgument("graph has a cycle through node '" + nodes_[i].name + "' (" +
                                       OpName(nodes_[i].op) + ")");
      }
    }
  }
  return order;
}

Status Graph::Verify() const {
  std::unordered_set<std::string> names;
  for (const Value& v : values_) {
    if (v.name.empty()) return Status::InvalidArgument("a tensor has an empty name");
    if (!names.insert(v.name).second) {
      return Status::InvalidArgument("tensor name '" + v.name + "' is defined more than once");
    }
  }
  const auto nvalues = static_cast<ValueId>(values_.size());
  std::vector<int> producer_count(values_.size(), 0);
  std::vector<bool> available(values_.size(), false);
  for (ValueId in : inputs_) {
    if (in < 0 || in >= nvalues) return Status::Internal("graph input id out of range");
    available[static_cast<size_t>(in)] = true;
  }
  for (size_t i = 0; i < values_.size(); ++i) {
    if (values_[i].is_constant()) available[i] = true;
  }
  for (const Node& n : nodes_) {
    if (n.removed) continue;
    for (ValueId v : n.inputs) {
      if (v >= nvalues) return Status::Internal("node '" + n.name + "' input id out of range");
    }
    for (ValueId v : n.outputs) {
      if (v >= nvalues) return Status::Internal("node '" + n.name + "' output id out of range");
      if (v < 0) continue;
      if (++producer_count[static_cast<size_t>(v)] > 1) {
        return Status::InvalidArgument("tensor '" + values_[static_cast<size_t>(v)].name +
                                       "' is produced by more than one node");
      }
      if (available[static_cast<size_t>(v)]) {
        return Status::InvalidArgument("tensor '" + values_[static_cast<size_t>(v)].name +
                                       "' is a graph input or initializer and also produced by "
                                       "node '" +
                                       n.name + "'");
      }
      available[static_cast<size_t>(v)] = true;
    }
  }
  for (const Node& n : nodes_) {
    if (n.removed) continue;
    for (ValueId v : n.inputs) {
      if (v >= 0 && !available[static_cast<size_t>(v)]) {
        return Status::InvalidArgument(std::string(OpName(n.op)) + " node '" + n.name +
                                       "' reads tensor '" + values_[static_cast<size_t>(v)].name +
                                       "', which no node produces and is not a graph input or "
                                       "initializer");
      }
    }
  }
  for (ValueId out : outputs_) {
    if (out < 0 || out >= nvalues) return Status::Internal("graph output id out of range");
    if (!available[static_cast<size_t>(out)]) {
      return Status::InvalidArgument("graph output '" + values_[static_cast<size_t>(out)].name +
                                     "' is never produced");
    }
  }
  auto order = TopologicalOrder();
  if (!order.ok()) return order.status();
  return Status::Ok();
}

Result<Graph> Graph::Slice(const std::vector<std::string>& from,
                           const std::vector<std::string>& to) const {
  std::vector<bool> is_from(values_.size(), false);
  std::vector<ValueId> from_ids;
  for (const std::string& name : from) {
    ValueId id = FindValue(name);
    if (id == kNoValue) return Status::NotFound("slice start tensor '" + name + "' not in graph");
    is_from[static_cast<size_t>(id)] = true;
    from_ids.push_back(id);
  }
  std::vector<ValueId> to_ids;
  for (const std::string& name : to) {
    ValueId id = FindValue(name);
    if (id == kNoValue) return Status::NotFound("slice end tensor '" + name + "' not in graph");
    to_ids.push_back(id);
  }
  // Walk back from `to`, stopping at `from` values and constants.
  std::vector<bool> need_node(nodes_.size(), false);
  std::vector<bool> seen(values_.size(), false);
  std::vector<ValueId> stack(to_ids.begin(), to_ids.end());
  std::vector<ValueId> graph_inputs_used;
  while (!stack.empty()) {
    ValueId v = stack.back();
    stack.pop_back();
    if (v < 0 || seen[static_cast<size_t>(v)]) continue;
    seen[static_cast<size_t>(v)] = true;
    const Value& val = values_[static_cast<size_t>(v)];
    if (is_from[static_cast<size_t>(v)] || val.is_constant()) continue;
    if (val.producer < 0) {
      if (std::find(inputs_.begin(), inputs_.end(), v) != inputs_.end()) {
        graph_inputs_used.push_back(v);
        continue;
      }
      return Status::InvalidArgument("tensor '" + val.name + "' is needed but cannot be computed");
    }
    need_node[static_cast<size_t>(val.producer)] = true;
    for (ValueId in : nodes_[static_cast<size_t>(val.producer)].inputs) stack.push_back(in);
  }
  Graph out;
  out.name = name;
  out.opset = opset;
  out.values_ = values_;
  out.nodes_ = nodes_;
  for (size_t i = 0; i < out.nodes_.size(); ++i) {
    if (!need_node[i]) out.nodes_[i].removed = true;
  }
  out.inputs_ = from_ids;
  for (ValueId v : graph_inputs_used) {
    if (std::find(out.inputs_.begin(), out.inputs_.end(), v) == out.inputs_.end()) {
      out.inputs_.push_back(v);
    }
  }
  // A needed node that also produces a `from` tensor would define that tensor twice.
  for (const Node& n : out.nodes_) {
    if (n.removed) continue;
    for (ValueId o : n.outputs) {
      if (o >= 0 && is_from[static_cast<size_t>(o)]) {
        return Status::InvalidArgument("cannot cut at tensor '" +
                                       values_[static_cast<size_t>(o)].name + "': node '" + n.name +
                                       "' produces it together with a tensor the slice needs");
      }
    }
  }
  out.outputs_ = to_ids;
  out.by_name_ = by_name_;
  out.Compact();
  // Unused `from` tensors stay inputs, so callers can pass the tensors they named.
  EI_RETURN_IF_ERROR(out.Verify());
  return out;
}

}  // namespace edgeinfer

#include "ops/passes.h"

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "ops/op_registry.h"

namespace edgeinfer {
namespace {

// Ops that can turn a few constant bytes into a large tensor. Folding them would bloat the
// graph's constants, so above this size they stay runtime nodes.
constexpr uint64_t kMaxExpandingFoldBytes = uint64_t{16} << 20;

// No single tensor can be larger than physical memory; rejecting such shapes during inference
// turns a hostile or mistaken model into a clear error instead of a failed allocation.
uint64_t MaxTensorBytes() {
  static const uint64_t limit = [] {
    long pages = sysconf(_SC_PHYS_PAGES);
    long page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page)
                                 : uint64_t{1} << 40;
  }();
  return limit;
}

bool IsExpandingOp(OpKind op) {
  return op == OpKind::kConstantOfShape || op == OpKind::kExpand || op == OpKind::kTile ||
         op == OpKind::kRange;
}

std::string DescribeShape(const Value& v) {
  return v.rank_known ? ShapeToString(v.shape) : std::string("[unknown rank]");
}

// Bytes of a fully known info; UINT64_MAX when a dim is unknown or the size overflows.
uint64_t InfoBytes(const ValueInfo& info) {
  constexpr uint64_t kUnknown = std::numeric_limits<uint64_t>::max();
  if (!info.rank_known) return kUnknown;
  uint64_t n = DTypeSize(info.dtype);
  for (int64_t d : info.shape) {
    if (d < 0) return kUnknown;
    if (d != 0 && n > kUnknown / static_cast<uint64_t>(d)) return kUnknown;
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

// Merges an inferred info into a value that may carry a declared dtype and shape (from the
// model's value_info or an earlier inference). Unknown dims take the other side's knowledge;
// two different static dims are a conflict.
Status MergeInto(const ValueInfo& inferred, Value* v) {
  if (inferred.dtype != DType::kUndefined) {
    if (v->dtype != DType::kUndefined && v->dtype != inferred.dtype) {
      return Status::InvalidArgument("tensor '" + v->name + "' is declared " + DTypeName(v->dtype) +
                                     " but computed as " + DTypeName(inferred.dtype));
    }
    v->dtype = inferred.dtype;
  }
  if (!inferred.rank_known) return Status::Ok();
  if (!v->rank_known) {
    v->shape = inferred.shape;
    v->rank_known = true;
    return Status::Ok();
  }
  const Status conflict = Status::InvalidArgument(
      "tensor '" + v->name + "' is declared with shape " + ShapeToString(v->shape) +
      " but computed as " + ShapeToString(inferred.shape));
  if (v->shape.size() != inferred.shape.size()) return conflict;
  for (size_t i = 0; i < v->shape.size(); ++i) {
    const int64_t got = inferred.shape[i];
    if (got < 0) continue;
    if (v->shape[i] >= 0 && v->shape[i] != got) return conflict;
    v->shape[i] = got;
  }
  return Status::Ok();
}

// Shape of a value whose shape is fully known, honouring opset-15 start/end.
Tensor ShapeAsConstant(const Node& node, const Shape& shape) {
  const auto rank = static_cast<int64_t>(shape.size());
  auto clamp = [rank](int64_t i) {
    if (i < 0) i += rank;
    return std::clamp<int64_t>(i, 0, rank);
  };
  const int64_t start = clamp(node.attrs.GetInt("start", 0));
  const int64_t end = clamp(node.attrs.GetInt("end", rank));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(shape[static_cast<size_t>(i)]);
  return Tensor::FromVector<int64_t>(dims, {static_cast<int64_t>(dims.size())});
}

Status InferNode(Graph* graph, int index) {
  Node& node = graph->mutable_nodes()[static_cast<size_t>(index)];
  const OpSchema* schema = FindSchema(node.op);
  if (schema == nullptr || schema->infer_shape == nullptr) {
    return Status::Unimplemented("no shape rule for op " + std::string(OpName(node.op)));
  }
  ShapeContext ctx;
  ctx.node = &node;
  ctx.opset = graph->opset;
  bool all_constant = true;
  for (ValueId in : node.inputs) {
    if (in < 0) {
      ctx.inputs.push_back(ValueInfo{});
      ctx.constants.push_back(nullptr);
      continue;
    }
    const Value& v = graph->value(in);
    if (v.dtype == DType::kUndefined) {
      return Status::InvalidArgument("input tensor '" + v.name + "' has no known dtype");
    }
    ctx.inputs.push_back(ValueInfo{v.dtype, v.shape, v.rank_known});
    ctx.constants.push_back(v.is_constant() ? &v.constant : nullptr);
    all_constant = all_constant && v.is_constant();
  }
  std::vector<ValueInfo> inferred;
  EI_RETURN_IF_ERROR(schema->infer_shape(ctx, &inferred));
  if (inferred.size() < node.outputs.size()) {
    return Status::Internal("shape rule gave " + std::to_string(inferred.size()) + " outputs for " +
                            std::to_string(node.outputs.size()));
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i] < 0) continue;
    Value& out = graph->mutable_value(node.outputs[i]);
    EI_RETURN_IF_ERROR(MergeInto(inferred[i], &out));
    const uint64_t bytes = InfoBytes(ValueInfo{out.dtype, out.shape, out.rank_known});
    if (out.shape_known() && bytes > MaxTensorBytes()) {
      return Status::ResourceExhausted(
          "tensor '" + out.name + "' of shape " + ShapeToString(out.shape) + " would need " +
          (bytes == std::numeric_limits<uint64_t>::max() ? std::string("more than 2^64")
                                                         : std::to_string(bytes)) +
          " bytes, more than this machine's memory (" + std::to_string(MaxTensorBytes()) + ")");
    }
  }

  std::vector<Tensor> folded;
  if (node.op == OpKind::kShape && !node.inputs.empty() && node.inputs[0] >= 0 &&
      graph->value(node.inputs[0]).shape_known()) {
    folded.push_back(ShapeAsConstant(node, graph->value(node.inputs[0]).shape));
  } else if (all_constant && schema->reference != nullptr) {
    if (IsExpandingOp(node.op)) {
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        if (node.outputs[i] >= 0 && InfoBytes(inferred[i]) > kMaxExpandingFoldBytes) {
          return Status::Ok();
        }
      }
    }
    std::vector<Tensor> inputs;
    for (ValueId in : node.inputs) inputs.push_back(in >= 0 ? graph->value(in).constant : Tensor());
    EI_RETURN_IF_ERROR(schema->reference(node, graph->opset, inputs, &folded));
    if (folded.size() < node.outputs.size()) {
      return Status::Internal("reference kernel gave " + std::to_string(folded.size()) +
                              " outputs for " + std::to_string(node.outputs.size()));
    }
  } else {
    return Status::Ok();
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i] < 0) continue;
    Value& v = graph->mutable_value(node.outputs[i]);
    Tensor& t = folded[i];
    if (t.empty()) return Status::Internal("folding produced no tensor for '" + v.name + "'");
    EI_RETURN_IF_ERROR(MergeInto(ValueInfo{t.dtype(), t.shape(), true}, &v));
    v.shape = t.shape();
    v.constant = std::move(t);
  }
  node.removed = true;
  return Status::Ok();
}

// A tensor of ones: the mask of an inference-mode Dropout.
Result<Tensor> Ones(DType dtype, const Shape& shape) {
  Tensor ones = Tensor::FromVector<float>(std::vector<float>(NumElements(shape), 1.0f), shape);
  return ones.CastTo(dtype);
}

bool Contains(const std::vector<ValueId>& ids, ValueId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Removes Identity and Dropout (inference mode: output = input). Graph output names survive:
// when the removed node's output is a graph output, the producer of its input is rewired to
// produce that output directly (the intermediate name goes); when that is impossible (the input
// is a graph input or another graph output) the node is kept.
Status RemoveIdentities(Graph* graph) {
  for (size_t index = 0; index < graph->nodes().size(); ++index) {
    Node& node = graph->mutable_nodes()[index];
    if (node.removed || (node.op != OpKind::kIdentity && node.op != OpKind::kDropout)) continue;
    if (node.inputs.empty() || node.inputs[0] < 0) continue;
    const ValueId x = node.inputs[0];
    const ValueId y = node.outputs.empty() ? kNoValue : node.outputs[0];
    const ValueId mask = node.outputs.size() > 1 ? node.outputs[1] : kNoValue;
    if (mask >= 0) {
      Value& m = graph->mutable_value(mask);
      if (!m.consumers.empty() || Contains(graph->outputs(), mask)) {
        if (!m.shape_known()) continue;
        Result<Tensor> ones = Ones(m.dtype == DType::kUndefined ? DType::kBool : m.dtype, m.shape);
        if (!ones.ok()) return ones.status().WithContext(NodeLabel(node));
        m.constant = std::move(ones).value();
      }
    }
    if (y < 0) {
      node.removed = true;
      continue;
    }
    const Value& xv = graph->value(x);
    if (!Contains(graph->outputs(), y)) {
      node.removed = true;
      graph->ReplaceUses(y, x);
      continue;
    }
    if (xv.is_constant()) {
      Value& yv = graph->mutable_value(y);
      yv.constant = xv.constant;
      yv.dtype = xv.dtype;
      yv.shape = xv.shape;
      yv.rank_known = true;
      node.removed = true;
      graph->RebuildUses();
      continue;
    }
    if (xv.producer < 0 || Contains(graph->outputs(), x) || Contains(graph->inputs(), x)) continue;
    Node& producer = graph->mutable_nodes()[static_cast<size_t>(xv.producer)];
    node.removed = true;
    for (ValueId& out : producer.outputs) {
      if (out == x) out = y;
    }
    graph->ReplaceUses(x, y);
  }
  return Status::Ok();
}

}  // namespace

Status InferShapesAndFold(Graph* graph) {
  graph->RebuildUses();
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph->TopologicalOrder());
  for (int index : order) {
    Status s = InferNode(graph, index);
    if (s.ok()) continue;
    // Shape rules usually name the node themselves; say it once.
    const std::string label = NodeLabel(graph->nodes()[static_cast<size_t>(index)]);
    return s.message().find(label) == std::string::npos ? s.WithContext(label) : s;
  }
  graph->RebuildUses();
  return Status::Ok();
}

Status Specialize(Graph* graph, const std::map<std::string, Shape>& input_shapes) {
  for (const auto& [name, shape] : input_shapes) {
    ValueId id = graph->FindValue(name);
    if (id == kNoValue || !Contains(graph->inputs(), id)) {
      std::string names;
      for (ValueId in : graph->inputs()) {
        names += (names.empty() ? "'" : ", '") + graph->value(in).name + "'";
      }
      return Status::InvalidArgument("'" + name + "' is not a graph input (inputs: " + names + ")");
    }
  }
  for (ValueId id : graph->inputs()) {
    const Value& v = graph->value(id);
    auto it = input_shapes.find(v.name);
    if (it == input_shapes.end()) {
      if (!v.shape_known()) {
        return Status::InvalidArgument("graph input '" + v.name + "' has dynamic shape " +
                                       DescribeShape(v) + "; its shape must be given");
      }
      continue;
    }
    const Shape& given = it->second;
    bool agrees = !v.rank_known || v.shape.size() == given.size();
    for (size_t i = 0; i < given.size(); ++i) {
      if (given[i] < 0) agrees = false;
      if (agrees && v.rank_known && v.shape[i] >= 0 && v.shape[i] != given[i]) agrees = false;
    }
    if (!agrees) {
      return Status::InvalidArgument("graph input '" + v.name + "' expects shape " +
                                     DescribeShape(v) + ", given " + ShapeToString(given));
    }
  }
  // Inputs change only once all of them are known to be valid.
  for (ValueId id : graph->inputs()) {
    Value& v = graph->mutable_value(id);
    auto it = input_shapes.find(v.name);
    if (it == input_shapes.end()) continue;
    v.shape = it->second;
    v.rank_known = true;
  }
  EI_RETURN_IF_ERROR(InferShapesAndFold(graph));
  EI_RETURN_IF_ERROR(RemoveIdentities(graph));
  RemoveDeadNodes(graph);
  graph->Compact();
  for (const Value& v : graph->values()) {
    if (!v.shape_known() || v.dtype == DType::kUndefined) {
      return Status::InvalidArgument("after specialisation tensor '" + v.name +
                                     "' still has unknown shape " + DescribeShape(v) +
                                     " or dtype " + DTypeName(v.dtype));
    }
  }
  return graph->Verify();
}

void RemoveDeadNodes(Graph* graph) {
  graph->RebuildUses();
  const auto& nodes = graph->nodes();
  std::vector<bool> live(nodes.size(), false);
  std::vector<bool> seen(graph->values().size(), false);
  std::vector<ValueId> stack(graph->outputs().begin(), graph->outputs().end());
  while (!stack.empty()) {
    const ValueId v = stack.back();
    stack.pop_back();
    if (v < 0 || seen[static_cast<size_t>(v)]) continue;
    seen[static_cast<size_t>(v)] = true;
    const int p = graph->value(v).producer;
    if (p < 0 || live[static_cast<size_t>(p)]) continue;
    live[static_cast<size_t>(p)] = true;
    for (ValueId in : nodes[static_cast<size_t>(p)].inputs) stack.push_back(in);
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!live[i]) graph->mutable_nodes()[i].removed = true;
  }
  graph->RebuildUses();
}

}  // namespace edgeinfer

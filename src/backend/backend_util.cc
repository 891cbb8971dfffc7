#include "backend/backend_util.h"

#include <string>

#include "ops/op_registry.h"

namespace edgeinfer {

Status CheckRunInputs(const Graph& graph, const std::vector<Tensor>& inputs) {
  if (inputs.size() != graph.inputs().size()) {
    return Status::InvalidArgument("expected " + std::to_string(graph.inputs().size()) +
                                   " inputs, got " + std::to_string(inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value& v = graph.value(graph.inputs()[i]);
    if (inputs[i].dtype() != v.dtype || inputs[i].shape() != v.shape) {
      return Status::InvalidArgument("input '" + v.name + "' must be " + DTypeName(v.dtype) +
                                     ShapeToString(v.shape) + ", got " + inputs[i].Describe());
    }
    if (inputs[i].numel() > 0 && inputs[i].raw_data() == nullptr) {
      return Status::InvalidArgument("input '" + v.name + "' has no data");
    }
  }
  return Status::Ok();
}

Status CheckCompilable(const Graph& graph) {
  for (const Node& node : graph.nodes()) {
    if (node.removed) continue;
    if (FindSchema(node.op) == nullptr) {
      return Status::Unimplemented(NodeLabel(node) + ": no kernel for op " + OpName(node.op));
    }
    for (const std::vector<ValueId>* ids : {&node.inputs, &node.outputs}) {
      for (ValueId id : *ids) {
        if (id == kNoValue) continue;
        if (id < 0 || static_cast<size_t>(id) >= graph.values().size()) {
          return Status::InvalidArgument(NodeLabel(node) + ": value id out of range");
        }
        const Value& v = graph.value(id);
        if (!v.shape_known() || v.dtype == DType::kUndefined) {
          return Status::FailedPrecondition(NodeLabel(node) + ": tensor '" + v.name +
                                            "' has no known shape/dtype (specialise the graph)");
        }
      }
    }
  }
  for (ValueId id : graph.inputs()) {
    const Value& v = graph.value(id);
    if (!v.shape_known()) {
      return Status::FailedPrecondition("input '" + v.name + "' has a dynamic shape " +
                                        ShapeToString(v.shape) + " (specialise the graph)");
    }
  }
  return Status::Ok();
}

Status RunReferenceNode(const Graph& graph, const Node& node, const std::vector<Tensor>& inputs,
                        std::vector<Tensor>* outputs) {
  const OpSchema* schema = FindSchema(node.op);
  if (schema == nullptr || schema->reference == nullptr) {
    return Status::Unimplemented(NodeLabel(node) + ": no reference kernel");
  }
  outputs->clear();
  EI_RETURN_IF_ERROR(schema->reference(node, graph.opset, inputs, outputs));
  if (outputs->size() < node.outputs.size()) {
    return Status::Internal(NodeLabel(node) + ": kernel produced " +
                            std::to_string(outputs->size()) + " outputs, expected " +
                            std::to_string(node.outputs.size()));
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i] == kNoValue) continue;
    const Value& v = graph.value(node.outputs[i]);
    const Tensor& t = (*outputs)[i];
    if (t.dtype() != v.dtype || t.shape() != v.shape) {
      return Status::Internal(NodeLabel(node) + ": output '" + v.name + "' is " + t.Describe() +
                              ", shape inference said " + DTypeName(v.dtype) +
                              ShapeToString(v.shape));
    }
  }
  return Status::Ok();
}

}  // namespace edgeinfer

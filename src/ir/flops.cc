#include "ir/flops.h"

namespace edgeinfer {

namespace {

double Numel(const Graph& g, ValueId id) {
  if (id < 0) return 0.0;
  const Value& v = g.value(id);
  if (!v.shape_known()) return 0.0;
  return static_cast<double>(NumElements(v.shape));
}

}  // namespace

double NodeFlops(const Graph& graph, const Node& node) {
  if (node.outputs.empty()) return 0.0;
  const double out = Numel(graph, node.outputs[0]);
  switch (node.op) {
    case OpKind::kConv: {
      // out elements x (Cin/group x kernel area) multiply-adds; W is [Cout, Cin/g, k...].
      const Value& w = graph.value(node.inputs[1]);
      double per_out = 1.0;
      for (size_t i = 1; i < w.shape.size(); ++i) per_out *= static_cast<double>(w.shape[i]);
      return 2.0 * out * per_out;
    }
    case OpKind::kConvTranspose: {
      // Each input element scatters into Cout/g x kernel area outputs; W is [Cin, Cout/g, k...].
      const Value& w = graph.value(node.inputs[1]);
      double per_in = 1.0;
      for (size_t i = 1; i < w.shape.size(); ++i) per_in *= static_cast<double>(w.shape[i]);
      return 2.0 * Numel(graph, node.inputs[0]) * per_in;
    }
    case OpKind::kGemm: {
      const Value& a = graph.value(node.inputs[0]);
      if (a.shape.size() != 2) return out;
      int64_t k = node.attrs.GetInt("transA", 0) ? a.shape[0] : a.shape[1];
      return 2.0 * out * static_cast<double>(k);
    }
    case OpKind::kMatMul: {
      const Value& a = graph.value(node.inputs[0]);
      if (a.shape.empty()) return out;
      return 2.0 * out * static_cast<double>(a.shape.back());
    }
    default:
      return out;
  }
}

}  // namespace edgeinfer

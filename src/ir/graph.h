// The graph IR: values (tensors) and nodes (ops), with names kept from ONNX.
//
// A Graph owns its values and nodes; ids are indices and stay valid until Compact().
// Shapes use -1 for a dimension not yet known (dynamic); Specialize (passes.h) resolves them.
// A Graph is a plain value type: not synchronised, safe to read from many threads.
#ifndef EDGEINFER_IR_GRAPH_H_
#define EDGEINFER_IR_GRAPH_H_

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"

namespace edgeinfer {

enum class OpKind : int32_t {
#define EI_OP(kind, name) k##kind,
#include "ir/ops.def"
#undef EI_OP
  kCount
};

// The ONNX op_type of `kind` ("Conv").
const char* OpName(OpKind kind);
// Looks up an ONNX op_type; false if it is not in ops.def.
bool OpKindFromName(const std::string& name, OpKind* kind);

// One attribute value. Graph attributes (subgraphs) are not supported by the IR.
using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                               std::vector<float>, Tensor, std::vector<std::string>>;

class Attributes {
 public:
  bool Has(const std::string& name) const { return map_.count(name) != 0; }
  void Set(const std::string& name, AttrValue value) { map_[name] = std::move(value); }
  void Erase(const std::string& name) { map_.erase(name); }
  const std::map<std::string, AttrValue>& map() const { return map_; }

  // Typed getters return `fallback` when absent. An attribute of the wrong type also returns
  // the fallback; the importer checks types against the op's schema before nodes get here.
  int64_t GetInt(const std::string& name, int64_t fallback) const;
  float GetFloat(const std::string& name, float fallback) const;
  std::string GetString(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> GetInts(const std::string& name, std::vector<int64_t> fallback = {}) const;
  std::vector<float> GetFloats(const std::string& name, std::vector<float> fallback = {}) const;
  // Nullptr when absent.
  const Tensor* GetTensor(const std::string& name) const;

 private:
  std::map<std::string, AttrValue> map_;
};

using ValueId = int32_t;
constexpr ValueId kNoValue = -1;  // an omitted optional input

struct Value {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;  // -1 for an unknown dimension; empty with rank_known=false if unknown
  bool rank_known = true;
  Tensor constant;             // non-empty for initializers and folded constants
  int producer = -1;           // node index, -1 for graph inputs and constants
  std::vector<int> consumers;  // node indices (a node appears once per use)

  bool is_constant() const { return !constant.empty(); }
  bool shape_known() const;  // rank known and every dim >= 0
};

struct Node {
  std::string name;
  OpKind op = OpKind::kIdentity;
  Attributes attrs;
  std::vector<ValueId> inputs;   // kNoValue for an omitted optional input
  std::vector<ValueId> outputs;  // kNoValue for an omitted optional output
  bool removed = false;          // set by passes; Compact() drops it

  // Input i, or kNoValue when i is past the end.
  ValueId input(size_t i) const { return i < inputs.size() ? inputs[i] : kNoValue; }
};

class Graph {
 public:
  Graph() = default;

  std::string name;
  int64_t opset = 13;  // default-domain opset the nodes follow

  // Adds a value; its name must be unique (checked by Verify, not here).
  ValueId AddValue(const std::string& name, DType dtype, Shape shape);
  ValueId AddConstant(const std::string& name, Tensor tensor);
  ValueId AddInput(const std::string& name, DType dtype, Shape shape);
  void AddOutput(ValueId id) { outputs_.push_back(id); }
  // Appends a node and links producers/consumers. Returns the node index.
  int AddNode(OpKind op, const std::string& name, std::vector<ValueId> inputs,
              std::vector<ValueId> outputs, Attributes attrs = {});

  // kNoValue when no value has that name.
  ValueId FindValue(const std::string& name) const;
  // A fresh value name starting with `stem`, unique in this graph.
  std::string UniqueName(const std::string& stem);

  const std::vector<Value>& values() const { return values_; }
  std::vector<Value>& mutable_values() { return values_; }
  const Value& value(ValueId id) const { return values_[static_cast<size_t>(id)]; }
  Value& mutable_value(ValueId id) { return values_[static_cast<size_t>(id)]; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& mutable_nodes() { return nodes_; }
  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  std::vector<ValueId>& mutable_inputs() { return inputs_; }
  std::vector<ValueId>& mutable_outputs() { return outputs_; }

  // Recomputes producer/consumers from the nodes (after passes edit inputs/outputs).
  void RebuildUses();
  // Drops removed nodes and values nothing refers to; renumbers ids; rebuilds uses.
  void Compact();
  // Replaces every use of `from` (node inputs and graph outputs) with `to`.
  void ReplaceUses(ValueId from, ValueId to);

  // The first graph input whose shape is not static (unknown rank or a dynamic dim), or
  // kNoValue when every input shape is static: such a graph compiles once, as its session opens,
  // and can be profiled and planned ahead of any request.
  ValueId FirstDynamicInput() const;

  // Node indices in an order where producers precede consumers (stable: keeps the original
  // order where it is already valid). Error names a node on a cycle.
  Result<std::vector<int>> TopologicalOrder() const;
  // Structural checks: unique value names, ids in range, one producer per value, every node
  // input produced, a graph input or a constant, no cycles, outputs produced.
  Status Verify() const;

  // The minimal subgraph computing `to` from `from` (value names). Values of `from` become the
  // slice's inputs; constants are kept; an error names a needed value not reachable from
  // `from`, the graph inputs or constants.
  Result<Graph> Slice(const std::vector<std::string>& from,
                      const std::vector<std::string>& to) const;

 private:
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
  std::unordered_map<std::string, ValueId> by_name_;
  int64_t unique_counter_ = 0;
};

}  // namespace edgeinfer

#endif  // EDGEINFER_IR_GRAPH_H_

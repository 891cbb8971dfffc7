// Per-op semantics: shape rule, spatial rule and naive reference kernel, looked up by OpKind.
//
// Every op in ops.def registers one OpSchema (in the src/ops/*.cc file of its family). The
// reference kernels are the test oracle and the fallback of every backend: they favour being
// obviously correct over being fast. All functions here are pure and thread safe.
#ifndef EDGEINFER_OPS_OP_REGISTRY_H_
#define EDGEINFER_OPS_OP_REGISTRY_H_

#include <cstdint>
#include <vector>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ir/graph.h"
#include "ir/rows.h"

namespace edgeinfer {

// What shape inference knows about one input or output.
struct ValueInfo {
  DType dtype = DType::kUndefined;
  Shape shape;  // -1 for unknown dims
  bool rank_known = true;
};

// Inputs to a shape rule: infos of every input (kNoValue inputs get dtype kUndefined) and the
// constant value of an input when it is known (nullptr otherwise). Rules that need a constant
// (Reshape's shape, Slice's starts, Resize's scales) return an error naming it when it is not.
struct ShapeContext {
  const Node* node;
  std::vector<ValueInfo> inputs;
  std::vector<const Tensor*> constants;
  int64_t opset;

  bool has_input(size_t i) const {
    return i < inputs.size() && inputs[i].dtype != DType::kUndefined;
  }
};

// Computes output infos (one per node output). Errors name the node and what is wrong.
using ShapeFn = Status (*)(const ShapeContext& ctx, std::vector<ValueInfo>* outputs);

// Runs the op on concrete inputs (empty Tensor for an omitted optional input) and produces one
// Tensor per output (allocated by the kernel).
using ReferenceFn = Status (*)(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                               std::vector<Tensor>* outputs);

enum class SpatialKind {
  kNone,       // an output row needs all input rows (Gemm, Flatten, Reshape, global pooling)
  kPointwise,  // output row r needs input row r (elementwise, BN, channel Concat)
  kWindow,     // a sliding window along H (Conv, pools): see InputRows
  kResize,     // scaled rows (Resize, Upsample, ConvTranspose)
};

// For a spatially local op: the rows of data input 0 that output rows `out` need, not clamped
// to [0, in_height) (rows outside are padding). `in_height`/`out_height` are full heights.
using InputRowsFn = RowRange (*)(const Node& node, int64_t in_height, int64_t out_height,
                                 RowRange out);

struct OpSchema {
  OpKind kind;
  int min_inputs;
  int max_inputs;
  ShapeFn infer_shape;
  ReferenceFn reference;
  SpatialKind spatial;
  InputRowsFn input_rows;  // nullptr unless spatial is kWindow or kResize
};

// The schema of `kind`; nullptr if no family registered it (a build error caught by tests).
const OpSchema* FindSchema(OpKind kind);

// The family files each define one of these; op_registry.cc calls them all once. A family
// appends one OpSchema per op it implements.
void RegisterNnOps(std::vector<OpSchema>* out);           // ops/nn_*.cc: conv, pool, norm, gemm...
void RegisterElementwiseOps(std::vector<OpSchema>* out);  // ops/elementwise*.cc
void RegisterTensorOps(std::vector<OpSchema>* out);       // ops/tensor_*.cc: shape and layout ops

// Every registered schema, in OpKind order (missing ones skipped).
std::vector<const OpSchema*> AllSchemas();

// Convenience for errors: "Conv node 'conv1'".
std::string NodeLabel(const Node& node);

}  // namespace edgeinfer

#endif  // EDGEINFER_OPS_OP_REGISTRY_H_

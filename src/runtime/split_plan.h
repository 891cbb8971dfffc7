// Cutting a model between this device (the prefix) and an edge server (the suffix).
//
// A cut is a set of tensors: the device computes them from the model inputs, sends them, and
// the server computes the remaining model outputs from them. For a topological prefix of the
// nodes, the cut is the set of tensors crossing from the prefix to the rest.
#ifndef EDGEINFER_RUNTIME_SPLIT_PLAN_H_
#define EDGEINFER_RUNTIME_SPLIT_PLAN_H_

#include <string>
#include <vector>

#include "edgeinfer/status.h"
#include "ir/graph.h"

namespace edgeinfer {

struct SplitPlan {
  std::vector<std::string> cut;             // the crossing tensors
  std::vector<std::string> local_targets;   // computed on the device: produced cut tensors and
                                            // model outputs that the prefix produces
  std::vector<std::string> remote_inputs;   // sent to the server: cut tensors and the model
                                            // inputs the suffix reads
  std::vector<std::string> remote_outputs;  // model outputs the server computes
};

// The tensors crossing from the first `prefix` nodes of graph.TopologicalOrder() to the other
// nodes: non-constant values produced in the prefix (or model inputs) read by a later node, in
// value order. Prefix 0 gives the model inputs (whole-model offload). Errors: prefix outside
// [0, node count].
Result<std::vector<std::string>> CrossingTensors(const Graph& graph, int prefix);

// Plans `cut_spec`: a node count N ("12": the first N nodes in topological order run on the
// device) or comma-separated tensor names (the device runs every node they depend on). Errors
// name an unknown or constant tensor, a bad index, or a cut the server cannot start from.
Result<SplitPlan> PlanSplit(const Graph& graph, const std::string& cut_spec);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_SPLIT_PLAN_H_

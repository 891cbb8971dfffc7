// Cutting a model between this device (the device part) and an edge server (the server part).
//
// At a cut (edgeinfer/mode.h) a set of tensors crosses: the device computes them from the model
// inputs and sends them, and the server computes the remaining model outputs from them. For a
// cut after the first N nodes in topological order, the crossing tensors are those produced by
// the first N nodes (or model inputs) and read by a later node.
#ifndef EDGEINFER_RUNTIME_SPLIT_PLAN_H_
#define EDGEINFER_RUNTIME_SPLIT_PLAN_H_

#include <string>
#include <vector>

#include "edgeinfer/mode.h"
#include "edgeinfer/status.h"
#include "ir/graph.h"

namespace edgeinfer {

struct SplitPlan {
  std::vector<std::string> crossing;        // the tensors crossing the cut
  std::vector<std::string> local_targets;   // computed on the device: produced crossing tensors
                                            // and model outputs of the device part
  std::vector<std::string> remote_inputs;   // sent to the server: crossing tensors and the model
                                            // inputs the server part reads
  std::vector<std::string> remote_outputs;  // model outputs the server computes
};

// The tensors crossing the cut after the first `device_nodes` nodes of graph.TopologicalOrder():
// non-constant values produced by those nodes (or model inputs) read by a later node, in value
// order. 0 gives the model inputs (whole-model offload). Errors: device_nodes outside
// [0, node count].
Result<std::vector<std::string>> CrossingTensors(const Graph& graph, int device_nodes);

// Plans the split at `cut`: AfterNodes(N) (the first N nodes in topological order run on the
// device), AtTensors (the device runs every node the tensors depend on), Remote (AfterNodes(0))
// or Local (every node on the device). Errors name an unknown or constant tensor, a bad node
// count, or a cut the server cannot start from.
Result<SplitPlan> PlanSplit(const Graph& graph, const Cut& cut);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_SPLIT_PLAN_H_

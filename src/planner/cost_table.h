// The candidate cuts of one model and what each costs when nothing is loaded.
//
// A cut here is after a number of nodes: the first `device_nodes` nodes of
// Graph::TopologicalOrder() run on the device, the rest on the edge server. 0 is all-remote (the
// model inputs cross), the node count is all-local (nothing crosses). Costs come from per-node
// profiles of both sides; a profile step that fused several nodes ("a+b") is spread over them in
// proportion to their FLOPs. The table is built once per model and input shapes; a decision
// then only reads it (planner.h).
#ifndef EDGEINFER_PLANNER_COST_TABLE_H_
#define EDGEINFER_PLANNER_COST_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "edgeinfer/status.h"
#include "ir/graph.h"

namespace edgeinfer::planner {

struct CutCost {
  int device_nodes = 0;               // nodes run on the device, in topological order
  std::vector<std::string> tensors;   // crossing tensors (uploaded); empty when all-local
  std::vector<int64_t> tensor_bytes;  // raw bytes of each crossing tensor
  int64_t upload_bytes = 0;           // sum of tensor_bytes
  int64_t download_bytes = 0;         // model outputs the server computes
  double device_ms = 0.0;             // the device part on the device (its profile)
  double server_ms = 0.0;             // the server part, unloaded (its profile)
  bool all_local = false;             // no server call at all
};

struct CostTable {
  std::vector<CutCost> cuts;  // index == device_nodes, 0 .. node count
  int node_count = 0;
};

// Builds the table for `graph`, whose value shapes must be static (specialised). Profiles are
// per node or fused step, matched by node name; a node missing from a profile costs 0 there.
// Errors: a dynamic shape, a cyclic graph.
Result<CostTable> BuildCostTable(const Graph& graph, const std::vector<NodeProfile>& device,
                                 const std::vector<NodeProfile>& server);

}  // namespace edgeinfer::planner

#endif  // EDGEINFER_PLANNER_COST_TABLE_H_

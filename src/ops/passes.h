// Graph passes that prepare an imported graph for a backend.
//
// All passes edit the graph in place and leave it verified-valid; they are deterministic and
// not thread safe on one graph (work on a copy per specialisation).
#ifndef EDGEINFER_OPS_PASSES_H_
#define EDGEINFER_OPS_PASSES_H_

#include <map>
#include <string>

#include "edgeinfer/status.h"
#include "ir/graph.h"

namespace edgeinfer {

// Infers every value's dtype and shape in topological order using the op schemas, folding any
// node whose inputs are all constant (including Shape of a value with a known shape) into a
// constant by running its reference kernel. Errors name the node, op type and tensor.
Status InferShapesAndFold(Graph* graph);

// Sets the graph inputs' shapes from `input_shapes` (by name; every dynamic dim must be
// resolved and static dims must agree, else an error naming the input), then runs
// InferShapesAndFold, removes Identity/Dropout(inference) nodes and dead nodes, and Compacts.
// Afterwards every value's shape is known.
Status Specialize(Graph* graph, const std::map<std::string, Shape>& input_shapes);

// Removes nodes whose outputs no graph output depends on.
void RemoveDeadNodes(Graph* graph);

}  // namespace edgeinfer

#endif  // EDGEINFER_OPS_PASSES_H_

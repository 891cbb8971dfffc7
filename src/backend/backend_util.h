// Helpers shared by the backends: input validation and reference-kernel invocation.
#ifndef EDGEINFER_BACKEND_BACKEND_UTIL_H_
#define EDGEINFER_BACKEND_BACKEND_UTIL_H_

#include <vector>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ir/graph.h"

namespace edgeinfer {

// Checks that `inputs` has one tensor per graph input with exactly the graph's dtype and
// shape. Errors name the input.
Status CheckRunInputs(const Graph& graph, const std::vector<Tensor>& inputs);

// Checks that the graph is ready for a backend: every node has a schema and every value a
// node touches has a known shape. Errors name the node or value.
Status CheckCompilable(const Graph& graph);

// Runs `node`'s reference kernel and checks that each produced output matches the dtype and
// shape the graph recorded for it (an internal error naming the node otherwise).
Status RunReferenceNode(const Graph& graph, const Node& node, const std::vector<Tensor>& inputs,
                        std::vector<Tensor>* outputs);

}  // namespace edgeinfer

#endif  // EDGEINFER_BACKEND_BACKEND_UTIL_H_

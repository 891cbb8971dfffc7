// Approximate floating-point operation counts per node (a multiply-add counts as 2).
#ifndef EDGEINFER_IR_FLOPS_H_
#define EDGEINFER_IR_FLOPS_H_

#include "ir/graph.h"

namespace edgeinfer {

// FLOPs of `node` in a specialised graph (shapes known). Convolutions, Gemm and MatMul count
// 2 per multiply-add; other ops count one per output element (a rough figure for memory-bound
// ops, which are timed rather than modelled).
double NodeFlops(const Graph& graph, const Node& node);

}  // namespace edgeinfer

#endif  // EDGEINFER_IR_FLOPS_H_

// The per-file registration functions of the nn op family; RegisterNnOps (op_registry.h) calls
// them all. Internal to src/ops.
#ifndef EDGEINFER_OPS_NN_OPS_H_
#define EDGEINFER_OPS_NN_OPS_H_

#include <vector>

#include "ops/op_registry.h"

namespace edgeinfer::nn {

void RegisterConvOps(std::vector<OpSchema>* out);    // nn_conv.cc: Conv, ConvTranspose
void RegisterPoolOps(std::vector<OpSchema>* out);    // nn_pool.cc: Max/Average/Global pools
void RegisterNormOps(std::vector<OpSchema>* out);    // nn_norm.cc: BN, Instance/LayerNorm, LRN
void RegisterLinearOps(std::vector<OpSchema>* out);  // nn_linear.cc: Gemm, MatMul, (Log)Softmax
void RegisterResizeOps(std::vector<OpSchema>* out);  // nn_resize.cc: Resize, Upsample
void RegisterLayoutOps(std::vector<OpSchema>* out);  // nn_layout.cc: Pad, Depth/SpaceToDepth

}  // namespace edgeinfer::nn

#endif  // EDGEINFER_OPS_NN_OPS_H_

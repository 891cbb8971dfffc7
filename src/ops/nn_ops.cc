// Registration of the nn op family: convolutions, pools, normalizations, linear algebra,
// softmax, resizing, padding and depth/space rearrangement (ONNX opsets 7..17, float32).
#include "ops/nn_ops.h"

namespace edgeinfer {

void RegisterNnOps(std::vector<OpSchema>* out) {
  nn::RegisterConvOps(out);
  nn::RegisterPoolOps(out);
  nn::RegisterNormOps(out);
  nn::RegisterLinearOps(out);
  nn::RegisterResizeOps(out);
  nn::RegisterLayoutOps(out);
}

}  // namespace edgeinfer

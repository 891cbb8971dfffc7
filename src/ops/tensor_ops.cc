// Registration of the tensor op family. Placeholder until the family's kernels land.
#include "ops/op_registry.h"

namespace edgeinfer {

void RegisterTensorOps(std::vector<OpSchema>* out) {}

}  // namespace edgeinfer

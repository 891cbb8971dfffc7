// Registration of the nn op family. Placeholder until the family's kernels land.
#include "ops/op_registry.h"

namespace edgeinfer {

void RegisterNnOps(std::vector<OpSchema>* out) {}

}  // namespace edgeinfer

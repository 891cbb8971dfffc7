// Registration of the elementwise op family. Placeholder until the family's kernels land.
#include "ops/op_registry.h"

namespace edgeinfer {

void RegisterElementwiseOps(std::vector<OpSchema>* out) {}

}  // namespace edgeinfer

// The reference backend: runs each node's naive reference kernel in topological order.
//
// It is the oracle the other backends are tested against, so it favours obvious correctness
// over speed: no fusion, no layout changes, no memory reuse beyond freeing dead tensors.
#ifndef EDGEINFER_BACKEND_REFERENCE_BACKEND_H_
#define EDGEINFER_BACKEND_REFERENCE_BACKEND_H_

#include "backend/backend.h"

namespace edgeinfer {

// The process-wide instance (never null, never destroyed).
const Backend* GetReferenceBackend();

}  // namespace edgeinfer

#endif  // EDGEINFER_BACKEND_REFERENCE_BACKEND_H_

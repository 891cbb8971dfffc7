// The CPU backend on oneDNN: runs every op that has a schema (oneDNN primitives where a
// matching one exists, the op's reference kernel otherwise). A model under 150 MFLOPs is compiled
// and run on one thread whatever CompileOptions::threads says (fork/join would cost more).
#ifndef EDGEINFER_BACKEND_CPU_CPU_BACKEND_H_
#define EDGEINFER_BACKEND_CPU_CPU_BACKEND_H_

#include "backend/backend.h"

namespace edgeinfer {

// The process-wide instance (never null, never destroyed).
const Backend* GetCpuBackend();

}  // namespace edgeinfer

#endif  // EDGEINFER_BACKEND_CPU_CPU_BACKEND_H_

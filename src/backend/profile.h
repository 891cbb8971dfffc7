// Per-step profiles of a compiled executable: the one aggregation behind Session::Profile (the
// device's profile) and the edge server's load-time profile. The planner matches the two by the
// step names produced here, so both sides must produce them the same way.
#ifndef EDGEINFER_BACKEND_PROFILE_H_
#define EDGEINFER_BACKEND_PROFILE_H_

#include <vector>

#include "backend/backend.h"
#include "edgeinfer/session.h"
#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"

namespace edgeinfer {

// One executed step: its profile (name and op '+'-joined over fused nodes, FLOPs, the output of
// its last node, median time) and the compiled graph's node indices it covers (empty for steps
// that run no node, such as layout conversions).
struct StepProfile {
  NodeProfile profile;
  std::vector<int> nodes;
};

// Runs `executable` once untimed (first-touch page faults do not count), then max(1, repeat)
// times with step timing, and returns one StepProfile per step in execution order with the
// median over the timed runs. Errors: the executable's.
Result<std::vector<StepProfile>> ProfileSteps(const Executable& executable,
                                              const std::vector<Tensor>& inputs, int repeat);

}  // namespace edgeinfer

#endif  // EDGEINFER_BACKEND_PROFILE_H_

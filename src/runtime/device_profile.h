// The device's per-node profile for the planner, cached on disk per CPU quota.
#ifndef EDGEINFER_RUNTIME_DEVICE_PROFILE_H_
#define EDGEINFER_RUNTIME_DEVICE_PROFILE_H_

#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "edgeinfer/status.h"

namespace edgeinfer {

// The CPU quota of this process's cgroup in cores (CFS quota / period, the smallest over the
// group and its ancestors; cgroup v1 cpu controller or v2 cpu.max); 0 when unlimited or
// unknown. A process held by LimitCpu (testbed/cpu_quota.h) or a container's --cpus sees it.
double EffectiveCpuQuota();

// The profile of `session` (a local session of the whole model, `model_bytes`, opened with
// `threads` kernel threads) on `inputs`, from the planner's profile cache when present
// (planner/profile_cache.h). A quota'd process profiles into its own cache subdirectory
// "cpu-quota-<cores>", since the same machine and thread count is then another device.
// Errors: those of Session::Profile.
Result<std::vector<NodeProfile>> DeviceProfile(Session& session, const std::string& model_bytes,
                                               const std::vector<NamedTensor>& inputs, int threads,
                                               bool* from_cache);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_DEVICE_PROFILE_H_

// Holding this process to a fraction of the CPU with a cgroup CFS quota, to emulate a weak
// device on a workstation (LoADPart's device side).
#ifndef EDGEINFER_TESTBED_CPU_QUOTA_H_
#define EDGEINFER_TESTBED_CPU_QUOTA_H_

#include <string>

#include "edgeinfer/status.h"

namespace edgeinfer {

// Moves the calling process (all its threads, and children forked later) into a new cgroup
// "edgeinfer-<pid>" below its current cpu cgroup, limited to `cores` CPUs on average (0.5 = half
// a core: 5 ms of CPU time every `period_ms` period, summed over all threads). The default
// period is short (10 ms, the kernel's is 100 ms) so that a short run is slowed evenly instead
// of running at full speed until the quota is spent: a weak device is slow at every time scale.
// cgroup v2 (cpu.max) when /sys/fs/cgroup/cgroup.controllers exists, else cgroup v1
// (cpu.cfs_quota_us and cpu.cfs_period_us, then cgroup.procs). Calling it again changes the quota
// of the same group. Empty edgeinfer-* groups left by earlier processes are removed first.
//
// Needs root (or a delegated cgroup). Errors say why and change nothing the caller relies on:
// InvalidArgument (cores <= 0, a period outside 1-1000 ms), FailedPrecondition (no cpu controller,
// read-only cgroupfs, v2 controller not enabled), PermissionDenied (not root / not delegated). The
// caller decides whether to continue unlimited.
Status LimitCpu(double cores, double period_ms = 10.0);

// Removes empty edgeinfer-<pid> cgroups whose process has exited (what LimitCpu cleans up
// first). Best effort; never fails.
void RemoveStaleCpuGroups();

}  // namespace edgeinfer

#endif  // EDGEINFER_TESTBED_CPU_QUOTA_H_

// Process-level OpenMP settings for the oneDNN CPU backend.
//
// oneDNN (Debian build) and ParallelFor run on libgomp, whose idle threads by default spin for
// milliseconds at every barrier before sleeping. On a busy machine (more runnable threads than
// cores) a spinning worker holds a core that the worker with the remaining work needs, and each
// oneDNN primitive then costs a scheduler time slice: measured 94 ms instead of 4.5 ms for
// SqueezeNet 1.1 on two threads with the load average at 7 on two cores. With
// OMP_WAIT_POLICY=PASSIVE idle workers sleep at once and the cost disappears, but on an idle
// machine every primitive then pays a futex wake-up of its workers: SqueezeNet 1.1 on two idle
// cores ran 1.35x ONNX Runtime's time with PASSIVE and 1.04x with a bounded spin
// (GOMP_SPINCOUNT=100000), like ONNX Runtime's own spinning pool (docs/benchmarks.md).
//
// libgomp reads its environment only once, when it is loaded, before any code of the program
// runs, so the setting cannot be changed from inside a running process: the program re-executes
// itself with the variables set.
#ifndef EDGEINFER_BACKEND_CPU_OPENMP_ENV_H_
#define EDGEINFER_BACKEND_CPU_OPENMP_ENV_H_

#include <string>

namespace edgeinfer {

enum class OpenMpWait {
  kPassive,  // OMP_WAIT_POLICY=PASSIVE: for processes that share their cores (servers)
  kSpin,     // GOMP_SPINCOUNT=kSpinCount: a bounded spin, for dedicated cores
  kAuto,     // kSpin when the machine's other CPUs are idle at start, else kPassive
};

inline constexpr const char* kSpinCount = "100000";

// "passive", "spin" or "auto" (EDGEINFER_OMP_WAIT's values); false for anything else.
bool ParseOpenMpWait(const std::string& text, OpenMpWait* out);

// Threads of other processes (and other threads of this one) runnable on the machine, the mean
// of `samples` looks at /proc/loadavg's running count `interval_ms` apart; negative when it
// cannot be read.
double OtherRunnable(int samples, int interval_ms);

// For a program's main(), before any thread starts. When the user set none of OMP_WAIT_POLICY,
// GOMP_SPINCOUNT and EDGEINFER_OMP_WAIT_APPLIED, picks the wait policy (`fallback`, or
// EDGEINFER_OMP_WAIT when set and valid; kAuto samples OtherRunnable over 30 ms and spins when
// fewer than 0.5 other threads are runnable on average), sets the variables, and re-executes the
// program (/proc/self/exe) with the same `argv`, so that libgomp starts with them.
// EDGEINFER_OMP_WAIT_APPLIED records the choice ("passive" or "spin") for the new process and its
// children. Returns only when there is nothing to do or the re-execution failed (the process then
// keeps libgomp's defaults).
void ConfigureOpenMpWait(char** argv, OpenMpWait fallback);

// For programs that start other edgeinfer programs (bench_engine): removes the variables that
// ConfigureOpenMpWait set in this process, so that children choose for themselves. Variables
// the user set are kept.
void ForgetAppliedOpenMpWait();

// What this process runs with: "passive", "spin", "user (...)" when the user set the libgomp
// variables, or "libgomp default".
std::string OpenMpWaitDescription();

}  // namespace edgeinfer

#endif  // EDGEINFER_BACKEND_CPU_OPENMP_ENV_H_

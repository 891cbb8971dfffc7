// Process-level OpenMP settings for the oneDNN CPU backend.
//
// oneDNN (Debian build) and ParallelFor run on libgomp, whose idle threads by default spin for
// milliseconds at every barrier before sleeping. On a busy machine (more runnable threads than
// cores) a spinning worker holds a core that the worker with the remaining work needs, and each
// oneDNN primitive then costs a scheduler time slice: measured 94 ms instead of 4.5 ms for
// SqueezeNet 1.1 on two threads with the load average at 7 on two cores. With
// OMP_WAIT_POLICY=PASSIVE idle workers sleep at once and the cost disappears.
//
// libgomp reads its environment only once, when it is loaded, before any code of the program
// runs, so the setting cannot be changed from inside a running process.
#ifndef EDGEINFER_BACKEND_CPU_OPENMP_ENV_H_
#define EDGEINFER_BACKEND_CPU_OPENMP_ENV_H_

namespace edgeinfer {

// For a program's main(): when the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, sets
// OMP_WAIT_POLICY=PASSIVE and re-executes the program (/proc/self/exe) with the same `argv`, so
// that libgomp starts with it. Returns only when there is nothing to do or the re-execution
// failed (then the process simply keeps libgomp's defaults). Call it before any thread starts.
void ReexecWithPassiveOpenMpWait(char** argv);

}  // namespace edgeinfer

#endif  // EDGEINFER_BACKEND_CPU_OPENMP_ENV_H_

// The one threading abstraction for kernels: ParallelFor over an index range.
//
// It runs on the same OpenMP pool oneDNN uses, so our own kernels and oneDNN's never
// oversubscribe the cores. The thread count belongs to the calling thread (OpenMP's
// nthreads-var is per thread): SetNumThreads affects the parallel regions that thread starts,
// which is why every executable sets its own count at the start of each Run, and why two
// sessions with different counts can run side by side. Bodies must be safe to run concurrently
// for distinct indices.
#ifndef EDGEINFER_CORE_PARALLEL_H_
#define EDGEINFER_CORE_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace edgeinfer {

// Sets the kernel thread count of the calling thread; n <= 0 means all hardware threads.
void SetNumThreads(int n);
int GetNumThreads();

// Calls body(begin, end) over contiguous chunks covering [0, n). Runs inline when n is small
// or `cost_per_item` (rough ns of work per index) makes threading not worth it.
void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& body,
                 int64_t cost_per_item = 1000);

}  // namespace edgeinfer

#endif  // EDGEINFER_CORE_PARALLEL_H_

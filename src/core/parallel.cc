#include "core/parallel.h"

#include <omp.h>

#include <algorithm>
#include <thread>

namespace edgeinfer {

void SetNumThreads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  omp_set_num_threads(n);
}

int GetNumThreads() { return omp_get_max_threads(); }

void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& body,
                 int64_t cost_per_item) {
  if (n <= 0) return;
  const int64_t kMinWorkNs = 20000;
  int threads = GetNumThreads();
  int64_t max_chunks = std::max<int64_t>(1, n * std::max<int64_t>(cost_per_item, 1) / kMinWorkNs);
  int64_t chunks = std::min<int64_t>({static_cast<int64_t>(threads), n, max_chunks});
  if (chunks <= 1 || omp_in_parallel()) {
    body(0, n);
    return;
  }
#pragma omp parallel for num_threads(chunks) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t begin = n * c / chunks;
    int64_t end = n * (c + 1) / chunks;
    if (begin < end) body(begin, end);
  }
}

}  // namespace edgeinfer

// This machine's measured matrix-multiply peak: the physical limit bench_engine reports next to
// each model, and the yardstick bench_loadpart uses to give its emulated device a speed in
// GFLOP/s instead of a fraction of whatever core the host has. Header only, like bench_util.h.
#ifndef EDGEINFER_BENCH_SGEMM_PEAK_H_
#define EDGEINFER_BENCH_SGEMM_PEAK_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "core/parallel.h"

namespace edgeinfer::bench {

// Best GFLOP/s of a 2048^3 sgemm through oneDNN with `threads` threads over 8 timed runs: the
// physical limit is the best the machine can do, and one noisy neighbour must not lower it (a
// median over 4 runs once read 176 GFLOP/s at 2 threads where a quiet run gives 310-350).
inline double SgemmPeak(int threads) {
  SetNumThreads(threads);
  const int64_t n = 2048;
  std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n);
  std::vector<double> gflops;
  for (int i = 0; i < 9; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i > 0) gflops.push_back(2.0 * n * n * n / s / 1e9);
  }
  return *std::max_element(gflops.begin(), gflops.end());
}

}  // namespace edgeinfer::bench

#endif  // EDGEINFER_BENCH_SGEMM_PEAK_H_

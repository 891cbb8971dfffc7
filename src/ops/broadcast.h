// Numpy-style multidirectional broadcasting: shape rules and a segment iterator for kernels.
//
// Shapes may hold -1 (unknown) in shape rules; kernels only see concrete shapes. The iterator
// merges adjacent dimensions that every input walks contiguously (or not at all), so equal
// shapes become one flat run, a scalar operand becomes a stride-0 run, and a per-channel
// operand of NCHW data becomes runs of H*W with stride 0.
#ifndef EDGEINFER_OPS_BROADCAST_H_
#define EDGEINFER_OPS_BROADCAST_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ir/graph.h"

namespace edgeinfer {

// The broadcast of `a` and `b` (right-aligned; a dim of 1 stretches; -1 is unknown). The
// error is InvalidArgument naming `node` and both shapes.
Status BroadcastShapes(const Node& node, const Shape& a, const Shape& b, Shape* out);

// Unidirectional: whether `from` broadcasts to exactly `to` (dims of `to` are concrete or -1).
bool BroadcastsTo(const Shape& from, const Shape& to);

// How N inputs are read while writing a concrete output shape in row-major order.
struct BroadcastIter {
  std::vector<int64_t> dims;                  // merged output dims; never empty
  std::vector<std::vector<int64_t>> strides;  // [input][dim] element strides; 0 = broadcast
  int64_t numel = 0;                          // output element count
};

// Each of `inputs` must broadcast to `out` (checked by the caller via BroadcastShapes).
BroadcastIter MakeBroadcastIter(const std::vector<Shape>& inputs, const Shape& out);

// Calls row(out_offset, len, in_offsets, in_strides) for runs that cover output elements
// [begin, end) in order; in_offsets/in_strides hold N element offsets/strides for the run.
template <size_t N, typename RowFn>
void ForEachBroadcastRun(const BroadcastIter& it, int64_t begin, int64_t end, RowFn&& row) {
  const size_t rank = it.dims.size();
  const int64_t inner = it.dims[rank - 1];
  std::array<int64_t, N> off;
  std::array<int64_t, N> stride;
  for (size_t k = 0; k < N; ++k) stride[k] = it.strides[k][rank - 1];
  int64_t i = begin;
  while (i < end) {
    const int64_t col = i % inner;
    int64_t rest = i / inner;
    off.fill(0);
    for (size_t d = rank - 1; d-- > 0;) {
      const int64_t idx = rest % it.dims[d];
      rest /= it.dims[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx * it.strides[k][d];
    }
    for (size_t k = 0; k < N; ++k) off[k] += col * stride[k];
    const int64_t len = std::min(inner - col, end - i);
    row(i, len, off.data(), stride.data());
    i += len;
  }
}

// As ForEachBroadcastRun over the whole output, split across threads (runs are disjoint in the
// output, so `row` may write its run without synchronisation).
template <size_t N, typename RowFn>
void ParallelBroadcastRuns(const BroadcastIter& it, RowFn&& row, int64_t cost_per_item = 2) {
  ParallelFor(
      it.numel, [&](int64_t begin, int64_t end) { ForEachBroadcastRun<N>(it, begin, end, row); },
      cost_per_item);
}

}  // namespace edgeinfer

#endif  // EDGEINFER_OPS_BROADCAST_H_

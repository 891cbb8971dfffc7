// Shared by the row-band tests: random conv/pool graphs, row slicing and stitching.
#ifndef EDGEINFER_TESTS_BAND_UTIL_H_
#define EDGEINFER_TESTS_BAND_UTIL_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/tensor.h"
#include "ir/graph.h"
#include "ir/rows.h"
#include "oracle_util.h"  // RelativeL2

namespace edgeinfer::testing {

// A random chain or DAG of row-local ops from input "x" [1, C, H, W] to output "y": Conv
// (kernel 1-5, stride 1-3, dilation 1-2, asymmetric explicit pads, SAME_UPPER/LOWER, VALID),
// MaxPool and AveragePool (ceil_mode, count_include_pad, pads), Relu, BatchNormalization, LRN,
// residual Add and channel Concat of two branches. Specialised (every shape known). `summary`
// (if set) lists the nodes for failure messages.
Graph RandomBandGraph(uint64_t seed, std::string* summary = nullptr);

// Rows [r.begin, r.end) of an NCHW tensor (a copy).
Tensor RowsOf(const Tensor& t, RowRange r);

// Stitches bands (each holding rows from its offset) into one tensor of `height` rows; every
// row must be covered exactly once.
Tensor StitchRows(const std::vector<std::pair<int64_t, Tensor>>& bands, int64_t height);

// Whether two float tensors are bit-for-bit equal (shape and every value).
bool BitEqual(const Tensor& a, const Tensor& b);

// A float tensor of `shape` with values uniform in [-1, 1) from `seed` (a test image).
Tensor Image(const Shape& shape, uint64_t seed);

// `n` random non-empty contiguous ranges covering [0, height) with unequal heights.
std::vector<RowRange> RandomSplit(int64_t height, int n, std::mt19937_64* rng);

}  // namespace edgeinfer::testing

#endif  // EDGEINFER_TESTS_BAND_UTIL_H_

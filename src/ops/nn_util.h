// Helpers shared by the nn op family (src/ops/nn_*.cc): error messages, input checks, the
// sliding-window geometry of Conv and the pools, and output allocation for reference kernels.
//
// Internal to src/ops; everything here is pure and thread safe.
#ifndef EDGEINFER_OPS_NN_UTIL_H_
#define EDGEINFER_OPS_NN_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ir/graph.h"
#include "ops/op_registry.h"

namespace edgeinfer::nn {

// "Conv node 'c1': <what>" as InvalidArgument / Unimplemented.
Status Invalid(const Node& node, const std::string& what);
Status Unimplemented(const Node& node, const std::string& what);

// Checks that input `i` (called `tensor` in messages) is present and float32.
Status RequireFloat(const ShapeContext& ctx, size_t i, const char* tensor);
// Checks that input `i` is present, float32 and of known rank in [min_rank, max_rank].
Status RequireFloatRank(const ShapeContext& ctx, size_t i, const char* tensor, int64_t min_rank,
                        int64_t max_rank);
// Unknown-rank float output of the same dtype as input 0: when input 0's rank is unknown.
ValueInfo UnknownRankFloat();

// Number of outputs a node yields (at least one, so bare test nodes work).
size_t NumOutputs(const Node& node);
// True when output `i` exists and is not kNoValue.
bool OutputRequested(const Node& node, size_t i);

// Input `i` when present (not empty and, if `zero_size_is_absent`, with elements); else nullptr.
const Tensor* OptionalInput(const std::vector<Tensor>& inputs, size_t i,
                            bool zero_size_is_absent = false);

// Runs `shape_fn` on the concrete `inputs` (every input is its own constant) and allocates one
// float32 output per inferred output info (empty Tensors for outputs not requested). This is
// how every nn reference kernel validates its inputs: the shape rule is the one checker.
Status PrepareOutputs(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                      ShapeFn shape_fn, std::vector<Tensor>* outputs);

// Floor and ceiling of a / b for b > 0 and any sign of a.
inline int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };
Result<AutoPad> ParseAutoPad(const Node& node);

// The geometry of a sliding window over `rank` spatial dims (Conv, MaxPool, AveragePool).
struct Window {
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads_begin;  // effective (after auto_pad); 0 where the input is unknown
  std::vector<int64_t> pads_end;
  std::vector<int64_t> out;  // output spatial sizes; -1 where the input size is unknown
  int64_t rank() const { return static_cast<int64_t>(kernel.size()); }
};

// Reads strides, dilations, pads and auto_pad from the node and computes effective pads and
// output sizes for spatial input sizes `in` (-1 for unknown) and kernel `kernel`, following
// ONNX: NOTSET/VALID out = floor((in + pads - ek) / s) + 1 (ceil with `ceil_mode`, where a last
// window starting in the end padding is dropped), SAME_* out = ceil(in / s) with the odd pad at
// the end (UPPER) or the beginning (LOWER). ek = (k - 1) * d + 1.
Result<Window> ComputeWindow(const Node& node, const std::vector<int64_t>& in,
                             const std::vector<int64_t>& kernel, bool ceil_mode);

// The window along the H axis only, computed from the full input height (for InputRowsFn).
// Returns the input row range output rows `out` read, unclamped: begin = b*s - pad_top, end =
// (e-1)*s - pad_top + (k-1)*d + 1. `kernel_h` <= 0 means unknown (Conv without kernel_shape):
// then the extent is derived from the heights for NOTSET/VALID, and SAME_* yields all rows
// [0, in_height), as does an invalid node.
RowRange WindowInputRows(const Node& node, int64_t kernel_h, int64_t in_height, int64_t out_height,
                         RowRange out);

// A view of one 2-D spatial plane problem; 1-D windows are 2-D ones with H = 1.
struct Plane {
  int64_t ih = 1, iw = 1, oh = 1, ow = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
};
// The Plane of a rank-1 or rank-2 window over input spatial sizes `in` (all known).
Plane ToPlane(const Window& w, const std::vector<int64_t>& in);

// Range [lo, hi) of output positions o with 0 <= o*s - pad + k_offset < in_size.
void ValidOutputRange(int64_t in_size, int64_t out_size, int64_t stride, int64_t pad,
                      int64_t k_offset, int64_t* lo, int64_t* hi);

// Spatial dims of a shape (dims 2..rank-1).
std::vector<int64_t> SpatialDims(const Shape& shape);

// Normalizes `axis` into [0, rank); false if out of range.
bool NormalizeAxis(int64_t axis, int64_t rank, int64_t* out);

}  // namespace edgeinfer::nn

#endif  // EDGEINFER_OPS_NN_UTIL_H_

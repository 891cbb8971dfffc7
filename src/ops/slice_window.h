// The window a Slice node reads, for backends that implement Slice as a strided view.
#ifndef EDGEINFER_OPS_SLICE_WINDOW_H_
#define EDGEINFER_OPS_SLICE_WINDOW_H_

#include <cstdint>
#include <vector>

#include "edgeinfer/status.h"
#include "ir/graph.h"

namespace edgeinfer {

// Per input dim: the first element read, the step and the number of elements (ONNX clamping
// rules applied), so output index i of dim d reads input index start[d] + i * step[d].
struct SliceWindow {
  std::vector<int64_t> start, step, count;
};

// The window of Slice `node` in `graph`, whose input shape is known and whose starts, ends,
// axes and steps are attributes (opset < 10) or constant inputs. FailedPrecondition when one is
// not constant; InvalidArgument (naming the node) when they are inconsistent.
Status ResolveSliceWindow(const Graph& graph, const Node& node, SliceWindow* out);

}  // namespace edgeinfer

#endif  // EDGEINFER_OPS_SLICE_WINDOW_H_

// Pattern fusion on a specialised graph: the decomposed forms exporters emit for ops that ONNX
// gained late are folded back into one node, so a backend can run each as one kernel.
//
// - GELU as torch.onnx and paddle2onnx emit it before opset 20:
//   Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5), with Mul(x, 1/sqrt 2) for the Div and the
//   0.5 applied to x first or last, becomes Gelu(x) (approximate "none").
// - LayerNormalization decomposed over the trailing axes: d = Sub(x, ReduceMean(x));
//   Div(d, Sqrt(Add(ReduceMean(Pow(d, 2)), eps))), optionally followed by Mul(., gamma) and
//   Add(., beta) with constant gamma and beta, becomes LayerNormalization(x, gamma, beta).
// - HardSwish as paddle2onnx emits it: Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6), or with
//   Mul(., 1/6), becomes HardSwish(x).
// - Two consecutive Transposes compose into one, Transpose(x, p o q), or into Identity(x) when
//   they cancel (exporters write them around channel-last segments and their own reshapes).
//
// A pattern is folded only when every intermediate tensor has no other use and is no graph
// output, and every constant has exactly the expected value (within 1e-4 relative), so the
// result is the same function. The last node of a pattern is rewritten in place (its name and
// output tensor are kept); the others are marked removed. Shapes must be known (specialised
// graph). Not thread safe on one graph.
#ifndef EDGEINFER_OPS_FUSE_PATTERNS_H_
#define EDGEINFER_OPS_FUSE_PATTERNS_H_

#include "edgeinfer/status.h"
#include "ir/graph.h"

namespace edgeinfer {

struct FusedPatterns {
  int gelu = 0;
  int layer_norm = 0;
  int transpose_pairs = 0;  // pairs folded into one Transpose or an Identity
  int hard_swish = 0;
};

// Folds every GELU, LayerNormalization, HardSwish and Transpose-pair pattern found (see above);
// `counts` may be null. Leaves producers/consumers rebuilt; removed nodes stay until Compact().
Status FusePatterns(Graph* graph, FusedPatterns* counts = nullptr);

}  // namespace edgeinfer

#endif  // EDGEINFER_OPS_FUSE_PATTERNS_H_

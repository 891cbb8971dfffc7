// The model zoo: standard CNN architectures with deterministic random weights.
//
// Each model is the architecture at batch 1 with its reference parameter count (torchvision's
// for the classifiers), float32, opset 13, with every value's shape known. Weights depend only
// on the seed (see builder.h), so two builds with one seed are byte-identical on any platform.
// The classifiers read "input" and write logits "output" [1, 1000] (no softmax).
#ifndef EDGEINFER_ZOO_ZOO_H_
#define EDGEINFER_ZOO_ZOO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ir/graph.h"

namespace edgeinfer {

struct ZooModel {
  std::string name;         // "resnet50"
  std::string description;  // one line
  Shape input_shape;        // of the graph input "input"
  int64_t parameters;       // reference count; CountParameters of a build equals it
  Result<Graph> (*build)(uint64_t seed);
};

// Every model, in a fixed order. Thread safe.
const std::vector<ZooModel>& ZooModels();
// Nullptr when no model has that name.
const ZooModel* FindZooModel(const std::string& name);

// A probe for links rather than an architecture: x[1,3,128,128] (192 KiB) -> Conv(4, 3x3) ->
// GlobalAveragePool -> Flatten -> y[1,4], so that a remote run's time is dominated by uploading
// its input. Used by the link emulator's test and bench_timing.
Result<Graph> WideInputModel();

// Trainable parameters as the source framework counts them: the weights and biases of Conv,
// ConvTranspose and Gemm, the scale and bias of BatchNormalization and PRelu slopes. Batch norm
// running statistics are buffers, and shape operands and Clip bounds are not parameters, so this
// is less than the element count of all constants.
int64_t CountParameters(const Graph& graph);

}  // namespace edgeinfer

#endif  // EDGEINFER_ZOO_ZOO_H_

// Builders of the individual zoo architectures (internal to src/zoo; use zoo.h).
#ifndef EDGEINFER_ZOO_MODELS_H_
#define EDGEINFER_ZOO_MODELS_H_

#include <cstdint>

#include "edgeinfer/status.h"
#include "ir/graph.h"

namespace edgeinfer::zoo {

// models_plain.cc: stacks without skip connections.
Result<Graph> BuildVgg16(uint64_t seed);
Result<Graph> BuildAlexNet(uint64_t seed);
Result<Graph> BuildSqueezeNet11(uint64_t seed);
Result<Graph> BuildGoogLeNet(uint64_t seed);

// models_residual.cc: networks with residual additions.
Result<Graph> BuildResNet18(uint64_t seed);
Result<Graph> BuildResNet50(uint64_t seed);
Result<Graph> BuildMobileNetV2(uint64_t seed);

// models_dense.cc: dense-prediction networks (detection, pose).
Result<Graph> BuildYoloV2Tiny(uint64_t seed);
Result<Graph> BuildOpenPose(uint64_t seed);

}  // namespace edgeinfer::zoo

#endif  // EDGEINFER_ZOO_MODELS_H_

// Building model inputs for the command line: .npy files, images, or seeded random data.
#ifndef EDGEINFER_TOOLS_INPUTS_H_
#define EDGEINFER_TOOLS_INPUTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "edgeinfer/session.h"

namespace edgeinfer::tools {

// The ImageNet preprocessing applied to image inputs, documented in `run --help`.
extern const char kImagePreprocessingHelp[];

// `specs` are the --input values: "FILE.npy", "NAME=FILE.npy", "IMAGE.jpg|png|bmp|ppm" or
// "NAME=IMAGE...". A spec without a name applies to the first input not yet given. Inputs not
// given get deterministic random data from `seed` (uniform [0,1) for float inputs, [0,10) for
// integers); dynamic dims of random inputs become 1. Errors name the spec or input.
Result<std::vector<NamedTensor>> BuildInputs(const std::vector<TensorInfo>& model_inputs,
                                             const std::vector<std::string>& specs, uint64_t seed);

// Loads an image and applies the ImageNet preprocessing for an NCHW float input of
// shape [1, 3, H, W] (H, W from `shape`, 224 when dynamic).
Result<Tensor> LoadImageTensor(const std::string& path, const Shape& shape);

}  // namespace edgeinfer::tools

#endif  // EDGEINFER_TOOLS_INPUTS_H_

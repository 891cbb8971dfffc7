// Checking a Run's inputs against a model's declared inputs (shared by every Session kind).
#ifndef EDGEINFER_RUNTIME_SESSION_INPUTS_H_
#define EDGEINFER_RUNTIME_SESSION_INPUTS_H_

#include <vector>

#include "edgeinfer/session.h"

namespace edgeinfer {

// Puts `inputs` in the order of `model_inputs` into `ordered`. Errors name the input: unknown
// name, given twice, missing, wrong dtype, or a shape that disagrees with a static dim.
Status OrderInputs(const std::vector<TensorInfo>& model_inputs,
                   const std::vector<NamedTensor>& inputs, std::vector<Tensor>* ordered);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_SESSION_INPUTS_H_

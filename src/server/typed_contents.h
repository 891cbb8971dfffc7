// Typed tensor contents (InferTensorContents) as sent by clients that do not use raw bytes.
#ifndef EDGEINFER_SERVER_TYPED_CONTENTS_H_
#define EDGEINFER_SERVER_TYPED_CONTENTS_H_

#include <string>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "inference.pb.h"

namespace edgeinfer::server {

// Builds a tensor from the typed field that KServe assigns to `datatype` (fp32_contents for
// FP32, int_contents for INT8/INT16/INT32, ...). InvalidArgument names `name` when the datatype
// has no typed field (FP16, BYTES) or the element count does not match `shape`.
Result<Tensor> DecodeTypedTensor(const std::string& name, const std::string& datatype,
                                 const Shape& shape, const inference::InferTensorContents& contents,
                                 size_t max_bytes);

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_TYPED_CONTENTS_H_

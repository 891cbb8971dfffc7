// NumPy .npy file reading and writing (format versions 1.0-3.0, little-endian, C order).
#ifndef EDGEINFER_CORE_NPY_H_
#define EDGEINFER_CORE_NPY_H_

#include <string>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"

namespace edgeinfer {

// Parses .npy bytes. Supported dtypes: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1. Errors name the
// problem (bad magic, unsupported dtype, Fortran order, truncated data).
Result<Tensor> ParseNpy(const std::string& bytes);
Result<Tensor> ReadNpyFile(const std::string& path);

// Serializes a tensor as .npy version 1.0 bytes.
Result<std::string> SerializeNpy(const Tensor& tensor);
Status WriteNpyFile(const std::string& path, const Tensor& tensor);

}  // namespace edgeinfer

#endif  // EDGEINFER_CORE_NPY_H_

// Whole-file reading and writing, shared by every loader (models, .npy tensors, PEM files,
// profiles). Errors name the path. Thread safe (no shared state).
#ifndef EDGEINFER_CORE_FILE_IO_H_
#define EDGEINFER_CORE_FILE_IO_H_

#include <string>

#include "edgeinfer/status.h"

namespace edgeinfer {

// The bytes of the file at `path`, read into one buffer of the file's size. NOT_FOUND when it
// cannot be opened, INVALID_ARGUMENT for a directory, DATA_LOSS for a short read.
Result<std::string> ReadFileBytes(const std::string& path);

// Writes `bytes` to `path` atomically: to `path`.tmp, then renamed over `path`.
Status WriteFileBytes(const std::string& path, const std::string& bytes);

}  // namespace edgeinfer

#endif  // EDGEINFER_CORE_FILE_IO_H_

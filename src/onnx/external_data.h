// Moving ONNX weights between the model file and external data files.
//
// An offloading device uploads one self-contained model (the server never reads files a client
// names), so a model whose weights live in external files is inlined before upload and hashing.
#ifndef EDGEINFER_ONNX_EXTERNAL_DATA_H_
#define EDGEINFER_ONNX_EXTERNAL_DATA_H_

#include <cstddef>
#include <optional>
#include <string>

#include "edgeinfer/status.h"
#include "onnx/onnx_io.h"

namespace edgeinfer {

// Protobuf cannot serialize or parse one message of 2 GiB or more.
inline constexpr size_t kMaxSelfContainedOnnxBytes = (size_t{1} << 31) - 1;

// The serialized ModelProto `bytes` with every external-data tensor (initializers and Constant
// node values, in the main graph and in subgraphs) read from options.base_dir and stored as
// raw_data; std::nullopt when no tensor uses external data (the bytes are already
// self-contained). Errors: the importer's (corrupt bytes, a location outside base_dir, a missing
// file or short read) naming the tensor; ResourceExhausted when the inlined model would reach
// kMaxSelfContainedOnnxBytes, checked before any weight is read.
Result<std::optional<std::string>> InlineExternalData(const std::string& bytes,
                                                      const ImportOptions& options);

// Writes every initializer of at least `min_bytes` bytes (raw_data only) to `directory`/
// `file_name`, one after another at 4096-byte aligned offsets, and returns the model rewritten to
// point at them (location `file_name`, offset, length). `file_name` must be a plain file name.
// Used to produce models with external data (tests, tools).
Result<std::string> MoveWeightsToExternalData(const std::string& bytes,
                                              const std::string& directory,
                                              const std::string& file_name, size_t min_bytes);

}  // namespace edgeinfer

#endif  // EDGEINFER_ONNX_EXTERNAL_DATA_H_

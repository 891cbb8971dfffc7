// TritonConfig: the part of a Triton model configuration (config.pbtxt, protobuf text format)
// that the edge server honours, read with protobuf's TextFormat parser into the ConfigFile
// message of proto/model_config_file.proto.
//
// Honoured: name, max_batch_size, input and output entries (name, data_type, dims). Ignored
// silently: platform, backend, parameters. Any other field or extension (instance_group,
// dynamic_batching, an input's format or reshape, ...) is skipped with a warning, so a
// configuration written for Triton still loads here.
#ifndef EDGEINFER_SERVER_TRITON_CONFIG_H_
#define EDGEINFER_SERVER_TRITON_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"

namespace edgeinfer::server {

struct TritonTensorConfig {
  std::string name;
  DType dtype = DType::kUndefined;  // kUndefined: data_type absent
  bool has_dims = false;
  // Without the batch dimension when max_batch_size > 0 (Triton's convention); -1 is variable.
  std::vector<int64_t> dims;
};

struct TritonConfig {
  std::string name;  // "" when absent
  int64_t max_batch_size = 0;
  std::vector<TritonTensorConfig> inputs;
  std::vector<TritonTensorConfig> outputs;
  // One line per skipped unknown field ("config.pbtxt, line 7, column 3: Message type
  // \"inference.ModelConfig\" has no field named \"instance_group\". (ignored)").
  std::vector<std::string> warnings;
};

// Parses config.pbtxt text. `what` names the file in errors. InvalidArgument with the line and
// column for malformed text (an unterminated string or message, a missing value, nesting deeper
// than 32), a field of the wrong kind (dims that are not integers, an unknown TYPE_ name) and a
// field given twice that may appear once; InvalidArgument naming the entry for an input/output
// without a name, an unsupported data_type (TYPE_STRING, TYPE_BF16) or a negative
// max_batch_size.
Result<TritonConfig> ParseTritonConfig(const std::string& text, const std::string& what);

// Checks `config` against the model directory name and one loaded version's tensors. Errors
// (InvalidArgument) name the field: a name that is not the directory, an input or output the
// model lacks, a data_type or dims that disagree with the model, or max_batch_size > 0 on a model
// whose first dimension is not dynamic. Model dims of -1 accept any configured dim, and a
// configured -1 accepts any model dim.
Status CheckTritonConfig(const TritonConfig& config, const std::string& directory_name,
                         const std::vector<TensorInfo>& model_inputs,
                         const std::vector<TensorInfo>& model_outputs);

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_TRITON_CONFIG_H_

// KServe v2 JSON inference bodies, with Triton's binary tensor extension: the JSON header is
// followed by raw tensor bytes when the Inference-Header-Content-Length header says how long
// the JSON part is, and each binary tensor states "binary_data_size" in its parameters.
#ifndef EDGEINFER_SERVER_HTTP_CODEC_H_
#define EDGEINFER_SERVER_HTTP_CODEC_H_

#include <string>

#include "edgeinfer/status.h"
#include "server/inference.h"

namespace edgeinfer::server {

struct HttpInferRequest {
  InferCall call;
  std::string id;
  // Output names whose data goes back as binary (requested per output with "binary_data", or
  // for all outputs with the request parameter "binary_data_output").
  std::vector<std::string> binary_outputs;
  bool all_binary = false;
};

// Parses `body`; `json_length` is the Inference-Header-Content-Length value (-1 when absent:
// the whole body is JSON). Errors are InvalidArgument naming the tensor and what is wrong.
Result<HttpInferRequest> ParseHttpInfer(const std::string& body, int64_t json_length,
                                        size_t max_tensor_bytes);

struct HttpInferBody {
  std::string body;
  int64_t json_length = -1;  // set when binary data follows the JSON
};

// The response body for `reply` (model and id echoed).
Result<HttpInferBody> BuildHttpInfer(const std::string& model, const HttpInferRequest& request,
                                     const InferReply& reply);

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_HTTP_CODEC_H_

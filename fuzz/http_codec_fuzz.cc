// Fuzz target: the HTTP/REST inference body (JSON, and Triton's binary tensor extension).
// Input: 4 bytes little-endian Inference-Header-Content-Length (0xffffffff: absent, all JSON),
// then the body. Parsed requests are also encoded back as a reply, as the server does.
#include <cstring>
#include <string>

#include "fuzz_common.h"
#include "server/http_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeinfer;
  if (size < 4) return 0;
  uint32_t length = 0;
  std::memcpy(&length, data, 4);
  const std::string body(reinterpret_cast<const char*>(data) + 4, size - 4);
  const int64_t json_length = length == 0xffffffffu ? -1 : static_cast<int64_t>(length);
  Result<server::HttpInferRequest> parsed =
      server::ParseHttpInfer(body, json_length, fuzz::kMaxTensorBytes);
  if (!parsed.ok()) return 0;
  server::InferReply reply;
  reply.outputs = parsed->call.inputs;  // echo: exercises the reply encoder on parsed tensors
  (void)server::BuildHttpInfer("fuzz", *parsed, reply);
  return 0;
}

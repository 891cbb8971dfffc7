// Fuzz target: the transfer codec (lz4/zstd frames, fp16/int8 quantised tensors). Input: a
// serialized ModelInferRequest; each input's edgeinfer_* parameters, datatype and shape decode
// its raw_input_contents, as the server does for compressed or quantised inputs.
#include <string>

#include "fuzz_common.h"
#include "inference.pb.h"
#include "net/transfer_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (edgeinfer::fuzz::QuietProtobuf(), true);
  (void)quiet;
  using namespace edgeinfer;
  inference::ModelInferRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  for (int i = 0; i < request.inputs_size() && i < request.raw_input_contents_size(); ++i) {
    const auto& in = request.inputs(i);
    Result<net::TransferEncoding> encoding =
        net::ReadTransferParameters(in.name(), in.parameters());
    if (!encoding.ok()) continue;
    const Shape shape(in.shape().begin(), in.shape().end());
    (void)net::DecodeTransferTensor(in.name(), in.datatype(), shape, request.raw_input_contents(i),
                                    *encoding, fuzz::kMaxTensorBytes);
  }
  return 0;
}

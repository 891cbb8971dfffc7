// The names edgeinfer adds to the KServe v2 / Triton protocol (docs/protocol.md), shared by the
// device client (src/net) and the edge server (src/server) so that both sides spell each one
// in one place. Standard clients ignore every "edgeinfer_" parameter.
#ifndef EDGEINFER_NET_PROTOCOL_H_
#define EDGEINFER_NET_PROTOCOL_H_

namespace edgeinfer::net {

// Prefix of every edgeinfer parameter: a tensor or request parameter with it that the receiver
// does not know is an error, one without it belongs to the standard protocol.
inline constexpr char kParamPrefix[] = "edgeinfer_";

// Per input tensor of an inference request, how its bytes are encoded (net/transfer_codec.h).
// Their types and values are listed in net/transfer_codec.h.
inline constexpr char kCompressionParam[] = "edgeinfer_compression";    // "lz4" | "zstd"
inline constexpr char kQuantizationParam[] = "edgeinfer_quantization";  // "fp16" | "int8"
inline constexpr char kRawBytesParam[] = "edgeinfer_raw_bytes";         // bytes before encoding
inline constexpr char kScaleParam[] = "edgeinfer_scale";                // int8 dequantisation
inline constexpr char kZeroPointParam[] = "edgeinfer_zero_point";       // int8 dequantisation

// Row bands (docs/protocol.md, "Row bands"). Per input tensor: the first row it holds and the
// full tensor's height; per requested output: the rows wanted, [begin, end); per output of the
// reply: the first row it holds. All int64.
inline constexpr char kRowOffsetParam[] = "edgeinfer_row_offset";
inline constexpr char kFullHeightParam[] = "edgeinfer_full_height";
inline constexpr char kRowBeginParam[] = "edgeinfer_row_begin";
inline constexpr char kRowEndParam[] = "edgeinfer_row_end";

// Per inference reply: where the server's time went (integer microseconds), its load factor
// (measured compute / its unloaded profile) and the requests that were waiting when this one
// was submitted (itself excluded).
inline constexpr char kQueueUsParam[] = "edgeinfer_queue_us";
inline constexpr char kComputeUsParam[] = "edgeinfer_compute_us";
inline constexpr char kOtherUsParam[] = "edgeinfer_other_us";
inline constexpr char kLoadFactorParam[] = "edgeinfer_load_factor";
inline constexpr char kQueueLengthParam[] = "edgeinfer_queue_length";

// Collaborative mode (docs/protocol.md, "Collaborative mode"). Request parameters: run the
// request as a collaborative host (bool, or int64 non-zero) and its deadline in milliseconds
// from its arrival (int64). Reply parameters: the servers that computed part of it, the host
// included (int64), and whether it finished after its deadline (bool).
inline constexpr char kCollabParam[] = "edgeinfer_collab";
inline constexpr char kDeadlineMsParam[] = "edgeinfer_deadline_ms";
inline constexpr char kCollabServersParam[] = "edgeinfer_collab_servers";
inline constexpr char kDeadlineMissedParam[] = "edgeinfer_deadline_missed";

// ModelConfig parameter: the server's per-node profile of the model at load (JSON).
inline constexpr char kNodeProfileParam[] = "edgeinfer_node_profile";

// RepositoryModelLoad parameters (Triton's names): the model file, "file:<version>/model.onnx",
// and an optional "config", accepted and not interpreted.
inline constexpr char kModelFilePrefix[] = "file:";
inline constexpr char kModelFileSuffix[] = "/model.onnx";
inline constexpr char kModelFileParam[] = "file:1/model.onnx";  // what the client sends
inline constexpr char kModelConfigParam[] = "config";

// HTTP/REST binary tensor extension (Triton's name): the byte length of a tensor's data that
// follows the JSON header.
inline constexpr char kBinaryDataSizeParam[] = "binary_data_size";

}  // namespace edgeinfer::net

#endif  // EDGEINFER_NET_PROTOCOL_H_

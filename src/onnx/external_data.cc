#include "onnx/external_data.h"

#include <climits>
#include <filesystem>
#include <fstream>
#include <vector>

#include "onnx/onnx_tensor.h"

namespace edgeinfer {

namespace {

bool IsExternal(const onnx::TensorProto& t) {
  return t.data_location() == onnx::TensorProto::EXTERNAL;
}

void CollectExternal(onnx::GraphProto* graph, std::vector<onnx::TensorProto*>* out);

void CollectExternal(onnx::AttributeProto* a, std::vector<onnx::TensorProto*>* out) {
  if (a->has_t() && IsExternal(a->t())) out->push_back(a->mutable_t());
  for (auto& t : *a->mutable_tensors()) {
    if (IsExternal(t)) out->push_back(&t);
  }
  if (a->has_g()) CollectExternal(a->mutable_g(), out);
  for (auto& g : *a->mutable_graphs()) CollectExternal(&g, out);
}

void CollectExternal(onnx::GraphProto* graph, std::vector<onnx::TensorProto*>* out) {
  for (auto& t : *graph->mutable_initializer()) {
    if (IsExternal(t)) out->push_back(&t);
  }
  for (auto& node : *graph->mutable_node()) {
    for (auto& a : *node.mutable_attribute()) CollectExternal(&a, out);
  }
}

// Bytes the tensor will occupy once inlined, saturating at SIZE_MAX; 0 when its header is bad
// (decoding then reports the error with the tensor's name).
size_t InlinedBytes(const onnx::TensorProto& t) {
  Result<DType> dtype = DTypeFromOnnx(t.data_type(), t.name());
  if (!dtype.ok()) return 0;
  size_t n = DTypeSize(*dtype);
  for (int64_t d : t.dims()) {
    if (d < 0) return 0;
    if (d != 0 && n > SIZE_MAX / static_cast<size_t>(d)) return SIZE_MAX;
    n *= static_cast<size_t>(d);
  }
  return n;
}

Result<onnx::ModelProto> Parse(const std::string& bytes) {
  if (bytes.size() >= static_cast<size_t>(INT_MAX)) {
    return Status::ResourceExhausted("cannot parse ONNX model: " + std::to_string(bytes.size()) +
                                     " bytes exceeds the 2 GiB protobuf limit");
  }
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::DataLoss("cannot parse ONNX model: " + std::to_string(bytes.size()) +
                            " bytes are not a valid ModelProto (truncated or corrupt)");
  }
  return model;
}

Status TooLarge(size_t bytes) {
  return Status::ResourceExhausted(
      "the model with its external data inlined would be " + std::to_string(bytes) +
      " bytes, over the 2 GiB protobuf limit of one self-contained model; a model this large "
      "cannot be uploaded to an edge server (put it in the server's repository instead)");
}

}  // namespace

Result<std::optional<std::string>> InlineExternalData(const std::string& bytes,
                                                      const ImportOptions& options) {
  EI_ASSIGN_OR_RETURN(onnx::ModelProto model, Parse(bytes));
  std::vector<onnx::TensorProto*> external;
  if (model.has_graph()) CollectExternal(model.mutable_graph(), &external);
  if (external.empty()) return std::optional<std::string>();
  // Checked before reading anything, so an oversized model fails fast and without the memory.
  size_t total = bytes.size();
  for (const onnx::TensorProto* t : external) {
    const size_t n = InlinedBytes(*t);
    total = n > SIZE_MAX - total ? SIZE_MAX : total + n;
    if (total >= kMaxSelfContainedOnnxBytes) return TooLarge(total);
  }
  const TensorSource source{options.base_dir, options.max_tensor_bytes};
  for (onnx::TensorProto* t : external) {
    Result<Tensor> tensor = TensorFromOnnx(*t, source);
    if (!tensor.ok()) return tensor.status().WithContext("inlining external data");
    t->clear_external_data();
    t->set_data_location(onnx::TensorProto::DEFAULT);
    t->set_raw_data(tensor->raw_data(), tensor->nbytes());
  }
  const size_t size = model.ByteSizeLong();
  if (size >= kMaxSelfContainedOnnxBytes) return TooLarge(size);
  std::string out;
  if (!model.SerializeToString(&out)) {
    return Status::Internal("cannot serialize the ONNX model with its external data inlined");
  }
  return std::optional<std::string>(std::move(out));
}

Result<std::string> MoveWeightsToExternalData(const std::string& bytes,
                                              const std::string& directory,
                                              const std::string& file_name, size_t min_bytes) {
  if (file_name.empty() || file_name == "." || file_name == ".." ||
      file_name.find('/') != std::string::npos || file_name.find('\0') != std::string::npos) {
    return Status::InvalidArgument("external data file name '" + file_name +
                                   "' must be a plain file name");
  }
  EI_ASSIGN_OR_RETURN(onnx::ModelProto model, Parse(bytes));
  const std::filesystem::path path = std::filesystem::path(directory) / file_name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::NotFound("cannot create external data file '" + path.string() + "'");
  constexpr size_t kAlign = 4096;
  size_t offset = 0;
  for (auto& t : *model.mutable_graph()->mutable_initializer()) {
    if (IsExternal(t) || !t.has_raw_data() || t.raw_data().size() < min_bytes) continue;
    const size_t padding = (kAlign - offset % kAlign) % kAlign;
    out.write(std::string(padding, '\0').data(), static_cast<std::streamsize>(padding));
    offset += padding;
    const size_t length = t.raw_data().size();
    out.write(t.raw_data().data(), static_cast<std::streamsize>(length));
    auto add = [&](const std::string& key, const std::string& value) {
      auto* entry = t.add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    };
    add("location", file_name);
    add("offset", std::to_string(offset));
    add("length", std::to_string(length));
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    t.clear_raw_data();
    offset += length;
  }
  out.close();
  if (!out) return Status::DataLoss("cannot write external data file '" + path.string() + "'");
  std::string result;
  if (!model.SerializeToString(&result)) {
    return Status::Internal("cannot serialize the ONNX model after moving its weights out");
  }
  return result;
}

}  // namespace edgeinfer

#include "server/triton_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "model_config_file.pb.h"

namespace edgeinfer::server {

namespace {

// Deeper nesting than any real configuration: hostile input is refused, not recursed into.
constexpr int kMaxNesting = 32;

struct TypeName {
  const char* name;
  DType dtype;
};

constexpr TypeName kTypeNames[] = {
    {"TYPE_BOOL", DType::kBool},     {"TYPE_UINT8", DType::kUInt8},
    {"TYPE_UINT16", DType::kUInt16}, {"TYPE_UINT32", DType::kUInt32},
    {"TYPE_UINT64", DType::kUInt64}, {"TYPE_INT8", DType::kInt8},
    {"TYPE_INT16", DType::kInt16},   {"TYPE_INT32", DType::kInt32},
    {"TYPE_INT64", DType::kInt64},   {"TYPE_FP16", DType::kFloat16},
    {"TYPE_FP32", DType::kFloat32},  {"TYPE_FP64", DType::kFloat64},
};

std::string TritonTypeName(DType dtype) {
  for (const TypeName& t : kTypeNames) {
    if (t.dtype == dtype) return t.name;
  }
  return DTypeName(dtype);
}

std::string DimsString(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Separators between fields (',' and ';') are optional in the text format, but protobuf 3.21's
// parser rejects one after an unknown field it skips ("count: 1, kind: KIND_CPU" inside a skipped
// message). Blanking them between fields (outside strings and comments, not directly inside a
// [...] list, where commas are required) keeps the meaning and every character's line and
// column.
std::string BlankFieldSeparators(std::string text) {
  std::string open;  // the unclosed '[', '{' and '<' around the current character
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      for (++i; i < text.size() && text[i] != c && text[i] != '\n'; ++i) {
        if (text[i] == '\\') ++i;
      }
    } else if (c == '[' || c == '{' || c == '<') {
      open.push_back(c);
    } else if ((c == ']' || c == '}' || c == '>') && !open.empty()) {
      open.pop_back();
    } else if ((c == ',' || c == ';') && (open.empty() || open.back() != '[')) {
      text[i] = ' ';
    }
  }
  return text;
}

// Collects the text-format parser's messages as "WHAT, line L, column C: message" (1-based).
class Collector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(const std::string& what) : what_(what) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) error_ = Where(line, column) + ": " + message;
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    // Inside a Skipped field every field is unknown by design: one warning names the field.
    if (message.find("edgeinfer.config.Skipped") != std::string::npos) return;
    AddWarningAt(line, column, message);
  }
  void AddWarningAt(int line, int column, const std::string& message) {
    warnings_.push_back({line, column, Where(line, column) + ": " + message + " (ignored)"});
  }
  const std::string& error() const { return error_; }
  // The warnings in the order of their place in the text.
  std::vector<std::string> TakeWarnings() {
    std::stable_sort(warnings_.begin(), warnings_.end(), [](const Warning& a, const Warning& b) {
      return std::make_pair(a.line, a.column) < std::make_pair(b.line, b.column);
    });
    std::vector<std::string> out;
    for (Warning& w : warnings_) out.push_back(std::move(w.text));
    return out;
  }

 private:
  std::string Where(int line, int column) const {
    return what_ + ", line " + std::to_string(line + 1) + ", column " + std::to_string(column + 1);
  }
  const std::string what_;
  std::string error_;  // the first error; the parser stops there
  struct Warning {
    int line;
    int column;
    std::string text;
  };
  std::vector<Warning> warnings_;
};

// The tensor entries of a parsed configuration (ModelInput and ModelOutput have the same
// honoured fields). data_type TYPE_INVALID (absent) stays kUndefined; empty dims are "absent".
template <typename Entry>
Status Convert(const google::protobuf::RepeatedPtrField<Entry>& entries, const char* kind,
               const std::string& what, std::vector<TritonTensorConfig>* out) {
  for (const Entry& e : entries) {
    TritonTensorConfig t;
    t.name = e.name();
    if (t.name.empty()) {
      return Status::InvalidArgument(what + ": " + kind + " entry has no name");
    }
    if (e.data_type() != inference::TYPE_INVALID) {
      const std::string type = inference::DataType_Name(e.data_type());
      for (const TypeName& known : kTypeNames) {
        if (type == known.name) t.dtype = known.dtype;
      }
      if (t.dtype == DType::kUndefined) {
        return Status::InvalidArgument(what + ": " + kind + " '" + t.name + "': data_type " + type +
                                       " is not supported");
      }
    }
    t.dims.assign(e.dims().begin(), e.dims().end());
    t.has_dims = !t.dims.empty();
    out->push_back(std::move(t));
  }
  return Status::Ok();
}

// With batching every input's first dimension is the batch; Triton requires it dynamic.
Status CheckBatchDimension(const TritonConfig& config, const std::string& label,
                           const Shape& model_dims) {
  if (config.max_batch_size <= 0 || (!model_dims.empty() && model_dims[0] < 0)) {
    return Status::Ok();
  }
  return Status::InvalidArgument(
      label + ": max_batch_size " + std::to_string(config.max_batch_size) +
      " needs the model's first dimension to be dynamic (-1), but the model has dims " +
      DimsString(model_dims) + " (use max_batch_size: 0 for a fixed batch)");
}

Status CheckTensors(const TritonConfig& config, const char* kind,
                    const std::vector<TritonTensorConfig>& configured,
                    const std::vector<TensorInfo>& model) {
  for (const TritonTensorConfig& c : configured) {
    const TensorInfo* found = nullptr;
    for (const TensorInfo& m : model) {
      if (m.name == c.name) found = &m;
    }
    const std::string label = std::string(kind) + " '" + c.name + "'";
    if (found == nullptr) {
      std::string names;
      for (const TensorInfo& m : model) names += (names.empty() ? "" : ", ") + m.name;
      return Status::InvalidArgument(label + " is not an " + kind + " of the model (its " + kind +
                                     "s: " + names + ")");
    }
    if (c.dtype != DType::kUndefined && found->dtype != DType::kUndefined &&
        c.dtype != found->dtype) {
      return Status::InvalidArgument(label + ": data_type " + TritonTypeName(c.dtype) +
                                     " does not match the model's " + TritonTypeName(found->dtype));
    }
    std::vector<int64_t> model_dims = found->shape;
    EI_RETURN_IF_ERROR(CheckBatchDimension(config, label, model_dims));
    if (config.max_batch_size > 0) model_dims.erase(model_dims.begin());
    if (!c.has_dims) continue;
    bool match = model_dims.size() == c.dims.size();
    for (size_t i = 0; match && i < c.dims.size(); ++i) {
      match = c.dims[i] < 0 || model_dims[i] < 0 || c.dims[i] == model_dims[i];
    }
    if (!match) {
      return Status::InvalidArgument(label + ": dims " + DimsString(c.dims) +
                                     " do not match the model's " + DimsString(model_dims) +
                                     (config.max_batch_size > 0
                                          ? " (without the batch dimension, as max_batch_size > 0)"
                                          : ""));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<TritonConfig> ParseTritonConfig(const std::string& text, const std::string& what) {
  config::ConfigFile proto;
  Collector collector(what);
  google::protobuf::TextFormat::Parser parser;
  // A configuration written for Triton loads here: fields this server does not honour
  // (instance_group, dynamic_batching, an input's format, extensions) are skipped with a warning.
  parser.AllowUnknownField(true);
  parser.AllowUnknownExtension(true);
  parser.SetRecursionLimit(kMaxNesting);
  parser.RecordErrorsTo(&collector);
  google::protobuf::TextFormat::ParseInfoTree locations;
  parser.WriteLocationsTo(&locations);
  if (!parser.ParseFromString(BlankFieldSeparators(text), &proto)) {
    return Status::InvalidArgument(collector.error().empty() ? what + ": malformed text"
                                                             : collector.error());
  }
  TritonConfig config;
  config.name = proto.name();
  if (proto.max_batch_size() < 0 || proto.max_batch_size() > INT32_MAX) {
    return Status::InvalidArgument(what + ": field 'max_batch_size' must be an integer from 0 to " +
                                   std::to_string(INT32_MAX) + ", got " +
                                   std::to_string(proto.max_batch_size()));
  }
  config.max_batch_size = proto.max_batch_size();
  EI_RETURN_IF_ERROR(Convert(proto.input(), "input", what, &config.inputs));
  EI_RETURN_IF_ERROR(Convert(proto.output(), "output", what, &config.outputs));
  // Triton's fields declared only to be skipped (proto/model_config_file.proto): one warning
  // each, where it first appears.
  const google::protobuf::Descriptor* descriptor = proto.GetDescriptor();
  const google::protobuf::Reflection* reflection = proto.GetReflection();
  for (const char* field : {"instance_group", "batch_input", "batch_output", "model_warmup",
                            "ensemble_scheduling", "sequence_batching"}) {
    const google::protobuf::FieldDescriptor* f = descriptor->FindFieldByName(field);
    const bool present =
        f->is_repeated() ? reflection->FieldSize(proto, f) > 0 : reflection->HasField(proto, f);
    if (!present) continue;
    const auto at = locations.GetLocation(f, f->is_repeated() ? 0 : -1);
    collector.AddWarningAt(at.line, at.column,
                           std::string("field '") + field + "' is not honoured by this server");
  }
  config.warnings = collector.TakeWarnings();
  return config;
}

Status CheckTritonConfig(const TritonConfig& config, const std::string& directory_name,
                         const std::vector<TensorInfo>& model_inputs,
                         const std::vector<TensorInfo>& model_outputs) {
  if (!config.name.empty() && config.name != directory_name) {
    return Status::InvalidArgument("name '" + config.name +
                                   "' does not match the model directory '" + directory_name + "'");
  }
  for (const TensorInfo& input : model_inputs) {
    EI_RETURN_IF_ERROR(CheckBatchDimension(config, "input '" + input.name + "'", input.shape));
  }
  EI_RETURN_IF_ERROR(CheckTensors(config, "input", config.inputs, model_inputs));
  return CheckTensors(config, "output", config.outputs, model_outputs);
}

}  // namespace edgeinfer::server

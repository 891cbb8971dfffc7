#include "server/triton_config.h"

#include <cctype>
#include <charconv>
#include <climits>

namespace edgeinfer::server {

namespace {

constexpr int kMaxDepth = 32;

// Protobuf text format, generically: every field is a scalar (its token text, strings
// unescaped) or a message of fields. List syntax ("dims: [3, 8]") becomes repeated fields.
struct TextField {
  std::string name;
  int line = 0;
  bool is_message = false;
  bool is_string = false;  // the scalar was a quoted string
  std::string scalar;
  std::vector<TextField> fields;
};

enum class TokenKind { kEnd, kIdent, kNumber, kString, kPunct };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // strings: unescaped contents; punctuation: the character
  int line = 1;
};

class TextParser {
 public:
  TextParser(const std::string& text, const std::string& what) : text_(text), what_(what) {}

  Result<std::vector<TextField>> Run() {
    EI_RETURN_IF_ERROR(Advance());
    return ParseFields(0, '\0');
  }

 private:
  Status Error(int line, const std::string& message) const {
    return Status::InvalidArgument(what_ + ", line " + std::to_string(line) + ": " + message);
  }

  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::kEnd:
        return "the end of the file";
      case TokenKind::kString:
        return "a string";
      default:
        return "'" + t.text + "'";
    }
  }

  void SkipSpaceAndComments() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        return;
      }
    }
  }

  Status LexString(char quote) {
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') {
        return Error(tok_.line, "unterminated string");
      }
      char c = text_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) return Error(tok_.line, "unterminated string");
      c = text_[pos_++];
      switch (c) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '\\':
        case '\'':
        case '"':
          out += c;
          break;
        default:
          // Octal, hex and unicode escapes cannot occur in the names this parser reads.
          out += '\\';
          out += c;
      }
    }
    tok_.kind = TokenKind::kString;
    tok_.text = std::move(out);
    return Status::Ok();
  }

  Status Advance() {
    SkipSpaceAndComments();
    tok_ = Token();
    tok_.line = line_;
    if (pos_ >= text_.size()) return Status::Ok();
    const char c = text_[pos_];
    if (c == '"' || c == '\'') return LexString(c);
    auto word = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; };
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const size_t start = pos_;
      while (pos_ < text_.size() && (word(text_[pos_]) || text_[pos_] == '.')) ++pos_;
      tok_.kind = TokenKind::kIdent;
      tok_.text = text_.substr(start, pos_ - start);
      return Status::Ok();
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
      const size_t start = pos_++;
      while (pos_ < text_.size()) {
        const char d = text_[pos_];
        const char prev = text_[pos_ - 1];
        const bool exponent_sign = (d == '-' || d == '+') && (prev == 'e' || prev == 'E') &&
                                   text_.compare(start, 2, "0x") != 0;
        if (!word(d) && d != '.' && !exponent_sign) break;
        ++pos_;
      }
      tok_.kind = TokenKind::kNumber;
      tok_.text = text_.substr(start, pos_ - start);
      return Status::Ok();
    }
    if (std::string(":{}[]<>,;").find(c) != std::string::npos) {
      ++pos_;
      tok_.kind = TokenKind::kPunct;
      tok_.text = std::string(1, c);
      return Status::Ok();
    }
    return Error(line_, "unexpected character '" + std::string(1, c) + "'");
  }

  bool IsPunct(char c) const { return tok_.kind == TokenKind::kPunct && tok_.text[0] == c; }

  // Fields up to `close` ('}' or '>'), or to the end of the text when close is '\0'.
  Result<std::vector<TextField>> ParseFields(int depth, char close) {
    if (depth > kMaxDepth) return Error(tok_.line, "messages nested deeper than 32 levels");
    std::vector<TextField> fields;
    while (true) {
      if (close == '\0' && tok_.kind == TokenKind::kEnd) return fields;
      if (close != '\0' && IsPunct(close)) {
        EI_RETURN_IF_ERROR(Advance());
        return fields;
      }
      if (tok_.kind == TokenKind::kEnd) {
        return Error(tok_.line, "unterminated message (expected '" + std::string(1, close) + "')");
      }
      TextField field;
      field.line = tok_.line;
      if (IsPunct('[')) {
        // An extension or Any type name: "[type.googleapis.com/...]".
        EI_RETURN_IF_ERROR(Advance());
        while (!IsPunct(']')) {
          if (tok_.kind == TokenKind::kEnd) return Error(field.line, "unterminated '['");
          field.name += tok_.text;
          EI_RETURN_IF_ERROR(Advance());
        }
        field.name = "[" + field.name + "]";
      } else if (tok_.kind == TokenKind::kIdent) {
        field.name = tok_.text;
      } else {
        return Error(tok_.line, "expected a field name, found " + Describe(tok_));
      }
      EI_RETURN_IF_ERROR(Advance());
      const bool colon = IsPunct(':');
      if (colon) EI_RETURN_IF_ERROR(Advance());
      if (IsPunct('[')) {
        // "input [ {...} ]" is usual without the ':' (allowed before a list of messages).
        EI_RETURN_IF_ERROR(ParseList(depth, field, &fields));
      } else if (IsPunct('{') || IsPunct('<')) {
        EI_RETURN_IF_ERROR(ParseMessageValue(depth, &field));
        fields.push_back(std::move(field));
      } else if (!colon) {
        return Error(field.line, "expected ':' or '{' after field '" + field.name + "', found " +
                                     Describe(tok_));
      } else {
        EI_RETURN_IF_ERROR(ParseScalar(&field));
        fields.push_back(std::move(field));
      }
      if (IsPunct(',') || IsPunct(';')) EI_RETURN_IF_ERROR(Advance());
    }
  }

  Status ParseMessageValue(int depth, TextField* field) {
    const char close = IsPunct('{') ? '}' : '>';
    EI_RETURN_IF_ERROR(Advance());
    field->is_message = true;
    EI_ASSIGN_OR_RETURN(field->fields, ParseFields(depth + 1, close));
    return Status::Ok();
  }

  Status ParseScalar(TextField* field) {
    if (tok_.kind == TokenKind::kString) {
      field->is_string = true;
      // Adjacent strings concatenate, as in C.
      while (tok_.kind == TokenKind::kString) {
        field->scalar += tok_.text;
        EI_RETURN_IF_ERROR(Advance());
      }
      return Status::Ok();
    }
    if (tok_.kind != TokenKind::kIdent && tok_.kind != TokenKind::kNumber) {
      return Error(tok_.line,
                   "expected a value for field '" + field->name + "', found " + Describe(tok_));
    }
    field->scalar = tok_.text;
    return Advance();
  }

  // "name: [v, v, ...]": each element becomes one field named `name`.
  Status ParseList(int depth, const TextField& head, std::vector<TextField>* out) {
    EI_RETURN_IF_ERROR(Advance());
    if (IsPunct(']')) return Advance();
    while (true) {
      TextField element;
      element.name = head.name;
      element.line = tok_.line;
      if (IsPunct('{') || IsPunct('<')) {
        EI_RETURN_IF_ERROR(ParseMessageValue(depth, &element));
      } else {
        EI_RETURN_IF_ERROR(ParseScalar(&element));
      }
      out->push_back(std::move(element));
      if (IsPunct(']')) return Advance();
      if (!IsPunct(',')) {
        return Error(tok_.line, "expected ',' or ']' in the list of field '" + head.name +
                                    "', found " + Describe(tok_));
      }
      EI_RETURN_IF_ERROR(Advance());
    }
  }

  const std::string& text_;
  const std::string what_;
  size_t pos_ = 0;
  int line_ = 1;
  Token tok_;
};

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

class Interpreter {
 public:
  explicit Interpreter(const std::string& what) : what_(what) {}

  Result<TritonConfig> Run(const std::vector<TextField>& fields) {
    TritonConfig config;
    bool seen_name = false, seen_batch = false;
    for (const TextField& f : fields) {
      if (f.name == "name") {
        EI_RETURN_IF_ERROR(Once(f, &seen_name));
        EI_ASSIGN_OR_RETURN(config.name, String(f));
      } else if (f.name == "max_batch_size") {
        EI_RETURN_IF_ERROR(Once(f, &seen_batch));
        EI_ASSIGN_OR_RETURN(config.max_batch_size, Integer(f, 0, INT32_MAX));
      } else if (f.name == "input" || f.name == "output") {
        EI_ASSIGN_OR_RETURN(TritonTensorConfig t, ParseTensor(f, &config.warnings));
        (f.name == "input" ? config.inputs : config.outputs).push_back(std::move(t));
      } else if (f.name == "platform" || f.name == "backend" || f.name == "parameters") {
        // Every model here is ONNX on the edgeinfer engine; parameters tune Triton backends.
      } else {
        config.warnings.push_back(Where(f) + ": unknown field '" + f.name + "' ignored");
      }
    }
    return config;
  }

 private:
  std::string Where(const TextField& f) const { return what_ + ", line " + std::to_string(f.line); }

  Status Wrong(const TextField& f, const std::string& expected) const {
    return Status::InvalidArgument(Where(f) + ": field '" + f.name + "' must be " + expected);
  }

  Status Once(const TextField& f, bool* seen) const {
    if (*seen) return Status::InvalidArgument(Where(f) + ": field '" + f.name + "' given twice");
    *seen = true;
    return Status::Ok();
  }

  Result<std::string> String(const TextField& f) const {
    if (f.is_message || !f.is_string) return Wrong(f, "a quoted string");
    return f.scalar;
  }

  Result<int64_t> Integer(const TextField& f, int64_t lo, int64_t hi) const {
    int64_t v = 0;
    const char* begin = f.scalar.data();
    const char* end = begin + f.scalar.size();
    if (!f.is_message && !f.is_string && !f.scalar.empty() && *begin == '+') ++begin;
    auto [ptr, ec] = std::from_chars(begin, end, v);
    if (f.is_message || f.is_string || f.scalar.empty() || ec != std::errc() || ptr != end ||
        v < lo || v > hi) {
      return Wrong(f, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                          (f.is_message ? "" : ", got '" + f.scalar + "'"));
    }
    return v;
  }

  Result<TritonTensorConfig> ParseTensor(const TextField& f,
                                         std::vector<std::string>* warnings) const {
    if (!f.is_message) return Wrong(f, "a message { name: ... }");
    TritonTensorConfig t;
    bool seen_name = false, seen_type = false;
    for (const TextField& g : f.fields) {
      if (g.name == "name") {
        EI_RETURN_IF_ERROR(Once(g, &seen_name));
        EI_ASSIGN_OR_RETURN(t.name, String(g));
      } else if (g.name == "data_type") {
        EI_RETURN_IF_ERROR(Once(g, &seen_type));
        if (g.is_message || g.is_string) return Wrong(g, "a type such as TYPE_FP32");
        bool known = false;
        for (const TypeName& n : kTypeNames) {
          if (g.scalar == n.name) {
            t.dtype = n.dtype;
            known = true;
          }
        }
        if (!known) {
          return Status::InvalidArgument(Where(g) + ": data_type " + g.scalar +
                                         " is not supported (TYPE_BOOL, TYPE_UINT8..TYPE_UINT64, "
                                         "TYPE_INT8..TYPE_INT64, TYPE_FP16, TYPE_FP32, TYPE_FP64)");
        }
      } else if (g.name == "dims") {
        t.has_dims = true;
        EI_ASSIGN_OR_RETURN(int64_t d, Integer(g, -1, INT64_MAX));
        t.dims.push_back(d);
      } else {
        warnings->push_back(Where(g) + ": unknown field '" + g.name + "' of " + f.name +
                            " ignored");
      }
    }
    if (!seen_name) {
      return Status::InvalidArgument(Where(f) + ": " + f.name + " entry has no name");
    }
    return t;
  }

  const std::string what_;
};

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
  EI_ASSIGN_OR_RETURN(std::vector<TextField> fields, TextParser(text, what).Run());
  return Interpreter(what).Run(fields);
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

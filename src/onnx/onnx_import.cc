// ONNX ModelProto -> Graph.
#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "onnx/onnx_io.h"
#include "onnx/onnx_tensor.h"
#include "ops/op_registry.h"

namespace edgeinfer {
namespace {

constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 17;

bool IsDefaultDomain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

std::string AttrTypeName(onnx::AttributeProto::AttributeType type) {
  return onnx::AttributeProto::AttributeType_IsValid(type)
             ? onnx::AttributeProto::AttributeType_Name(type)
             : "code " + std::to_string(static_cast<int>(type));
}

// Old models may leave AttributeProto.type unset; the populated field tells the type then.
onnx::AttributeProto::AttributeType EffectiveType(const onnx::AttributeProto& a) {
  if (a.type() != onnx::AttributeProto::UNDEFINED) return a.type();
  if (a.ints_size() > 0) return onnx::AttributeProto::INTS;
  if (a.floats_size() > 0) return onnx::AttributeProto::FLOATS;
  if (a.strings_size() > 0) return onnx::AttributeProto::STRINGS;
  if (a.tensors_size() > 0) return onnx::AttributeProto::TENSORS;
  if (a.graphs_size() > 0) return onnx::AttributeProto::GRAPHS;
  if (a.has_t()) return onnx::AttributeProto::TENSOR;
  if (a.has_g()) return onnx::AttributeProto::GRAPH;
  if (a.has_sparse_tensor()) return onnx::AttributeProto::SPARSE_TENSOR;
  if (a.has_i()) return onnx::AttributeProto::INT;
  if (a.has_f()) return onnx::AttributeProto::FLOAT;
  if (a.has_s()) return onnx::AttributeProto::STRING;
  return onnx::AttributeProto::UNDEFINED;
}

Result<AttrValue> ConvertAttribute(const onnx::AttributeProto& a, const std::string& node_label,
                                   const TensorSource& source) {
  const auto type = EffectiveType(a);
  switch (type) {
    case onnx::AttributeProto::INT:
      return AttrValue(static_cast<int64_t>(a.i()));
    case onnx::AttributeProto::FLOAT:
      return AttrValue(a.f());
    case onnx::AttributeProto::STRING:
      return AttrValue(a.s());
    case onnx::AttributeProto::INTS:
      return AttrValue(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case onnx::AttributeProto::FLOATS:
      return AttrValue(std::vector<float>(a.floats().begin(), a.floats().end()));
    case onnx::AttributeProto::STRINGS:
      return AttrValue(std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case onnx::AttributeProto::TENSOR: {
      Result<Tensor> t = TensorFromOnnx(a.t(), source);
      if (!t.ok()) return t.status().WithContext(node_label + " attribute '" + a.name() + "'");
      return AttrValue(std::move(t).value());
    }
    default:
      return Status::Unimplemented(node_label + " attribute '" + a.name() + "' has type " +
                                   AttrTypeName(type) + ", which is not supported");
  }
}

// A Constant node's value as a tensor (the node itself becomes an initializer).
Result<Tensor> ConstantValue(const Attributes& attrs, const std::string& node_label) {
  if (const Tensor* t = attrs.GetTensor("value")) return *t;
  const auto& map = attrs.map();
  if (auto it = map.find("value_float"); it != map.end()) {
    if (auto* f = std::get_if<float>(&it->second)) return Tensor::Scalar<float>(*f);
  }
  if (auto it = map.find("value_int"); it != map.end()) {
    if (auto* i = std::get_if<int64_t>(&it->second)) return Tensor::Scalar<int64_t>(*i);
  }
  if (auto it = map.find("value_floats"); it != map.end()) {
    if (auto* v = std::get_if<std::vector<float>>(&it->second)) {
      return Tensor::FromVector<float>(*v, {static_cast<int64_t>(v->size())});
    }
  }
  if (auto it = map.find("value_ints"); it != map.end()) {
    if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) {
      return Tensor::FromVector<int64_t>(*v, {static_cast<int64_t>(v->size())});
    }
  }
  return Status::Unimplemented(node_label +
                               " has no value, value_float(s) or value_int(s) attribute; string "
                               "and sparse constants are not supported");
}

// Reads a type_proto's tensor type. Returns false (leaving outputs alone) when it is not a tensor
// type with a supported element type.
bool ReadTensorType(const onnx::TypeProto& type, DType* dtype, Shape* shape, bool* rank_known) {
  if (!type.has_tensor_type()) return false;
  const auto& tt = type.tensor_type();
  Result<DType> d = DTypeFromOnnx(tt.elem_type(), "");
  if (!d.ok()) return false;
  *dtype = *d;
  shape->clear();
  *rank_known = tt.has_shape();
  if (tt.has_shape()) {
    for (const auto& dim : tt.shape().dim()) {
      shape->push_back(dim.has_dim_value() && dim.dim_value() >= 0 ? dim.dim_value() : -1);
    }
  }
  return true;
}

class Importer {
 public:
  // Consumes the initializers' bytes of `model` (moved into the graph's constants).
  Importer(onnx::ModelProto& model, const ImportOptions& options)
      : model_(model),
        source_{options.base_dir, options.max_tensor_bytes},
        max_nodes_(options.max_nodes) {}

  Result<Graph> Run() {
    if (!model_.has_graph()) return Status::InvalidArgument("ONNX model has no graph");
    if (max_nodes_ > 0 && static_cast<size_t>(model_.graph().node_size()) > max_nodes_) {
      return Status::ResourceExhausted("ONNX model has " +
                                       std::to_string(model_.graph().node_size()) +
                                       " nodes, over the limit of " + std::to_string(max_nodes_));
    }
    EI_RETURN_IF_ERROR(ReadOpset());
    const onnx::GraphProto& gp = model_.graph();
    graph_.name = gp.name();
    graph_.opset = opset_;
    if (gp.sparse_initializer_size() > 0) {
      return Status::Unimplemented("sparse initializer '" +
                                   gp.sparse_initializer(0).values().name() + "' is not supported");
    }
    for (int i = 0; i < gp.initializer_size(); ++i) {
      EI_RETURN_IF_ERROR(AddInitializer(model_.mutable_graph()->mutable_initializer(i)));
    }
    for (const auto& input : gp.input()) EI_RETURN_IF_ERROR(AddGraphInput(input));
    for (int i = 0; i < gp.node_size(); ++i) EI_RETURN_IF_ERROR(AddNode(gp.node(i), i));
    for (const auto& info : gp.value_info()) DeclareType(info);
    for (const auto& output : gp.output()) {
      if (output.name().empty()) return Status::InvalidArgument("a graph output has no name");
      ValueId id = GetOrCreate(output.name());
      DeclareType(output);
      graph_.AddOutput(id);
    }
    EI_RETURN_IF_ERROR(graph_.Verify());
    return std::move(graph_);
  }

 private:
  Status ReadOpset() {
    bool found = false;
    for (const auto& entry : model_.opset_import()) {
      if (!IsDefaultDomain(entry.domain())) continue;
      found = true;
      opset_ = entry.version();
    }
    if (!found) {
      return Status::InvalidArgument("ONNX model imports no default-domain (ai.onnx) opset");
    }
    if (opset_ < kMinOpset || opset_ > kMaxOpset) {
      return Status::Unimplemented("ONNX opset " + std::to_string(opset_) +
                                   " is not supported (supported: " + std::to_string(kMinOpset) +
                                   " to " + std::to_string(kMaxOpset) + ")");
    }
    return Status::Ok();
  }

  // Values may be referenced before the node producing them (unsorted node lists); they start
  // with unknown dtype and rank and are checked by Verify at the end.
  ValueId GetOrCreate(const std::string& name) {
    ValueId id = graph_.FindValue(name);
    if (id != kNoValue) return id;
    id = graph_.AddValue(name, DType::kUndefined, {});
    graph_.mutable_value(id).rank_known = false;
    return id;
  }

  Status AddInitializer(onnx::TensorProto* init_proto) {
    const onnx::TensorProto& init = *init_proto;
    if (init.name().empty()) return Status::InvalidArgument("an initializer has no name");
    if (graph_.FindValue(init.name()) != kNoValue) {
      return Status::InvalidArgument("initializer '" + init.name() + "' is defined more than once");
    }
    EI_ASSIGN_OR_RETURN(Tensor t, TensorFromOnnxConsuming(init_proto, source_));
    graph_.AddConstant(init.name(), std::move(t));
    return Status::Ok();
  }

  Status AddGraphInput(const onnx::ValueInfoProto& input) {
    const std::string& name = input.name();
    if (name.empty()) return Status::InvalidArgument("a graph input has no name");
    ValueId existing = graph_.FindValue(name);
    if (existing != kNoValue) {
      if (graph_.value(existing).is_constant() && !graph_inputs_.count(name)) {
        return Status::Ok();  // an initializer listed as input (IR < 4 style): a constant
      }
      return Status::InvalidArgument("graph input '" + name + "' is listed more than once");
    }
    graph_inputs_.insert(name);
    DType dtype = DType::kUndefined;
    Shape shape;
    bool rank_known = false;
    if (!ReadTensorType(input.type(), &dtype, &shape, &rank_known)) {
      const int32_t elem =
          input.type().has_tensor_type() ? input.type().tensor_type().elem_type() : -1;
      if (elem < 0) {
        return Status::Unimplemented("graph input '" + name + "' is not a tensor");
      }
      return DTypeFromOnnx(elem, "graph input '" + name + "'").status();
    }
    ValueId id = graph_.AddInput(name, dtype, shape);
    graph_.mutable_value(id).rank_known = rank_known;
    return Status::Ok();
  }

  // Records a declared dtype/shape on a computed value; shape inference merges and checks it.
  void DeclareType(const onnx::ValueInfoProto& info) {
    ValueId id = graph_.FindValue(info.name());
    if (id == kNoValue || graph_inputs_.count(info.name())) return;
    Value& v = graph_.mutable_value(id);
    if (v.is_constant()) return;
    DType dtype;
    Shape shape;
    bool rank_known;
    if (!ReadTensorType(info.type(), &dtype, &shape, &rank_known)) return;
    v.dtype = dtype;
    if (rank_known) {
      v.shape = std::move(shape);
      v.rank_known = true;
    }
  }

  Status AddNode(const onnx::NodeProto& np, int index) {
    const std::string name =
        np.name().empty() ? np.op_type() + "_" + std::to_string(index) : np.name();
    const std::string where = "(node '" + name + "', opset " + std::to_string(opset_) + ")";
    if (!IsDefaultDomain(np.domain())) {
      return Status::Unimplemented("unsupported op '" + np.op_type() + "' in domain '" +
                                   np.domain() + "' " + where);
    }
    OpKind kind;
    const OpSchema* schema = nullptr;
    if (!OpKindFromName(np.op_type(), &kind) ||
        (kind != OpKind::kConstant && (schema = FindSchema(kind)) == nullptr)) {
      return Status::Unimplemented("unsupported op '" + np.op_type() + "' " + where);
    }
    const std::string label = np.op_type() + " node '" + name + "'";

    Attributes attrs;
    for (const auto& a : np.attribute()) {
      if (attrs.Has(a.name())) {
        return Status::InvalidArgument(label + " has attribute '" + a.name() + "' twice");
      }
      EI_ASSIGN_OR_RETURN(AttrValue value, ConvertAttribute(a, label, source_));
      attrs.Set(a.name(), std::move(value));
    }

    int output_count = np.output_size();
    while (output_count > 0 && np.output(output_count - 1).empty()) --output_count;

    if (kind == OpKind::kConstant) {
      if (output_count != 1 || np.input_size() != 0) {
        return Status::InvalidArgument(label + " must have no inputs and one output");
      }
      EI_ASSIGN_OR_RETURN(Tensor t, ConstantValue(attrs, label));
      ValueId id = GetOrCreate(np.output(0));
      Value& v = graph_.mutable_value(id);
      if (v.is_constant() || graph_inputs_.count(v.name)) {
        return Status::InvalidArgument("tensor '" + v.name + "' is defined more than once");
      }
      v.dtype = t.dtype();
      v.shape = t.shape();
      v.rank_known = true;
      v.constant = std::move(t);
      return Status::Ok();
    }

    int input_count = np.input_size();
    while (input_count > 0 && np.input(input_count - 1).empty()) --input_count;
    if (input_count < schema->min_inputs || input_count > schema->max_inputs) {
      return Status::InvalidArgument(
          label + " has " + std::to_string(input_count) + " inputs, expects " +
          (schema->min_inputs == schema->max_inputs
               ? std::to_string(schema->min_inputs)
               : std::to_string(schema->min_inputs) + " to " + std::to_string(schema->max_inputs)));
    }
    std::vector<ValueId> inputs;
    for (int i = 0; i < input_count; ++i) {
      if (np.input(i).empty()) {
        if (i < schema->min_inputs) {
          return Status::InvalidArgument(label + " omits required input " + std::to_string(i));
        }
        inputs.push_back(kNoValue);
      } else {
        inputs.push_back(GetOrCreate(np.input(i)));
      }
    }
    std::vector<ValueId> outputs;
    for (int i = 0; i < output_count; ++i) {
      outputs.push_back(np.output(i).empty() ? kNoValue : GetOrCreate(np.output(i)));
    }
    graph_.AddNode(kind, name, std::move(inputs), std::move(outputs), std::move(attrs));
    return Status::Ok();
  }

  onnx::ModelProto& model_;
  TensorSource source_;
  const size_t max_nodes_;
  int64_t opset_ = 0;
  Graph graph_;
  std::unordered_set<std::string> graph_inputs_;
};

}  // namespace

Result<Graph> ImportOnnx(const std::string& bytes, const ImportOptions& options) {
  if (bytes.empty()) return Status::DataLoss("cannot parse ONNX model: the input is empty");
  // Protobuf cannot parse messages of 2 GiB or more; larger weights belong in external data.
  if (bytes.size() >= static_cast<size_t>(INT_MAX)) {
    return Status::ResourceExhausted("cannot parse ONNX model: " + std::to_string(bytes.size()) +
                                     " bytes exceeds the 2 GiB protobuf limit");
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::DataLoss("cannot parse ONNX model: " + std::to_string(bytes.size()) +
                            " bytes are not a valid ModelProto (truncated or corrupt)");
  }
  return Importer(model, options).Run();
}

Result<Graph> ImportOnnxFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("'" + path + "' is a directory, not a file");
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::NotFound("cannot read ONNX model '" + path + "': " + ec.message());
  if (size >= static_cast<uintmax_t>(INT_MAX)) {
    return Status::ResourceExhausted("ONNX model '" + path + "' has " + std::to_string(size) +
                                     " bytes, beyond the 2 GiB protobuf limit");
  }
  if (size == 0) return Status::DataLoss("cannot parse ONNX model '" + path + "': it is empty");
  // Parsed straight from the file through a small buffer: the weights are held once (in the
  // ModelProto, then moved into the graph), not also as a copy of the whole file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::NotFound("cannot open ONNX model '" + path + "': " + std::strerror(errno));
  }
  onnx::ModelProto model;
  bool parsed = false;
  int read_errno = 0;
  {
    google::protobuf::io::FileInputStream stream(fd, 1 << 20);
    parsed = model.ParseFromZeroCopyStream(&stream);
    read_errno = stream.GetErrno();
  }
  ::close(fd);
  if (read_errno != 0) {
    return Status::DataLoss("short read from ONNX model '" + path +
                            "': " + std::strerror(read_errno));
  }
  if (!parsed) {
    return Status::DataLoss("cannot parse ONNX model '" + path + "': " + std::to_string(size) +
                            " bytes are not a valid ModelProto (truncated or corrupt)");
  }
  ImportOptions options;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  options.base_dir = parent.empty() ? "." : parent.string();
  Result<Graph> graph = Importer(model, options).Run();
  if (!graph.ok()) return graph.status().WithContext("'" + path + "'");
  return graph;
}

}  // namespace edgeinfer

// Graph -> ONNX ModelProto.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "onnx/onnx_io.h"
#include "onnx/onnx_tensor.h"

namespace edgeinfer {
namespace {

constexpr int64_t kIrVersion = 8;

Status ExportAttribute(const std::string& name, const AttrValue& value, const Node& node,
                       onnx::AttributeProto* a) {
  a->set_name(name);
  if (auto* i = std::get_if<int64_t>(&value)) {
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(*i);
  } else if (auto* f = std::get_if<float>(&value)) {
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(*f);
  } else if (auto* s = std::get_if<std::string>(&value)) {
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(*s);
  } else if (auto* ints = std::get_if<std::vector<int64_t>>(&value)) {
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : *ints) a->add_ints(v);
  } else if (auto* floats = std::get_if<std::vector<float>>(&value)) {
    a->set_type(onnx::AttributeProto::FLOATS);
    for (float v : *floats) a->add_floats(v);
  } else if (auto* strings = std::get_if<std::vector<std::string>>(&value)) {
    a->set_type(onnx::AttributeProto::STRINGS);
    for (const std::string& v : *strings) a->add_strings(v);
  } else if (auto* t = std::get_if<Tensor>(&value)) {
    if (t->empty()) {
      return Status::InvalidArgument(std::string(OpName(node.op)) + " node '" + node.name +
                                     "' attribute '" + name + "' holds an empty tensor");
    }
    a->set_type(onnx::AttributeProto::TENSOR);
    TensorToOnnx(*t, "", a->mutable_t());
  }
  return Status::Ok();
}

// Unknown dims become symbolic "d<i>" and an unknown rank leaves the shape out, so importing
// the result gives -1 dims and an unknown rank again.
void ExportValueInfo(const Value& v, onnx::ValueInfoProto* info) {
  info->set_name(v.name);
  auto* tt = info->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  if (!v.rank_known) return;
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < v.shape.size(); ++i) {
    auto* dim = shape->add_dim();
    if (v.shape[i] >= 0) {
      dim->set_dim_value(v.shape[i]);
    } else {
      std::string param = "d";  // appended, not operator+: GCC 12 warns falsely (-Wrestrict)
      param += std::to_string(i);
      dim->set_dim_param(param);
    }
  }
}

}  // namespace

Result<std::string> ExportOnnx(const Graph& graph) {
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("edgeinfer");
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(graph.opset);
  onnx::GraphProto* gp = model.mutable_graph();
  gp->set_name(graph.name);

  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
  const auto& values = graph.values();
  std::vector<bool> used(values.size(), false);
  std::vector<bool> produced(values.size(), false);
  for (int index : order) {
    const Node& node = graph.nodes()[static_cast<size_t>(index)];
    onnx::NodeProto* np = gp->add_node();
    np->set_name(node.name);
    np->set_op_type(OpName(node.op));
    for (ValueId in : node.inputs) {
      np->add_input(in >= 0 ? graph.value(in).name : "");
      if (in >= 0) used[static_cast<size_t>(in)] = true;
    }
    for (ValueId out : node.outputs) {
      np->add_output(out >= 0 ? graph.value(out).name : "");
      if (out >= 0) produced[static_cast<size_t>(out)] = true;
    }
    for (const auto& [name, value] : node.attrs.map()) {
      EI_RETURN_IF_ERROR(ExportAttribute(name, value, node, np->add_attribute()));
    }
  }
  std::vector<bool> is_io(values.size(), false);
  for (ValueId id : graph.inputs()) {
    ExportValueInfo(graph.value(id), gp->add_input());
    is_io[static_cast<size_t>(id)] = true;
  }
  for (ValueId id : graph.outputs()) {
    ExportValueInfo(graph.value(id), gp->add_output());
    used[static_cast<size_t>(id)] = true;
    is_io[static_cast<size_t>(id)] = true;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    if (v.is_constant()) {
      if (used[i]) TensorToOnnx(v.constant, v.name, gp->add_initializer());
    } else if (produced[i] && !is_io[i] && v.dtype != DType::kUndefined) {
      ExportValueInfo(v, gp->add_value_info());
    }
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    return Status::ResourceExhausted("graph '" + graph.name +
                                     "' is too large to serialize as one ONNX protobuf (2 GiB)");
  }
  return bytes;
}

Status ExportOnnxFile(const Graph& graph, const std::string& path) {
  EI_ASSIGN_OR_RETURN(std::string bytes, ExportOnnx(graph));
  // Write beside the target and rename, so readers never see a half-written model.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::NotFound("cannot create '" + tmp + "' to write the ONNX model");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      return Status::DataLoss("failed writing ONNX model to '" + tmp + "'");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return Status::DataLoss("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  }
  return Status::Ok();
}

}  // namespace edgeinfer

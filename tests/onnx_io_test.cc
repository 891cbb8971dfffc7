#include "onnx/onnx_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/half.h"
#include "onnx/onnx_pb.h"

namespace edgeinfer {
namespace {

namespace fs = std::filesystem;

// ---- ModelProto builders -------------------------------------------------------------------

onnx::ModelProto NewModel(int64_t opset = 13) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  model.mutable_graph()->set_name("test_graph");
  return model;
}

// dims: -1 becomes the symbolic dim "N".
void AddValueInfo(onnx::ValueInfoProto* info, const std::string& name, int32_t elem,
                  const std::vector<int64_t>& dims) {
  info->set_name(name);
  auto* tt = info->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    if (d < 0) {
      shape->add_dim()->set_dim_param("N");
    } else {
      shape->add_dim()->set_dim_value(d);
    }
  }
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op,
                         const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs, const std::string& name) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

void SetInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void SetInt(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

std::vector<float> Iota(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(i) - 1.0f;
  return v;
}

onnx::TensorProto* AddRawFloat(onnx::GraphProto* g, const std::string& name,
                               const std::vector<int64_t>& dims, const std::vector<float>& data) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(data.data(), data.size() * sizeof(float));
  return t;
}

onnx::TensorProto* AddTypedFloat(onnx::GraphProto* g, const std::string& name,
                                 const std::vector<int64_t>& dims, const std::vector<float>& data) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float f : data) t->add_float_data(f);
  return t;
}

std::string Serialize(const onnx::ModelProto& model) {
  std::string bytes;
  EXPECT_TRUE(model.SerializeToString(&bytes));
  return bytes;
}

Result<Graph> Import(const onnx::ModelProto& model, const std::string& base_dir = ".") {
  ImportOptions options;
  options.base_dir = base_dir;
  return ImportOnnx(Serialize(model), options);
}

// X[N,3,8,8] -> Conv(4x3x3x3, pad 1) -> Relu -> Flatten -> Gemm(256 -> 10) -> Y.
// W is also listed as a graph input (old exporters do this); it must import as a constant.
onnx::ModelProto ConvReluFlattenGemm() {
  onnx::ModelProto model = NewModel(13);
  onnx::GraphProto* g = model.mutable_graph();
  AddValueInfo(g->add_input(), "X", onnx::TensorProto::FLOAT, {-1, 3, 8, 8});
  AddValueInfo(g->add_input(), "W", onnx::TensorProto::FLOAT, {4, 3, 3, 3});
  AddRawFloat(g, "W", {4, 3, 3, 3}, Iota(108, 0.01f));
  AddTypedFloat(g, "B", {4}, {0.5f, -0.5f, 0.25f, 0.0f});
  AddRawFloat(g, "FC_W", {10, 256}, Iota(2560, 0.001f));
  AddTypedFloat(g, "FC_B", {10}, Iota(10, 0.1f));
  auto* conv = AddNode(g, "Conv", {"X", "W", "B"}, {"conv_out"}, "conv1");
  SetInts(conv, "pads", {1, 1, 1, 1});
  SetInts(conv, "kernel_shape", {3, 3});
  AddNode(g, "Relu", {"conv_out"}, {"relu_out"}, "relu1");
  SetInt(AddNode(g, "Flatten", {"relu_out"}, {"flat"}, ""), "axis", 1);
  auto* gemm = AddNode(g, "Gemm", {"flat", "FC_W", "FC_B"}, {"Y"}, "fc");
  SetInt(gemm, "transB", 1);
  AddValueInfo(g->add_output(), "Y", onnx::TensorProto::FLOAT, {-1, 10});
  return model;
}

// ---- Graph comparison -----------------------------------------------------------------------

bool SameTensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0);
}

bool SameAttr(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&b](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Tensor>) {
          return SameTensor(x, std::get<Tensor>(b));
        } else {
          return x == std::get<T>(b);
        }
      },
      a);
}

void ExpectSameValue(const Value& a, const Value& b) {
  SCOPED_TRACE("tensor " + a.name);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.rank_known, b.rank_known);
  if (a.rank_known) {
    EXPECT_EQ(a.shape, b.shape);
  }
  EXPECT_EQ(a.is_constant(), b.is_constant());
  if (a.is_constant() && b.is_constant()) {
    EXPECT_TRUE(SameTensor(a.constant, b.constant));
  }
}

// Equal up to value numbering: same inputs, outputs, live nodes (in order) and values by name.
void ExpectSameGraph(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.opset, b.opset);
  ASSERT_EQ(a.inputs().size(), b.inputs().size());
  for (size_t i = 0; i < a.inputs().size(); ++i) {
    ExpectSameValue(a.value(a.inputs()[i]), b.value(b.inputs()[i]));
  }
  ASSERT_EQ(a.outputs().size(), b.outputs().size());
  for (size_t i = 0; i < a.outputs().size(); ++i) {
    ExpectSameValue(a.value(a.outputs()[i]), b.value(b.outputs()[i]));
  }
  std::vector<const Node*> na, nb;
  for (const Node& n : a.nodes())
    if (!n.removed) na.push_back(&n);
  for (const Node& n : b.nodes())
    if (!n.removed) nb.push_back(&n);
  ASSERT_EQ(na.size(), nb.size());
  auto names = [](const Graph& g, const std::vector<ValueId>& ids) {
    std::vector<std::string> out;
    for (ValueId id : ids) out.push_back(id < 0 ? "" : g.value(id).name);
    return out;
  };
  for (size_t i = 0; i < na.size(); ++i) {
    SCOPED_TRACE("node " + na[i]->name);
    EXPECT_EQ(na[i]->name, nb[i]->name);
    EXPECT_EQ(na[i]->op, nb[i]->op);
    EXPECT_EQ(names(a, na[i]->inputs), names(b, nb[i]->inputs));
    EXPECT_EQ(names(a, na[i]->outputs), names(b, nb[i]->outputs));
    const auto& ma = na[i]->attrs.map();
    const auto& mb = nb[i]->attrs.map();
    ASSERT_EQ(ma.size(), mb.size());
    for (const auto& [key, value] : ma) {
      ASSERT_TRUE(mb.count(key)) << key;
      EXPECT_TRUE(SameAttr(value, mb.at(key))) << key;
    }
    for (ValueId id : na[i]->inputs) {
      if (id < 0) continue;
      ValueId other = b.FindValue(a.value(id).name);
      ASSERT_NE(other, kNoValue);
      ExpectSameValue(a.value(id), b.value(other));
    }
  }
}

// ---- Import ---------------------------------------------------------------------------------

TEST(OnnxImportTest, ConvReluFlattenGemm) {
  auto graph = Import(ConvReluFlattenGemm());
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  EXPECT_EQ(graph->name, "test_graph");
  EXPECT_EQ(graph->opset, 13);
  ASSERT_EQ(graph->inputs().size(), 1u);  // W is an initializer, so a constant
  const Value& x = graph->value(graph->inputs()[0]);
  EXPECT_EQ(x.name, "X");
  EXPECT_EQ(x.dtype, DType::kFloat32);
  EXPECT_EQ(x.shape, (Shape{-1, 3, 8, 8}));
  const Value& w = graph->value(graph->FindValue("W"));
  ASSERT_TRUE(w.is_constant());
  EXPECT_EQ(w.constant.shape(), (Shape{4, 3, 3, 3}));
  EXPECT_FLOAT_EQ(w.constant.data<float>()[107], 0.01f * 107 - 1.0f);
  const Value& b = graph->value(graph->FindValue("B"));
  ASSERT_TRUE(b.is_constant());
  EXPECT_EQ(b.constant.data<float>()[1], -0.5f);
  ASSERT_EQ(graph->nodes().size(), 4u);
  EXPECT_EQ(graph->nodes()[0].op, OpKind::kConv);
  EXPECT_EQ(graph->nodes()[0].attrs.GetInts("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(graph->nodes()[2].name, "Flatten_2");  // unnamed nodes get <OpType>_<index>
  EXPECT_EQ(graph->nodes()[3].attrs.GetInt("transB", 0), 1);
  ASSERT_EQ(graph->outputs().size(), 1u);
  const Value& y = graph->value(graph->outputs()[0]);
  EXPECT_EQ(y.name, "Y");
  EXPECT_EQ(y.shape, (Shape{-1, 10}));  // declared output shapes are recorded
}

TEST(OnnxImportTest, UnsortedNodesImport) {
  onnx::ModelProto model = NewModel();
  auto* g = model.mutable_graph();
  AddValueInfo(g->add_input(), "x", onnx::TensorProto::FLOAT, {2});
  AddNode(g, "Relu", {"a"}, {"y"}, "second");
  AddNode(g, "Relu", {"x"}, {"a"}, "first");
  AddValueInfo(g->add_output(), "y", onnx::TensorProto::FLOAT, {2});
  auto graph = Import(model);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  auto order = graph->TopologicalOrder();
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (std::vector<int>{1, 0}));
}

TEST(OnnxImportTest, RawAndTypedInitializersAgree) {
  onnx::ModelProto model = NewModel();
  auto* g = model.mutable_graph();
  const std::vector<float> data = Iota(6, 0.5f);
  AddRawFloat(g, "raw", {2, 3}, data);
  AddTypedFloat(g, "typed", {2, 3}, data);
  auto* i64 = g->add_initializer();
  i64->set_name("i64");
  i64->set_data_type(onnx::TensorProto::INT64);
  i64->add_dims(3);
  for (int64_t v : {int64_t{-5}, int64_t{1} << 40, int64_t{7}}) i64->add_int64_data(v);
  auto* f64 = g->add_initializer();
  f64->set_name("f64");
  f64->set_data_type(onnx::TensorProto::DOUBLE);
  f64->add_double_data(2.5);  // no dims: a scalar
  auto* u64 = g->add_initializer();
  u64->set_name("u64");
  u64->set_data_type(onnx::TensorProto::UINT64);
  u64->add_dims(1);
  u64->add_uint64_data(~uint64_t{0});
  AddValueInfo(g->add_output(), "raw", onnx::TensorProto::FLOAT, {2, 3});
  auto graph = Import(model);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  const Tensor& raw = graph->value(graph->FindValue("raw")).constant;
  const Tensor& typed = graph->value(graph->FindValue("typed")).constant;
  EXPECT_TRUE(SameTensor(raw, typed));
  EXPECT_EQ(typed.data<float>()[5], data[5]);
  const Tensor& i = graph->value(graph->FindValue("i64")).constant;
  EXPECT_EQ(i.data<int64_t>()[1], int64_t{1} << 40);
  EXPECT_EQ(i.data<int64_t>()[0], -5);
  const Tensor& d = graph->value(graph->FindValue("f64")).constant;
  EXPECT_EQ(d.shape(), Shape{});
  EXPECT_EQ(d.data<double>()[0], 2.5);
  EXPECT_EQ(graph->value(graph->FindValue("u64")).constant.data<uint64_t>()[0], ~uint64_t{0});
}

TEST(OnnxImportTest, Float16Int8AndBoolInitializers) {
  onnx::ModelProto model = NewModel();
  auto* g = model.mutable_graph();
  const std::vector<float> values = {1.0f, -2.5f, 0.0f, 65504.0f};
  auto* h_typed = g->add_initializer();
  h_typed->set_name("h_typed");
  h_typed->set_data_type(onnx::TensorProto::FLOAT16);
  h_typed->add_dims(4);
  std::vector<uint16_t> bits;
  for (float v : values) bits.push_back(FloatToHalf(v));
  for (uint16_t b : bits) h_typed->add_int32_data(b);
  auto* h_raw = g->add_initializer();
  h_raw->set_name("h_raw");
  h_raw->set_data_type(onnx::TensorProto::FLOAT16);
  h_raw->add_dims(4);
  h_raw->set_raw_data(bits.data(), bits.size() * 2);
  auto* i8 = g->add_initializer();
  i8->set_name("i8");
  i8->set_data_type(onnx::TensorProto::INT8);
  i8->add_dims(3);
  for (int v : {-128, -1, 127}) i8->add_int32_data(v);
  auto* i8_raw = g->add_initializer();
  i8_raw->set_name("i8_raw");
  i8_raw->set_data_type(onnx::TensorProto::INT8);
  i8_raw->add_dims(3);
  const int8_t raw_bytes[3] = {-128, -1, 127};
  i8_raw->set_raw_data(raw_bytes, 3);
  auto* flags = g->add_initializer();
  flags->set_name("flags");
  flags->set_data_type(onnx::TensorProto::BOOL);
  flags->add_dims(2);
  flags->add_int32_data(0);
  flags->add_int32_data(5);
  AddValueInfo(g->add_output(), "h_raw", onnx::TensorProto::FLOAT16, {4});
  auto graph = Import(model);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  const Tensor& ht = graph->value(graph->FindValue("h_typed")).constant;
  EXPECT_EQ(ht.dtype(), DType::kFloat16);
  EXPECT_TRUE(SameTensor(ht, graph->value(graph->FindValue("h_raw")).constant));
  for (size_t k = 0; k < values.size(); ++k) {
    EXPECT_EQ(HalfToFloat(ht.data<uint16_t>()[k]), values[k]);  // all exactly representable
  }
  const Tensor& a = graph->value(graph->FindValue("i8")).constant;
  EXPECT_EQ(a.dtype(), DType::kInt8);
  EXPECT_EQ(a.data<int8_t>()[0], -128);
  EXPECT_EQ(a.data<int8_t>()[2], 127);
  EXPECT_TRUE(SameTensor(a, graph->value(graph->FindValue("i8_raw")).constant));
  const Tensor& f = graph->value(graph->FindValue("flags")).constant;
  EXPECT_EQ(f.data<uint8_t>()[0], 0);
  EXPECT_EQ(f.data<uint8_t>()[1], 1);
}

TEST(OnnxImportTest, ByteCountMismatchNamesTensor) {
  onnx::ModelProto model = NewModel();
  AddRawFloat(model.mutable_graph(), "short_weight", {2, 3}, Iota(5, 1.0f));
  auto graph = Import(model);
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(graph.status().message().find("short_weight"), std::string::npos);
  EXPECT_NE(graph.status().message().find("24"), std::string::npos);

  onnx::ModelProto typed = NewModel();
  AddTypedFloat(typed.mutable_graph(), "few_values", {4}, Iota(3, 1.0f));
  graph = Import(typed);
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(graph.status().message().find("few_values"), std::string::npos);
}

TEST(OnnxImportTest, StringTensorsAndGraphAttributesAreUnimplemented) {
  onnx::ModelProto model = NewModel();
  auto* s = model.mutable_graph()->add_initializer();
  s->set_name("words");
  s->set_data_type(onnx::TensorProto::STRING);
  s->add_string_data("hi");
  auto graph = Import(model);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(graph.status().message().find("words"), std::string::npos);

  onnx::ModelProto with_graph = NewModel();
  auto* g = with_graph.mutable_graph();
  AddValueInfo(g->add_input(), "x", onnx::TensorProto::FLOAT, {1});
  auto* relu = AddNode(g, "Relu", {"x"}, {"y"}, "odd_relu");
  auto* attr = relu->add_attribute();
  attr->set_name("body");
  attr->set_type(onnx::AttributeProto::GRAPH);
  attr->mutable_g()->set_name("sub");
  AddValueInfo(g->add_output(), "y", onnx::TensorProto::FLOAT, {1});
  graph = Import(with_graph);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(graph.status().message().find("odd_relu"), std::string::npos);
  EXPECT_NE(graph.status().message().find("body"), std::string::npos);
}

TEST(OnnxImportTest, ConstantNodeBecomesConstant) {
  onnx::ModelProto model = NewModel();
  auto* g = model.mutable_graph();
  auto* c = AddNode(g, "Constant", {}, {"k"}, "const");
  auto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  a->mutable_t()->add_dims(2);
  a->mutable_t()->add_int64_data(-1);
  a->mutable_t()->add_int64_data(16);
  AddNode(g, "Relu", {"k_float"}, {"y"}, "relu");
  auto* f = AddNode(g, "Constant", {}, {"k_float"}, "const_float");
  auto* fa = f->add_attribute();
  fa->set_name("value_floats");
  fa->set_type(onnx::AttributeProto::FLOATS);
  fa->add_floats(-1.5f);
  AddValueInfo(g->add_output(), "k", onnx::TensorProto::INT64, {2});
  AddValueInfo(g->add_output(), "y", onnx::TensorProto::FLOAT, {1});
  auto graph = Import(model);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  EXPECT_EQ(graph->nodes().size(), 1u);
  const Value& k = graph->value(graph->FindValue("k"));
  ASSERT_TRUE(k.is_constant());
  EXPECT_EQ(k.constant.data<int64_t>()[1], 16);
  const Value& kf = graph->value(graph->FindValue("k_float"));
  ASSERT_TRUE(kf.is_constant());
  EXPECT_EQ(kf.constant.shape(), Shape{1});
  EXPECT_EQ(kf.constant.data<float>()[0], -1.5f);
}

// ---- External data --------------------------------------------------------------------------

class ExternalDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("onnxio_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "weights");
    data_ = Iota(12, 0.25f);
    std::ofstream out(dir_ / "weights" / "w.bin", std::ios::binary);
    const char pad[16] = {};
    out.write(pad, sizeof pad);  // the tensor starts at offset 16
    out.write(reinterpret_cast<const char*>(data_.data()),
              static_cast<std::streamsize>(data_.size() * sizeof(float)));
  }
  void TearDown() override { fs::remove_all(dir_); }

  onnx::ModelProto Model(const std::string& location, const std::string& offset,
                         const std::string& length) {
    onnx::ModelProto model = NewModel();
    auto* t = model.mutable_graph()->add_initializer();
    t->set_name("ext_weight");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(3);
    t->add_dims(4);
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [t](const std::string& key, const std::string& value) {
      if (value.empty()) return;
      auto* e = t->add_external_data();
      e->set_key(key);
      e->set_value(value);
    };
    add("location", location);
    add("offset", offset);
    add("length", length);
    AddValueInfo(model.mutable_graph()->add_output(), "ext_weight", onnx::TensorProto::FLOAT,
                 {3, 4});
    return model;
  }

  fs::path dir_;
  std::vector<float> data_;
};

TEST_F(ExternalDataTest, ReadsRelativeLocationWithOffset) {
  auto graph = Import(Model("weights/w.bin", "16", "48"), dir_.string());
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  const Tensor& t = graph->value(graph->FindValue("ext_weight")).constant;
  ASSERT_EQ(t.shape(), (Shape{3, 4}));
  for (size_t i = 0; i < data_.size(); ++i) EXPECT_EQ(t.data<float>()[i], data_[i]);
}

TEST_F(ExternalDataTest, ImportOnnxFileResolvesAgainstModelDirectory) {
  const fs::path path = dir_ / "model.onnx";
  std::ofstream(path, std::ios::binary) << Serialize(Model("weights/w.bin", "16", ""));
  auto graph = ImportOnnxFile(path.string());
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  EXPECT_EQ(graph->value(graph->FindValue("ext_weight")).constant.data<float>()[11], data_[11]);
}

TEST_F(ExternalDataTest, RejectsPathsEscapingBaseDir) {
  for (const std::string location : {"../w.bin", "weights/../../w.bin", "/etc/passwd"}) {
    auto graph = Import(Model(location, "", ""), (dir_ / "weights").string());
    ASSERT_FALSE(graph.ok()) << location;
    EXPECT_EQ(graph.status().code(), StatusCode::kInvalidArgument) << location;
    EXPECT_NE(graph.status().message().find("ext_weight"), std::string::npos);
    EXPECT_NE(graph.status().message().find(location), std::string::npos);
  }
}

TEST_F(ExternalDataTest, MissingFileAndShortReadNameTensorAndFile) {
  auto missing = Import(Model("weights/nope.bin", "", ""), dir_.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("ext_weight"), std::string::npos);
  EXPECT_NE(missing.status().message().find("nope.bin"), std::string::npos);

  auto short_read = Import(Model("weights/w.bin", "20", ""), dir_.string());
  ASSERT_FALSE(short_read.ok());
  EXPECT_EQ(short_read.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(short_read.status().message().find("w.bin"), std::string::npos);

  auto bad_length = Import(Model("weights/w.bin", "16", "40"), dir_.string());
  ASSERT_FALSE(bad_length.ok());
  EXPECT_NE(bad_length.status().message().find("ext_weight"), std::string::npos);

  auto bad_offset = Import(Model("weights/w.bin", "-4", ""), dir_.string());
  ASSERT_FALSE(bad_offset.ok());
}

// ---- Hostile and malformed input ------------------------------------------------------------

TEST(OnnxImportTest, TruncatedModelIsDataLoss) {
  const std::string bytes = Serialize(ConvReluFlattenGemm());
  ASSERT_GT(bytes.size(), 10000u);
  // Every cut inside the graph message leaves a length prefix pointing past the end.
  for (size_t cut : {size_t{3}, size_t{100}, bytes.size() / 2, bytes.size() - 40}) {
    auto graph = ImportOnnx(bytes.substr(0, cut), ImportOptions{});
    ASSERT_FALSE(graph.ok()) << cut;
    EXPECT_EQ(graph.status().code(), StatusCode::kDataLoss) << cut;
    EXPECT_NE(graph.status().message().find("cannot parse ONNX model"), std::string::npos);
  }
  const fs::path path =
      fs::temp_directory_path() / ("onnxio_trunc_" + std::to_string(::getpid()) + ".onnx");
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  auto graph = ImportOnnxFile(path.string());
  fs::remove(path);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kDataLoss);
}

TEST(OnnxImportTest, EmptyFileAndDirectoryAreNamedErrors) {
  const fs::path path =
      fs::temp_directory_path() / ("onnxio_empty_" + std::to_string(::getpid()) + ".onnx");
  std::ofstream(path, std::ios::binary).flush();
  auto empty = ImportOnnxFile(path.string());
  fs::remove(path);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(empty.status().message().find(path.string()), std::string::npos);
  auto dir = ImportOnnxFile(fs::temp_directory_path().string());
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dir.status().message().find("directory"), std::string::npos);
}

TEST(OnnxImportTest, MissingFileIsNotFoundNamingPath) {
  auto graph = ImportOnnxFile("/nonexistent/dir/model.onnx");
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kNotFound);
  EXPECT_NE(graph.status().message().find("/nonexistent/dir/model.onnx"), std::string::npos);
}

// Random bytes and random mutations of a valid model must give an error or a verified graph,
// never a crash (this test is most useful under AddressSanitizer).
TEST(OnnxImportTest, GarbageAndMutationsNeverCrash) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 300; ++trial) {
    std::string garbage(rng() % 512 + 1, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    auto graph = ImportOnnx(garbage, ImportOptions{});
    EXPECT_FALSE(graph.ok());
  }
  const std::string valid = Serialize(ConvReluFlattenGemm());
  int parsed = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    std::string mutated = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Half the flips hit the leading node and attribute bytes rather than the weights.
      const size_t span = rng() % 2 ? std::min<size_t>(600, mutated.size()) : mutated.size();
      mutated[rng() % span] = static_cast<char>(rng());
    }
    auto graph = ImportOnnx(mutated, ImportOptions{});
    if (graph.ok()) {
      ++parsed;
      EXPECT_TRUE(graph->Verify().ok());
    }
  }
  // Most flips land in weight bytes and leave the model valid: the mutations reach the importer.
  EXPECT_GT(parsed, 0);
}

TEST(OnnxImportTest, UnknownOpNamesTypeNodeAndOpset) {
  onnx::ModelProto model = NewModel(13);
  auto* g = model.mutable_graph();
  AddValueInfo(g->add_input(), "x", onnx::TensorProto::FLOAT, {1});
  AddNode(g, "Relu", {"x"}, {"a"}, "n0");
  AddNode(g, "Foo", {"a"}, {"y"}, "n3");
  AddValueInfo(g->add_output(), "y", onnx::TensorProto::FLOAT, {1});
  auto graph = Import(model);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(graph.status().message().find("unsupported op 'Foo' (node 'n3', opset 13)"),
            std::string::npos)
      << graph.status().message();

  g->mutable_node(1)->set_name("");
  graph = Import(model);
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(graph.status().message().find("Foo_1"), std::string::npos);

  g->mutable_node(1)->set_op_type("FusedConv");
  g->mutable_node(1)->set_domain("com.microsoft");
  graph = Import(model);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(graph.status().message().find("FusedConv"), std::string::npos);
  EXPECT_NE(graph.status().message().find("com.microsoft"), std::string::npos);
}

TEST(OnnxImportTest, OpsetOutsideSupportedRange) {
  for (int64_t opset : {6, 18}) {
    onnx::ModelProto model = NewModel(opset);
    auto graph = Import(model);
    ASSERT_FALSE(graph.ok());
    EXPECT_EQ(graph.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(graph.status().message().find("opset " + std::to_string(opset)), std::string::npos);
  }
  onnx::ModelProto ok_model = NewModel(7);
  ok_model.mutable_opset_import(0)->set_domain("ai.onnx");
  EXPECT_TRUE(Import(ok_model).ok());
  onnx::ModelProto no_default = NewModel(13);
  no_default.mutable_opset_import(0)->set_domain("com.microsoft");
  EXPECT_FALSE(Import(no_default).ok());
}

TEST(OnnxImportTest, WrongInputCountNamesNode) {
  onnx::ModelProto model = NewModel();
  auto* g = model.mutable_graph();
  AddValueInfo(g->add_input(), "x", onnx::TensorProto::FLOAT, {1});
  AddNode(g, "Relu", {"x", "x"}, {"y"}, "greedy_relu");
  AddValueInfo(g->add_output(), "y", onnx::TensorProto::FLOAT, {1});
  auto graph = Import(model);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(graph.status().message().find("greedy_relu"), std::string::npos);
  EXPECT_NE(graph.status().message().find("has 2 inputs"), std::string::npos);

  // A trailing empty name is an omitted optional input, not an extra one.
  g->mutable_node(0)->set_input(1, "");
  EXPECT_TRUE(Import(model).ok());
}

TEST(OnnxImportTest, MissingInputTensorIsNamed) {
  onnx::ModelProto model = NewModel();
  auto* g = model.mutable_graph();
  AddNode(g, "Relu", {"ghost_tensor"}, {"y"}, "relu");
  AddValueInfo(g->add_output(), "y", onnx::TensorProto::FLOAT, {1});
  auto graph = Import(model);
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(graph.status().message().find("ghost_tensor"), std::string::npos);
  EXPECT_NE(graph.status().message().find("relu"), std::string::npos);
}

// ---- Export ---------------------------------------------------------------------------------

TEST(OnnxExportTest, ImportedModelRoundTrips) {
  auto first = Import(ConvReluFlattenGemm());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto bytes = ExportOnnx(*first);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto second = ImportOnnx(*bytes, ImportOptions{});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ExpectSameGraph(*first, *second);
}

// A graph built in the IR with every attribute kind, an omitted optional input, an unknown
// rank, dynamic dims and a known intermediate shape survives export and import.
TEST(OnnxExportTest, IrGraphRoundTripsThroughFile) {
  Graph g;
  g.name = "built";
  g.opset = 11;
  ValueId x = g.AddInput("x", DType::kFloat32, {-1, 4});
  ValueId z = g.AddInput("z", DType::kInt64, {});
  g.mutable_value(z).rank_known = false;
  ValueId hi = g.AddConstant("hi", Tensor::Scalar<float>(6.0f));
  ValueId h = g.AddConstant(
      "half", Tensor::FromVector<float>({1.0f, 2.0f}, {2}).CastTo(DType::kFloat16).value());
  ValueId a = g.AddValue("a", DType::kFloat32, {-1, 4});
  ValueId y = g.AddValue("y", DType::kFloat32, {-1, 4});
  Attributes attrs;
  attrs.Set("i", int64_t{3});
  attrs.Set("f", 0.5f);
  attrs.Set("s", std::string("text"));
  attrs.Set("ints", std::vector<int64_t>{1, -2});
  attrs.Set("floats", std::vector<float>{1.5f});
  attrs.Set("empty_ints", std::vector<int64_t>{});
  attrs.Set("strings", std::vector<std::string>{"u", "v"});
  attrs.Set("t", Tensor::FromVector<int32_t>({7, 8, 9}, {3}));
  g.AddNode(OpKind::kClip, "clip", {x, kNoValue, hi}, {a}, attrs);
  g.AddNode(OpKind::kRelu, "relu", {a}, {y});
  g.AddOutput(y);
  g.AddOutput(h);
  g.AddOutput(z);
  ASSERT_TRUE(g.Verify().ok());

  const fs::path path =
      fs::temp_directory_path() / ("onnxio_rt_" + std::to_string(::getpid()) + ".onnx");
  ASSERT_TRUE(ExportOnnxFile(g, path.string()).ok());
  auto back = ImportOnnxFile(path.string());
  size_t leftovers = 0;
  for (const auto& entry : fs::directory_iterator(path.parent_path())) {
    leftovers += entry.path().string().find(path.filename().string() + ".tmp") != std::string::npos;
  }
  fs::remove(path);
  EXPECT_EQ(leftovers, 0u);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameGraph(g, *back);
  EXPECT_FALSE(back->value(back->FindValue("z")).rank_known);
}

TEST(OnnxExportTest, UnwritablePathIsAnError) {
  Graph g;
  ValueId x = g.AddInput("x", DType::kFloat32, {1});
  g.AddOutput(x);
  EXPECT_FALSE(ExportOnnxFile(g, "/nonexistent/dir/out.onnx").ok());
}

}  // namespace
}  // namespace edgeinfer

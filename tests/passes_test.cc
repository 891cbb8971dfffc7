#include "ops/passes.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace edgeinfer {
namespace {

std::vector<const Node*> LiveNodes(const Graph& g) {
  std::vector<const Node*> out;
  for (const Node& n : g.nodes()) {
    if (!n.removed) out.push_back(&n);
  }
  return out;
}

bool HasOp(const Graph& g, OpKind op) {
  for (const Node* n : LiveNodes(g)) {
    if (n->op == op) return true;
  }
  return false;
}

Tensor Filled(Shape shape, float value) {
  std::vector<float> data(static_cast<size_t>(NumElements(shape)), value);
  return Tensor::FromVector<float>(data, shape);
}

ValueId Intermediate(Graph* g, const std::string& name) {
  ValueId id = g->AddValue(name, DType::kUndefined, {});
  g->mutable_value(id).rank_known = false;
  return id;
}

// x[N,3,8,8] -> Conv(4x3x3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(4 -> 10).
Graph SmallCnn() {
  Graph g;
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {-1, 3, 8, 8});
  ValueId w = g.AddConstant("w", Filled({4, 3, 3, 3}, 0.1f));
  ValueId b = g.AddConstant("b", Filled({4}, 0.0f));
  ValueId fc_w = g.AddConstant("fc_w", Filled({10, 4}, 0.5f));
  ValueId fc_b = g.AddConstant("fc_b", Filled({10}, 1.0f));
  ValueId conv = Intermediate(&g, "conv");
  ValueId relu = Intermediate(&g, "relu");
  ValueId pool = Intermediate(&g, "pool");
  ValueId flat = Intermediate(&g, "flat");
  ValueId y = Intermediate(&g, "y");
  Attributes conv_attrs;
  conv_attrs.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  conv_attrs.Set("kernel_shape", std::vector<int64_t>{3, 3});
  g.AddNode(OpKind::kConv, "conv1", {x, w, b}, {conv}, conv_attrs);
  g.AddNode(OpKind::kRelu, "relu1", {conv}, {relu});
  g.AddNode(OpKind::kGlobalAveragePool, "gap", {relu}, {pool});
  g.AddNode(OpKind::kFlatten, "flatten", {pool}, {flat});
  Attributes gemm_attrs;
  gemm_attrs.Set("transB", int64_t{1});
  g.AddNode(OpKind::kGemm, "fc", {flat, fc_w, fc_b}, {y}, gemm_attrs);
  g.AddOutput(y);
  return g;
}

TEST(SpecializeTest, ResolvesDynamicBatch) {
  Graph g = SmallCnn();
  Status s = Specialize(&g, {{"x", {2, 3, 8, 8}}});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(g.value(g.inputs()[0]).shape, (Shape{2, 3, 8, 8}));
  EXPECT_EQ(g.value(g.FindValue("conv")).shape, (Shape{2, 4, 8, 8}));
  EXPECT_EQ(g.value(g.FindValue("pool")).shape, (Shape{2, 4, 1, 1}));
  const Value& y = g.value(g.outputs()[0]);
  EXPECT_EQ(y.name, "y");
  EXPECT_EQ(y.dtype, DType::kFloat32);
  EXPECT_EQ(y.shape, (Shape{2, 10}));
  for (const Value& v : g.values()) EXPECT_TRUE(v.shape_known()) << v.name;
}

TEST(SpecializeTest, RejectsBadInputShapesNamingTheInput) {
  {
    Graph g = SmallCnn();
    Status s = Specialize(&g, {{"x", {1, 4, 8, 8}}});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("'x'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("[?, 3, 8, 8]"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("[1, 4, 8, 8]"), std::string::npos) << s.message();
  }
  {
    Graph g = SmallCnn();
    Status s = Specialize(&g, {{"x", {1, 3, 8}}});
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("'x'"), std::string::npos) << s.message();
  }
  {
    Graph g = SmallCnn();
    Status s = Specialize(&g, {});
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("'x'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("[?, 3, 8, 8]"), std::string::npos) << s.message();
  }
  {
    Graph g = SmallCnn();
    Status s = Specialize(&g, {{"x", {1, 3, 8, 8}}, {"nope", {1}}});
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("'nope'"), std::string::npos) << s.message();
  }
}

// The flatten idiom PyTorch exports for x.view(x.size(0), -1):
// Shape -> Gather(axis 0, index 0) -> Unsqueeze(0) -> Concat(with [-1]) -> Reshape.
TEST(SpecializeTest, FoldsPyTorchFlattenChainToOneReshape) {
  Graph g;
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {-1, 4, 2, 2});
  ValueId shape = Intermediate(&g, "shape");
  ValueId index = g.AddConstant("index", Tensor::Scalar<int64_t>(0));
  ValueId batch = Intermediate(&g, "batch");
  ValueId axes = g.AddConstant("axes", Tensor::FromVector<int64_t>({0}, {1}));
  ValueId batch1 = Intermediate(&g, "batch1");
  ValueId minus_one = g.AddConstant("minus_one", Tensor::FromVector<int64_t>({-1}, {1}));
  ValueId target = Intermediate(&g, "target");
  ValueId y = Intermediate(&g, "y");
  g.AddNode(OpKind::kShape, "shape", {x}, {shape});
  Attributes gather;
  gather.Set("axis", int64_t{0});
  g.AddNode(OpKind::kGather, "gather", {shape, index}, {batch}, gather);
  g.AddNode(OpKind::kUnsqueeze, "unsqueeze", {batch, axes}, {batch1});
  Attributes concat;
  concat.Set("axis", int64_t{0});
  g.AddNode(OpKind::kConcat, "concat", {batch1, minus_one}, {target}, concat);
  g.AddNode(OpKind::kReshape, "reshape", {x, target}, {y});
  g.AddOutput(y);

  Status s = Specialize(&g, {{"x", {3, 4, 2, 2}}});
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto nodes = LiveNodes(g);
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]->op, OpKind::kReshape);
  const Value& target_value = g.value(nodes[0]->inputs[1]);
  ASSERT_TRUE(target_value.is_constant());
  auto dims = target_value.constant.ToInt64Vector();
  ASSERT_TRUE(dims.ok());
  EXPECT_EQ(*dims, (std::vector<int64_t>{3, -1}));
  EXPECT_EQ(g.value(g.outputs()[0]).shape, (Shape{3, 16}));
  EXPECT_TRUE(g.Verify().ok());
}

TEST(SpecializeTest, RemovesIdentityAndDropoutKeepingOutputNames) {
  Graph g;
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {2, 3});
  ValueId c = g.AddConstant("c", Filled({2, 3}, 2.0f));
  ValueId r = Intermediate(&g, "r");
  ValueId y = Intermediate(&g, "y");
  ValueId d = Intermediate(&g, "d");
  ValueId z = Intermediate(&g, "z");
  ValueId passthrough = Intermediate(&g, "passthrough");
  ValueId c_out = Intermediate(&g, "c_out");
  ValueId unused = Intermediate(&g, "unused");
  ValueId mask = Intermediate(&g, "mask");
  g.AddNode(OpKind::kRelu, "relu_r", {x}, {r});
  g.AddNode(OpKind::kIdentity, "id_y", {r}, {y});  // y is a graph output: Relu must produce it
  g.AddNode(OpKind::kDropout, "drop", {x}, {d});
  g.AddNode(OpKind::kRelu, "relu_z", {d}, {z});
  g.AddNode(OpKind::kIdentity, "id_in", {x}, {passthrough});      // input to output: node stays
  g.AddNode(OpKind::kIdentity, "id_c", {c}, {c_out});             // folds to a constant output
  g.AddNode(OpKind::kDropout, "drop_mask", {x}, {unused, mask});  // inference mask: all true
  g.AddOutput(y);
  g.AddOutput(z);
  g.AddOutput(passthrough);
  g.AddOutput(c_out);
  g.AddOutput(mask);

  Status s = Specialize(&g, {});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(HasOp(g, OpKind::kDropout));
  std::vector<std::string> outputs;
  for (ValueId id : g.outputs()) outputs.push_back(g.value(id).name);
  EXPECT_EQ(outputs, (std::vector<std::string>{"y", "z", "passthrough", "c_out", "mask"}));
  const Value& mv = g.value(g.outputs()[4]);
  ASSERT_TRUE(mv.is_constant());
  EXPECT_EQ(mv.constant.dtype(), DType::kBool);
  EXPECT_EQ(mv.constant.shape(), (Shape{2, 3}));
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(mv.constant.data<uint8_t>()[i], 1);
  const Value& yv = g.value(g.outputs()[0]);
  ASSERT_GE(yv.producer, 0);
  EXPECT_EQ(g.nodes()[static_cast<size_t>(yv.producer)].name, "relu_r");
  const Value& zv = g.value(g.outputs()[1]);
  ASSERT_GE(zv.producer, 0);
  EXPECT_EQ(g.value(g.nodes()[static_cast<size_t>(zv.producer)].inputs[0]).name, "x");
  EXPECT_TRUE(g.value(g.outputs()[3]).is_constant());
  int identities = 0;
  for (const Node* n : LiveNodes(g)) identities += n->op == OpKind::kIdentity;
  EXPECT_EQ(identities, 1);  // only id_in
  EXPECT_EQ(g.FindValue("r"), kNoValue);
  EXPECT_TRUE(g.Verify().ok());
}

TEST(PassesTest, RemoveDeadNodes) {
  Graph g;
  ValueId x = g.AddInput("x", DType::kFloat32, {4});
  ValueId a = g.AddValue("a", DType::kFloat32, {4});
  ValueId dead1 = g.AddValue("dead1", DType::kFloat32, {4});
  ValueId dead2 = g.AddValue("dead2", DType::kFloat32, {4});
  g.AddNode(OpKind::kRelu, "live", {x}, {a});
  g.AddNode(OpKind::kSigmoid, "dead_a", {x}, {dead1});
  g.AddNode(OpKind::kAdd, "dead_b", {dead1, a}, {dead2});
  g.AddOutput(a);
  RemoveDeadNodes(&g);
  auto nodes = LiveNodes(g);
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]->name, "live");
  EXPECT_TRUE(g.Verify().ok());
  g.Compact();
  EXPECT_EQ(g.FindValue("dead2"), kNoValue);
  EXPECT_EQ(g.nodes().size(), 1u);
}

TEST(PassesTest, FoldsConstantSubgraphs) {
  Graph g;
  ValueId x = g.AddInput("x", DType::kFloat32, {2});
  ValueId c1 = g.AddConstant("c1", Tensor::FromVector<float>({1.0f, 2.0f}, {2}));
  ValueId c2 = g.AddConstant("c2", Tensor::FromVector<float>({10.0f, 20.0f}, {2}));
  ValueId sum = Intermediate(&g, "sum");
  ValueId y = Intermediate(&g, "y");
  g.AddNode(OpKind::kAdd, "fold_me", {c1, c2}, {sum});
  g.AddNode(OpKind::kMul, "keep_me", {x, sum}, {y});
  g.AddOutput(y);
  Status s = InferShapesAndFold(&g);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(g.nodes()[0].removed);
  EXPECT_FALSE(g.nodes()[1].removed);
  const Value& sv = g.value(sum);
  ASSERT_TRUE(sv.is_constant());
  EXPECT_EQ(sv.constant.data<float>()[1], 22.0f);  // exact in float32
  EXPECT_EQ(sv.producer, -1);
  EXPECT_EQ(g.value(y).shape, Shape{2});
  EXPECT_TRUE(g.Verify().ok());
}

TEST(PassesTest, LargeConstantOfShapeStaysARuntimeNode) {
  Graph g;
  g.opset = 13;
  ValueId big_shape = g.AddConstant("big_shape", Tensor::FromVector<int64_t>({5, 1024, 1024}, {3}));
  ValueId small_shape = g.AddConstant("small_shape", Tensor::FromVector<int64_t>({2, 2}, {2}));
  ValueId big = Intermediate(&g, "big");  // 20 MiB of float32: over the 16 MiB fold limit
  ValueId small = Intermediate(&g, "small");
  Attributes attrs;
  attrs.Set("value", Tensor::FromVector<float>({3.0f}, {1}));
  g.AddNode(OpKind::kConstantOfShape, "big", {big_shape}, {big}, attrs);
  g.AddNode(OpKind::kConstantOfShape, "small", {small_shape}, {small}, attrs);
  g.AddOutput(big);
  g.AddOutput(small);
  Status s = InferShapesAndFold(&g);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(g.nodes()[0].removed);
  EXPECT_EQ(g.value(big).shape, (Shape{5, 1024, 1024}));
  EXPECT_TRUE(g.nodes()[1].removed);
  ASSERT_TRUE(g.value(small).is_constant());
  EXPECT_EQ(g.value(small).constant.data<float>()[3], 3.0f);
}

TEST(PassesTest, DeclaredShapeConflictNamesTensor) {
  Graph g;
  ValueId x = g.AddInput("x", DType::kFloat32, {2, 3});
  ValueId y = g.AddValue("declared_y", DType::kFloat32, {2, 4});
  g.AddNode(OpKind::kRelu, "relu", {x}, {y});
  g.AddOutput(y);
  Status s = InferShapesAndFold(&g);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("declared_y"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("relu"), std::string::npos) << s.message();

  // Unknown declared dims are filled in rather than conflicting.
  Graph h;
  ValueId hx = h.AddInput("x", DType::kFloat32, {2, 3});
  ValueId hy = h.AddValue("y", DType::kFloat32, {-1, 3});
  h.AddNode(OpKind::kRelu, "relu", {hx}, {hy});
  h.AddOutput(hy);
  ASSERT_TRUE(InferShapesAndFold(&h).ok());
  EXPECT_EQ(h.value(hy).shape, (Shape{2, 3}));
}

// Regression: a Pad with huge pads used to pass shape inference and abort the process with
// std::bad_alloc when the backend allocated the 160 GB output.
TEST(SpecializeTest, TensorLargerThanMemoryIsResourceExhausted) {
  Graph g;
  ValueId x = g.AddInput("x", DType::kFloat32, {1, 1, 8, 8});
  ValueId pads = g.AddConstant(
      "pads", Tensor::FromVector<int64_t>({0, 0, 100000, 100000, 0, 0, 100000, 100000}, {8}));
  ValueId y = g.AddValue("y", DType::kFloat32, {});
  g.mutable_value(y).rank_known = false;
  g.AddNode(OpKind::kPad, "bigpad", {x, pads}, {y});
  g.AddOutput(y);
  Status s = Specialize(&g, {{"x", {1, 1, 8, 8}}});
  ASSERT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("'y'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("bigpad"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace edgeinfer

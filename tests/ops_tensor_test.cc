// Tensor op family: shape/layout ops, indexing, creation, reductions, opset variants, shape
// rules with and without constant inputs, and a PyTorch-style shape chain run kernel by kernel.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "edgeinfer/tensor.h"
#include "ops/op_registry.h"
#include "ops_test_util.h"

namespace edgeinfer {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// Shape inference with the given inputs as constants (their infos come from the tensors);
// `unknown` marks inputs whose value is not constant.
Status InferConst(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                  std::vector<ValueInfo>* outputs, std::vector<bool> unknown = {}) {
  ShapeContext ctx{&node, {}, {}, opset};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool known = !inputs[i].empty() && !(i < unknown.size() && unknown[i]);
    ctx.inputs.push_back({inputs[i].dtype(), inputs[i].shape(), true});
    ctx.constants.push_back(known ? &inputs[i] : nullptr);
  }
  return FindSchema(node.op)->infer_shape(ctx, outputs);
}

Tensor I64(std::vector<int64_t> v) {
  const auto n = static_cast<int64_t>(v.size());
  return Tensor::FromVector<int64_t>(v, {n});
}
Tensor Iota(Shape s) {
  std::vector<float> v(static_cast<size_t>(NumElements(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return F(v, std::move(s));
}

void ExpectNamesNode(const Status& s) {
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("node_under_test"), std::string::npos) << s.message();
}

TEST(TensorOpsTest, RegisteredWithSpatialKinds) {
  for (OpKind op :
       {OpKind::kConstant,  OpKind::kSplit,     OpKind::kSlice,           OpKind::kFlatten,
        OpKind::kReshape,   OpKind::kTranspose, OpKind::kSqueeze,         OpKind::kUnsqueeze,
        OpKind::kShape,     OpKind::kGather,    OpKind::kConstantOfShape, OpKind::kRange,
        OpKind::kExpand,    OpKind::kTile,      OpKind::kReduceMean,      OpKind::kReduceSum,
        OpKind::kReduceMax, OpKind::kReduceMin, OpKind::kReduceProd,      OpKind::kReduceL2,
        OpKind::kArgMax}) {
    const OpSchema* s = FindSchema(op);
    ASSERT_NE(s, nullptr) << OpName(op);
    EXPECT_EQ(s->spatial, SpatialKind::kNone) << OpName(op);
  }
  ASSERT_NE(FindSchema(OpKind::kConcat), nullptr);
  EXPECT_EQ(FindSchema(OpKind::kConcat)->spatial, SpatialKind::kPointwise);
}

TEST(TensorOpsTest, ConstantForms) {
  Attributes a;
  a.Set("value_ints", std::vector<int64_t>{3, -1});
  std::vector<Tensor> out;
  ExpectNamesNode(RunOp(MakeNode(OpKind::kConstant, 0), 13, {}, &out));
  Tensor t = Run1(MakeNode(OpKind::kConstant, 0, 1, a), 13, {});
  EXPECT_EQ(t.dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(t), (std::vector<int64_t>{3, -1}));
  Attributes f;
  f.Set("value_float", 2.5f);
  t = Run1(MakeNode(OpKind::kConstant, 0, 1, f), 13, {});
  EXPECT_EQ(t.shape(), Shape{});
  EXPECT_EQ(t.data<float>()[0], 2.5f);
  Attributes v;
  v.Set("value", F({1, 2, 3, 4}, {2, 2}));
  std::vector<ValueInfo> infos;
  ASSERT_TRUE(InferConst(MakeNode(OpKind::kConstant, 0, 1, v), 13, {}, &infos).ok());
  EXPECT_EQ(infos[0].shape, (Shape{2, 2}));
  EXPECT_EQ(infos[0].dtype, DType::kFloat32);
  Attributes sparse;
  sparse.Set("sparse_value", F({1}, {1}));
  EXPECT_EQ(InferConst(MakeNode(OpKind::kConstant, 0, 1, sparse), 13, {}, &infos).code(),
            StatusCode::kUnimplemented);
}

TEST(TensorOpsTest, ConcatAnyDTypeNegativeAxis) {
  Attributes a;
  a.Set("axis", int64_t{-1});
  Tensor c =
      Run1(MakeNode(OpKind::kConcat, 3, 1, a), 13,
           {Tensor::FromVector<int64_t>({1, 2, 3, 4}, {2, 2}),
            Tensor::FromVector<int64_t>({5, 6}, {2, 1}), Tensor::Empty(DType::kInt64, {2, 0})});
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<int64_t>(c), (std::vector<int64_t>{1, 2, 5, 3, 4, 6}));
  std::vector<ValueInfo> infos;
  Node node = MakeNode(OpKind::kConcat, 2, 1, a);
  ShapeContext ctx{&node, {}, {}, 13};
  ctx.inputs = {{DType::kFloat32, {-1, 3}, true}, {DType::kFloat32, {2, -1}, true}};
  ctx.constants = {nullptr, nullptr};
  ASSERT_TRUE(FindSchema(OpKind::kConcat)->infer_shape(ctx, &infos).ok());
  EXPECT_EQ(infos[0].shape, (Shape{2, -1}));
  ctx.inputs = {{DType::kFloat32, {4, 3}, true}, {DType::kFloat32, {2, 3}, true}};
  ExpectNamesNode(FindSchema(OpKind::kConcat)->infer_shape(ctx, &infos));
}

TEST(TensorOpsTest, SplitAttributeInputAndEqual) {
  const Tensor x = Iota({2, 6});
  Attributes a;
  a.Set("axis", int64_t{1});
  a.Set("split", std::vector<int64_t>{1, 5});
  std::vector<Tensor> out;
  ASSERT_TRUE(RunOp(MakeNode(OpKind::kSplit, 1, 2, a), 11, {x}, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(out[0]), (std::vector<float>{0, 6}));
  EXPECT_EQ(Values<float>(out[1]), (std::vector<float>{1, 2, 3, 4, 5, 7, 8, 9, 10, 11}));
  Attributes axis1;
  axis1.Set("axis", int64_t{-1});
  ASSERT_TRUE(RunOp(MakeNode(OpKind::kSplit, 2, 2, axis1), 13, {x, I64({4, 2})}, &out).ok());
  EXPECT_EQ(Values<float>(out[1]), (std::vector<float>{4, 5, 10, 11}));
  ASSERT_TRUE(RunOp(MakeNode(OpKind::kSplit, 1, 3, axis1), 13, {x}, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(Values<float>(out[2]), (std::vector<float>{4, 5, 10, 11}));
  std::vector<ValueInfo> infos;
  ASSERT_TRUE(InferConst(MakeNode(OpKind::kSplit, 2, 2, axis1), 13, {x, I64({4, 2})}, &infos).ok());
  EXPECT_EQ(infos[1].shape, (Shape{2, 2}));
  ExpectNamesNode(InferConst(MakeNode(OpKind::kSplit, 2, 2, axis1), 13, {x, I64({4, 2})}, &infos,
                             {false, true}));
  ExpectNamesNode(RunOp(MakeNode(OpKind::kSplit, 1, 4, axis1), 13, {x}, &out));
}

TEST(TensorOpsTest, SliceAttributesAndInputs) {
  const Tensor x = Iota({3, 4});
  Attributes a;
  a.Set("starts", std::vector<int64_t>{1, -3});
  a.Set("ends", std::vector<int64_t>{kMax, 3});
  a.Set("axes", std::vector<int64_t>{0, 1});
  Tensor s = Run1(MakeNode(OpKind::kSlice, 1, 1, a), 9, {x});
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(s), (std::vector<float>{5, 6, 9, 10}));
  // Negative step from the end with INT64_MIN end: reverses the axis.
  s = Run1(MakeNode(OpKind::kSlice, 5), 13, {x, I64({-1}), I64({kMin}), I64({1}), I64({-1})});
  EXPECT_EQ(s.shape(), (Shape{3, 4}));
  EXPECT_EQ(Values<float>(s), (std::vector<float>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8}));
  // Step 2 on axis 0, axes omitted for the default (0..n-1).
  Node no_axes = MakeNode(OpKind::kSlice, 5);
  no_axes.inputs[3] = kNoValue;
  s = Run1(no_axes, 13, {x, I64({0, 1}), I64({kMax, 2}), Tensor(), I64({2, 1})});
  EXPECT_EQ(s.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(s), (std::vector<float>{1, 9}));
  // Out-of-range starts clamp to an empty result.
  s = Run1(MakeNode(OpKind::kSlice, 3), 13, {x, I64({10}), I64({20})});
  EXPECT_EQ(s.shape(), (Shape{0, 4}));
  std::vector<ValueInfo> infos;
  ASSERT_TRUE(InferConst(MakeNode(OpKind::kSlice, 5), 13,
                         {x, I64({-1}), I64({kMin}), I64({1}), I64({-2})}, &infos)
                  .ok());
  EXPECT_EQ(infos[0].shape, (Shape{3, 2}));
  Status st = InferConst(MakeNode(OpKind::kSlice, 3), 13, {x, I64({0}), I64({1})}, &infos,
                         {false, true, false});
  ExpectNamesNode(st);
  EXPECT_NE(st.message().find("starts"), std::string::npos) << st.message();
}

TEST(TensorOpsTest, FlattenReshapeTranspose) {
  const Tensor x = Iota({2, 3, 4});
  Attributes axis;
  axis.Set("axis", int64_t{-1});
  EXPECT_EQ(Run1(MakeNode(OpKind::kFlatten, 1, 1, axis), 13, {x}).shape(), (Shape{6, 4}));
  axis.Set("axis", int64_t{0});
  EXPECT_EQ(Run1(MakeNode(OpKind::kFlatten, 1, 1, axis), 13, {x}).shape(), (Shape{1, 24}));
  EXPECT_EQ(Run1(MakeNode(OpKind::kFlatten, 1), 13, {x}).shape(), (Shape{2, 12}));

  Tensor r = Run1(MakeNode(OpKind::kReshape, 2), 13, {x, I64({0, -1})});
  EXPECT_EQ(r.shape(), (Shape{2, 12}));
  EXPECT_EQ(Values<float>(r), Values<float>(x));
  Attributes allowzero;
  allowzero.Set("allowzero", int64_t{1});
  EXPECT_EQ(Run1(MakeNode(OpKind::kReshape, 2, 1, allowzero), 14,
                 {Tensor::Empty(DType::kFloat32, {0, 3}), I64({3, 0})})
                .shape(),
            (Shape{3, 0}));
  std::vector<Tensor> out;
  Status s = RunOp(MakeNode(OpKind::kReshape, 2), 13, {x, I64({5, -1})}, &out);
  ExpectNamesNode(s);
  s = RunOp(MakeNode(OpKind::kReshape, 2), 13, {x, I64({5, 5})}, &out);
  ExpectNamesNode(s);
  std::vector<ValueInfo> infos;
  ShapeContext ctx{nullptr,
                   {{DType::kFloat32, {-1, 3, 4}, true}, {DType::kInt64, {2}, true}},
                   {nullptr, nullptr},
                   13};
  Node reshape = MakeNode(OpKind::kReshape, 2);
  ctx.node = &reshape;
  Status not_const = FindSchema(OpKind::kReshape)->infer_shape(ctx, &infos);
  ExpectNamesNode(not_const);
  EXPECT_NE(not_const.message().find("shape"), std::string::npos);
  const Tensor spec = I64({0, 3, -1});
  ctx.constants[1] = &spec;
  ASSERT_TRUE(FindSchema(OpKind::kReshape)->infer_shape(ctx, &infos).ok());
  EXPECT_EQ(infos[0].shape, (Shape{-1, 3, 4}));
  // An unknown dim not copied by 0 leaves the inferred dim unknown.
  const Tensor spec2 = I64({3, -1});
  ctx.constants[1] = &spec2;
  ASSERT_TRUE(FindSchema(OpKind::kReshape)->infer_shape(ctx, &infos).ok());
  EXPECT_EQ(infos[0].shape, (Shape{3, -1}));

  Tensor t = Run1(MakeNode(OpKind::kTranspose, 1), 13, {Iota({2, 3})});
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<float>(t), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Attributes perm;
  perm.Set("perm", std::vector<int64_t>{1, 2, 0});
  t = Run1(MakeNode(OpKind::kTranspose, 1, 1, perm), 13, {x});
  EXPECT_EQ(t.shape(), (Shape{3, 4, 2}));
  EXPECT_EQ(t.data<float>()[1], 12.0f);                      // out[0,0,1] = x[1,0,0]
  EXPECT_EQ(t.data<float>()[2 * 4 * 2 + 3 * 2 + 1], 23.0f);  // out[2,3,1] = x[1,2,3]
}

TEST(TensorOpsTest, SqueezeUnsqueezeAttributeAndInput) {
  const Tensor x = Iota({1, 3, 1, 2});
  Attributes axes;
  axes.Set("axes", std::vector<int64_t>{0, -2});
  EXPECT_EQ(Run1(MakeNode(OpKind::kSqueeze, 1, 1, axes), 11, {x}).shape(), (Shape{3, 2}));
  EXPECT_EQ(Run1(MakeNode(OpKind::kSqueeze, 2), 13, {x, I64({2})}).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(Run1(MakeNode(OpKind::kSqueeze, 1), 13, {x}).shape(), (Shape{3, 2}));
  std::vector<Tensor> out;
  ExpectNamesNode(RunOp(MakeNode(OpKind::kSqueeze, 2), 13, {x, I64({1})}, &out));
  axes.Set("axes", std::vector<int64_t>{0, -1});
  EXPECT_EQ(Run1(MakeNode(OpKind::kUnsqueeze, 1, 1, axes), 11, {Iota({3, 2})}).shape(),
            (Shape{1, 3, 2, 1}));
  Tensor u = Run1(MakeNode(OpKind::kUnsqueeze, 2), 13, {Iota({3, 2}), I64({1})});
  EXPECT_EQ(u.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(Values<float>(u), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  std::vector<ValueInfo> infos;
  ExpectNamesNode(InferConst(MakeNode(OpKind::kUnsqueeze, 2), 13, {Iota({3}), I64({0})}, &infos,
                             {false, true}));
}

TEST(TensorOpsTest, ShapeWithStartEnd) {
  const Tensor x = Tensor::Empty(DType::kFloat32, {2, 3, 4, 5});
  Tensor s = Run1(MakeNode(OpKind::kShape, 1), 13, {x});
  EXPECT_EQ(s.dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(s), (std::vector<int64_t>{2, 3, 4, 5}));
  Attributes a;
  a.Set("start", int64_t{1});
  a.Set("end", int64_t{-1});
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kShape, 1, 1, a), 15, {x})),
            (std::vector<int64_t>{3, 4}));
  std::vector<ValueInfo> infos;
  ShapeContext ctx{nullptr, {{DType::kFloat32, {-1, -1, 4, 5}, true}}, {nullptr}, 15};
  Node node = MakeNode(OpKind::kShape, 1, 1, a);
  ctx.node = &node;
  ASSERT_TRUE(FindSchema(OpKind::kShape)->infer_shape(ctx, &infos).ok());
  EXPECT_EQ(infos[0].shape, (Shape{2}));
  EXPECT_EQ(infos[0].dtype, DType::kInt64);
}

TEST(TensorOpsTest, GatherAxesAndNegativeIndices) {
  const Tensor x = Iota({3, 2});
  Tensor g = Run1(MakeNode(OpKind::kGather, 2), 13,
                  {x, Tensor::FromVector<int64_t>({2, -3, 1, 1}, {2, 2})});
  EXPECT_EQ(g.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(Values<float>(g), (std::vector<float>{4, 5, 0, 1, 2, 3, 2, 3}));
  Attributes a;
  a.Set("axis", int64_t{1});
  g = Run1(MakeNode(OpKind::kGather, 2, 1, a), 13, {x, Tensor::Scalar<int32_t>(-1)});
  EXPECT_EQ(g.shape(), (Shape{3}));
  EXPECT_EQ(Values<float>(g), (std::vector<float>{1, 3, 5}));
  std::vector<Tensor> out;
  Status s = RunOp(MakeNode(OpKind::kGather, 2), 13, {x, I64({3})}, &out);
  ExpectNamesNode(s);
  EXPECT_NE(s.message().find("3"), std::string::npos);
  std::vector<ValueInfo> infos;
  ExpectNamesNode(InferConst(MakeNode(OpKind::kGather, 2), 13, {x, I64({-4})}, &infos));
}

TEST(TensorOpsTest, ConstantOfShapeRangeExpandTile) {
  Tensor c = Run1(MakeNode(OpKind::kConstantOfShape, 1), 13, {I64({2, 3})});
  EXPECT_EQ(c.dtype(), DType::kFloat32);
  EXPECT_EQ(Values<float>(c), std::vector<float>(6, 0.0f));
  Attributes v;
  v.Set("value", Tensor::FromVector<int64_t>({7}, {1}));
  c = Run1(MakeNode(OpKind::kConstantOfShape, 1, 1, v), 13, {I64({2})});
  EXPECT_EQ(Values<int64_t>(c), (std::vector<int64_t>{7, 7}));
  std::vector<ValueInfo> infos;
  ASSERT_TRUE(
      InferConst(MakeNode(OpKind::kConstantOfShape, 1, 1, v), 13, {I64({4, 1})}, &infos, {true})
          .ok());
  EXPECT_EQ(infos[0].shape, (Shape{-1, -1}));
  EXPECT_EQ(infos[0].dtype, DType::kInt64);

  Tensor r =
      Run1(MakeNode(OpKind::kRange, 3), 13,
           {Tensor::Scalar<int64_t>(10), Tensor::Scalar<int64_t>(3), Tensor::Scalar<int64_t>(-3)});
  EXPECT_EQ(Values<int64_t>(r), (std::vector<int64_t>{10, 7, 4}));
  r = Run1(MakeNode(OpKind::kRange, 3), 13,
           {Tensor::Scalar<float>(0.5f), Tensor::Scalar<float>(2.0f), Tensor::Scalar<float>(0.5f)});
  EXPECT_EQ(Values<float>(r), (std::vector<float>{0.5f, 1.0f, 1.5f}));
  ASSERT_TRUE(InferConst(MakeNode(OpKind::kRange, 3), 13,
                         {Tensor::Scalar<int32_t>(0), Tensor::Scalar<int32_t>(5),
                          Tensor::Scalar<int32_t>(2)},
                         &infos)
                  .ok());
  EXPECT_EQ(infos[0].shape, (Shape{3}));

  Tensor e = Run1(MakeNode(OpKind::kExpand, 2), 13, {F({1, 2, 3}, {3, 1}), I64({2, 1, 2})});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(Values<float>(e), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  ExpectNamesNode(
      InferConst(MakeNode(OpKind::kExpand, 2), 13, {F({1}, {1}), I64({3})}, &infos, {false, true}));
  Tensor t = Run1(MakeNode(OpKind::kTile, 2), 13, {Iota({2, 2}), I64({1, 2})});
  EXPECT_EQ(t.shape(), (Shape{2, 4}));
  EXPECT_EQ(Values<float>(t), (std::vector<float>{0, 1, 0, 1, 2, 3, 2, 3}));
  t = Run1(MakeNode(OpKind::kTile, 2), 13, {Iota({2}), I64({3})});
  EXPECT_EQ(Values<float>(t), (std::vector<float>{0, 1, 0, 1, 0, 1}));
}

TEST(TensorOpsTest, Reductions) {
  const Tensor x = F({1, 2, 3, 4, 5, 6}, {2, 3});
  Attributes a;
  a.Set("axes", std::vector<int64_t>{-1});
  Tensor m = Run1(MakeNode(OpKind::kReduceMean, 1, 1, a), 13, {x});
  EXPECT_EQ(m.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(m), (std::vector<float>{2, 5}));
  a.Set("keepdims", int64_t{0});
  a.Set("axes", std::vector<int64_t>{0});
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kReduceMax, 1, 1, a), 13, {x})),
            (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kReduceMin, 1, 1, a), 13, {x})),
            (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kReduceProd, 1, 1, a), 13, {x})),
            (std::vector<float>{4, 10, 18}));
  Tensor l2 = Run1(MakeNode(OpKind::kReduceL2, 1), 13, {F({3, 4}, {2})});
  EXPECT_EQ(l2.shape(), (Shape{1}));
  EXPECT_FLOAT_EQ(l2.data<float>()[0], 5.0f);
  // ReduceSum: axes is an input from opset 13; absent axes reduces everything.
  Tensor s = Run1(MakeNode(OpKind::kReduceSum, 2), 13, {x, I64({1})});
  EXPECT_EQ(Values<float>(s), (std::vector<float>{6, 15}));
  Tensor all = Run1(MakeNode(OpKind::kReduceSum, 1), 13, {x});
  EXPECT_EQ(all.shape(), (Shape{1, 1}));
  EXPECT_EQ(all.data<float>()[0], 21.0f);
  Attributes noop;
  noop.Set("noop_with_empty_axes", int64_t{1});
  EXPECT_EQ(Run1(MakeNode(OpKind::kReduceSum, 1, 1, noop), 13, {x}).shape(), (Shape{2, 3}));
  Tensor isum = Run1(MakeNode(OpKind::kReduceSum, 2), 13,
                     {Tensor::FromVector<int64_t>({1, 2, 3, 4}, {2, 2}), I64({0})});
  EXPECT_EQ(Values<int64_t>(isum), (std::vector<int64_t>{4, 6}));
  std::vector<ValueInfo> infos;
  ExpectNamesNode(
      InferConst(MakeNode(OpKind::kReduceSum, 2), 13, {x, I64({1})}, &infos, {false, true}));
}

TEST(TensorOpsTest, ArgMax) {
  const Tensor x = F({1, 9, 9, 4, 0, 2}, {2, 3});
  Attributes a;
  a.Set("axis", int64_t{1});
  Tensor r = Run1(MakeNode(OpKind::kArgMax, 1, 1, a), 13, {x});
  EXPECT_EQ(r.dtype(), DType::kInt64);
  EXPECT_EQ(r.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<int64_t>(r), (std::vector<int64_t>{1, 0}));
  a.Set("select_last_index", int64_t{1});
  a.Set("keepdims", int64_t{0});
  r = Run1(MakeNode(OpKind::kArgMax, 1, 1, a), 13, {x});
  EXPECT_EQ(r.shape(), (Shape{2}));
  EXPECT_EQ(Values<int64_t>(r), (std::vector<int64_t>{2, 0}));
}

// x.view(x.size(0), -1) as exported by PyTorch: Shape -> Gather(0) -> Unsqueeze -> Concat with
// [-1] -> Reshape, each step through the reference kernels and shape rules.
TEST(TensorOpsTest, PyTorchShapeChain) {
  const Tensor x = Iota({2, 3, 4, 5});
  const Tensor shape = Run1(MakeNode(OpKind::kShape, 1), 13, {x});
  const Tensor dim0 = Run1(MakeNode(OpKind::kGather, 2), 13, {shape, Tensor::Scalar<int64_t>(0)});
  EXPECT_EQ(dim0.shape(), Shape{});
  EXPECT_EQ(dim0.data<int64_t>()[0], 2);
  const Tensor unsq = Run1(MakeNode(OpKind::kUnsqueeze, 2), 13, {dim0, I64({0})});
  EXPECT_EQ(unsq.shape(), (Shape{1}));
  Attributes axis0;
  axis0.Set("axis", int64_t{0});
  const Tensor target = Run1(MakeNode(OpKind::kConcat, 2, 1, axis0), 13, {unsq, I64({-1})});
  EXPECT_EQ(Values<int64_t>(target), (std::vector<int64_t>{2, -1}));
  std::vector<ValueInfo> infos;
  ASSERT_TRUE(InferConst(MakeNode(OpKind::kReshape, 2), 13, {x, target}, &infos).ok());
  EXPECT_EQ(infos[0].shape, (Shape{2, 60}));
  const Tensor y = Run1(MakeNode(OpKind::kReshape, 2), 13, {x, target});
  EXPECT_EQ(y.shape(), (Shape{2, 60}));
  EXPECT_EQ(Values<float>(y), Values<float>(x));
  // Opset 11 spelling of the same Unsqueeze (axes attribute).
  Attributes axes;
  axes.Set("axes", std::vector<int64_t>{0});
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kUnsqueeze, 1, 1, axes), 11, {dim0})),
            (std::vector<int64_t>{2}));
}

}  // namespace
}  // namespace edgeinfer

// Elementwise op family: hand-computed values, broadcasting, dtypes, opset variants, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/half.h"
#include "edgeinfer/tensor.h"
#include "ops/op_registry.h"
#include "ops_test_util.h"

namespace edgeinfer {
namespace {

Status Infer(const Node& node, int64_t opset, const std::vector<ValueInfo>& infos,
             std::vector<ValueInfo>* outputs) {
  ShapeContext ctx{&node, infos, std::vector<const Tensor*>(infos.size(), nullptr), opset};
  return FindSchema(node.op)->infer_shape(ctx, outputs);
}

std::vector<bool> Bools(const Tensor& t) {
  std::vector<bool> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(t.data<uint8_t>()[i] != 0);
  return v;
}

Tensor I64(std::vector<int64_t> v, Shape s) { return Tensor::FromVector<int64_t>(v, std::move(s)); }

// Float results of transcendental functions: 1e-6 relative covers float rounding of libm
// results (a few ulp) while catching any formula error.
void ExpectNear(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-6 * std::max(1.0f, std::fabs(expected[i])))
        << "at " << i;
  }
}

TEST(ElementwiseTest, EveryOpIsRegisteredAndPointwise) {
  for (OpKind op :
       {OpKind::kRelu,     OpKind::kLeakyRelu,   OpKind::kPRelu,     OpKind::kClip,
        OpKind::kSigmoid,  OpKind::kHardSigmoid, OpKind::kHardSwish, OpKind::kTanh,
        OpKind::kAdd,      OpKind::kSub,         OpKind::kMul,       OpKind::kDiv,
        OpKind::kPow,      OpKind::kSqrt,        OpKind::kExp,       OpKind::kErf,
        OpKind::kLog,      OpKind::kAbs,         OpKind::kNeg,       OpKind::kReciprocal,
        OpKind::kFloor,    OpKind::kCeil,        OpKind::kSin,       OpKind::kCos,
        OpKind::kSoftplus, OpKind::kElu,         OpKind::kSelu,      OpKind::kMish,
        OpKind::kMax,      OpKind::kMin,         OpKind::kSum,       OpKind::kMean,
        OpKind::kEqual,    OpKind::kLess,        OpKind::kGreater,   OpKind::kNot,
        OpKind::kWhere,    OpKind::kCast,        OpKind::kDropout,   OpKind::kIdentity}) {
    const OpSchema* s = FindSchema(op);
    ASSERT_NE(s, nullptr) << OpName(op);
    EXPECT_EQ(s->spatial, SpatialKind::kPointwise) << OpName(op);
    EXPECT_NE(s->infer_shape, nullptr);
    EXPECT_NE(s->reference, nullptr);
  }
}

TEST(ElementwiseTest, ActivationValues) {
  const Tensor x = F({-2.0f, -0.5f, 0.0f, 1.0f, 4.0f}, {5});
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kRelu, 1), 13, {x})),
            (std::vector<float>{0, 0, 0, 1, 4}));
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kLeakyRelu, 1), 13, {x})),
             {-0.02f, -0.005f, 0, 1, 4});
  Attributes hs;
  hs.Set("alpha", 0.25f);
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kHardSigmoid, 1, 1, hs), 13, {x})),
             {0.0f, 0.375f, 0.5f, 0.75f, 1.0f});
  // x * clamp(x/6 + 1/2, 0, 1): -2 -> -2/6, -0.5 -> -0.5*(5/12), 1 -> 2/3, 4 -> 4.
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kHardSwish, 1), 13, {x})),
             {-1.0f / 3.0f, -0.5f * 5.0f / 12.0f, 0.0f, 2.0f / 3.0f, 4.0f});
  std::vector<float> sig, elu, selu, softplus, mish;
  for (float v : Values<float>(x)) {
    sig.push_back(1.0f / (1.0f + std::exp(-v)));
    elu.push_back(v > 0 ? v : std::exp(v) - 1.0f);
    selu.push_back(v > 0 ? 1.05070102214813232421875f * v
                         : 1.05070102214813232421875f * 1.67326319217681884765625f *
                               (std::exp(v) - 1.0f));
    softplus.push_back(std::log(1.0f + std::exp(v)));
    mish.push_back(v * std::tanh(std::log(1.0f + std::exp(v))));
  }
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kSigmoid, 1), 13, {x})), sig);
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kElu, 1), 13, {x})), elu);
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kSelu, 1), 13, {x})), selu);
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kSoftplus, 1), 13, {x})), softplus);
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kMish, 1), 13, {x})), mish);
  // Sigmoid of large magnitudes stays finite and saturates.
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kSigmoid, 1), 13, {F({-100.f, 100.f}, {2})})),
             {0.0f, 1.0f});
}

TEST(ElementwiseTest, MathValues) {
  const Tensor x = F({0.25f, 1.0f, 2.5f}, {3});
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kSqrt, 1), 13, {x})), {0.5f, 1.0f, 1.5811388f});
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kReciprocal, 1), 13, {x})), {4.0f, 1.0f, 0.4f});
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kLog, 1), 13, {x})),
             {std::log(0.25f), 0.0f, std::log(2.5f)});
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kExp, 1), 13, {x})),
             {std::exp(0.25f), std::exp(1.0f), std::exp(2.5f)});
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kErf, 1), 13, {x})),
             {std::erf(0.25f), std::erf(1.0f), std::erf(2.5f)});
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kSin, 1), 13, {x})),
             {std::sin(0.25f), std::sin(1.0f), std::sin(2.5f)});
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kCos, 1), 13, {x})),
             {std::cos(0.25f), std::cos(1.0f), std::cos(2.5f)});
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kTanh, 1), 13, {x})),
             {std::tanh(0.25f), std::tanh(1.0f), std::tanh(2.5f)});
  const Tensor y = F({-1.5f, -0.0f, 2.5f}, {3});
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kFloor, 1), 13, {y})),
            (std::vector<float>{-2, 0, 2}));
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kCeil, 1), 13, {y})),
            (std::vector<float>{-1, 0, 3}));
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kAbs, 1), 13, {y})),
            (std::vector<float>{1.5f, 0, 2.5f}));
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kNeg, 1), 13, {y})),
            (std::vector<float>{1.5f, 0, -2.5f}));
}

TEST(ElementwiseTest, IntegerUnaryOps) {
  const Tensor x = I64({-3, 0, 5, std::numeric_limits<int64_t>::min()}, {4});
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kRelu, 1), 14, {x})),
            (std::vector<int64_t>{0, 0, 5, 0}));
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kNeg, 1), 13, {x})),
            (std::vector<int64_t>{3, 0, -5, std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kAbs, 1), 13, {x})),
            (std::vector<int64_t>{3, 0, 5, std::numeric_limits<int64_t>::min()}));
  std::vector<Tensor> out;
  Status s = RunOp(MakeNode(OpKind::kSqrt, 1), 13, {x}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("node_under_test"), std::string::npos) << s.message();
}

TEST(ElementwiseTest, AddBroadcasts234With31) {
  std::vector<float> av(24), bv = {10, 20, 30};
  for (int i = 0; i < 24; ++i) av[i] = static_cast<float>(i);
  Tensor out = Run1(MakeNode(OpKind::kAdd, 2), 13, {F(av, {2, 3, 4}), F(bv, {3, 1})});
  ASSERT_EQ(out.shape(), (Shape{2, 3, 4}));
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) {
        const int idx = (i * 3 + j) * 4 + k;
        EXPECT_EQ(out.data<float>()[idx], av[idx] + bv[j]);
      }
    }
  }
  // Both operands broadcast: (3,1) - (1,2) -> (3,2).
  Tensor sub = Run1(MakeNode(OpKind::kSub, 2), 13, {F({1, 2, 3}, {3, 1}), F({10, 20}, {1, 2})});
  EXPECT_EQ(sub.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<float>(sub), (std::vector<float>{-9, -19, -8, -18, -7, -17}));
}

TEST(ElementwiseTest, ScalarAndEmptyBroadcasts) {
  Tensor s = Run1(MakeNode(OpKind::kMul, 2), 13, {Tensor::Scalar<float>(2.0f), F({1, 2, 3}, {3})});
  EXPECT_EQ(s.shape(), (Shape{3}));
  EXPECT_EQ(Values<float>(s), (std::vector<float>{2, 4, 6}));
  Tensor scalar = Run1(MakeNode(OpKind::kAdd, 2), 13,
                       {Tensor::Scalar<float>(2.0f), Tensor::Scalar<float>(3.0f)});
  EXPECT_EQ(scalar.shape(), Shape{});
  EXPECT_EQ(scalar.data<float>()[0], 5.0f);
  Tensor empty = Run1(MakeNode(OpKind::kAdd, 2), 13,
                      {Tensor::Empty(DType::kFloat32, {0, 3}), F({1, 2, 3}, {1, 3})});
  EXPECT_EQ(empty.shape(), (Shape{0, 3}));
  std::vector<ValueInfo> infos;
  ASSERT_TRUE(Infer(MakeNode(OpKind::kAdd, 2), 13,
                    {{DType::kFloat32, {0, 3}, true}, {DType::kFloat32, {1}, true}}, &infos)
                  .ok());
  EXPECT_EQ(infos[0].shape, (Shape{0, 3}));
}

// The fast paths (equal shapes, per-channel operand) on a tensor large enough to thread must
// agree exactly with a plain loop.
TEST(ElementwiseTest, LargePerChannelAndEqualShapes) {
  const int64_t c = 64, hw = 112 * 112;
  std::vector<float> xv(static_cast<size_t>(c * hw)), bias(static_cast<size_t>(c));
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>(i % 977) * 0.5f - 100.0f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<float>(i) * 0.25f;
  const Tensor x = F(xv, {1, c, 112, 112});
  Tensor y = Run1(MakeNode(OpKind::kMul, 2), 13, {x, F(bias, {1, c, 1, 1})});
  Tensor z = Run1(MakeNode(OpKind::kAdd, 2), 13, {x, x});
  Tensor r = Run1(MakeNode(OpKind::kRelu, 1), 13, {x});
  for (int64_t i = 0; i < c * hw; ++i) {
    ASSERT_EQ(y.data<float>()[i], xv[i] * bias[i / hw]) << i;
    ASSERT_EQ(z.data<float>()[i], xv[i] + xv[i]) << i;
    ASSERT_EQ(r.data<float>()[i], std::max(xv[i], 0.0f)) << i;
  }
}

TEST(ElementwiseTest, Int64ArithmeticLikeShapeSubgraphs) {
  const Tensor a = I64({7, -7, 9, 100}, {4});
  const Tensor b = I64({2, 2, -4, 3}, {4});
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kDiv, 2), 13, {a, b})),
            (std::vector<int64_t>{3, -3, -2, 33}));
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kMul, 2), 13, {a, b})),
            (std::vector<int64_t>{14, -14, -36, 300}));
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kSub, 2), 13, {a, b})),
            (std::vector<int64_t>{5, -9, 13, 97}));
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kAdd, 2), 13, {a, I64({1}, {})})),
            (std::vector<int64_t>{8, -6, 10, 101}));
  Tensor i32 = Run1(MakeNode(OpKind::kDiv, 2), 13,
                    {Tensor::FromVector<int32_t>({-9, 9}, {2}), Tensor::Scalar<int32_t>(4)});
  EXPECT_EQ(Values<int32_t>(i32), (std::vector<int32_t>{-2, 2}));
  std::vector<Tensor> out;
  Status s = RunOp(MakeNode(OpKind::kDiv, 2), 13, {a, I64({0}, {1})}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("node_under_test"), std::string::npos);
  // Mixed dtypes are rejected.
  s = RunOp(MakeNode(OpKind::kAdd, 2), 13, {a, F({1}, {1})}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

TEST(ElementwiseTest, PowFloatAndInt) {
  ExpectNear(Values<float>(
                 Run1(MakeNode(OpKind::kPow, 2), 13, {F({2, 9, 4}, {3}), F({3, 0.5f, -1}, {3})})),
             {8.0f, 3.0f, 0.25f});
  // Float base with an int64 exponent (allowed since opset 12).
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kPow, 2), 13, {F({1.5f, -2}, {2}), I64({2}, {})})),
             {2.25f, 4.0f});
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kPow, 2), 13,
                                 {I64({3, -2, 10, 2}, {4}), I64({4, 3, 15, -1}, {4})})),
            (std::vector<int64_t>{81, -8, 1000000000000000, 0}));
}

TEST(ElementwiseTest, VariadicMaxMinSumMean) {
  const Tensor a = F({1, 5, 3}, {3});
  const Tensor b = F({4}, {1});
  const Tensor c = F({2, 2, 9}, {3});
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kMax, 3), 13, {a, b, c})),
            (std::vector<float>{4, 5, 9}));
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kMin, 3), 13, {a, b, c})),
            (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kSum, 3), 13, {a, b, c})),
            (std::vector<float>{7, 11, 16}));
  ExpectNear(Values<float>(Run1(MakeNode(OpKind::kMean, 3), 13, {a, b, c})),
             {7.0f / 3, 11.0f / 3, 16.0f / 3});
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kSum, 1), 13, {a})), Values<float>(a));
  EXPECT_EQ(Values<int64_t>(Run1(MakeNode(OpKind::kMax, 2), 13, {I64({-1, 7}, {2}), I64({3}, {})})),
            (std::vector<int64_t>{3, 7}));
  std::vector<ValueInfo> infos;
  ASSERT_TRUE(Infer(MakeNode(OpKind::kSum, 3), 13,
                    {{DType::kFloat32, {2, 1, 4}, true},
                     {DType::kFloat32, {3, 1}, true},
                     {DType::kFloat32, {-1, 1, 1}, true}},
                    &infos)
                  .ok());
  EXPECT_EQ(infos[0].shape, (Shape{2, 3, 4}));
}

TEST(ElementwiseTest, ComparisonsNotAndWhere) {
  const Tensor a = I64({1, 2, 3}, {3});
  const Tensor b = I64({2}, {});
  Tensor eq = Run1(MakeNode(OpKind::kEqual, 2), 13, {a, b});
  EXPECT_EQ(eq.dtype(), DType::kBool);
  EXPECT_EQ(Bools(eq), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(Bools(Run1(MakeNode(OpKind::kLess, 2), 13, {a, b})),
            (std::vector<bool>{true, false, false}));
  EXPECT_EQ(Bools(Run1(MakeNode(OpKind::kGreater, 2), 13, {F({0.5f, 3}, {2}), F({1}, {1})})),
            (std::vector<bool>{false, true}));
  Tensor t = Tensor::FromVector<bool>({true, false}, {2});
  EXPECT_EQ(Bools(Run1(MakeNode(OpKind::kEqual, 2), 13, {t, Tensor::Scalar<bool>(false)})),
            (std::vector<bool>{false, true}));
  EXPECT_EQ(Bools(Run1(MakeNode(OpKind::kNot, 1), 13, {t})), (std::vector<bool>{false, true}));
  // Where: cond (2,1), x (1,3), y scalar -> (2,3).
  Tensor w = Run1(
      MakeNode(OpKind::kWhere, 3), 13,
      {Tensor::FromVector<bool>({true, false}, {2, 1}), I64({1, 2, 3}, {1, 3}), I64({-1}, {})});
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<int64_t>(w), (std::vector<int64_t>{1, 2, 3, -1, -1, -1}));
  std::vector<ValueInfo> infos;
  ASSERT_TRUE(Infer(MakeNode(OpKind::kLess, 2), 13,
                    {{DType::kInt64, {-1, 3}, true}, {DType::kInt64, {1}, true}}, &infos)
                  .ok());
  EXPECT_EQ(infos[0].dtype, DType::kBool);
  EXPECT_EQ(infos[0].shape, (Shape{-1, 3}));
  ASSERT_TRUE(Infer(MakeNode(OpKind::kWhere, 3), 13,
                    {{DType::kBool, {4, 1}, true},
                     {DType::kFloat32, {1, 5}, true},
                     {DType::kFloat32, {}, true}},
                    &infos)
                  .ok());
  EXPECT_EQ(infos[0].dtype, DType::kFloat32);
  EXPECT_EQ(infos[0].shape, (Shape{4, 5}));
}

TEST(ElementwiseTest, ClipAttributesBeforeOpset11InputsAfter) {
  const Tensor x = F({-5, 0.5f, 9}, {3});
  Attributes attrs;
  attrs.Set("min", 0.0f);
  attrs.Set("max", 6.0f);
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kClip, 1, 1, attrs), 6, {x})),
            (std::vector<float>{0, 0.5f, 6}));
  EXPECT_EQ(Values<float>(Run1(MakeNode(OpKind::kClip, 3), 13,
                               {x, Tensor::Scalar<float>(-1), Tensor::Scalar<float>(1)})),
            (std::vector<float>{-1, 0.5f, 1}));
  // Omitted min: only an upper bound.
  Node only_max = MakeNode(OpKind::kClip, 3);
  only_max.inputs[1] = kNoValue;
  EXPECT_EQ(Values<float>(Run1(only_max, 13, {x, Tensor(), Tensor::Scalar<float>(1)})),
            (std::vector<float>{-5, 0.5f, 1}));
  EXPECT_EQ(
      Values<int64_t>(Run1(MakeNode(OpKind::kClip, 2), 13, {I64({-3, 4}, {2}), I64({0}, {})})),
      (std::vector<int64_t>{0, 4}));
}

TEST(ElementwiseTest, PRelu) {
  Tensor y = Run1(MakeNode(OpKind::kPRelu, 2), 13,
                  {F({-1, 2, -3, 4}, {1, 2, 2, 1}), F({0.5f, 0.25f}, {2, 1, 1})});
  EXPECT_EQ(Values<float>(y), (std::vector<float>{-0.5f, 2, -0.75f, 4}));
  std::vector<ValueInfo> infos;
  Status s = Infer(MakeNode(OpKind::kPRelu, 2), 13,
                   {{DType::kFloat32, {1, 2, 2, 1}, true}, {DType::kFloat32, {3}, true}}, &infos);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

TEST(ElementwiseTest, CastDropoutIdentity) {
  Attributes to;
  to.Set("to", int64_t{7});
  Tensor c = Run1(MakeNode(OpKind::kCast, 1, 1, to), 13, {F({1.9f, -1.9f, 0}, {3})});
  EXPECT_EQ(c.dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(c), (std::vector<int64_t>{1, -1, 0}));
  to.Set("to", int64_t{9});
  EXPECT_EQ(Bools(Run1(MakeNode(OpKind::kCast, 1, 1, to), 13, {I64({0, 3}, {2})})),
            (std::vector<bool>{false, true}));
  to.Set("to", int64_t{8});
  std::vector<ValueInfo> infos;
  EXPECT_EQ(
      Infer(MakeNode(OpKind::kCast, 1, 1, to), 13, {{DType::kFloat32, {2}, true}}, &infos).code(),
      StatusCode::kUnimplemented);

  const Tensor x = F({1, 2}, {2});
  std::vector<Tensor> out;
  ASSERT_TRUE(RunOp(MakeNode(OpKind::kDropout, 1, 2), 13, {x}, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Values<float>(out[0]), Values<float>(x));
  EXPECT_EQ(out[1].dtype(), DType::kBool);
  EXPECT_EQ(Bools(out[1]), (std::vector<bool>{true, true}));
  Status s = RunOp(MakeNode(OpKind::kDropout, 3), 13,
                   {x, Tensor::Scalar<float>(0.5f), Tensor::Scalar<bool>(true)}, &out);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  Tensor id = Run1(MakeNode(OpKind::kIdentity, 1), 13, {x});
  EXPECT_NE(id.raw_data(), x.raw_data());
  EXPECT_EQ(Values<float>(id), Values<float>(x));
}

TEST(ElementwiseTest, Float16RunsThroughFloat32) {
  auto a = F({1.5f, -2.0f}, {2}).CastTo(DType::kFloat16);
  auto b = F({0.25f}, {1}).CastTo(DType::kFloat16);
  ASSERT_TRUE(a.ok() && b.ok());
  Tensor y = Run1(MakeNode(OpKind::kAdd, 2), 13, {*a, *b});
  EXPECT_EQ(y.dtype(), DType::kFloat16);
  EXPECT_EQ(HalfToFloat(y.data<uint16_t>()[0]), 1.75f);
  EXPECT_EQ(HalfToFloat(y.data<uint16_t>()[1]), -1.75f);
}

TEST(ElementwiseTest, BadBroadcastNamesNodeAndShapes) {
  std::vector<ValueInfo> infos;
  Status s = Infer(MakeNode(OpKind::kAdd, 2), 13,
                   {{DType::kFloat32, {2, 3}, true}, {DType::kFloat32, {4}, true}}, &infos);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("node_under_test"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[2, 3]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[4]"), std::string::npos) << s.message();
  std::vector<Tensor> out;
  s = RunOp(MakeNode(OpKind::kMul, 2), 13, {F({1, 2}, {2}), F({1, 2, 3}, {3})}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("node_under_test"), std::string::npos);
  // Unknown dims broadcast against known ones; unknown rank stays unknown.
  ASSERT_TRUE(Infer(MakeNode(OpKind::kAdd, 2), 13,
                    {{DType::kFloat32, {-1, 3}, true}, {DType::kFloat32, {5, 1}, true}}, &infos)
                  .ok());
  EXPECT_EQ(infos[0].shape, (Shape{5, 3}));
  ASSERT_TRUE(Infer(MakeNode(OpKind::kAdd, 2), 13,
                    {{DType::kFloat32, {}, false}, {DType::kFloat32, {5, 1}, true}}, &infos)
                  .ok());
  EXPECT_FALSE(infos[0].rank_known);
}

}  // namespace
}  // namespace edgeinfer

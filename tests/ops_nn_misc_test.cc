// Normalizations, Gemm/MatMul, (Log)Softmax, Pad, Resize/Upsample and Depth/SpaceToDepth:
// hand-computed cases (ONNX spec examples), shape rules, errors and properties.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "ops_nn_test_util.h"

namespace edgeinfer::testing_nn {
namespace {

TEST(NormTest, BatchNormalizationInference) {
  // c0: (x - 1) / 2; c1: 2 (x - 3) / 1 + 1.
  Attributes a;
  a.Set("epsilon", 0.0f);
  Node bn = MakeNode(OpKind::kBatchNormalization, 5, a);
  ExpectNear(RunRef1(bn, {F({1, 2, 3, 4}, {1, 2, 1, 2}), F({1, 2}, {2}), F({0, 1}, {2}),
                          F({1, 3}, {2}), F({4, 1}, {2})}),
             {0, 0.5f, 1, 3}, {1, 2, 1, 2});
  std::vector<ValueInfo> out;
  std::vector<ValueInfo> in = {Info({1, 2, 4, 4}), Info({2}), Info({2}), Info({2}), Info({2})};
  ExpectError(Infer(MakeNode(OpKind::kBatchNormalization, 5, {}, 3), in, &out),
              StatusCode::kUnimplemented, "training");
  in[3] = Info({3});
  ExpectError(Infer(bn, in, &out), StatusCode::kInvalidArgument, "input_mean");
}

TEST(NormTest, InstanceNormalization) {
  // mean 2.5, variance 1.25: y = 2 (x - 2.5) / sqrt(1.25) + 1.
  Attributes a;
  a.Set("epsilon", 0.0f);
  ExpectNear(RunRef1(MakeNode(OpKind::kInstanceNormalization, 3, a),
                     {F({1, 2, 3, 4}, {1, 1, 1, 4}), F({2}, {1}), F({1}, {1})}),
             {-1.6832816f, 0.1055728f, 1.8944272f, 3.6832816f}, {1, 1, 1, 4});
}

TEST(NormTest, LayerNormalizationWithStatistics) {
  // Rows [1, 3] (mean 2, std 1) and [2, 6] (mean 4, std 2) both normalize to [-1, 1];
  // scale [2, 3] and bias [1, 0] give [-1, 3].
  Attributes a;
  a.Set("epsilon", 0.0f);
  Node ln = MakeNode(OpKind::kLayerNormalization, 3, a, 3);
  std::vector<Tensor> out;
  ASSERT_TRUE(RunRef(ln, {F({1, 3, 2, 6}, {2, 2}), F({2, 3}, {2}), F({1, 0}, {2})}, &out, 17).ok());
  ExpectNear(out[0], {-1, 3, -1, 3}, {2, 2});
  ExpectNear(out[1], {2, 4}, {2, 1});
  ExpectNear(out[2], {1, 0.5f}, {2, 1});
  // axis 0 normalizes everything: mean 3, variance 3.5.
  a.Set("axis", int64_t{0});
  const float s = 1.0f / std::sqrt(3.5f);
  ExpectNear(RunRef1(MakeNode(OpKind::kLayerNormalization, 2, a),
                     {F({1, 3, 2, 6}, {2, 2}), F({1}, {1})}, 17),
             {-2 * s, 0, -s, 3 * s}, {2, 2});
  std::vector<ValueInfo> infos;
  ExpectError(Infer(MakeNode(OpKind::kLayerNormalization, 2), {Info({2, 3}), Info({2})}, &infos),
              StatusCode::kInvalidArgument, "Scale");
}

// x = [1, 2, 3] over channels, alpha/size = 1, beta 1, bias 1.
TEST(NormTest, LrnWindowFollowsSpec) {
  Attributes a;
  a.Set("size", int64_t{2});  // window [c, c + 1]
  a.Set("alpha", 2.0f);
  a.Set("beta", 1.0f);
  Tensor x = F({1, 2, 3}, {1, 3, 1, 1});
  ExpectNear(RunRef1(MakeNode(OpKind::kLRN, 1, a), {x}), {1.0f / 6, 2.0f / 14, 3.0f / 10},
             {1, 3, 1, 1});
  a.Set("size", int64_t{3});  // window [c - 1, c + 1]
  a.Set("alpha", 3.0f);
  ExpectNear(RunRef1(MakeNode(OpKind::kLRN, 1, a), {x}), {1.0f / 6, 2.0f / 15, 3.0f / 14},
             {1, 3, 1, 1});
}

// A = [[1, 2, 3], [4, 5, 6]], B = [[1, 0], [0, 1], [1, 1]]: AB = [[4, 5], [10, 11]];
// alpha 2, beta 0.5, C = [10, 20] broadcast over rows.
TEST(LinearTest, GemmTransposesAndBroadcastsC) {
  Tensor a = F({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor at = F({1, 4, 2, 5, 3, 6}, {3, 2});
  Tensor b = F({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor bt = F({1, 0, 1, 0, 1, 1}, {2, 3});
  Tensor c = F({10, 20}, {2});
  const std::vector<float> want = {13, 20, 25, 32};
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      Attributes attrs;
      attrs.Set("alpha", 2.0f);
      attrs.Set("beta", 0.5f);
      attrs.Set("transA", int64_t{ta});
      attrs.Set("transB", int64_t{tb});
      ExpectNear(RunRef1(MakeNode(OpKind::kGemm, 3, attrs), {ta ? at : a, tb ? bt : b, c}), want,
                 {2, 2});
    }
  }
  ExpectNear(RunRef1(MakeNode(OpKind::kGemm, 3), {a, b, F({1}, {})}), {5, 6, 11, 12}, {2, 2});
  ExpectNear(RunRef1(MakeNode(OpKind::kGemm, 2), {a, b}), {4, 5, 10, 11}, {2, 2});
  std::vector<ValueInfo> out;
  ExpectError(Infer(MakeNode(OpKind::kGemm, 2), {Info({2, 3}), Info({2, 2})}, &out),
              StatusCode::kInvalidArgument, "[2, 3]");
  ExpectError(Infer(MakeNode(OpKind::kGemm, 3), {Info({2, 3}), Info({3, 2}), Info({3, 2})}, &out),
              StatusCode::kInvalidArgument, "C");
}

TEST(LinearTest, MatMulPromotionAndBatchBroadcast) {
  Tensor v = F({1, 2, 3}, {3});
  ExpectNear(RunRef1(MakeNode(OpKind::kMatMul, 2), {v, v}), {14}, {});
  Tensor m = F({1, 0, 0, 1, 1, 1}, {3, 2});
  ExpectNear(RunRef1(MakeNode(OpKind::kMatMul, 2), {v, m}), {4, 5}, {2});
  ExpectNear(RunRef1(MakeNode(OpKind::kMatMul, 2), {F({1, 2, 3, 4, 5, 6}, {2, 3}), v}), {14, 32},
             {2});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kMatMul, 2), {Info({2, 1, 4, 3}), Info({5, 3, 7})}),
            (Shape{2, 5, 4, 7}));
  EXPECT_EQ(InferShape(MakeNode(OpKind::kMatMul, 2), {Info({-1, 4, 3}), Info({3})}),
            (Shape{-1, 4}));
  std::vector<ValueInfo> out;
  ExpectError(Infer(MakeNode(OpKind::kMatMul, 2), {Info({2, 4, 3}), Info({3, 3, 2})}, &out),
              StatusCode::kInvalidArgument, "batch");
  // Broadcast batch result equals the per-batch 2-D products. Tolerance: double accumulation
  // in both, one float rounding.
  std::mt19937 rng(1);
  Tensor a = Random({2, 1, 4, 3}, &rng);
  Tensor b = Random({3, 3, 5}, &rng);
  Tensor y = RunRef1(MakeNode(OpKind::kMatMul, 2), {a, b});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4, 5}));
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      std::vector<float> as(a.data<float>() + i * 12, a.data<float>() + (i + 1) * 12);
      std::vector<float> bs(b.data<float>() + j * 15, b.data<float>() + (j + 1) * 15);
      Tensor yij = RunRef1(MakeNode(OpKind::kMatMul, 2), {F(as, {4, 3}), F(bs, {3, 5})});
      std::vector<float> want(y.data<float>() + (i * 3 + j) * 20,
                              y.data<float>() + (i * 3 + j + 1) * 20);
      ExpectNear(yij, want, {4, 5}, 1e-6f);
    }
  }
}

// exp(x) = 1, 2, 3 -> softmax [1/6, 2/6, 3/6].
TEST(LinearTest, SoftmaxAxisSemanticsByOpset) {
  const float l2 = std::log(2.0f), l3 = std::log(3.0f);
  Tensor x = F({0, l2, l3, 0, l2, l3}, {1, 2, 3});
  const float s6 = 1.0f / 6, s12 = 1.0f / 12;
  // Opset 13: axis -1, each row of 3.
  ExpectNear(RunRef1(MakeNode(OpKind::kSoftmax, 1), {x}, 13),
             {s6, 2 * s6, 3 * s6, s6, 2 * s6, 3 * s6}, {1, 2, 3});
  // Opset 11: coerced to 2-D at axis 1, one group of 6.
  ExpectNear(RunRef1(MakeNode(OpKind::kSoftmax, 1), {x}, 11),
             {s12, 2 * s12, 3 * s12, s12, 2 * s12, 3 * s12}, {1, 2, 3});
  // Opset 13 axis 1: over the 2 equal rows.
  Attributes a;
  a.Set("axis", int64_t{1});
  ExpectNear(RunRef1(MakeNode(OpKind::kSoftmax, 1, a), {x}, 13), std::vector<float>(6, 0.5f),
             {1, 2, 3});
  ExpectNear(RunRef1(MakeNode(OpKind::kLogSoftmax, 1), {x}, 13),
             {std::log(s6), std::log(2 * s6), std::log(3 * s6), std::log(s6), std::log(2 * s6),
              std::log(3 * s6)},
             {1, 2, 3});
  std::vector<ValueInfo> out;
  a.Set("axis", int64_t{3});
  ExpectError(Infer(MakeNode(OpKind::kSoftmax, 1, a), {Info({1, 2, 3})}, &out),
              StatusCode::kInvalidArgument, "axis");
}

// ONNX Pad spec example data.
TEST(LayoutTest, PadModes) {
  Tensor x = F({1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f}, {3, 2});
  Tensor pads = I64({0, 2, 0, 0});
  Attributes a;
  ExpectNear(RunRef1(MakeNode(OpKind::kPad, 2), {x, pads}, 13),
             {0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f}, {3, 4});
  ExpectNear(RunRef1(MakeNode(OpKind::kPad, 3), {x, pads, F({7}, {})}, 13),
             {7, 7, 1.0f, 1.2f, 7, 7, 2.3f, 3.4f, 7, 7, 4.5f, 5.7f}, {3, 4});
  a.Set("mode", std::string("reflect"));
  ExpectNear(RunRef1(MakeNode(OpKind::kPad, 2, a), {x, pads}, 13),
             {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f}, {3, 4});
  a.Set("mode", std::string("edge"));
  ExpectNear(RunRef1(MakeNode(OpKind::kPad, 2, a), {x, pads}, 13),
             {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f}, {3, 4});
  // Reflect beyond the edge keeps mirroring, as numpy does: pad [1, 2, 3] by 4 at the front.
  a.Set("mode", std::string("reflect"));
  ExpectNear(RunRef1(MakeNode(OpKind::kPad, 2, a), {F({1, 2, 3}, {3}), I64({4, 0})}, 13),
             {1, 2, 3, 2, 1, 2, 3}, {7});
  // Negative pads crop; opset 2 takes pads and value as attributes.
  Attributes old;
  old.Set("pads", std::vector<int64_t>{-1, 1, 0, -1});
  old.Set("value", 9.0f);
  ExpectNear(RunRef1(MakeNode(OpKind::kPad, 1, old), {x}, 2), {9, 2.3f, 9, 4.5f}, {2, 2});
}

TEST(LayoutTest, PadShapeNeedsConstantPads) {
  std::vector<ValueInfo> out;
  ExpectError(
      Infer(MakeNode(OpKind::kPad, 2), {Info({1, 3, 4, 4}), Info({8}, DType::kInt64)}, &out, 13),
      StatusCode::kInvalidArgument, "pads");
  Tensor pads = I64({0, 0, 1, 2, 0, 0, 3, 4});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kPad, 2), {Info({1, 3, -1, 4}), Info({8}, DType::kInt64)},
                       13, {nullptr, &pads}),
            (Shape{1, 3, -1, 10}));
  Tensor short_pads = I64({0, 1});
  ExpectError(Infer(MakeNode(OpKind::kPad, 2), {Info({1, 3, 4, 4}), Info({2}, DType::kInt64)}, &out,
                    13, {nullptr, &short_pads}),
              StatusCode::kInvalidArgument, "rank 4");
}

// Channel c of the spec's input holds 9c + 3h + w for h < 2, w < 3.
TEST(LayoutTest, DepthToSpaceSpecExampleAndRoundTrip) {
  std::vector<float> xv;
  for (int c = 0; c < 8; ++c) {
    for (int h = 0; h < 2; ++h) {
      for (int w = 0; w < 3; ++w) xv.push_back(9.0f * c + 3 * h + w);
    }
  }
  Tensor x = F(xv, {1, 8, 2, 3});
  Attributes a;
  a.Set("blocksize", int64_t{2});
  ExpectNear(RunRef1(MakeNode(OpKind::kDepthToSpace, 1, a), {x}),
             {0,  18, 1,  19, 2,  20, 36, 54, 37, 55, 38, 56, 3,  21, 4,  22,
              5,  23, 39, 57, 40, 58, 41, 59, 9,  27, 10, 28, 11, 29, 45, 63,
              46, 64, 47, 65, 12, 30, 13, 31, 14, 32, 48, 66, 49, 67, 50, 68},
             {1, 2, 4, 6});
  Attributes crd = a;
  crd.Set("mode", std::string("CRD"));
  ExpectNear(RunRef1(MakeNode(OpKind::kDepthToSpace, 1, crd), {x}),
             {0,  9,  1,  10, 2,  11, 18, 27, 19, 28, 20, 29, 3,  12, 4,  13,
              5,  14, 21, 30, 22, 31, 23, 32, 36, 45, 37, 46, 38, 47, 54, 63,
              55, 64, 56, 65, 39, 48, 40, 49, 41, 50, 57, 66, 58, 67, 59, 68},
             {1, 2, 4, 6});
  ExpectNear(RunRef1(MakeNode(OpKind::kSpaceToDepth, 1, a), {F({1, 2, 3, 4}, {1, 1, 2, 2})}),
             {1, 2, 3, 4}, {1, 4, 1, 1});
  Tensor space = RunRef1(MakeNode(OpKind::kDepthToSpace, 1, a), {x});
  ExpectNear(RunRef1(MakeNode(OpKind::kSpaceToDepth, 1, a), {space}), xv, {1, 8, 2, 3}, 0);
  std::vector<ValueInfo> out;
  ExpectError(Infer(MakeNode(OpKind::kDepthToSpace, 1, a), {Info({1, 6, 2, 2})}, &out),
              StatusCode::kInvalidArgument, "[1, 6, 2, 2]");
}

// Resize with constant scales (opset 13 layout: X, roi, scales, sizes).
Tensor ResizeScales(const Tensor& x, std::vector<float> scales, Attributes a = {},
                    int64_t opset = 13) {
  const auto n = static_cast<int64_t>(scales.size());
  return RunRef1(MakeNode(OpKind::kResize, 3, a), {x, Tensor(), F(scales, {n})}, opset);
}

Attributes Linear(const std::string& coord = "half_pixel") {
  Attributes a;
  a.Set("mode", std::string("linear"));
  a.Set("coordinate_transformation_mode", coord);
  return a;
}

// ONNX Resize spec examples.
TEST(ResizeTest, SpecExamplesNearestAndLinear) {
  Tensor x22 = F({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor x24 = F({1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 4});
  ExpectNear(ResizeScales(x22, {1, 1, 2, 3}),
             {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4},
             {1, 1, 4, 6});
  ExpectNear(ResizeScales(x24, {1, 1, 0.6f, 0.6f}), {1, 3}, {1, 1, 1, 2});
  ExpectNear(
      ResizeScales(x22, {1, 1, 2, 2}, Linear()),
      {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4},
      {1, 1, 4, 4});
  const float t = 1.0f / 3;
  ExpectNear(
      ResizeScales(x22, {1, 1, 2, 2}, Linear("align_corners")),
      {1, 1 + t, 2 - t, 2, 2 - t, 2, 2 + t, 3 - t, 2 + t, 3 - t, 3, 3 + t, 3, 3 + t, 4 - t, 4},
      {1, 1, 4, 4});
  ExpectNear(ResizeScales(x24, {1, 1, 0.6f, 0.6f}, Linear()), {2.6666667f, 4.3333333f},
             {1, 1, 1, 2});
  // sizes [1, 1, 1, 3]: scale 0.75; the tie at 1.5 resolves to floor.
  ExpectNear(RunRef1(MakeNode(OpKind::kResize, 4), {x24, Tensor(), F({}, {0}), I64({1, 1, 1, 3})}),
             {1, 2, 4}, {1, 1, 1, 3});
  // round_prefer_ceil resolves both ties (rows at 0.5, columns at 1.5) upwards.
  Attributes ceil;
  ceil.Set("nearest_mode", std::string("round_prefer_ceil"));
  ExpectNear(
      RunRef1(MakeNode(OpKind::kResize, 4, ceil), {x24, Tensor(), F({}, {0}), I64({1, 1, 1, 3})}),
      {5, 7, 8}, {1, 1, 1, 3});
}

TEST(ResizeTest, LegacyResizeAndUpsample) {
  Tensor x22 = F({1, 2, 3, 4}, {1, 1, 2, 2});
  const std::vector<float> repeated = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                       3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
  ExpectNear(RunRef1(MakeNode(OpKind::kUpsample, 2), {x22, F({1, 1, 2, 3}, {4})}, 9), repeated,
             {1, 1, 4, 6});
  Attributes a;
  a.Set("scales", std::vector<float>{1, 1, 2, 3});
  ExpectNear(RunRef1(MakeNode(OpKind::kUpsample, 1, a), {x22}, 7), repeated, {1, 1, 4, 6});
  // Opset 10 Resize downsampling rounds up: [[1, 3]] from the 2x4 spec input.
  ExpectNear(RunRef1(MakeNode(OpKind::kResize, 2),
                     {F({1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 4}), F({1, 1, 0.6f, 0.6f}, {4})}, 10),
             {1, 3}, {1, 1, 1, 2});
  // Upsample linear is asymmetric: x / 2 -> [1, 1.5, 2, 2] along each row.
  Attributes lin;
  lin.Set("mode", std::string("linear"));
  ExpectNear(RunRef1(MakeNode(OpKind::kUpsample, 2, lin),
                     {F({1, 2}, {1, 1, 1, 2}), F({1, 1, 1, 2}, {4})}, 9),
             {1, 1.5f, 2, 2}, {1, 1, 1, 4});
}

TEST(ResizeTest, Properties) {
  std::mt19937 rng(4);
  Tensor x = Random({1, 2, 5, 4}, &rng);
  // Nearest with integer scales repeats each pixel: half_pixel with the default rounding, and
  // asymmetric with floor (asymmetric rounding would move 2/3 to the next pixel).
  for (const char* coord : {"half_pixel", "asymmetric"}) {
    Attributes a;
    a.Set("coordinate_transformation_mode", std::string(coord));
    if (std::string(coord) == "asymmetric") a.Set("nearest_mode", std::string("floor"));
    Tensor y = ResizeScales(x, {1, 1, 3, 2}, a);
    ASSERT_EQ(y.shape(), (Shape{1, 2, 15, 8}));
    for (int64_t c = 0; c < 2; ++c) {
      for (int64_t i = 0; i < 15; ++i) {
        for (int64_t j = 0; j < 8; ++j) {
          ASSERT_EQ(y.data<float>()[(c * 15 + i) * 8 + j],
                    x.data<float>()[(c * 5 + i / 3) * 4 + j / 2])
              << coord;
        }
      }
    }
  }
  // align_corners linear keeps the four corners of every plane, for up- and downsampling.
  // Tolerance: the corner weight is exactly 0 or 1 in float coordinates.
  for (std::vector<int64_t> sizes : {std::vector<int64_t>{1, 2, 9, 7}, {1, 2, 3, 2}}) {
    Tensor y = RunRef1(MakeNode(OpKind::kResize, 4, Linear("align_corners")),
                       {x, Tensor(), Tensor(), I64(sizes)});
    const int64_t oh = sizes[2], ow = sizes[3];
    for (int64_t c = 0; c < 2; ++c) {
      const float* xp = x.data<float>() + c * 20;
      const float* yp = y.data<float>() + c * oh * ow;
      EXPECT_FLOAT_EQ(yp[0], xp[0]);
      EXPECT_FLOAT_EQ(yp[ow - 1], xp[3]);
      EXPECT_FLOAT_EQ(yp[(oh - 1) * ow], xp[16]);
      EXPECT_FLOAT_EQ(yp[oh * ow - 1], xp[19]);
    }
  }
}

TEST(ResizeTest, ShapeRulesAndErrors) {
  Tensor scales = F({1, 1, 2, 1.5f}, {4});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kResize, 3), {Info({1, 3, -1, 5}), Info({0}), Info({4})},
                       13, {nullptr, nullptr, &scales}),
            (Shape{1, 3, -1, 7}));
  Tensor sizes = I64({1, 3, 10, 10});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kResize, 4),
                       {Info({1, 3, -1, 5}), Info({0}), Info({0}), Info({4}, DType::kInt64)}, 13,
                       {nullptr, nullptr, nullptr, &sizes}),
            (Shape{1, 3, 10, 10}));
  std::vector<ValueInfo> out;
  ExpectError(Infer(MakeNode(OpKind::kResize, 3), {Info({1, 3, 4, 4}), Info({0}), Info({4})}, &out),
              StatusCode::kInvalidArgument, "scales");
  Attributes cubic;
  cubic.Set("mode", std::string("cubic"));
  ExpectError(Infer(MakeNode(OpKind::kResize, 3, cubic), {Info({1, 3, 4, 4}), Info({0}), Info({4})},
                    &out, 13, {nullptr, nullptr, &scales}),
              StatusCode::kUnimplemented, "cubic");
  Attributes crop;
  crop.Set("coordinate_transformation_mode", std::string("tf_crop_and_resize"));
  ExpectError(Infer(MakeNode(OpKind::kResize, 3, crop), {Info({1, 3, 4, 4}), Info({0}), Info({4})},
                    &out, 13, {nullptr, nullptr, &scales}),
              StatusCode::kUnimplemented, "tf_crop_and_resize");
  Tensor three = F({1, 2, 2}, {3});
  ExpectError(Infer(MakeNode(OpKind::kResize, 3), {Info({1, 3, 4, 4}), Info({0}), Info({3})}, &out,
                    13, {nullptr, nullptr, &three}),
              StatusCode::kInvalidArgument, "rank 4");
}

// Replacing every input row outside InputRows with noise leaves output rows [b, e) unchanged.
TEST(ResizeTest, InputRowsSuffice) {
  std::mt19937 rng(12);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const char* coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                          "tf_half_pixel_for_nn"};
  for (int trial = 0; trial < 60; ++trial) {
    Attributes a = trial % 2 ? Linear(coords[trial % 5]) : Attributes();
    if (trial % 2 == 0) a.Set("coordinate_transformation_mode", std::string(coords[trial % 5]));
    const int64_t h = pick(2, 12);
    Tensor x = Random({1, 2, h, 3}, &rng);
    const float sh = std::uniform_real_distribution<float>(0.3f, 3.5f)(rng);
    Node node = MakeNode(OpKind::kResize, 3, a);
    std::vector<Tensor> inputs = {x, Tensor(), F({1, 1, sh, 1.0f}, {4})};
    Tensor full = RunRef1(node, inputs);
    if (full.empty() || full.dim(2) == 0) continue;
    const int64_t oh = full.dim(2);
    const int64_t b = pick(0, static_cast<int>(oh) - 1);
    const int64_t e = pick(static_cast<int>(b) + 1, static_cast<int>(oh));
    const RowRange rows = FindSchema(OpKind::kResize)->input_rows(node, h, oh, {b, e});
    // Not absurdly loose: about (e - b) / scale rows plus a small margin.
    EXPECT_LE(rows.size(), static_cast<int64_t>((e - b) / sh) + 6);
    Tensor noisy = x.Clone();
    for (int64_t c = 0; c < 2; ++c) {
      for (int64_t r = 0; r < h; ++r) {
        if (r >= rows.begin && r < rows.end) continue;
        for (int64_t j = 0; j < 3; ++j) noisy.data<float>()[(c * h + r) * 3 + j] = 100.0f + r;
      }
    }
    Tensor y = RunRef1(node, {noisy, Tensor(), inputs[2]});
    for (int64_t c = 0; c < 2; ++c) {
      for (int64_t i = (c * oh + b) * 3; i < (c * oh + e) * 3; ++i) {
        ASSERT_EQ(y.data<float>()[i], full.data<float>()[i])
            << "trial " << trial << " scale " << sh << " rows [" << b << ", " << e
            << ") read outside [" << rows.begin << ", " << rows.end << ")";
      }
    }
  }
}

}  // namespace
}  // namespace edgeinfer::testing_nn

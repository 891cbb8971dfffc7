// Conv, ConvTranspose and pooling: hand-computed cases (ONNX spec examples), shape rules,
// properties, and the spatial (row band) rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "ops/nn_util.h"
#include "ops_nn_test_util.h"

namespace edgeinfer::testing_nn {
namespace {

// Sums of 3x3 windows of arange(25) reshaped 5x5 (ONNX Conv spec example).
TEST(ConvTest, SpecExamplePaddedAndStrided) {
  Tensor x = Iota({1, 1, 5, 5});
  Tensor w = F(std::vector<float>(9, 1.0f), {1, 1, 3, 3});
  Attributes a;
  a.Set("kernel_shape", std::vector<int64_t>{3, 3});
  a.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  ExpectNear(RunRef1(MakeNode(OpKind::kConv, 2, a), {x, w}),
             {12,  21, 27, 33,  24,  33,  54,  63, 72,  51,  63,  99, 108,
              117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84},
             {1, 1, 5, 5});
  a.Set("pads", std::vector<int64_t>{0, 0, 0, 0});
  ExpectNear(RunRef1(MakeNode(OpKind::kConv, 2, a), {x, w}),
             {54, 63, 72, 99, 108, 117, 144, 153, 162}, {1, 1, 3, 3});
  a.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a.Set("strides", std::vector<int64_t>{2, 2});
  ExpectNear(RunRef1(MakeNode(OpKind::kConv, 2, a), {x, w}), {12, 27, 24, 63, 108, 81, 72, 117, 84},
             {1, 1, 3, 3});
}

TEST(ConvTest, BiasDilationAndOneDimensional) {
  // Dilation 2 with a 2x2 ones kernel: y[i][j] = x[i][j] + x[i][j+2] + x[i+2][j] + x[i+2][j+2]
  // = 4 * (5i + j) + 24 for x = arange(25); bias 1 adds 1.
  Tensor x = Iota({1, 1, 5, 5});
  Attributes a;
  a.Set("dilations", std::vector<int64_t>{2, 2});
  Tensor y =
      RunRef1(MakeNode(OpKind::kConv, 3, a), {x, F({1, 1, 1, 1}, {1, 1, 2, 2}), F({1}, {1})});
  std::vector<float> want;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) want.push_back(4.0f * (5 * i + j) + 25);
  }
  ExpectNear(y, want, {1, 1, 3, 3});
  // 1-D difference filter over two output channels.
  Tensor y1 = RunRef1(MakeNode(OpKind::kConv, 2),
                      {F({1, 2, 4, 8, 16}, {1, 1, 5}), F({1, -1, 0, 2}, {2, 1, 2})});
  ExpectNear(y1, {-1, -2, -4, -8, 4, 8, 16, 32}, {1, 2, 4});
}

// auto_pad with an odd total padding: SAME_UPPER puts the extra zero at the end, SAME_LOWER at
// the beginning. x = 1..5, w = [1, 10]: UPPER y[i] = x[i] + 10 x[i+1], LOWER y[i] = x[i-1] +
// 10 x[i].
TEST(ConvTest, AutoPadSameUpperAndLower) {
  Tensor x = F({1, 2, 3, 4, 5}, {1, 1, 1, 5});
  Tensor w = F({1, 10}, {1, 1, 1, 2});
  Attributes a;
  a.Set("auto_pad", std::string("SAME_UPPER"));
  ExpectNear(RunRef1(MakeNode(OpKind::kConv, 2, a), {x, w}), {21, 32, 43, 54, 5}, {1, 1, 1, 5});
  a.Set("auto_pad", std::string("SAME_LOWER"));
  ExpectNear(RunRef1(MakeNode(OpKind::kConv, 2, a), {x, w}), {10, 21, 32, 43, 54}, {1, 1, 1, 5});
  a.Set("auto_pad", std::string("VALID"));
  ExpectNear(RunRef1(MakeNode(OpKind::kConv, 2, a), {x, w}), {21, 32, 43, 54}, {1, 1, 1, 4});
}

TEST(ConvTest, ShapeRules) {
  Node conv = MakeNode(OpKind::kConv, 2);
  EXPECT_EQ(InferShape(conv, {Info({1, 3, 224, 224}), Info({64, 3, 7, 7})}),
            (Shape{1, 64, 218, 218}));
  Attributes a;
  a.Set("strides", std::vector<int64_t>{2, 2});
  a.Set("pads", std::vector<int64_t>{3, 2, 3, 2});  // asymmetric: top 3, left 2, bottom 3, right 2
  EXPECT_EQ(
      InferShape(MakeNode(OpKind::kConv, 2, a), {Info({1, 3, 224, 224}), Info({64, 3, 7, 7})}),
      (Shape{1, 64, 112, 111}));
  // Unknown batch and height stay unknown; width is still computed.
  EXPECT_EQ(
      InferShape(MakeNode(OpKind::kConv, 2, a), {Info({-1, 3, -1, 224}), Info({64, 3, 7, 7})}),
      (Shape{-1, 64, -1, 111}));
  Attributes same;
  same.Set("auto_pad", std::string("SAME_LOWER"));
  same.Set("strides", std::vector<int64_t>{2, 3});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kConv, 2, same), {Info({2, 4, 9, 10}), Info({8, 4, 3, 3})}),
            (Shape{2, 8, 5, 4}));
  // Depthwise.
  Attributes dw;
  dw.Set("group", int64_t{32});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kConv, 3, dw),
                       {Info({1, 32, 8, 8}), Info({32, 1, 3, 3}), Info({32})}),
            (Shape{1, 32, 6, 6}));
}

TEST(ConvTest, ShapeErrorsNameNodeAndShapes) {
  std::vector<ValueInfo> out;
  Attributes g2;
  g2.Set("group", int64_t{2});
  ExpectError(Infer(MakeNode(OpKind::kConv, 2, g2), {Info({1, 6, 8, 8}), Info({4, 2, 3, 3})}, &out),
              StatusCode::kInvalidArgument, "[4, 2, 3, 3]");
  ExpectError(Infer(MakeNode(OpKind::kConv, 2), {Info({1, 6, 8, 8}), Info({4, 2, 3, 3})}, &out),
              StatusCode::kInvalidArgument, "[1, 6, 8, 8]");
  ExpectError(
      Infer(MakeNode(OpKind::kConv, 3), {Info({1, 2, 8, 8}), Info({4, 2, 3, 3}), Info({3})}, &out),
      StatusCode::kInvalidArgument, "B");
  ExpectError(Infer(MakeNode(OpKind::kConv, 2), {Info({1, 2, 8}), Info({4, 2, 3, 3})}, &out),
              StatusCode::kInvalidArgument, "ranks differ");
  ExpectError(Infer(MakeNode(OpKind::kConv, 2), {Info({1, 2, 2, 2}), Info({4, 2, 3, 3})}, &out),
              StatusCode::kInvalidArgument, "exceeds");
  ExpectError(Infer(MakeNode(OpKind::kConv, 2),
                    {Info({1, 2, 8, 8}, DType::kFloat64), Info({4, 2, 3, 3})}, &out),
              StatusCode::kUnimplemented, "float64");
  Attributes bad;
  bad.Set("auto_pad", std::string("SAME"));
  ExpectError(
      Infer(MakeNode(OpKind::kConv, 2, bad), {Info({1, 2, 8, 8}), Info({4, 2, 3, 3})}, &out),
      StatusCode::kInvalidArgument, "auto_pad");
  // The reference kernel validates through the same rule.
  std::vector<Tensor> y;
  ExpectError(RunRef(MakeNode(OpKind::kConv, 2), {Iota({1, 6, 4, 4}), Iota({1, 2, 3, 3})}, &y),
              StatusCode::kInvalidArgument, "W");
}

// Direct 7-loop convolution (independent of the kernel's loop structure).
std::vector<float> DirectConv(const Tensor& x, const Tensor& w, const nn::Window& win,
                              int64_t group) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t m = w.dim(0), kh = w.dim(2), kw = w.dim(3), cg = c / group, mg = m / group;
  const int64_t oh = win.out[0], ow = win.out[1];
  std::vector<float> y;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t o = 0; o < m; ++o) {
      for (int64_t i = 0; i < oh; ++i) {
        for (int64_t j = 0; j < ow; ++j) {
          double sum = 0;
          for (int64_t ci = 0; ci < cg; ++ci) {
            for (int64_t ky = 0; ky < kh; ++ky) {
              for (int64_t kx = 0; kx < kw; ++kx) {
                int64_t iy = i * win.strides[0] - win.pads_begin[0] + ky * win.dilations[0];
                int64_t ix = j * win.strides[1] - win.pads_begin[1] + kx * win.dilations[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                sum += double{x.data<float>()[((b * c + (o / mg) * cg + ci) * h + iy) * wd + ix]} *
                       w.data<float>()[((o * cg + ci) * kh + ky) * kw + kx];
              }
            }
          }
          y.push_back(static_cast<float>(sum));
        }
      }
    }
  }
  return y;
}

Attributes RandomWindowAttrs(std::mt19937* rng, int64_t kh, int64_t kw, bool allow_same) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(*rng); };
  Attributes a;
  a.Set("kernel_shape", std::vector<int64_t>{kh, kw});
  a.Set("strides", std::vector<int64_t>{pick(1, 3), pick(1, 2)});
  a.Set("dilations", std::vector<int64_t>{pick(1, 2), pick(1, 2)});
  const char* modes[] = {"NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
  std::string mode = modes[pick(0, allow_same ? 4 : 1)];
  a.Set("auto_pad", mode);
  if (mode == "NOTSET") {
    a.Set("pads", std::vector<int64_t>{
                      pick(0, static_cast<int>(kh) - 1), pick(0, static_cast<int>(kw) - 1),
                      pick(0, static_cast<int>(kh) - 1), pick(0, static_cast<int>(kw) - 1)});
  }
  return a;
}

// Random shapes, strides, dilations, asymmetric pads, auto_pad and groups against the direct
// loop. Tolerance: both accumulate in double and round once, so results agree to float
// rounding of the final sum.
TEST(ConvTest, MatchesDirectLoopOnRandomConfigs) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t group = pick(1, 3), cg = pick(1, 3), mg = pick(1, 3);
    const int64_t kh = pick(1, 3), kw = pick(1, 3);
    Attributes a = RandomWindowAttrs(&rng, kh, kw, true);
    a.Set("group", group);
    Tensor x = Random({pick(1, 2), group * cg, pick(6, 11), pick(6, 11)}, &rng);
    Tensor w = Random({group * mg, cg, kh, kw}, &rng);
    Node node = MakeNode(OpKind::kConv, 2, a);
    auto win = nn::ComputeWindow(node, {x.dim(2), x.dim(3)}, {kh, kw}, false);
    ASSERT_TRUE(win.ok()) << win.status().ToString();
    Tensor y = RunRef1(node, {x, w});
    ExpectNear(y, DirectConv(x, w, *win, group), {x.dim(0), group * mg, win->out[0], win->out[1]},
               1e-5f);
  }
}

// A grouped conv is the channel concatenation of independent convs on each group's slice.
TEST(ConvTest, GroupedEqualsConcatenationOfPerGroupConvs) {
  std::mt19937 rng(11);
  const int64_t group = 3, cg = 2, mg = 2;
  Tensor x = Random({1, group * cg, 7, 6}, &rng);
  Tensor w = Random({group * mg, cg, 3, 3}, &rng);
  Attributes a;
  a.Set("group", group);
  a.Set("pads", std::vector<int64_t>{1, 0, 2, 1});
  Tensor y = RunRef1(MakeNode(OpKind::kConv, 2, a), {x, w});
  a.Set("group", int64_t{1});
  const int64_t plane_in = 7 * 6, plane_out = y.dim(2) * y.dim(3);
  for (int64_t g = 0; g < group; ++g) {
    std::vector<float> xs(x.data<float>() + g * cg * plane_in,
                          x.data<float>() + (g + 1) * cg * plane_in);
    std::vector<float> ws(w.data<float>() + g * mg * cg * 9,
                          w.data<float>() + (g + 1) * mg * cg * 9);
    Tensor yg =
        RunRef1(MakeNode(OpKind::kConv, 2, a), {F(xs, {1, cg, 7, 6}), F(ws, {mg, cg, 3, 3})});
    for (int64_t i = 0; i < mg * plane_out; ++i) {
      EXPECT_FLOAT_EQ(yg.data<float>()[i], y.data<float>()[g * mg * plane_out + i]);
    }
  }
}

// ONNX ConvTranspose spec example: 3x3 arange input, 3x3 ones kernel, two output channels.
TEST(ConvTransposeTest, SpecExample) {
  Tensor y = RunRef1(MakeNode(OpKind::kConvTranspose, 2),
                     {Iota({1, 1, 3, 3}), F(std::vector<float>(18, 1.0f), {1, 2, 3, 3})});
  std::vector<float> plane = {0,  1,  3, 3,  2,  3,  8,  15, 12, 7,  9,  21, 36,
                              27, 15, 9, 20, 33, 24, 13, 6,  13, 21, 15, 8};
  std::vector<float> want = plane;
  want.insert(want.end(), plane.begin(), plane.end());
  ExpectNear(y, want, {1, 2, 5, 5});
  // With bias and a 1-D stride-2 case: x = [1, 2], w = [1, 10, 100], s = 2:
  // y = [1, 10, 100 + 2, 20, 200] + 0.5.
  Attributes a;
  a.Set("strides", std::vector<int64_t>{2});
  ExpectNear(RunRef1(MakeNode(OpKind::kConvTranspose, 3, a),
                     {F({1, 2}, {1, 1, 2}), F({1, 10, 100}, {1, 1, 3}), F({0.5f}, {1})}),
             {1.5f, 10.5f, 102.5f, 20.5f, 200.5f}, {1, 1, 5});
}

TEST(ConvTransposeTest, ShapeRules) {
  std::vector<ValueInfo> in = {Info({1, 1, 3, 3}), Info({1, 2, 3, 3})};
  Attributes a;
  a.Set("strides", std::vector<int64_t>{3, 2});
  a.Set("pads", std::vector<int64_t>{1, 2, 1, 2});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kConvTranspose, 2, a), in), (Shape{1, 2, 7, 3}));
  a.Set("pads", std::vector<int64_t>{0, 0, 0, 0});
  a.Set("output_padding", std::vector<int64_t>{1, 1});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kConvTranspose, 2, a), in), (Shape{1, 2, 10, 8}));
  Attributes os;
  os.Set("strides", std::vector<int64_t>{3, 2});
  os.Set("output_shape", std::vector<int64_t>{10, 8});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kConvTranspose, 2, os), in), (Shape{1, 2, 10, 8}));
  Attributes same;
  same.Set("strides", std::vector<int64_t>{2, 2});
  same.Set("auto_pad", std::string("SAME_UPPER"));
  EXPECT_EQ(InferShape(MakeNode(OpKind::kConvTranspose, 2, same), in), (Shape{1, 2, 6, 6}));
  Attributes g;
  g.Set("group", int64_t{2});
  EXPECT_EQ(
      InferShape(MakeNode(OpKind::kConvTranspose, 2, g), {Info({1, 4, -1, 5}), Info({4, 3, 2, 2})}),
      (Shape{1, 6, -1, 6}));
  std::vector<ValueInfo> out;
  ExpectError(
      Infer(MakeNode(OpKind::kConvTranspose, 2), {Info({1, 3, 4, 4}), Info({2, 2, 3, 3})}, &out),
      StatusCode::kInvalidArgument, "[2, 2, 3, 3]");
}

// output_shape with SAME_UPPER puts the odd padding at the end: the kept window starts at the
// first full output, so y equals the un-padded result cropped from the beginning.
TEST(ConvTransposeTest, OutputShapeCropsFromPads) {
  Tensor x = F({1, 2}, {1, 1, 2});
  Tensor w = F({1, 10, 100}, {1, 1, 3});
  Attributes a;
  a.Set("strides", std::vector<int64_t>{2});
  a.Set("output_shape", std::vector<int64_t>{4});  // full is 5: total pad 1
  // NOTSET: pads_begin = 1 - 1/2 = 1 -> [10, 102, 20, 200].
  ExpectNear(RunRef1(MakeNode(OpKind::kConvTranspose, 2, a), {x, w}), {10, 102, 20, 200},
             {1, 1, 4});
  a.Set("auto_pad", std::string("SAME_UPPER"));
  // SAME_UPPER: pads_begin = 1/2 = 0 -> [1, 10, 102, 20].
  ExpectNear(RunRef1(MakeNode(OpKind::kConvTranspose, 2, a), {x, w}), {1, 10, 102, 20}, {1, 1, 4});
}

double Dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += double{a.data<float>()[i]} * b.data<float>()[i];
  return s;
}

// ConvTranspose is the adjoint of Conv for the same weights: <Conv(x), y> == <x, ConvT(y)>,
// with output_padding chosen so ConvT's output has x's size. Tolerance: sums of a few hundred
// products of values in [-1, 1], relative 1e-5.
TEST(ConvTransposeTest, IsAdjointOfConv) {
  std::mt19937 rng(3);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 30; ++trial) {
    const int64_t group = pick(1, 2), cg = pick(1, 3), mg = pick(1, 3);
    const int64_t kh = pick(1, 3), kw = pick(1, 3);
    Attributes a = RandomWindowAttrs(&rng, kh, kw, false);
    a.Set("group", group);
    Tensor x = Random({1, group * cg, pick(5, 9), pick(5, 9)}, &rng);
    Tensor w = Random({group * mg, cg, kh, kw}, &rng);
    Node conv = MakeNode(OpKind::kConv, 2, a);
    auto win = nn::ComputeWindow(conv, {x.dim(2), x.dim(3)}, {kh, kw}, false);
    ASSERT_TRUE(win.ok());
    Tensor cx = RunRef1(conv, {x, w});
    Tensor y = Random(cx.shape(), &rng);
    std::vector<int64_t> out_pad;
    for (int d = 0; d < 2; ++d) {
      int64_t ek = (win->kernel[d] - 1) * win->dilations[d] + 1;
      out_pad.push_back((x.dim(2 + d) + win->pads_begin[d] + win->pads_end[d] - ek) %
                        win->strides[d]);
    }
    Attributes t = a;
    t.Set("output_padding", out_pad);
    Tensor ty = RunRef1(MakeNode(OpKind::kConvTranspose, 2, t), {y, w});
    ASSERT_EQ(ty.shape(), x.shape());
    const double lhs = Dot(cx, y), rhs = Dot(x, ty);
    EXPECT_NEAR(lhs, rhs, 1e-5 * (1 + std::abs(lhs))) << "trial " << trial;
  }
}

Attributes PoolAttrs(std::vector<int64_t> k, std::vector<int64_t> s = {},
                     std::vector<int64_t> pads = {}) {
  Attributes a;
  a.Set("kernel_shape", k);
  if (!s.empty()) a.Set("strides", s);
  if (!pads.empty()) a.Set("pads", pads);
  return a;
}

TEST(PoolTest, MaxPoolSpecExamples) {
  Tensor x = Iota({1, 1, 5, 5}, 1);
  ExpectNear(RunRef1(MakeNode(OpKind::kMaxPool, 1, PoolAttrs({5, 5}, {}, {2, 2, 2, 2})), {x}),
             {13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25,
              25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25},
             {1, 1, 5, 5});
  Attributes same = PoolAttrs({3, 3}, {2, 2});
  same.Set("auto_pad", std::string("SAME_UPPER"));
  ExpectNear(RunRef1(MakeNode(OpKind::kMaxPool, 1, same), {x}), {7, 9, 10, 17, 19, 20, 22, 24, 25},
             {1, 1, 3, 3});
  // SAME_LOWER with a 2x2 kernel pads top/left only: each window ends at its own pixel.
  Attributes lower = PoolAttrs({2, 2});
  lower.Set("auto_pad", std::string("SAME_LOWER"));
  ExpectNear(RunRef1(MakeNode(OpKind::kMaxPool, 1, lower), {x}), Values(x), {1, 1, 5, 5});
  Tensor x4 = Iota({1, 1, 4, 4}, 1);
  Attributes ceil = PoolAttrs({3, 3}, {2, 2});
  ceil.Set("ceil_mode", int64_t{1});
  ExpectNear(RunRef1(MakeNode(OpKind::kMaxPool, 1, ceil), {x4}), {11, 12, 15, 16}, {1, 1, 2, 2});
  Attributes dil = PoolAttrs({2, 2});
  dil.Set("dilations", std::vector<int64_t>{2, 2});
  ExpectNear(RunRef1(MakeNode(OpKind::kMaxPool, 1, dil), {x4}), {11, 12, 15, 16}, {1, 1, 2, 2});
}

TEST(PoolTest, MaxPoolShapeRulesAndErrors) {
  Attributes ceil = PoolAttrs({2}, {2}, {0, 1});
  ceil.Set("ceil_mode", int64_t{1});
  // span 4 + 1 - 2 = 3 -> ceil(3/2) + 1 = 3 windows, but the third would start at 4, inside the
  // end padding, so it is dropped.
  EXPECT_EQ(InferShape(MakeNode(OpKind::kMaxPool, 1, ceil), {Info({1, 1, 4})}), (Shape{1, 1, 2}));
  ceil.Set("pads", std::vector<int64_t>{1, 1});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kMaxPool, 1, ceil), {Info({1, 1, 4})}), (Shape{1, 1, 3}));
  EXPECT_EQ(InferShape(MakeNode(OpKind::kMaxPool, 1, PoolAttrs({3, 3}, {2, 2})),
                       {Info({-1, 64, 112, -1})}),
            (Shape{-1, 64, 55, -1}));
  std::vector<ValueInfo> out;
  std::vector<Tensor> y;
  ExpectError(RunRef(MakeNode(OpKind::kMaxPool, 1, PoolAttrs({2, 2}), 2), {Iota({1, 1, 4, 4})}, &y),
              StatusCode::kUnimplemented, "Indices");
  ExpectError(Infer(MakeNode(OpKind::kMaxPool, 1), {Info({1, 1, 4, 4})}, &out),
              StatusCode::kInvalidArgument, "kernel_shape");
  ExpectError(Infer(MakeNode(OpKind::kAveragePool, 1, PoolAttrs({2})), {Info({1, 1, 4, 4})}, &out),
              StatusCode::kInvalidArgument, "[1, 1, 4, 4]");
  // An omitted Indices output (kNoValue) is fine.
  Node two = MakeNode(OpKind::kMaxPool, 1, PoolAttrs({2, 2}), 2);
  two.outputs[1] = kNoValue;
  EXPECT_TRUE(RunRef(two, {Iota({1, 1, 4, 4})}, &y).ok());
}

// x = [[1, 2], [3, 4]], 2x2 windows with one pixel of padding all around.
TEST(PoolTest, AveragePoolCountIncludePad) {
  Tensor x = F({1, 2, 3, 4}, {1, 1, 2, 2});
  Attributes a = PoolAttrs({2, 2}, {}, {1, 1, 1, 1});
  ExpectNear(RunRef1(MakeNode(OpKind::kAveragePool, 1, a), {x}),
             {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4}, {1, 1, 3, 3});
  a.Set("count_include_pad", int64_t{1});
  ExpectNear(RunRef1(MakeNode(OpKind::kAveragePool, 1, a), {x}),
             {0.25f, 0.75f, 0.5f, 1, 2.5f, 1.5f, 0.75f, 1.75f, 1}, {1, 1, 3, 3});
  // ceil_mode: the last window [4, 6) of x = 1..5 holds one real pixel and reaches past the
  // (zero) end padding, so it averages one value even with count_include_pad.
  Attributes c = PoolAttrs({2}, {2});
  c.Set("ceil_mode", int64_t{1});
  c.Set("count_include_pad", int64_t{1});
  ExpectNear(RunRef1(MakeNode(OpKind::kAveragePool, 1, c), {F({1, 2, 3, 4, 5}, {1, 1, 5})}),
             {1.5f, 3.5f, 5}, {1, 1, 3});
}

TEST(PoolTest, GlobalPools) {
  Tensor x = F({1, 5, 3, 3, -1, -2, -3, -6}, {1, 2, 2, 2});
  ExpectNear(RunRef1(MakeNode(OpKind::kGlobalAveragePool, 1), {x}), {3, -3}, {1, 2, 1, 1});
  ExpectNear(RunRef1(MakeNode(OpKind::kGlobalMaxPool, 1), {x}), {5, -1}, {1, 2, 1, 1});
  EXPECT_EQ(InferShape(MakeNode(OpKind::kGlobalAveragePool, 1), {Info({-1, 8, -1, 7})}),
            (Shape{-1, 8, 1, 1}));
}

TEST(SpatialRuleTest, KindsAndExactWindowRows) {
  EXPECT_EQ(FindSchema(OpKind::kConv)->spatial, SpatialKind::kWindow);
  EXPECT_EQ(FindSchema(OpKind::kMaxPool)->spatial, SpatialKind::kWindow);
  EXPECT_EQ(FindSchema(OpKind::kAveragePool)->spatial, SpatialKind::kWindow);
  EXPECT_EQ(FindSchema(OpKind::kConvTranspose)->spatial, SpatialKind::kResize);
  EXPECT_EQ(FindSchema(OpKind::kResize)->spatial, SpatialKind::kResize);
  EXPECT_EQ(FindSchema(OpKind::kUpsample)->spatial, SpatialKind::kResize);
  EXPECT_EQ(FindSchema(OpKind::kBatchNormalization)->spatial, SpatialKind::kPointwise);
  EXPECT_EQ(FindSchema(OpKind::kLRN)->spatial, SpatialKind::kPointwise);
  for (OpKind k : {OpKind::kGemm, OpKind::kMatMul, OpKind::kGlobalAveragePool, OpKind::kSoftmax,
                   OpKind::kPad, OpKind::kDepthToSpace, OpKind::kInstanceNormalization}) {
    EXPECT_EQ(FindSchema(k)->spatial, SpatialKind::kNone) << OpName(k);
  }
  // k 3, stride 2, pad_top 1: rows [2, 4) read [2*2 - 1, 3*2 - 1 + 3) = [3, 8).
  Attributes a = PoolAttrs({3, 3}, {2, 2}, {1, 1, 1, 1});
  Node conv = MakeNode(OpKind::kConv, 2, a);
  RowRange r = FindSchema(OpKind::kConv)->input_rows(conv, 9, 5, {2, 4});
  EXPECT_EQ(r.begin, 3);
  EXPECT_EQ(r.end, 8);
  r = FindSchema(OpKind::kConv)->input_rows(conv, 9, 5, {0, 1});
  EXPECT_EQ(r.begin, -1);
  EXPECT_EQ(r.end, 2);
  // Without kernel_shape the extent comes from the heights: exact here (9 + 2 - 3 is even).
  Attributes no_k;
  no_k.Set("strides", std::vector<int64_t>{2, 2});
  no_k.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  r = FindSchema(OpKind::kConv)->input_rows(MakeNode(OpKind::kConv, 2, no_k), 9, 5, {2, 4});
  EXPECT_EQ(r.begin, 3);
  EXPECT_EQ(r.end, 8);
}

// Runs `node` on x restricted to the rows InputRows returns for output rows [b, e), with the
// rows outside the input supplied as the op's own padding, and checks the result equals those
// rows of the full output bit for bit (same arithmetic in the same order).
void CheckBand(const Node& node, const std::vector<Tensor>& inputs, const Tensor& full, int64_t b,
               int64_t e) {
  const Tensor& x = inputs[0];
  const int64_t h = x.dim(2), w = x.dim(3), oh = full.dim(2);
  const RowRange rows = FindSchema(node.op)->input_rows(node, h, oh, {b, e});
  const int64_t r0 = std::max<int64_t>(rows.begin, 0), r1 = std::min(rows.end, h);
  ASSERT_LT(r0, r1) << "band reads no real row";
  std::vector<int64_t> kernel = node.op == OpKind::kConv
                                    ? std::vector<int64_t>{inputs[1].dim(2), inputs[1].dim(3)}
                                    : node.attrs.GetInts("kernel_shape");
  const bool ceil_mode = node.attrs.GetInt("ceil_mode", 0) != 0;
  auto win = nn::ComputeWindow(node, {h, w}, kernel, ceil_mode);
  ASSERT_TRUE(win.ok());
  std::vector<float> band;
  for (int64_t nc = 0; nc < x.dim(0) * x.dim(1); ++nc) {
    const float* p = x.data<float>() + (nc * h + r0) * w;
    band.insert(band.end(), p, p + (r1 - r0) * w);
  }
  Node band_node = node;
  band_node.attrs.Set("auto_pad", std::string("NOTSET"));
  const int64_t bottom = std::min(std::max<int64_t>(rows.end - h, 0), win->pads_end[0]);
  band_node.attrs.Set("pads", std::vector<int64_t>{std::max<int64_t>(-rows.begin, 0),
                                                   win->pads_begin[1], bottom, win->pads_end[1]});
  std::vector<Tensor> band_inputs = inputs;
  band_inputs[0] = F(band, {x.dim(0), x.dim(1), r1 - r0, w});
  Tensor y = RunRef1(band_node, band_inputs);
  ASSERT_FALSE(y.empty());
  ASSERT_GE(y.dim(2), e - b) << "band too short";
  for (int64_t nc = 0; nc < full.dim(0) * full.dim(1); ++nc) {
    for (int64_t i = 0; i < (e - b) * full.dim(3); ++i) {
      ASSERT_EQ(y.data<float>()[nc * y.dim(2) * y.dim(3) + i],
                full.data<float>()[(nc * oh + b) * full.dim(3) + i])
          << OpName(node.op) << " rows [" << b << ", " << e << ") flat " << i;
    }
  }
}

TEST(SpatialRuleTest, WindowBandsReproduceFullOutput) {
  std::mt19937 rng(5);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t kh = pick(1, 4), kw = pick(1, 3);
    Attributes a = RandomWindowAttrs(&rng, kh, kw, true);
    OpKind kinds[] = {OpKind::kConv, OpKind::kMaxPool, OpKind::kAveragePool};
    OpKind op = kinds[trial % 3];
    std::vector<Tensor> inputs = {Random({1, 2, pick(8, 14), pick(6, 8)}, &rng)};
    if (op == OpKind::kConv) {
      inputs.push_back(Random({3, 2, kh, kw}, &rng));
      inputs.push_back(Random({3}, &rng));
    } else {
      a.Set("ceil_mode", int64_t{pick(0, 1)});
      a.Set("count_include_pad", int64_t{pick(0, 1)});
    }
    Node node = MakeNode(op, static_cast<int>(inputs.size()), a);
    Tensor full = RunRef1(node, inputs);
    ASSERT_FALSE(full.empty());
    const int64_t oh = full.dim(2);
    const int64_t b = pick(0, static_cast<int>(oh) - 1);
    const int64_t e = pick(static_cast<int>(b) + 1, static_cast<int>(oh));
    CheckBand(node, inputs, full, b, e);
    CheckBand(node, inputs, full, 0, oh);
  }
}

// For ops whose bands cannot be recomputed by re-padding (ConvTranspose, Resize): replacing
// every input row outside InputRows with noise must not change output rows [b, e).
void CheckRowsSuffice(const Node& node, const std::vector<Tensor>& inputs, int64_t opset,
                      std::mt19937* rng) {
  const Tensor& x = inputs[0];
  Tensor full = RunRef1(node, inputs, opset);
  ASSERT_FALSE(full.empty());
  const int64_t h = x.dim(2), oh = full.dim(2), row = full.dim(3);
  const int64_t b = std::uniform_int_distribution<int64_t>(0, oh - 1)(*rng);
  const int64_t e = std::uniform_int_distribution<int64_t>(b + 1, oh)(*rng);
  const RowRange rows = FindSchema(node.op)->input_rows(node, h, oh, {b, e});
  std::vector<Tensor> noisy = inputs;
  noisy[0] = x.Clone();
  std::uniform_real_distribution<float> noise(-50.0f, 50.0f);
  for (int64_t nc = 0; nc < x.dim(0) * x.dim(1); ++nc) {
    for (int64_t r = 0; r < h; ++r) {
      if (r >= rows.begin && r < rows.end) continue;
      for (int64_t c = 0; c < x.dim(3); ++c)
        noisy[0].data<float>()[(nc * h + r) * x.dim(3) + c] = noise(*rng);
    }
  }
  Tensor y = RunRef1(node, noisy, opset);
  for (int64_t nc = 0; nc < full.dim(0) * full.dim(1); ++nc) {
    for (int64_t i = (nc * oh + b) * row; i < (nc * oh + e) * row; ++i) {
      ASSERT_EQ(y.data<float>()[i], full.data<float>()[i])
          << OpName(node.op) << " rows [" << b << ", " << e << ") read outside [" << rows.begin
          << ", " << rows.end << ")";
    }
  }
}

TEST(SpatialRuleTest, ConvTransposeRowsSuffice) {
  std::mt19937 rng(9);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 30; ++trial) {
    const int64_t kh = pick(1, 4), kw = pick(1, 3);
    Attributes a = RandomWindowAttrs(&rng, kh, kw, true);
    if (trial % 2) a.Erase("kernel_shape");
    Tensor x = Random({1, 2, pick(3, 8), pick(3, 6)}, &rng);
    CheckRowsSuffice(MakeNode(OpKind::kConvTranspose, 2, a), {x, Random({2, 2, kh, kw}, &rng)}, 13,
                     &rng);
  }
}

}  // namespace
}  // namespace edgeinfer::testing_nn

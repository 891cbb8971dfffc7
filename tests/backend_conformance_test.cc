// Conformance: every op with a schema, in several randomised configurations from a fixed seed,
// run as a one-node graph on the reference and cpu backends; the results must agree.
//
// Float outputs are compared by relative L2 error ||cpu - ref|| / ||ref|| <= 1e-4: oneDNN sums
// conv/GEMM/pooling terms (up to ~5000 per output here) in a different order and uses
// vectorised exp/log/tanh approximations, which moves fp32 results by ~1e-6 relative; a wrong
// index, pad, layout or broadcast gives an error of order 1. Other dtypes must match exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <sstream>

#include "backend/registry.h"
#include "ir/graph.h"
#include "ops/op_registry.h"

namespace edgeinfer {
namespace {

constexpr double kTolerance = 1e-4;

struct Input {
  Tensor tensor;  // empty: an omitted optional input
  bool constant = false;
};

struct Case {
  OpKind op;
  std::string config = "";
  std::vector<Input> inputs = {};
  Attributes attrs = {};
  int num_outputs = 1;
  int64_t opset = 13;
};

using Ints = std::vector<int64_t>;

class Gen {
 public:
  std::mt19937 rng{20240601};
  int64_t Int(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  }
  bool Coin() { return Int(0, 1) == 1; }
  Tensor F(Shape shape, float lo = -1.f, float hi = 1.f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    Tensor t = Tensor::Empty(DType::kFloat32, std::move(shape));
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
    return t;
  }
  // Values away from zero (for divisors and reciprocals).
  Tensor NonZero(Shape shape) {
    Tensor t = F(std::move(shape), 0.5f, 2.f);
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (Coin()) t.data<float>()[i] = -t.data<float>()[i];
    }
    return t;
  }
  // Small integers as floats, so that comparisons hit equality.
  Tensor Steps(Shape shape) {
    Tensor t = Tensor::Empty(DType::kFloat32, std::move(shape));
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(Int(-2, 2));
    return t;
  }
};

Input In(Tensor t) { return {std::move(t), false}; }
Input K(Tensor t) { return {std::move(t), true}; }
Input I64(Ints v) { return K(Tensor::FromVector<int64_t>(v, {static_cast<int64_t>(v.size())})); }
Input F32(std::vector<float> v) {
  return K(Tensor::FromVector<float>(v, {static_cast<int64_t>(v.size())}));
}
Input None() { return {}; }

std::string Str(const Shape& s) { return ShapeToString(s); }

// Concatenates the streamed form of each part (config descriptions).
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

void AddConvCases(Gen& g, std::vector<Case>* cases) {
  for (int i = 0; i < 10; ++i) {
    const int64_t rank = i == 8 || i == 9 ? 3 : 4;  // the reference Conv is 1-D/2-D
    const int64_t sp = rank - 2;
    const int64_t groups = i % 3 == 0 ? 1 : (i % 3 == 1 ? 2 : g.Int(3, 8));
    const bool depthwise = i % 3 == 2;
    const int64_t cin = groups * (depthwise ? 1 : g.Int(1, 4));
    const int64_t cout = groups * (depthwise ? 1 : g.Int(1, 4));
    Ints k, s, d, pads(2 * sp), in_shape = {g.Int(1, 2), cin};
    for (int64_t j = 0; j < sp; ++j) {
      k.push_back(rank == 5 ? g.Int(1, 3) : std::vector<int64_t>{1, 3, 5}[g.Int(0, 2)]);
      s.push_back(g.Int(1, 2));
      d.push_back(i % 4 == 3 ? 2 : 1);
      pads[j] = g.Int(0, k[j] - 1);
      pads[j + sp] = g.Int(0, k[j] - 1);
      in_shape.push_back((k[j] - 1) * d[j] + 1 + g.Int(0, rank == 5 ? 3 : 8));
    }
    Shape wshape = {cout, cin / groups};
    wshape.insert(wshape.end(), k.begin(), k.end());
    Case c{OpKind::kConv, "", {In(g.F(in_shape)), K(g.F(wshape))}};
    if (i % 2 == 0) c.inputs.push_back(K(g.F({cout})));
    c.attrs.Set("kernel_shape", k);
    c.attrs.Set("strides", s);
    c.attrs.Set("dilations", d);
    c.attrs.Set("group", groups);
    const char* auto_pad =
        i == 4 ? "SAME_UPPER" : (i == 7 ? "SAME_LOWER" : (i == 5 ? "VALID" : ""));
    if (*auto_pad) {
      c.attrs.Set("auto_pad", std::string(auto_pad));
    } else {
      c.attrs.Set("pads", pads);
    }
    c.config = Cat("x", Str(in_shape), " w", Str(wshape), " group ", groups, " strides", Str(s),
                   " dil", Str(d), " pads", Str(pads), " ", auto_pad);
    cases->push_back(std::move(c));
  }
}

void AddConvTransposeCases(Gen& g, std::vector<Case>* cases) {
  for (int i = 0; i < 5; ++i) {
    const int64_t groups = i == 3 ? 2 : 1;
    const int64_t cin = groups * g.Int(1, 4), coutg = g.Int(1, 4);
    Ints k = {g.Int(1, 4), g.Int(1, 4)}, s = {g.Int(1, 3), g.Int(1, 3)};
    Ints d = {i == 4 ? 2 : 1, 1};
    Ints pads = {g.Int(0, k[0] - 1), g.Int(0, k[1] - 1), g.Int(0, k[0] - 1), g.Int(0, k[1] - 1)};
    Ints op = {i == 2 ? s[0] - 1 : 0, 0};
    Shape x = {1, cin, g.Int(3, 7), g.Int(3, 7)};
    Shape w = {cin, coutg, k[0], k[1]};
    Case c{OpKind::kConvTranspose, "", {In(g.F(x)), K(g.F(w)), K(g.F({coutg * groups}))}};
    c.attrs.Set("kernel_shape", k);
    c.attrs.Set("strides", s);
    c.attrs.Set("dilations", d);
    c.attrs.Set("pads", pads);
    c.attrs.Set("output_padding", op);
    c.attrs.Set("group", groups);
    c.config = "x" + Str(x) + " w" + Str(w) + " strides" + Str(s) + " pads" + Str(pads) +
               " output_padding" + Str(op);
    cases->push_back(std::move(c));
  }
}

// Kernel equal to stride (the cpu backend runs these as one GEMM and a scatter): with a bias and
// a rectangular kernel, and without a bias into one output channel. Added last in AllCases so
// that they leave the random draws of the other cases unchanged.
void AddNonOverlappingConvTransposeCases(Gen& g, std::vector<Case>* cases) {
  struct Config {
    Shape x, w;
    bool bias;
  };
  for (const Config& k :
       {Config{{2, 5, 4, 3}, {5, 6, 2, 3}, true}, Config{{1, 3, 5, 4}, {3, 1, 2, 2}, false}}) {
    Case c{OpKind::kConvTranspose, "", {In(g.F(k.x)), K(g.F(k.w))}};
    if (k.bias) c.inputs.push_back(K(g.F({k.w[1]})));
    const Ints kernel = {k.w[2], k.w[3]};
    c.attrs.Set("kernel_shape", kernel);
    c.attrs.Set("strides", kernel);
    c.config = "x" + Str(k.x) + " w" + Str(k.w) + " strides = kernel" + (k.bias ? " bias" : "");
    cases->push_back(std::move(c));
  }
}

void AddPoolCases(Gen& g, std::vector<Case>* cases) {
  for (OpKind op : {OpKind::kMaxPool, OpKind::kAveragePool}) {
    for (int i = 0; i < 6; ++i) {
      const int64_t sp = i == 5 ? 1 : 2;
      Ints k, s, pads(2 * sp), d, x = {g.Int(1, 2), g.Int(1, 9)};
      for (int64_t j = 0; j < sp; ++j) {
        k.push_back(g.Int(2, 3));
        s.push_back(g.Int(1, 2));
        d.push_back(op == OpKind::kMaxPool && i == 4 ? 2 : 1);
        pads[j] = g.Int(0, k[j] - 1);
        pads[j + sp] = g.Int(0, k[j] - 1);
        x.push_back(g.Int(6, 11));
      }
      Case c{op, "", {In(g.F(x))}};
      c.attrs.Set("kernel_shape", k);
      c.attrs.Set("strides", s);
      c.attrs.Set("pads", pads);
      c.attrs.Set("ceil_mode", int64_t{i % 2});
      if (op == OpKind::kMaxPool) c.attrs.Set("dilations", d);
      if (op == OpKind::kAveragePool) c.attrs.Set("count_include_pad", int64_t{i / 2 % 2});
      c.config = Cat("x", Str(x), " k", Str(k), " s", Str(s), " pads", Str(pads), " dil", Str(d),
                     " ceil ", i % 2, " include_pad ", i / 2 % 2);
      cases->push_back(std::move(c));
    }
    Case same{op, "SAME_UPPER", {In(g.F({1, 3, 9, 8}))}};
    same.attrs.Set("kernel_shape", Ints{3, 3});
    same.attrs.Set("strides", Ints{2, 2});
    same.attrs.Set("auto_pad", std::string("SAME_UPPER"));
    cases->push_back(std::move(same));
  }
  for (OpKind op : {OpKind::kGlobalAveragePool, OpKind::kGlobalMaxPool}) {
    cases->push_back({op, "4d", {In(g.F({2, 5, 7, 6}))}});
    cases->push_back({op, "3d", {In(g.F({1, 17, 9}))}});
  }
}

void AddNormCases(Gen& g, std::vector<Case>* cases) {
  for (Shape x : {Shape{2, 6, 5, 4}, Shape{3, 7}, Shape{2, 4, 9}}) {
    int64_t ch = x[1];
    Case c{OpKind::kBatchNormalization,
           "x" + Str(x),
           {In(g.F(x)), K(g.F({ch}, 0.5f, 1.5f)), K(g.F({ch})), K(g.F({ch})),
            K(g.F({ch}, 0.5f, 2.f))}};
    c.attrs.Set("epsilon", 1e-3f);
    cases->push_back(std::move(c));
  }
  for (Shape x : {Shape{2, 3, 5, 4}, Shape{1, 4, 7}}) {
    cases->push_back({OpKind::kInstanceNormalization,
                      "x" + Str(x),
                      {In(g.F(x)), K(g.F({x[1]})), K(g.F({x[1]}))}});
  }
  for (int64_t axis : {-1, 1}) {
    Shape x = {2, 3, 4, 5};
    Shape ps(x.begin() + (axis < 0 ? 3 : 1), x.end());
    Case c{OpKind::kLayerNormalization,
           "axis " + std::to_string(axis),
           {In(g.F(x)), K(g.F(ps)), K(g.F(ps))}};
    c.attrs.Set("axis", axis);
    c.opset = 17;
    cases->push_back(std::move(c));
  }
  for (int64_t size : {3, 5, 4}) {
    Case c{OpKind::kLRN, "size " + std::to_string(size), {In(g.F({2, 9, 5, 4}))}};
    c.attrs.Set("size", size);
    c.attrs.Set("alpha", 1e-2f);
    c.attrs.Set("beta", 0.75f);
    c.attrs.Set("bias", 2.f);
    cases->push_back(std::move(c));
  }
}

void AddDenseCases(Gen& g, std::vector<Case>* cases) {
  for (int i = 0; i < 6; ++i) {
    const int64_t m = g.Int(1, 9), k = g.Int(1, 700), n = g.Int(1, 12);
    const bool ta = i == 1 || i == 4, tb = i % 2 == 0;
    Case c{
        OpKind::kGemm,
        "",
        {In(g.F(ta ? Shape{k, m} : Shape{m, k})), {g.F(tb ? Shape{n, k} : Shape{k, n}), i != 3}}};
    const std::vector<Shape> cshapes = {{n}, {1, n}, {m, n}, {m, 1}, {}, {1}};
    if (i != 4) c.inputs.push_back(K(g.F(cshapes[static_cast<size_t>(i)])));
    c.attrs.Set("transA", int64_t{ta});
    c.attrs.Set("transB", int64_t{tb});
    if (i >= 2) c.attrs.Set("alpha", 0.5f);
    if (i == 2) c.attrs.Set("beta", 2.f);
    c.config = "M " + std::to_string(m) + " K " + std::to_string(k) + " N " + std::to_string(n) +
               " transA " + std::to_string(ta) + " transB " + std::to_string(tb) + " case " +
               std::to_string(i);
    cases->push_back(std::move(c));
  }
  const std::vector<std::pair<Shape, Shape>> mm = {
      {{4, 64}, {64, 8}}, {{2, 3, 33}, {33, 5}}, {{2, 1, 4, 6}, {3, 6, 5}},
      {{17}, {17, 4}},    {{3, 9}, {9}},         {{5, 40}, {40, 3}}};
  for (size_t i = 0; i < mm.size(); ++i) {
    cases->push_back({OpKind::kMatMul,
                      Str(mm[i].first) + " x " + Str(mm[i].second),
                      {In(g.F(mm[i].first)), {g.F(mm[i].second), i != 5}}});
  }
  for (OpKind op : {OpKind::kSoftmax, OpKind::kLogSoftmax}) {
    for (int i = 0; i < 3; ++i) {
      Case c{op, "", {In(g.F({2, 5, 3, 4}, -3.f, 3.f))}};
      const int64_t axis = i == 0 ? -1 : 1;
      c.attrs.Set("axis", axis);
      if (i == 2) c.opset = 11;
      c.config = "axis " + std::to_string(axis) + " opset " + std::to_string(c.opset);
      cases->push_back(std::move(c));
    }
  }
}

void AddResizeCases(Gen& g, std::vector<Case>* cases) {
  struct R {
    std::string mode, coord, nearest;
    std::vector<float> scales;
    Ints sizes;
  };
  const std::vector<R> rs = {
      {"nearest", "half_pixel", "round_prefer_floor", {1, 1, 2, 2}, {}},
      {"nearest", "asymmetric", "floor", {1, 1, 3, 2}, {}},
      {"nearest", "asymmetric", "round_prefer_floor", {1, 1, 2, 2}, {}},
      {"nearest", "half_pixel", "round_prefer_floor", {1, 1, 0.5f, 0.5f}, {}},
      {"linear", "half_pixel", "", {1, 1, 2, 2}, {}},
      {"linear", "pytorch_half_pixel", "", {}, {1, 3, 10, 7}},
      {"linear", "align_corners", "", {1, 1, 1.5f, 2}, {}},
      {"linear", "asymmetric", "", {1, 1, 2, 3}, {}},
  };
  for (const R& r : rs) {
    Case c{
        OpKind::kResize, r.mode + " " + r.coord + " " + r.nearest, {In(g.F({1, 3, 4, 6})), None()}};
    c.inputs.push_back(r.scales.empty() ? None() : F32(r.scales));
    if (!r.sizes.empty()) c.inputs.push_back(I64(r.sizes));
    c.attrs.Set("mode", r.mode);
    c.attrs.Set("coordinate_transformation_mode", r.coord);
    if (!r.nearest.empty()) c.attrs.Set("nearest_mode", r.nearest);
    cases->push_back(std::move(c));
  }
  Case legacy{OpKind::kResize, "opset 10 nearest", {In(g.F({1, 2, 3, 5})), F32({1, 1, 2, 3})}};
  legacy.opset = 10;
  cases->push_back(std::move(legacy));
  for (std::string mode : {"nearest", "linear"}) {
    Case c{OpKind::kUpsample, mode, {In(g.F({2, 3, 4, 5})), F32({1, 1, 2, 2})}};
    c.attrs.Set("mode", mode);
    c.opset = 9;
    cases->push_back(std::move(c));
  }
}

void AddLayoutCases(Gen& g, std::vector<Case>* cases) {
  for (std::string mode : {"constant", "reflect", "edge"}) {
    cases->push_back(
        {OpKind::kPad, mode, {In(g.F({1, 2, 5, 6})), I64({0, 0, 1, 2, 0, 1, 2, 1}), F32({})}});
    cases->back().inputs.pop_back();
    if (mode == "constant") cases->back().inputs.push_back(K(Tensor::Scalar(0.5f)));
    cases->back().attrs.Set("mode", mode);
  }
  for (std::string mode : {"DCR", "CRD"}) {
    Case c{OpKind::kDepthToSpace, mode, {In(g.F({1, 8, 3, 2}))}};
    c.attrs.Set("blocksize", int64_t{2});
    c.attrs.Set("mode", mode);
    cases->push_back(std::move(c));
  }
  Case s2d{OpKind::kSpaceToDepth, "blocksize 2", {In(g.F({2, 3, 4, 6}))}};
  s2d.attrs.Set("blocksize", int64_t{2});
  cases->push_back(std::move(s2d));
  for (int64_t axis : {1, 0, -1}) {
    Shape a = {2, 3, 4, 5}, b = a;
    b[static_cast<size_t>(axis < 0 ? 3 : axis)] = 2;
    Case c{OpKind::kConcat, "axis " + std::to_string(axis), {In(g.F(a)), In(g.F(b)), K(g.F(b))}};
    c.attrs.Set("axis", axis);
    cases->push_back(std::move(c));
  }
  Case split{OpKind::kSplit, "equal", {In(g.F({2, 6, 3}))}};
  split.attrs.Set("axis", int64_t{1});
  split.num_outputs = 3;
  cases->push_back(std::move(split));
  cases->push_back({OpKind::kSplit, "sizes", {In(g.F({2, 5, 3})), I64({2, 3})}});
  cases->back().attrs.Set("axis", int64_t{1});
  cases->back().num_outputs = 2;
  cases->push_back({OpKind::kSlice,
                    "steps",
                    {In(g.F({4, 6, 5})), I64({1, -1}), I64({4, 0}), I64({0, 1}), I64({2, -2})}});
  cases->push_back({OpKind::kSlice, "no axes", {In(g.F({4, 6})), I64({1, 2}), I64({3, 100})}});
  for (int64_t axis : {1, 2}) {
    cases->push_back({OpKind::kFlatten, "axis " + std::to_string(axis), {In(g.F({2, 3, 4, 5}))}});
    cases->back().attrs.Set("axis", axis);
  }
  cases->push_back({OpKind::kReshape, "0 and -1", {In(g.F({2, 3, 4})), I64({0, -1, 2})}});
  cases->push_back({OpKind::kTranspose, "perm", {In(g.F({2, 3, 4, 5}))}});
  cases->back().attrs.Set("perm", Ints{0, 2, 3, 1});
  cases->push_back({OpKind::kTranspose, "default", {In(g.F({3, 4, 5}))}});
  cases->push_back({OpKind::kSqueeze, "axes", {In(g.F({2, 1, 3, 1})), I64({1, 3})}});
  cases->push_back({OpKind::kSqueeze, "all", {In(g.F({1, 4, 1}))}});
  cases->push_back({OpKind::kUnsqueeze, "axes", {In(g.F({2, 3})), I64({0, -1})}});
  cases->push_back({OpKind::kGather, "axis 0", {In(g.F({5, 4})), I64({4, 0, -1})}});
  cases->push_back({OpKind::kGather,
                    "axis 1 2-d indices",
                    {In(g.F({2, 5, 3})), K(Tensor::FromVector<int64_t>({1, 3, 0, 4}, {2, 2}))}});
  cases->back().attrs.Set("axis", int64_t{1});
  cases->push_back({OpKind::kExpand, "broadcast", {In(g.F({3, 1})), I64({2, 3, 4})}});
  cases->push_back({OpKind::kTile, "repeats", {In(g.F({2, 3})), I64({2, 3})}});
  for (int64_t to : {int64_t(DType::kInt64), int64_t(DType::kFloat64), int64_t(DType::kFloat32)}) {
    cases->push_back({OpKind::kCast, "to " + std::to_string(to), {In(g.F({3, 4}, -5.f, 5.f))}});
    cases->back().attrs.Set("to", to);
  }
  cases->push_back({OpKind::kShape, "4d", {In(g.F({2, 3, 4, 5}))}});
  Case cos{OpKind::kConstantOfShape, "value 1.5", {I64({2, 3})}};
  cos.attrs.Set("value", Tensor::FromVector<float>({1.5f}, {1}));
  cases->push_back(std::move(cos));
  cases->push_back({OpKind::kRange,
                    "float",
                    {K(Tensor::Scalar(1.f)), K(Tensor::Scalar(7.f)), K(Tensor::Scalar(0.5f))}});
  Case constant{OpKind::kConstant, "tensor", {}};
  constant.attrs.Set("value", g.F({2, 3}));
  cases->push_back(std::move(constant));
  cases->push_back({OpKind::kIdentity, "x", {In(g.F({3, 4}))}});
  cases->push_back({OpKind::kDropout, "inference", {In(g.F({3, 4}))}});
}

void AddReduceCases(Gen& g, std::vector<Case>* cases) {
  for (OpKind op : {OpKind::kReduceMean, OpKind::kReduceSum, OpKind::kReduceMax, OpKind::kReduceMin,
                    OpKind::kReduceProd, OpKind::kReduceL2}) {
    for (int keep = 0; keep < 2; ++keep) {
      Case c{op, "keepdims " + std::to_string(keep), {In(g.F({2, 3, 4, 5}, 0.5f, 1.5f))}};
      Ints axes = keep ? Ints{1, -1} : Ints{2};
      if (op == OpKind::kReduceSum) {
        c.inputs.push_back(I64(axes));
      } else {
        c.attrs.Set("axes", axes);
      }
      c.attrs.Set("keepdims", int64_t{keep});
      cases->push_back(std::move(c));
    }
  }
  for (int keep = 0; keep < 2; ++keep) {
    Case c{OpKind::kArgMax, "keepdims " + std::to_string(keep), {In(g.F({3, 4, 5}))}};
    c.attrs.Set("axis", int64_t{1});
    c.attrs.Set("keepdims", int64_t{keep});
    cases->push_back(std::move(c));
  }
}

void AddElementwiseCases(Gen& g, std::vector<Case>* cases) {
  const std::vector<OpKind> any = {
      OpKind::kRelu,      OpKind::kLeakyRelu, OpKind::kSigmoid, OpKind::kHardSigmoid,
      OpKind::kHardSwish, OpKind::kTanh,      OpKind::kExp,     OpKind::kErf,
      OpKind::kNeg,       OpKind::kAbs,       OpKind::kFloor,   OpKind::kCeil,
      OpKind::kSoftplus,  OpKind::kElu,       OpKind::kSelu,    OpKind::kMish,
      OpKind::kSin,       OpKind::kCos,       OpKind::kGelu};
  for (OpKind op : any) {
    cases->push_back({op, "4d", {In(g.F({2, 3, 4, 5}, -4.f, 4.f))}});
    cases->push_back({op, "2d", {In(g.F({7, 9}, -4.f, 4.f))}});
  }
  cases->push_back({OpKind::kLeakyRelu, "alpha 0.3", {In(g.F({2, 8, 3, 3}))}});
  cases->back().attrs.Set("alpha", 0.3f);
  cases->push_back({OpKind::kHardSigmoid, "alpha beta", {In(g.F({2, 8, 3, 3}, -5.f, 5.f))}});
  cases->back().attrs.Set("alpha", 0.3f);
  cases->back().attrs.Set("beta", 0.4f);
  cases->push_back({OpKind::kElu, "alpha 0.5", {In(g.F({4, 6}, -3.f, 3.f))}});
  cases->push_back({OpKind::kGelu, "approximate tanh", {In(g.F({2, 8, 3, 3}, -4.f, 4.f))}});
  cases->back().attrs.Set("approximate", std::string("tanh"));
  cases->back().attrs.Set("alpha", 0.5f);
  for (OpKind op : {OpKind::kSqrt, OpKind::kLog}) {
    cases->push_back({op, "positive", {In(g.F({2, 3, 4, 5}, 0.1f, 4.f))}});
  }
  cases->push_back({OpKind::kReciprocal, "nonzero", {In(g.NonZero({3, 7}))}});
  cases->push_back(
      {OpKind::kClip,
       "min max",
       {In(g.F({2, 4, 3, 3}, -8.f, 8.f)), K(Tensor::Scalar(0.f)), K(Tensor::Scalar(6.f))}});
  cases->push_back({OpKind::kClip, "min only", {In(g.F({5, 6})), K(Tensor::Scalar(-0.2f))}});
  cases->push_back({OpKind::kClip, "none", {In(g.F({5, 6}))}});
  cases->push_back({OpKind::kClip, "opset 6 attributes", {In(g.F({5, 6}))}});
  cases->back().attrs.Set("min", -0.5f);
  cases->back().attrs.Set("max", 0.25f);
  cases->back().opset = 6;
  cases->push_back(
      {OpKind::kNot, "bool", {In(Tensor::FromVector<bool>({true, false, false, true}, {2, 2}))}});

  const std::vector<std::pair<Shape, Shape>> shapes = {{{2, 6, 4, 5}, {2, 6, 4, 5}},
                                                       {{2, 6, 4, 5}, {1, 6, 1, 1}},
                                                       {{6, 1, 1}, {2, 6, 4, 5}},
                                                       {{3, 1}, {1, 4}},
                                                       {{4, 5}, {}},
                                                       {{2, 3, 4}, {4}}};
  for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kDiv, OpKind::kMax,
                    OpKind::kMin, OpKind::kPow}) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const auto& [a, b] = shapes[i];
      Tensor ta = op == OpKind::kPow ? g.F(a, 0.2f, 2.f) : g.F(a);
      Tensor tb = op == OpKind::kDiv ? g.NonZero(b) : g.F(b);
      cases->push_back({op, Str(a) + " op " + Str(b), {In(ta), {tb, i % 2 == 1}}});
    }
  }
  cases->push_back(
      {OpKind::kMod, "fmod broadcast", {In(g.F({2, 3, 4}, -5.f, 5.f)), K(g.NonZero({4}))}});
  cases->back().attrs.Set("fmod", int64_t{1});
  for (float e : {2.f, 0.5f, -1.5f}) {
    cases->push_back({OpKind::kPow,
                      "constant exponent " + std::to_string(e),
                      {In(g.F({2, 6, 4, 5}, 0.2f, 2.f)), K(Tensor::Scalar(e))}});
  }
  cases->push_back({OpKind::kMax, "3 inputs", {In(g.F({2, 3})), In(g.F({3})), In(g.F({2, 1}))}});
  for (OpKind op : {OpKind::kSum, OpKind::kMean}) {
    cases->push_back({op, "1 input", {In(g.F({2, 3}))}});
    cases->push_back({op, "3 inputs", {In(g.F({2, 3})), In(g.F({3})), K(g.F({2, 1}))}});
  }
  for (OpKind op : {OpKind::kEqual, OpKind::kLess, OpKind::kGreater}) {
    cases->push_back({op, "broadcast", {In(g.Steps({3, 4})), In(g.Steps({4}))}});
  }
  Tensor cond = Tensor::Empty(DType::kBool, {3, 4});
  for (int64_t i = 0; i < cond.numel(); ++i) cond.data<bool>()[i] = g.Coin();
  cases->push_back({OpKind::kWhere, "broadcast", {In(cond), In(g.F({4})), In(g.F({3, 1}))}});
  cases->push_back({OpKind::kPRelu, "per channel", {In(g.F({2, 5, 3, 3})), K(g.F({5, 1, 1}))}});
  cases->push_back({OpKind::kPRelu, "scalar slope", {In(g.F({4, 6})), K(g.F({1}))}});
  cases->push_back({OpKind::kPRelu, "full slope", {In(g.F({3, 4})), In(g.F({3, 4}))}});
}

std::vector<Case> AllCases() {
  Gen g;
  std::vector<Case> cases;
  AddConvCases(g, &cases);
  AddConvTransposeCases(g, &cases);
  AddPoolCases(g, &cases);
  AddNormCases(g, &cases);
  AddDenseCases(g, &cases);
  AddResizeCases(g, &cases);
  AddLayoutCases(g, &cases);
  AddReduceCases(g, &cases);
  AddElementwiseCases(g, &cases);
  AddNonOverlappingConvTransposeCases(g, &cases);
  return cases;
}

// Builds the one-node graph of `c`, with output shapes from the op's own shape rule.
Result<Graph> BuildGraph(const Case& c) {
  const OpSchema* schema = FindSchema(c.op);
  if (schema == nullptr) return Status::NotFound("no schema");
  Graph graph;
  graph.opset = c.opset;
  Node node;
  node.op = c.op;
  node.name = "node";
  node.attrs = c.attrs;
  node.outputs.assign(static_cast<size_t>(c.num_outputs), 0);  // shape rules count outputs
  ShapeContext ctx{&node, {}, {}, c.opset};
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Input& in = c.inputs[i];
    if (in.tensor.empty()) {
      node.inputs.push_back(kNoValue);
      ctx.inputs.push_back({});
      ctx.constants.push_back(nullptr);
      continue;
    }
    std::string name = "in" + std::to_string(i);
    ValueId v = in.constant ? graph.AddConstant(name, in.tensor)
                            : graph.AddInput(name, in.tensor.dtype(), in.tensor.shape());
    node.inputs.push_back(v);
    ctx.inputs.push_back({in.tensor.dtype(), in.tensor.shape(), true});
    ctx.constants.push_back(in.constant ? &in.tensor : nullptr);
  }
  std::vector<ValueInfo> outs;
  EI_RETURN_IF_ERROR(schema->infer_shape(ctx, &outs));
  if (outs.size() != static_cast<size_t>(c.num_outputs)) {
    outs.resize(static_cast<size_t>(c.num_outputs));
  }
  std::vector<ValueId> out_ids;
  for (size_t i = 0; i < outs.size(); ++i) {
    out_ids.push_back(graph.AddValue("out" + std::to_string(i), outs[i].dtype, outs[i].shape));
  }
  graph.AddNode(c.op, "node", node.inputs, out_ids, c.attrs);
  for (ValueId v : out_ids) graph.AddOutput(v);
  return graph;
}

std::string Compare(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return "got " + got.Describe() + ", want " + want.Describe();
  }
  if (want.dtype() != DType::kFloat32) {
    if (want.nbytes() && std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()) != 0) {
      return "values differ";
    }
    return "";
  }
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    double w = want.data<float>()[i], d = got.data<float>()[i] - w;
    num += d * d;
    den += w * w;
  }
  double err = std::sqrt(num / std::max(den, 1e-30));
  if (!(err <= kTolerance)) return "relative L2 error " + std::to_string(err);
  return "";
}

Result<std::vector<Tensor>> RunOn(const char* backend, const Graph& graph,
                                  const std::vector<Tensor>& inputs) {
  EI_ASSIGN_OR_RETURN(auto exe, FindBackend(backend)->Compile(graph, CompileOptions{}));
  std::vector<Tensor> outputs;
  EI_RETURN_IF_ERROR(exe->Run(inputs, &outputs));
  return outputs;
}

TEST(BackendConformanceTest, CpuMatchesReferenceOnEveryOp) {
  std::vector<Case> cases = AllCases();
  ASSERT_FALSE(cases.empty());
  // Every case must be compared: a case whose op has no schema, whose graph cannot be built or
  // that a backend rejects is a failure naming the case, never a silent skip.
  int checked = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(OpName(c.op)) + " [" + c.config + "] opset " +
                 std::to_string(c.opset));
    if (FindSchema(c.op) == nullptr) {
      ADD_FAILURE() << OpName(c.op) << " has a conformance case but no schema";
      continue;
    }
    Result<Graph> graph = BuildGraph(c);
    if (!graph.ok()) {
      ADD_FAILURE() << "invalid test config: " << graph.status().ToString();
      continue;
    }
    std::vector<Tensor> inputs;
    for (const Input& in : c.inputs) {
      if (!in.tensor.empty() && !in.constant) inputs.push_back(in.tensor);
    }
    auto ref = RunOn("reference", *graph, inputs);
    auto cpu = RunOn("cpu", *graph, inputs);
    if (!ref.ok() || !cpu.ok()) {
      ADD_FAILURE() << "reference: " << ref.status().ToString()
                    << "; cpu: " << cpu.status().ToString();
      continue;
    }
    if (cpu->size() != ref->size() || ref->size() != static_cast<size_t>(c.num_outputs)) {
      ADD_FAILURE() << "outputs: cpu " << cpu->size() << ", reference " << ref->size() << ", case "
                    << c.num_outputs;
      continue;
    }
    for (size_t i = 0; i < ref->size(); ++i) {
      std::string diff = Compare((*cpu)[i], (*ref)[i]);
      EXPECT_EQ(diff, "") << "output " << i;
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(cases.size())) << "cases not compared (failures above)";
}

// Ops whose schema has no float32 data path, deliberately left out of the cases above.
const std::set<OpKind> kSkipped = {};

TEST(BackendConformanceTest, EveryOpWithASchemaIsCovered) {
  std::set<OpKind> covered;
  for (const Case& c : AllCases()) covered.insert(c.op);
  for (const OpSchema* schema : AllSchemas()) {
    EXPECT_TRUE(covered.count(schema->kind) || kSkipped.count(schema->kind))
        << OpName(schema->kind) << " has a schema but no conformance case";
  }
  for (int k = 0; k < static_cast<int>(OpKind::kCount); ++k) {
    EXPECT_TRUE(covered.count(static_cast<OpKind>(k)) || kSkipped.count(static_cast<OpKind>(k)))
        << OpName(static_cast<OpKind>(k)) << " is in ops.def but has no conformance case";
  }
}

}  // namespace
}  // namespace edgeinfer

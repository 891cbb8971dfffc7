#include "band_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "ops/passes.h"

namespace edgeinfer::testing {

namespace {

int64_t Pick(std::mt19937_64* rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(*rng);
}

Tensor RandomValues(Shape shape, std::mt19937_64* rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> data(static_cast<size_t>(NumElements(shape)));
  for (float& v : data) v = dist(*rng);
  return Tensor::FromVector<float>(data, shape);
}

struct Builder {
  Graph g;
  std::mt19937_64* rng;
  std::ostringstream summary;
  int count = 0;

  ValueId Fresh(const std::string& stem) {
    ValueId v = g.AddValue(stem + std::to_string(count++), DType::kUndefined, {});
    g.mutable_value(v).rank_known = false;
    return v;
  }
  ValueId Const(Shape shape, float lo = -1.0f, float hi = 1.0f) {
    return g.AddConstant("c" + std::to_string(count++),
                         RandomValues(std::move(shape), rng, lo, hi));
  }

  // Explicit pads [top, left, bottom, right] or an auto_pad mode, for a window of `kh` x `kw`
  // (dilated extent) that must fit the padded input.
  void Pads(Attributes* attrs, int64_t ekh, int64_t ekw, int64_t h, int64_t w, bool pool,
            int64_t kh, int64_t kw) {
    const int64_t mode = Pick(rng, 0, pool ? 0 : 3);
    if (mode == 1) {
      attrs->Set("auto_pad", std::string("SAME_UPPER"));
      summary << " SAME_UPPER";
      return;
    }
    if (mode == 2) {
      attrs->Set("auto_pad", std::string("SAME_LOWER"));
      summary << " SAME_LOWER";
      return;
    }
    if (mode == 3 && h >= ekh && w >= ekw) {
      attrs->Set("auto_pad", std::string("VALID"));
      summary << " VALID";
      return;
    }
    // Pools need pads smaller than the kernel.
    const int64_t max_h = pool ? kh - 1 : ekh - 1;
    const int64_t max_w = pool ? kw - 1 : ekw - 1;
    std::vector<int64_t> pads = {Pick(rng, 0, max_h), Pick(rng, 0, max_w), Pick(rng, 0, max_h),
                                 Pick(rng, 0, max_w)};
    while (h + pads[0] + pads[2] < ekh) ++pads[2];
    while (w + pads[1] + pads[3] < ekw) ++pads[3];
    attrs->Set("pads", pads);
    summary << " pads=" << pads[0] << "," << pads[1] << "," << pads[2] << "," << pads[3];
  }
};

}  // namespace

Graph RandomBandGraph(uint64_t seed, std::string* summary) {
  std::mt19937_64 rng(seed);
  Builder b;
  b.rng = &rng;
  b.g.opset = 13;
  int64_t c = Pick(&rng, 2, 4);
  const int64_t h0 = Pick(&rng, 24, 48);
  const int64_t w0 = Pick(&rng, 5, 9);
  ValueId cur = b.g.AddInput("x", DType::kFloat32, {1, c, h0, w0});
  b.summary << "x[1," << c << "," << h0 << "," << w0 << "]";
  // Tracked heights decide which layers still fit; the true shapes come from Specialize.
  int64_t h = h0, w = w0;
  const int layers = static_cast<int>(Pick(&rng, 3, 7));
  for (int i = 0; i < layers; ++i) {
    const int64_t kind = Pick(&rng, 0, 7);
    if (kind <= 1) {  // Conv
      const int64_t kh = std::vector<int64_t>{1, 2, 3, 5}[Pick(&rng, 0, 3)];
      const int64_t kw = Pick(&rng, 1, 3);
      int64_t s = Pick(&rng, 1, 3);
      const int64_t d = kh > 1 && Pick(&rng, 0, 2) == 0 ? 2 : 1;
      if (h / s < 9) s = 1;
      const int64_t ekh = (kh - 1) * d + 1;
      const int64_t m = Pick(&rng, 2, 4);
      Attributes attrs;
      attrs.Set("strides", std::vector<int64_t>{s, 1});
      attrs.Set("dilations", std::vector<int64_t>{d, 1});
      b.summary << " | Conv k" << kh << "x" << kw << " s" << s << " d" << d;
      b.Pads(&attrs, ekh, kw, h, w, false, kh, kw);
      ValueId y = b.Fresh("conv");
      b.g.AddNode(OpKind::kConv, "conv" + std::to_string(i),
                  {cur, b.Const({m, c, kh, kw}), b.Const({m})}, {y}, attrs);
      cur = y;
      c = m;
    } else if (kind == 2) {  // MaxPool or AveragePool
      const bool max = Pick(&rng, 0, 1) == 0;
      const int64_t k = Pick(&rng, 2, 3);
      int64_t s = Pick(&rng, 1, 2);
      if (h / s < 9) s = 1;
      Attributes attrs;
      attrs.Set("kernel_shape", std::vector<int64_t>{k, k});
      attrs.Set("strides", std::vector<int64_t>{s, s > 1 ? 1 : 1});
      const bool ceil = Pick(&rng, 0, 1) == 1;
      attrs.Set("ceil_mode", int64_t{ceil ? 1 : 0});
      b.summary << " | " << (max ? "MaxPool" : "AveragePool") << " k" << k << " s" << s
                << (ceil ? " ceil" : "");
      if (!max) {
        const bool include = Pick(&rng, 0, 1) == 1;
        attrs.Set("count_include_pad", int64_t{include ? 1 : 0});
        if (include) b.summary << " count_include_pad";
      }
      b.Pads(&attrs, k, k, h, w, true, k, k);
      ValueId y = b.Fresh("pool");
      b.g.AddNode(max ? OpKind::kMaxPool : OpKind::kAveragePool, "pool" + std::to_string(i), {cur},
                  {y}, attrs);
      cur = y;
    } else if (kind == 3) {  // Relu or BatchNormalization or LRN
      const int64_t which = Pick(&rng, 0, 2);
      ValueId y = b.Fresh("pw");
      if (which == 0) {
        b.summary << " | Relu";
        b.g.AddNode(OpKind::kRelu, "relu" + std::to_string(i), {cur}, {y});
      } else if (which == 1) {
        b.summary << " | BatchNormalization";
        b.g.AddNode(OpKind::kBatchNormalization, "bn" + std::to_string(i),
                    {cur, b.Const({c}), b.Const({c}), b.Const({c}), b.Const({c}, 0.5f, 2.0f)}, {y});
      } else {
        b.summary << " | LRN";
        Attributes attrs;
        attrs.Set("size", int64_t{3});
        b.g.AddNode(OpKind::kLRN, "lrn" + std::to_string(i), {cur}, {y}, attrs);
      }
      cur = y;
    } else if (kind <= 5) {  // residual: x + Conv3x3(Relu(x))
      b.summary << " | residual Add";
      ValueId r = b.Fresh("res_relu");
      b.g.AddNode(OpKind::kRelu, "res_relu" + std::to_string(i), {cur}, {r});
      Attributes attrs;
      attrs.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
      ValueId conv = b.Fresh("res_conv");
      b.g.AddNode(OpKind::kConv, "res_conv" + std::to_string(i),
                  {r, b.Const({c, c, 3, 3}), b.Const({c})}, {conv}, attrs);
      ValueId y = b.Fresh("res_add");
      b.g.AddNode(OpKind::kAdd, "res_add" + std::to_string(i), {cur, conv}, {y});
      cur = y;
    } else {  // Concat of a SAME conv branch and a 3x3 stride-1 max pool branch, plus a
              // per-channel broadcast Mul
      b.summary << " | Concat(conv, maxpool) * scale";
      const int64_t m = Pick(&rng, 1, 3);
      Attributes conv_attrs;
      conv_attrs.Set("auto_pad", std::string("SAME_LOWER"));
      ValueId a = b.Fresh("cat_conv");
      b.g.AddNode(OpKind::kConv, "cat_conv" + std::to_string(i),
                  {cur, b.Const({m, c, 3, 1}), b.Const({m})}, {a}, conv_attrs);
      Attributes pool_attrs;
      pool_attrs.Set("kernel_shape", std::vector<int64_t>{3, 3});
      pool_attrs.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
      ValueId p = b.Fresh("cat_pool");
      b.g.AddNode(OpKind::kMaxPool, "cat_pool" + std::to_string(i), {cur}, {p}, pool_attrs);
      Attributes cat_attrs;
      cat_attrs.Set("axis", int64_t{1});
      ValueId cat = b.Fresh("cat");
      b.g.AddNode(OpKind::kConcat, "cat" + std::to_string(i), {a, p}, {cat}, cat_attrs);
      c += m;
      ValueId y = b.Fresh("scaled");
      b.g.AddNode(OpKind::kMul, "scale" + std::to_string(i), {cat, b.Const({1, c, 1, 1})}, {y});
      cur = y;
    }
    // Follow the real shapes to choose the next layer.
    Graph probe = b.g;
    probe.mutable_outputs() = {cur};
    probe.name = "probe";
    Status st = Specialize(&probe, {{"x", {1, probe.value(probe.inputs()[0]).shape[1], h0, w0}}});
    EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << b.summary.str();
    const Value& out = probe.value(probe.outputs()[0]);
    h = out.shape[2];
    w = out.shape[3];
    if (h < 12) break;
  }
  b.g.mutable_value(cur).name = "y";
  b.g.AddOutput(cur);
  b.g.RebuildUses();
  Status st = Specialize(&b.g, {{"x", {1, b.g.value(b.g.inputs()[0]).shape[1], h0, w0}}});
  EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << b.summary.str();
  if (summary != nullptr) *summary = b.summary.str();
  return std::move(b.g);
}

Tensor RowsOf(const Tensor& t, RowRange r) {
  const Shape& s = t.shape();
  Shape out_shape = s;
  out_shape[2] = r.size();
  Tensor out = Tensor::Empty(t.dtype(), out_shape);
  const size_t elem = static_cast<size_t>(DTypeSize(t.dtype()));
  const size_t row_bytes = static_cast<size_t>(s[3]) * elem;
  const auto* src = static_cast<const uint8_t*>(t.raw_data());
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  for (int64_t plane = 0; plane < s[0] * s[1]; ++plane) {
    std::memcpy(dst + static_cast<size_t>(plane * r.size()) * row_bytes,
                src + static_cast<size_t>(plane * s[2] + r.begin) * row_bytes,
                static_cast<size_t>(r.size()) * row_bytes);
  }
  return out;
}

Tensor StitchRows(const std::vector<std::pair<int64_t, Tensor>>& bands, int64_t height) {
  EXPECT_FALSE(bands.empty());
  Shape shape = bands[0].second.shape();
  shape[2] = height;
  Tensor out = Tensor::Zeros(bands[0].second.dtype(), shape);
  std::vector<int> covered(static_cast<size_t>(height), 0);
  const size_t elem = static_cast<size_t>(DTypeSize(out.dtype()));
  const size_t row_bytes = static_cast<size_t>(shape[3]) * elem;
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  for (const auto& [offset, band] : bands) {
    const int64_t rows = band.shape()[2];
    EXPECT_GE(offset, 0);
    EXPECT_LE(offset + rows, height);
    if (offset < 0 || offset + rows > height) continue;
    for (int64_t r = offset; r < offset + rows; ++r) ++covered[static_cast<size_t>(r)];
    const auto* src = static_cast<const uint8_t*>(band.raw_data());
    for (int64_t plane = 0; plane < shape[0] * shape[1]; ++plane) {
      std::memcpy(dst + static_cast<size_t>(plane * height + offset) * row_bytes,
                  src + static_cast<size_t>(plane * rows) * row_bytes,
                  static_cast<size_t>(rows) * row_bytes);
    }
  }
  for (int64_t r = 0; r < height; ++r) {
    EXPECT_EQ(covered[static_cast<size_t>(r)], 1) << "row " << r;
  }
  return out;
}

bool BitEqual(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const size_t bytes =
      static_cast<size_t>(NumElements(a.shape())) * static_cast<size_t>(DTypeSize(a.dtype()));
  return std::memcmp(a.raw_data(), b.raw_data(), bytes) == 0;
}

std::vector<RowRange> RandomSplit(int64_t height, int n, std::mt19937_64* rng) {
  n = static_cast<int>(std::min<int64_t>(n, height));
  std::vector<int64_t> cuts;
  std::vector<int64_t> all;
  for (int64_t r = 1; r < height; ++r) all.push_back(r);
  std::shuffle(all.begin(), all.end(), *rng);
  cuts.assign(all.begin(), all.begin() + (n - 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<RowRange> parts;
  int64_t begin = 0;
  for (int64_t cut : cuts) {
    parts.push_back({begin, cut});
    begin = cut;
  }
  parts.push_back({begin, height});
  return parts;
}

Tensor Image(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  Tensor t = Tensor::Allocate(DType::kFloat32, shape).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

}  // namespace edgeinfer::testing

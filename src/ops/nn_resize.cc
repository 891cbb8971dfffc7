// Resize (opsets 10..17) and Upsample (opsets 7..9): shape rules, spatial rules and a naive
// N-D reference kernel for modes nearest and linear. Coordinate arithmetic is done in float,
// as ONNX Runtime does, so that nearest-neighbour ties resolve the same way.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "ops/nn_ops.h"
#include "ops/nn_util.h"

namespace edgeinfer::nn {
namespace {

enum class Coord { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn };
// kSimple is ONNX Runtime's rule for Resize-10 and Upsample: truncate when upsampling, ceil
// when downsampling.
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

struct ResizeParams {
  bool linear = false;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
};

// Resize before opset 11 and every Upsample follow the asymmetric Upsample semantics.
bool IsLegacy(const Node& node, int64_t opset) {
  return node.op == OpKind::kUpsample || opset < 11;
}

Status ReadResizeParams(const Node& node, int64_t opset, ResizeParams* p) {
  const std::string mode = node.attrs.GetString("mode", "nearest");
  if (mode == "linear" || (node.op == OpKind::kUpsample && mode == "bilinear")) {
    p->linear = true;
  } else if (mode == "cubic") {
    return Unimplemented(node, "mode 'cubic' is not supported");
  } else if (mode != "nearest") {
    return Invalid(node, "unknown mode '" + mode + "'");
  }
  if (IsLegacy(node, opset)) {
    p->coord = Coord::kAsymmetric;
    p->nearest = Nearest::kSimple;
    return Status::Ok();
  }
  const std::string coord = node.attrs.GetString("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") {
    p->coord = Coord::kHalfPixel;
  } else if (coord == "pytorch_half_pixel") {
    p->coord = Coord::kPytorchHalfPixel;
  } else if (coord == "align_corners") {
    p->coord = Coord::kAlignCorners;
  } else if (coord == "asymmetric") {
    p->coord = Coord::kAsymmetric;
  } else if (coord == "tf_half_pixel_for_nn") {
    p->coord = Coord::kTfHalfPixelForNn;
  } else if (coord == "tf_crop_and_resize") {
    return Unimplemented(node,
                         "coordinate_transformation_mode 'tf_crop_and_resize' is not "
                         "supported");
  } else {
    return Invalid(node, "unknown coordinate_transformation_mode '" + coord + "'");
  }
  const std::string nearest = node.attrs.GetString("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") {
    p->nearest = Nearest::kRoundPreferFloor;
  } else if (nearest == "round_prefer_ceil") {
    p->nearest = Nearest::kRoundPreferCeil;
  } else if (nearest == "floor") {
    p->nearest = Nearest::kFloor;
  } else if (nearest == "ceil") {
    p->nearest = Nearest::kCeil;
  } else {
    return Invalid(node, "unknown nearest_mode '" + nearest + "'");
  }
  return Status::Ok();
}

// Whether input `i` is present with at least one element (an empty tensor means absent).
bool HasNonEmpty(const ShapeContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return false;
  if (i < ctx.constants.size() && ctx.constants[i]) return ctx.constants[i]->numel() > 0;
  const ValueInfo& v = ctx.inputs[i];
  return !(v.rank_known && v.shape.size() == 1 && v.shape[0] == 0);
}

// Target of the resize: per-dim scales, and sizes when given (empty otherwise).
struct ResizeTarget {
  std::vector<float> scales;
  std::vector<int64_t> sizes;
};

Status ReadTarget(const ShapeContext& ctx, size_t rank, ResizeTarget* t) {
  const Node& node = *ctx.node;
  if (node.op == OpKind::kUpsample && ctx.opset < 9) {
    t->scales = node.attrs.GetFloats("scales");
  } else {
    const size_t scales_at = IsLegacy(node, ctx.opset) ? 1 : 2;
    const bool has_scales = HasNonEmpty(ctx, scales_at);
    const bool has_sizes = !IsLegacy(node, ctx.opset) && HasNonEmpty(ctx, 3);
    if (has_scales == has_sizes) {
      return Invalid(node, "exactly one of the inputs scales and sizes must be non-empty");
    }
    const size_t at = has_scales ? scales_at : 3;
    const Tensor* c = at < ctx.constants.size() ? ctx.constants[at] : nullptr;
    if (!c) {
      return Invalid(node, std::string("input ") + (has_scales ? "scales" : "sizes") +
                               " must be a known constant");
    }
    if (has_scales) {
      if (c->dtype() != DType::kFloat32) {
        return Invalid(node, std::string("input scales has dtype ") + DTypeName(c->dtype()) +
                                 "; float32 is required");
      }
      t->scales.assign(c->data<float>(), c->data<float>() + c->numel());
    } else {
      if (c->dtype() != DType::kInt64) {
        return Invalid(node, std::string("input sizes has dtype ") + DTypeName(c->dtype()) +
                                 "; int64 is required");
      }
      EI_ASSIGN_OR_RETURN(t->sizes, c->ToInt64Vector());
    }
  }
  const size_t n = t->sizes.empty() ? t->scales.size() : t->sizes.size();
  if (n != rank) {
    return Invalid(node, std::string(t->sizes.empty() ? "scales" : "sizes") + " has " +
                             std::to_string(n) + " values but input X has rank " +
                             std::to_string(rank));
  }
  for (float s : t->scales) {
    if (!(s > 0)) return Invalid(node, "scales must be positive, got " + std::to_string(s));
  }
  for (int64_t s : t->sizes) {
    if (s < 0) return Invalid(node, "sizes must be non-negative, got " + std::to_string(s));
  }
  return Status::Ok();
}

Status ResizeShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  ResizeParams params;
  EI_RETURN_IF_ERROR(ReadResizeParams(node, ctx.opset, &params));
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "X", 1, 16));
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  const ValueInfo& x = ctx.inputs[0];
  if (!x.rank_known) return Status::Ok();
  ResizeTarget t;
  EI_RETURN_IF_ERROR(ReadTarget(ctx, x.shape.size(), &t));
  ValueInfo y = x;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (!t.sizes.empty()) {
      y.shape[i] = t.sizes[i];
    } else if (x.shape[i] >= 0) {
      y.shape[i] = static_cast<int64_t>(std::floor(static_cast<double>(x.shape[i]) * t.scales[i]));
    }
  }
  (*outputs)[0] = y;
  return Status::Ok();
}

float OriginalCoord(Coord coord, float x, float scale, int64_t in, int64_t out) {
  switch (coord) {
    case Coord::kHalfPixel:
      return (x + 0.5f) / scale - 0.5f;
    case Coord::kPytorchHalfPixel:
      return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case Coord::kAlignCorners:
      return out == 1 ? 0.0f : x * static_cast<float>(in - 1) / static_cast<float>(out - 1);
    case Coord::kAsymmetric:
      return x / scale;
    case Coord::kTfHalfPixelForNn:
      return (x + 0.5f) / scale;
  }
  return 0.0f;
}

int64_t NearestIndex(Nearest mode, float x, bool downsampling) {
  switch (mode) {
    case Nearest::kRoundPreferFloor:
      return static_cast<int64_t>(x == std::floor(x) + 0.5f ? std::floor(x) : std::round(x));
    case Nearest::kRoundPreferCeil:
      return static_cast<int64_t>(x == std::floor(x) + 0.5f ? std::ceil(x) : std::round(x));
    case Nearest::kFloor:
      return static_cast<int64_t>(std::floor(x));
    case Nearest::kCeil:
      return static_cast<int64_t>(std::ceil(x));
    case Nearest::kSimple:
      return static_cast<int64_t>(downsampling ? std::ceil(x) : x);
  }
  return 0;
}

// For one axis: the two source indices of each output index and the weight of the second.
struct AxisTable {
  std::vector<int64_t> i0, i1;
  std::vector<double> w1;
  bool interpolates = false;  // some w1 is non-zero
};

AxisTable MakeAxisTable(const ResizeParams& p, int64_t in, int64_t out, float scale) {
  AxisTable t;
  for (int64_t o = 0; o < out; ++o) {
    float x = OriginalCoord(p.coord, static_cast<float>(o), scale, in, out);
    int64_t i0, i1;
    double w1 = 0;
    if (p.linear) {
      x = std::clamp(x, 0.0f, static_cast<float>(in - 1));
      i0 = std::min<int64_t>(static_cast<int64_t>(x), in - 1);
      i1 = std::min<int64_t>(i0 + 1, in - 1);
      w1 = i1 == i0 ? 0.0 : static_cast<double>(x) - static_cast<double>(i0);
    } else {
      i0 = i1 = std::clamp<int64_t>(NearestIndex(p.nearest, x, scale < 1.0f), 0, in - 1);
    }
    t.i0.push_back(i0);
    t.i1.push_back(i1);
    t.w1.push_back(w1);
    t.interpolates = t.interpolates || w1 != 0;
  }
  return t;
}

Status ResizeRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                 std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, ResizeShape, outputs));
  ResizeParams params;
  EI_RETURN_IF_ERROR(ReadResizeParams(node, opset, &params));
  const Tensor& x = inputs[0];
  Tensor& y = (*outputs)[0];
  const auto r = static_cast<size_t>(x.rank());
  if (y.numel() == 0) return Status::Ok();
  if (x.numel() == 0) return Invalid(node, "cannot resize an empty input X to a non-empty output");
  if (r == 0) {
    y.data<float>()[0] = x.data<float>()[0];
    return Status::Ok();
  }
  ShapeContext ctx{&node, {}, {}, opset};
  for (const Tensor& t : inputs) {
    ctx.inputs.push_back({t.dtype(), t.shape(), true});
    ctx.constants.push_back(t.empty() ? nullptr : &t);
  }
  ResizeTarget target;
  EI_RETURN_IF_ERROR(ReadTarget(ctx, r, &target));
  std::vector<AxisTable> tables;
  std::vector<size_t> active;  // axes that interpolate between two source indices
  std::vector<int64_t> in_stride(r, 1);
  for (size_t d = r; d-- > 1;) in_stride[d - 1] = in_stride[d] * x.dim(static_cast<int64_t>(d));
  for (size_t d = 0; d < r; ++d) {
    const int64_t in = x.dim(static_cast<int64_t>(d)), out = y.dim(static_cast<int64_t>(d));
    // With sizes, the scale is out / in (computed in float, as ONNX Runtime does).
    const float scale =
        target.sizes.empty() ? target.scales[d] : static_cast<float>(out) / static_cast<float>(in);
    tables.push_back(MakeAxisTable(params, in, out, scale));
    if (tables.back().interpolates) active.push_back(d);
  }
  const int64_t out_last = y.dim(static_cast<int64_t>(r) - 1);
  const int64_t rows = y.numel() / out_last;
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  ParallelFor(
      rows,
      [&](int64_t lo, int64_t hi) {
        std::vector<int64_t> coord(r, 0);
        for (int64_t row = lo; row < hi; ++row) {
          int64_t rem = row;
          for (size_t d = r - 1; d-- > 0;) {
            coord[d] = rem % y.dim(static_cast<int64_t>(d));
            rem /= y.dim(static_cast<int64_t>(d));
          }
          for (int64_t o = 0; o < out_last; ++o) {
            coord[r - 1] = o;
            int64_t base = 0;
            for (size_t d = 0; d < r; ++d) base += tables[d].i0[coord[d]] * in_stride[d];
            double sum = 0;
            for (size_t mask = 0; mask < (size_t{1} << active.size()); ++mask) {
              double w = 1;
              int64_t offset = base;
              for (size_t a = 0; a < active.size(); ++a) {
                const AxisTable& t = tables[active[a]];
                const int64_t c = coord[active[a]];
                if (mask & (size_t{1} << a)) {
                  w *= t.w1[c];
                  offset += (t.i1[c] - t.i0[c]) * in_stride[active[a]];
                } else {
                  w *= 1.0 - t.w1[c];
                }
              }
              if (w != 0) sum += w * xd[offset];
            }
            yd[row * out_last + o] = static_cast<float>(sum);
          }
        }
      },
      out_last * (4 << active.size()));
  return Status::Ok();
}

// The rows a resize reads depend on the scale, which lives in an input, and on the opset,
// which is not passed here. The scale s satisfies floor(in * s) == out, i.e. s lies in
// [out/in, (out+1)/in); the mapping is monotone in the output index and in 1/s, so the range
// is bounded by evaluating both ends under each candidate coordinate mode, widened by one row
// for rounding and linear neighbours, and clamped to the input (the kernel clamps too).
RowRange ResizeRows(const Node& node, int64_t in_height, int64_t out_height, RowRange out) {
  const RowRange all{0, in_height};
  if (out.size() <= 0) return {0, 0};
  if (in_height <= 0 || out_height <= 0) return all;
  std::vector<Coord> coords = {Coord::kAsymmetric};
  if (node.op == OpKind::kResize) {
    ResizeParams p;
    if (!ReadResizeParams(node, 17, &p).ok()) return all;
    coords.push_back(p.coord);
  }
  const float scales[] = {static_cast<float>(out_height) / static_cast<float>(in_height),
                          static_cast<float>(out_height + 1) / static_cast<float>(in_height)};
  double lo = static_cast<double>(in_height), hi = -1;
  for (Coord c : coords) {
    for (float s : scales) {
      for (int64_t o : {out.begin, out.end - 1}) {
        const float x = OriginalCoord(c, static_cast<float>(o), s, in_height, out_height);
        lo = std::min(lo, std::floor(static_cast<double>(x)));
        hi = std::max(hi, std::ceil(static_cast<double>(x)));
      }
    }
  }
  const auto begin = static_cast<int64_t>(lo) - 1;
  const auto end = static_cast<int64_t>(hi) + 2;
  return {std::clamp<int64_t>(begin, 0, in_height), std::clamp<int64_t>(end, 0, in_height)};
}

}  // namespace

void RegisterResizeOps(std::vector<OpSchema>* out) {
  out->push_back({OpKind::kResize, 1, 4, ResizeShape, ResizeRef, SpatialKind::kResize, ResizeRows});
  out->push_back(
      {OpKind::kUpsample, 1, 2, ResizeShape, ResizeRef, SpatialKind::kResize, ResizeRows});
}

}  // namespace edgeinfer::nn

// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool: shape rules, spatial rules and naive
// reference kernels (windowed pools in 1-D and 2-D; global pools in any rank).
#include <algorithm>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "ops/nn_ops.h"
#include "ops/nn_util.h"

namespace edgeinfer::nn {
namespace {

Status PoolShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  if (node.op == OpKind::kMaxPool && OutputRequested(node, 1)) {
    return Unimplemented(node, "the Indices output of MaxPool is not supported");
  }
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "X", 3, 8));
  if (!node.attrs.Has("kernel_shape")) return Invalid(node, "attribute kernel_shape is required");
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  const ValueInfo& x = ctx.inputs[0];
  std::vector<int64_t> kernel = node.attrs.GetInts("kernel_shape");
  if (!x.rank_known) return Status::Ok();
  std::vector<int64_t> in = SpatialDims(x.shape);
  if (kernel.size() != in.size()) {
    return Invalid(node, "kernel_shape " + ShapeToString(kernel) +
                             " does not match input X shape " + ShapeToString(x.shape));
  }
  EI_ASSIGN_OR_RETURN(Window win,
                      ComputeWindow(node, in, kernel, node.attrs.GetInt("ceil_mode", 0) != 0));
  ValueInfo y;
  y.dtype = DType::kFloat32;
  y.shape = {x.shape[0], x.shape[1]};
  y.shape.insert(y.shape.end(), win.out.begin(), win.out.end());
  (*outputs)[0] = y;
  return Status::Ok();
}

// Number of taps k in [0, kernel) with lo <= start + k*dilation < hi.
int64_t TapsInside(int64_t start, int64_t kernel, int64_t dilation, int64_t lo, int64_t hi) {
  int64_t n = 0;
  for (int64_t k = 0; k < kernel; ++k) {
    int64_t pos = start + k * dilation;
    n += pos >= lo && pos < hi;
  }
  return n;
}

Status PoolRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
               std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, PoolShape, outputs));
  const Tensor& x = inputs[0];
  if (x.rank() > 4) return Unimplemented(node, "reference pooling supports 1-D and 2-D only");
  std::vector<int64_t> in = SpatialDims(x.shape());
  EI_ASSIGN_OR_RETURN(Window win, ComputeWindow(node, in, node.attrs.GetInts("kernel_shape"),
                                                node.attrs.GetInt("ceil_mode", 0) != 0));
  const Plane p = ToPlane(win, in);
  const bool is_max = node.op == OpKind::kMaxPool;
  const bool include_pad = node.attrs.GetInt("count_include_pad", 0) != 0;
  const float* xd = x.data<float>();
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      x.dim(0) * x.dim(1),
      [&](int64_t lo, int64_t hi) {
        for (int64_t plane = lo; plane < hi; ++plane) {
          const float* xp = xd + plane * p.ih * p.iw;
          float* yp = yd + plane * p.oh * p.ow;
          for (int64_t oy = 0; oy < p.oh; ++oy) {
            const int64_t y0 = oy * p.sh - p.pt;
            for (int64_t ox = 0; ox < p.ow; ++ox) {
              const int64_t x0 = ox * p.sw - p.pl;
              double sum = 0;
              float best = -std::numeric_limits<float>::infinity();
              for (int64_t ky = 0; ky < p.kh; ++ky) {
                const int64_t iy = y0 + ky * p.dh;
                if (iy < 0 || iy >= p.ih) continue;
                for (int64_t kx = 0; kx < p.kw; ++kx) {
                  const int64_t ix = x0 + kx * p.dw;
                  if (ix < 0 || ix >= p.iw) continue;
                  const float v = xp[iy * p.iw + ix];
                  sum += v;
                  best = std::max(best, v);
                }
              }
              if (is_max) {
                yp[oy * p.ow + ox] = best;
                continue;
              }
              // count_include_pad counts padding taps, but never taps past the end padding
              // (a ceil_mode window may reach beyond it).
              const int64_t count = include_pad ? TapsInside(y0, p.kh, p.dh, -p.pt, p.ih + p.pb) *
                                                      TapsInside(x0, p.kw, p.dw, -p.pl, p.iw + p.pr)
                                                : TapsInside(y0, p.kh, p.dh, 0, p.ih) *
                                                      TapsInside(x0, p.kw, p.dw, 0, p.iw);
              yp[oy * p.ow + ox] = count > 0 ? static_cast<float>(sum / count) : 0.0f;
            }
          }
        }
      },
      p.oh * p.ow * p.kh * p.kw);
  return Status::Ok();
}

RowRange PoolRows(const Node& node, int64_t in_height, int64_t out_height, RowRange out) {
  std::vector<int64_t> k = node.attrs.GetInts("kernel_shape");
  if (k.empty()) return {0, in_height};
  return WindowInputRows(node, k[0], in_height, out_height, out);
}

Status GlobalPoolShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "X", 3, 8));
  outputs->assign(NumOutputs(*ctx.node), UnknownRankFloat());
  const ValueInfo& x = ctx.inputs[0];
  if (!x.rank_known) return Status::Ok();
  ValueInfo y;
  y.dtype = DType::kFloat32;
  y.shape = x.shape;
  std::fill(y.shape.begin() + 2, y.shape.end(), 1);
  (*outputs)[0] = y;
  return Status::Ok();
}

Status GlobalPoolRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                     std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, GlobalPoolShape, outputs));
  const Tensor& x = inputs[0];
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t size = planes > 0 ? x.numel() / planes : 0;
  const bool is_max = node.op == OpKind::kGlobalMaxPool;
  const float* xd = x.data<float>();
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      planes,
      [&](int64_t lo, int64_t hi) {
        for (int64_t plane = lo; plane < hi; ++plane) {
          const float* xp = xd + plane * size;
          if (is_max) {
            float best = -std::numeric_limits<float>::infinity();
            for (int64_t i = 0; i < size; ++i) best = std::max(best, xp[i]);
            yd[plane] = best;
          } else {
            double sum = 0;
            for (int64_t i = 0; i < size; ++i) sum += xp[i];
            yd[plane] = size > 0 ? static_cast<float>(sum / static_cast<double>(size)) : 0.0f;
          }
        }
      },
      size);
  return Status::Ok();
}

}  // namespace

void RegisterPoolOps(std::vector<OpSchema>* out) {
  out->push_back({OpKind::kMaxPool, 1, 1, PoolShape, PoolRef, SpatialKind::kWindow, PoolRows});
  out->push_back({OpKind::kAveragePool, 1, 1, PoolShape, PoolRef, SpatialKind::kWindow, PoolRows});
  out->push_back({OpKind::kGlobalAveragePool, 1, 1, GlobalPoolShape, GlobalPoolRef,
                  SpatialKind::kNone, nullptr});
  out->push_back(
      {OpKind::kGlobalMaxPool, 1, 1, GlobalPoolShape, GlobalPoolRef, SpatialKind::kNone, nullptr});
}

}  // namespace edgeinfer::nn

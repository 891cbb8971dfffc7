// Conv and ConvTranspose: shape rules, spatial rules and naive reference kernels (1-D and 2-D
// kernels; shape rules for any spatial rank).
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "ops/nn_ops.h"
#include "ops/nn_util.h"

namespace edgeinfer::nn {
namespace {

// Kernel spatial sizes from kernel_shape, else from W's spatial dims (-1 where unknown).
Result<std::vector<int64_t>> KernelShape(const Node& node, const ValueInfo& w, size_t r) {
  std::vector<int64_t> from_w(r, -1);
  if (w.rank_known && w.shape.size() == r + 2) {
    std::copy(w.shape.begin() + 2, w.shape.end(), from_w.begin());
  }
  if (!node.attrs.Has("kernel_shape")) return from_w;
  std::vector<int64_t> k = node.attrs.GetInts("kernel_shape");
  if (k.size() != r) {
    return Invalid(node, "kernel_shape has " + std::to_string(k.size()) +
                             " dims but the input has " + std::to_string(r) + " spatial dims");
  }
  for (size_t i = 0; i < r; ++i) {
    if (from_w[i] >= 0 && from_w[i] != k[i]) {
      return Invalid(node, "kernel_shape " + ShapeToString(k) + " does not match W shape " +
                               ShapeToString(w.shape));
    }
  }
  return k;
}

// Common checks of X, W, B; sets *rank (-1 if unknown), *group.
Status CheckConvInputs(const ShapeContext& ctx, int64_t* rank, int64_t* group) {
  const Node& node = *ctx.node;
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "X", 3, 8));
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 1, "W", 3, 8));
  if (ctx.has_input(2)) EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 2, "B", 1, 1));
  const ValueInfo& x = ctx.inputs[0];
  const ValueInfo& w = ctx.inputs[1];
  if (x.rank_known && w.rank_known && x.shape.size() != w.shape.size()) {
    return Invalid(node, "input X has shape " + ShapeToString(x.shape) + " but W has shape " +
                             ShapeToString(w.shape) + " (ranks differ)");
  }
  *rank = x.rank_known ? static_cast<int64_t>(x.shape.size())
                       : (w.rank_known ? static_cast<int64_t>(w.shape.size()) : -1);
  *group = node.attrs.GetInt("group", 1);
  if (*group <= 0) return Invalid(node, "group must be positive, got " + std::to_string(*group));
  return Status::Ok();
}

Status ConvShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  int64_t rank, group;
  EI_RETURN_IF_ERROR(CheckConvInputs(ctx, &rank, &group));
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  if (rank < 0) return Status::Ok();
  const ValueInfo& x = ctx.inputs[0];
  const ValueInfo& w = ctx.inputs[1];
  auto r = static_cast<size_t>(rank - 2);
  int64_t c = x.rank_known ? x.shape[1] : -1;
  int64_t m = w.rank_known ? w.shape[0] : -1;
  if (c >= 0 && w.rank_known && w.shape[1] >= 0 && w.shape[1] * group != c) {
    return Invalid(node, "input X has shape " + ShapeToString(x.shape) + " but W has shape " +
                             ShapeToString(w.shape) + " with group " + std::to_string(group) +
                             " (W dim 1 * group must equal X channels)");
  }
  if (m >= 0 && m % group != 0) {
    return Invalid(node, "W has shape " + ShapeToString(w.shape) + ": " + std::to_string(m) +
                             " output channels not divisible by group " + std::to_string(group));
  }
  if (ctx.has_input(2)) {
    const ValueInfo& b = ctx.inputs[2];
    if (b.rank_known && b.shape[0] >= 0 && m >= 0 && b.shape[0] != m) {
      return Invalid(node, "input B has shape " + ShapeToString(b.shape) + " but W has shape " +
                               ShapeToString(w.shape));
    }
  }
  EI_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, KernelShape(node, w, r));
  std::vector<int64_t> in(r, -1);
  if (x.rank_known) std::copy(x.shape.begin() + 2, x.shape.end(), in.begin());
  for (size_t i = 0; i < r; ++i) {
    if (kernel[i] < 0) {
      kernel[i] = 1;
      in[i] = -1;
    }
  }
  EI_ASSIGN_OR_RETURN(Window win, ComputeWindow(node, in, kernel, false));
  ValueInfo y;
  y.dtype = DType::kFloat32;
  y.shape = {x.rank_known ? x.shape[0] : -1, m};
  y.shape.insert(y.shape.end(), win.out.begin(), win.out.end());
  (*outputs)[0] = y;
  return Status::Ok();
}

Status ConvRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
               std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, ConvShape, outputs));
  const Tensor& x = inputs[0];
  const Tensor& w = inputs[1];
  const Tensor* b = OptionalInput(inputs, 2);
  if (x.rank() > 4) return Unimplemented(node, "reference Conv supports 1-D and 2-D only");
  std::vector<int64_t> in = SpatialDims(x.shape());
  EI_ASSIGN_OR_RETURN(Window win, ComputeWindow(node, in, SpatialDims(w.shape()), false));
  const Plane p = ToPlane(win, in);
  const int64_t n_batch = x.dim(0), c_in = x.dim(1), m_out = w.dim(0);
  const int64_t group = node.attrs.GetInt("group", 1);
  const int64_t cg = c_in / group, mg = m_out / group;
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* bd = b ? b->data<float>() : nullptr;
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      n_batch * m_out,
      [&](int64_t lo, int64_t hi) {
        std::vector<double> acc(static_cast<size_t>(p.oh * p.ow));
        for (int64_t idx = lo; idx < hi; ++idx) {
          const int64_t n = idx / m_out, m = idx % m_out, g = m / mg;
          std::fill(acc.begin(), acc.end(), bd ? static_cast<double>(bd[m]) : 0.0);
          for (int64_t c = 0; c < cg; ++c) {
            const float* xp = xd + (n * c_in + g * cg + c) * p.ih * p.iw;
            const float* wp = wd + (m * cg + c) * p.kh * p.kw;
            for (int64_t ky = 0; ky < p.kh; ++ky) {
              int64_t oy0, oy1;
              ValidOutputRange(p.ih, p.oh, p.sh, p.pt, ky * p.dh, &oy0, &oy1);
              for (int64_t kx = 0; kx < p.kw; ++kx) {
                const double wv = wp[ky * p.kw + kx];
                int64_t ox0, ox1;
                ValidOutputRange(p.iw, p.ow, p.sw, p.pl, kx * p.dw, &ox0, &ox1);
                for (int64_t oy = oy0; oy < oy1; ++oy) {
                  const int64_t base = (oy * p.sh - p.pt + ky * p.dh) * p.iw - p.pl + kx * p.dw;
                  double* arow = acc.data() + oy * p.ow;
                  for (int64_t ox = ox0; ox < ox1; ++ox) arow[ox] += wv * xp[base + ox * p.sw];
                }
              }
            }
          }
          float* yp = yd + idx * p.oh * p.ow;
          for (size_t i = 0; i < acc.size(); ++i) yp[i] = static_cast<float>(acc[i]);
        }
      },
      cg * p.kh * p.kw * p.oh * p.ow);
  return Status::Ok();
}

RowRange ConvRows(const Node& node, int64_t in_height, int64_t out_height, RowRange out) {
  std::vector<int64_t> k = node.attrs.GetInts("kernel_shape");
  return WindowInputRows(node, k.empty() ? -1 : k[0], in_height, out_height, out);
}

// One spatial dim of ConvTranspose: output size and effective pads (ONNX rules).
struct TransposedDim {
  int64_t out = -1, pad_begin = 0, pad_end = 0;
};

TransposedDim TransposeDim(AutoPad auto_pad, int64_t in, int64_t k, int64_t s, int64_t d,
                           int64_t out_pad, int64_t pb, int64_t pe, int64_t requested_out) {
  TransposedDim t;
  const int64_t ek = (k - 1) * d + 1;
  const bool same = auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower;
  if (requested_out >= 0 || same) {
    t.out = requested_out >= 0 ? requested_out : (in >= 0 ? in * s : -1);
    if (in >= 0 && t.out >= 0) {
      const int64_t total = s * (in - 1) + out_pad + ek - t.out;
      const int64_t half = FloorDiv(total, 2);
      t.pad_begin = auto_pad == AutoPad::kSameUpper ? half : total - half;
      t.pad_end = total - t.pad_begin;
    }
    return t;
  }
  if (auto_pad == AutoPad::kNotSet) {
    t.pad_begin = pb;
    t.pad_end = pe;
  }
  if (in >= 0) t.out = s * (in - 1) + out_pad + ek - t.pad_begin - t.pad_end;
  return t;
}

struct TransposedWindow {
  std::vector<int64_t> kernel, strides, dilations, pads_begin, pads_end, out;
};

Result<TransposedWindow> ComputeTransposedWindow(const Node& node, const std::vector<int64_t>& in,
                                                 const std::vector<int64_t>& kernel) {
  const size_t r = in.size();
  TransposedWindow w;
  w.kernel = kernel;
  w.strides = node.attrs.GetInts("strides", std::vector<int64_t>(r, 1));
  w.dilations = node.attrs.GetInts("dilations", std::vector<int64_t>(r, 1));
  std::vector<int64_t> pads = node.attrs.GetInts("pads", std::vector<int64_t>(2 * r, 0));
  std::vector<int64_t> out_pad = node.attrs.GetInts("output_padding", std::vector<int64_t>(r, 0));
  std::vector<int64_t> out_shape = node.attrs.GetInts("output_shape");
  if (out_shape.size() == r + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (w.strides.size() != r || w.dilations.size() != r || pads.size() != 2 * r ||
      out_pad.size() != r || (!out_shape.empty() && out_shape.size() != r)) {
    return Invalid(node, "strides/dilations/pads/output_padding/output_shape sizes do not match " +
                             std::to_string(r) + " spatial dims");
  }
  EI_ASSIGN_OR_RETURN(AutoPad auto_pad, ParseAutoPad(node));
  for (size_t i = 0; i < r; ++i) {
    if (w.kernel[i] <= 0 || w.strides[i] <= 0 || w.dilations[i] <= 0 || out_pad[i] < 0 ||
        pads[i] < 0 || pads[i + r] < 0) {
      return Invalid(node,
                     "kernel, strides and dilations must be positive, pads and "
                     "output_padding non-negative (spatial dim " +
                         std::to_string(i) + ")");
    }
    TransposedDim t =
        TransposeDim(auto_pad, in[i], w.kernel[i], w.strides[i], w.dilations[i], out_pad[i],
                     pads[i], pads[i + r], out_shape.empty() ? -1 : out_shape[i]);
    if (in[i] >= 0 && t.out <= 0) {
      return Invalid(
          node, "output spatial dim " + std::to_string(i) + " would be " + std::to_string(t.out));
    }
    w.out.push_back(t.out);
    w.pads_begin.push_back(t.pad_begin);
    w.pads_end.push_back(t.pad_end);
  }
  return w;
}

Status ConvTransposeShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  int64_t rank, group;
  EI_RETURN_IF_ERROR(CheckConvInputs(ctx, &rank, &group));
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  if (rank < 0) return Status::Ok();
  const ValueInfo& x = ctx.inputs[0];
  const ValueInfo& w = ctx.inputs[1];
  auto r = static_cast<size_t>(rank - 2);
  int64_t c = x.rank_known ? x.shape[1] : -1;
  if (c >= 0 && w.rank_known && w.shape[0] >= 0 && w.shape[0] != c) {
    return Invalid(node, "input X has shape " + ShapeToString(x.shape) + " but W has shape " +
                             ShapeToString(w.shape) + " (W dim 0 must equal X channels)");
  }
  if (w.rank_known && w.shape[0] >= 0 && w.shape[0] % group != 0) {
    return Invalid(node, "W has shape " + ShapeToString(w.shape) + ": " +
                             std::to_string(w.shape[0]) +
                             " input channels not divisible by group " + std::to_string(group));
  }
  int64_t m = w.rank_known && w.shape[1] >= 0 ? w.shape[1] * group : -1;
  if (ctx.has_input(2)) {
    const ValueInfo& b = ctx.inputs[2];
    if (b.rank_known && b.shape[0] >= 0 && m >= 0 && b.shape[0] != m) {
      return Invalid(node, "input B has shape " + ShapeToString(b.shape) + " but W has shape " +
                               ShapeToString(w.shape) + " with group " + std::to_string(group));
    }
  }
  EI_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, KernelShape(node, w, r));
  std::vector<int64_t> in(r, -1);
  if (x.rank_known) std::copy(x.shape.begin() + 2, x.shape.end(), in.begin());
  std::vector<bool> unknown_kernel(r, false);
  for (size_t i = 0; i < r; ++i) {
    if (kernel[i] < 0) {
      kernel[i] = 1;
      unknown_kernel[i] = true;
    }
  }
  EI_ASSIGN_OR_RETURN(TransposedWindow win, ComputeTransposedWindow(node, in, kernel));
  ValueInfo y;
  y.dtype = DType::kFloat32;
  y.shape = {x.rank_known ? x.shape[0] : -1, m};
  EI_ASSIGN_OR_RETURN(AutoPad auto_pad, ParseAutoPad(node));
  // The output size depends on the kernel unless output_shape or SAME_* fixes it.
  bool out_fixed = node.attrs.Has("output_shape") || auto_pad == AutoPad::kSameUpper ||
                   auto_pad == AutoPad::kSameLower;
  for (size_t i = 0; i < r; ++i) {
    y.shape.push_back(unknown_kernel[i] && !out_fixed ? -1 : win.out[i]);
  }
  (*outputs)[0] = y;
  return Status::Ok();
}

Status ConvTransposeRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                        std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, ConvTransposeShape, outputs));
  const Tensor& x = inputs[0];
  const Tensor& w = inputs[1];
  const Tensor* b = OptionalInput(inputs, 2);
  if (x.rank() > 4) return Unimplemented(node, "reference ConvTranspose supports 1-D and 2-D only");
  std::vector<int64_t> in = SpatialDims(x.shape());
  EI_ASSIGN_OR_RETURN(TransposedWindow tw,
                      ComputeTransposedWindow(node, in, SpatialDims(w.shape())));
  Window win{tw.kernel, tw.strides, tw.dilations, tw.pads_begin, tw.pads_end, tw.out};
  const Plane p = ToPlane(win, in);
  const int64_t n_batch = x.dim(0), c_in = x.dim(1);
  const int64_t group = node.attrs.GetInt("group", 1);
  const int64_t cg = c_in / group, mg = w.dim(1), m_out = mg * group;
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* bd = b ? b->data<float>() : nullptr;
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      n_batch * m_out,
      [&](int64_t lo, int64_t hi) {
        std::vector<double> acc(static_cast<size_t>(p.oh * p.ow));
        for (int64_t idx = lo; idx < hi; ++idx) {
          const int64_t n = idx / m_out, m = idx % m_out, g = m / mg, ml = m % mg;
          std::fill(acc.begin(), acc.end(), bd ? static_cast<double>(bd[m]) : 0.0);
          for (int64_t c = 0; c < cg; ++c) {
            const int64_t ci = g * cg + c;
            const float* xp = xd + (n * c_in + ci) * p.ih * p.iw;
            const float* wp = wd + (ci * mg + ml) * p.kh * p.kw;
            for (int64_t ky = 0; ky < p.kh; ++ky) {
              // Input rows iy whose output row iy*sh - pt + ky*dh lies in [0, oh).
              int64_t iy0, iy1;
              ValidOutputRange(p.oh, p.ih, p.sh, p.pt, ky * p.dh, &iy0, &iy1);
              for (int64_t kx = 0; kx < p.kw; ++kx) {
                const double wv = wp[ky * p.kw + kx];
                int64_t ix0, ix1;
                ValidOutputRange(p.ow, p.iw, p.sw, p.pl, kx * p.dw, &ix0, &ix1);
                for (int64_t iy = iy0; iy < iy1; ++iy) {
                  const float* row = xp + iy * p.iw;
                  const int64_t base = (iy * p.sh - p.pt + ky * p.dh) * p.ow - p.pl + kx * p.dw;
                  for (int64_t ix = ix0; ix < ix1; ++ix) acc[base + ix * p.sw] += wv * row[ix];
                }
              }
            }
          }
          float* yp = yd + idx * p.oh * p.ow;
          for (size_t i = 0; i < acc.size(); ++i) yp[i] = static_cast<float>(acc[i]);
        }
      },
      cg * p.kh * p.kw * p.ih * p.iw);
  return Status::Ok();
}

// Output row o receives input row i through kernel row k when o = i*s - pt + k*d, so output rows
// [b, e) read input rows [ceil((b + pt - (K-1)d) / s), floor((e - 1 + pt) / s) + 1).
RowRange ConvTransposeRows(const Node& node, int64_t in_height, int64_t out_height, RowRange out) {
  const RowRange all{0, in_height};
  std::vector<int64_t> kernel = node.attrs.GetInts("kernel_shape");
  std::vector<int64_t> strides = node.attrs.GetInts("strides");
  std::vector<int64_t> dilations = node.attrs.GetInts("dilations");
  std::vector<int64_t> pads = node.attrs.GetInts("pads");
  std::vector<int64_t> out_pad = node.attrs.GetInts("output_padding");
  auto auto_pad = ParseAutoPad(node);
  const int64_t s = strides.empty() ? 1 : strides[0];
  const int64_t d = dilations.empty() ? 1 : dilations[0];
  const int64_t op = out_pad.empty() ? 0 : out_pad[0];
  const int64_t pb = pads.size() >= 2 ? pads[0] : 0;
  const int64_t pe = pads.size() >= 2 ? pads[pads.size() / 2] : 0;
  if (!auto_pad.ok() || s <= 0 || d <= 0) return all;
  int64_t k = kernel.empty() ? -1 : kernel[0];
  if (k <= 0) {
    // Without kernel_shape the extent follows from the heights only for explicit pads.
    if (*auto_pad != AutoPad::kNotSet || node.attrs.Has("output_shape")) return all;
    int64_t ek = out_height - s * (in_height - 1) - op + pb + pe;
    if (ek <= 0 || (ek - 1) % d != 0) return all;
    k = (ek - 1) / d + 1;
  }
  TransposedDim t = TransposeDim(*auto_pad, in_height, k, s, d, op, pb, pe,
                                 node.attrs.Has("output_shape") ? out_height : -1);
  if (out.size() <= 0) return {0, 0};
  return {CeilDiv(out.begin + t.pad_begin - (k - 1) * d, s),
          FloorDiv(out.end - 1 + t.pad_begin, s) + 1};
}

}  // namespace

void RegisterConvOps(std::vector<OpSchema>* out) {
  out->push_back({OpKind::kConv, 2, 3, ConvShape, ConvRef, SpatialKind::kWindow, ConvRows});
  out->push_back({OpKind::kConvTranspose, 2, 3, ConvTransposeShape, ConvTransposeRef,
                  SpatialKind::kResize, ConvTransposeRows});
}

}  // namespace edgeinfer::nn

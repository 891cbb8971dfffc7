// Pad, DepthToSpace and SpaceToDepth: shape rules and naive reference kernels.
#include <algorithm>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "ops/nn_ops.h"
#include "ops/nn_util.h"

namespace edgeinfer::nn {
namespace {

enum class PadMode { kConstant, kReflect, kEdge };

struct PadParams {
  PadMode mode = PadMode::kConstant;
  std::vector<int64_t> pads;  // [x1_begin, x2_begin, ..., x1_end, x2_end, ...]
};

// Reads mode and pads (attribute before opset 11, constant input 1 from opset 11).
Status ReadPadParams(const Node& node, int64_t opset, const Tensor* pads_input, size_t rank,
                     PadParams* p) {
  const std::string mode = node.attrs.GetString("mode", "constant");
  if (mode == "constant") {
    p->mode = PadMode::kConstant;
  } else if (mode == "reflect") {
    p->mode = PadMode::kReflect;
  } else if (mode == "edge") {
    p->mode = PadMode::kEdge;
  } else {
    return Invalid(node, "unknown mode '" + mode + "'");
  }
  if (opset < 11) {
    p->pads = node.attrs.GetInts("pads");
  } else {
    if (!pads_input) return Invalid(node, "input pads must be a known constant");
    if (pads_input->dtype() != DType::kInt64) {
      return Invalid(node, std::string("input pads has dtype ") + DTypeName(pads_input->dtype()) +
                               "; int64 is required");
    }
    EI_ASSIGN_OR_RETURN(p->pads, pads_input->ToInt64Vector());
  }
  if (p->pads.size() != 2 * rank) {
    return Invalid(node, "pads has " + std::to_string(p->pads.size()) +
                             " values but the input has rank " + std::to_string(rank) +
                             " (2 * rank expected)");
  }
  return Status::Ok();
}

Status PadShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  EI_RETURN_IF_ERROR(RequireFloat(ctx, 0, "data"));
  if (ctx.opset >= 11 && ctx.has_input(3)) {
    return Unimplemented(node, "the axes input is not supported");
  }
  if (ctx.opset >= 11 && ctx.has_input(2)) {
    EI_RETURN_IF_ERROR(RequireFloat(ctx, 2, "constant_value"));
    const ValueInfo& v = ctx.inputs[2];
    if (v.rank_known && NumElements(v.shape) != 1 &&
        std::all_of(v.shape.begin(), v.shape.end(), [](int64_t d) { return d >= 0; })) {
      return Invalid(node, "input constant_value has shape " + ShapeToString(v.shape) +
                               " but a scalar is required");
    }
  }
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  const ValueInfo& x = ctx.inputs[0];
  if (!x.rank_known) return Status::Ok();
  if (ctx.opset >= 11 && !ctx.has_input(1)) return Invalid(node, "missing input pads");
  const Tensor* pads_input = ctx.opset >= 11 ? ctx.constants[1] : nullptr;
  PadParams p;
  EI_RETURN_IF_ERROR(ReadPadParams(node, ctx.opset, pads_input, x.shape.size(), &p));
  ValueInfo y = x;
  const size_t r = x.shape.size();
  for (size_t i = 0; i < r; ++i) {
    if (x.shape[i] < 0) continue;
    y.shape[i] = x.shape[i] + p.pads[i] + p.pads[i + r];
    bool reads_outside = p.pads[i] > 0 || p.pads[i + r] > 0;
    if (y.shape[i] < 0 || (p.mode != PadMode::kConstant && reads_outside && x.shape[i] == 0)) {
      return Invalid(node, "pads " + ShapeToString(p.pads) +
                               " are invalid for input data of shape " + ShapeToString(x.shape));
    }
  }
  (*outputs)[0] = y;
  return Status::Ok();
}

// Source index along one dim for output index `o`, or -1 for the constant value.
int64_t PadSource(PadMode mode, int64_t o, int64_t pad_begin, int64_t in) {
  int64_t i = o - pad_begin;
  if (i >= 0 && i < in) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return std::clamp<int64_t>(i, 0, in - 1);
    case PadMode::kReflect: {
      if (in == 1) return 0;
      const int64_t period = 2 * (in - 1);
      int64_t m = ((i % period) + period) % period;
      return m < in ? m : period - m;
    }
  }
  return -1;
}

Status PadRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
              std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, PadShape, outputs));
  const Tensor& x = inputs[0];
  PadParams p;
  EI_RETURN_IF_ERROR(ReadPadParams(node, opset, OptionalInput(inputs, 1), x.shape().size(), &p));
  float value = node.attrs.GetFloat("value", 0.0f);
  if (opset >= 11) {
    const Tensor* v = OptionalInput(inputs, 2);
    value = v ? v->data<float>()[0] : 0.0f;
  }
  Tensor& y = (*outputs)[0];
  const size_t r = x.shape().size();
  if (y.numel() == 0) return Status::Ok();
  if (r == 0) {
    y.data<float>()[0] = x.data<float>()[0];
    return Status::Ok();
  }
  const int64_t row = y.dim(static_cast<int64_t>(r) - 1);
  const int64_t rows = y.numel() / row;
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  ParallelFor(
      rows,
      [&](int64_t lo, int64_t hi) {
        std::vector<int64_t> coord(r);
        for (int64_t ri = lo; ri < hi; ++ri) {
          // Source offset of this output row's leading coordinates, or -1 if in the padding.
          int64_t rem = ri, src = 0, stride = x.dim(static_cast<int64_t>(r) - 1);
          for (size_t d = r - 1; d-- > 0;) {
            const int64_t o = rem % y.dim(static_cast<int64_t>(d));
            rem /= y.dim(static_cast<int64_t>(d));
            const int64_t s = PadSource(p.mode, o, p.pads[d], x.dim(static_cast<int64_t>(d)));
            if (s < 0 || src < 0) {
              src = -1;
            } else {
              src += s * stride;
            }
            stride *= x.dim(static_cast<int64_t>(d));
          }
          float* out = yd + ri * row;
          const int64_t in_w = x.dim(static_cast<int64_t>(r) - 1);
          for (int64_t o = 0; o < row; ++o) {
            const int64_t s = src < 0 ? -1 : PadSource(p.mode, o, p.pads[r - 1], in_w);
            out[o] = s < 0 ? value : xd[src + s];
          }
        }
      },
      row * 4);
  return Status::Ok();
}

Status DepthSpaceShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "input", 4, 4));
  const int64_t b = node.attrs.GetInt("blocksize", 0);
  if (b <= 0) return Invalid(node, "attribute blocksize is required and must be positive");
  if (node.op == OpKind::kDepthToSpace) {
    const std::string mode = node.attrs.GetString("mode", "DCR");
    if (mode != "DCR" && mode != "CRD") return Invalid(node, "unknown mode '" + mode + "'");
  }
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  const ValueInfo& x = ctx.inputs[0];
  if (!x.rank_known) return Status::Ok();
  ValueInfo y = x;
  const Shape& s = x.shape;
  if (node.op == OpKind::kDepthToSpace) {
    if (s[1] >= 0 && s[1] % (b * b) != 0) {
      return Invalid(node,
                     "input has shape " + ShapeToString(s) +
                         ": channels not divisible by blocksize^2 = " + std::to_string(b * b));
    }
    y.shape = {s[0], s[1] < 0 ? -1 : s[1] / (b * b), s[2] < 0 ? -1 : s[2] * b,
               s[3] < 0 ? -1 : s[3] * b};
  } else {
    if ((s[2] >= 0 && s[2] % b != 0) || (s[3] >= 0 && s[3] % b != 0)) {
      return Invalid(node, "input has shape " + ShapeToString(s) +
                               ": height and width must be divisible by blocksize " +
                               std::to_string(b));
    }
    y.shape = {s[0], s[1] < 0 ? -1 : s[1] * b * b, s[2] < 0 ? -1 : s[2] / b,
               s[3] < 0 ? -1 : s[3] / b};
  }
  (*outputs)[0] = y;
  return Status::Ok();
}

// Both ops move element (n, c, h*b+i, w*b+j) of the space tensor to/from element
// (n, depth_channel(c, i, j), h, w) of the depth tensor.
Status DepthSpaceRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                     std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, DepthSpaceShape, outputs));
  const bool to_space = node.op == OpKind::kDepthToSpace;
  const Tensor& depth = to_space ? inputs[0] : (*outputs)[0];
  const Tensor& space = to_space ? (*outputs)[0] : inputs[0];
  const bool crd = to_space && node.attrs.GetString("mode", "DCR") == "CRD";
  const int64_t b = node.attrs.GetInt("blocksize", 1);
  const int64_t n_batch = space.dim(0), c_space = space.dim(1), h = depth.dim(2), w = depth.dim(3);
  const int64_t c_depth = depth.dim(1);
  const float* src = inputs[0].data<float>();
  float* dst = (*outputs)[0].data<float>();
  ParallelFor(
      n_batch * c_space,
      [&](int64_t lo, int64_t hi) {
        for (int64_t nc = lo; nc < hi; ++nc) {
          const int64_t n = nc / c_space, c = nc % c_space;
          for (int64_t i = 0; i < b; ++i) {
            for (int64_t j = 0; j < b; ++j) {
              const int64_t dc = crd ? c * b * b + i * b + j : (i * b + j) * c_space + c;
              for (int64_t y = 0; y < h; ++y) {
                for (int64_t x = 0; x < w; ++x) {
                  const int64_t d_at = ((n * c_depth + dc) * h + y) * w + x;
                  const int64_t s_at = ((n * c_space + c) * h * b + y * b + i) * w * b + x * b + j;
                  if (to_space) {
                    dst[s_at] = src[d_at];
                  } else {
                    dst[d_at] = src[s_at];
                  }
                }
              }
            }
          }
        }
      },
      b * b * h * w);
  return Status::Ok();
}

}  // namespace

void RegisterLayoutOps(std::vector<OpSchema>* out) {
  out->push_back({OpKind::kPad, 1, 4, PadShape, PadRef, SpatialKind::kNone, nullptr});
  out->push_back(
      {OpKind::kDepthToSpace, 1, 1, DepthSpaceShape, DepthSpaceRef, SpatialKind::kNone, nullptr});
  out->push_back(
      {OpKind::kSpaceToDepth, 1, 1, DepthSpaceShape, DepthSpaceRef, SpatialKind::kNone, nullptr});
}

}  // namespace edgeinfer::nn

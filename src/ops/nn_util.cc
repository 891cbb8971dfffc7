#include "ops/nn_util.h"

#include <algorithm>

namespace edgeinfer::nn {

Status Invalid(const Node& node, const std::string& what) {
  return Status::InvalidArgument(NodeLabel(node) + ": " + what);
}

Status Unimplemented(const Node& node, const std::string& what) {
  return Status::Unimplemented(NodeLabel(node) + ": " + what);
}

Status RequireFloat(const ShapeContext& ctx, size_t i, const char* tensor) {
  if (!ctx.has_input(i)) return Invalid(*ctx.node, std::string("missing input ") + tensor);
  DType dtype = ctx.inputs[i].dtype;
  if (dtype != DType::kFloat32) {
    return Unimplemented(*ctx.node, std::string("input ") + tensor + " has dtype " +
                                        DTypeName(dtype) + "; only float32 is supported");
  }
  return Status::Ok();
}

Status RequireFloatRank(const ShapeContext& ctx, size_t i, const char* tensor, int64_t min_rank,
                        int64_t max_rank) {
  EI_RETURN_IF_ERROR(RequireFloat(ctx, i, tensor));
  const ValueInfo& info = ctx.inputs[i];
  if (!info.rank_known) return Status::Ok();
  auto rank = static_cast<int64_t>(info.shape.size());
  if (rank < min_rank || rank > max_rank) {
    std::string want = min_rank == max_rank
                           ? std::to_string(min_rank)
                           : std::to_string(min_rank) + ".." + std::to_string(max_rank);
    return Invalid(*ctx.node, std::string("input ") + tensor + " has shape " +
                                  ShapeToString(info.shape) + " but rank " + want + " is required");
  }
  return Status::Ok();
}

ValueInfo UnknownRankFloat() {
  ValueInfo info;
  info.dtype = DType::kFloat32;
  info.rank_known = false;
  return info;
}

size_t NumOutputs(const Node& node) { return std::max<size_t>(1, node.outputs.size()); }

bool OutputRequested(const Node& node, size_t i) {
  if (node.outputs.empty()) return i == 0;
  return i < node.outputs.size() && node.outputs[i] != kNoValue;
}

const Tensor* OptionalInput(const std::vector<Tensor>& inputs, size_t i, bool zero_size_is_absent) {
  if (i >= inputs.size() || inputs[i].empty()) return nullptr;
  if (zero_size_is_absent && inputs[i].numel() == 0) return nullptr;
  return &inputs[i];
}

Status PrepareOutputs(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                      ShapeFn shape_fn, std::vector<Tensor>* outputs) {
  ShapeContext ctx{&node, {}, {}, opset};
  for (const Tensor& t : inputs) {
    ValueInfo info;
    info.dtype = t.dtype();
    info.shape = t.shape();
    ctx.inputs.push_back(info);
    ctx.constants.push_back(t.empty() ? nullptr : &t);
  }
  std::vector<ValueInfo> infos;
  EI_RETURN_IF_ERROR(shape_fn(ctx, &infos));
  outputs->clear();
  outputs->resize(infos.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    if (!OutputRequested(node, i)) continue;
    const ValueInfo& info = infos[i];
    bool known = info.rank_known && std::all_of(info.shape.begin(), info.shape.end(),
                                                [](int64_t d) { return d >= 0; });
    if (!known) {
      return Status::Internal(NodeLabel(node) + ": output " + std::to_string(i) +
                              " shape unknown for concrete inputs");
    }
    auto tensor = Tensor::Allocate(info.dtype, info.shape);
    if (!tensor.ok()) return tensor.status().WithContext(NodeLabel(node) + " output");
    (*outputs)[i] = std::move(tensor).value();
  }
  return Status::Ok();
}

Result<AutoPad> ParseAutoPad(const Node& node) {
  std::string s = node.attrs.GetString("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  return Invalid(node, "unknown auto_pad '" + s + "'");
}

Result<Window> ComputeWindow(const Node& node, const std::vector<int64_t>& in,
                             const std::vector<int64_t>& kernel, bool ceil_mode) {
  const size_t r = in.size();
  Window w;
  w.kernel = kernel;
  w.strides = node.attrs.GetInts("strides", std::vector<int64_t>(r, 1));
  w.dilations = node.attrs.GetInts("dilations", std::vector<int64_t>(r, 1));
  std::vector<int64_t> pads = node.attrs.GetInts("pads", std::vector<int64_t>(2 * r, 0));
  if (w.kernel.size() != r || w.strides.size() != r || w.dilations.size() != r ||
      pads.size() != 2 * r) {
    return Invalid(node,
                   "kernel_shape/strides/dilations/pads sizes (" + std::to_string(w.kernel.size()) +
                       "/" + std::to_string(w.strides.size()) + "/" +
                       std::to_string(w.dilations.size()) + "/" + std::to_string(pads.size()) +
                       ") do not match " + std::to_string(r) + " spatial dims");
  }
  EI_ASSIGN_OR_RETURN(AutoPad auto_pad, ParseAutoPad(node));
  w.pads_begin.assign(r, 0);
  w.pads_end.assign(r, 0);
  w.out.assign(r, -1);
  for (size_t i = 0; i < r; ++i) {
    int64_t k = w.kernel[i], s = w.strides[i], d = w.dilations[i];
    if (k <= 0 || s <= 0 || d <= 0 || pads[i] < 0 || pads[i + r] < 0) {
      return Invalid(node,
                     "kernel, strides and dilations must be positive and pads "
                     "non-negative (spatial dim " +
                         std::to_string(i) + ")");
    }
    int64_t ek = (k - 1) * d + 1;
    if (auto_pad == AutoPad::kNotSet) {
      w.pads_begin[i] = pads[i];
      w.pads_end[i] = pads[i + r];
    }
    if (in[i] < 0) continue;
    if (auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower) {
      w.out[i] = CeilDiv(in[i], s);
      int64_t total = std::max<int64_t>(0, (w.out[i] - 1) * s + ek - in[i]);
      w.pads_begin[i] = auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      w.pads_end[i] = total - w.pads_begin[i];
      continue;
    }
    int64_t span = in[i] + w.pads_begin[i] + w.pads_end[i] - ek;
    if (span < 0) {
      return Invalid(node, "window extent " + std::to_string(ek) + " exceeds padded input size " +
                               std::to_string(in[i] + w.pads_begin[i] + w.pads_end[i]) +
                               " (spatial dim " + std::to_string(i) + ")");
    }
    if (ceil_mode) {
      w.out[i] = CeilDiv(span, s) + 1;
      if ((w.out[i] - 1) * s >= in[i] + w.pads_begin[i]) --w.out[i];
    } else {
      w.out[i] = span / s + 1;
    }
  }
  return w;
}

RowRange WindowInputRows(const Node& node, int64_t kernel_h, int64_t in_height, int64_t out_height,
                         RowRange out) {
  const RowRange all{0, in_height};
  std::vector<int64_t> strides = node.attrs.GetInts("strides");
  std::vector<int64_t> dilations = node.attrs.GetInts("dilations");
  std::vector<int64_t> pads = node.attrs.GetInts("pads");
  int64_t s = strides.empty() ? 1 : strides[0];
  int64_t d = dilations.empty() ? 1 : dilations[0];
  int64_t pt = pads.size() >= 2 ? pads[0] : 0;
  int64_t pb = pads.size() >= 2 ? pads[pads.size() / 2] : 0;
  auto auto_pad = ParseAutoPad(node);
  if (!auto_pad.ok() || s <= 0 || d <= 0) return all;
  bool same = *auto_pad == AutoPad::kSameUpper || *auto_pad == AutoPad::kSameLower;
  if (*auto_pad == AutoPad::kValid) pt = pb = 0;
  int64_t ek;
  if (kernel_h > 0) {
    ek = (kernel_h - 1) * d + 1;
  } else if (!same) {
    // Kernel unknown: the largest extent consistent with the heights; begin stays exact and
    // end may include up to stride-1 extra rows.
    ek = std::max<int64_t>(1, in_height + pt + pb - (out_height - 1) * s);
  } else {
    return all;
  }
  if (same) {
    int64_t total = std::max<int64_t>(0, (CeilDiv(in_height, s) - 1) * s + ek - in_height);
    pt = *auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
  }
  if (out.size() <= 0) return {out.begin * s - pt, out.begin * s - pt};
  return {out.begin * s - pt, (out.end - 1) * s - pt + ek};
}

Plane ToPlane(const Window& w, const std::vector<int64_t>& in) {
  Plane p;
  size_t last = in.size() - 1;
  p.iw = in[last];
  p.ow = w.out[last];
  p.kw = w.kernel[last];
  p.sw = w.strides[last];
  p.dw = w.dilations[last];
  p.pl = w.pads_begin[last];
  p.pr = w.pads_end[last];
  if (in.size() == 2) {
    p.ih = in[0];
    p.oh = w.out[0];
    p.kh = w.kernel[0];
    p.sh = w.strides[0];
    p.dh = w.dilations[0];
    p.pt = w.pads_begin[0];
    p.pb = w.pads_end[0];
  }
  return p;
}

void ValidOutputRange(int64_t in_size, int64_t out_size, int64_t stride, int64_t pad,
                      int64_t k_offset, int64_t* lo, int64_t* hi) {
  // o*s - pad + k_offset >= 0  <=>  o >= ceil((pad - k_offset) / s)
  // o*s - pad + k_offset < in  <=>  o < ceil((in + pad - k_offset) / s)
  *lo = std::clamp<int64_t>(CeilDiv(pad - k_offset, stride), 0, out_size);
  *hi = std::clamp<int64_t>(CeilDiv(in_size + pad - k_offset, stride), *lo, out_size);
}

std::vector<int64_t> SpatialDims(const Shape& shape) {
  if (shape.size() <= 2) return {};
  return std::vector<int64_t>(shape.begin() + 2, shape.end());
}

bool NormalizeAxis(int64_t axis, int64_t rank, int64_t* out) {
  if (axis < -rank || axis >= rank) return false;
  *out = axis < 0 ? axis + rank : axis;
  return true;
}

}  // namespace edgeinfer::nn

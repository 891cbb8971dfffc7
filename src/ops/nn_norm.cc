// BatchNormalization (inference), InstanceNormalization, LayerNormalization and LRN: shape
// rules and naive reference kernels. Statistics are accumulated in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/nn_ops.h"
#include "ops/nn_util.h"

namespace edgeinfer::nn {
namespace {

// Checks that per-channel input `i` is float32 of shape [C] (when both are known).
Status RequireChannelVector(const ShapeContext& ctx, size_t i, const char* tensor) {
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, i, tensor, 1, 1));
  const ValueInfo& x = ctx.inputs[0];
  const ValueInfo& v = ctx.inputs[i];
  if (x.rank_known && v.rank_known && x.shape[1] >= 0 && v.shape[0] >= 0 &&
      v.shape[0] != x.shape[1]) {
    return Invalid(*ctx.node, std::string("input ") + tensor + " has shape " +
                                  ShapeToString(v.shape) + " but X has shape " +
                                  ShapeToString(x.shape) + " (one value per channel expected)");
  }
  return Status::Ok();
}

ValueInfo SameAsInput0(const ShapeContext& ctx) {
  const ValueInfo& x = ctx.inputs[0];
  return x.rank_known ? x : UnknownRankFloat();
}

Status BatchNormShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    if (OutputRequested(node, i)) {
      return Unimplemented(node, "training outputs (output " + std::to_string(i) +
                                     ") are not supported; only inference is");
    }
  }
  if (node.attrs.GetInt("training_mode", 0) != 0) {
    return Unimplemented(node, "training_mode 1 is not supported");
  }
  if (ctx.opset < 9 && node.attrs.GetInt("spatial", 1) == 0) {
    return Unimplemented(node, "spatial 0 is not supported");
  }
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "X", 2, 8));
  const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) EI_RETURN_IF_ERROR(RequireChannelVector(ctx, i, names[i]));
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  (*outputs)[0] = SameAsInput0(ctx);
  return Status::Ok();
}

// Product of dims from `from` on (the size of one channel plane).
int64_t InnerSize(const Tensor& x, int64_t from) {
  int64_t n = 1;
  for (int64_t i = from; i < x.rank(); ++i) n *= x.dim(i);
  return n;
}

Status BatchNormRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                    std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, BatchNormShape, outputs));
  const Tensor& x = inputs[0];
  const float* scale = inputs[1].data<float>();
  const float* bias = inputs[2].data<float>();
  const float* mean = inputs[3].data<float>();
  const float* var = inputs[4].data<float>();
  const double eps = node.attrs.GetFloat("epsilon", 1e-5f);
  const int64_t channels = x.dim(1), plane = InnerSize(x, 2);
  const float* xd = x.data<float>();
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      x.dim(0) * channels,
      [&](int64_t lo, int64_t hi) {
        for (int64_t nc = lo; nc < hi; ++nc) {
          const int64_t c = nc % channels;
          const double a = scale[c] / std::sqrt(static_cast<double>(var[c]) + eps);
          const double b = bias[c] - mean[c] * a;
          for (int64_t i = nc * plane; i < (nc + 1) * plane; ++i) {
            yd[i] = static_cast<float>(xd[i] * a + b);
          }
        }
      },
      plane);
  return Status::Ok();
}

Status InstanceNormShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "input", 3, 8));
  EI_RETURN_IF_ERROR(RequireChannelVector(ctx, 1, "scale"));
  EI_RETURN_IF_ERROR(RequireChannelVector(ctx, 2, "B"));
  outputs->assign(NumOutputs(*ctx.node), UnknownRankFloat());
  (*outputs)[0] = SameAsInput0(ctx);
  return Status::Ok();
}

Status InstanceNormRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                       std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, InstanceNormShape, outputs));
  const Tensor& x = inputs[0];
  const float* scale = inputs[1].data<float>();
  const float* bias = inputs[2].data<float>();
  const double eps = node.attrs.GetFloat("epsilon", 1e-5f);
  const int64_t channels = x.dim(1), plane = InnerSize(x, 2);
  const float* xd = x.data<float>();
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      x.dim(0) * channels,
      [&](int64_t lo, int64_t hi) {
        for (int64_t nc = lo; nc < hi; ++nc) {
          const int64_t c = nc % channels;
          const float* xp = xd + nc * plane;
          double sum = 0, sq = 0;
          for (int64_t i = 0; i < plane; ++i) sum += xp[i];
          const double mean = sum / static_cast<double>(plane);
          for (int64_t i = 0; i < plane; ++i) sq += (xp[i] - mean) * (xp[i] - mean);
          const double inv = 1.0 / std::sqrt(sq / static_cast<double>(plane) + eps);
          for (int64_t i = 0; i < plane; ++i) {
            yd[nc * plane + i] = static_cast<float>((xp[i] - mean) * inv * scale[c] + bias[c]);
          }
        }
      },
      3 * plane);
  return Status::Ok();
}

// Checks that input `i` broadcasts unidirectionally (numpy, right-aligned) to `target`.
Status RequireBroadcastTo(const ShapeContext& ctx, size_t i, const char* tensor,
                          const Shape& target) {
  EI_RETURN_IF_ERROR(RequireFloat(ctx, i, tensor));
  const ValueInfo& v = ctx.inputs[i];
  if (!v.rank_known) return Status::Ok();
  bool ok = v.shape.size() <= target.size();
  for (size_t k = 0; ok && k < v.shape.size(); ++k) {
    int64_t d = v.shape[v.shape.size() - 1 - k], t = target[target.size() - 1 - k];
    ok = d == 1 || d == t || d < 0 || t < 0;
  }
  if (!ok) {
    return Invalid(*ctx.node, std::string("input ") + tensor + " has shape " +
                                  ShapeToString(v.shape) + " which does not broadcast to " +
                                  ShapeToString(target));
  }
  return Status::Ok();
}

// The values of `t` broadcast (right-aligned) to `target`, flattened.
std::vector<double> ExpandTo(const Tensor& t, const Shape& target) {
  const int64_t total = NumElements(target);
  std::vector<double> out(static_cast<size_t>(total));
  const int64_t offset = static_cast<int64_t>(target.size()) - t.rank();
  for (int64_t i = 0; i < total; ++i) {
    int64_t rem = i, src = 0, src_stride = 1;
    for (int64_t k = static_cast<int64_t>(target.size()) - 1; k >= offset; --k) {
      const int64_t coord = rem % target[k];
      rem /= target[k];
      const int64_t d = t.dim(k - offset);
      src += (d == 1 ? 0 : coord) * src_stride;
      src_stride *= d;
    }
    out[static_cast<size_t>(i)] = t.data<float>()[src];
  }
  return out;
}

Status LayerNormShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "X", 1, 8));
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  const ValueInfo& x = ctx.inputs[0];
  if (!x.rank_known) {
    EI_RETURN_IF_ERROR(RequireFloat(ctx, 1, "Scale"));
    return Status::Ok();
  }
  int64_t axis;
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (!NormalizeAxis(node.attrs.GetInt("axis", -1), rank, &axis)) {
    return Invalid(node, "axis " + std::to_string(node.attrs.GetInt("axis", -1)) +
                             " is out of range for input X of shape " + ShapeToString(x.shape));
  }
  Shape normalized(x.shape.begin() + axis, x.shape.end());
  EI_RETURN_IF_ERROR(RequireBroadcastTo(ctx, 1, "Scale", normalized));
  if (ctx.has_input(2)) EI_RETURN_IF_ERROR(RequireBroadcastTo(ctx, 2, "B", normalized));
  (*outputs)[0] = x;
  ValueInfo stat;
  stat.dtype = DType::kFloat32;
  stat.shape = x.shape;
  std::fill(stat.shape.begin() + axis, stat.shape.end(), 1);
  for (size_t i = 1; i < outputs->size() && i < 3; ++i) (*outputs)[i] = stat;
  if (outputs->size() > 3) return Invalid(node, "has more than 3 outputs");
  return Status::Ok();
}

Status LayerNormRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                    std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, LayerNormShape, outputs));
  const Tensor& x = inputs[0];
  int64_t axis = 0;
  if (!NormalizeAxis(node.attrs.GetInt("axis", -1), x.rank(), &axis)) {
    return Invalid(node, "axis out of range");
  }
  const Shape normalized(x.shape().begin() + axis, x.shape().end());
  const int64_t inner = NumElements(normalized);
  const int64_t outer = inner > 0 ? x.numel() / inner : 0;
  const std::vector<double> scale = ExpandTo(inputs[1], normalized);
  const Tensor* b = OptionalInput(inputs, 2);
  const std::vector<double> bias =
      b ? ExpandTo(*b, normalized) : std::vector<double>(static_cast<size_t>(inner), 0.0);
  const double eps = node.attrs.GetFloat("epsilon", 1e-5f);
  const float* xd = x.data<float>();
  float* yd = (*outputs)[0].data<float>();
  float* mean_out = OutputRequested(node, 1) ? (*outputs)[1].data<float>() : nullptr;
  float* inv_out = OutputRequested(node, 2) ? (*outputs)[2].data<float>() : nullptr;
  ParallelFor(
      outer,
      [&](int64_t lo, int64_t hi) {
        for (int64_t o = lo; o < hi; ++o) {
          const float* xp = xd + o * inner;
          double sum = 0, sq = 0;
          for (int64_t i = 0; i < inner; ++i) sum += xp[i];
          const double mean = sum / static_cast<double>(inner);
          for (int64_t i = 0; i < inner; ++i) sq += (xp[i] - mean) * (xp[i] - mean);
          const double inv = 1.0 / std::sqrt(sq / static_cast<double>(inner) + eps);
          for (int64_t i = 0; i < inner; ++i) {
            yd[o * inner + i] = static_cast<float>((xp[i] - mean) * inv * scale[i] + bias[i]);
          }
          if (mean_out) mean_out[o] = static_cast<float>(mean);
          if (inv_out) inv_out[o] = static_cast<float>(inv);
        }
      },
      3 * inner);
  return Status::Ok();
}

Status LrnShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "X", 3, 8));
  if (node.attrs.GetInt("size", 0) <= 0) {
    return Invalid(node, "attribute size is required and must be positive");
  }
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  (*outputs)[0] = SameAsInput0(ctx);
  return Status::Ok();
}

// y = x / (bias + alpha / size * sum of x^2 over channels [c - floor((size-1)/2),
// c + ceil((size-1)/2)])^beta.
Status LrnRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
              std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, LrnShape, outputs));
  const Tensor& x = inputs[0];
  const int64_t size = node.attrs.GetInt("size", 1);
  const double alpha = node.attrs.GetFloat("alpha", 1e-4f);
  const double beta = node.attrs.GetFloat("beta", 0.75f);
  const double bias = node.attrs.GetFloat("bias", 1.0f);
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  const int64_t channels = x.dim(1), plane = InnerSize(x, 2);
  const float* xd = x.data<float>();
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      x.dim(0) * channels,
      [&](int64_t lo, int64_t hi) {
        for (int64_t nc = lo; nc < hi; ++nc) {
          const int64_t n = nc / channels, c = nc % channels;
          const int64_t c0 = std::max<int64_t>(0, c - before);
          const int64_t c1 = std::min<int64_t>(channels - 1, c + after);
          for (int64_t i = 0; i < plane; ++i) {
            double sq = 0;
            for (int64_t k = c0; k <= c1; ++k) {
              const double v = xd[(n * channels + k) * plane + i];
              sq += v * v;
            }
            const int64_t at = nc * plane + i;
            yd[at] = static_cast<float>(xd[at] / std::pow(bias + alpha / size * sq, beta));
          }
        }
      },
      plane * size);
  return Status::Ok();
}

}  // namespace

void RegisterNormOps(std::vector<OpSchema>* out) {
  out->push_back({OpKind::kBatchNormalization, 5, 5, BatchNormShape, BatchNormRef,
                  SpatialKind::kPointwise, nullptr});
  out->push_back({OpKind::kInstanceNormalization, 3, 3, InstanceNormShape, InstanceNormRef,
                  SpatialKind::kNone, nullptr});
  out->push_back({OpKind::kLayerNormalization, 2, 3, LayerNormShape, LayerNormRef,
                  SpatialKind::kNone, nullptr});
  out->push_back({OpKind::kLRN, 1, 1, LrnShape, LrnRef, SpatialKind::kPointwise, nullptr});
}

}  // namespace edgeinfer::nn

// Gemm, MatMul, Softmax and LogSoftmax: shape rules and naive reference kernels (double
// accumulation).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "ops/nn_ops.h"
#include "ops/nn_util.h"

namespace edgeinfer::nn {
namespace {

Status GemmShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "A", 2, 2));
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 1, "B", 2, 2));
  if (ctx.has_input(2)) EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 2, "C", 0, 2));
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  const ValueInfo& a = ctx.inputs[0];
  const ValueInfo& b = ctx.inputs[1];
  const bool ta = node.attrs.GetInt("transA", 0) != 0;
  const bool tb = node.attrs.GetInt("transB", 0) != 0;
  const int64_t m = a.rank_known ? a.shape[ta ? 1 : 0] : -1;
  const int64_t ka = a.rank_known ? a.shape[ta ? 0 : 1] : -1;
  const int64_t kb = b.rank_known ? b.shape[tb ? 1 : 0] : -1;
  const int64_t n = b.rank_known ? b.shape[tb ? 0 : 1] : -1;
  if (ka >= 0 && kb >= 0 && ka != kb) {
    return Invalid(node, "input A has shape " + ShapeToString(a.shape) + " but B has shape " +
                             ShapeToString(b.shape) + " (transA " + std::to_string(ta) +
                             ", transB " + std::to_string(tb) + "): inner dims differ");
  }
  if (ctx.has_input(2) && ctx.inputs[2].rank_known) {
    const Shape& c = ctx.inputs[2].shape;
    const int64_t target[2] = {m, n};
    for (size_t k = 0; k < c.size(); ++k) {
      int64_t d = c[c.size() - 1 - k], t = target[1 - k];
      if (d != 1 && d >= 0 && t >= 0 && d != t) {
        return Invalid(node, "input C has shape " + ShapeToString(c) +
                                 " which does not broadcast to " + ShapeToString({m, n}));
      }
    }
  }
  ValueInfo y;
  y.dtype = DType::kFloat32;
  y.shape = {m, n};
  (*outputs)[0] = y;
  return Status::Ok();
}

Status GemmRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
               std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, GemmShape, outputs));
  const Tensor& a = inputs[0];
  const Tensor& b = inputs[1];
  const Tensor* c = OptionalInput(inputs, 2);
  const bool ta = node.attrs.GetInt("transA", 0) != 0;
  const bool tb = node.attrs.GetInt("transB", 0) != 0;
  const double alpha = node.attrs.GetFloat("alpha", 1.0f);
  const double beta = node.attrs.GetFloat("beta", 1.0f);
  const int64_t m = (*outputs)[0].dim(0), n = (*outputs)[0].dim(1);
  const int64_t k_dim = ta ? a.dim(0) : a.dim(1);
  // Element strides of op(A) (m x k) and op(B) (k x n).
  const int64_t a_row = ta ? 1 : k_dim, a_col = ta ? m : 1;
  const int64_t b_row = tb ? 1 : n, b_col = tb ? k_dim : 1;
  // Strides of C broadcast to (m, n): 0 along a broadcast dim.
  int64_t c_row = 0, c_col = 0;
  if (c && c->rank() == 2) {
    c_row = c->dim(0) == 1 ? 0 : c->dim(1);
    c_col = c->dim(1) == 1 ? 0 : 1;
  } else if (c && c->rank() == 1) {
    c_col = c->dim(0) == 1 ? 0 : 1;
  }
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      m,
      [&](int64_t lo, int64_t hi) {
        std::vector<double> acc(static_cast<size_t>(n));
        for (int64_t i = lo; i < hi; ++i) {
          std::fill(acc.begin(), acc.end(), 0.0);
          for (int64_t k = 0; k < k_dim; ++k) {
            const double av = ad[i * a_row + k * a_col];
            for (int64_t j = 0; j < n; ++j) acc[j] += av * bd[k * b_row + j * b_col];
          }
          for (int64_t j = 0; j < n; ++j) {
            double v = alpha * acc[j];
            if (c) v += beta * c->data<float>()[i * c_row + j * c_col];
            yd[i * n + j] = static_cast<float>(v);
          }
        }
      },
      n * k_dim);
  return Status::Ok();
}

// MatMul operands in numpy form: batch dims, rows, cols, with 1-D promotion recorded.
struct MatMulDims {
  Shape batch;
  int64_t m = -1, k_a = -1, k_b = -1, n = -1;
  bool a_vector = false, b_vector = false;
};

Status MatMulInfer(const Node& node, const Shape& a, const Shape& b, MatMulDims* d) {
  d->a_vector = a.size() == 1;
  d->b_vector = b.size() == 1;
  d->m = d->a_vector ? 1 : a[a.size() - 2];
  d->k_a = a.back();
  d->k_b = d->b_vector ? b[0] : b[b.size() - 2];
  d->n = d->b_vector ? 1 : b.back();
  if (d->k_a >= 0 && d->k_b >= 0 && d->k_a != d->k_b) {
    return Invalid(node, "input A has shape " + ShapeToString(a) + " but B has shape " +
                             ShapeToString(b) + ": inner dims differ");
  }
  Shape ba(a.begin(), a.end() - std::min<size_t>(2, a.size()));
  Shape bb(b.begin(), b.end() - std::min<size_t>(2, b.size()));
  const size_t r = std::max(ba.size(), bb.size());
  d->batch.assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    int64_t x = i < r - ba.size() ? 1 : ba[i - (r - ba.size())];
    int64_t y = i < r - bb.size() ? 1 : bb[i - (r - bb.size())];
    if (x == 1) {
      d->batch[i] = y;
    } else if (y == 1 || x == y) {
      d->batch[i] = x;
    } else if (x < 0 || y < 0) {
      d->batch[i] = x < 0 ? y : x;
      if (x < 0 && y < 0) d->batch[i] = -1;
    } else {
      return Invalid(node, "input A has shape " + ShapeToString(a) + " but B has shape " +
                               ShapeToString(b) + ": batch dims do not broadcast");
    }
  }
  return Status::Ok();
}

Status MatMulShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "A", 1, 16));
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 1, "B", 1, 16));
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  const ValueInfo& a = ctx.inputs[0];
  const ValueInfo& b = ctx.inputs[1];
  if (!a.rank_known || !b.rank_known) return Status::Ok();
  MatMulDims d;
  EI_RETURN_IF_ERROR(MatMulInfer(node, a.shape, b.shape, &d));
  ValueInfo y;
  y.dtype = DType::kFloat32;
  y.shape = d.batch;
  if (!d.a_vector) y.shape.push_back(d.m);
  if (!d.b_vector) y.shape.push_back(d.n);
  (*outputs)[0] = y;
  return Status::Ok();
}

// Offset of the operand matrix for output batch index `flat`, with broadcasting.
int64_t BatchOffset(int64_t flat, const Shape& out_batch, const Shape& operand,
                    size_t operand_batch_rank, int64_t matrix_size) {
  int64_t offset = 0, stride = matrix_size;
  const size_t r = out_batch.size();
  for (size_t i = r; i-- > 0;) {
    const int64_t coord = flat % out_batch[i];
    flat /= out_batch[i];
    if (i < r - operand_batch_rank) continue;
    const int64_t dim = operand[i - (r - operand_batch_rank)];
    if (dim != 1) offset += coord * stride;
    stride *= dim;
  }
  return offset;
}

Status MatMulRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                 std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, MatMulShape, outputs));
  const Tensor& a = inputs[0];
  const Tensor& b = inputs[1];
  MatMulDims d;
  EI_RETURN_IF_ERROR(MatMulInfer(node, a.shape(), b.shape(), &d));
  const int64_t m = d.m, k_dim = d.k_a, n = d.n;
  const size_t a_batch_rank = a.shape().size() - std::min<size_t>(2, a.shape().size());
  const size_t b_batch_rank = b.shape().size() - std::min<size_t>(2, b.shape().size());
  const int64_t batches = NumElements(d.batch);
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      batches * m,
      [&](int64_t lo, int64_t hi) {
        std::vector<double> acc(static_cast<size_t>(n));
        for (int64_t row = lo; row < hi; ++row) {
          const int64_t batch = row / m, i = row % m;
          const float* ap =
              ad + BatchOffset(batch, d.batch, a.shape(), a_batch_rank, m * k_dim) + i * k_dim;
          const float* bp = bd + BatchOffset(batch, d.batch, b.shape(), b_batch_rank, k_dim * n);
          std::fill(acc.begin(), acc.end(), 0.0);
          for (int64_t k = 0; k < k_dim; ++k) {
            const double av = ap[k];
            for (int64_t j = 0; j < n; ++j) acc[j] += av * bp[k * n + j];
          }
          for (int64_t j = 0; j < n; ++j) yd[row * n + j] = static_cast<float>(acc[j]);
        }
      },
      n * k_dim);
  return Status::Ok();
}

// Opset < 13 coerces the input to 2-D at `axis` (default 1); opset >= 13 uses one axis
// (default -1).
int64_t SoftmaxDefaultAxis(int64_t opset) { return opset < 13 ? 1 : -1; }

Status SoftmaxShape(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  const Node& node = *ctx.node;
  EI_RETURN_IF_ERROR(RequireFloatRank(ctx, 0, "input", 1, 16));
  outputs->assign(NumOutputs(node), UnknownRankFloat());
  const ValueInfo& x = ctx.inputs[0];
  if (!x.rank_known) return Status::Ok();
  const int64_t axis = node.attrs.GetInt("axis", SoftmaxDefaultAxis(ctx.opset));
  const auto rank = static_cast<int64_t>(x.shape.size());
  int64_t normalized;
  // Opset < 13 allows axis == rank (an empty trailing group) through the 2-D coercion.
  bool ok = NormalizeAxis(axis, rank, &normalized) || (ctx.opset < 13 && axis == rank);
  if (!ok) {
    return Invalid(node, "axis " + std::to_string(axis) + " is out of range for input of shape " +
                             ShapeToString(x.shape));
  }
  (*outputs)[0] = x;
  return Status::Ok();
}

Status SoftmaxRef(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                  std::vector<Tensor>* outputs) {
  EI_RETURN_IF_ERROR(PrepareOutputs(node, opset, inputs, SoftmaxShape, outputs));
  const Tensor& x = inputs[0];
  int64_t axis = node.attrs.GetInt("axis", SoftmaxDefaultAxis(opset));
  if (axis < 0) axis += x.rank();
  // Softmax over `len` elements at stride `inner`, for each of `outer` * `inner` groups.
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (i < axis) {
      outer *= x.dim(i);
    } else if (i == axis || opset < 13) {
      len *= x.dim(i);
    } else {
      inner *= x.dim(i);
    }
  }
  const bool log = node.op == OpKind::kLogSoftmax;
  const float* xd = x.data<float>();
  float* yd = (*outputs)[0].data<float>();
  ParallelFor(
      outer * inner,
      [&](int64_t lo, int64_t hi) {
        for (int64_t g = lo; g < hi; ++g) {
          const int64_t base = (g / inner) * len * inner + g % inner;
          float mx = -std::numeric_limits<float>::infinity();
          for (int64_t i = 0; i < len; ++i) mx = std::max(mx, xd[base + i * inner]);
          double sum = 0;
          for (int64_t i = 0; i < len; ++i) sum += std::exp(double{xd[base + i * inner]} - mx);
          const double log_sum = std::log(sum);
          for (int64_t i = 0; i < len; ++i) {
            const double shifted = double{xd[base + i * inner]} - mx;
            yd[base + i * inner] =
                static_cast<float>(log ? shifted - log_sum : std::exp(shifted) / sum);
          }
        }
      },
      len * 30);
  return Status::Ok();
}

}  // namespace

void RegisterLinearOps(std::vector<OpSchema>* out) {
  out->push_back({OpKind::kGemm, 2, 3, GemmShape, GemmRef, SpatialKind::kNone, nullptr});
  out->push_back({OpKind::kMatMul, 2, 2, MatMulShape, MatMulRef, SpatialKind::kNone, nullptr});
  out->push_back({OpKind::kSoftmax, 1, 1, SoftmaxShape, SoftmaxRef, SpatialKind::kNone, nullptr});
  out->push_back(
      {OpKind::kLogSoftmax, 1, 1, SoftmaxShape, SoftmaxRef, SpatialKind::kNone, nullptr});
}

}  // namespace edgeinfer::nn

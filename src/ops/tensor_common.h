// Helpers shared by the tensor op family (shape and layout ops, reductions): axis checks and
// integer parameters that are attributes in old opsets and inputs in new ones. Internal.
#ifndef EDGEINFER_OPS_TENSOR_COMMON_H_
#define EDGEINFER_OPS_TENSOR_COMMON_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ops/op_registry.h"

namespace edgeinfer {

// Maps `axis` in [-rank, rank) to [0, rank); with `inclusive`, [-rank, rank] to [0, rank]
// (Flatten's axis). Errors name the node and the attribute.
Status NormalizeAxis(const Node& node, int64_t axis, int64_t rank, int64_t* out,
                     bool inclusive = false);

// Normalizes every axis and rejects duplicates.
Status NormalizeAxes(const Node& node, std::vector<int64_t> axes, int64_t rank,
                     std::vector<int64_t>* out);

// An integer list parameter: attribute `name` when opset < input_since, else input `index`.
struct IntsParam {
  bool present = false;
  std::vector<int64_t> values;
};

// Shape-rule form: a present input must be a constant (InvalidArgument naming the node and the
// input otherwise).
Status IntsParamForShape(const ShapeContext& ctx, const char* name, int64_t input_since,
                         size_t index, IntsParam* out);
// Kernel form: reads the input tensor (an empty Tensor means absent).
Status IntsParamForKernel(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                          const char* name, int64_t input_since, size_t index, IntsParam* out);

// The integer values of `t` (any integer dtype); errors name the node and `role`.
Status TensorInts(const Node& node, const Tensor& t, const char* role, std::vector<int64_t>* out);

// Error for a shape rule that needs input `index` (`role`) to be constant.
Status NotConstant(const ShapeContext& ctx, size_t index, const char* role);

// The integer values of input `index` (`role`) in a shape rule: NotConstant's error when it is
// not a known constant, TensorInts' when it is not integers.
Status ConstantInts(const ShapeContext& ctx, size_t index, const char* role,
                    std::vector<int64_t>* out);

// Row-major element strides of `shape`.
std::vector<int64_t> Strides(const Shape& shape);

// Copies one element of `width` bytes.
inline void CopyElement(const uint8_t* src, uint8_t* dst, size_t width) {
  switch (width) {
    case 1:
      *dst = *src;
      break;
    case 2:
      std::memcpy(dst, src, 2);
      break;
    case 4:
      std::memcpy(dst, src, 4);
      break;
    case 8:
      std::memcpy(dst, src, 8);
      break;
    default:
      std::memcpy(dst, src, width);
      break;
  }
}

// Calls fn(E{}) with an unsigned integer type E as wide as one element of `width` bytes, so
// byte-moving kernels work for every dtype. False for widths other than 1, 2, 4 and 8.
template <typename Fn>
bool DispatchWidth(size_t width, Fn&& fn) {
  switch (width) {
    case 1:
      fn(uint8_t{});
      return true;
    case 2:
      fn(uint16_t{});
      return true;
    case 4:
      fn(uint32_t{});
      return true;
    case 8:
      fn(uint64_t{});
      return true;
    default:
      return false;
  }
}

// Fills `out` (allocated, row-major) from `in` read at element offset `base` plus
// sum(out_index[d] * in_strides[d]); strides may be negative or zero. Any dtype.
Status GatherStrided(const Node& node, const Tensor& in, int64_t base,
                     const std::vector<int64_t>& in_strides, Tensor* out);

// The family registrations split by file.
void RegisterTensorLayoutOps(std::vector<OpSchema>* out);
void RegisterTensorIndexOps(std::vector<OpSchema>* out);
void RegisterTensorReduceOps(std::vector<OpSchema>* out);

}  // namespace edgeinfer

#endif  // EDGEINFER_OPS_TENSOR_COMMON_H_

// Helpers shared by the elementwise and tensor op families: dtype dispatch, dtype checks,
// flat parallel maps and the float16-through-float32 wrapper. Internal to src/ops.
#ifndef EDGEINFER_OPS_ELEMENTWISE_COMMON_H_
#define EDGEINFER_OPS_ELEMENTWISE_COMMON_H_

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ops/op_registry.h"

namespace edgeinfer {

template <typename T>
struct TypeTag {
  using type = T;
};

inline bool IsFloatDType(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16;
}
inline bool IsIntDType(DType d) {
  return d == DType::kInt8 || d == DType::kUInt8 || d == DType::kInt16 || d == DType::kUInt16 ||
         d == DType::kInt32 || d == DType::kUInt32 || d == DType::kInt64 || d == DType::kUInt64;
}

// "Add node 'a': unsupported dtype int8 for input 0".
Status UnsupportedDType(const Node& node, DType dtype, const std::string& what);

// Calls fn(TypeTag<T>{}) for the C++ type of `dtype` and returns its Status. Bool is read as
// uint8_t (0/1). float16 is not dispatched: callers convert through float32 (RunViaFloat32).
template <typename Fn>
Status DispatchNumeric(const Node& node, DType dtype, const std::string& what, Fn&& fn) {
  switch (dtype) {
    case DType::kFloat32:
      return fn(TypeTag<float>{});
    case DType::kFloat64:
      return fn(TypeTag<double>{});
    case DType::kInt64:
      return fn(TypeTag<int64_t>{});
    case DType::kInt32:
      return fn(TypeTag<int32_t>{});
    case DType::kInt8:
      return fn(TypeTag<int8_t>{});
    case DType::kUInt8:
      return fn(TypeTag<uint8_t>{});
    default:
      return UnsupportedDType(node, dtype, what);
  }
}

// Float types only (float16 excluded, see above).
template <typename Fn>
Status DispatchFloat(const Node& node, DType dtype, const std::string& what, Fn&& fn) {
  switch (dtype) {
    case DType::kFloat32:
      return fn(TypeTag<float>{});
    case DType::kFloat64:
      return fn(TypeTag<double>{});
    default:
      return UnsupportedDType(node, dtype, what);
  }
}

// y[i] = f(x[i]) for i in [0, n), threaded for large n. `cost` is rough ns per element.
template <typename T, typename R, typename F>
void ParallelMap(const T* x, R* y, int64_t n, F f, int64_t cost = 2) {
  ParallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) y[i] = f(x[i]);
      },
      cost);
}

// If any input is float16, runs `kernel` on float32 copies and converts its float32 outputs
// back to float16 (all arithmetic then rounds once, at the end). Otherwise runs it directly.
Status RunViaFloat32(ReferenceFn kernel, const Node& node, int64_t opset,
                     const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs);

// Shape-rule check: input `i` has dtype `expected` (or is unknown). Errors name the node.
Status ExpectSameDType(const ShapeContext& ctx, size_t i, DType expected);

// Sizes `outputs` to the node's output count (at least one).
void ResizeOutputs(const ShapeContext& ctx, std::vector<ValueInfo>* outputs);

// The family registrations split by file.
void RegisterUnaryElementwiseOps(std::vector<OpSchema>* out);
void RegisterBinaryElementwiseOps(std::vector<OpSchema>* out);

}  // namespace edgeinfer

#endif  // EDGEINFER_OPS_ELEMENTWISE_COMMON_H_

// Tensor: a dense, row-major (C order) n-dimensional array with shared storage.
//
// Copying a Tensor is cheap and shares the bytes (like a shared_ptr); use Clone() for a deep
// copy. A Tensor is not synchronised: concurrent writers to shared storage must coordinate.
// Storage is 64-byte aligned when allocated here; Wrap() adopts external memory without copying.
#ifndef EDGEINFER_TENSOR_H_
#define EDGEINFER_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/status.h"

namespace edgeinfer {

// Values match ONNX TensorProto.DataType so conversions are a cast.
enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,  // not storable in a Tensor; named in errors only
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
};

// Bytes per element; 0 for kUndefined and kString.
size_t DTypeSize(DType dtype);
// "float32", "int64", ...; KServe names ("FP32", "INT64") live in the protocol module.
const char* DTypeName(DType dtype);

using Shape = std::vector<int64_t>;

// Product of dims (1 for a scalar). Dims must be non-negative.
int64_t NumElements(const Shape& shape);
// "[1, 3, 224, 224]".
std::string ShapeToString(const Shape& shape);

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kFloat32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::kFloat64;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::kInt64;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::kInt32;
};
template <>
struct DTypeOf<int8_t> {
  static constexpr DType value = DType::kInt8;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::kUInt8;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::kBool;
};

class Tensor {
 public:
  Tensor() = default;  // empty: dtype kUndefined, no storage

  // Allocates uninitialised (Empty) or zeroed (Zeros) storage. Aborts only on allocation failure;
  // callers bound sizes from untrusted input before calling (see Allocate for a checked form).
  static Tensor Empty(DType dtype, Shape shape);
  static Tensor Zeros(DType dtype, Shape shape);
  // Checked allocation: errors on negative dims, overflow, or more than `max_bytes`.
  static Result<Tensor> Allocate(DType dtype, Shape shape, size_t max_bytes = SIZE_MAX);
  // Adopts `data` (not copied); `keep_alive` owns it and is released with the last copy.
  static Tensor Wrap(void* data, DType dtype, Shape shape, std::shared_ptr<void> keep_alive);

  template <typename T>
  static Tensor FromVector(const std::vector<T>& values, Shape shape) {
    Tensor t = Empty(DTypeOf<T>::value, std::move(shape));
    T* dst = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) dst[i] = values[i];
    return t;
  }
  template <typename T>
  static Tensor Scalar(T value) {
    return FromVector<T>({value}, {});
  }

  bool empty() const { return dtype_ == DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t numel() const { return NumElements(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * DTypeSize(dtype_); }

  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }
  template <typename T>
  T* data() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(data_);
  }

  // Same bytes, new shape with the same element count (checked).
  Result<Tensor> Reshaped(Shape shape) const;
  // Deep copy into fresh storage.
  Tensor Clone() const;
  // Elementwise conversion to `dtype` (float<->int truncates toward zero like a C cast).
  Result<Tensor> CastTo(DType dtype) const;
  // Integer tensors (any int dtype) read as int64 values; errors for float dtypes.
  Result<std::vector<int64_t>> ToInt64Vector() const;

  // "float32[1, 3, 224, 224]".
  std::string Describe() const;

 private:
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  DType dtype_ = DType::kUndefined;
  Shape shape_;
};

}  // namespace edgeinfer

#endif  // EDGEINFER_TENSOR_H_

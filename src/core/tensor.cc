#include "edgeinfer/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "core/half.h"

namespace edgeinfer {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return 4;
    case DType::kUInt8:
      return 1;
    case DType::kInt8:
      return 1;
    case DType::kUInt16:
      return 2;
    case DType::kInt16:
      return 2;
    case DType::kInt32:
      return 4;
    case DType::kInt64:
      return 8;
    case DType::kBool:
      return 1;
    case DType::kFloat16:
      return 2;
    case DType::kFloat64:
      return 8;
    case DType::kUInt32:
      return 4;
    case DType::kUInt64:
      return 8;
    case DType::kString:
    case DType::kUndefined:
      return 0;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kUInt8:
      return "uint8";
    case DType::kInt8:
      return "int8";
    case DType::kUInt16:
      return "uint16";
    case DType::kInt16:
      return "int16";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kBool:
      return "bool";
    case DType::kFloat16:
      return "float16";
    case DType::kFloat64:
      return "float64";
    case DType::kUInt32:
      return "uint32";
    case DType::kUInt64:
      return "uint64";
    case DType::kString:
      return "string";
    case DType::kUndefined:
      return "undefined";
  }
  return "unknown";
}

int64_t NumElements(const Shape& shape) {
  // A zero dimension anywhere makes the product 0, whatever the others (whose product alone
  // may not fit: found by npy_fuzz).
  for (int64_t d : shape) {
    if (d == 0) return 0;
  }
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {

std::shared_ptr<void> AllocateAligned(size_t bytes) {
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace

Tensor Tensor::Empty(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.storage_ = AllocateAligned(t.nbytes());
  t.data_ = t.storage_.get();
  return t;
}

Tensor Tensor::Zeros(DType dtype, Shape shape) {
  Tensor t = Empty(dtype, std::move(shape));
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Result<Tensor> Tensor::Allocate(DType dtype, Shape shape, size_t max_bytes) {
  size_t elem = DTypeSize(dtype);
  if (elem == 0)
    return Status::InvalidArgument(std::string("cannot allocate a tensor of dtype ") +
                                   DTypeName(dtype));
  size_t bytes = elem;
  for (int64_t d : shape) {
    if (d < 0)
      return Status::InvalidArgument("negative dimension in shape " + ShapeToString(shape));
    // Bounded by int64's range, not size_t's: element counts and byte sizes are int64 elsewhere.
    constexpr size_t kMax = static_cast<size_t>(std::numeric_limits<int64_t>::max());
    if (d != 0 && bytes > kMax / static_cast<size_t>(d)) {
      return Status::ResourceExhausted("tensor size overflows for shape " + ShapeToString(shape));
    }
    bytes *= static_cast<size_t>(d);
  }
  if (bytes > max_bytes) {
    return Status::ResourceExhausted("tensor of shape " + ShapeToString(shape) + " needs " +
                                     std::to_string(bytes) + " bytes, limit is " +
                                     std::to_string(max_bytes));
  }
  try {
    return Empty(dtype, std::move(shape));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory allocating " + std::to_string(bytes) +
                                     " bytes");
  }
}

Tensor Tensor::Wrap(void* data, DType dtype, Shape shape, std::shared_ptr<void> keep_alive) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.storage_ = std::move(keep_alive);
  t.data_ = data;
  return t;
}

Result<Tensor> Tensor::Reshaped(Shape shape) const {
  if (NumElements(shape) != numel()) {
    return Status::InvalidArgument("cannot reshape " + Describe() + " to " + ShapeToString(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Clone() const {
  if (empty()) return Tensor();
  Tensor t = Empty(dtype_, shape_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

namespace {

// Reads element i of `src` as double (exact for all ints up to 2^53 and all floats).
double ReadAsDouble(const Tensor& src, int64_t i) {
  switch (src.dtype()) {
    case DType::kFloat32:
      return src.data<float>()[i];
    case DType::kFloat64:
      return src.data<double>()[i];
    case DType::kFloat16:
      return HalfToFloat(src.data<uint16_t>()[i]);
    case DType::kInt8:
      return src.data<int8_t>()[i];
    case DType::kUInt8:
      return src.data<uint8_t>()[i];
    case DType::kInt16:
      return src.data<int16_t>()[i];
    case DType::kUInt16:
      return src.data<uint16_t>()[i];
    case DType::kInt32:
      return src.data<int32_t>()[i];
    case DType::kUInt32:
      return src.data<uint32_t>()[i];
    case DType::kInt64:
      return static_cast<double>(src.data<int64_t>()[i]);
    case DType::kUInt64:
      return static_cast<double>(src.data<uint64_t>()[i]);
    case DType::kBool:
      return src.data<uint8_t>()[i] ? 1.0 : 0.0;
    default:
      return 0.0;
  }
}

bool IsIntegerDType(DType d) {
  switch (d) {
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kInt32:
    case DType::kUInt32:
    case DType::kInt64:
    case DType::kUInt64:
    case DType::kBool:
      return true;
    default:
      return false;
  }
}

int64_t ReadAsInt64(const Tensor& src, int64_t i) {
  switch (src.dtype()) {
    case DType::kInt64:
      return src.data<int64_t>()[i];
    case DType::kUInt64:
      return static_cast<int64_t>(src.data<uint64_t>()[i]);
    default:
      return static_cast<int64_t>(ReadAsDouble(src, i));
  }
}

}  // namespace

Result<Tensor> Tensor::CastTo(DType dtype) const {
  if (dtype == dtype_) return *this;
  if (DTypeSize(dtype) == 0 || DTypeSize(dtype_) == 0) {
    return Status::Unimplemented(std::string("cast from ") + DTypeName(dtype_) + " to " +
                                 DTypeName(dtype));
  }
  Tensor out = Empty(dtype, shape_);
  const int64_t n = numel();
  const bool int_src = IsIntegerDType(dtype_);
  for (int64_t i = 0; i < n; ++i) {
    if (int_src && (dtype == DType::kInt64 || dtype == DType::kUInt64)) {
      out.data<int64_t>()[i] = ReadAsInt64(*this, i);
      continue;
    }
    double v = ReadAsDouble(*this, i);
    switch (dtype) {
      case DType::kFloat32:
        out.data<float>()[i] = static_cast<float>(v);
        break;
      case DType::kFloat64:
        out.data<double>()[i] = v;
        break;
      case DType::kFloat16:
        out.data<uint16_t>()[i] = FloatToHalf(static_cast<float>(v));
        break;
      case DType::kInt8:
        out.data<int8_t>()[i] = static_cast<int8_t>(v);
        break;
      case DType::kUInt8:
        out.data<uint8_t>()[i] = static_cast<uint8_t>(v);
        break;
      case DType::kInt16:
        out.data<int16_t>()[i] = static_cast<int16_t>(v);
        break;
      case DType::kUInt16:
        out.data<uint16_t>()[i] = static_cast<uint16_t>(v);
        break;
      case DType::kInt32:
        out.data<int32_t>()[i] = static_cast<int32_t>(v);
        break;
      case DType::kUInt32:
        out.data<uint32_t>()[i] = static_cast<uint32_t>(v);
        break;
      case DType::kInt64:
        out.data<int64_t>()[i] = static_cast<int64_t>(v);
        break;
      case DType::kUInt64:
        out.data<uint64_t>()[i] = static_cast<uint64_t>(v);
        break;
      case DType::kBool:
        out.data<uint8_t>()[i] = v != 0.0 ? 1 : 0;
        break;
      default:
        break;
    }
  }
  return out;
}

Result<std::vector<int64_t>> Tensor::ToInt64Vector() const {
  if (!IsIntegerDType(dtype_)) {
    return Status::InvalidArgument("expected an integer tensor, got " + Describe());
  }
  std::vector<int64_t> v(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) v[static_cast<size_t>(i)] = ReadAsInt64(*this, i);
  return v;
}

std::string Tensor::Describe() const {
  return std::string(DTypeName(dtype_)) + ShapeToString(shape_);
}

}  // namespace edgeinfer

#include "edgeinfer/tensor.h"

#include <gtest/gtest.h>

#include "core/half.h"

namespace edgeinfer {
namespace {

TEST(TensorTest, AllocateChecksLimits) {
  auto ok = Tensor::Allocate(DType::kFloat32, {2, 3});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->nbytes(), 24u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ok->raw_data()) % 64, 0u);
  auto neg = Tensor::Allocate(DType::kFloat32, {2, -1});
  EXPECT_EQ(neg.status().code(), StatusCode::kInvalidArgument);
  auto big = Tensor::Allocate(DType::kFloat32, {1 << 20, 1 << 20}, 1 << 30);
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  auto overflow = Tensor::Allocate(DType::kInt64, {INT64_MAX / 2, 4});
  EXPECT_EQ(overflow.status().code(), StatusCode::kResourceExhausted);
}

TEST(TensorTest, CopiesShareStorageCloneDoesNot) {
  Tensor a = Tensor::FromVector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = a;
  Tensor c = a.Clone();
  b.data<float>()[0] = 9;
  EXPECT_EQ(a.data<float>()[0], 9);
  EXPECT_EQ(c.data<float>()[0], 1);
}

TEST(TensorTest, ReshapeChecksCount) {
  Tensor a = Tensor::Zeros(DType::kFloat32, {2, 3});
  EXPECT_TRUE(a.Reshaped({3, 2}).ok());
  EXPECT_FALSE(a.Reshaped({4, 2}).ok());
}

TEST(TensorTest, CastAndIntVector) {
  Tensor a = Tensor::FromVector<float>({1.5f, -2.5f, 3.0f}, {3});
  auto i = a.CastTo(DType::kInt64);
  ASSERT_TRUE(i.ok());
  auto v = i->ToInt64Vector();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (std::vector<int64_t>{1, -2, 3}));
  EXPECT_FALSE(a.ToInt64Vector().ok());
  Tensor big = Tensor::FromVector<int64_t>({INT64_MAX}, {1});
  EXPECT_EQ(big.CastTo(DType::kInt64)->data<int64_t>()[0], INT64_MAX);
}

TEST(HalfTest, RoundTripsRepresentableValues) {
  for (float f : {0.0f, 1.0f, -2.0f, 0.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
  EXPECT_EQ(FloatToHalf(1e6f), 0x7c00);
  EXPECT_NEAR(HalfToFloat(FloatToHalf(0.1f)), 0.1f, 1e-4);
}

}  // namespace
}  // namespace edgeinfer

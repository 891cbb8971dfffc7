// Helpers for the nn op tests: building bare nodes, running reference kernels and shape rules.
#ifndef EDGEINFER_TESTS_OPS_NN_TEST_UTIL_H_
#define EDGEINFER_TESTS_OPS_NN_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "edgeinfer/tensor.h"
#include "ir/graph.h"
#include "ops/op_registry.h"

namespace edgeinfer::testing_nn {

// A node named `name` with inputs 0..n_inputs-1 and outputs n_inputs.. (ids are unused by the
// kernels except to mark omitted outputs).
inline Node MakeNode(OpKind op, int n_inputs, Attributes attrs = {}, int n_outputs = 1,
                     const std::string& name = "n1") {
  Node node;
  node.op = op;
  node.name = name;
  node.attrs = std::move(attrs);
  for (int i = 0; i < n_inputs; ++i) node.inputs.push_back(i);
  for (int i = 0; i < n_outputs; ++i) node.outputs.push_back(n_inputs + i);
  return node;
}

inline Tensor F(std::vector<float> values, Shape shape) {
  EXPECT_EQ(static_cast<int64_t>(values.size()), NumElements(shape));
  return Tensor::FromVector<float>(values, std::move(shape));
}

inline Tensor I64(std::vector<int64_t> values) {
  auto n = static_cast<int64_t>(values.size());
  return Tensor::FromVector<int64_t>(values, {n});
}

// 0, 1, 2, ... + `start`.
inline Tensor Iota(Shape shape, float start = 0) {
  std::vector<float> v(static_cast<size_t>(NumElements(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i);
  return F(v, std::move(shape));
}

inline Tensor Random(Shape shape, std::mt19937* rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(NumElements(shape)));
  for (float& x : v) x = dist(*rng);
  return F(v, std::move(shape));
}

inline std::vector<float> Values(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

// Runs the reference kernel of node.op; errors come back as the Status.
inline Status RunRef(const Node& node, const std::vector<Tensor>& inputs, std::vector<Tensor>* out,
                     int64_t opset = 13) {
  const OpSchema* schema = FindSchema(node.op);
  if (!schema) return Status::NotFound(std::string("no schema for ") + OpName(node.op));
  return schema->reference(node, opset, inputs, out);
}

// Runs and returns output 0; fails the test on error.
inline Tensor RunRef1(const Node& node, const std::vector<Tensor>& inputs, int64_t opset = 13) {
  std::vector<Tensor> out;
  Status s = RunRef(node, inputs, &out, opset);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok() || out.empty()) return Tensor();
  return out[0];
}

inline ValueInfo Info(Shape shape, DType dtype = DType::kFloat32) {
  ValueInfo info;
  info.dtype = dtype;
  info.shape = std::move(shape);
  return info;
}

inline ValueInfo Absent() { return ValueInfo{}; }

// Runs the shape rule of node.op on `inputs` with `constants` (nullptr entries when unknown).
inline Status Infer(const Node& node, std::vector<ValueInfo> inputs,
                    std::vector<ValueInfo>* outputs, int64_t opset = 13,
                    std::vector<const Tensor*> constants = {}) {
  constants.resize(inputs.size(), nullptr);
  ShapeContext ctx{&node, std::move(inputs), std::move(constants), opset};
  return FindSchema(node.op)->infer_shape(ctx, outputs);
}

// Output 0's shape, or {-999} on error (the error is reported as a test failure).
inline Shape InferShape(const Node& node, std::vector<ValueInfo> inputs, int64_t opset = 13,
                        std::vector<const Tensor*> constants = {}) {
  std::vector<ValueInfo> out;
  Status s = Infer(node, std::move(inputs), &out, opset, std::move(constants));
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return {-999};
  return out[0].shape;
}

// Expects an error of `code` whose message names the node and contains `fragment`.
inline void ExpectError(const Status& s, StatusCode code, const std::string& fragment) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find("'n1'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

// Elementwise comparison with absolute tolerance `tol`.
inline void ExpectNear(const Tensor& got, const std::vector<float>& want, Shape shape,
                       float tol = 1e-5f) {
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.shape(), shape);
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got.data<float>()[i], want[i], tol) << "at flat index " << i;
  }
}

}  // namespace edgeinfer::testing_nn

#endif  // EDGEINFER_TESTS_OPS_NN_TEST_UTIL_H_

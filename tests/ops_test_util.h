// Helpers shared by the elementwise and tensor op-family tests: one-node graphs run through the
// op's registered reference kernel.
#ifndef EDGEINFER_TESTS_OPS_TEST_UTIL_H_
#define EDGEINFER_TESTS_OPS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "edgeinfer/tensor.h"
#include "ops/op_registry.h"

namespace edgeinfer {

// A node named "node_under_test" reading values 0..n_in-1 and writing the next n_out values.
inline Node MakeNode(OpKind op, size_t n_in, size_t n_out = 1, Attributes attrs = {}) {
  Node node;
  node.op = op;
  node.name = "node_under_test";
  node.attrs = std::move(attrs);
  for (size_t i = 0; i < n_in; ++i) node.inputs.push_back(static_cast<ValueId>(i));
  for (size_t i = 0; i < n_out; ++i) node.outputs.push_back(static_cast<ValueId>(n_in + i));
  return node;
}

inline Status RunOp(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                    std::vector<Tensor>* outputs) {
  const OpSchema* schema = FindSchema(node.op);
  if (schema == nullptr) return Status::NotFound(std::string("no schema for ") + OpName(node.op));
  return schema->reference(node, opset, inputs, outputs);
}

// Runs a single-output op and returns its output; fails the test on error.
inline Tensor Run1(const Node& node, int64_t opset, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  Status s = RunOp(node, opset, inputs, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out.empty() ? Tensor() : out[0];
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

inline Tensor F(std::vector<float> v, Shape s) {
  return Tensor::FromVector<float>(v, std::move(s));
}

}  // namespace edgeinfer

#endif  // EDGEINFER_TESTS_OPS_TEST_UTIL_H_

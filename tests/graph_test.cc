#include "ir/graph.h"

#include <gtest/gtest.h>

namespace edgeinfer {
namespace {

// a -> Relu -> b -> Relu -> c ; b,c -> Add -> d
Graph Diamond() {
  Graph g;
  ValueId a = g.AddInput("a", DType::kFloat32, {1, 4});
  ValueId b = g.AddValue("b", DType::kFloat32, {1, 4});
  ValueId c = g.AddValue("c", DType::kFloat32, {1, 4});
  ValueId d = g.AddValue("d", DType::kFloat32, {1, 4});
  g.AddNode(OpKind::kRelu, "r1", {a}, {b});
  g.AddNode(OpKind::kRelu, "r2", {b}, {c});
  g.AddNode(OpKind::kAdd, "add", {b, c}, {d});
  g.AddOutput(d);
  return g;
}

TEST(GraphTest, OpNamesRoundTrip) {
  for (int i = 0; i < static_cast<int>(OpKind::kCount); ++i) {
    OpKind k;
    ASSERT_TRUE(OpKindFromName(OpName(static_cast<OpKind>(i)), &k));
    EXPECT_EQ(static_cast<int>(k), i);
  }
  OpKind k;
  EXPECT_FALSE(OpKindFromName("NoSuchOp", &k));
}

TEST(GraphTest, VerifyAcceptsValidGraph) {
  Graph g = Diamond();
  EXPECT_TRUE(g.Verify().ok());
  auto order = g.TopologicalOrder();
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (std::vector<int>{0, 1, 2}));
}

TEST(GraphTest, VerifyRejectsUnproducedInput) {
  Graph g;
  ValueId a = g.AddValue("a", DType::kFloat32, {1});
  ValueId b = g.AddValue("b", DType::kFloat32, {1});
  g.AddNode(OpKind::kRelu, "r", {a}, {b});
  g.AddOutput(b);
  Status s = g.Verify();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'a'"), std::string::npos) << s.message();
}

TEST(GraphTest, VerifyRejectsCycle) {
  Graph g;
  ValueId a = g.AddValue("a", DType::kFloat32, {1});
  ValueId b = g.AddValue("b", DType::kFloat32, {1});
  g.AddNode(OpKind::kRelu, "r1", {a}, {b});
  g.AddNode(OpKind::kRelu, "r2", {b}, {a});
  g.AddOutput(b);
  Status s = g.Verify();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cycle"), std::string::npos) << s.message();
}

TEST(GraphTest, SliceSuffixFromIntermediate) {
  Graph g = Diamond();
  auto s = g.Slice({"b"}, {"d"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->nodes().size(), 2u);
  ASSERT_EQ(s->inputs().size(), 1u);
  EXPECT_EQ(s->value(s->inputs()[0]).name, "b");
  EXPECT_TRUE(s->Verify().ok());
}

TEST(GraphTest, SlicePrefix) {
  Graph g = Diamond();
  auto s = g.Slice({"a"}, {"b"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->nodes().size(), 1u);
  EXPECT_EQ(s->nodes()[0].name, "r1");
}

TEST(GraphTest, SliceUnknownTensorIsNotFound) {
  Graph g = Diamond();
  auto s = g.Slice({"zz"}, {"d"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
}

TEST(GraphTest, CompactDropsRemovedNodes) {
  Graph g = Diamond();
  g.mutable_nodes()[1].removed = true;
  g.mutable_nodes()[2].inputs = {g.FindValue("b"), g.FindValue("b")};
  g.Compact();
  EXPECT_EQ(g.nodes().size(), 2u);
  EXPECT_EQ(g.FindValue("c"), kNoValue);
  EXPECT_TRUE(g.Verify().ok());
}

}  // namespace
}  // namespace edgeinfer

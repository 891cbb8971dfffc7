// Split execution at every valid split point of ResNet-18 and GoogLeNet against the real edge
// server: for each topological prefix, the device runs the prefix, the tensors crossing the cut
// travel to the server, the server runs the rest, and the output equals the local run's.
//
// Inputs are 1x3x64x64 (both networks are fully convolutional up to global pooling) to keep the
// sweep fast. Tolerance 1e-5 relative L2, as in offload_e2e_test.cc: each half runs the same
// kernels, but fusion boundaries and thread counts differ, which reassociates float32 sums by a
// few ulp per layer.
//
// Under sanitizers (EDGEINFER_SANITIZED set) the sweep is a deterministic subset: every 7th
// split point, the last one, and every 5th of the cuts that carry more than one tensor (starting
// with the first; they exercise multi-input slices), about a quarter of the points.
#include <gtest/gtest.h>

#include <cstdlib>

#include "offload_util.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"
#include "runtime/offload_config.h"
#include "runtime/offload_session.h"
#include "runtime/split_plan.h"
#include "zoo/zoo.h"

namespace edgeinfer::testing {
namespace {

constexpr double kTolerance = 1e-5;

// The zoo model `name` with a 1x3xSxS input; other shapes are left for shape inference.
Result<Graph> ZooAtSize(const std::string& name, int64_t size) {
  const ZooModel* zoo = FindZooModel(name);
  if (zoo == nullptr) return Status::NotFound("zoo model " + name);
  EI_ASSIGN_OR_RETURN(Graph g, zoo->build(42));
  for (size_t id = 0; id < g.values().size(); ++id) {
    Value& v = g.mutable_values()[id];
    if (v.is_constant()) continue;
    for (int64_t& d : v.shape) d = -1;
  }
  for (ValueId id : g.inputs()) g.mutable_value(id).shape = {1, 3, size, size};
  return g;
}

class SplitSweepTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { server_.Start(EDGEINFER_CLI); }
  static void TearDownTestSuite() { server_.Stop(); }
  static SharedEdgeServer server_;
};

SharedEdgeServer SplitSweepTest::server_;

TEST_P(SplitSweepTest, EverySplitPointMatchesLocal) {
  ASSERT_NE(server_.get(), nullptr) << server_.error();
  auto graph = ZooAtSize(GetParam(), 64);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  auto bytes = ExportOnnx(*graph);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto imported = ImportOnnx(*bytes, {});
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  auto order = imported->TopologicalOrder();
  ASSERT_TRUE(order.ok());
  const int nodes = static_cast<int>(order->size());

  std::vector<NamedTensor> input = {
      {"input", RandomTensor(DType::kFloat32, {1, 3, 64, 64}, 11, 0.f, 1.f)}};
  SessionOptions o;
  o.threads = 1;
  o.mode = ExecutionMode::kLocal;
  auto local = Session::OpenFromBytes(*bytes, ".", o);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  auto expected = (*local)->Run(input);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();

  o.accelerator = server_->endpoint();
  o.timeout_ms = 30000;
  const bool subset = std::getenv("EDGEINFER_SANITIZED") != nullptr;
  int multi_tensor_cuts = 0;
  for (int k = 0; k <= nodes; ++k) {
    SCOPED_TRACE("split point " + std::to_string(k) + " of " + std::to_string(nodes));
    auto cut = CrossingTensors(*imported, k);
    ASSERT_TRUE(cut.ok()) << cut.status().ToString();
    multi_tensor_cuts += cut->size() > 1;
    const bool branchy_pick = cut->size() > 1 && multi_tensor_cuts % 5 == 1;
    if (subset && k % 7 != 0 && k != nodes && !branchy_pick) continue;
    o.mode = ExecutionMode::kSplit;
    o.cut = Cut::AfterNodes(k);
    auto config = ResolveOffloadConfig(o);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    // Session::Open would import the model again at every point (Session::Open with split modes
    // is covered by offload_e2e_test); the split session itself is the same.
    auto session = OpenOffloadSession(*imported, *bytes, *config, o);
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    auto got = (*session)->Run(input);
    ASSERT_TRUE(got.ok()) << got.status().ToString() << "\n" << server_->Log();
    ASSERT_EQ(got->size(), 1u);
    EXPECT_LE(RelativeL2((*got)[0].tensor, (*expected)[0].tensor), kTolerance);
  }
  // Both networks branch (residual adds, inception concats), so some cuts carry several tensors.
  EXPECT_GT(multi_tensor_cuts, 0);
}

INSTANTIATE_TEST_SUITE_P(Zoo, SplitSweepTest, ::testing::Values("resnet18", "googlenet"));

}  // namespace
}  // namespace edgeinfer::testing

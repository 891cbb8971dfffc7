// Every zoo model, exported to ONNX, run by edgeinfer and by ONNX Runtime on the same input.
//
// Tolerance: relative L2 <= 1e-4 (see oracle_ops_test.cc for why). The zoo's weights are
// scaled so activations stay O(1) through every layer, so the comparison is not trivially met
// by near-zero outputs: the test also requires a non-degenerate output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "oracle_util.h"
#include "zoo/zoo.h"

namespace edgeinfer::testing {
namespace {

constexpr double kTolerance = 1e-4;

bool Sanitized() { return std::getenv("EDGEINFER_SANITIZED") != nullptr; }

class OracleZooTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OracleZooTest, MatchesOnnxRuntime) {
  const ZooModel* model = FindZooModel(GetParam());
  ASSERT_NE(model, nullptr);
  // Under sanitizers everything is several times slower; the small models still cover the
  // importer and backend paths there.
  if (Sanitized() && GetParam() != "squeezenet1.1" && GetParam() != "mobilenetv2") {
    GTEST_SKIP() << "large model skipped in the sanitizer build";
  }
  auto graph = model->build(1);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  std::vector<NamedTensor> inputs;
  for (ValueId id : graph->inputs()) {
    const Value& v = graph->value(id);
    inputs.push_back({v.name, RandomTensor(v.dtype, v.shape, 42, -2.f, 2.f)});
  }
  TempDir dir;
  std::string detail;
  auto err = CompareWithOnnxRuntime(*graph, inputs, dir.path(), GetParam(), &detail);
  ASSERT_TRUE(err.ok()) << err.status().ToString();
  EXPECT_LE(*err, kTolerance) << detail;
  std::cout << detail;
}

std::vector<std::string> ModelNames() {
  std::vector<std::string> names;
  for (const ZooModel& m : ZooModels()) names.push_back(m.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Zoo, OracleZooTest, ::testing::ValuesIn(ModelNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string s = info.param;
                           for (char& c : s) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace edgeinfer::testing

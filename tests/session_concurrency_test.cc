// One Session run from eight threads at once, each with its own inputs: every output of every run
// must equal the single-threaded result for the same input, bit for bit.
//
// Why exact: a run's arithmetic depends only on the compiled model, its input and the kernel
// thread count (SessionOptions::threads, set per Run on the calling thread); oneDNN and the
// cpu backend's own kernels are deterministic for a fixed thread count. So any difference means
// runs shared state they must not (a scratch buffer, a bound input or output of another run), which
// would give errors of order 1, not rounding.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "edgeinfer/session.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"
#include "zoo/zoo.h"

namespace edgeinfer::testing {
namespace {

constexpr int kThreads = 8;
constexpr int kRunsPerThread = 3;

// The first mismatch between two outputs, "" when they are identical.
std::string Difference(const std::vector<NamedTensor>& got, const std::vector<NamedTensor>& want) {
  if (got.size() != want.size()) {
    return std::to_string(got.size()) + " outputs, want " + std::to_string(want.size());
  }
  for (size_t i = 0; i < want.size(); ++i) {
    const Tensor& g = got[i].tensor;
    const Tensor& w = want[i].tensor;
    if (got[i].name != want[i].name || g.dtype() != w.dtype() || g.shape() != w.shape()) {
      return "output " + std::to_string(i) + ": " + got[i].name + " " + g.Describe() + ", want " +
             want[i].name + " " + w.Describe();
    }
    if (std::memcmp(g.raw_data(), w.raw_data(), w.nbytes()) != 0) {
      return "output " + std::to_string(i) + " (" + want[i].name + ") differs, relative L2 " +
             std::to_string(RelativeL2(g, w));
    }
  }
  return "";
}

TEST(SessionConcurrencyTest, EightThreadsGetTheSingleThreadedResults) {
  // SqueezeNet 1.1: convs with and without padding, concats, ceil-mode pools; small enough for
  // 8 x 3 concurrent runs on a 2-core machine.
  const ZooModel* zoo = FindZooModel("squeezenet1.1");
  ASSERT_NE(zoo, nullptr);
  auto graph = zoo->build(1);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  auto bytes = ExportOnnx(*graph);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  SessionOptions options;
  options.backend = "cpu";
  options.threads = 2;
  auto opened = Session::OpenFromBytes(*bytes, ".", options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Session& session = **opened;
  ASSERT_EQ(session.inputs().size(), 1u);
  const std::string input_name = session.inputs()[0].name;

  // Distinct inputs (seed per thread and run) and their results, one run at a time.
  auto input_of = [&](int thread, int run) {
    return std::vector<NamedTensor>{
        {input_name, RandomTensor(DType::kFloat32, zoo->input_shape, 1000 + 10 * thread + run)}};
  };
  std::vector<std::vector<std::vector<NamedTensor>>> expected(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRunsPerThread; ++r) {
      auto out = session.Run(input_of(t, r));
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      expected[t].push_back(std::move(out).value());
    }
  }
  // Distinct inputs must give distinct outputs, or a run answering with another run's output
  // would go unnoticed.
  ASSERT_NE(Difference(expected[0][0], expected[1][0]), "");

  // Every run of every thread is checked and recorded; none may hide behind another.
  std::vector<std::vector<std::string>> failures(kThreads,
                                                 std::vector<std::string>(kRunsPerThread));
  std::vector<std::vector<bool>> checked(kThreads, std::vector<bool>(kRunsPerThread, false));
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::vector<NamedTensor>> inputs;
      for (int r = 0; r < kRunsPerThread; ++r) inputs.push_back(input_of(t, r));
      // Start together, so that the runs overlap.
      ++ready;
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int r = 0; r < kRunsPerThread; ++r) {
        auto out = session.Run(inputs[r]);
        failures[t][r] = out.ok() ? Difference(*out, expected[t][r]) : out.status().ToString();
        checked[t][r] = true;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRunsPerThread; ++r) {
      EXPECT_TRUE(checked[t][r]) << "thread " << t << " run " << r;
      EXPECT_EQ(failures[t][r], "") << "thread " << t << " run " << r;
    }
  }
}

}  // namespace
}  // namespace edgeinfer::testing

// Faults between device and edge server: the server dies while requests are in flight. The
// client must get an error well within its deadline, never hang, and a later run must fail
// fast too (the model is not silently run elsewhere).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "offload_util.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"

namespace edgeinfer::testing {
namespace {

using Clock = std::chrono::steady_clock;

// x[1,16,96,96] -> 4 x (Conv 3x3 16->16, pad 1) -> y: tens of milliseconds per request on one
// core, so a kill lands while a request is being computed.
Graph SlowNet() {
  Graph g;
  g.opset = 13;
  ValueId cur = g.AddInput("x", DType::kFloat32, {1, 16, 96, 96});
  for (int i = 0; i < 4; ++i) {
    ValueId w = g.AddConstant("w" + std::to_string(i),
                              RandomTensor(DType::kFloat32, {16, 16, 3, 3}, 10 + i, -0.1f, 0.1f));
    ValueId out =
        g.AddValue(i == 3 ? "y" : "c" + std::to_string(i), DType::kFloat32, {1, 16, 96, 96});
    Attributes a;
    a.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
    g.AddNode(OpKind::kConv, "conv" + std::to_string(i), {cur, w}, {out}, a);
    cur = out;
  }
  g.AddOutput(cur);
  return g;
}

TEST(OffloadFaultTest, ServerKilledMidRequestGivesAnErrorBeforeTheDeadline) {
  TempDir repo;
  auto server = EdgeServerProcess::Start(EDGEINFER_CLI, repo.path(), {"--threads", "1"});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto bytes = ExportOnnx(SlowNet());
  ASSERT_TRUE(bytes.ok());
  constexpr int kDeadlineMs = 10000;
  SessionOptions o;
  o.accelerator = (*server)->endpoint();
  o.timeout_ms = kDeadlineMs;
  auto session = Session::OpenFromBytes(*bytes, ".", o);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  std::vector<NamedTensor> input = {{"x", RandomTensor(DType::kFloat32, {1, 16, 96, 96}, 1)}};
  ASSERT_TRUE((*session)->Run(input).ok());

  std::atomic<int> completed{0};
  Status failure;
  Clock::time_point failed_at;
  std::thread client([&] {
    // Bounded: the kill below ends this loop; 10,000 runs would take minutes.
    for (int i = 0; i < 10000; ++i) {
      auto out = (*session)->Run(input);
      if (!out.ok()) {
        failed_at = Clock::now();
        failure = out.status();
        return;
      }
      ++completed;
    }
  });
  while (completed.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto killed_at = Clock::now();
  (*server)->Kill();
  client.join();
  ASSERT_FALSE(failure.ok()) << "runs kept succeeding after the server was killed";
  EXPECT_EQ(failure.code(), StatusCode::kUnavailable) << failure.ToString();
  const double ms = std::chrono::duration<double, std::milli>(failed_at - killed_at).count();
  // A dead peer closes the connection, so the error comes at once; half the deadline is slack
  // for a loaded machine.
  EXPECT_LT(ms, kDeadlineMs / 2.0) << failure.ToString();

  const auto again = Clock::now();
  auto later = (*session)->Run(input);
  EXPECT_FALSE(later.ok());
  const double later_ms = std::chrono::duration<double, std::milli>(Clock::now() - again).count();
  EXPECT_LT(later_ms, kDeadlineMs / 2.0);
}

}  // namespace
}  // namespace edgeinfer::testing

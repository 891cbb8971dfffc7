// Offloading end to end on loopback against the real edge server process: every mode gives the
// local result, the model is uploaded by content hash, an unchanged program offloads through the
// environment, the CLI reports the latency breakdown, a token is enforced, and concurrent
// clients each get their own replies.
//
// Tolerance: the server runs the same kernels, but with another thread count and, in split
// mode, other fusion boundaries, so float32 sums are reassociated. That moves results by a few
// ulp per layer; a relative L2 error of 1e-5 is far above that and far below any real defect
// (a wrong tensor, a mixed-up reply or a lost layer gives errors of order 1).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "net/client.h"
#include "net/model_hash.h"
#include "offload_util.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"

namespace edgeinfer::testing {
namespace {

constexpr double kTolerance = 1e-5;

// x[1,3,16,16] -> conv1 -> r1 = Relu -> {c2 = conv2(r1), c3 = conv3(r1)} -> s = Add -> Relu
// -> GlobalAveragePool -> Flatten -> y[1,8]. The branch makes cuts of more than one tensor.
Graph BranchNet() {
  Graph g;
  g.name = "branchnet";
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {1, 3, 16, 16});
  auto conv = [&](const std::string& name, ValueId in, int64_t cin, uint64_t seed) {
    ValueId w = g.AddConstant(name + ".w", RandomTensor(DType::kFloat32, {8, cin, 3, 3}, seed));
    ValueId b = g.AddConstant(name + ".b", RandomTensor(DType::kFloat32, {8}, seed + 100));
    ValueId out = g.AddValue(name, DType::kFloat32, {1, 8, 16, 16});
    Attributes a;
    a.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
    g.AddNode(OpKind::kConv, name + "_node", {in, w, b}, {out}, a);
    return out;
  };
  ValueId c1 = conv("c1", x, 3, 1);
  ValueId r1 = g.AddValue("r1", DType::kFloat32, {1, 8, 16, 16});
  g.AddNode(OpKind::kRelu, "relu1", {c1}, {r1});
  ValueId c2 = conv("c2", r1, 8, 2);
  ValueId c3 = conv("c3", r1, 8, 3);
  ValueId s = g.AddValue("s", DType::kFloat32, {1, 8, 16, 16});
  g.AddNode(OpKind::kAdd, "add", {c2, c3}, {s});
  ValueId r2 = g.AddValue("r2", DType::kFloat32, {1, 8, 16, 16});
  g.AddNode(OpKind::kRelu, "relu2", {s}, {r2});
  ValueId p = g.AddValue("p", DType::kFloat32, {1, 8, 1, 1});
  g.AddNode(OpKind::kGlobalAveragePool, "gap", {r2}, {p});
  ValueId y = g.AddValue("y", DType::kFloat32, {1, 8});
  g.AddNode(OpKind::kFlatten, "flatten", {p}, {y});
  g.AddOutput(y);
  return g;
}

std::vector<NamedTensor> Input(uint64_t seed) {
  return {{"x", RandomTensor(DType::kFloat32, {1, 3, 16, 16}, seed)}};
}

class OffloadE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_.Start(EDGEINFER_CLI); }
  static void TearDownTestSuite() { server_.Stop(); }
  void SetUp() override {
    ASSERT_NE(server_.get(), nullptr) << server_.error();
    model_path_ = dir_.path() + "/branchnet.onnx";
    ASSERT_TRUE(ExportOnnxFile(BranchNet(), model_path_).ok());
  }

  Result<std::unique_ptr<Session>> Open(const std::string& mode) {
    return server_.OpenSession(model_path_, mode);
  }

  static SharedEdgeServer server_;
  TempDir dir_;
  std::string model_path_;
};

SharedEdgeServer OffloadE2eTest::server_;

TEST_F(OffloadE2eTest, EveryModeMatchesLocal) {
  auto local = Open("local");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  auto expected = (*local)->Run(Input(7));
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  // 0 and 7 are the empty and the full device prefix; 2 cuts at r1, 4 at {c2, c3}.
  for (const std::string mode : {"remote", "split:r1", "split:c2,c3", "split:s", "split:0",
                                 "split:2", "split:4", "split:7"}) {
    SCOPED_TRACE(mode);
    auto session = Open(mode);
    ASSERT_TRUE(session.ok()) << session.status().ToString() << "\n" << server_->Log();
    EXPECT_EQ(ExecutionModeText((*session)->mode(), (*session)->cut()), mode);
    RunStats stats;
    auto got = (*session)->RunWithStats(Input(7), &stats);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*got)[0].name, "y");
    EXPECT_LE(RelativeL2((*got)[0].tensor, (*expected)[0].tensor), kTolerance);
    EXPECT_GT(stats.total_ms, 0.0);
    if (mode != "split:7") {
      // Every offloading run sends at least x (3x16x16 floats) and receives y (8 floats).
      EXPECT_GE(stats.bytes_sent, 3 * 16 * 16 * 4);
      EXPECT_GE(stats.bytes_received, 8 * 4);
      EXPECT_GE(stats.upload_ms, 0.0);
      EXPECT_GE(stats.download_ms, 0.0);
      EXPECT_LE(stats.device_ms + stats.upload_ms + stats.server_queue_ms +
                    stats.server_compute_ms + stats.download_ms,
                stats.total_ms + 1e-6);
    }
  }
}

TEST_F(OffloadE2eTest, UploadsTheModelOnlyWhenTheServerLacksIt) {
  // A model no other test uses: another graph name gives other bytes, hence another hash.
  Graph g = BranchNet();
  g.name = "upload-once";
  auto unique = ExportOnnx(g);
  ASSERT_TRUE(unique.ok());
  net::EdgeClientOptions o;
  o.address = server_->grpc_address();
  auto client = net::EdgeClient::Connect(o);
  ASSERT_TRUE(client.ok());
  const std::string name = net::ContentModelName(*unique);
  auto before = (*client)->ModelReady(name);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_FALSE(*before);
  auto ensured = (*client)->EnsureModel(*unique);
  ASSERT_TRUE(ensured.ok()) << ensured.status().ToString();
  EXPECT_EQ(*ensured, name);
  auto after = (*client)->ModelReady(name);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(*after);
  ASSERT_TRUE((*client)->EnsureModel(*unique).ok());  // ready: no second upload
  auto out = (*client)->Infer(name, Input(3), {"y"}, nullptr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
}

TEST_F(OffloadE2eTest, UnchangedProgramOffloadsThroughTheEnvironment) {
  const std::string example = BuildDirOf(EDGEINFER_CLI) + "example_classify";
  ASSERT_EQ(access(example.c_str(), X_OK), 0) << "build the example_classify target: " << example;
  const std::string cmd = example + " " + model_path_ + " 5";
  Outcome local = Shell("env -u EDGEINFER_ACCELERATOR -u EDGEINFER_MODE " + cmd);
  ASSERT_EQ(local.exit_code, 0) << local.output;
  Outcome remote =
      Shell("EDGEINFER_ACCELERATOR=" + server_->endpoint() + " EDGEINFER_MODE=remote " + cmd);
  ASSERT_EQ(remote.exit_code, 0) << remote.output;
  Outcome split =
      Shell("EDGEINFER_ACCELERATOR=" + server_->endpoint() + " EDGEINFER_MODE=split:r1 " + cmd);
  ASSERT_EQ(split.exit_code, 0) << split.output;
  // Everything but the latency line must be identical (scores are printed to 4 decimals).
  auto strip = [](const std::string& s) { return s.substr(0, s.find("latency")); };
  EXPECT_FALSE(strip(local.output).empty());
  EXPECT_EQ(strip(remote.output), strip(local.output));
  EXPECT_EQ(strip(split.output), strip(local.output));
  // And the variable is what sends it away: a dead endpoint makes the same program fail.
  Outcome dead = Shell("EDGEINFER_ACCELERATOR=grpc://127.0.0.1:1 " + cmd);
  EXPECT_NE(dead.exit_code, 0) << dead.output;
  EXPECT_NE(dead.output.find("127.0.0.1:1"), std::string::npos) << dead.output;
}

TEST_F(OffloadE2eTest, CliReportsTheLatencyBreakdown) {
  Outcome local = Shell(std::string(EDGEINFER_CLI) + " run " + model_path_ +
                        " --json --repeat 2 --seed 4 --mode local");
  ASSERT_EQ(local.exit_code, 0) << local.output;
  Outcome split = Shell(std::string(EDGEINFER_CLI) + " run " + model_path_ + " --edge " +
                        server_->grpc_address() + " --mode split:r1 --json --repeat 3 --seed 4");
  ASSERT_EQ(split.exit_code, 0) << split.output;
  auto l = nlohmann::json::parse(local.output);
  auto s = nlohmann::json::parse(split.output);
  EXPECT_EQ(s["mode"], "split:r1");
  EXPECT_EQ(l["mode"], "local");
  for (const char* key : {"device_ms", "upload_ms", "server_queue_ms", "server_compute_ms",
                          "download_ms", "median_ms", "min_ms", "load_ms", "first_run_ms"}) {
    ASSERT_TRUE(s.contains(key)) << key;
    EXPECT_GE(s[key].get<double>(), 0.0) << key;
  }
  EXPECT_GT(s["device_ms"].get<double>(), 0.0);
  EXPECT_GE(s["bytes_sent"].get<int64_t>(), 8 * 16 * 16 * 4);  // r1 crosses
  // Same input (seed 4), same summary: the means agree to the tolerance above.
  double lm = l["outputs"][0]["mean"].get<double>(), sm = s["outputs"][0]["mean"].get<double>();
  EXPECT_NEAR(sm, lm, 1e-5 * std::max(1.0, std::abs(lm)));
  EXPECT_EQ(s["outputs"][0]["top5"], l["outputs"][0]["top5"]);

  Outcome text = Shell(std::string(EDGEINFER_CLI) + " run " + model_path_ + " --edge " +
                       server_->grpc_address() + " --repeat 1");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("mode remote"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("server compute"), std::string::npos) << text.output;
}

TEST_F(OffloadE2eTest, ConcurrentClientsGetTheirOwnReplies) {
  constexpr int kClients = 8, kRequests = 50;
  auto local = Open("local");
  ASSERT_TRUE(local.ok());
  std::vector<std::vector<Tensor>> expected(kClients);
  for (int c = 0; c < kClients; ++c) {
    for (int r = 0; r < kRequests; ++r) {
      auto out = (*local)->Run(Input(1000 + static_cast<uint64_t>(c * kRequests + r)));
      ASSERT_TRUE(out.ok());
      expected[c].push_back((*out)[0].tensor);
    }
  }
  std::vector<std::string> errors(kClients);
  std::vector<int> good(kClients, 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      // Each client has its own session (its own channel), half of them split.
      auto session = Open(c % 2 ? "remote" : "split:r1");
      if (!session.ok()) {
        errors[c] = session.status().ToString();
        return;
      }
      for (int r = 0; r < kRequests; ++r) {
        auto out = (*session)->Run(Input(1000 + static_cast<uint64_t>(c * kRequests + r)));
        if (!out.ok()) {
          errors[c] = out.status().ToString();
          return;
        }
        if (RelativeL2((*out)[0].tensor, expected[c][r]) <= kTolerance) ++good[c];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(errors[c], "") << "client " << c;
    EXPECT_EQ(good[c], kRequests) << "client " << c;
  }
}

TEST(OffloadAuthTest, TokenIsRequiredAndSent) {
  TempDir repo;
  const std::string tokens = repo.path() + "/tokens.txt";
  std::ofstream(tokens) << "letmein\n";
  auto server = EdgeServerProcess::Start(EDGEINFER_CLI, repo.path(), {"--token-file", tokens});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto bytes = ExportOnnx(BranchNet());
  ASSERT_TRUE(bytes.ok());
  SessionOptions o;
  o.accelerator = (*server)->endpoint();
  o.timeout_ms = 20000;
  auto anonymous = Session::OpenFromBytes(*bytes, ".", o);
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(anonymous.status().code(), StatusCode::kUnauthenticated)
      << anonymous.status().ToString();
  o.token = "wrong";
  EXPECT_FALSE(Session::OpenFromBytes(*bytes, ".", o).ok());
  o.token = "letmein";
  auto session = Session::OpenFromBytes(*bytes, ".", o);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_TRUE((*session)->Run(Input(1)).ok());
}

}  // namespace
}  // namespace edgeinfer::testing

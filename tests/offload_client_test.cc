// The device side of offloading without a server: endpoint and mode resolution, content names,
// split planning, and failing fast (within the deadline) when the server is absent or silent.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "net/client.h"
#include "net/model_hash.h"
#include "offload_util.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"
#include "runtime/offload_config.h"
#include "runtime/split_plan.h"

namespace edgeinfer::testing {
namespace {

TEST(ModelNameTest, IsSha256PrefixOfBytes) {
  // FIPS 180-2 test vector: SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223...
  EXPECT_EQ(net::ContentModelName("abc"), "sha256-ba7816bf8f01cfea");
  EXPECT_EQ(net::ContentModelName(""), "sha256-e3b0c44298fc1c14");
}

TEST(EndpointTest, ParsesSchemesAndRejectsGarbage) {
  net::EdgeClientOptions o;
  ASSERT_TRUE(net::ParseEndpoint("grpc://10.0.0.1:8001", &o).ok());
  EXPECT_EQ(o.address, "10.0.0.1:8001");
  EXPECT_FALSE(o.tls);
  ASSERT_TRUE(net::ParseEndpoint("grpcs://edge.local:443/", &o).ok());
  EXPECT_EQ(o.address, "edge.local:443");
  EXPECT_TRUE(o.tls);
  o = {};
  o.tls_ca_file = "ca.pem";
  ASSERT_TRUE(net::ParseEndpoint("[::1]:9000", &o).ok());
  EXPECT_EQ(o.address, "[::1]:9000");
  EXPECT_TRUE(o.tls);
  for (const char* bad : {"", "http://h:1", "host", "host:", ":80", "host:8x"}) {
    net::EdgeClientOptions b;
    EXPECT_EQ(net::ParseEndpoint(bad, &b).code(), StatusCode::kInvalidArgument) << bad;
  }
}

// Sets environment variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

TEST(OffloadConfigTest, EnvironmentMakesSessionsRemote) {
  unsetenv("EDGEINFER_ACCELERATOR");
  unsetenv("EDGEINFER_MODE");
  auto local = ResolveOffloadConfig({});
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->mode, ExecutionMode::kLocal);

  ScopedEnv acc("EDGEINFER_ACCELERATOR", "grpc://127.0.0.1:7001");
  ScopedEnv tok("EDGEINFER_TOKEN", "secret");
  auto remote = ResolveOffloadConfig({});
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  EXPECT_EQ(remote->mode, ExecutionMode::kRemote);
  EXPECT_EQ(remote->client.address, "127.0.0.1:7001");
  EXPECT_EQ(remote->client.token, "secret");

  SessionOptions explicit_local;
  explicit_local.mode = ExecutionMode::kLocal;
  EXPECT_EQ(ResolveOffloadConfig(explicit_local)->mode, ExecutionMode::kLocal);

  ScopedEnv mode("EDGEINFER_MODE", "split:conv1,conv2");
  auto split = ResolveOffloadConfig({});
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->mode, ExecutionMode::kSplit);
  EXPECT_EQ(split->cut, Cut::AtTensors({"conv1", "conv2"}));
}

TEST(OffloadConfigTest, RejectsBadModes) {
  unsetenv("EDGEINFER_ACCELERATOR");
  unsetenv("EDGEINFER_MODE");
  SessionOptions o;
  o.mode = ExecutionMode::kRemote;
  EXPECT_EQ(ResolveOffloadConfig(o).status().code(), StatusCode::kInvalidArgument);
  o.accelerator = "127.0.0.1:1";
  o.mode = ExecutionMode::kSplit;  // without a cut
  EXPECT_EQ(ResolveOffloadConfig(o).status().code(), StatusCode::kInvalidArgument);
  // Text forms: the one parser names what is wrong and leaves the options unchanged.
  EXPECT_EQ(o.SetMode("split:").code(), StatusCode::kInvalidArgument);
  Status everywhere = o.SetMode("everywhere");
  EXPECT_EQ(everywhere.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(everywhere.message().find("everywhere"), std::string::npos);
  EXPECT_EQ(o.mode, ExecutionMode::kSplit);
  {
    ScopedEnv mode("EDGEINFER_MODE", "everywhere");
    SessionOptions from_env;
    from_env.accelerator = "127.0.0.1:1";
    auto r = ResolveOffloadConfig(from_env);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("EDGEINFER_MODE"), std::string::npos);
    EXPECT_NE(r.status().message().find("everywhere"), std::string::npos);
  }
}

// x -> a = Relu(x) -> b = Sigmoid(a); c = Tanh(a); y = Add(b, c); also output a.
// Topological order: relu, sigmoid, tanh, add.
Graph Diamond() {
  Graph g;
  ValueId x = g.AddInput("x", DType::kFloat32, {1, 4});
  ValueId a = g.AddValue("a", DType::kFloat32, {1, 4});
  ValueId b = g.AddValue("b", DType::kFloat32, {1, 4});
  ValueId c = g.AddValue("c", DType::kFloat32, {1, 4});
  ValueId y = g.AddValue("y", DType::kFloat32, {1, 4});
  g.AddNode(OpKind::kRelu, "relu", {x}, {a});
  g.AddNode(OpKind::kSigmoid, "sigmoid", {a}, {b});
  g.AddNode(OpKind::kTanh, "tanh", {a}, {c});
  g.AddNode(OpKind::kAdd, "add", {b, c}, {y});
  g.AddOutput(y);
  g.AddOutput(a);
  return g;
}

TEST(SplitPlanTest, CrossingTensorsOfEveryPrefix) {
  Graph g = Diamond();
  using V = std::vector<std::string>;
  EXPECT_EQ(*CrossingTensors(g, 0), (V{"x"}));
  EXPECT_EQ(*CrossingTensors(g, 1), (V{"a"}));
  EXPECT_EQ(*CrossingTensors(g, 2), (V{"a", "b"}));  // tanh still reads a
  EXPECT_EQ(*CrossingTensors(g, 3), (V{"b", "c"}));
  EXPECT_EQ(*CrossingTensors(g, 4), (V{}));
  EXPECT_FALSE(CrossingTensors(g, 5).ok());
  EXPECT_FALSE(CrossingTensors(g, -1).ok());
}

TEST(SplitPlanTest, PlansByIndexAndByNames) {
  Graph g = Diamond();
  using V = std::vector<std::string>;
  auto by_index = PlanSplit(g, Cut::AfterNodes(2));
  ASSERT_TRUE(by_index.ok()) << by_index.status().ToString();
  EXPECT_EQ(by_index->local_targets, (V{"a", "b"}));  // a is also a model output
  EXPECT_EQ(by_index->remote_inputs, (V{"a", "b"}));
  EXPECT_EQ(by_index->remote_outputs, (V{"y"}));

  auto by_names = PlanSplit(g, Cut::AtTensors({"b", "c"}));
  ASSERT_TRUE(by_names.ok()) << by_names.status().ToString();
  EXPECT_EQ(by_names->local_targets, (V{"b", "c", "a"}));
  EXPECT_EQ(by_names->remote_outputs, (V{"y"}));

  auto everything = PlanSplit(g, Cut::AfterNodes(4));
  ASSERT_TRUE(everything.ok());
  EXPECT_TRUE(everything->remote_outputs.empty());
  auto local = PlanSplit(g, Cut::Local());
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE(local->remote_outputs.empty());
  auto remote = PlanSplit(g, Cut::Remote());
  ASSERT_TRUE(remote.ok());
  EXPECT_EQ(remote->crossing, (V{"x"}));
  EXPECT_EQ(remote->remote_outputs, (V{"y", "a"}));  // model output order
  EXPECT_EQ(PlanSplit(g, Cut::AtTensors({"nope"})).status().code(), StatusCode::kNotFound);
  Status too_far = PlanSplit(g, Cut::AfterNodes(9)).status();
  EXPECT_EQ(too_far.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_far.message().find("split:9"), std::string::npos) << too_far.ToString();
}

// One parser and one printer for cuts and modes (edgeinfer/mode.h): every text form round-trips.
TEST(CutTest, ParsesAndPrintsEveryForm) {
  const std::vector<std::pair<std::string, Cut>> forms = {
      {"local", Cut::Local()},
      {"remote", Cut::Remote()},
      {"split:0", Cut::AfterNodes(0)},
      {"split:12", Cut::AfterNodes(12)},
      {"split:conv1", Cut::AtTensors({"conv1"})},
      {"split:b,c", Cut::AtTensors({"b", "c"})},
  };
  for (const auto& [text, cut] : forms) {
    auto parsed = Cut::Parse(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
    EXPECT_EQ(*parsed, cut) << text;
    EXPECT_EQ(cut.ToString(), text);
  }
  EXPECT_NE(Cut::Remote(), Cut::AfterNodes(0));  // a report says which one the planner chose
  for (const char* bad : {"", "split:", "split:a,,b", "split:a,", "everywhere", "Local"}) {
    EXPECT_EQ(Cut::Parse(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(CutTest, ModeTextRoundTrips) {
  for (const char* text : {"local", "remote", "auto", "auto-noload", "split:3", "split:x,y"}) {
    ExecutionMode mode = ExecutionMode::kLocal;
    Cut cut;
    ASSERT_TRUE(ParseExecutionMode(text, &mode, &cut).ok()) << text;
    EXPECT_EQ(ExecutionModeText(mode, cut), text);
  }
  ExecutionMode mode = ExecutionMode::kAuto;
  Cut cut = Cut::AfterNodes(3);
  Status bad = ParseExecutionMode("split:", &mode, &cut);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("expected local, remote, split:CUT"), std::string::npos)
      << bad.ToString();
  EXPECT_EQ(std::string(ExecutionModeName(ExecutionMode::kAutoNoLoad)), "auto-noload");
}

class ClientFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Graph g = Diamond();
    auto bytes = ExportOnnx(g);
    ASSERT_TRUE(bytes.ok());
    model_ = *bytes;
  }
  std::string model_;
};

TEST_F(ClientFaultTest, AbsentServerFailsFastWithUnavailable) {
  SessionOptions o;
  o.accelerator = "127.0.0.1:" + std::to_string(ClosedPort());
  o.mode = ExecutionMode::kRemote;
  o.timeout_ms = 10000;
  auto start = std::chrono::steady_clock::now();
  auto s = Session::OpenFromBytes(model_, ".", o);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().ToString();
  EXPECT_NE(s.status().message().find(o.accelerator), std::string::npos);
  EXPECT_LT(ms, 5000.0);  // refused at once, long before the 10 s deadline
}

TEST_F(ClientFaultTest, SilentServerHitsTheDeadline) {
  // Accepts TCP connections (the kernel completes the handshake) but never speaks HTTP/2.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  SessionOptions o;
  o.accelerator = "grpc://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  o.timeout_ms = 300;
  auto start = std::chrono::steady_clock::now();
  auto s = Session::OpenFromBytes(model_, ".", o);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kDeadlineExceeded) << s.status().ToString();
  // The deadline bounds the wait: 300 ms plus scheduling slack on a loaded 2-core machine.
  EXPECT_LT(ms, 3000.0);
}

TEST_F(ClientFaultTest, MissingCaFileIsAClearError) {
  SessionOptions o;
  o.accelerator = "grpcs://127.0.0.1:1";
  o.tls_ca_file = "/nonexistent/ca.pem";
  auto s = Session::OpenFromBytes(model_, ".", o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent/ca.pem"), std::string::npos);
}

}  // namespace
}  // namespace edgeinfer::testing

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
  EXPECT_EQ(local->mode, OffloadConfig::Mode::kLocal);

  ScopedEnv acc("EDGEINFER_ACCELERATOR", "grpc://127.0.0.1:7001");
  ScopedEnv tok("EDGEINFER_TOKEN", "secret");
  auto remote = ResolveOffloadConfig({});
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  EXPECT_EQ(remote->mode, OffloadConfig::Mode::kRemote);
  EXPECT_EQ(remote->client.address, "127.0.0.1:7001");
  EXPECT_EQ(remote->client.token, "secret");

  SessionOptions explicit_local;
  explicit_local.mode = "local";
  EXPECT_EQ(ResolveOffloadConfig(explicit_local)->mode, OffloadConfig::Mode::kLocal);

  ScopedEnv mode("EDGEINFER_MODE", "split:conv1,conv2");
  auto split = ResolveOffloadConfig({});
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->mode, OffloadConfig::Mode::kSplit);
  EXPECT_EQ(split->cut, "conv1,conv2");
}

TEST(OffloadConfigTest, RejectsBadModes) {
  unsetenv("EDGEINFER_ACCELERATOR");
  unsetenv("EDGEINFER_MODE");
  SessionOptions o;
  o.mode = "remote";
  EXPECT_EQ(ResolveOffloadConfig(o).status().code(), StatusCode::kInvalidArgument);
  o.accelerator = "127.0.0.1:1";
  o.mode = "split:";
  EXPECT_EQ(ResolveOffloadConfig(o).status().code(), StatusCode::kInvalidArgument);
  o.mode = "everywhere";
  auto r = ResolveOffloadConfig(o);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("everywhere"), std::string::npos);
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
  auto by_index = PlanSplit(g, "2");
  ASSERT_TRUE(by_index.ok()) << by_index.status().ToString();
  EXPECT_EQ(by_index->local_targets, (V{"a", "b"}));  // a is also a model output
  EXPECT_EQ(by_index->remote_inputs, (V{"a", "b"}));
  EXPECT_EQ(by_index->remote_outputs, (V{"y"}));

  auto by_names = PlanSplit(g, "b,c");
  ASSERT_TRUE(by_names.ok()) << by_names.status().ToString();
  EXPECT_EQ(by_names->local_targets, (V{"b", "c", "a"}));
  EXPECT_EQ(by_names->remote_outputs, (V{"y"}));

  auto everything = PlanSplit(g, "4");
  ASSERT_TRUE(everything.ok());
  EXPECT_TRUE(everything->remote_outputs.empty());
  EXPECT_EQ(PlanSplit(g, "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(PlanSplit(g, "9").status().code(), StatusCode::kInvalidArgument);
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
  o.mode = "remote";
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

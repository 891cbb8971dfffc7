// The collaborative mode (issue 15): an edge server with --peers runs a request that carries
// edgeinfer_collab stage by stage on row bands with its peers (server/collab_host.h), under
// HALP and the MoDNN baseline; the device's --mode collab; peers that are down or stall
// mid-request (on a FakeClock, no real waiting); the --peers checks; the planner's heights
// (planner/collab_plan.h); the deadline parameter. Outputs equal the local run within 1e-5
// relative L2 (the cpu backend may pick another algorithm for another band height).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "band_util.h"
#include "core/clock.h"
#include "edgeinfer/session.h"
#include "net/protocol.h"
#include "onnx/onnx_io.h"
#include "ops/passes.h"
#include "oracle_util.h"
#include "planner/collab_plan.h"
#include "server/collab_host.h"
#include "server/served_model.h"
#include "server/server.h"
#include "zoo/builder.h"
#include "zoo/zoo.h"

namespace edgeinfer::testing {
namespace {

constexpr double kTolerance = 1e-5;

// x [1, 3, H, 20] -> (conv 3x3, relu) x2 -> maxpool -> (conv 3x3, relu) x2 -> maxpool ->
// conv 3x3 -> global average pool -> flatten -> linear 10: VGG's shape in miniature.
Graph SmallVgg(int64_t height) {
  zoo::GraphBuilder b("small_vgg", 7);
  ValueId h = b.Input("x", {1, 3, height, 20});
  zoo::ConvOptions c;
  c.kernel = 3;
  c.pad = 1;
  zoo::PoolOptions p;
  int block = 0;
  for (int64_t channels : {8, 12}) {
    ++block;
    c.out_channels = channels;
    for (int k = 1; k <= 2; ++k) {
      const std::string name = "conv" + std::to_string(block) + "_" + std::to_string(k);
      h = b.Relu(name + "_relu", b.Conv(name, h, c));
    }
    h = b.MaxPool("pool" + std::to_string(block), h, p);
  }
  c.out_channels = 16;
  h = b.Conv("conv3", h, c);
  h = b.Flatten("flatten", b.GlobalAveragePool("gap", h));
  b.Output(b.Linear("fc", h, 10), "y");
  Result<Graph> graph = b.Finish();
  EXPECT_TRUE(graph.ok()) << graph.status().ToString();
  return std::move(graph).value();
}

// A zoo classifier with global pooling re-specialised at a smaller input, exported.
std::string ReducedZoo(const std::string& name, int64_t height, int64_t width) {
  const ZooModel* zm = FindZooModel(name);
  EXPECT_NE(zm, nullptr) << name;
  Graph g = zm->build(1).value();
  for (Value& v : g.mutable_values()) {
    if (v.is_constant()) continue;
    v.shape.clear();
    v.rank_known = false;
  }
  Value& in = g.mutable_value(g.inputs()[0]);
  in.dtype = DType::kFloat32;
  in.shape = {1, 3, height, width};
  in.rank_known = true;
  EXPECT_TRUE(Specialize(&g, {{in.name, {1, 3, height, width}}}).ok());
  return ExportOnnx(g).value();
}

std::vector<NamedTensor> LocalRun(const std::string& bytes, const std::vector<NamedTensor>& in) {
  SessionOptions options;
  options.threads = 1;
  options.mode = ExecutionMode::kLocal;
  auto session = Session::OpenFromBytes(bytes, ".", options);
  EXPECT_TRUE(session.ok()) << session.status().ToString();
  auto outs = (*session)->Run(in);
  EXPECT_TRUE(outs.ok()) << outs.status().ToString();
  return outs.ok() ? *outs : std::vector<NamedTensor>{};
}

void ExpectClose(const std::vector<NamedTensor>& got, const std::vector<NamedTensor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].tensor.shape(), want[i].tensor.shape());
    EXPECT_LE(RelativeL2(got[i].tensor, want[i].tensor), kTolerance) << got[i].name;
  }
}

server::ServerOptions EdgeOptions() {
  server::ServerOptions options;
  options.grpc_address = "127.0.0.1:0";
  options.http_address = "";
  options.threads = 1;
  options.allow_upload = true;
  return options;
}

// Peers, then a host listing them; the device reaches the host.
class CollabCluster {
 public:
  CollabCluster(int peers, const std::string& scheme, int peer_timeout_ms = 20000) {
    std::string list;
    for (int i = 0; i < peers; ++i) {
      peers_.push_back(std::make_unique<server::EdgeServer>());
      EXPECT_TRUE(peers_.back()->Start(EdgeOptions()).ok());
      if (i > 0) list.push_back(',');
      list.append("127.0.0.1:").append(std::to_string(peers_.back()->ports().grpc));
    }
    server::ServerOptions host = EdgeOptions();
    host.peers = list;
    host.peer_timeout_ms = peer_timeout_ms;
    host.collab_scheme = scheme;
    // Equal static speeds: these small models would otherwise run at the host alone, since
    // their layers take less time than a round trip (the planner's fallback).
    host.collab_speeds = "1";
    for (int i = 0; i < peers; ++i) host.collab_speeds += ",1";
    const Status started = host_.Start(host);
    EXPECT_TRUE(started.ok()) << started.ToString();
  }
  std::string host_address() const { return "127.0.0.1:" + std::to_string(host_.ports().grpc); }
  server::EdgeServer& peer(int i) { return *peers_[static_cast<size_t>(i)]; }

  // Runs `bytes` in collab mode through the host.
  std::vector<NamedTensor> Run(const std::string& bytes, const std::vector<NamedTensor>& in,
                               RunStats* stats, int deadline_ms = 0) {
    SessionOptions options;
    options.accelerator = host_address();
    options.mode = ExecutionMode::kCollab;
    options.deadline_ms = deadline_ms;
    auto session = Session::OpenFromBytes(bytes, ".", options);
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    if (!session.ok()) return {};
    EXPECT_EQ((*session)->mode(), ExecutionMode::kCollab);
    auto outs = (*session)->RunWithStats(in, stats);
    EXPECT_TRUE(outs.ok()) << outs.status().ToString();
    return outs.ok() ? *outs : std::vector<NamedTensor>{};
  }

 private:
  std::vector<std::unique_ptr<server::EdgeServer>> peers_;
  server::EdgeServer host_;
};

struct ModeCase {
  const char* scheme;
  int peers;
};

class CollabModeTest : public ::testing::TestWithParam<ModeCase> {};

TEST_P(CollabModeTest, SmallVggMatchesTheLocalRun) {
  const std::string bytes = ExportOnnx(SmallVgg(48)).value();
  const std::vector<NamedTensor> in = {{"x", Image({1, 3, 48, 20}, 3)}};
  CollabCluster cluster(GetParam().peers, GetParam().scheme);
  RunStats stats;
  ExpectClose(cluster.Run(bytes, in, &stats), LocalRun(bytes, in));
  EXPECT_EQ(stats.collab_servers, GetParam().peers + 1);
  EXPECT_FALSE(stats.deadline_missed);
}

INSTANTIATE_TEST_SUITE_P(Schemes, CollabModeTest,
                         ::testing::Values(ModeCase{"halp", 1}, ModeCase{"halp", 2},
                                           ModeCase{"modnn", 1}, ModeCase{"modnn", 2}),
                         [](const auto& info) {
                           return std::string(info.param.scheme) + "_" +
                                  std::to_string(info.param.peers) + "peers";
                         });

struct ZooCase {
  const char* model;
  const char* scheme;
  int peers;
};

class CollabZooTest : public ::testing::TestWithParam<ZooCase> {};

// Concat branches (SqueezeNet's fire modules) and residual blocks with depthwise convolutions
// (MobileNetV2) pass through the stages; 64 x 48 pixels keep it fast.
TEST_P(CollabZooTest, MatchesTheLocalRun) {
  const std::string bytes = ReducedZoo(GetParam().model, 64, 48);
  const std::vector<NamedTensor> in = {{"input", Image({1, 3, 64, 48}, 9)}};
  CollabCluster cluster(GetParam().peers, GetParam().scheme);
  RunStats stats;
  ExpectClose(cluster.Run(bytes, in, &stats), LocalRun(bytes, in));
  EXPECT_GE(stats.collab_servers, 2);
}

// Under AddressSanitizer only SqueezeNet: the time goes to building weights and compiling bands,
// not to the code under test, and CI is near its time budget.
#if defined(__SANITIZE_ADDRESS__)
const ZooCase kZooCases[] = {{"squeezenet1.1", "halp", 2}};
#else
const ZooCase kZooCases[] = {
    {"squeezenet1.1", "halp", 2}, {"mobilenetv2", "halp", 1}, {"mobilenetv2", "modnn", 2}};
#endif

INSTANTIATE_TEST_SUITE_P(Zoo, CollabZooTest, ::testing::ValuesIn(kZooCases), [](const auto& info) {
  std::string name = std::string(info.param.model) + "_" + info.param.scheme;
  for (char& c : name) {
    if (c == '.') c = '_';
  }
  return name;
});

TEST(CollabTest, APeerThatIsDownIsRecomputedByTheHost) {
  const std::string bytes = ExportOnnx(SmallVgg(48)).value();
  const std::vector<NamedTensor> in = {{"x", Image({1, 3, 48, 20}, 4)}};
  CollabCluster cluster(2, "halp");
  cluster.peer(1).Shutdown();
  RunStats stats;
  ExpectClose(cluster.Run(bytes, in, &stats), LocalRun(bytes, in));
  EXPECT_EQ(stats.collab_servers, 2);  // the host and the live peer
  // The dead peer is skipped from then on.
  ExpectClose(cluster.Run(bytes, in, &stats), LocalRun(bytes, in));
  EXPECT_EQ(stats.collab_servers, 2);
}

// A peer that stalls in the middle of a request (its second stage) on the host's FakeClock: the
// host computes that band itself once the peer timeout has passed on that clock, and the peer
// is down afterwards. Nothing waits on real time.
TEST(CollabTest, APeerThatStallsMidRequestIsRecomputedByTheHost) {
  const std::string bytes = ExportOnnx(SmallVgg(48)).value();
  const std::vector<NamedTensor> in = {{"x", Image({1, 3, 48, 20}, 5)}};
  server::EdgeServer peer;
  ASSERT_TRUE(peer.Start(EdgeOptions()).ok());
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool stalled = false, release = false;
  server::CollabOptions options;
  net::EdgeClientOptions client;
  client.address = "127.0.0.1:" + std::to_string(peer.ports().grpc);
  options.peers = {client};
  options.peer_timeout_ms = 1000;
  options.clock = &clock;
  options.probe_period_ms = 0;
  options.static_speeds = {1.0, 1.0};
  options.before_peer_call = [&](size_t peer_index, size_t stage) {
    if (peer_index != 1 || stage != 1) return;
    std::unique_lock<std::mutex> lock(mu);
    stalled = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  auto host = server::CollabHost::Create(options);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  server::ServedModelOptions model_options;
  model_options.threads = 1;
  auto model = server::ServedModel::Create("small_vgg", "1", bytes, "", model_options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::shared_ptr<const server::ServedModel> shared = std::move(model).value();
  Result<server::CollabResult> result = Status::Internal("not run");
  // With a deadline of 500 ms on the host's clock, which the stall moves past.
  std::thread run([&] { result = (*host)->Run(shared, in, {}, 500); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return stalled; });
  }
  clock.AdvanceMs(1001);
  run.join();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_GE(result->plan.stages.size(), 2u);
  ASSERT_FALSE(result->plan.stages[1].tasks.empty());
  EXPECT_EQ(result->peer_failures, 1);
  EXPECT_TRUE(result->deadline_missed);
  ExpectClose(result->outputs, LocalRun(bytes, in));
  EXPECT_EQ((*host)->pool().health(0), net::ServerHealth::kDown);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  // Down: the next request runs at the host alone, and is still right.
  Result<server::CollabResult> next = (*host)->Run(shared, in, {}, 500);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->servers, 1);
  EXPECT_FALSE(next->deadline_missed);  // the fake clock did not move
  ExpectClose(next->outputs, LocalRun(bytes, in));
  // After its backoff on the FakeClock a probe finds it live, and it gets work again.
  clock.AdvanceMs(3000);
  (*host)->pool().ProbeDue();
  EXPECT_EQ((*host)->pool().health(0), net::ServerHealth::kHealthy);
  Result<server::CollabResult> again = (*host)->Run(shared, in, {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->servers, 2);
}

TEST(CollabTest, BadPeerFlagsAreRefused) {
  {
    server::EdgeServer edge;
    server::ServerOptions options = EdgeOptions();
    options.peers = "127.0.0.1:1,,";
    const Status s = edge.Start(options);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("--peers"), std::string::npos) << s.ToString();
  }
  {
    server::EdgeServer edge;
    server::ServerOptions options = EdgeOptions();
    options.peers = "127.0.0.1:1";
    options.collab_scheme = "deepthings";
    const Status s = edge.Start(options);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("deepthings"), std::string::npos) << s.ToString();
  }
  for (const char* speeds : {"1", "1,0", "1,x"}) {  // one per server, each > 0
    server::EdgeServer edge;
    server::ServerOptions options = EdgeOptions();
    options.peers = "127.0.0.1:1";
    options.collab_speeds = speeds;
    const Status s = edge.Start(options);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << speeds;
    EXPECT_NE(s.message().find("--collab-speeds"), std::string::npos) << s.ToString();
  }
  // A host listing itself, under any name of this machine, on its own port.
  net::EdgeClientOptions self;
  for (const char* address : {"127.0.0.1:8101", "localhost:8101", "0.0.0.0:8101"}) {
    self.address = address;
    const Status s = server::CheckPeersAreNotSelf({self}, 8101);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << address;
    EXPECT_NE(s.message().find("itself"), std::string::npos) << s.ToString();
  }
  self.address = "127.0.0.1:8102";
  EXPECT_TRUE(server::CheckPeersAreNotSelf({self}, 8101).ok());
  self.address = "10.250.1.2:8101";  // the same port on another machine
  EXPECT_TRUE(server::CheckPeersAreNotSelf({self}, 8101, [](const std::string& host) {
                return Result<std::vector<std::string>>(std::vector<std::string>{host});
              }).ok());
}

// Started for real: a server whose --peers names its own port fails to start.
TEST(CollabTest, AServerListingItselfDoesNotStart) {
  server::EdgeServer probe;
  ASSERT_TRUE(probe.Start(EdgeOptions()).ok());
  const int port = probe.ports().grpc;
  probe.Shutdown();
  server::EdgeServer edge;
  server::ServerOptions options = EdgeOptions();
  options.grpc_address = "127.0.0.1:" + std::to_string(port);
  options.peers = "localhost:" + std::to_string(port);
  const Status s = edge.Start(options);
  // The port may have been taken meanwhile (UNAVAILABLE); it is never accepted.
  EXPECT_FALSE(s.ok());
  if (s.code() != StatusCode::kUnavailable) {
    EXPECT_NE(s.message().find("itself"), std::string::npos) << s.ToString();
  }
}

// The same request parameters over HTTP/REST (JSON "parameters" of the request and reply).
TEST(CollabTest, HttpRequestsAskForTheCollaborativeModeToo) {
  const std::string bytes = ExportOnnx(SmallVgg(32)).value();
  const Tensor x = Image({1, 3, 32, 20}, 8);
  TempDir repo;
  const std::filesystem::path dir = std::filesystem::path(repo.path()) / "small" / "1";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "model.onnx", std::ios::binary) << bytes;
  server::EdgeServer peer;
  ASSERT_TRUE(peer.Start(EdgeOptions()).ok());
  server::EdgeServer host;
  server::ServerOptions options = EdgeOptions();
  options.http_address = "127.0.0.1:0";
  options.repository = repo.path();
  options.peers = "127.0.0.1:" + std::to_string(peer.ports().grpc);
  options.collab_speeds = "1,1";
  ASSERT_TRUE(host.Start(options).ok());
  httplib::Client client("127.0.0.1", host.ports().http);
  nlohmann::json request = {
      {"parameters", {{net::kCollabParam, true}, {net::kDeadlineMsParam, 600000}}},
      {"inputs",
       {{{"name", "x"},
         {"datatype", "FP32"},
         {"shape", x.shape()},
         {"data", std::vector<float>(x.data<float>(), x.data<float>() + x.numel())}}}}};
  auto res = client.Post("/v2/models/small/infer", request.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  nlohmann::json reply = nlohmann::json::parse(res->body);
  EXPECT_EQ(reply["parameters"][net::kCollabServersParam], 2) << res->body;
  EXPECT_EQ(reply["parameters"][net::kDeadlineMissedParam], false) << res->body;
  const std::vector<NamedTensor> want = LocalRun(bytes, {{"x", x}});
  ASSERT_EQ(want.size(), 1u);
  const std::vector<float> data = reply["outputs"][0]["data"].get<std::vector<float>>();
  ASSERT_EQ(static_cast<int64_t>(data.size()), want[0].tensor.numel());
  EXPECT_LE(RelativeL2(Tensor::FromVector(data, want[0].tensor.shape()), want[0].tensor),
            kTolerance);
  request["parameters"][net::kDeadlineMsParam] = "soon";
  res = client.Post("/v2/models/small/infer", request.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_NE(res->body.find(net::kDeadlineMsParam), std::string::npos) << res->body;
}

planner::CollabModel Analysed(int64_t height, planner::CollabScheme scheme) {
  Graph g = SmallVgg(height);
  Result<planner::CollabModel> model = planner::AnalyseCollab(g, scheme);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

TEST(CollabPlanTest, StagesEndAtDownSamplingUnderHalpAndAtEveryLayerUnderModnn) {
  const planner::CollabModel halp = Analysed(96, planner::CollabScheme::kHalp);
  ASSERT_EQ(halp.stages.size(), 3u);
  EXPECT_EQ(halp.stages[0].out_height, 48);
  EXPECT_EQ(halp.stages[1].out_height, 24);
  EXPECT_EQ(halp.stages[2].out_height, 24);  // conv3, the end of the spatial front
  EXPECT_EQ(halp.stages[0].nodes, 5);        // conv, relu, conv, relu, pool
  const planner::CollabModel modnn = Analysed(96, planner::CollabScheme::kModnn);
  EXPECT_EQ(modnn.stages.size(), 11u);
  EXPECT_EQ(modnn.front, halp.front);
  // Row 10 of the first stage (two 3x3 convs and a 2x2 pool) needs input rows [18, 24).
  EXPECT_EQ(halp.stages[0].Needs({10, 11}), (RowRange{18, 24}));
}

TEST(CollabPlanTest, HeightsFollowTheServersSpeeds) {
  for (planner::CollabScheme scheme :
       {planner::CollabScheme::kModnn, planner::CollabScheme::kHalp}) {
    const planner::CollabModel model = Analysed(384, scheme);
    std::vector<planner::CollabServer> servers(3);
    servers[1].speed = 0.5;
    servers[2].speed = 0.25;
    for (size_t i = 1; i < 3; ++i) servers[i].bandwidth_mbit = 1e9;  // transfers cost nothing
    const planner::CollabPlan plan = planner::PlanCollab(model, servers, 100.0, scheme);
    EXPECT_EQ(plan.servers_used, 3);
    // HALP: the first block's 192 output rows; MoDNN: conv1_1's 384.
    const planner::StagePlan& first = plan.stages[0];
    const double h = static_cast<double>(model.stages[0].out_height);
    ASSERT_EQ(first.rows.size(), 3u);
    EXPECT_EQ(first.rows[0] + first.rows[1] + first.rows[2], model.stages[0].out_height);
    // 4 : 2 : 1, within the rows of the overlap zones the HALP host takes on and the boundary
    // quantum (h / 16 rows).
    const char* name = CollabSchemeName(scheme);
    const double slack = 4.0 + h / 16;
    EXPECT_NEAR(static_cast<double>(first.rows[0]), h * 4 / 7, slack) << name;
    EXPECT_NEAR(static_cast<double>(first.rows[1]), h * 2 / 7, slack) << name;
    EXPECT_NEAR(static_cast<double>(first.rows[2]), h / 7, slack) << name;
    EXPECT_LT(plan.predicted_ms, plan.host_alone_ms);
  }
}

TEST(CollabPlanTest, HostAloneWhenTheLinksAreTooSlowOrThePeersDown) {
  const planner::CollabModel model = Analysed(96, planner::CollabScheme::kHalp);
  std::vector<planner::CollabServer> servers(2);
  servers[1].bandwidth_mbit = 0.001;
  planner::CollabPlan plan =
      planner::PlanCollab(model, servers, 100.0, planner::CollabScheme::kHalp);
  EXPECT_EQ(plan.servers_used, 1);
  EXPECT_NEAR(plan.predicted_ms, plan.host_alone_ms, 1e-9 + plan.host_alone_ms * 1e-9);
  servers[1].bandwidth_mbit = 1e9;
  servers[1].usable = false;
  plan = planner::PlanCollab(model, servers, 100.0, planner::CollabScheme::kHalp);
  EXPECT_EQ(plan.servers_used, 1);
  // A model with two inputs has no stages; it runs whole at the host.
  zoo::GraphBuilder b("two", 1);
  ValueId x = b.Input("x", {1, 2, 8, 8});
  ValueId y = b.Input("z", {1, 2, 8, 8});
  b.Output(b.Add("add", x, y), "y");
  Graph g = b.Finish().value();
  Result<planner::CollabModel> two = planner::AnalyseCollab(g, planner::CollabScheme::kHalp);
  ASSERT_TRUE(two.ok());
  EXPECT_TRUE(two->stages.empty());
  EXPECT_NE(two->why_none.find("2 inputs"), std::string::npos) << two->why_none;
}

// The deadline travels to the host and back; a generous one is met. A request without
// --peers on the server runs whole there and says it used one server.
TEST(CollabTest, DeadlineParameterAndAServerWithoutPeers) {
  const std::string bytes = ExportOnnx(SmallVgg(32)).value();
  const std::vector<NamedTensor> in = {{"x", Image({1, 3, 32, 20}, 6)}};
  CollabCluster cluster(1, "halp");
  RunStats stats;
  ExpectClose(cluster.Run(bytes, in, &stats, /*deadline_ms=*/600000), LocalRun(bytes, in));
  EXPECT_FALSE(stats.deadline_missed);
  EXPECT_EQ(stats.collab_servers, 2);

  server::EdgeServer alone;
  ASSERT_TRUE(alone.Start(EdgeOptions()).ok());
  SessionOptions options;
  options.accelerator = "127.0.0.1:" + std::to_string(alone.ports().grpc);
  ASSERT_TRUE(options.SetMode("collab").ok());
  options.deadline_ms = 600000;
  auto session = Session::OpenFromBytes(bytes, ".", options);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  auto outs = (*session)->RunWithStats(in, &stats);
  ASSERT_TRUE(outs.ok()) << outs.status().ToString();
  ExpectClose(*outs, LocalRun(bytes, in));
  EXPECT_EQ(stats.collab_servers, 1);
  EXPECT_FALSE(stats.deadline_missed);
  EXPECT_EQ(ExecutionModeText(ExecutionMode::kCollab), "collab");

  options.deadline_ms = -1;
  EXPECT_EQ(Session::OpenFromBytes(bytes, ".", options).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeinfer::testing

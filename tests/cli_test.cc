// The edgeinfer command line, driven as a user would: real files, real process, exit codes.
// Bad input (truncated or corrupt model, unknown op, dangling tensor, wrong input shape) must
// give a clear message naming the problem and a non-zero exit, never a crash.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/cpu/openmp_env.h"
#include "core/file_io.h"
#include "core/npy.h"
#include "offload_util.h"
#include "onnx/onnx_io.h"
#include "oracle_util.h"

namespace edgeinfer::testing {
namespace {

Outcome RunCli(const std::string& args) { return Shell(std::string(EDGEINFER_CLI) + " " + args); }

// x[1,3,8,8] -> Conv(4, 3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> "y"[1,4]
Graph SmallModel() {
  Graph g;
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {1, 3, 8, 8});
  ValueId w = g.AddConstant("w", RandomTensor(DType::kFloat32, {4, 3, 3, 3}, 1));
  ValueId c = g.AddValue("c", DType::kFloat32, {1, 4, 8, 8});
  ValueId r = g.AddValue("r", DType::kFloat32, {1, 4, 8, 8});
  ValueId p = g.AddValue("p", DType::kFloat32, {1, 4, 1, 1});
  ValueId y = g.AddValue("y", DType::kFloat32, {1, 4});
  Attributes conv;
  conv.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.AddNode(OpKind::kConv, "conv", {x, w}, {c}, conv);
  g.AddNode(OpKind::kRelu, "relu", {c}, {r});
  g.AddNode(OpKind::kGlobalAveragePool, "gap", {r}, {p});
  g.AddNode(OpKind::kFlatten, "flat", {p}, {y});
  g.AddOutput(y);
  return g;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_.path() + "/small.onnx";
    ASSERT_TRUE(ExportOnnxFile(SmallModel(), model_).ok());
    auto bytes = ReadFileBytes(model_);
    ASSERT_TRUE(bytes.ok());
    bytes_ = *bytes;
  }
  // Writes `bytes_` with the first `from` replaced by `to` (same length keeps protobuf valid).
  std::string WriteEdited(const std::string& name, const std::string& from, const std::string& to) {
    std::string b = bytes_;
    size_t at = b.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) b.replace(at, from.size(), to);
    std::string path = dir_.path() + "/" + name;
    EXPECT_TRUE(WriteFileBytes(path, b).ok());
    return path;
  }

  TempDir dir_;
  std::string model_;
  std::string bytes_;
};

TEST_F(CliTest, RunPrintsOutputsAndLatency) {
  Outcome o = RunCli("run " + model_ + " --repeat 3 --threads 1");
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("y: float32[1, 4]"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("median"), std::string::npos) << o.output;
}

TEST_F(CliTest, JsonAndSaveOutputsMatchTheApi) {
  std::string out_dir = dir_.path() + "/outs";
  Outcome o = RunCli("run " + model_ + " --json --threads 1 --seed 3 --save-outputs " + out_dir);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["threads"], 1);
  EXPECT_GT(j["median_ms"].get<double>(), 0.0);
  EXPECT_LE(j["min_ms"].get<double>(), j["median_ms"].get<double>());
  // Load (session creation) and the first run are reported apart, as ort_run.js reports them.
  EXPECT_GT(j["load_ms"].get<double>(), 0.0);
  EXPECT_GT(j["first_run_ms"].get<double>(), 0.0);
  EXPECT_EQ(j["outputs"][0]["name"], "y");
  EXPECT_EQ(j["outputs"][0]["shape"], (std::vector<int64_t>{1, 4}));
  auto saved = ReadNpyFile(out_dir + "/y.npy");
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_EQ(saved->shape(), (Shape{1, 4}));
  // The saved tensor is the output for the given input: feed the same input through the API.
  std::string in = dir_.path() + "/x.npy";
  Tensor x = RandomTensor(DType::kFloat32, {1, 3, 8, 8}, 5);
  ASSERT_TRUE(WriteNpyFile(in, x).ok());
  Outcome o2 =
      RunCli("run " + model_ + " --threads 1 --input x=" + in + " --save-outputs " + out_dir);
  ASSERT_EQ(o2.exit_code, 0) << o2.output;
  auto session = Session::Open(model_);
  ASSERT_TRUE(session.ok());
  auto ref = (*session)->Run({{"x", x}});
  ASSERT_TRUE(ref.ok());
  auto saved2 = ReadNpyFile(out_dir + "/y.npy");
  ASSERT_TRUE(saved2.ok());
  EXPECT_LE(RelativeL2(*saved2, (*ref)[0].tensor), 1e-6);
}

// The OpenMP wait policy (backend/cpu/openmp_env.h): EDGEINFER_OMP_WAIT picks it, the process
// re-executes itself with libgomp's variables set, and `run --json` reports what it ran with;
// variables the user set win.
TEST_F(CliTest, OpenMpWaitPolicyIsChosenAndReported) {
  const std::string clean =
      "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u EDGEINFER_OMP_WAIT_APPLIED -u "
      "EDGEINFER_OMP_WAIT ";
  auto wait_of = [&](const std::string& env) -> std::string {
    Outcome o = Shell(clean + env + " " + EDGEINFER_CLI + " run " + model_ +
                      " --json --threads 2 --repeat 1");
    EXPECT_EQ(o.exit_code, 0) << o.output;
    auto j = nlohmann::json::parse(o.output, nullptr, false);
    if (j.is_discarded() || !j.contains("openmp_wait")) return "(no openmp_wait: " + o.output + ")";
    return j["openmp_wait"].get<std::string>();
  };
  EXPECT_EQ(wait_of("EDGEINFER_OMP_WAIT=passive"), "passive");
  EXPECT_EQ(wait_of("EDGEINFER_OMP_WAIT=spin"), "spin");
  EXPECT_EQ(wait_of("GOMP_SPINCOUNT=7"), "user (GOMP_SPINCOUNT=7)");
  EXPECT_EQ(wait_of("OMP_WAIT_POLICY=ACTIVE"), "user (OMP_WAIT_POLICY=ACTIVE)");
  // auto depends on what else runs on the machine now: either choice, never the libgomp default.
  const std::string chosen = wait_of("");
  EXPECT_TRUE(chosen == "spin" || chosen == "passive") << chosen;
  // An unknown value keeps the default (auto).
  const std::string bad = wait_of("EDGEINFER_OMP_WAIT=sometimes");
  EXPECT_TRUE(bad == "spin" || bad == "passive") << bad;

  OpenMpWait w = OpenMpWait::kAuto;
  EXPECT_TRUE(ParseOpenMpWait("spin", &w));
  EXPECT_EQ(w, OpenMpWait::kSpin);
  EXPECT_TRUE(ParseOpenMpWait("passive", &w));
  EXPECT_EQ(w, OpenMpWait::kPassive);
  EXPECT_FALSE(ParseOpenMpWait("Spin", &w));
  EXPECT_EQ(w, OpenMpWait::kPassive);
  EXPECT_GE(OtherRunnable(3, 1), 0.0);
}

TEST_F(CliTest, ProfilePrintsEveryStep) {
  Outcome o = RunCli("profile " + model_ + " --threads 1 --repeat 2 --json");
  ASSERT_EQ(o.exit_code, 0) << o.output;
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  ASSERT_GE(j["nodes"].size(), 1u);
  double flops = 0;
  for (const auto& n : j["nodes"]) flops += n["flops"].get<double>();
  // The conv alone: 2 * (4*8*8 outputs) * (3*3*3) = 13824.
  EXPECT_GE(flops, 13824.0);
  EXPECT_NE(o.output.find("Conv"), std::string::npos);
}

// The reference-kernel share: every step of the reference backend runs a reference kernel, and
// the conv model of this fixture has a oneDNN path for every step on the cpu backend.
TEST_F(CliTest, ProfileReportsReferenceShare) {
  for (const char* backend : {"reference", "cpu"}) {
    Outcome o = RunCli("profile " + model_ + " --threads 1 --repeat 1 --json --backend " + backend);
    ASSERT_EQ(o.exit_code, 0) << o.output;
    auto j = nlohmann::json::parse(o.output, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << o.output;
    const bool reference = std::string(backend) == "reference";
    double reference_ms = 0;
    for (const auto& n : j["nodes"]) {
      EXPECT_EQ(n["reference"].get<bool>(), reference) << backend << " " << n["op"];
      if (n["reference"].get<bool>()) reference_ms += n["median_ms"].get<double>();
    }
    EXPECT_DOUBLE_EQ(j["reference_ms"].get<double>(), reference_ms);
    EXPECT_DOUBLE_EQ(j["reference_share"].get<double>(), reference ? 1.0 : 0.0) << backend;
  }
  Outcome text = RunCli("profile " + model_ + " --threads 1 --repeat 1 --backend reference");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("reference kernels (ref):"), std::string::npos) << text.output;
}

// x[1,3,10,8] -> Conv(4, 3x3, pad 1) -> Relu -> Conv(4, 3x3, pad 1) "c2" -> GlobalAveragePool
// -> Flatten -> "y": a spatial front ending at "c2" (10 rows), whose band [b, e) reads input
// rows [b - 2, e + 2) (clamped to the image).
Graph TwoConvModel() {
  Graph g;
  g.opset = 13;
  ValueId x = g.AddInput("x", DType::kFloat32, {1, 3, 10, 8});
  auto inter = [&](const std::string& name) {
    ValueId v = g.AddValue(name, DType::kUndefined, {});
    g.mutable_value(v).rank_known = false;
    return v;
  };
  ValueId c1 = inter("c1"), r = inter("r"), c2 = inter("c2"), p = inter("p"), y = inter("y");
  Attributes conv;
  conv.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.AddNode(OpKind::kConv, "conv1",
            {x, g.AddConstant("w1", RandomTensor(DType::kFloat32, {4, 3, 3, 3}, 1))}, {c1}, conv);
  g.AddNode(OpKind::kRelu, "relu", {c1}, {r});
  g.AddNode(OpKind::kConv, "conv2",
            {r, g.AddConstant("w2", RandomTensor(DType::kFloat32, {4, 4, 3, 3}, 2))}, {c2}, conv);
  g.AddNode(OpKind::kGlobalAveragePool, "gap", {c2}, {p});
  Attributes flat;
  flat.Set("axis", int64_t{1});
  g.AddNode(OpKind::kFlatten, "flat", {p}, {y}, flat);
  g.AddOutput(y);
  return g;
}

// profile --bands: the bands cover the front's rows in order, nearly equal, each reading the
// input rows its receptive field needs; the middle bands compute a halo (extra FLOPs).
TEST_F(CliTest, ProfileBandsPrintsBandRows) {
  const std::string model = dir_.path() + "/twoconv.onnx";
  ASSERT_TRUE(ExportOnnxFile(TwoConvModel(), model).ok());
  for (const char* backend : {"reference", "cpu"}) {
    Outcome o = RunCli("profile " + model + " --bands 3 --threads 1 --repeat 1 --json --backend " +
                       backend);
    ASSERT_EQ(o.exit_code, 0) << o.output;
    auto j = nlohmann::json::parse(o.output, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << o.output;
    EXPECT_EQ(j["front"], nlohmann::json::array({"c2"}));
    EXPECT_EQ(j["front_height"].get<int64_t>(), 10);
    EXPECT_EQ(j["stop_node"], "gap");
    ASSERT_EQ(j["bands"].size(), 3u);
    int64_t next = 0;
    double flops = 0;
    for (const auto& band : j["bands"]) {
      const int64_t b = band["output_rows"][0].get<int64_t>();
      const int64_t e = band["output_rows"][1].get<int64_t>();
      EXPECT_EQ(b, next);
      EXPECT_GE(e - b, 3);
      EXPECT_LE(e - b, 4);
      next = e;
      const nlohmann::json want = {std::max<int64_t>(0, b - 2), std::min<int64_t>(10, e + 2)};
      EXPECT_EQ(band["input_rows"]["x"], want) << band.dump();
      EXPECT_GE(band["median_ms"].get<double>(), 0.0);
      flops += band["flops"].get<double>();
    }
    EXPECT_EQ(next, 10);
    // conv1 computes one halo row on each inner edge: 4 extra rows of conv1 and relu in all.
    EXPECT_GT(flops, j["whole_flops"].get<double>());
    EXPECT_GT(j["bands"][1]["halo_overhead"].get<double>(), 0.0);
  }
  Outcome text = RunCli("profile " + model + " --bands 2 --threads 1 --repeat 1");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("x[0, 7)"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("x[3, 10)"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("whole front"), std::string::npos) << text.output;
  // More bands than rows, and a model whose first node mixes rows: clear errors.
  Outcome many = RunCli("profile " + model + " --bands 11 --repeat 1");
  EXPECT_EQ(many.exit_code, 1);
  EXPECT_NE(many.output.find("has only 10 rows"), std::string::npos) << many.output;
  Graph flat;
  flat.opset = 13;
  ValueId x = flat.AddInput("x", DType::kFloat32, {1, 3, 4, 4});
  ValueId p = flat.AddValue("p", DType::kFloat32, {1, 3, 1, 1});
  flat.AddNode(OpKind::kGlobalAveragePool, "gap", {x}, {p});
  flat.AddOutput(p);
  const std::string flat_model = dir_.path() + "/gap.onnx";
  ASSERT_TRUE(ExportOnnxFile(flat, flat_model).ok());
  Outcome none = RunCli("profile " + flat_model + " --bands 2 --repeat 1");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.output.find("no band-able spatial front"), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("'gap'"), std::string::npos) << none.output;
}

// An image input gets the documented ImageNet preprocessing. A uniform colour survives resize
// and crop unchanged, so every pixel of channel c must be (v_c / 255 - mean_c) / std_c.
TEST_F(CliTest, ImageInputIsPreprocessed) {
  const unsigned char rgb[3] = {200, 100, 50};
  std::string ppm = "P6\n40 30\n255\n";
  for (int i = 0; i < 40 * 30; ++i) ppm.append(reinterpret_cast<const char*>(rgb), 3);
  std::string image = dir_.path() + "/flat.ppm";
  ASSERT_TRUE(WriteFileBytes(image, ppm).ok());
  std::string saved = dir_.path() + "/in";
  Outcome o = RunCli("run " + model_ + " --repeat 1 --input " + image + " --save-inputs " + saved);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  auto x = ReadNpyFile(saved + "/x.npy");
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  ASSERT_EQ(x->shape(), (Shape{1, 3, 8, 8}));
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
  for (int c = 0; c < 3; ++c) {
    const float expected = (rgb[c] / 255.0f - mean[c]) / stdev[c];
    for (int i = 0; i < 64; ++i) EXPECT_NEAR(x->data<float>()[c * 64 + i], expected, 1e-5) << c;
  }
  Outcome bad = RunCli("run " + model_ + " --input " + dir_.path() + "/missing.png");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("missing.png"), std::string::npos) << bad.output;
}

TEST_F(CliTest, TruncatedModelIsAClearError) {
  std::string path = dir_.path() + "/truncated.onnx";
  ASSERT_TRUE(WriteFileBytes(path, bytes_.substr(0, bytes_.size() / 2)).ok());
  Outcome o = RunCli("run " + path);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("truncated.onnx"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("DATA_LOSS"), std::string::npos) << o.output;
}

TEST_F(CliTest, GarbageFileIsAClearError) {
  std::string path = dir_.path() + "/garbage.onnx";
  std::string junk(4096, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 2654435761u) >> 13);
  ASSERT_TRUE(WriteFileBytes(path, junk).ok());
  Outcome o = RunCli("run " + path);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("garbage.onnx"), std::string::npos) << o.output;
}

TEST_F(CliTest, MissingFileIsAClearError) {
  Outcome o = RunCli("run " + dir_.path() + "/nope.onnx");
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("nope.onnx"), std::string::npos) << o.output;
}

// Regression: a directory given as the model used to abort with std::bad_alloc.
TEST_F(CliTest, DirectoryIsAClearError) {
  Outcome o = RunCli("run " + dir_.path());
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("is a directory"), std::string::npos) << o.output;
}

TEST_F(CliTest, UnknownOpNamesOpNodeAndOpset) {
  std::string path = WriteEdited("unknown_op.onnx", "Relu", "Rexu");
  Outcome o = RunCli("run " + path);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("Rexu"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("relu"), std::string::npos) << o.output;  // the node name
  EXPECT_NE(o.output.find("13"), std::string::npos) << o.output;    // the opset
}

TEST_F(CliTest, DanglingTensorIsNamed) {
  // The Relu node's input "c" renamed to "q": no node produces "q".
  std::string b = bytes_;
  size_t relu = b.find("relu");
  ASSERT_NE(relu, std::string::npos);
  // In NodeProto the input names precede the node name; edit the last "c" field before it.
  size_t c = b.rfind(std::string("\x0a\x01"
                                 "c",
                                 3),
                     relu);
  ASSERT_NE(c, std::string::npos);
  b[c + 2] = 'q';
  std::string path = dir_.path() + "/dangling.onnx";
  ASSERT_TRUE(WriteFileBytes(path, b).ok());
  Outcome o = RunCli("run " + path);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("'q'"), std::string::npos) << o.output;
}

TEST_F(CliTest, WrongInputShapeNamesTheInput) {
  std::string in = dir_.path() + "/bad.npy";
  ASSERT_TRUE(WriteNpyFile(in, Tensor::Zeros(DType::kFloat32, {1, 3, 9, 8})).ok());
  Outcome o = RunCli("run " + model_ + " --input x=" + in);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("'x'"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("[1, 3, 9, 8]"), std::string::npos) << o.output;
}

TEST_F(CliTest, UnknownInputNameAndBadFlagsAreUsageErrors) {
  Outcome o = RunCli("run " + model_ + " --input nope=" + model_);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("nope"), std::string::npos) << o.output;
  EXPECT_EQ(RunCli("run " + model_ + " --threads many").exit_code, 2);
  EXPECT_EQ(RunCli("run " + model_ + " --frobnicate").exit_code, 2);
  EXPECT_EQ(RunCli("run").exit_code, 2);
  EXPECT_EQ(RunCli("frobnicate").exit_code, 2);
}

// plan --edge: the server profile comes from a live edge server (the model uploaded to it).
class CliPlanEdgeTest : public CliTest {
 protected:
  static void SetUpTestSuite() { server_.Start(EDGEINFER_CLI, {"--workers", "1"}); }
  static void TearDownTestSuite() { server_.Stop(); }
  static SharedEdgeServer server_;
};

SharedEdgeServer CliPlanEdgeTest::server_;

TEST_F(CliPlanEdgeTest, PlanTakesTheServerProfileFromTheEdge) {
  ASSERT_NE(server_.get(), nullptr) << server_.error();
  const std::string common =
      "plan " + model_ + " --bandwidth 20mbit --rtt 1ms --repeat 2 --no-cache";
  Outcome o = RunCli(common + " --edge " + server_->endpoint() + " --json");
  ASSERT_EQ(o.exit_code, 0) << o.output << server_->Log();
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["server_profile"], "edge " + server_->grpc_address());
  EXPECT_TRUE(j["conditions"]["server_speedup"].is_null());
  const int nodes = j["nodes"].get<int>();
  ASSERT_GE(nodes, 1);
  ASSERT_EQ(j["cuts"].size(), static_cast<size_t>(nodes + 1));
  for (const auto& cut : j["cuts"]) {
    for (const char* key : {"total_ms", "device_ms", "server_ms", "upload_ms", "download_ms"}) {
      const double v = cut[key].get<double>();
      EXPECT_TRUE(std::isfinite(v) && v >= 0.0) << key << " " << cut.dump();
    }
  }
  // All-remote runs every node on the server, whose profile is positive.
  EXPECT_GT(j["cuts"][0]["server_ms"].get<double>(), 0.0);
  EXPECT_TRUE(std::isfinite(j["auto"]["total_ms"].get<double>()));

  // The table's header says where the server profile came from (the model is on the server
  // now, so this run does not upload it again).
  Outcome text = RunCli(common + " --edge " + server_->grpc_address());
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("server profiled by edge " + server_->grpc_address()),
            std::string::npos)
      << text.output;
}

// The collaborative mode end to end as a user runs it: a peer process, a host process listing
// it (static equal speeds, so that this small model is shared), `run --mode collab` through the
// host matching the local run, a server listing itself refused, and `plan --collab`.
TEST_F(CliTest, CollabModeThroughAHostAndAPeer) {
  TempDir peer_repo, host_repo;
  auto peer = EdgeServerProcess::Start(EDGEINFER_CLI, peer_repo.path(),
                                       {"--workers", "1", "--threads", "1"});
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  auto host = EdgeServerProcess::Start(
      EDGEINFER_CLI, host_repo.path(),
      {"--threads", "1", "--peers", (*peer)->grpc_address(), "--collab-speeds", "1,1"});
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  const std::string local_dir = dir_.path() + "/local", collab_dir = dir_.path() + "/collab";
  Outcome local =
      RunCli("run " + model_ + " --threads 1 --seed 4 --repeat 1 --save-outputs " + local_dir);
  ASSERT_EQ(local.exit_code, 0) << local.output;
  Outcome o = RunCli("run " + model_ + " --seed 4 --repeat 2 --json --mode collab --deadline-ms " +
                     "600000 --edge " + (*host)->endpoint() + " --save-outputs " + collab_dir);
  ASSERT_EQ(o.exit_code, 0) << o.output << (*host)->Log();
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["mode"], "collab");
  EXPECT_EQ(j["collab_servers"].get<double>(), 2.0) << o.output;
  EXPECT_EQ(j["deadline_missed"].get<int>(), 0);
  auto want = ReadNpyFile(local_dir + "/y.npy");
  auto got = ReadNpyFile(collab_dir + "/y.npy");
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_LE(RelativeL2(*got, *want), 1e-5);

  const std::string port = std::to_string(ClosedPort());
  Outcome self =
      RunCli("serve --grpc 127.0.0.1:" + port + " --http none --peers localhost:" + port);
  EXPECT_EQ(self.exit_code, 1) << self.output;
  EXPECT_NE(self.output.find("itself"), std::string::npos) << self.output;
  Outcome unused = RunCli("serve --collab-scheme modnn");
  EXPECT_EQ(unused.exit_code, 2) << unused.output;

  Outcome plan = RunCli("plan " + model_ + " --collab 1,0.5 --json");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  auto p = nlohmann::json::parse(plan.output, nullptr, false);
  ASSERT_FALSE(p.is_discarded()) << plan.output;
  ASSERT_EQ(p["stages"].size(), 1u) << plan.output;  // conv and relu, then global pooling
  EXPECT_EQ(p["stages"][0]["out_height"], 8);
  EXPECT_EQ(p["stages"][0]["heights"].size(), 2u);
  Outcome text = RunCli("plan " + model_ + " --collab 1,1,1 --collab-scheme modnn");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("stage 1"), std::string::npos) << text.output;
  EXPECT_EQ(RunCli("plan " + model_ + " --collab 1,0").exit_code, 2);
}

TEST_F(CliTest, PlanEdgeUnreachableNamesTheAddress) {
  const std::string address = "127.0.0.1:" + std::to_string(ClosedPort());
  Outcome o = RunCli("plan " + model_ + " --bandwidth 20mbit --repeat 1 --no-cache --edge " +
                     address + " --timeout-ms 5000");
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("edgeinfer plan: " + model_), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("edge server " + address), std::string::npos) << o.output;
}

TEST_F(CliTest, PlanEdgeFlagsAreUsageErrors) {
  const std::string plan = "plan " + model_ + " --bandwidth 20mbit --repeat 1 --no-cache";
  Outcome both = RunCli(plan + " --edge 127.0.0.1:1 --server-speedup 4");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_NE(both.output.find("--server-speedup"), std::string::npos) << both.output;
  Outcome scheme = RunCli(plan + " --edge http://127.0.0.1:1");
  EXPECT_EQ(scheme.exit_code, 2) << scheme.output;
  EXPECT_NE(scheme.output.find("http://127.0.0.1:1"), std::string::npos) << scheme.output;
  EXPECT_EQ(RunCli(plan + " --token secret").exit_code, 2);
}

TEST(SessionApiTest, MissingAndExtraInputsAreErrors) {
  TempDir dir;
  std::string model = dir.path() + "/m.onnx";
  ASSERT_TRUE(ExportOnnxFile(SmallModel(), model).ok());
  auto session = Session::Open(model);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  auto missing = (*session)->Run({});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing input 'x'"), std::string::npos);
  Tensor x = Tensor::Zeros(DType::kFloat32, {1, 3, 8, 8});
  auto extra = (*session)->Run({{"x", x}, {"z", x}});
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.status().message().find("'z'"), std::string::npos);
  auto dtype = (*session)->Run({{"x", Tensor::Zeros(DType::kInt64, {1, 3, 8, 8})}});
  ASSERT_FALSE(dtype.ok());
  EXPECT_NE(dtype.status().message().find("int64"), std::string::npos);
}

}  // namespace
}  // namespace edgeinfer::testing

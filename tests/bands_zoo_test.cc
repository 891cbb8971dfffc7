// Zoo fronts in row bands (issue 14): the spatial front of the zoo CNNs, at a reduced input
// resolution, cut into 2, 3 and 4 row bands of unequal and equal heights; each band (the input
// rows its row map needs, with their offset) is sent as a band request to an in-process edge
// server (runtime/band_target.h's RemoteBandTarget through EdgeClient), and the stitched bands
// match the whole front run locally (relative L2 <= 1e-5). The full-resolution run of the same
// check is scripts/bands-check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backend/band.h"
#include "backend/registry.h"
#include "band_util.h"
#include "ir/rows.h"
#include "onnx/onnx_io.h"
#include "ops/passes.h"
#include "oracle_util.h"
#include "runtime/band_target.h"
#include "server/server.h"
#include "zoo/zoo.h"

namespace edgeinfer::testing {
namespace {

// The spatial front of a zoo model re-specialised at an input of `height` x `width` pixels: the
// classifier heads do not fit another resolution, but the conv/pool front does. Bands cut rows,
// so a narrow input keeps the test fast without making the bands any simpler.
struct Front {
  Graph graph;
  std::string input;
  std::vector<std::string> outputs;
  int64_t height = 0;  // of the front's outputs (all equal)
};

Front ReducedFront(const std::string& model, int64_t height, int64_t width) {
  Front f;
  const ZooModel* zm = FindZooModel(model);
  EXPECT_NE(zm, nullptr) << model;
  if (zm == nullptr) return f;
  Result<Graph> g = zm->build(1);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return f;
  Result<SpatialFront> front = FindSpatialFront(*g);
  EXPECT_TRUE(front.ok()) << front.status().ToString();
  if (!front.ok()) return f;
  EXPECT_FALSE(front->values.empty()) << model << ": " << front->stop_reason;
  f.input = g->value(g->inputs()[0]).name;
  f.outputs = front->values;
  Result<Graph> slice = g->Slice({f.input}, f.outputs);
  EXPECT_TRUE(slice.ok()) << slice.status().ToString();
  if (!slice.ok()) return f;
  f.graph = std::move(*slice);
  // Forget every inner shape, then infer them again at the reduced input.
  for (Value& v : f.graph.mutable_values()) {
    if (v.is_constant()) continue;
    v.shape.clear();
    v.rank_known = false;
  }
  Value& in = f.graph.mutable_value(f.graph.inputs()[0]);
  in.dtype = DType::kFloat32;
  in.shape = {1, 3, height, width};
  in.rank_known = true;
  const Status s = Specialize(&f.graph, {{f.input, {1, 3, height, width}}});
  EXPECT_TRUE(s.ok()) << model << ": " << s.ToString();
  f.height = f.graph.value(f.graph.FindValue(f.outputs[0])).shape[2];
  for (const std::string& o : f.outputs) {
    EXPECT_EQ(f.graph.value(f.graph.FindValue(o)).shape[2], f.height) << model << " " << o;
  }
  return f;
}

struct ZooCase {
  const char* model;
  int64_t height;  // input rows: the front's output has at least 4
  int64_t width;
};

// Total strides: 32 for the classifiers and YOLOv2-tiny, 8 for OpenPose.
// VGG-16 is left to scripts/bands-check (full resolution): building its 138 M weights and
// compiling each band of its 15 M-weight front takes about 13 s here, over the few seconds a
// ctest case may take. Under AddressSanitizer only the light fronts run, for the same reason
// (the time goes to building weights and compiling, not to the code under test).
#if defined(__SANITIZE_ADDRESS__)
const ZooCase kCases[] = {{"resnet18", 128, 32}, {"googlenet", 128, 32}, {"mobilenetv2", 128, 32}};
#else
const ZooCase kCases[] = {{"resnet18", 128, 32},    {"resnet50", 128, 32},
                          {"googlenet", 128, 32},   {"mobilenetv2", 128, 32},
                          {"yolov2-tiny", 128, 32}, {"openpose", 32, 16}};
#endif

class BandsZooTest : public ::testing::TestWithParam<ZooCase> {};

// One edge server for the whole test program (uploads allowed, one kernel thread), and a client.
net::EdgeClient* BandServerClient() {
  static net::EdgeClient* client = [] {
    static TempDir repository;
    static server::EdgeServer edge;
    server::ServerOptions options;
    options.grpc_address = "127.0.0.1:0";
    options.http_address = "";
    options.repository = repository.path();
    options.threads = 1;
    options.workers = 1;
    options.allow_upload = true;
    const Status started = edge.Start(options);
    EXPECT_TRUE(started.ok()) << started.ToString();
    net::EdgeClientOptions copts;
    copts.address = "127.0.0.1:" + std::to_string(edge.ports().grpc);
    copts.timeout_ms = 600000;  // full-resolution fronts under scripts/bands-check
    Result<std::unique_ptr<net::EdgeClient>> c = net::EdgeClient::Connect(copts);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c->release() : nullptr;
  }();
  return client;
}

// Cuts the front `f` into 2, 3 and 4 bands, runs each, stitches, and checks the stitched
// outputs against the whole front's (relative L2 <= 1e-5). Prints one line per band count.
void CheckBands(const std::string& label, const Front& f, uint64_t seed) {
  const Shape in_shape = f.graph.value(f.graph.inputs()[0]).shape;
  const Tensor x = RandomTensor(DType::kFloat32, in_shape, seed);
  CompileOptions one_thread;
  one_thread.threads = 1;
  BandRunner local(f.graph, FindBackend("cpu"), one_thread);
  Result<BandResult> whole = local.Run({{f.input, x, 0}}, {});
  ASSERT_TRUE(whole.ok()) << label << ": " << whole.status().ToString();
  // The bands run on the server: the front uploaded as a model of its own.
  net::EdgeClient* client = BandServerClient();
  ASSERT_NE(client, nullptr);
  Result<std::string> bytes = ExportOnnx(f.graph);
  ASSERT_TRUE(bytes.ok()) << label << ": " << bytes.status().ToString();
  Result<std::string> name = client->EnsureModel(*bytes);
  ASSERT_TRUE(name.ok()) << label << ": " << name.status().ToString();
  Result<std::unique_ptr<BandTarget>> remote = RemoteBandTarget(f.graph, client, *name);
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  for (int n : {2, 3, 4}) {
    // 2 and 3 bands of unequal heights (one-row bands, then the rest), 4 of equal heights
    // (SplitRows). The pattern lets bands share compilations: a band's compilation is keyed by
    // its pads, crops and heights, and compiling the VGG-16 front takes about a second.
    std::vector<RowRange> parts;
    if (n == 4) {
      Result<std::vector<RowRange>> even = SplitRows(f.height, std::vector<double>(4, 1.0));
      ASSERT_TRUE(even.ok());
      parts = *even;
    } else {
      for (int64_t r = 0; r + 1 < n; ++r) parts.push_back({r, r + 1});
      parts.push_back({n - 1, f.height});
    }
    std::map<std::string, std::vector<std::pair<int64_t, Tensor>>> bands;
    std::string rows;
    for (const RowRange& part : parts) {
      std::map<std::string, RowRange> wanted;
      for (const std::string& o : f.outputs) wanted[o] = part;
      Result<RowMap> map = MapRows(f.graph, wanted);
      ASSERT_TRUE(map.ok()) << label << ": " << map.status().ToString();
      const RowRange need = map->values[static_cast<size_t>(f.graph.inputs()[0])].rows;
      rows += " " + part.ToString() + "<-" + need.ToString();
      Result<BandRun> run = (*remote)->Run({{f.input, RowsOf(x, need), need.begin}}, wanted);
      ASSERT_TRUE(run.ok()) << label << " band " << part.ToString() << ": "
                            << run.status().ToString();
      ASSERT_EQ(run->outputs.size(), f.outputs.size());
      for (size_t i = 0; i < f.outputs.size(); ++i) {
        EXPECT_EQ(run->outputs[i].offset, part.begin);
        bands[f.outputs[i]].push_back({run->outputs[i].offset, run->outputs[i].tensor});
      }
    }
    double worst = 0.0;
    for (size_t i = 0; i < f.outputs.size(); ++i) {
      const Tensor stitched = StitchRows(bands[f.outputs[i]], f.height);
      const double err = RelativeL2(stitched, whole->outputs[i].tensor);
      worst = std::max(worst, err);
      EXPECT_LE(err, 1e-5) << label << " " << f.outputs[i] << ", " << n << " bands";
    }
    std::printf("BANDS %s input %s front %s (%lld rows) bands=%d rel_l2=%.3g rows:%s\n",
                label.c_str(), ShapeToString(in_shape).c_str(), f.outputs[0].c_str(),
                static_cast<long long>(f.height), n, worst, rows.c_str());
  }
}

TEST_P(BandsZooTest, StitchedBandsMatchTheWholeFront) {
  const ZooCase c = GetParam();
  Front f = ReducedFront(c.model, c.height, c.width);
  ASSERT_GE(f.height, 4) << c.model;
  CheckBands(c.model, f, 11);
}

// The front of a whole specialised graph (no re-specialisation).
Front FrontOf(const Graph& g, const std::string& label) {
  Front f;
  Result<SpatialFront> front = FindSpatialFront(g);
  EXPECT_TRUE(front.ok()) << label << ": " << front.status().ToString();
  if (!front.ok() || front->values.empty()) return f;
  f.input = g.value(g.inputs()[0]).name;
  f.outputs = front->values;
  Result<Graph> slice = g.Slice({f.input}, f.outputs);
  EXPECT_TRUE(slice.ok()) << label << ": " << slice.status().ToString();
  if (!slice.ok()) return f;
  f.graph = std::move(*slice);
  f.height = f.graph.value(f.graph.FindValue(f.outputs[0])).shape[2];
  return f;
}

// scripts/bands-check: the same at full resolution, for every zoo model
// (EDGEINFER_BANDS_FULL=1, or a comma-separated list of zoo names) and for the ONNX files listed in
// EDGEINFER_BANDS_ONNX (comma-separated, e.g. torchvision exports). Skipped when neither is set:
// too slow for ctest.
TEST(BandsFullResolution, ZooAndOnnxFiles) {
  const char* full = std::getenv("EDGEINFER_BANDS_FULL");
  const char* files = std::getenv("EDGEINFER_BANDS_ONNX");
  if (full == nullptr && files == nullptr) GTEST_SKIP() << "run by scripts/bands-check";
  if (full != nullptr) {
    const std::string only = full;  // "1": every model, else a comma-separated list of names
    for (const ZooModel& m : ZooModels()) {
      if (only != "1" && ("," + only + ",").find("," + m.name + ",") == std::string::npos) {
        continue;
      }
      Result<Graph> g = m.build(1);
      ASSERT_TRUE(g.ok()) << m.name << ": " << g.status().ToString();
      const Front f = FrontOf(*g, m.name);
      if (f.height < 4) {
        std::printf("BANDS %s: front too short for 4 bands (%lld rows)\n", m.name.c_str(),
                    static_cast<long long>(f.height));
        continue;
      }
      CheckBands(m.name, f, 11);
    }
  }
  std::string list = files == nullptr ? "" : files;
  size_t at = 0;
  while (at < list.size()) {
    size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    const std::string path = list.substr(at, comma - at);
    at = comma + 1;
    if (path.empty()) continue;
    Result<Graph> g = ImportOnnxFile(path);
    ASSERT_TRUE(g.ok()) << path << ": " << g.status().ToString();
    std::map<std::string, Shape> shapes;
    const Value& in = g->value(g->inputs()[0]);
    shapes[in.name] = in.shape;
    for (int64_t& d : shapes[in.name]) {
      if (d < 0) d = 1;  // a dynamic batch
    }
    const Status s = Specialize(&*g, shapes);
    ASSERT_TRUE(s.ok()) << path << ": " << s.ToString();
    const Front f = FrontOf(*g, path);
    if (f.height < 4) {
      Result<SpatialFront> front = FindSpatialFront(*g);
      std::printf("BANDS %s: no front of 4 rows or more (%lld rows; stopped by '%s': %s)\n",
                  path.c_str(), static_cast<long long>(f.height),
                  front.ok() ? front->stop_node.c_str() : "?",
                  front.ok() ? front->stop_reason.c_str() : front.status().ToString().c_str());
      continue;
    }
    CheckBands(path, f, 11);
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, BandsZooTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ZooCase>& info) {
                           std::string name = info.param.model;
                           for (char& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace edgeinfer::testing

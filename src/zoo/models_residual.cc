// ResNet-18/50 (torchvision v1.5: stride on the 3x3 conv) and MobileNetV2, with torchvision's
// layer names.
#include <string>

#include "zoo/builder.h"
#include "zoo/models.h"

namespace edgeinfer::zoo {

namespace {

// The last batch norm of a residual branch scales it down so that the sum with the skip path
// grows slowly over 16 blocks instead of doubling each time.
constexpr double kResidualGain = 0.5;

std::string Index(const std::string& prefix, int i) { return prefix + "." + std::to_string(i); }

ValueId ConvBn(GraphBuilder& b, const std::string& conv, const std::string& bn, ValueId x,
               const ConvOptions& options, double bn_gain = 1.0) {
  ConvOptions o = options;
  o.bias = false;
  return b.BatchNorm(bn, b.Conv(conv, x, o), 1e-5, bn_gain);
}

// The skip path of a block whose shape changes: 1x1 conv (stride) and batch norm.
ValueId Downsample(GraphBuilder& b, const std::string& block, ValueId x, int64_t out,
                   int64_t stride) {
  return ConvBn(b, block + ".downsample.0", block + ".downsample.1", x,
                {.out_channels = out, .stride = stride});
}

ValueId BasicBlock(GraphBuilder& b, const std::string& n, ValueId x, int64_t planes,
                   int64_t stride) {
  ValueId identity = x;
  if (stride != 1 || b.channels(x) != planes) identity = Downsample(b, n, x, planes, stride);
  ValueId y = b.Relu(n + ".relu1",
                     ConvBn(b, n + ".conv1", n + ".bn1", x,
                            {.out_channels = planes, .kernel = 3, .stride = stride, .pad = 1}));
  y = ConvBn(b, n + ".conv2", n + ".bn2", y, {.out_channels = planes, .kernel = 3, .pad = 1},
             kResidualGain);
  return b.Relu(n + ".relu2", b.Add(n + ".add", y, identity));
}

ValueId Bottleneck(GraphBuilder& b, const std::string& n, ValueId x, int64_t planes,
                   int64_t stride) {
  const int64_t out = planes * 4;
  ValueId identity = x;
  if (stride != 1 || b.channels(x) != out) identity = Downsample(b, n, x, out, stride);
  ValueId y =
      b.Relu(n + ".relu1", ConvBn(b, n + ".conv1", n + ".bn1", x, {.out_channels = planes}));
  y = b.Relu(n + ".relu2",
             ConvBn(b, n + ".conv2", n + ".bn2", y,
                    {.out_channels = planes, .kernel = 3, .stride = stride, .pad = 1}));
  y = ConvBn(b, n + ".conv3", n + ".bn3", y, {.out_channels = out}, kResidualGain);
  return b.Relu(n + ".relu3", b.Add(n + ".add", y, identity));
}

using BlockFn = ValueId (*)(GraphBuilder&, const std::string&, ValueId, int64_t, int64_t);

Result<Graph> BuildResNet(const char* name, uint64_t seed, BlockFn block, const int (&depths)[4]) {
  GraphBuilder b(name, seed);
  ValueId x = b.Input("input", {1, 3, 224, 224});
  x = b.Relu("relu", ConvBn(b, "conv1", "bn1", x,
                            {.out_channels = 64, .kernel = 7, .stride = 2, .pad = 3}));
  x = b.MaxPool("maxpool", x, {.kernel = 3, .stride = 2, .pads = {1, 1, 1, 1}});
  for (int layer = 0; layer < 4; ++layer) {
    const int64_t planes = int64_t{64} << layer;
    for (int i = 0; i < depths[layer]; ++i) {
      const int64_t stride = (layer > 0 && i == 0) ? 2 : 1;
      x = block(b, Index("layer" + std::to_string(layer + 1), i), x, planes, stride);
    }
  }
  x = b.GlobalAveragePool("avgpool", x);
  x = b.Flatten("flatten", x);
  b.Output(b.Linear("fc", x, 1000), "output");
  return b.Finish();
}

}  // namespace

Result<Graph> BuildResNet18(uint64_t seed) {
  return BuildResNet("resnet18", seed, BasicBlock, {2, 2, 2, 2});
}

Result<Graph> BuildResNet50(uint64_t seed) {
  return BuildResNet("resnet50", seed, Bottleneck, {3, 4, 6, 3});
}

namespace {

// torchvision's Conv2dNormActivation with ReLU6: "<n>.0" conv, "<n>.1" batch norm, "<n>.2".
ValueId ConvBnRelu6(GraphBuilder& b, const std::string& n, ValueId x, const ConvOptions& o) {
  return b.Relu6(n + ".2", ConvBn(b, n + ".0", n + ".1", x, o));
}

ValueId InvertedResidual(GraphBuilder& b, const std::string& n, ValueId x, int64_t out,
                         int64_t stride, int64_t expand) {
  const int64_t in = b.channels(x);
  const int64_t hidden = in * expand;
  const std::string c = n + ".conv";
  int i = 0;
  ValueId y = x;
  if (expand != 1) y = ConvBnRelu6(b, Index(c, i++), y, {.out_channels = hidden});
  y = ConvBnRelu6(
      b, Index(c, i++), y,
      {.out_channels = hidden, .kernel = 3, .stride = stride, .pad = 1, .group = hidden});
  const bool residual = stride == 1 && in == out;
  y = ConvBn(b, Index(c, i), Index(c, i + 1), y, {.out_channels = out},
             residual ? kResidualGain : 1.0);
  return residual ? b.Add(n + ".add", x, y) : y;
}

}  // namespace

Result<Graph> BuildMobileNetV2(uint64_t seed) {
  GraphBuilder b("mobilenetv2", seed);
  ValueId x = b.Input("input", {1, 3, 224, 224});
  x = ConvBnRelu6(b, "features.0", x, {.out_channels = 32, .kernel = 3, .stride = 2, .pad = 1});
  struct Stage {
    int64_t expand, channels, repeats, stride;
  };
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int index = 1;
  for (const Stage& s : stages) {
    for (int64_t r = 0; r < s.repeats; ++r) {
      x = InvertedResidual(b, Index("features", index++), x, s.channels, r == 0 ? s.stride : 1,
                           s.expand);
    }
  }
  x = ConvBnRelu6(b, Index("features", index), x, {.out_channels = 1280});
  x = b.GlobalAveragePool("avgpool", x);
  x = b.Flatten("flatten", x);
  b.Output(b.Linear("classifier.1", x, 1000), "output");
  return b.Finish();
}

}  // namespace edgeinfer::zoo

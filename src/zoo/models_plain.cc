// VGG-16, AlexNet, SqueezeNet 1.1 and GoogLeNet as in torchvision (layer names included).
#include <string>
#include <vector>

#include "zoo/builder.h"
#include "zoo/models.h"

namespace edgeinfer::zoo {

namespace {

std::string Index(const std::string& prefix, int i) { return prefix + "." + std::to_string(i); }

// torchvision's VGG head without the dropouts (identity at inference): Linear(0), ReLU(1),
// Linear(3), ReLU(4), Linear(6).
ValueId VggClassifier(GraphBuilder& b, ValueId x) {
  x = b.Relu("classifier.1", b.Linear("classifier.0", x, 4096, kGainRelu));
  x = b.Relu("classifier.4", b.Linear("classifier.3", x, 4096, kGainRelu));
  return b.Linear("classifier.6", x, 1000);
}

}  // namespace

Result<Graph> BuildVgg16(uint64_t seed) {
  GraphBuilder b("vgg16", seed);
  ValueId x = b.Input("input", {1, 3, 224, 224});
  // Five blocks of 3x3 convs (each with a ReLU), each block ending in a 2x2 max pool.
  const std::vector<std::vector<int64_t>> blocks = {
      {64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};
  int i = 0;
  for (const std::vector<int64_t>& block : blocks) {
    for (int64_t c : block) {
      x = b.Conv(Index("features", i), x, {.out_channels = c, .kernel = 3, .pad = 1});
      x = b.Relu(Index("features", i + 1), x);
      i += 2;
    }
    x = b.MaxPool(Index("features", i++), x, {.kernel = 2, .stride = 2});
  }
  // At 224x224 the features are already 7x7, so the adaptive average pool is the identity.
  x = b.Flatten("flatten", x);
  b.Output(VggClassifier(b, x), "output");
  return b.Finish();
}

Result<Graph> BuildAlexNet(uint64_t seed) {
  GraphBuilder b("alexnet", seed);
  ValueId x = b.Input("input", {1, 3, 224, 224});
  const PoolOptions pool = {.kernel = 3, .stride = 2};
  x = b.Relu("features.1",
             b.Conv("features.0", x, {.out_channels = 64, .kernel = 11, .stride = 4, .pad = 2}));
  x = b.MaxPool("features.2", x, pool);
  x = b.Relu("features.4", b.Conv("features.3", x, {.out_channels = 192, .kernel = 5, .pad = 2}));
  x = b.MaxPool("features.5", x, pool);
  x = b.Relu("features.7", b.Conv("features.6", x, {.out_channels = 384, .kernel = 3, .pad = 1}));
  x = b.Relu("features.9", b.Conv("features.8", x, {.out_channels = 256, .kernel = 3, .pad = 1}));
  x = b.Relu("features.11", b.Conv("features.10", x, {.out_channels = 256, .kernel = 3, .pad = 1}));
  x = b.MaxPool("features.12", x, pool);
  // 6x6 at 224x224: the adaptive average pool is the identity.
  x = b.Flatten("flatten", x);
  // torchvision's AlexNet head is Dropout, Linear(1), ReLU, Dropout, Linear(4), ReLU, Linear(6).
  x = b.Relu("classifier.2", b.Linear("classifier.1", x, 4096, kGainRelu));
  x = b.Relu("classifier.5", b.Linear("classifier.4", x, 4096, kGainRelu));
  b.Output(b.Linear("classifier.6", x, 1000), "output");
  return b.Finish();
}

namespace {

ValueId Fire(GraphBuilder& b, const std::string& name, ValueId x, int64_t squeeze, int64_t expand) {
  x = b.Relu(name + ".squeeze_activation", b.Conv(name + ".squeeze", x, {.out_channels = squeeze}));
  ValueId e1 = b.Relu(name + ".expand1x1_activation",
                      b.Conv(name + ".expand1x1", x, {.out_channels = expand}));
  ValueId e3 =
      b.Relu(name + ".expand3x3_activation",
             b.Conv(name + ".expand3x3", x, {.out_channels = expand, .kernel = 3, .pad = 1}));
  return b.Concat(name + ".concat", {e1, e3});
}

}  // namespace

Result<Graph> BuildSqueezeNet11(uint64_t seed) {
  GraphBuilder b("squeezenet1.1", seed);
  ValueId x = b.Input("input", {1, 3, 224, 224});
  const PoolOptions pool = {.kernel = 3, .stride = 2, .ceil_mode = true};
  x = b.Relu("features.1", b.Conv("features.0", x, {.out_channels = 64, .kernel = 3, .stride = 2}));
  x = b.MaxPool("features.2", x, pool);
  x = Fire(b, "features.3", x, 16, 64);
  x = Fire(b, "features.4", x, 16, 64);
  x = b.MaxPool("features.5", x, pool);
  x = Fire(b, "features.6", x, 32, 128);
  x = Fire(b, "features.7", x, 32, 128);
  x = b.MaxPool("features.8", x, pool);
  x = Fire(b, "features.9", x, 48, 192);
  x = Fire(b, "features.10", x, 48, 192);
  x = Fire(b, "features.11", x, 64, 256);
  x = Fire(b, "features.12", x, 64, 256);
  x = b.Relu("classifier.2", b.Conv("classifier.1", x, {.out_channels = 1000}));
  x = b.GlobalAveragePool("classifier.3", x);
  b.Output(b.Flatten("flatten", x), "output");
  return b.Finish();
}

namespace {

// torchvision's BasicConv2d: bias-free conv, batch norm (eps 1e-3), ReLU.
ValueId BasicConv(GraphBuilder& b, const std::string& name, ValueId x, int64_t out, int64_t kernel,
                  int64_t stride = 1, int64_t pad = 0) {
  x = b.Conv(name + ".conv", x,
             {.out_channels = out, .kernel = kernel, .stride = stride, .pad = pad, .bias = false});
  x = b.BatchNorm(name + ".bn", x, 1e-3);
  return b.Relu(name + ".relu", x);
}

struct InceptionSpec {
  int64_t ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj;
};

// torchvision's Inception block; its "5x5" branch uses a 3x3 kernel, kept for the same count.
ValueId Inception(GraphBuilder& b, const std::string& name, ValueId x, const InceptionSpec& s) {
  ValueId b1 = BasicConv(b, name + ".branch1", x, s.ch1x1, 1);
  ValueId b2 = BasicConv(b, name + ".branch2.0", x, s.ch3x3red, 1);
  b2 = BasicConv(b, name + ".branch2.1", b2, s.ch3x3, 3, 1, 1);
  ValueId b3 = BasicConv(b, name + ".branch3.0", x, s.ch5x5red, 1);
  b3 = BasicConv(b, name + ".branch3.1", b3, s.ch5x5, 3, 1, 1);
  ValueId b4 = b.MaxPool(name + ".branch4.0", x,
                         {.kernel = 3, .stride = 1, .pads = {1, 1, 1, 1}, .ceil_mode = true});
  b4 = BasicConv(b, name + ".branch4.1", b4, s.pool_proj, 1);
  return b.Concat(name + ".concat", {b1, b2, b3, b4});
}

}  // namespace

Result<Graph> BuildGoogLeNet(uint64_t seed) {
  GraphBuilder b("googlenet", seed);
  ValueId x = b.Input("input", {1, 3, 224, 224});
  const PoolOptions pool = {.kernel = 3, .stride = 2, .ceil_mode = true};
  x = BasicConv(b, "conv1", x, 64, 7, 2, 3);
  x = b.MaxPool("maxpool1", x, pool);
  x = BasicConv(b, "conv2", x, 64, 1);
  x = BasicConv(b, "conv3", x, 192, 3, 1, 1);
  x = b.MaxPool("maxpool2", x, pool);
  x = Inception(b, "inception3a", x, {64, 96, 128, 16, 32, 32});
  x = Inception(b, "inception3b", x, {128, 128, 192, 32, 96, 64});
  x = b.MaxPool("maxpool3", x, pool);
  x = Inception(b, "inception4a", x, {192, 96, 208, 16, 48, 64});
  x = Inception(b, "inception4b", x, {160, 112, 224, 24, 64, 64});
  x = Inception(b, "inception4c", x, {128, 128, 256, 24, 64, 64});
  x = Inception(b, "inception4d", x, {112, 144, 288, 32, 64, 64});
  x = Inception(b, "inception4e", x, {256, 160, 320, 32, 128, 128});
  x = b.MaxPool("maxpool4", x, {.kernel = 2, .stride = 2, .ceil_mode = true});
  x = Inception(b, "inception5a", x, {256, 160, 320, 32, 128, 128});
  x = Inception(b, "inception5b", x, {384, 192, 384, 48, 128, 128});
  x = b.GlobalAveragePool("avgpool", x);
  x = b.Flatten("flatten", x);
  b.Output(b.Linear("fc", x, 1000), "output");
  return b.Finish();
}

}  // namespace edgeinfer::zoo

#include "zoo/zoo.h"

#include "zoo/builder.h"
#include "zoo/models.h"

namespace edgeinfer {

const std::vector<ZooModel>& ZooModels() {
  static const std::vector<ZooModel> kModels = {
      {"alexnet",
       "AlexNet (torchvision variant, one tower)",
       {1, 3, 224, 224},
       61100840,
       zoo::BuildAlexNet},
      {"vgg16", "VGG-16 without batch norm", {1, 3, 224, 224}, 138357544, zoo::BuildVgg16},
      {"resnet18", "ResNet-18 (basic blocks)", {1, 3, 224, 224}, 11689512, zoo::BuildResNet18},
      {"resnet50",
       "ResNet-50 v1.5 (bottlenecks, stride on the 3x3 conv)",
       {1, 3, 224, 224},
       25557032,
       zoo::BuildResNet50},
      {"mobilenetv2",
       "MobileNetV2 1.0 (inverted residuals, depthwise convs, ReLU6)",
       {1, 3, 224, 224},
       3504872,
       zoo::BuildMobileNetV2},
      {"squeezenet1.1",
       "SqueezeNet 1.1 (fire modules, ceil-mode pools)",
       {1, 3, 224, 224},
       1235496,
       zoo::BuildSqueezeNet11},
      {"googlenet",
       "GoogLeNet / Inception v1 with batch norm, no auxiliary heads",
       {1, 3, 224, 224},
       6624904,
       zoo::BuildGoogLeNet},
      {"yolov2-tiny",
       "YOLOv2-tiny VOC detector (darknet), output [1,125,13,13]",
       {1, 3, 416, 416},
       15861773,
       zoo::BuildYoloV2Tiny},
      {"openpose",
       "OpenPose COCO body pose, 6 stages, outputs paf [1,38,46,46], heatmap [1,19,46,46]",
       {1, 3, 368, 368},
       52311446,
       zoo::BuildOpenPose},
  };
  return kModels;
}

const ZooModel* FindZooModel(const std::string& name) {
  for (const ZooModel& m : ZooModels()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

int64_t CountParameters(const Graph& graph) {
  // Constants may be shared between nodes; count each once.
  std::vector<bool> counted(graph.values().size(), false);
  int64_t total = 0;
  auto count = [&](const Node& node, size_t input) {
    ValueId id = node.input(input);
    if (id < 0 || counted[static_cast<size_t>(id)]) return;
    const Value& v = graph.value(id);
    if (!v.is_constant()) return;
    counted[static_cast<size_t>(id)] = true;
    total += v.constant.numel();
  };
  for (const Node& node : graph.nodes()) {
    if (node.removed) continue;
    switch (node.op) {
      case OpKind::kConv:
      case OpKind::kConvTranspose:
      case OpKind::kGemm:
      case OpKind::kBatchNormalization:
        count(node, 1);
        count(node, 2);
        break;
      case OpKind::kPRelu:
        count(node, 1);
        break;
      default:
        break;
    }
  }
  return total;
}

Result<Graph> WideInputModel() {
  zoo::GraphBuilder b("wide_input", 1);
  ValueId x = b.Input("x", {1, 3, 128, 128});
  zoo::ConvOptions conv;
  conv.out_channels = 4;
  conv.kernel = 3;
  ValueId c = b.Conv("conv", x, conv);
  ValueId y = b.Flatten("flat", b.GlobalAveragePool("gap", c));
  b.Output(y, "y");
  return b.Finish();
}

}  // namespace edgeinfer

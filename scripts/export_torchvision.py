#!/usr/bin/python3
"""Exports torchvision classification models to ONNX with torch.onnx.export (opset 13 unless
--opset N is given: at 13 LayerNorm is written decomposed into ReduceMean, Sub, Pow, Sqrt, Div
and GELU as Erf, the forms older exporters emit; at 17 LayerNorm is one LayerNormalization).

Used to check edgeinfer on real exporter output (see docs/conformance.md). Needs Debian's
python3-torchvision (apt-get install python3-torchvision). Pretrained weights cannot be
downloaded here, and torchvision's own random initialisation leaves some models with dead
activations (GoogLeNet's output is then just the classifier bias), which would make an output
comparison trivially pass. So weights are re-drawn with a fixed seed: variance-preserving
convolutions and linear layers, and batch norms with non-trivial statistics.

usage: /usr/bin/python3 scripts/export_torchvision.py [--opset N] OUT_DIR [name ...]
"""
import os
import sys

import torch
import torchvision.models as tvm

# name -> (constructor, input size)
MODELS = {
    "alexnet": (tvm.alexnet, 224),
    "vgg16": (tvm.vgg16, 224),
    "resnet18": (tvm.resnet18, 224),
    "resnet50": (tvm.resnet50, 224),
    "resnext50_32x4d": (tvm.resnext50_32x4d, 224),
    "mobilenet_v2": (tvm.mobilenet_v2, 224),
    "mobilenet_v3_small": (tvm.mobilenet_v3_small, 224),
    "mobilenet_v3_large": (tvm.mobilenet_v3_large, 224),
    "squeezenet1_1": (tvm.squeezenet1_1, 224),
    "googlenet": (lambda: tvm.googlenet(aux_logits=False, init_weights=True), 224),
    "inception_v3": (lambda: tvm.inception_v3(aux_logits=False, init_weights=True), 299),
    "densenet121": (tvm.densenet121, 224),
    "efficientnet_b0": (tvm.efficientnet_b0, 224),
    "shufflenet_v2_x1_0": (tvm.shufflenet_v2_x1_0, 224),
    "regnet_y_400mf": (tvm.regnet_y_400mf, 224),
    "mnasnet1_0": (tvm.mnasnet1_0, 224),
    # The newer families: LayerNorm and GELU (torchvision >= 0.13).
    "convnext_tiny": (tvm.convnext_tiny, 224),
    "swin_t": (tvm.swin_t, 224),
    "vit_b_16": (tvm.vit_b_16, 224),
}


def reinitialise(model):
    """Variance-preserving random weights so activations stay O(1) through the network."""
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                torch.nn.init.uniform_(m.bias, -0.1, 0.1)
        elif isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.bias, -0.1, 0.1)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)


def main():
    args = sys.argv[1:]
    opset = 13
    if len(args) >= 2 and args[0] == "--opset":
        opset = int(args[1])
        args = args[2:]
    if not args:
        sys.exit(__doc__)
    out_dir = args[0]
    names = args[1:] or list(MODELS)
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        ctor, size = MODELS[name]
        torch.manual_seed(0)
        model = ctor().eval()
        with torch.no_grad():
            reinitialise(model)
        x = torch.randn(1, 3, size, size)
        path = os.path.join(out_dir, name + ".onnx")
        torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"],
                          output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        print("wrote", path)


if __name__ == "__main__":
    main()

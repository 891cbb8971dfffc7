#!/usr/bin/python3
"""Exports torchvision classification models to ONNX (opset 13) with torch.onnx.export.

Used to check edgeinfer on real exporter output (see docs/conformance.md). Needs Debian's
python3-torchvision (apt-get install python3-torchvision); weights are torchvision's random
initialisation with a fixed seed, since nothing can be downloaded here.

usage: /usr/bin/python3 scripts/export_torchvision.py OUT_DIR [name ...]
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
}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        ctor, size = MODELS[name]
        torch.manual_seed(0)
        model = ctor().eval()
        x = torch.randn(1, 3, size, size)
        path = os.path.join(out_dir, name + ".onnx")
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"],
                          output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        print("wrote", path)


if __name__ == "__main__":
    main()

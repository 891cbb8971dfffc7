#include "inputs.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

#include "core/npy.h"

namespace edgeinfer::tools {

const char kImagePreprocessingHelp[] =
    "Images (.jpg, .png, .bmp, .ppm) get the usual ImageNet preprocessing: decoded to RGB,\n"
    "resized (bilinear) so the shorter side is H*256/224 (256 for a 224x224 input), centre\n"
    "cropped to the model's HxW, scaled to [0,1], normalised with mean (0.485, 0.456, 0.406)\n"
    "and std (0.229, 0.224, 0.225), and laid out as NCHW float32 [1, 3, H, W].\n";

namespace {

bool HasSuffix(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.rbegin(), suffix.rend(), s.rbegin(),
                    [](char a, char b) { return std::tolower(a) == std::tolower(b); });
}

bool IsImagePath(const std::string& p) {
  for (const char* ext : {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm"}) {
    if (HasSuffix(p, ext)) return true;
  }
  return false;
}

Tensor RandomTensor(DType dtype, Shape shape, uint64_t seed) {
  for (int64_t& d : shape) d = d < 0 ? 1 : d;
  std::mt19937_64 rng(seed);
  Tensor t = Tensor::Empty(dtype, shape);
  const int64_t n = t.numel();
  // Uniform [0,1) from the top 24 bits: identical on every standard library.
  auto uniform = [&] { return static_cast<float>(rng() >> 40) / 16777216.0f; };
  switch (dtype) {
    case DType::kFloat32:
      for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = uniform();
      break;
    case DType::kInt64:
      for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = static_cast<int64_t>(rng() % 10);
      break;
    case DType::kInt32:
      for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = static_cast<int32_t>(rng() % 10);
      break;
    default: {
      auto f = Tensor::Empty(DType::kFloat32, shape);
      for (int64_t i = 0; i < n; ++i) f.data<float>()[i] = uniform();
      auto cast = f.CastTo(dtype);
      if (cast.ok()) t = *cast;
    }
  }
  return t;
}

}  // namespace

Result<Tensor> LoadImageTensor(const std::string& path, const Shape& shape) {
  if (shape.size() != 4 || (shape[1] >= 0 && shape[1] != 3)) {
    return Status::InvalidArgument("image input needs a model input of shape [N, 3, H, W], got " +
                                   ShapeToString(shape));
  }
  const int64_t out_h = shape[2] > 0 ? shape[2] : 224;
  const int64_t out_w = shape[3] > 0 ? shape[3] : 224;
  int w = 0, h = 0, c = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(stbi_load(path.c_str(), &w, &h, &c, 3),
                                                         stbi_image_free);
  if (!pixels) {
    return Status::InvalidArgument("cannot decode image '" + path + "': " + stbi_failure_reason());
  }
  // Resize so the shorter side is out*256/224, then centre crop out_h x out_w.
  const double target_short =
      std::round(static_cast<double>(std::min(out_h, out_w)) * 256.0 / 224.0);
  const double scale = target_short / std::min(w, h);
  const int64_t rw = std::max<int64_t>(out_w, std::lround(w * scale));
  const int64_t rh = std::max<int64_t>(out_h, std::lround(h * scale));
  const int64_t top = (rh - out_h) / 2, left = (rw - out_w) / 2;
  const float mean[3] = {0.485f, 0.456f, 0.406f};
  const float stdev[3] = {0.229f, 0.224f, 0.225f};
  Tensor t = Tensor::Empty(DType::kFloat32, {1, 3, out_h, out_w});
  float* dst = t.data<float>();
  const unsigned char* src = pixels.get();
  for (int64_t y = 0; y < out_h; ++y) {
    // Bilinear sample at the centre of resized pixel (y + top, x + left), half-pixel mapping.
    double sy = (static_cast<double>(y + top) + 0.5) * h / rh - 0.5;
    sy = std::clamp(sy, 0.0, static_cast<double>(h - 1));
    int y0 = static_cast<int>(sy), y1 = std::min(y0 + 1, h - 1);
    double fy = sy - y0;
    for (int64_t x = 0; x < out_w; ++x) {
      double sx = (static_cast<double>(x + left) + 0.5) * w / rw - 0.5;
      sx = std::clamp(sx, 0.0, static_cast<double>(w - 1));
      int x0 = static_cast<int>(sx), x1 = std::min(x0 + 1, w - 1);
      double fx = sx - x0;
      for (int ch = 0; ch < 3; ++ch) {
        auto px = [&](int yy, int xx) { return src[(static_cast<size_t>(yy) * w + xx) * 3 + ch]; };
        double v = (1 - fy) * ((1 - fx) * px(y0, x0) + fx * px(y0, x1)) +
                   fy * ((1 - fx) * px(y1, x0) + fx * px(y1, x1));
        dst[(ch * out_h + y) * out_w + x] = (static_cast<float>(v / 255.0) - mean[ch]) / stdev[ch];
      }
    }
  }
  return t;
}

Result<std::vector<NamedTensor>> BuildInputs(const std::vector<TensorInfo>& model_inputs,
                                             const std::vector<std::string>& specs, uint64_t seed) {
  std::vector<Tensor> given(model_inputs.size());
  for (const std::string& spec : specs) {
    std::string name, path = spec;
    size_t eq = spec.find('=');
    if (eq != std::string::npos) {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    }
    size_t index = model_inputs.size();
    for (size_t i = 0; i < model_inputs.size(); ++i) {
      if (name.empty() ? given[i].empty() : model_inputs[i].name == name) {
        index = i;
        break;
      }
    }
    if (index == model_inputs.size()) {
      if (!name.empty())
        return Status::InvalidArgument("--input " + spec + ": model has no input '" + name + "'");
      return Status::InvalidArgument("--input " + spec + ": every model input is already given");
    }
    Result<Tensor> t =
        IsImagePath(path) ? LoadImageTensor(path, model_inputs[index].shape) : ReadNpyFile(path);
    if (!t.ok()) return t.status().WithContext("--input " + spec);
    given[index] = std::move(t).value();
  }
  std::vector<NamedTensor> inputs;
  for (size_t i = 0; i < model_inputs.size(); ++i) {
    if (given[i].empty()) {
      given[i] = RandomTensor(model_inputs[i].dtype, model_inputs[i].shape, seed + i);
    }
    inputs.push_back({model_inputs[i].name, std::move(given[i])});
  }
  return inputs;
}

}  // namespace edgeinfer::tools

// classify: open a model, run it on a seeded random input, print the top-5 classes and latency.
//
// This program contains no offloading code. Run it with EDGEINFER_ACCELERATOR=grpc://HOST:PORT
// (and optionally EDGEINFER_MODE=split:CUT) and the same calls run on an edge server.
//
//   usage: example_classify MODEL.onnx [SEED]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "edgeinfer/session.h"

namespace {

// Uniform [0, 1) floats from a 64-bit linear congruential generator: the same on every platform.
void FillRandom(float* data, int64_t n, uint64_t seed) {
  uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (int64_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    data[i] = static_cast<float>(state >> 40) / static_cast<float>(1 << 24);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s MODEL.onnx [SEED]\n", argv[0]);
    return 2;
  }
  const uint64_t seed = argc == 3 ? std::strtoull(argv[2], nullptr, 10) : 0;
  auto session = edgeinfer::Session::Open(argv[1]);
  if (!session.ok()) {
    std::fprintf(stderr, "%s: %s\n", argv[1], session.status().ToString().c_str());
    return 1;
  }
  std::vector<edgeinfer::NamedTensor> inputs;
  for (const edgeinfer::TensorInfo& info : (*session)->inputs()) {
    if (info.dtype != edgeinfer::DType::kFloat32) {
      std::fprintf(stderr, "input '%s' is not float32\n", info.name.c_str());
      return 1;
    }
    edgeinfer::Shape shape = info.shape;
    for (int64_t& d : shape) d = d < 0 ? 1 : d;  // dynamic dims (batch) become 1
    edgeinfer::Tensor t = edgeinfer::Tensor::Empty(edgeinfer::DType::kFloat32, shape);
    FillRandom(t.data<float>(), t.numel(), seed + inputs.size());
    inputs.push_back({info.name, t});
  }
  const auto start = std::chrono::steady_clock::now();
  auto outputs = (*session)->Run(inputs);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!outputs.ok()) {
    std::fprintf(stderr, "run: %s\n", outputs.status().ToString().c_str());
    return 1;
  }
  const edgeinfer::Tensor& scores = outputs->front().tensor;
  if (scores.dtype() != edgeinfer::DType::kFloat32 || scores.numel() == 0) {
    std::fprintf(stderr, "output '%s' is not a float32 score vector\n",
                 outputs->front().name.c_str());
    return 1;
  }
  std::vector<int64_t> order(static_cast<size_t>(scores.numel()));
  std::iota(order.begin(), order.end(), 0);
  const float* s = scores.data<float>();
  const size_t k = std::min<size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<int64_t>(k), order.end(),
                    [s](int64_t a, int64_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  std::printf("top-%zu of '%s':\n", k, outputs->front().name.c_str());
  for (size_t i = 0; i < k; ++i) {
    std::printf("  class %5lld  score %.4f\n", static_cast<long long>(order[i]), s[order[i]]);
  }
  std::printf("latency %.3f ms\n", ms);
  return 0;
}

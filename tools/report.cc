#include "report.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace edgeinfer::tools {

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

nlohmann::json SummarizeOutput(const NamedTensor& out) {
  nlohmann::json j;
  j["name"] = out.name;
  j["dtype"] = DTypeName(out.tensor.dtype());
  j["shape"] = out.tensor.shape();
  auto as_float = out.tensor.CastTo(DType::kFloat32);
  if (!as_float.ok() || out.tensor.numel() == 0) return j;
  const float* p = as_float->data<float>();
  const int64_t n = as_float->numel();
  double sum = 0.0;
  float lo = p[0], hi = p[0];
  for (int64_t i = 0; i < n; ++i) {
    sum += p[i];
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
  }
  j["min"] = lo;
  j["max"] = hi;
  j["mean"] = sum / static_cast<double>(n);
  const Shape& s = out.tensor.shape();
  bool classifier = (s.size() == 2 && s[0] == 1 && s[1] >= 5) ||
                    (s.size() == 4 && s[0] == 1 && s[1] >= 5 && s[2] == 1 && s[3] == 1);
  if (classifier) {
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(),
                      [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    nlohmann::json top = nlohmann::json::array();
    for (int k = 0; k < 5; ++k) top.push_back({{"class", idx[k]}, {"score", p[idx[k]]}});
    j["top5"] = top;
  }
  return j;
}

std::string FormatSummary(const nlohmann::json& j) {
  std::string s = "  " + j["name"].get<std::string>() + ": " + j["dtype"].get<std::string>() +
                  ShapeToString(j["shape"].get<Shape>());
  char buf[256];
  if (j.contains("min")) {
    std::snprintf(buf, sizeof buf, "  min %.5g  max %.5g  mean %.5g", j["min"].get<double>(),
                  j["max"].get<double>(), j["mean"].get<double>());
    s += buf;
  }
  s += "\n";
  if (j.contains("top5")) {
    s += "    top-5:";
    for (const auto& e : j["top5"]) {
      std::snprintf(buf, sizeof buf, "  #%lld (%.4g)",
                    static_cast<long long>(e["class"].get<int64_t>()), e["score"].get<double>());
      s += buf;
    }
    s += "\n";
  }
  return s;
}

}  // namespace edgeinfer::tools

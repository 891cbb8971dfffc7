#include "oracle_util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "core/npy.h"
#include "onnx/onnx_io.h"

namespace edgeinfer::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "edgeinfer_test_XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  path_ = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

namespace {

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

Result<std::vector<NamedTensor>> RunOnnxRuntime(const std::string& model_path,
                                                const std::vector<NamedTensor>& inputs,
                                                const std::string& work_dir) {
  std::string script = std::string(EDGEINFER_SOURCE_DIR) + "/tests/oracle/ort_run.js";
  std::string cmd = "node " + ShellQuote(script) + " --model " + ShellQuote(model_path) +
                    " --out " + ShellQuote(work_dir) + " --threads 1";
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string file = work_dir + "/in" + std::to_string(i) + ".npy";
    EI_RETURN_IF_ERROR(WriteNpyFile(file, inputs[i].tensor));
    cmd += " --input " + ShellQuote(inputs[i].name + "=" + file);
  }
  Outcome run = Shell(cmd);
  if (run.exit_code != 0) return Status::Internal("ONNX Runtime failed: " + run.output);
  const std::string& text = run.output;
  nlohmann::json report = nlohmann::json::parse(text, nullptr, false);
  if (report.is_discarded()) return Status::Internal("bad ort_run output: " + text);
  std::vector<NamedTensor> outs;
  for (const auto& o : report["outputs"]) {
    EI_ASSIGN_OR_RETURN(Tensor t, ReadNpyFile(o["file"].get<std::string>()));
    outs.push_back({o["name"].get<std::string>(), std::move(t)});
  }
  return outs;
}

double RelativeL2(const Tensor& out, const Tensor& ref) {
  if (out.shape() != ref.shape()) return INFINITY;
  auto a = out.CastTo(DType::kFloat32);
  auto b = ref.CastTo(DType::kFloat32);
  if (!a.ok() || !b.ok()) return INFINITY;
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < a->numel(); ++i) {
    double x = a->data<float>()[i], y = b->data<float>()[i];
    if (!std::isfinite(x) || !std::isfinite(y)) {
      if (x == y) continue;  // identical infinities (e.g. Log(0)) agree
      return INFINITY;
    }
    num += (x - y) * (x - y);
    den += y * y;
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

Tensor RandomTensor(DType dtype, const Shape& shape, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  Tensor f = Tensor::Empty(DType::kFloat32, shape);
  for (int64_t i = 0; i < f.numel(); ++i) {
    float u = static_cast<float>(rng() >> 40) / 16777216.0f;
    f.data<float>()[i] = lo + (hi - lo) * u;
  }
  if (dtype == DType::kFloat32) return f;
  auto c = f.CastTo(dtype);
  return c.ok() ? *c : f;
}

Result<double> CompareWithOnnxRuntime(const Graph& graph, const std::vector<NamedTensor>& inputs,
                                      const std::string& work_dir, const std::string& name,
                                      std::string* detail) {
  std::string dir = work_dir + "/" + name;
  std::filesystem::create_directories(dir);
  std::string model = dir + "/model.onnx";
  EI_RETURN_IF_ERROR(ExportOnnxFile(graph, model));
  SessionOptions options;
  options.threads = 1;
  EI_ASSIGN_OR_RETURN(auto session, Session::Open(model, options));
  EI_ASSIGN_OR_RETURN(auto ours, session->Run(inputs));
  EI_ASSIGN_OR_RETURN(auto theirs, RunOnnxRuntime(model, inputs, dir));
  if (ours.size() != theirs.size()) {
    return Status::Internal("output count differs: edgeinfer " + std::to_string(ours.size()) +
                            ", onnxruntime " + std::to_string(theirs.size()));
  }
  double worst = 0.0;
  for (size_t i = 0; i < ours.size(); ++i) {
    double e = RelativeL2(ours[i].tensor, theirs[i].tensor);
    worst = std::max(worst, e);
    if (detail) {
      *detail += ours[i].name + ": edgeinfer " + ours[i].tensor.Describe() + " vs onnxruntime " +
                 theirs[i].tensor.Describe() + ", rel L2 " + std::to_string(e) + "\n";
    }
  }
  return worst;
}

}  // namespace edgeinfer::testing

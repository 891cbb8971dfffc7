// Test helpers that compare edgeinfer against ONNX Runtime, the independent oracle.
//
// ONNX Runtime runs in a Node.js child process (tests/oracle/ort_run.js, onnxruntime-node from
// npm, installed by scripts/setup). Models and tensors travel as files in a temp directory.
#ifndef EDGEINFER_TESTS_ORACLE_UTIL_H_
#define EDGEINFER_TESTS_ORACLE_UTIL_H_

#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "ir/graph.h"
#include "shell_util.h"

namespace edgeinfer::testing {

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `model_path` in ONNX Runtime (1 intra-op thread, all graph optimisations) on `inputs`
// and returns its outputs in model order.
Result<std::vector<NamedTensor>> RunOnnxRuntime(const std::string& model_path,
                                                const std::vector<NamedTensor>& inputs,
                                                const std::string& work_dir);

// ||out - ref||_2 / ||ref||_2 over float32 tensors (with a tiny floor on ||ref|| so an all-zero
// reference compares absolute error); +inf on shape or dtype mismatch or non-finite values.
double RelativeL2(const Tensor& out, const Tensor& ref);

// Deterministic uniform [lo, hi) float32 data (or small ints for integer dtypes).
Tensor RandomTensor(DType dtype, const Shape& shape, uint64_t seed, float lo = -1.f,
                    float hi = 1.f);

// Exports `graph` to work_dir/name.onnx, runs it in edgeinfer (cpu backend, 1 thread) and in
// ONNX Runtime on the same inputs, and returns the worst output relative L2 error; `detail`
// receives a per-output report.
Result<double> CompareWithOnnxRuntime(const Graph& graph, const std::vector<NamedTensor>& inputs,
                                      const std::string& work_dir, const std::string& name,
                                      std::string* detail);

}  // namespace edgeinfer::testing

#endif  // EDGEINFER_TESTS_ORACLE_UTIL_H_

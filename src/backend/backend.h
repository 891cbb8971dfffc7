// Backend interface: a backend claims the nodes it supports and compiles a whole graph once.
//
// Compile() receives a specialised graph (every shape known, constants folded: see
// ops/passes.h). The Executable it returns is immutable: Run() is const and thread safe, so one
// compiled model serves concurrent requests. Expensive work (primitive creation, weight
// reorders, algorithm choice) belongs in Compile().
#ifndef EDGEINFER_BACKEND_BACKEND_H_
#define EDGEINFER_BACKEND_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ir/graph.h"

namespace edgeinfer {

struct CompileOptions {
  int threads = 0;  // kernel threads; <= 0 means all cores
};

// Timing of one executed step (a step may cover several fused nodes).
struct StepTiming {
  std::vector<int> nodes;  // node indices of the compiled graph the step covers
  double ms = 0.0;
  bool reference = false;  // the step ran an op's naive reference kernel
};

class Executable {
 public:
  virtual ~Executable() = default;
  // Inputs in the order of the graph's inputs; fills one output per graph output. Shapes and
  // dtypes must match the specialised graph exactly (checked; errors name the input).
  virtual Status Run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) const = 0;
  // As Run, and appends the wall time of each step to `timings`.
  virtual Status RunProfiled(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                             std::vector<StepTiming>* timings) const = 0;
  // The compiled graph (StepTiming::nodes index its nodes). A backend may have dropped the
  // data of constants it holds in another form (packed weights): shapes and attributes stay.
  virtual const Graph& graph() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // `graph` is taken by value: a caller that moves its graph in lets the backend free the
  // plain bytes of weights it keeps only in a packed layout, during compilation.
  virtual Result<std::unique_ptr<Executable>> Compile(Graph graph,
                                                      const CompileOptions& options) const = 0;
};

}  // namespace edgeinfer

#endif  // EDGEINFER_BACKEND_BACKEND_H_

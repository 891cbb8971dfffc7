#include "backend/reference_backend.h"

#include <chrono>

#include "backend/backend_util.h"
#include "core/parallel.h"
#include "ops/op_registry.h"

namespace edgeinfer {
namespace {

class ReferenceExecutable : public Executable {
 public:
  ReferenceExecutable(Graph graph, std::vector<int> order)
      : graph_(std::move(graph)), order_(std::move(order)) {
    uses_left_.assign(graph_.values().size(), 0);
    for (int n : order_) {
      for (ValueId id : graph_.nodes()[static_cast<size_t>(n)].inputs) {
        if (id != kNoValue) ++uses_left_[static_cast<size_t>(id)];
      }
    }
    for (ValueId id : graph_.outputs()) ++uses_left_[static_cast<size_t>(id)];
  }

  Status Run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) const override {
    return RunImpl(inputs, outputs, nullptr);
  }
  Status RunProfiled(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                     std::vector<StepTiming>* timings) const override {
    return RunImpl(inputs, outputs, timings);
  }
  const Graph& graph() const override { return graph_; }

 private:
  Status RunImpl(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                 std::vector<StepTiming>* timings) const {
    EI_RETURN_IF_ERROR(CheckRunInputs(graph_, inputs));
    std::vector<Tensor> values(graph_.values().size());
    std::vector<int> uses_left = uses_left_;
    for (size_t i = 0; i < graph_.values().size(); ++i) {
      if (graph_.values()[i].is_constant()) values[i] = graph_.values()[i].constant;
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      values[static_cast<size_t>(graph_.inputs()[i])] = inputs[i];
    }
    std::vector<Tensor> node_inputs;
    std::vector<Tensor> node_outputs;
    for (int n : order_) {
      const Node& node = graph_.nodes()[static_cast<size_t>(n)];
      auto start = std::chrono::steady_clock::now();
      node_inputs.clear();
      for (ValueId id : node.inputs) {
        node_inputs.push_back(id == kNoValue ? Tensor() : values[static_cast<size_t>(id)]);
      }
      EI_RETURN_IF_ERROR(RunReferenceNode(graph_, node, node_inputs, &node_outputs));
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        if (node.outputs[i] != kNoValue) {
          values[static_cast<size_t>(node.outputs[i])] = std::move(node_outputs[i]);
        }
      }
      for (ValueId id : node.inputs) {
        if (id != kNoValue && --uses_left[static_cast<size_t>(id)] == 0) {
          values[static_cast<size_t>(id)] = Tensor();
        }
      }
      if (timings != nullptr) {
        std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start;
        timings->push_back(StepTiming{{n}, ms.count(), true});
      }
    }
    outputs->clear();
    for (ValueId id : graph_.outputs()) {
      const Tensor& t = values[static_cast<size_t>(id)];
      // Outputs never share bytes with the caller's inputs or the graph's constants.
      bool external = graph_.value(id).is_constant() || graph_.value(id).producer < 0;
      outputs->push_back(external ? t.Clone() : t);
    }
    return Status::Ok();
  }

  Graph graph_;
  std::vector<int> order_;
  std::vector<int> uses_left_;  // per value: node-input uses plus graph-output uses
};

class ReferenceBackend : public Backend {
 public:
  const char* name() const override { return "reference"; }
  Result<std::unique_ptr<Executable>> Compile(Graph graph,
                                              const CompileOptions& options) const override {
    EI_RETURN_IF_ERROR(CheckCompilable(graph));
    if (options.threads > 0) SetNumThreads(options.threads);
    EI_ASSIGN_OR_RETURN(std::vector<int> order, graph.TopologicalOrder());
    std::vector<int> live;
    for (int n : order) {
      if (!graph.nodes()[static_cast<size_t>(n)].removed) live.push_back(n);
    }
    return std::unique_ptr<Executable>(new ReferenceExecutable(std::move(graph), std::move(live)));
  }
};

}  // namespace

const Backend* GetReferenceBackend() {
  static const ReferenceBackend* backend = new ReferenceBackend();
  return backend;
}

}  // namespace edgeinfer

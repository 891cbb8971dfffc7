// The local Session: import once, specialise and compile per distinct input-shape set (at open
// for a model whose input shapes are all static).
#include "runtime/local_session.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "backend/profile.h"
#include "backend/registry.h"
#include "core/parallel.h"
#include "edgeinfer/session.h"
#include "ops/passes.h"
#include "runtime/session_inputs.h"

namespace edgeinfer {

namespace {

// One specialisation of the model: its executable, which holds the graph with every shape
// known (executable->graph()).
struct Compiled {
  std::unique_ptr<Executable> executable;
};

class LocalSession final : public Session {
 public:
  LocalSession(Graph graph, const Backend* backend, SessionOptions options)
      : graph_(std::move(graph)),
        static_shapes_(graph_.FirstDynamicInput() == kNoValue),
        backend_(backend),
        options_(std::move(options)) {
    for (ValueId id : graph_.inputs()) {
      const Value& v = graph_.value(id);
      inputs_.push_back({v.name, v.dtype, v.shape});
    }
    for (ValueId id : graph_.outputs()) {
      const Value& v = graph_.value(id);
      outputs_.push_back({v.name, v.dtype, v.shape});
    }
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }

  // A model whose input shapes are all static has one specialisation: compile it now, as the
  // session opens, so that a backend error surfaces from Open and the first Run is as fast as
  // the rest (models with symbolic dimensions compile per shape set on first use).
  Status CompileIfStatic() {
    if (!static_shapes_) return Status::Ok();
    std::map<std::string, Shape> shapes;
    for (const TensorInfo& info : inputs_) shapes[info.name] = info.shape;
    return CompiledFor(shapes).status();
  }

  Result<std::vector<NamedTensor>> Run(const std::vector<NamedTensor>& inputs) override {
    std::vector<Tensor> ordered;
    EI_ASSIGN_OR_RETURN(std::shared_ptr<const Compiled> compiled, Prepare(inputs, &ordered));
    std::vector<Tensor> outs;
    EI_RETURN_IF_ERROR(compiled->executable->Run(ordered, &outs));
    return Name(outs);
  }

  Result<std::vector<NodeProfile>> Profile(const std::vector<NamedTensor>& inputs,
                                           int repeat) override {
    std::vector<Tensor> ordered;
    EI_ASSIGN_OR_RETURN(std::shared_ptr<const Compiled> compiled, Prepare(inputs, &ordered));
    EI_ASSIGN_OR_RETURN(std::vector<StepProfile> steps,
                        ProfileSteps(*compiled->executable, ordered, repeat));
    std::vector<NodeProfile> profile;
    for (StepProfile& step : steps) profile.push_back(std::move(step.profile));
    return profile;
  }

 private:
  // Validates `inputs` against the model, orders them as the graph's inputs, and returns the
  // compiled specialisation for their shapes (compiling it on first use).
  Result<std::shared_ptr<const Compiled>> Prepare(const std::vector<NamedTensor>& inputs,
                                                  std::vector<Tensor>* ordered) {
    EI_RETURN_IF_ERROR(OrderInputs(inputs_, inputs, ordered));
    std::map<std::string, Shape> shapes;
    for (size_t i = 0; i < inputs_.size(); ++i) shapes[inputs_[i].name] = (*ordered)[i].shape();
    return CompiledFor(shapes);
  }

  // The compiled specialisation for `shapes`: from the cache, or compiled now (once).
  Result<std::shared_ptr<const Compiled>> CompiledFor(const std::map<std::string, Shape>& shapes) {
    std::string key;
    for (const auto& [name, shape] : shapes) key += name + ShapeToString(shape) + ";";
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = cache_.find(key);
      if (it != cache_.end()) return it->second;
    }
    // One compilation at a time; a concurrent first Run of the same shapes waits for it.
    std::lock_guard<std::mutex> compiling(compile_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = cache_.find(key);
      if (it != cache_.end()) return it->second;
    }
    if (consumed_) {
      // Static input shapes admit one specialisation, compiled already (or failed).
      if (!consumed_status_.ok()) return consumed_status_;
      return Status::Internal("local session: no compiled form for input shapes " + key);
    }
    // With static input shapes this is the only compilation, so the imported graph is moved
    // in: the backend then frees each plain weight once it holds its packed copy, instead of
    // this session keeping every weight twice (plain here, packed in the executable).
    Graph graph = static_shapes_ ? std::move(graph_) : graph_;
    consumed_ = static_shapes_;
    Result<std::shared_ptr<const Compiled>> compiled = Compile(std::move(graph), shapes);
    if (!compiled.ok()) {
      if (consumed_) consumed_status_ = compiled.status();
      return compiled.status();
    }
    std::lock_guard<std::mutex> lock(mu_);
    cache_.emplace(key, *compiled);
    return *compiled;
  }

  Result<std::shared_ptr<const Compiled>> Compile(Graph graph,
                                                  const std::map<std::string, Shape>& shapes) {
    auto compiled = std::make_shared<Compiled>();
    EI_RETURN_IF_ERROR(Specialize(&graph, shapes));
    CompileOptions copts;
    copts.threads = options_.threads;
    EI_ASSIGN_OR_RETURN(compiled->executable, backend_->Compile(std::move(graph), copts));
    return std::shared_ptr<const Compiled>(std::move(compiled));
  }

  std::vector<NamedTensor> Name(std::vector<Tensor>& outs) const {
    std::vector<NamedTensor> named;
    for (size_t i = 0; i < outs.size() && i < outputs_.size(); ++i) {
      named.push_back({outputs_[i].name, std::move(outs[i])});
    }
    return named;
  }

  Graph graph_;  // as imported: dynamic dims still -1; moved out by a static model's compile
  const bool static_shapes_;
  const Backend* const backend_;
  const SessionOptions options_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  std::mutex compile_mu_;                  // held while compiling
  bool consumed_ = false;                  // guarded by compile_mu_: graph_ was moved out
  Status consumed_status_ = Status::Ok();  // guarded by compile_mu_: how that compile ended
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Compiled>> cache_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Session>> MakeLocalSession(Graph graph, const SessionOptions& options) {
  const Backend* backend = FindBackend(options.backend);
  if (backend == nullptr) {
    std::string available;
    for (const std::string& name : BackendNames())
      available += (available.empty() ? "" : ", ") + name;
    return Status::InvalidArgument("unknown backend '" + options.backend +
                                   "' (available: " + available + ")");
  }
  SetNumThreads(options.threads);
  auto session = std::make_unique<LocalSession>(std::move(graph), backend, options);
  EI_RETURN_IF_ERROR(session->CompileIfStatic());
  return std::unique_ptr<Session>(std::move(session));
}

}  // namespace edgeinfer

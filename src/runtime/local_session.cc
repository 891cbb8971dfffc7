// The local Session: import once, specialise and compile per distinct input-shape set.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "backend/backend.h"
#include "core/npy.h"
#include "core/parallel.h"
#include "edgeinfer/session.h"
#include "ir/flops.h"
#include "ir/passes.h"
#include "onnx/onnx_io.h"

namespace edgeinfer {

namespace {

// One specialisation of the model: the graph with every shape known and its executable.
struct Compiled {
  Graph graph;
  std::unique_ptr<Executable> executable;
};

class LocalSession final : public Session {
 public:
  LocalSession(Graph graph, const Backend* backend, SessionOptions options)
      : graph_(std::move(graph)), backend_(backend), options_(std::move(options)) {
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
    repeat = std::max(1, repeat);
    std::vector<std::vector<StepTiming>> runs;
    std::vector<Tensor> outs;
    // One untimed warm-up run so first-touch page faults do not count.
    EI_RETURN_IF_ERROR(compiled->executable->Run(ordered, &outs));
    for (int r = 0; r < repeat; ++r) {
      std::vector<StepTiming> timings;
      EI_RETURN_IF_ERROR(compiled->executable->RunProfiled(ordered, &outs, &timings));
      runs.push_back(std::move(timings));
    }
    const Graph& g = compiled->graph;
    std::vector<NodeProfile> profile;
    for (size_t s = 0; s < runs[0].size(); ++s) {
      NodeProfile p;
      for (int n : runs[0][s].nodes) {
        const Node& node = g.nodes()[static_cast<size_t>(n)];
        p.name += (p.name.empty() ? "" : "+") + node.name;
        p.op += (p.op.empty() ? "" : "+") + std::string(OpName(node.op));
        p.flops += NodeFlops(g, node);
      }
      if (!runs[0][s].nodes.empty()) {
        const Node& last = g.nodes()[static_cast<size_t>(runs[0][s].nodes.back())];
        if (!last.outputs.empty() && last.outputs[0] >= 0) {
          const Value& v = g.value(last.outputs[0]);
          p.output_shape = v.shape;
          p.output_bytes = NumElements(v.shape) * static_cast<int64_t>(DTypeSize(v.dtype));
        }
      }
      std::vector<double> ms;
      for (const auto& run : runs) {
        if (s < run.size()) ms.push_back(run[s].ms);
      }
      std::sort(ms.begin(), ms.end());
      p.median_ms = ms.empty() ? 0.0 : ms[ms.size() / 2];
      profile.push_back(std::move(p));
    }
    return profile;
  }

 private:
  // Validates `inputs` against the model, orders them as the graph's inputs, and returns the
  // compiled specialisation for their shapes (compiling it on first use).
  Result<std::shared_ptr<const Compiled>> Prepare(const std::vector<NamedTensor>& inputs,
                                                  std::vector<Tensor>* ordered) {
    std::map<std::string, const Tensor*> by_name;
    for (const NamedTensor& nt : inputs) {
      bool known = false;
      for (const TensorInfo& info : inputs_) known = known || info.name == nt.name;
      if (!known) {
        std::string names;
        for (const TensorInfo& info : inputs_) names += (names.empty() ? "" : ", ") + info.name;
        return Status::InvalidArgument("model has no input named '" + nt.name +
                                       "' (inputs: " + names + ")");
      }
      if (!by_name.emplace(nt.name, &nt.tensor).second) {
        return Status::InvalidArgument("input '" + nt.name + "' given more than once");
      }
    }
    std::map<std::string, Shape> shapes;
    ordered->clear();
    for (const TensorInfo& info : inputs_) {
      auto it = by_name.find(info.name);
      if (it == by_name.end()) {
        return Status::InvalidArgument("missing input '" + info.name + "' (" +
                                       DTypeName(info.dtype) + ShapeToString(info.shape) + ")");
      }
      const Tensor& t = *it->second;
      if (t.dtype() != info.dtype) {
        return Status::InvalidArgument("input '" + info.name + "' has dtype " +
                                       DTypeName(t.dtype()) + ", the model expects " +
                                       DTypeName(info.dtype));
      }
      bool rank_ok = t.shape().size() == info.shape.size();
      for (size_t d = 0; rank_ok && d < info.shape.size(); ++d) {
        rank_ok = info.shape[d] < 0 || info.shape[d] == t.shape()[d];
      }
      if (!rank_ok) {
        return Status::InvalidArgument("input '" + info.name + "' has shape " +
                                       ShapeToString(t.shape()) + ", the model expects " +
                                       ShapeToString(info.shape));
      }
      shapes[info.name] = t.shape();
      ordered->push_back(t);
    }
    std::string key;
    for (const auto& [name, shape] : shapes) key += name + ShapeToString(shape) + ";";
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = cache_.find(key);
      if (it != cache_.end()) return it->second;
    }
    // Compile outside the lock; a concurrent first Run of the same shapes may compile twice,
    // and the first to finish wins. Compilation is deterministic, so either is fine.
    auto compiled = std::make_shared<Compiled>();
    compiled->graph = graph_;
    EI_RETURN_IF_ERROR(Specialize(&compiled->graph, shapes));
    CompileOptions copts;
    copts.threads = options_.threads;
    EI_ASSIGN_OR_RETURN(compiled->executable, backend_->Compile(compiled->graph, copts));
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = cache_.emplace(key, std::move(compiled));
    return it->second;
  }

  std::vector<NamedTensor> Name(std::vector<Tensor>& outs) const {
    std::vector<NamedTensor> named;
    for (size_t i = 0; i < outs.size() && i < outputs_.size(); ++i) {
      named.push_back({outputs_[i].name, std::move(outs[i])});
    }
    return named;
  }

  const Graph graph_;  // as imported: dynamic dims still -1
  const Backend* const backend_;
  const SessionOptions options_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Compiled>> cache_;  // guarded by mu_
};

Result<std::unique_ptr<Session>> MakeSession(Result<Graph> graph, const SessionOptions& options) {
  if (!graph.ok()) return graph.status();
  const Backend* backend = FindBackend(options.backend);
  if (backend == nullptr) {
    return Status::InvalidArgument("unknown backend '" + options.backend +
                                   "' (available: cpu, reference)");
  }
  SetNumThreads(options.threads);
  return std::unique_ptr<Session>(new LocalSession(std::move(graph).value(), backend, options));
}

}  // namespace

Result<std::unique_ptr<Session>> Session::Open(const std::string& model_path,
                                               const SessionOptions& options) {
  EI_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(model_path));
  std::string dir = std::filesystem::path(model_path).parent_path().string();
  return OpenFromBytes(bytes, dir.empty() ? "." : dir, options);
}

Result<std::unique_ptr<Session>> Session::OpenFromBytes(const std::string& bytes,
                                                        const std::string& base_dir,
                                                        const SessionOptions& options) {
  ImportOptions import;
  import.base_dir = base_dir;
  return MakeSession(ImportOnnx(bytes, import), options);
}

}  // namespace edgeinfer

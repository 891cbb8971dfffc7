#include "server/served_model.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "backend/profile.h"
#include "backend/registry.h"
#include "net/protocol.h"
#include "onnx/onnx_io.h"
#include "ops/passes.h"

namespace edgeinfer::server {

namespace {

// Uploaded models may not read external data: this directory does not exist, so any
// relative location fails to open (the importer already refuses absolute and '..' paths).
constexpr char kNoExternalDataDir[] = "/nonexistent-edgeinfer-upload-dir";

std::string SliceKey(const std::vector<NamedTensor>& sorted_inputs,
                     const std::vector<std::string>& outputs) {
  std::string key;
  for (const NamedTensor& in : sorted_inputs) {
    key += in.name + "|" + DTypeName(in.tensor.dtype()) + ShapeToString(in.tensor.shape()) + ";";
  }
  key += "->";
  for (const std::string& out : outputs) key += out + ";";
  return key;
}

int64_t FirstOutputNumel(const Graph& graph, const Node& node) {
  if (node.outputs.empty() || node.outputs[0] < 0) return 0;
  const Value& v = graph.value(node.outputs[0]);
  return v.shape_known() ? NumElements(v.shape) : 0;
}

}  // namespace

Result<std::unique_ptr<ServedModel>> ServedModel::Create(const std::string& name,
                                                         const std::string& version,
                                                         const std::string& onnx_bytes,
                                                         const std::string& base_dir,
                                                         const ServedModelOptions& options) {
  ImportOptions import;
  import.base_dir = base_dir.empty() ? kNoExternalDataDir : base_dir;
  import.max_nodes = options.max_nodes;
  Result<Graph> graph = ImportOnnx(onnx_bytes, import);
  if (!graph.ok()) return graph.status().WithContext("model '" + name + "' version " + version);
  std::unique_ptr<ServedModel> model(new ServedModel(options));
  model->name_ = name;
  model->version_ = version;
  model->graph_ = std::move(graph).value();
  model->model_bytes_ = onnx_bytes.size();
  for (const Value& v : model->graph_.values()) model->dtypes_[v.name] = v.dtype;
  // Intermediate dtypes are often absent from ONNX files; shape inference on a copy fills them
  // so that a request feeding an intermediate tensor can be checked before compiling.
  Graph typed = model->graph_;
  if (InferShapesAndFold(&typed).ok()) {
    for (const Value& v : typed.values()) {
      if (v.dtype != DType::kUndefined) model->dtypes_[v.name] = v.dtype;
      if (v.rank_known && v.shape.size() == 4 && v.shape[2] >= 0) {
        model->heights_[v.name] = v.shape[2];
      }
    }
  }
  for (ValueId id : model->graph_.inputs()) {
    const Value& v = model->graph_.value(id);
    model->inputs_.push_back({v.name, v.dtype, v.shape});
  }
  for (ValueId id : model->graph_.outputs()) {
    const Value& v = model->graph_.value(id);
    DType dtype = model->dtypes_[v.name];
    model->outputs_.push_back({v.name, dtype, v.shape});
  }
  Status profiled = model->ProfileAtLoad();
  if (!profiled.ok()) {
    return profiled.WithContext("model '" + name + "' version " + version + ": profiling");
  }
  return model;
}

Result<DType> ServedModel::TensorDType(const std::string& name) const {
  auto it = dtypes_.find(name);
  if (it == dtypes_.end()) {
    return Status::InvalidArgument("model '" + name_ + "' has no tensor named '" + name + "'");
  }
  return it->second;
}

Status ServedModel::ProfileAtLoad() {
  // A model with dynamic input dims learns its baseline from its fastest run instead.
  if (graph_.FirstDynamicInput() != kNoValue) return Status::Ok();
  std::vector<NamedTensor> inputs;
  for (const TensorInfo& info : inputs_) {
    if (DTypeSize(info.dtype) <= 0) return Status::Ok();  // no zeros to profile with
    inputs.push_back({info.name, Tensor::Zeros(info.dtype, info.shape)});
  }
  std::sort(inputs.begin(), inputs.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
  std::vector<std::string> outputs;
  for (const TensorInfo& info : outputs_) outputs.push_back(info.name);
  EI_ASSIGN_OR_RETURN(std::shared_ptr<Slice> slice, Compile(inputs, outputs));
  std::vector<Tensor> ordered;
  for (const NamedTensor& in : inputs) ordered.push_back(in.tensor);
  EI_ASSIGN_OR_RETURN(std::vector<StepProfile> steps,
                      ProfileSteps(*slice->executable, ordered, options_.profile_repeat));
  const Graph& g = slice->graph;
  // Nodes no step timed (folded into another kernel, or free like Reshape) cost nothing.
  for (const Node& node : g.nodes()) node_costs_[node.name] = {0.0, FirstOutputNumel(g, node)};
  for (StepProfile& step : steps) {
    const double median = step.profile.median_ms;
    profiled_ms_ += median;
    const std::vector<int>& nodes = step.nodes;
    if (!nodes.empty()) node_profile_.push_back(step.profile);
    // A fused step's time is shared evenly by its nodes: slices cut between fused nodes are
    // rare, and an even share keeps the sum over a whole model exact.
    for (int n : nodes) {
      const Node& node = g.nodes()[static_cast<size_t>(n)];
      node_costs_[node.name] = {median / static_cast<double>(nodes.size()),
                                FirstOutputNumel(g, node)};
    }
  }
  slice->baseline_us = Baseline(g);
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = SliceKey(inputs, outputs);
  slices_.Insert(key, slice);
  return Status::Ok();
}

double ServedModel::Baseline(const Graph& specialised) const {
  double us = 0.0;
  for (const Node& node : specialised.nodes()) {
    if (node.removed) continue;
    auto it = node_costs_.find(node.name);
    if (it == node_costs_.end()) return 0.0;
    // Costs scale with output size (batch) to first order.
    const int64_t numel = FirstOutputNumel(specialised, node);
    const double scale = it->second.numel > 0 && numel > 0
                             ? static_cast<double>(numel) / static_cast<double>(it->second.numel)
                             : 1.0;
    us += it->second.ms * 1000.0 * scale;
  }
  return us;
}

Result<Graph> ServedModel::SpecialisedSlice(const std::vector<TensorInfo>& sorted_inputs,
                                            const std::vector<std::string>& outputs) const {
  std::vector<std::string> from;
  std::set<std::string> model_inputs;
  for (const TensorInfo& info : inputs_) model_inputs.insert(info.name);
  for (const TensorInfo& in : sorted_inputs) {
    ValueId id = graph_.FindValue(in.name);
    if (id == kNoValue) {
      return Status::InvalidArgument("model '" + name_ + "' has no tensor named '" + in.name +
                                     "' (request input)");
    }
    if (graph_.value(id).is_constant()) {
      return Status::InvalidArgument("tensor '" + in.name + "' of model '" + name_ +
                                     "' is a constant (weight), not an input");
    }
    from.push_back(in.name);
  }
  for (const std::string& out : outputs) {
    if (graph_.FindValue(out) == kNoValue) {
      return Status::InvalidArgument("model '" + name_ + "' has no tensor named '" + out +
                                     "' (requested output)");
    }
  }
  EI_ASSIGN_OR_RETURN(Graph graph, graph_.Slice(from, outputs));
  std::map<std::string, Shape> shapes;
  for (ValueId id : graph.inputs()) {
    Value& v = graph.mutable_value(id);
    auto it = std::find_if(sorted_inputs.begin(), sorted_inputs.end(),
                           [&](const TensorInfo& in) { return in.name == v.name; });
    if (it == sorted_inputs.end()) {
      return Status::InvalidArgument("missing input '" + v.name + "': the requested outputs of " +
                                     "model '" + name_ + "' depend on it");
    }
    const DType want = dtypes_.count(v.name) ? dtypes_.at(v.name) : DType::kUndefined;
    if (want != DType::kUndefined && want != it->dtype) {
      return Status::InvalidArgument("input '" + v.name + "' of model '" + name_ + "' has dtype " +
                                     DTypeName(it->dtype) + ", the model expects " +
                                     DTypeName(want));
    }
    v.dtype = it->dtype;
    if (!model_inputs.count(v.name)) {
      // An intermediate's recorded shape (if any) was for the model's declared input shapes;
      // shape inference from the given shape checks consistency instead.
      v.shape.clear();
      v.rank_known = false;
    }
    shapes[v.name] = it->shape;
  }
  // Computed values are re-inferred from the given shapes: their recorded shapes (from the
  // file's value_info) hold only for the model's declared input shapes.
  for (Value& v : graph.mutable_values()) {
    if (v.producer >= 0) {
      v.shape.clear();
      v.rank_known = false;
    }
  }
  Status specialised = Specialize(&graph, shapes);
  if (!specialised.ok()) {
    return Status(specialised.code() == StatusCode::kInternal ? StatusCode::kInternal
                                                              : StatusCode::kInvalidArgument,
                  specialised.message())
        .WithContext("model '" + name_ + "'");
  }
  return graph;
}

Result<Graph> ServedModel::Specialised(const std::vector<TensorInfo>& inputs,
                                      const std::vector<std::string>& outputs) const {
  std::vector<std::string> wanted = outputs;
  if (wanted.empty()) {
    for (const TensorInfo& info : outputs_) wanted.push_back(info.name);
  }
  return SpecialisedSlice(inputs, wanted);
}

Result<std::shared_ptr<ServedModel::Slice>> ServedModel::Compile(
    const std::vector<NamedTensor>& sorted_inputs, const std::vector<std::string>& outputs) const {
  std::set<std::string> model_inputs;
  for (const TensorInfo& info : inputs_) model_inputs.insert(info.name);
  std::vector<TensorInfo> infos;
  for (const NamedTensor& in : sorted_inputs) {
    const Shape& shape = in.tensor.shape();
    auto height = heights_.find(in.name);
    // An intermediate tensor of another height is a row band or a mistake: run as a whole
    // tensor, the model's padding would be applied at both of its edges and every row near
    // them would be wrong. Bands must say where they lie.
    if (!model_inputs.count(in.name) && shape.size() == 4 && height != heights_.end() &&
        shape[2] != height->second) {
      return Status::InvalidArgument(
          "input '" + in.name + "' of model '" + name_ + "' has " + std::to_string(shape[2]) +
          " rows, but the model computes it with " + std::to_string(height->second) +
          ": a row band must say which rows it holds (parameters " + net::kRowOffsetParam +
          " and " + net::kFullHeightParam + ", docs/protocol.md \"Row bands\")");
    }
    infos.push_back({in.name, in.tensor.dtype(), shape});
  }
  EI_ASSIGN_OR_RETURN(Graph graph, SpecialisedSlice(infos, outputs));
  const Backend* backend = FindBackend("cpu");
  if (backend == nullptr) return Status::Internal("the cpu backend is not registered");
  CompileOptions copts;
  copts.threads = options_.threads;
  auto slice = std::make_shared<Slice>();
  EI_ASSIGN_OR_RETURN(slice->executable, backend->Compile(graph, copts));
  for (ValueId id : graph.inputs()) slice->input_names.push_back(graph.value(id).name);
  slice->graph = std::move(graph);
  slice->baseline_us = Baseline(slice->graph);
  return slice;
}

Result<SliceResult> ServedModel::RunBand(const std::vector<NamedTensor>& sorted_inputs,
                                         const std::vector<std::string>& outputs,
                                         const BandSpec& band) const {
  std::vector<TensorInfo> full;
  std::vector<BandTensor> tensors;
  for (const NamedTensor& in : sorted_inputs) {
    Shape shape = in.tensor.shape();
    auto rows = band.inputs.find(in.name);
    int64_t offset = 0;
    if (rows != band.inputs.end()) {
      const InputRows& g = rows->second;
      if (shape.size() != 4) {
        return Status::InvalidArgument("input '" + in.name + "' has shape " + ShapeToString(shape) +
                                       ": row geometry needs a rank-4 NCHW tensor");
      }
      if (g.offset < 0 || g.full_height <= 0 || shape[2] > g.full_height ||
          g.offset > g.full_height - shape[2]) {
        return Status::InvalidArgument("input '" + in.name + "' holds " + std::to_string(shape[2]) +
                                       " rows from row " + std::to_string(g.offset) +
                                       ", which do not fit its full height " +
                                       std::to_string(g.full_height));
      }
      auto height = heights_.find(in.name);
      if (height != heights_.end() && g.full_height != height->second &&
          graph_.FirstDynamicInput() == kNoValue) {
        return Status::InvalidArgument("input '" + in.name + "' has full height " +
                                       std::to_string(g.full_height) + ", but model '" + name_ +
                                       "' computes it with " + std::to_string(height->second));
      }
      shape[2] = g.full_height;
      offset = g.offset;
    }
    full.push_back({in.name, in.tensor.dtype(), shape});
    tensors.push_back({in.name, in.tensor, offset});
  }
  for (const auto& [name, rows] : band.inputs) {
    if (std::none_of(sorted_inputs.begin(), sorted_inputs.end(),
                     [&](const NamedTensor& in) { return in.name == name; })) {
      return Status::InvalidArgument("row geometry given for '" + name +
                                     "', which is not an input of the request");
    }
  }
  for (const auto& [name, rows] : band.outputs) {
    if (std::find(outputs.begin(), outputs.end(), name) == outputs.end()) {
      return Status::InvalidArgument("rows requested of '" + name +
                                     "', which is not a requested output");
    }
  }
  std::string key;
  for (const TensorInfo& in : full) {
    key += in.name + "|" + DTypeName(in.dtype) + ShapeToString(in.shape) + ";";
  }
  key += "->";
  for (const std::string& out : outputs) key += out + ";";
  std::shared_ptr<const BandRunner> runner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto cached = band_runners_.Get(key)) runner = *cached;
  }
  if (runner == nullptr) {
    EI_ASSIGN_OR_RETURN(Graph graph, SpecialisedSlice(full, outputs));
    const Backend* backend = FindBackend("cpu");
    if (backend == nullptr) return Status::Internal("the cpu backend is not registered");
    CompileOptions copts;
    copts.threads = options_.threads;
    auto fresh = std::make_shared<const BandRunner>(std::move(graph), backend, copts);
    std::lock_guard<std::mutex> lock(mu_);
    runner = band_runners_.Insert(key, std::move(fresh));
  }
  Result<BandResult> run = runner->Run(tensors, band.outputs);
  if (!run.ok()) return run.status().WithContext("model '" + name_ + "'");
  SliceResult result;
  // Execution only, as for whole slices: a band compiled on first use counts as other time.
  result.compute_us = static_cast<int64_t>(run->run_ms * 1e3);
  result.compiled = run->compiled;
  for (const std::string& name : outputs) {
    auto it = std::find_if(run->outputs.begin(), run->outputs.end(),
                           [&](const BandTensor& t) { return t.name == name; });
    if (it == run->outputs.end()) return Status::Internal("band output '" + name + "' missing");
    result.outputs.push_back({name, it->tensor});
    result.row_offsets[name] = it->offset;
  }
  return result;
}

Result<std::shared_ptr<const ServedModel::Slice>> ServedModel::GetSlice(
    const std::vector<NamedTensor>& sorted_inputs, const std::vector<std::string>& outputs) const {
  const std::string key = SliceKey(sorted_inputs, outputs);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto cached = slices_.Get(key)) return *cached;
  }
  // Compiled outside the lock; two first requests for one slice may both compile, and the
  // first insert wins. Compilation is deterministic, so either result is correct.
  EI_ASSIGN_OR_RETURN(std::shared_ptr<Slice> slice, Compile(sorted_inputs, outputs));
  std::lock_guard<std::mutex> lock(mu_);
  return slices_.Insert(key, std::move(slice));
}

Result<SliceResult> ServedModel::Run(const std::vector<NamedTensor>& inputs,
                                     const std::vector<std::string>& outputs,
                                     const BandSpec& band) const {
  std::vector<NamedTensor> sorted = inputs;
  std::sort(sorted.begin(), sorted.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].name == sorted[i - 1].name) {
      return Status::InvalidArgument("input '" + sorted[i].name + "' given more than once");
    }
  }
  std::vector<std::string> wanted = outputs;
  if (wanted.empty()) {
    for (const TensorInfo& info : outputs_) wanted.push_back(info.name);
  }
  if (!band.empty()) return RunBand(sorted, wanted, band);
  EI_ASSIGN_OR_RETURN(std::shared_ptr<const Slice> slice, GetSlice(sorted, wanted));
  std::vector<Tensor> ordered;
  for (const std::string& name : slice->input_names) {
    auto it = std::find_if(sorted.begin(), sorted.end(),
                           [&](const NamedTensor& in) { return in.name == name; });
    if (it == sorted.end()) return Status::Internal("slice input '" + name + "' not given");
    ordered.push_back(it->tensor);
  }
  std::vector<Tensor> outs;
  const auto start = std::chrono::steady_clock::now();
  EI_RETURN_IF_ERROR(slice->executable->Run(ordered, &outs));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  SliceResult result;
  result.compute_us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  double baseline = slice->baseline_us;
  if (baseline <= 0.0) {
    int64_t fastest = slice->fastest_us.load();
    while ((fastest == 0 || result.compute_us < fastest) &&
           !slice->fastest_us.compare_exchange_weak(fastest, result.compute_us)) {
    }
    baseline = static_cast<double>(slice->fastest_us.load());
  }
  result.load_factor = baseline > 0.0
                           ? static_cast<double>(std::max<int64_t>(1, result.compute_us)) / baseline
                           : 1.0;
  if (outs.size() != wanted.size()) return Status::Internal("slice returned wrong output count");
  for (size_t i = 0; i < outs.size(); ++i)
    result.outputs.push_back({wanted[i], std::move(outs[i])});
  return result;
}

}  // namespace edgeinfer::server

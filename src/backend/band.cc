#include "backend/band.h"

#include <chrono>

#include <algorithm>

#include "ops/passes.h"

namespace edgeinfer {

BandRunner::BandRunner(Graph full, const Backend* backend, CompileOptions options,
                       size_t max_cached)
    : full_(std::move(full)), backend_(backend), options_(options), cache_(max_cached) {}

size_t BandRunner::cached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

Result<BandResult> BandRunner::Run(const std::vector<BandTensor>& inputs,
                                   const std::map<std::string, RowRange>& wanted) const {
  std::vector<BandInput> bands;
  std::map<std::string, Shape> shapes;
  std::string key;
  for (const BandTensor& in : inputs) {
    const ValueId v = full_.FindValue(in.name);
    if (v == kNoValue) {
      return Status::InvalidArgument("row band: the band has no input named '" + in.name + "'");
    }
    const Value& value = full_.value(v);
    const Shape& given = in.tensor.shape();
    if (value.rank_known && value.shape.size() == 4 && given.size() == 4) {
      Shape expect = value.shape;
      expect[2] = given[2];
      if (given != expect) {
        return Status::InvalidArgument("row band: input '" + in.name + "' has shape " +
                                       ShapeToString(given) + ", expected " +
                                       ShapeToString(expect) + " (any height)");
      }
      if (in.offset != 0 || given[2] != value.shape[2]) {
        bands.push_back({in.name, in.offset, given[2]});
      }
    } else if (in.offset != 0) {
      return Status::InvalidArgument("row band: input '" + in.name +
                                     "' is not a rank-4 NCHW tensor; it has no rows to offset");
    }
    shapes[in.name] = given;
  }
  EI_ASSIGN_OR_RETURN(BandGraph band, MakeBandGraph(full_, bands, wanted));
  key = band.signature;
  for (const auto& [name, shape] : shapes) key += "|" + name + ShapeToString(shape);
  std::shared_ptr<const Compiled> compiled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto hit = cache_.Get(key)) compiled = *hit;
  }
  BandResult result;
  if (compiled == nullptr) {
    Status specialised = Specialize(&band.graph, shapes);
    if (!specialised.ok()) return specialised.WithContext("row band");
    auto fresh = std::make_shared<Compiled>();
    for (ValueId v : band.graph.inputs()) fresh->input_names.push_back(band.graph.value(v).name);
    for (ValueId v : band.graph.outputs()) {
      fresh->output_names.push_back(band.graph.value(v).name);
    }
    EI_ASSIGN_OR_RETURN(fresh->executable, backend_->Compile(std::move(band.graph), options_));
    std::lock_guard<std::mutex> lock(mu_);
    compiled = cache_.Insert(key, std::move(fresh));
    result.compiled = true;
  }
  std::vector<Tensor> ordered;
  for (const std::string& name : compiled->input_names) {
    auto it = std::find_if(inputs.begin(), inputs.end(),
                           [&](const BandTensor& in) { return in.name == name; });
    if (it == inputs.end()) {
      return Status::InvalidArgument("row band: missing input '" + name + "'");
    }
    ordered.push_back(it->tensor);
  }
  std::vector<Tensor> outs;
  const auto run_start = std::chrono::steady_clock::now();
  EI_RETURN_IF_ERROR(compiled->executable->Run(ordered, &outs));
  result.run_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - run_start)
          .count();
  if (outs.size() != compiled->output_names.size()) {
    return Status::Internal("row band: the band returned the wrong number of outputs");
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    const std::string& name = compiled->output_names[i];
    auto rows = band.output_rows.find(name);
    const int64_t offset = rows == band.output_rows.end() ? 0 : rows->second.begin;
    result.outputs.push_back({name, std::move(outs[i]), offset});
  }
  return result;
}

}  // namespace edgeinfer

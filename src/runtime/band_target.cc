#include "runtime/band_target.h"

#include <algorithm>
#include <utility>

#include "backend/registry.h"
#include "ops/passes.h"

namespace edgeinfer {
namespace {

void Describe(const Graph& slice, std::vector<std::string>* inputs,
              std::vector<std::string>* outputs, std::map<std::string, int64_t>* heights) {
  for (ValueId id : slice.inputs()) {
    const Value& v = slice.value(id);
    inputs->push_back(v.name);
    if (v.shape.size() == 4) (*heights)[v.name] = v.shape[2];
  }
  for (ValueId id : slice.outputs()) outputs->push_back(slice.value(id).name);
}

class Local : public BandTarget {
 public:
  Local(Graph slice, const Backend* backend, CompileOptions options)
      : runner_(std::move(slice), backend, options) {
    Describe(runner_.graph(), &inputs_, &outputs_, &full_heights_);
  }
  std::string where() const override { return "local"; }
  Result<BandRun> Run(const std::vector<BandTensor>& inputs,
                      const std::map<std::string, RowRange>& wanted) override {
    EI_ASSIGN_OR_RETURN(BandResult result, runner_.Run(inputs, wanted));
    BandRun run;
    run.outputs = std::move(result.outputs);
    return run;
  }

 private:
  BandRunner runner_;
};

class Remote : public BandTarget {
 public:
  Remote(const Graph& slice, net::EdgeClient* client, std::string model,
         net::TransferOptions transfer, net::CallOptions call)
      : client_(client),
        model_(std::move(model)),
        transfer_(std::move(transfer)),
        call_(std::move(call)) {
    Describe(slice, &inputs_, &outputs_, &full_heights_);
  }
  std::string where() const override { return client_->options().address; }
  Result<BandRun> Run(const std::vector<BandTensor>& inputs,
                      const std::map<std::string, RowRange>& wanted) override {
    net::TransferOptions transfer = transfer_;
    transfer.input_rows.clear();
    transfer.output_rows.clear();
    std::vector<NamedTensor> named;
    for (const BandTensor& in : inputs) {
      auto height = full_heights_.find(in.name);
      if (height == full_heights_.end()) {
        if (in.offset != 0) {
          return Status::InvalidArgument("input '" + in.name +
                                         "' is not a rank-4 input of the slice, so it cannot be "
                                         "a row band (offset " +
                                         std::to_string(in.offset) + ")");
        }
      } else if (in.tensor.shape().size() != 4) {
        return Status::InvalidArgument("input '" + in.name + "' has shape " +
                                       ShapeToString(in.tensor.shape()) +
                                       ": a row band needs a rank-4 NCHW tensor");
      } else if (in.offset != 0 || in.tensor.shape()[2] != height->second) {
        transfer.input_rows[in.name] = {in.offset, height->second};
      }
      named.push_back({in.name, in.tensor});
    }
    for (const auto& [name, rows] : wanted) {
      if (std::find(outputs_.begin(), outputs_.end(), name) == outputs_.end()) {
        return Status::InvalidArgument("rows wanted of '" + name +
                                       "', which is not an output of the slice");
      }
      transfer.output_rows[name] = {rows.begin, rows.end};
    }
    BandRun run;
    EI_ASSIGN_OR_RETURN(std::vector<NamedTensor> outs,
                        client_->Infer(model_, named, outputs_, &run.timing, transfer, call_));
    for (NamedTensor& out : outs) {
      auto rows = wanted.find(out.name);
      run.outputs.push_back(
          {out.name, std::move(out.tensor), rows == wanted.end() ? 0 : rows->second.begin});
    }
    return run;
  }

 private:
  net::EdgeClient* client_;
  const std::string model_;
  const net::TransferOptions transfer_;
  const net::CallOptions call_;
};

}  // namespace

Result<Graph> SpecialisedBandSlice(const Graph& model, const std::map<std::string, Shape>& inputs,
                                   const std::vector<std::string>& outputs) {
  std::vector<std::string> from;
  for (const auto& [name, shape] : inputs) {
    ValueId id = model.FindValue(name);
    if (id == kNoValue) return Status::InvalidArgument("the model has no tensor '" + name + "'");
    if (model.value(id).is_constant()) {
      return Status::InvalidArgument("tensor '" + name + "' is a constant, not an input");
    }
    from.push_back(name);
  }
  for (const std::string& out : outputs) {
    if (model.FindValue(out) == kNoValue) {
      return Status::InvalidArgument("the model has no tensor '" + out + "' (slice output)");
    }
  }
  EI_ASSIGN_OR_RETURN(Graph slice, model.Slice(from, outputs));
  for (ValueId id : slice.inputs()) {
    if (!inputs.count(slice.value(id).name)) {
      return Status::InvalidArgument("the slice to the requested outputs also needs input '" +
                                     slice.value(id).name + "'");
    }
  }
  // Shapes are re-inferred from the given ones: recorded shapes hold for the model's own.
  for (Value& v : slice.mutable_values()) {
    if (v.producer >= 0 || inputs.count(v.name)) {
      v.shape.clear();
      v.rank_known = false;
    }
  }
  EI_RETURN_IF_ERROR(Specialize(&slice, inputs));
  return slice;
}

Result<std::unique_ptr<BandTarget>> LocalBandTarget(Graph slice, const std::string& backend,
                                                    CompileOptions options) {
  const Backend* b = FindBackend(backend);
  if (b == nullptr) return Status::InvalidArgument("unknown backend '" + backend + "'");
  for (ValueId id : slice.inputs()) {
    const Value& v = slice.value(id);
    if (!v.rank_known ||
        std::any_of(v.shape.begin(), v.shape.end(), [](int64_t d) { return d < 0; })) {
      return Status::InvalidArgument("band slice tensor '" + v.name +
                                     "' has an unknown shape: specialise the slice first");
    }
  }
  return std::unique_ptr<BandTarget>(std::make_unique<Local>(std::move(slice), b, options));
}

Result<std::unique_ptr<BandTarget>> RemoteBandTarget(const Graph& slice, net::EdgeClient* client,
                                                     std::string model,
                                                     net::TransferOptions transfer,
                                                     net::CallOptions call) {
  if (client == nullptr) return Status::InvalidArgument("remote band target without a client");
  if (model.empty()) return Status::InvalidArgument("remote band target without a model name");
  return std::unique_ptr<BandTarget>(std::make_unique<Remote>(
      slice, client, std::move(model), std::move(transfer), std::move(call)));
}

}  // namespace edgeinfer

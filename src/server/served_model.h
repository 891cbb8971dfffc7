// ServedModel: one loaded model version, executing any slice of its graph on request.
//
// A request names its input tensors (graph inputs or any intermediate tensor, by ONNX name)
// and the tensors it wants back (none: the model outputs). The slice between them is cut
// (Graph::Slice), specialised to the input shapes and compiled for the CPU backend once, then
// cached by (inputs, dtypes, shapes, outputs). Every model is profiled once at load (when its
// input shapes are static) so that each slice has an unloaded baseline for the load factor.
//
// Thread safety: all const methods may be called concurrently.
#ifndef EDGEINFER_SERVER_SERVED_MODEL_H_
#define EDGEINFER_SERVER_SERVED_MODEL_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/band.h"
#include "core/lru_cache.h"
#include "edgeinfer/session.h"
#include "ir/graph.h"
#include "ir/rows.h"

namespace edgeinfer::server {

struct ServedModelOptions {
  int threads = 0;         // kernel threads of each compiled slice; <= 0 all cores
  int profile_repeat = 3;  // timed runs of the load-time profile
  size_t max_slices = 32;  // compiled slices kept per model (least recently used dropped first)
  // Models with more nodes are refused at import (ResourceExhausted), before any per-node
  // work: load time grows with the node count. 0: no limit.
  size_t max_nodes = 0;
};

// Row-band geometry of a request (docs/protocol.md, "Row bands"): per banded input, the first
// row it holds and the full tensor's height; per requested output, the rows wanted.
struct InputRows {
  int64_t offset = 0;
  int64_t full_height = 0;
};
struct BandSpec {
  std::map<std::string, InputRows> inputs;
  std::map<std::string, RowRange> outputs;
  bool empty() const { return inputs.empty() && outputs.empty(); }
};

struct SliceResult {
  std::vector<NamedTensor> outputs;            // in the requested order
  std::map<std::string, int64_t> row_offsets;  // banded runs: first row each output holds
  int64_t compute_us = 0;                      // execution only, not compilation
  double load_factor = 1.0;                    // compute time / unloaded baseline of this slice
  bool compiled = false;                       // banded runs: this run compiled its band
};

class ServedModel {
 public:
  // Imports, verifies and profiles the model. `base_dir` resolves external data ("" forbids
  // it: uploaded models must be self-contained). Errors name the model.
  static Result<std::unique_ptr<ServedModel>> Create(const std::string& name,
                                                     const std::string& version,
                                                     const std::string& onnx_bytes,
                                                     const std::string& base_dir,
                                                     const ServedModelOptions& options);

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  size_t model_bytes() const { return model_bytes_; }
  // Total profiled milliseconds of the whole model at load; 0 when not profiled.
  double profiled_ms() const { return profiled_ms_; }
  // The load-time profile, one entry per executed step in execution order (fused steps are
  // '+'-joined, as Session::Profile names them; name, op and median_ms are set). Empty when
  // the model was not profiled (dynamic input shapes). Clients plan cuts from it.
  const std::vector<NodeProfile>& node_profile() const { return node_profile_; }

  // The model as imported (a collaborative host exports it to its peers).
  const Graph& graph() const { return graph_; }
  // The slice from `inputs` to `outputs` (empty: the model outputs), specialised to the
  // inputs' shapes. InvalidArgument as Run (unknown tensor, dtype or shape that does not fit).
  Result<Graph> Specialised(const std::vector<TensorInfo>& inputs,
                            const std::vector<std::string>& outputs = {}) const;

  // The dtype of tensor `name` anywhere in the graph; kUndefined when not known, NotFound when
  // there is no such tensor.
  Result<DType> TensorDType(const std::string& name) const;

  // Runs the slice from `inputs` to `outputs` (empty: the model outputs). With `band`, inputs
  // are row bands of their full tensors and only the wanted rows of each output are computed
  // (ir/rows.h); compiled bands are cached per slice. Errors: InvalidArgument (unknown tensor,
  // wrong dtype or shape, missing input, an intermediate input whose height is not the model's
  // without band geometry, geometry that does not fit, a halo too small), Internal.
  Result<SliceResult> Run(const std::vector<NamedTensor>& inputs,
                          const std::vector<std::string>& outputs, const BandSpec& band = {}) const;

 private:
  struct Slice {
    Graph graph;  // specialised
    std::unique_ptr<Executable> executable;
    std::vector<std::string> input_names;  // executable input order
    double baseline_us = 0.0;              // 0: learnt from the fastest run instead
    mutable std::atomic<int64_t> fastest_us{0};
  };

  explicit ServedModel(const ServedModelOptions& options)
      : options_(options), slices_(options.max_slices), band_runners_(options.max_slices) {}
  Result<std::shared_ptr<const Slice>> GetSlice(const std::vector<NamedTensor>& sorted_inputs,
                                                const std::vector<std::string>& outputs) const;
  Result<std::shared_ptr<Slice>> Compile(const std::vector<NamedTensor>& sorted_inputs,
                                         const std::vector<std::string>& outputs) const;
  // The slice from `sorted_inputs` to `outputs`, specialised to the inputs' shapes.
  Result<Graph> SpecialisedSlice(const std::vector<TensorInfo>& sorted_inputs,
                                 const std::vector<std::string>& outputs) const;
  Result<SliceResult> RunBand(const std::vector<NamedTensor>& sorted_inputs,
                              const std::vector<std::string>& outputs, const BandSpec& band) const;
  double Baseline(const Graph& specialised) const;
  Status ProfileAtLoad();

  std::string name_;
  std::string version_;
  ServedModelOptions options_;
  Graph graph_;                          // as imported
  std::map<std::string, DType> dtypes_;  // every tensor's dtype, after shape inference
  // Heights (axis 2) of the rank-4 tensors whose shape the model's declared inputs determine.
  std::map<std::string, int64_t> heights_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  size_t model_bytes_ = 0;
  double profiled_ms_ = 0.0;
  // Load-time profile per node name: milliseconds and output elements (to scale to batch).
  struct NodeCost {
    double ms = 0.0;
    int64_t numel = 0;
  };
  std::map<std::string, NodeCost> node_costs_;
  std::vector<NodeProfile> node_profile_;

  mutable std::mutex mu_;
  // Compiled slices by SliceKey, at most options_.max_slices; guarded by mu_.
  mutable LruCache<std::string, std::shared_ptr<const Slice>> slices_;
  // Band runners by slice (full shapes), each caching its compiled bands; guarded by mu_.
  mutable LruCache<std::string, std::shared_ptr<const BandRunner>> band_runners_;
};

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_SERVED_MODEL_H_

// Runs row bands of a graph on any backend (ir/rows.h has the row maps and the band pass).
//
// A BandRunner holds one graph specialised at its full shapes (a slice from the band's inputs
// to its outputs). Each Run takes the inputs' bands (rows held and their offset in the full
// tensor) and the rows wanted of each output, builds the band graph, specialises and compiles it
// on the backend, and runs it. Compiled bands are cached by the band's signature (pads, crops
// and heights, not absolute offsets), so bands of one height at positions congruent modulo the
// stage's stride share one compilation: quantise band boundaries with SplitRows to benefit.
// Thread safe: Run may be called concurrently.
#ifndef EDGEINFER_BACKEND_BAND_H_
#define EDGEINFER_BACKEND_BAND_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/lru_cache.h"
#include "edgeinfer/status.h"
#include "edgeinfer/tensor.h"
#include "ir/graph.h"
#include "ir/rows.h"

namespace edgeinfer {

// One input of a band run: the tensor holds rows [offset, offset + height) of the full tensor.
// Inputs that are not banded are given whole with offset 0.
struct BandTensor {
  std::string name;
  Tensor tensor;
  int64_t offset = 0;
};

struct BandResult {
  std::vector<BandTensor> outputs;  // in the graph's output order; offset = first row held
  bool compiled = false;            // this run compiled its band (a cache miss)
  double run_ms = 0.0;              // executing the band, compilation excluded
};

class BandRunner {
 public:
  // `full` must be specialised (every shape known). `full_heights` of banded inputs are read
  // from it.
  BandRunner(Graph full, const Backend* backend, CompileOptions options, size_t max_cached = 16);

  const Graph& graph() const { return full_; }

  // `wanted`: rows wanted per output name (outputs not listed: whole). Inputs are matched by
  // name; one whose height equals its full height and offset is 0 is whole. Errors name the
  // tensor (InvalidArgument for bad geometry, a halo too small, a node a band cannot pass).
  Result<BandResult> Run(const std::vector<BandTensor>& inputs,
                         const std::map<std::string, RowRange>& wanted) const;

  // Compiled bands held now.
  size_t cached() const;

 private:
  struct Compiled {
    std::unique_ptr<Executable> executable;
    std::vector<std::string> input_names;   // executable input order
    std::vector<std::string> output_names;  // executable output order
  };
  Graph full_;
  const Backend* backend_;
  CompileOptions options_;
  mutable std::mutex mu_;
  mutable LruCache<std::string, std::shared_ptr<const Compiled>> cache_;
};

}  // namespace edgeinfer

#endif  // EDGEINFER_BACKEND_BAND_H_

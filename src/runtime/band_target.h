// Where a row band runs: on this device or on an edge server. The building block of the
// collaborative mode (several servers each compute rows of a model's convolutional front).
//
// A band target runs one slice of a model (named inputs to named outputs) on row bands: each
// input is given as the rows it holds and their offset in the full tensor, and the caller asks
// for a row range of each output. The local target runs the band pass (ir/rows.h) on a backend
// through BandRunner; the remote target sends a band request (docs/protocol.md, "Row bands") to
// an edge server that holds the model. Both return the wanted rows with their offsets, so a
// caller stitches bands from any mix of targets the same way.
#ifndef EDGEINFER_RUNTIME_BAND_TARGET_H_
#define EDGEINFER_RUNTIME_BAND_TARGET_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/band.h"
#include "ir/graph.h"
#include "ir/rows.h"
#include "net/client.h"

namespace edgeinfer {

// One band run's outputs (offset = first row each holds) and, for remote runs, what it cost.
struct BandRun {
  std::vector<BandTensor> outputs;  // in the order of the target's outputs
  net::InferTiming timing;          // remote runs only
};

class BandTarget {
 public:
  virtual ~BandTarget() = default;
  // "local" or the server's address.
  virtual std::string where() const = 0;
  // The slice's inputs and outputs, and the full height (axis 2) of every rank-4 input.
  const std::vector<std::string>& inputs() const { return inputs_; }
  const std::vector<std::string>& outputs() const { return outputs_; }
  const std::map<std::string, int64_t>& full_heights() const { return full_heights_; }

  // Runs the band: `inputs` hold rows [offset, offset + height) of each full input (an input
  // given whole has offset 0 and its full height); `wanted` lists the rows wanted of outputs
  // (an output not listed comes whole). Every output of the slice is returned. Errors name the
  // tensor: InvalidArgument for geometry that does not fit or a halo too small; a remote
  // target passes on the server's status (UNAVAILABLE, DEADLINE_EXCEEDED, ...).
  virtual Result<BandRun> Run(const std::vector<BandTensor>& inputs,
                              const std::map<std::string, RowRange>& wanted) = 0;

 protected:
  std::vector<std::string> inputs_;
  std::vector<std::string> outputs_;
  std::map<std::string, int64_t> full_heights_;
};

// The slice of `model` from `inputs` to `outputs`, specialised to the full shapes of `inputs`
// (every shape known afterwards). InvalidArgument names an unknown tensor or a missing input.
Result<Graph> SpecialisedBandSlice(const Graph& model, const std::map<std::string, Shape>& inputs,
                                   const std::vector<std::string>& outputs);

// Runs bands on this device: `slice` from SpecialisedBandSlice (or any specialised graph) on the
// backend named `backend` ("cpu", "reference"). Compiled bands are cached (backend/band.h).
Result<std::unique_ptr<BandTarget>> LocalBandTarget(Graph slice, const std::string& backend,
                                                    CompileOptions options = {});

// Runs bands on an edge server that holds the model as `model` (EdgeClient::EnsureModel gives
// the name): `slice` (specialised, as above) names the inputs, outputs and full heights; its
// operators are not used here. `client` must outlive the target. `transfer` applies its
// compression and quantisation to every request. Replies are checked: an output that does not
// hold exactly the wanted rows is DataLoss.
Result<std::unique_ptr<BandTarget>> RemoteBandTarget(const Graph& slice, net::EdgeClient* client,
                                                     std::string model,
                                                     net::TransferOptions transfer = {},
                                                     net::CallOptions call = {});

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_BAND_TARGET_H_

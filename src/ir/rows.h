// Row bands: which rows of every tensor a range of output rows needs (row maps), and the graph
// that computes exactly those output rows from bands of its inputs (the band pass).
//
// Rows are along the height axis, axis 2 of a rank-4 NCHW tensor. A band of a tensor of full
// height H holds rows [offset, offset + rows) of it. Ops fall in three groups (NodeRowRule):
//  - pointwise in rows (elementwise ops, BatchNormalization, LRN, channel Concat): output row r
//    needs row r of every input that has the output's height; inputs broadcast along the height
//    (per-channel constants, [1,C,1,1] scales) are passed whole;
//  - windows (Conv, MaxPool, AveragePool): output rows [b, e) need input rows
//    [b*s - pad_top, (e-1)*s - pad_top + extent), extent = (kernel-1)*dilation + 1;
//  - stops (Flatten, Gemm, global pooling, Reshape, ...), where every output row needs every
//    input row, and refusals (Resize, ConvTranspose, Pad, Concat on the height axis, MaxPool's
//    Indices output), which this pass does not handle. A band ends before either; the error
//    names the node.
// Every function here needs the graph's shapes (run Specialize first) and is pure: thread safe
// on a const graph.
#ifndef EDGEINFER_IR_ROWS_H_
#define EDGEINFER_IR_ROWS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "edgeinfer/status.h"
#include "ir/graph.h"

namespace edgeinfer {

// Half-open row range [begin, end) along the height axis (axis 2 of NCHW).
struct RowRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  bool Contains(const RowRange& other) const { return other.begin >= begin && other.end <= end; }
  bool operator==(const RowRange& o) const { return begin == o.begin && end == o.end; }
  bool operator!=(const RowRange& o) const { return !(*this == o); }
  std::string ToString() const;  // "[3, 17)"
};

enum class RowRuleKind {
  kPointwise,    // output row r needs row r of each banded input
  kWindow,       // a sliding window along the height of input 0
  kStop,         // every output row needs every input row: a band ends before this node
  kUnsupported,  // local in rows, but not handled by the band pass: a band ends before it
};

// How one node maps output rows to input rows, resolved against the graph's full shapes.
struct RowRule {
  RowRuleKind kind = RowRuleKind::kStop;
  std::string reason;  // kStop / kUnsupported: why, naming the op and attribute
  // Per node input: true when the input is split into rows like the output (pointwise inputs of
  // the output's height, the data input of a window); false when it is passed whole (weights,
  // broadcast inputs, omitted inputs).
  std::vector<bool> banded;
  // kWindow only, along the height; pads are explicit (SAME auto_pad resolved).
  int64_t stride = 1;
  int64_t extent = 1;  // (kernel - 1) * dilation + 1
  int64_t pad_top = 0;
  int64_t pad_bottom = 0;
  int64_t pad_left = 0;  // width pads, kept by every band
  int64_t pad_right = 0;
  bool ceil_mode = false;
  int64_t in_height = 0;
  int64_t out_height = 0;

  // Input rows that output rows `out` need, not clamped (rows < 0 or >= in_height are padding).
  RowRange InputRows(RowRange out) const;
};

// The rule of node `node`. Error (InvalidArgument naming the node) when a shape it needs is
// unknown.
Result<RowRule> NodeRowRule(const Graph& graph, int node);

// The rows of one tensor a band needs.
struct RowNeed {
  bool needed = false;
  bool whole = false;  // the whole tensor (passed whole, or not rank 4)
  RowRange rows;       // clamped to [0, height); [0, height) when whole
};

struct RowMap {
  std::vector<RowNeed> values;                 // by ValueId
  std::vector<std::optional<RowRange>> nodes;  // output rows each needed node computes
  std::vector<RowRule> rules;                  // by node index (kStop for nodes not needed)
};

// For the graph's outputs and the output rows wanted of each (by output name; an output not
// listed is wanted whole), the rows every tensor on the way needs. `banded_inputs` names the
// graph inputs that arrive as row bands (empty: every rank-4 input). Errors (InvalidArgument)
// name the node where the band cannot pass (a stop or refusal that needs rows of a banded
// input), a wanted range outside its tensor, or a wanted output that is not rank 4.
Result<RowMap> MapRows(const Graph& graph, const std::map<std::string, RowRange>& wanted,
                       const std::vector<std::string>& banded_inputs = {});

// One input of a band: the rows it holds of the full tensor. Inputs not listed are held whole.
struct BandInput {
  std::string name;
  int64_t offset = 0;
  int64_t rows = 0;
};

// The band graph: computes the wanted rows of each output from the inputs' bands.
struct BandGraph {
  Graph graph;  // inputs keep their names with their band heights; inner shapes are cleared
                // (run Specialize); outputs keep their names and hold exactly the wanted rows
  std::map<std::string, RowRange> input_needs;  // rows of each banded input the band reads
  std::map<std::string, RowRange> output_rows;  // rows each output holds (the wanted ones)
  // Equal for two bands whose graphs are equal: pads, crops and heights, not absolute offsets
  // (two interior bands of one height at positions congruent modulo the stride share it).
  std::string signature;
};

// The band pass. `graph` is specialised at the full shapes (a slice from the band's inputs to
// its outputs); `inputs` gives the rows each banded input holds; `wanted` the rows wanted of
// each output (outputs not listed: whole). Pads are rewritten per band edge (interior edges get
// none, the border edges keep the model's; ceil_mode is kept, as it also rounds the width),
// Slice crops are inserted where a consumer needs fewer rows than its input holds, and nodes
// no wanted row depends on are dropped. Errors (InvalidArgument) name the tensor: an offset or
// height that does not fit its tensor, a band that does not hold the rows the wanted output rows
// need (a halo too small), or the node where the band cannot pass.
Result<BandGraph> MakeBandGraph(const Graph& graph, const std::vector<BandInput>& inputs,
                                const std::map<std::string, RowRange>& wanted);

// Where a row band must stop in a whole graph: the values that end its spatial front (produced
// by pointwise/window nodes reachable from the graph's rank-4 inputs, and consumed by a node that
// is not, or a graph output), and the first node (topological order) that stops the front, with
// its reason. Empty values when the first node already stops it.
struct SpatialFront {
  std::vector<std::string> values;
  std::string stop_node;  // empty when the front reaches the graph outputs
  std::string stop_reason;
};
Result<SpatialFront> FindSpatialFront(const Graph& graph);

// The product of the strides of the window nodes on the longest-stride path from `from` to
// `to` (the stage's total stride: an output row boundary moved by one row moves its input
// boundary by this many rows). 1 when there is none.
Result<int64_t> TotalRowStride(const Graph& graph, const std::string& from, const std::string& to);

// Splits [0, height) into weights.size() contiguous non-empty ranges proportional to the
// weights, with every inner boundary a multiple of `quantum` (so that a slowly changing split
// reuses compiled bands). Ranges may be empty when there are more parts than quanta.
// InvalidArgument on a non-positive height, quantum, or weight sum.
Result<std::vector<RowRange>> SplitRows(int64_t height, const std::vector<double>& weights,
                                        int64_t quantum = 1);

}  // namespace edgeinfer

#endif  // EDGEINFER_IR_ROWS_H_

// The collaborative planner: stage boundaries and segment heights for several edge servers that
// compute the spatial front of a CNN together (HALP, arXiv 2207.11294; MoDNN as a baseline).
//
// A host server holds the whole input of each stage (the layers between two synchronisation
// points). It splits the stage's output rows into one segment per server, sends each peer the
// input rows of its segment as a band request (docs/protocol.md, "Row bands"), computes its own
// segment, and stitches the peers' rows into the stage output, which is the next stage's input.
// After the last stage the host runs the non-spatial tail (the classifier) alone.
//
//  - HALP: stages end at each down-sampling layer (conv-conv-pool for VGG). A peer receives a
//    disjoint segment of the stage input without halo and computes only the output rows whose
//    receptive field lies inside it (its interior); the host computes its own segment and the
//    overlap zones between the peers' interiors, while the segments are on the wire.
//  - MoDNN: a stage per layer (every synchronisation point). The output rows are split by speed;
//    each peer receives its rows plus the halo and the host computes only its own segment.
//
// The cost model is in docs/planner.md ("Collaborative mode"). Every function is pure and thread
// safe; AnalyseCollab needs a specialised graph (static shapes).
#ifndef EDGEINFER_PLANNER_COLLAB_PLAN_H_
#define EDGEINFER_PLANNER_COLLAB_PLAN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgeinfer/status.h"
#include "ir/graph.h"
#include "ir/rows.h"

namespace edgeinfer::planner {

enum class CollabScheme { kHalp, kModnn };
const char* CollabSchemeName(CollabScheme scheme);  // "halp", "modnn"
// "halp" or "modnn"; InvalidArgument naming the text otherwise.
Result<CollabScheme> ParseCollabScheme(std::string_view text);

// One stage: the nodes between two synchronisation points, from one full tensor to another.
struct CollabStage {
  std::string input;   // held whole by the host when the stage starts
  std::string output;  // stitched whole at the host when it ends
  int64_t in_height = 0;
  int64_t out_height = 0;
  int64_t in_row_bytes = 0;   // bytes of one row of the input (batch x channels x width x dtype)
  int64_t out_row_bytes = 0;  // the same for the output
  double flops = 0.0;         // of the stage's nodes (ir/flops.h)
  int nodes = 0;
  // Per output row r: the input rows it needs, [need_begin[r], need_end[r]), clamped to the
  // input; both are non-decreasing in r, so rows [p, q) need [need_begin[p], need_end[q - 1]).
  std::vector<int64_t> need_begin;
  std::vector<int64_t> need_end;
  RowRange Needs(RowRange out) const;
};

// The stages of a model under a scheme. Empty stages (with `why_none`) when the model has no
// spatial front a band can run (several inputs, a first node that is not spatially local).
struct CollabModel {
  std::vector<CollabStage> stages;
  std::string front;         // the last stage's output: the tail runs from it to the outputs
  double front_flops = 0.0;  // FLOPs of every stage
  double total_flops = 0.0;  // FLOPs of the whole model (stages and tail)
  std::string why_none;
};

// Finds the synchronisation points: the cuts of the topological order where one rank-4 tensor
// alone crosses, inside the spatial front (every earlier node pointwise or a window in rows).
// HALP keeps those where the height went down since the previous stage boundary, and the last;
// MoDNN keeps every one. Errors: a graph whose shapes are not known (InvalidArgument).
Result<CollabModel> AnalyseCollab(const Graph& graph, CollabScheme scheme);

// One server as the planner sees it. Server 0 is the host.
struct CollabServer {
  double speed = 1.0;           // relative to the host's unloaded profile (the host: 1)
  double load_factor = 1.0;     // k: its compute time over its unloaded time
  double bandwidth_mbit = 0.0;  // link host <-> server, Mbit/s; <= 0: not usable (host: unused)
  double rtt_ms = 0.0;
  bool usable = true;  // false: down, never given work
};

// A peer's part of a stage: the input rows it is sent and the output rows it computes.
struct StageTask {
  size_t server = 0;  // index into the servers given to PlanCollab (>= 1)
  RowRange input;
  RowRange output;
  double predicted_ms = 0.0;  // transfer both ways, RTT and compute
};

struct StagePlan {
  std::vector<StageTask> tasks;     // peers with work, top to bottom
  std::vector<RowRange> host_rows;  // output rows the host computes (own segment, overlaps)
  std::vector<int64_t> rows;        // per server: output rows it computes
  double host_ms = 0.0;             // predicted host compute
  double predicted_ms = 0.0;        // max over the servers
};

struct CollabPlan {
  CollabScheme scheme = CollabScheme::kHalp;
  std::vector<StagePlan> stages;  // one per CollabModel stage
  double tail_ms = 0.0;           // the tail at the host
  double predicted_ms = 0.0;      // stages + tail
  double host_alone_ms = 0.0;     // the whole model at the host
  int servers_used = 1;           // servers with work in some stage, the host included
};

// Plans one request: per stage, the heights that make every server finish together under the
// cost model (docs/planner.md), the concrete segments, and the host alone for a stage where
// collaborating is predicted slower. `host_ms_per_gflop`: the host's unloaded compute time per
// GFLOP (its profile / the model's FLOPs). `servers[0]` is the host.
CollabPlan PlanCollab(const CollabModel& model, const std::vector<CollabServer>& servers,
                      double host_ms_per_gflop, CollabScheme scheme);

// "stage 1  data -> pool1  224 -> 112 rows  3 nodes  host [0, 60) | peer1 [60, 112) ..." lines.
std::string DescribeCollabPlan(const CollabModel& model, const CollabPlan& plan);

}  // namespace edgeinfer::planner

#endif  // EDGEINFER_PLANNER_COLLAB_PLAN_H_

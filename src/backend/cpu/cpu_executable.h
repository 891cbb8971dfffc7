// The compiled form of a graph on the oneDNN CPU backend: slots (where each tensor's bytes
// live during a run) and steps (primitives or fallback kernels) executed in order.
//
// Everything here is immutable after construction except a pool of per-run states (activation
// arena, oneDNN stream and memory objects), which a Run leases exclusively and returns: steady
// state runs allocate only their output tensors, and concurrent Runs are safe.
#ifndef EDGEINFER_BACKEND_CPU_CPU_EXECUTABLE_H_
#define EDGEINFER_BACKEND_CPU_CPU_EXECUTABLE_H_

#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "ir/graph.h"

namespace edgeinfer::cpu {

// Where the bytes of one tensor (in one layout) live during a run.
struct Slot {
  enum class Kind {
    kArena,     // offset into the per-run arena (shared with dead slots)
    kInput,     // the caller's input `index` (read only)
    kOutput,    // the output tensor `index` allocated by Run
    kConstant,  // `constant`, owned by the executable (read only)
    kAlias,     // the bytes of root slot `index`, seen with another shape or desc
  };
  Kind kind = Kind::kArena;
  int index = -1;
  size_t offset = 0;
  size_t bytes = 0;
  DType dtype = DType::kFloat32;
  Shape shape;              // logical dims
  bool plain = true;        // row-major contiguous over `shape`
  bool has_desc = false;    // false for dtypes oneDNN does not know (int64, bool, ...)
  dnnl::memory::desc desc;  // the layout oneDNN sees
  Tensor constant;
};

// Per-run state handed to each step. One exists per concurrent run; it is reused by later runs,
// so the arena's pages, the memory objects and the argument maps are built once.
struct RunContext {
  const dnnl::engine* engine = nullptr;
  dnnl::stream* stream = nullptr;
  const std::vector<Slot>* slots = nullptr;
  std::vector<void*> ptr;            // by slot: the resolved address of its bytes
  std::vector<dnnl::memory> memory;  // by slot: over ptr[s]; empty without a desc
  dnnl::memory scratchpad;           // shared by all steps (they run in order)
  size_t step = 0;                   // index of the executing step
  std::vector<std::unordered_map<int, dnnl::memory>> step_args;  // by step, built on first use
};

class Step {
 public:
  virtual ~Step() = default;
  // Runs the step. Must not modify the step (concurrent runs share it).
  virtual Status Execute(RunContext* ctx) const = 0;
  // True for a step that runs an op's naive reference kernel (reported by profiles).
  virtual bool reference() const { return false; }

  std::vector<int> nodes;   // graph node indices covered
  std::vector<int> reads;   // slots read
  std::vector<int> writes;  // slots written
  std::string label;        // "Conv node 'c1'", used in errors
};

// One oneDNN primitive with its arguments bound to slots.
class DnnlStep : public Step {
 public:
  DnnlStep(dnnl::primitive primitive, std::vector<std::pair<int, int>> args, size_t scratchpad)
      : primitive_(std::move(primitive)), args_(std::move(args)), scratchpad_bytes_(scratchpad) {}
  Status Execute(RunContext* ctx) const override;
  size_t scratchpad_bytes() const { return scratchpad_bytes_; }
  // oneDNN's own reference implementations ("ref:any": a scalar loop) count as reference
  // kernels in profiles too.
  bool reference() const override { return onednn_reference_; }
  void set_onednn_reference(bool r) { onednn_reference_ = r; }

 private:
  dnnl::primitive primitive_;
  std::vector<std::pair<int, int>> args_;  // (DNNL_ARG_*, slot)
  size_t scratchpad_bytes_;
  bool onednn_reference_ = false;
};

// A node run by its reference kernel on plain slots (the fallback for every op).
class ReferenceStep : public Step {
 public:
  ReferenceStep(const Graph* graph, int node, std::vector<int> in_slots, std::vector<int> out_slots)
      : graph_(graph),
        node_(node),
        in_slots_(std::move(in_slots)),
        out_slots_(std::move(out_slots)) {}
  Status Execute(RunContext* ctx) const override;
  bool reference() const override { return true; }

 private:
  const Graph* graph_;
  int node_;
  std::vector<int> in_slots_;   // -1 for an omitted input
  std::vector<int> out_slots_;  // -1 for an omitted output
};

// Copies the bytes of one plain slot into another of the same size.
class CopyStep : public Step {
 public:
  CopyStep(int src, int dst) : src_(src), dst_(dst) {}
  Status Execute(RunContext* ctx) const override;

 private:
  int src_;
  int dst_;
};

// Fills a plain float32 slot with one value (the border of a constant Pad), threaded.
class FillStep : public Step {
 public:
  FillStep(int dst, float value) : dst_(dst), value_(value) {}
  Status Execute(RunContext* ctx) const override;

 private:
  int dst_;
  float value_;
};

// Concatenation as memory copies: for every outer index o in [0, outer) and every part, the
// `chunk` bytes at src + o * chunk go to dst + o * dst_stride + dst_offset. This is a concat
// whose inputs share the output's layout (plain, nhwc or blocked nChw8c/16c with the concat
// axis on block boundaries), so each input is a run of whole rows of the output. Threaded over
// (outer index, piece of part) units; large parts are cut into pieces so that a concat with
// few outer indices (plain or blocked NCHW, batch 1) still spreads over the threads.
class ConcatCopyStep : public Step {
 public:
  struct Part {
    int src = -1;
    size_t chunk = 0;       // bytes of this input per outer index
    size_t dst_offset = 0;  // where those bytes start within each outer index of the output
  };
  ConcatCopyStep(int dst, size_t outer, size_t dst_stride, std::vector<Part> parts);
  Status Execute(RunContext* ctx) const override;

 private:
  int dst_;
  size_t outer_;
  size_t dst_stride_;
  std::vector<Part> parts_;
  std::vector<size_t> first_piece_;  // by part, then the total: prefix sums of pieces per part
};

class CpuExecutable : public Executable {
 public:
  // `graph` is the compiled graph (steps refer to it); `steps` run in order.
  CpuExecutable(std::unique_ptr<Graph> graph, dnnl::engine engine, std::vector<Slot> slots,
                std::vector<std::unique_ptr<Step>> steps, int threads);

  Status Run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) const override;
  Status RunProfiled(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                     std::vector<StepTiming>* timings) const override;
  const Graph& graph() const override { return *graph_; }

  size_t arena_bytes() const { return arena_bytes_; }
  size_t num_steps() const { return steps_.size(); }
  const std::vector<std::unique_ptr<Step>>& steps() const { return steps_; }
  // Per-run states created so far (at most the peak number of concurrent runs).
  size_t num_run_states() const;

 private:
  struct RunState {
    Tensor block;  // the arena, then the scratchpad
    dnnl::stream stream;
    RunContext ctx;
  };
  // Assigns arena offsets so that slots live at the same time never overlap.
  void PlanArena();
  Status RunImpl(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                 std::vector<StepTiming>* timings) const;
  std::unique_ptr<RunState> NewRunState() const;
  std::unique_ptr<RunState> Acquire() const;
  void Release(std::unique_ptr<RunState> state) const;

  std::unique_ptr<Graph> graph_;
  dnnl::engine engine_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Step>> steps_;
  int threads_;
  size_t arena_bytes_ = 0;
  size_t scratchpad_bytes_ = 0;
  std::vector<int> io_slots_;  // slots whose bytes are the caller's inputs or outputs, by run

  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<RunState>> idle_;  // guarded by pool_mu_
  mutable size_t created_ = 0;                           // guarded by pool_mu_
};

}  // namespace edgeinfer::cpu

#endif  // EDGEINFER_BACKEND_CPU_CPU_EXECUTABLE_H_

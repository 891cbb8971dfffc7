// Compiles a specialised graph into a CpuExecutable: plans fusions, creates oneDNN primitives,
// reorders constant weights once, chooses layouts and binds every tensor to a slot.
//
// Layout policy: convolution, deconvolution and pooling let oneDNN pick their layouts
// (format_tag::any, usually blocked nChw8c/16c); layout-agnostic ops (eltwise, binary, batch
// norm, LRN, resampling, concat) run in the layout their main input already has; everything
// else, graph outputs and reshapes see plain row-major tensors. A reorder is inserted where a
// consumer needs another layout, and each (tensor, layout) pair is materialised at most once.
#ifndef EDGEINFER_BACKEND_CPU_CPU_COMPILER_H_
#define EDGEINFER_BACKEND_CPU_CPU_COMPILER_H_

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "backend/cpu/cpu_executable.h"
#include "ir/graph.h"

namespace edgeinfer::cpu {

// One oneDNN eltwise operation (also used as a post-op).
struct EltwiseOp {
  dnnl::algorithm alg;
  float alpha = 0.f;
  float beta = 0.f;
};

// A chain of nodes executed as one primitive: a head (Conv, Gemm, MatMul), an optional
// BatchNormalization folded into a Conv's weights, then post-ops in order.
struct FusionGroup {
  struct PostOp {
    bool is_sum = false;
    EltwiseOp eltwise;            // when !is_sum
    ValueId residual = kNoValue;  // when is_sum: the other operand of the Add
  };
  std::vector<int> nodes;  // head first, then the fused nodes in dependency order
  int batch_norm = -1;     // folded BatchNormalization node, -1 if none
  // Conv only: x * scale + shift applied right after the convolution (and its batch norm),
  // folded into the weights and bias (constant scalar Mul/Add/Sub/Div nodes).
  float conv_scale = 1.f;
  float conv_shift = 0.f;
  // MatMul only: the constant [N] operand of a following Add, applied as the GEMM's bias.
  ValueId matmul_bias = kNoValue;
  std::vector<PostOp> post_ops;
  ValueId output = kNoValue;  // the value the last fused node produces
};

// Maps a node to oneDNN eltwise ops (several for ops oneDNN composes, like HardSigmoid).
// False when the node is not expressible (non-constant Clip bounds, unsupported op). Add, Sub,
// Mul and Div with a constant scalar operand are linear ops (x * a + b) on the other operand.
bool EltwiseFor(const Graph& graph, const Node& node, std::vector<EltwiseOp>* ops);
// The input an eltwise node (as EltwiseFor maps it) applies to: the first, except for
// Add, Sub and Mul with the constant scalar first.
ValueId EltwiseInput(const Graph& graph, const Node& node);

// For each node, the group it heads or belongs to (-1: runs on its own).
struct FusionPlan {
  std::vector<FusionGroup> groups;
  std::vector<int> group_of;  // by node index
};
FusionPlan PlanFusions(const Graph& graph);

class Compiler {
 public:
  Compiler(Graph graph, int threads);
  Result<std::unique_ptr<Executable>> Compile();

  // --- used by the op emitters ---
  const Graph& graph() const { return *graph_; }
  const dnnl::engine& engine() const { return engine_; }
  const Slot& slot(int s) const { return slots_[static_cast<size_t>(s)]; }
  // A primitive attribute with the user-managed scratchpad every step uses.
  static dnnl::primitive_attr Attr();

  // The slot holding `v` as first produced.
  int Primary(ValueId v) const { return value_slot_[static_cast<size_t>(v)]; }
  // `v` in layout `desc` (its dims must be v's shape), adding a reorder when needed.
  int SlotIn(ValueId v, const dnnl::memory::desc& desc);
  // `v` as a plain row-major tensor.
  int PlainSlot(ValueId v);
  // A view of plain slot `s` with another desc over the same bytes (e.g. padded rank).
  int View(int s, const dnnl::memory::desc& desc);
  // A fresh arena slot for value `v` in layout `desc` (plain if it is row-major over v).
  int NewValueSlot(ValueId v, const dnnl::memory::desc& desc);
  // A fresh arena slot of `bytes` holding the given layout (no value).
  int NewScratchSlot(const dnnl::memory::desc& desc);
  // A constant slot holding `bytes` in layout `desc`.
  int ConstantSlot(Tensor bytes, const dnnl::memory::desc& desc);
  // `src` (a plain f32 tensor seen through `src_desc`) reordered into `dst_desc`, once.
  Result<int> ReorderedConstant(const Tensor& src, const dnnl::memory::desc& src_desc,
                                const dnnl::memory::desc& dst_desc);
  // True if the bytes of `v` may be overwritten in place by the step being emitted: that step
  // is v's last use (every other consumer was emitted before it and v is no graph output), and
  // v's slot is an unshared arena slot in layout `desc`.
  bool CanOverwrite(ValueId v, const dnnl::memory::desc& desc) const;
  void Define(ValueId v, int s) { value_slot_[static_cast<size_t>(v)] = s; }
  // Appends a primitive step; reads/writes are derived from the argument kinds.
  void AddDnnlStep(const dnnl::primitive_desc_base& pd, dnnl::primitive prim,
                   std::vector<std::pair<int, int>> args, std::vector<int> nodes);
  // Appends a reorder between two slots (no caching).
  void AddReorder(int src, int dst, std::vector<int> nodes);
  // Appends a step that sets every float of plain slot `dst` to `value`.
  void AddFill(int dst, float value, std::vector<int> nodes);
  // Appends a step built by an emitter (its reads and writes already set), labelled by the
  // first of `nodes`.
  void AddStep(std::unique_ptr<Step> step, std::vector<int> nodes);
  int NodeIndex(const Node& node) const;

 private:
  struct Checkpoint {
    size_t steps, reorders, plains;
  };
  Status EmitNode(int n);
  Status EmitGroup(const FusionGroup& group);
  Status EmitReference(int n);
  void EmitAliasOrCopy(int n);
  Status FinishOutputs();
  // Called once every consumer of constant `v` is emitted: if no step reads its plain bytes
  // (each consumer took a reordered copy), the slot and the graph drop them. When the caller
  // moved its graph in, this frees each plain weight right after its packed copy is made, so
  // the weights are never all held twice.
  void ReleaseUnreadConstant(ValueId v);
  Checkpoint Save() const { return {steps_.size(), reorder_cache_.size(), plain_cache_.size()}; }
  void Restore(const Checkpoint& c);
  // Runs an emitter; a thrown dnnl::error or a `false` result rolls back what it added.
  template <typename Fn>
  bool TryEmit(Fn&& fn);

  std::unique_ptr<Graph> graph_;
  int threads_;
  dnnl::engine engine_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Step>> steps_;
  std::vector<int> value_slot_;
  std::vector<int> use_count_;     // node-input uses plus graph-output uses, by value
  std::vector<int> pending_uses_;  // use_count_ minus the uses by nodes already emitted
  std::vector<int> alias_count_;   // views created over each slot
  struct CachedSlot {
    ValueId value;
    dnnl::memory::desc desc;
    int slot;
  };
  std::vector<CachedSlot> reorder_cache_;
  std::vector<std::pair<ValueId, int>> plain_cache_;
};

// Per-op emitters. Each returns true when it appended the steps computing its node(s) and
// defined their outputs, false when the configuration has no oneDNN path (the caller falls
// back to the reference kernel). They may throw dnnl::error, which also means "fall back".
bool EmitConvGroup(Compiler& c, const FusionGroup& group);
bool EmitMatMulGroup(Compiler& c, const FusionGroup& group);
bool EmitConvTranspose(Compiler& c, const Node& node);
bool EmitPool(Compiler& c, const Node& node);
bool EmitBatchNorm(Compiler& c, const Node& node);
// A group of BatchNormalization then Relu (oneDNN's fused normalisation and ReLU).
bool EmitBatchNormRelu(Compiler& c, const FusionGroup& group);
bool EmitEltwise(Compiler& c, const Node& node);
bool EmitBinary(Compiler& c, const Node& node);
bool EmitSoftmax(Compiler& c, const Node& node);
bool EmitLrn(Compiler& c, const Node& node);
bool EmitConcat(Compiler& c, const Node& node);
bool EmitResample(Compiler& c, const Node& node);
bool EmitPRelu(Compiler& c, const Node& node);
bool EmitLayerNorm(Compiler& c, const Node& node);
bool EmitTranspose(Compiler& c, const Node& node);
bool EmitReduce(Compiler& c, const Node& node);
bool EmitSlice(Compiler& c, const Node& node);
bool EmitPad(Compiler& c, const Node& node);

// Helpers shared by emitters.
dnnl::memory::dims ToDims(const Shape& shape);
// `shape` with leading 1s up to `rank` (the alignment of numpy-style broadcasting).
Shape PadRank(const Shape& shape, size_t rank);
// Row-major desc over `shape`; has_value false for dtypes oneDNN lacks.
bool PlainDesc(const Shape& shape, DType dtype, dnnl::memory::desc* desc);
dnnl::memory::desc PlainF32(const Shape& shape);
bool IsF32(const Graph& g, ValueId v);
// The channel-last layout over `shape` (nwc, nhwc, ndhwc) for rank 3 to 5; false otherwise.
bool ChannelLastDesc(const Shape& shape, dnnl::memory::desc* desc);
// Whether `perm` moves the channel axis last (0, 2, ..., r-1, 1) or back first
// (0, r-1, 1, ..., r-2), for rank 3 to 5.
bool IsToChannelLast(const std::vector<int64_t>& perm);
bool IsToChannelFirst(const std::vector<int64_t>& perm);
// Post-ops for a group (sum and eltwise), in order.
dnnl::post_ops MakePostOps(const FusionGroup& group);

}  // namespace edgeinfer::cpu

#endif  // EDGEINFER_BACKEND_CPU_CPU_COMPILER_H_

#include "backend/cpu/cpu_compiler.h"

#include <algorithm>
#include <string>

#include "backend/backend_util.h"
#include "ops/fuse_patterns.h"
#include "ops/op_registry.h"

namespace edgeinfer::cpu {

using dnnl::memory;

memory::dims ToDims(const Shape& shape) { return memory::dims(shape.begin(), shape.end()); }

Shape PadRank(const Shape& shape, size_t rank) {
  Shape out(rank - shape.size(), 1);
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

bool PlainDesc(const Shape& shape, DType dtype, memory::desc* desc) {
  memory::data_type dt;
  switch (dtype) {
    case DType::kFloat32:
      dt = memory::data_type::f32;
      break;
    case DType::kInt32:
      dt = memory::data_type::s32;
      break;
    case DType::kInt8:
      dt = memory::data_type::s8;
      break;
    case DType::kUInt8:
      dt = memory::data_type::u8;
      break;
    default:
      return false;
  }
  if (shape.empty() || shape.size() > DNNL_MAX_NDIMS) return false;
  memory::dims strides(shape.size());
  memory::dim stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] <= 0) return false;
    strides[i] = stride;
    stride *= shape[i];
  }
  *desc = memory::desc(ToDims(shape), dt, strides);
  return true;
}

namespace {

Shape DimsOf(const memory::desc& desc) {
  memory::dims dims = desc.dims();
  return Shape(dims.begin(), dims.end());
}

}  // namespace

memory::desc PlainF32(const Shape& shape) {
  memory::desc d;
  PlainDesc(shape, DType::kFloat32, &d);
  return d;
}

bool IsF32(const Graph& g, ValueId v) {
  return v != kNoValue && g.value(v).dtype == DType::kFloat32;
}

bool ChannelLastDesc(const Shape& shape, memory::desc* desc) {
  memory::format_tag tag;
  switch (shape.size()) {
    case 3:
      tag = memory::format_tag::acb;
      break;
    case 4:
      tag = memory::format_tag::acdb;
      break;
    case 5:
      tag = memory::format_tag::acdeb;
      break;
    default:
      return false;
  }
  for (int64_t d : shape) {
    if (d <= 0) return false;
  }
  *desc = memory::desc(ToDims(shape), memory::data_type::f32, tag);
  return true;
}

bool IsToChannelLast(const std::vector<int64_t>& perm) {
  const auto r = static_cast<int64_t>(perm.size());
  if (r < 3 || r > 5 || perm[0] != 0 || perm[static_cast<size_t>(r - 1)] != 1) return false;
  for (int64_t k = 1; k < r - 1; ++k) {
    if (perm[static_cast<size_t>(k)] != k + 1) return false;
  }
  return true;
}

bool IsToChannelFirst(const std::vector<int64_t>& perm) {
  const auto r = static_cast<int64_t>(perm.size());
  if (r < 3 || r > 5 || perm[0] != 0 || perm[1] != r - 1) return false;
  for (int64_t k = 2; k < r; ++k) {
    if (perm[static_cast<size_t>(k)] != k - 1) return false;
  }
  return true;
}

dnnl::post_ops MakePostOps(const FusionGroup& group) {
  dnnl::post_ops po;
  for (const FusionGroup::PostOp& p : group.post_ops) {
    if (p.is_sum) {
      po.append_sum(1.f);
    } else {
      po.append_eltwise(1.f, p.eltwise.alg, p.eltwise.alpha, p.eltwise.beta);
    }
  }
  return po;
}

Compiler::Compiler(Graph graph, int threads)
    : graph_(std::make_unique<Graph>(std::move(graph))),
      threads_(threads),
      engine_(dnnl::engine::kind::cpu, 0) {}

dnnl::primitive_attr Compiler::Attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

int Compiler::NodeIndex(const Node& node) const {
  return static_cast<int>(&node - graph_->nodes().data());
}

int Compiler::NewValueSlot(ValueId v, const memory::desc& desc) {
  const Value& value = graph_->value(v);
  Slot s;
  s.kind = Slot::Kind::kArena;
  s.dtype = value.dtype;
  s.shape = value.shape;
  s.has_desc = desc.data.ndims > 0;
  if (s.has_desc) {
    s.desc = desc;
    s.bytes = desc.get_size();
    memory::desc plain;
    s.plain = PlainDesc(value.shape, value.dtype, &plain) && plain == desc;
  } else {
    s.bytes = static_cast<size_t>(NumElements(value.shape)) * DTypeSize(value.dtype);
    s.plain = true;
  }
  slots_.push_back(std::move(s));
  alias_count_.push_back(0);
  return static_cast<int>(slots_.size() - 1);
}

int Compiler::NewScratchSlot(const memory::desc& desc) {
  Slot s;
  s.kind = Slot::Kind::kArena;
  s.shape = DimsOf(desc);
  s.has_desc = true;
  s.desc = desc;
  s.bytes = desc.get_size();
  s.plain = PlainF32(s.shape) == desc;
  slots_.push_back(std::move(s));
  alias_count_.push_back(0);
  return static_cast<int>(slots_.size() - 1);
}

int Compiler::ConstantSlot(Tensor bytes, const memory::desc& desc) {
  Slot s;
  s.kind = Slot::Kind::kConstant;
  s.shape = DimsOf(desc);
  s.has_desc = true;
  s.desc = desc;
  s.bytes = desc.get_size();
  s.plain = PlainF32(s.shape) == desc;
  s.constant = std::move(bytes);
  slots_.push_back(std::move(s));
  alias_count_.push_back(0);
  return static_cast<int>(slots_.size() - 1);
}

int Compiler::View(int s, const memory::desc& desc) {
  int root = slots_[static_cast<size_t>(s)].kind == Slot::Kind::kAlias
                 ? slots_[static_cast<size_t>(s)].index
                 : s;
  Slot v;
  v.kind = Slot::Kind::kAlias;
  v.index = root;
  v.dtype = slots_[static_cast<size_t>(s)].dtype;
  v.shape = DimsOf(desc);
  v.has_desc = true;
  v.desc = desc;
  v.bytes = desc.get_size();
  memory::desc plain;
  v.plain = PlainDesc(v.shape, v.dtype, &plain) && plain == desc;
  slots_.push_back(std::move(v));
  alias_count_.push_back(0);
  ++alias_count_[static_cast<size_t>(root)];
  return static_cast<int>(slots_.size() - 1);
}

Result<int> Compiler::ReorderedConstant(const Tensor& src, const memory::desc& src_desc,
                                        const memory::desc& dst_desc) {
  // Same layout: share the graph's bytes rather than holding the weights twice.
  if (src_desc == dst_desc && src.nbytes() == dst_desc.get_size()) {
    return ConstantSlot(src, dst_desc);
  }
  Tensor out = Tensor::Empty(DType::kUInt8, {static_cast<int64_t>(dst_desc.get_size())});
  dnnl::stream stream(engine_);
  memory src_mem(src_desc, engine_, const_cast<void*>(src.raw_data()));
  memory dst_mem(dst_desc, engine_, out.raw_data());
  dnnl::reorder(src_mem, dst_mem).execute(stream, src_mem, dst_mem);
  stream.wait();
  return ConstantSlot(std::move(out), dst_desc);
}

void Compiler::AddDnnlStep(const dnnl::primitive_desc_base& pd, dnnl::primitive prim,
                           std::vector<std::pair<int, int>> args, std::vector<int> nodes) {
  auto step = std::make_unique<DnnlStep>(std::move(prim), args, pd.scratchpad_desc().get_size());
  step->set_onednn_reference(std::string(pd.impl_info_str()).rfind("ref", 0) == 0);
  for (const auto& [arg, slot] : args) {
    // The destination is also read: sum post-ops accumulate into it.
    step->reads.push_back(slot);
    if (arg == DNNL_ARG_DST) step->writes.push_back(slot);
  }
  step->label = nodes.empty() ? std::string("reorder")
                              : NodeLabel(graph_->nodes()[static_cast<size_t>(nodes.front())]);
  step->nodes = std::move(nodes);
  steps_.push_back(std::move(step));
}

void Compiler::AddReorder(int src, int dst, std::vector<int> nodes) {
  dnnl::reorder::primitive_desc pd(engine_, slot(src).desc, engine_, slot(dst).desc, Attr());
  AddDnnlStep(pd, dnnl::reorder(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, std::move(nodes));
}

void Compiler::AddFill(int dst, float value, std::vector<int> nodes) {
  auto step = std::make_unique<FillStep>(dst, value);
  step->writes = {dst};
  step->label = nodes.empty() ? std::string("fill")
                              : NodeLabel(graph_->nodes()[static_cast<size_t>(nodes.front())]);
  step->nodes = std::move(nodes);
  steps_.push_back(std::move(step));
}

void Compiler::AddStep(std::unique_ptr<Step> step, std::vector<int> nodes) {
  step->label = nodes.empty() ? std::string("copy")
                              : NodeLabel(graph_->nodes()[static_cast<size_t>(nodes.front())]);
  step->nodes = std::move(nodes);
  steps_.push_back(std::move(step));
}

int Compiler::PlainSlot(ValueId v) {
  int p = Primary(v);
  if (slot(p).plain) return p;
  for (const auto& [value, s] : plain_cache_) {
    if (value == v) return s;
  }
  memory::desc plain;
  PlainDesc(graph_->value(v).shape, graph_->value(v).dtype, &plain);
  int s = NewValueSlot(v, plain);
  int producer = graph_->value(v).producer;
  AddReorder(p, s, producer >= 0 ? std::vector<int>{producer} : std::vector<int>{});
  plain_cache_.emplace_back(v, s);
  return s;
}

int Compiler::SlotIn(ValueId v, const memory::desc& desc) {
  int p = Primary(v);
  if (slot(p).has_desc && slot(p).desc == desc) return p;
  memory::desc plain;
  if (PlainDesc(graph_->value(v).shape, graph_->value(v).dtype, &plain) && plain == desc) {
    return PlainSlot(v);
  }
  for (const CachedSlot& c : reorder_cache_) {
    if (c.value == v && c.desc == desc) return c.slot;
  }
  int s = NewValueSlot(v, desc);
  int producer = graph_->value(v).producer;
  AddReorder(p, s, producer >= 0 ? std::vector<int>{producer} : std::vector<int>{});
  reorder_cache_.push_back({v, desc, s});
  return s;
}

bool Compiler::CanOverwrite(ValueId v, const memory::desc& desc) const {
  if (pending_uses_[static_cast<size_t>(v)] != 1) return false;
  int p = Primary(v);
  const Slot& s = slot(p);
  return s.kind == Slot::Kind::kArena && alias_count_[static_cast<size_t>(p)] == 0 && s.has_desc &&
         s.desc == desc;
}

void Compiler::Restore(const Checkpoint& c) {
  steps_.resize(c.steps);
  reorder_cache_.resize(c.reorders);
  plain_cache_.resize(c.plains);
}

template <typename Fn>
bool Compiler::TryEmit(Fn&& fn) {
  Checkpoint checkpoint = Save();
  std::vector<int> value_slot = value_slot_;
  std::vector<int> alias_count = alias_count_;
  try {
    if (fn()) return true;
  } catch (const dnnl::error&) {
    // No oneDNN implementation for this configuration: the caller falls back.
  }
  Restore(checkpoint);
  value_slot_ = std::move(value_slot);
  alias_count_ = std::move(alias_count);
  // Slots added by the failed attempt stay unreferenced; the arena planner skips them.
  alias_count_.resize(slots_.size(), 0);
  return false;
}

Status Compiler::EmitReference(int n) {
  const Node& node = graph_->nodes()[static_cast<size_t>(n)];
  std::vector<int> ins;
  std::vector<int> outs;
  for (ValueId v : node.inputs) ins.push_back(v == kNoValue ? -1 : PlainSlot(v));
  for (ValueId v : node.outputs) {
    if (v == kNoValue) {
      outs.push_back(-1);
      continue;
    }
    memory::desc plain;
    PlainDesc(graph_->value(v).shape, graph_->value(v).dtype, &plain);
    outs.push_back(NewValueSlot(v, plain));
  }
  auto step = std::make_unique<ReferenceStep>(graph_.get(), n, ins, outs);
  for (int s : ins) {
    if (s >= 0) step->reads.push_back(s);
  }
  for (int s : outs) {
    if (s >= 0) step->writes.push_back(s);
  }
  step->nodes = {n};
  step->label = NodeLabel(node);
  steps_.push_back(std::move(step));
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i] != kNoValue) Define(node.outputs[i], outs[i]);
  }
  return Status::Ok();
}

void Compiler::EmitAliasOrCopy(int n) {
  const Node& node = graph_->nodes()[static_cast<size_t>(n)];
  const Value& out = graph_->value(node.outputs[0]);
  int src = PlainSlot(node.inputs[0]);
  // A plain tensor reinterpreted with another shape: no bytes move.
  int root = slot(src).kind == Slot::Kind::kAlias ? slot(src).index : src;
  Slot v;
  v.kind = Slot::Kind::kAlias;
  v.index = root;
  v.dtype = out.dtype;
  v.shape = out.shape;
  v.plain = true;
  v.has_desc = PlainDesc(out.shape, out.dtype, &v.desc);
  v.bytes = slot(src).bytes;
  slots_.push_back(std::move(v));
  alias_count_.push_back(0);
  ++alias_count_[static_cast<size_t>(root)];
  Define(node.outputs[0], static_cast<int>(slots_.size() - 1));
}

Status Compiler::EmitNode(int n) {
  const Node& node = graph_->nodes()[static_cast<size_t>(n)];
  // Zero-size data or outputs go to the reference kernel. Other empty inputs are parameters
  // (Resize's empty roi or scales when sizes are given) that the emitters check themselves.
  bool empty = !node.inputs.empty() && node.inputs[0] != kNoValue &&
               NumElements(graph_->value(node.inputs[0]).shape) == 0;
  for (ValueId v : node.outputs) {
    if (v != kNoValue && NumElements(graph_->value(v).shape) == 0) empty = true;
  }
  if (node.outputs.empty() || node.outputs[0] == kNoValue) return EmitReference(n);
  const Value& out = graph_->value(node.outputs[0]);
  if (!empty) {
    switch (node.op) {
      case OpKind::kIdentity:
      case OpKind::kDropout:
      case OpKind::kReshape:
      case OpKind::kFlatten:
      case OpKind::kSqueeze:
      case OpKind::kUnsqueeze: {
        bool extra_outputs = false;
        for (size_t i = 1; i < node.outputs.size(); ++i) {
          if (node.outputs[i] != kNoValue) extra_outputs = true;
        }
        const Value& in = graph_->value(node.inputs[0]);
        if (!extra_outputs && in.dtype == out.dtype &&
            NumElements(in.shape) == NumElements(out.shape)) {
          EmitAliasOrCopy(n);
          return Status::Ok();
        }
        break;
      }
      default:
        break;
    }
    bool done = TryEmit([&] {
      switch (node.op) {
        case OpKind::kConv:
        case OpKind::kGemm:
        case OpKind::kMatMul: {
          FusionGroup single;
          single.nodes = {n};
          single.output = node.outputs[0];
          return node.op == OpKind::kConv ? EmitConvGroup(*this, single)
                                          : EmitMatMulGroup(*this, single);
        }
        case OpKind::kConvTranspose:
          return EmitConvTranspose(*this, node);
        case OpKind::kMaxPool:
        case OpKind::kAveragePool:
        case OpKind::kGlobalAveragePool:
        case OpKind::kGlobalMaxPool:
          return EmitPool(*this, node);
        case OpKind::kBatchNormalization:
          return EmitBatchNorm(*this, node);
        case OpKind::kAdd:
        case OpKind::kSub:
        case OpKind::kMul:
        case OpKind::kDiv:
        case OpKind::kMax:
        case OpKind::kMin:
          return EmitBinary(*this, node);
        case OpKind::kSoftmax:
        case OpKind::kLogSoftmax:
          return EmitSoftmax(*this, node);
        case OpKind::kLRN:
          return EmitLrn(*this, node);
        case OpKind::kConcat:
          return EmitConcat(*this, node);
        case OpKind::kResize:
        case OpKind::kUpsample:
          return EmitResample(*this, node);
        case OpKind::kPRelu:
          return EmitPRelu(*this, node);
        case OpKind::kLayerNormalization:
          return EmitLayerNorm(*this, node);
        case OpKind::kTranspose:
          return EmitTranspose(*this, node);
        case OpKind::kSlice:
          return EmitSlice(*this, node);
        case OpKind::kPad:
          return EmitPad(*this, node);
        case OpKind::kReduceMean:
        case OpKind::kReduceSum:
        case OpKind::kReduceMax:
        case OpKind::kReduceMin:
        case OpKind::kReduceL2:
          return EmitReduce(*this, node);
        default:
          return EmitEltwise(*this, node);
      }
    });
    if (done) return Status::Ok();
  }
  return EmitReference(n);
}

Status Compiler::EmitGroup(const FusionGroup& group) {
  const Node& head = graph_->nodes()[static_cast<size_t>(group.nodes.front())];
  bool done = TryEmit([&] {
    switch (head.op) {
      case OpKind::kConv:
        return EmitConvGroup(*this, group);
      case OpKind::kBatchNormalization:
        return EmitBatchNormRelu(*this, group);
      default:
        return EmitMatMulGroup(*this, group);
    }
  });
  if (done) return Status::Ok();
  for (int n : group.nodes) EI_RETURN_IF_ERROR(EmitNode(n));
  return Status::Ok();
}

Status Compiler::FinishOutputs() {
  const auto& outputs = graph_->outputs();
  std::vector<bool> taken(slots_.size(), false);
  for (size_t i = 0; i < outputs.size(); ++i) {
    ValueId v = outputs[i];
    const Value& value = graph_->value(v);
    int s = PlainSlot(v);
    taken.resize(slots_.size(), false);
    const Slot& src = slot(s);
    if (value.producer >= 0 && src.kind == Slot::Kind::kArena && !taken[static_cast<size_t>(s)]) {
      // The producer writes straight into the caller's output tensor.
      slots_[static_cast<size_t>(s)].kind = Slot::Kind::kOutput;
      slots_[static_cast<size_t>(s)].index = static_cast<int>(i);
      taken[static_cast<size_t>(s)] = true;
      continue;
    }
    Slot dst = src;
    dst.kind = Slot::Kind::kOutput;
    dst.index = static_cast<int>(i);
    dst.constant = Tensor();
    dst.shape = value.shape;
    slots_.push_back(std::move(dst));
    alias_count_.push_back(0);
    int d = static_cast<int>(slots_.size() - 1);
    auto step = std::make_unique<CopyStep>(s, d);
    step->reads = {s};
    step->writes = {d};
    step->nodes = {};
    step->label = "output '" + value.name + "'";
    steps_.push_back(std::move(step));
  }
  return Status::Ok();
}

void Compiler::ReleaseUnreadConstant(ValueId v) {
  if (!graph_->value(v).is_constant()) return;
  const int s = Primary(v);
  if (s < 0 || slot(s).kind != Slot::Kind::kConstant) return;
  for (const auto& step : steps_) {
    for (int r : step->reads) {
      if (r == s) return;
      const Slot& read = slot(r);
      if (read.kind == Slot::Kind::kAlias && read.index == s) return;
    }
  }
  slots_[static_cast<size_t>(s)].constant = Tensor();
  graph_->mutable_value(v).constant = Tensor();
}

Result<std::unique_ptr<Executable>> Compiler::Compile() {
  EI_RETURN_IF_ERROR(CheckCompilable(*graph_));
  // GELU and LayerNormalization patterns become single nodes with one oneDNN step each.
  EI_RETURN_IF_ERROR(FusePatterns(graph_.get()));
  EI_ASSIGN_OR_RETURN(std::vector<int> order, graph_->TopologicalOrder());
  const size_t num_values = graph_->values().size();
  value_slot_.assign(num_values, -1);
  use_count_.assign(num_values, 0);
  for (const Node& node : graph_->nodes()) {
    if (node.removed) continue;
    for (ValueId v : node.inputs) {
      if (v != kNoValue) ++use_count_[static_cast<size_t>(v)];
    }
  }
  for (ValueId v : graph_->outputs()) ++use_count_[static_cast<size_t>(v)];
  pending_uses_ = use_count_;
  auto emitted = [&](int n) {
    for (ValueId v : graph_->nodes()[static_cast<size_t>(n)].inputs) {
      if (v != kNoValue && --pending_uses_[static_cast<size_t>(v)] == 0) ReleaseUnreadConstant(v);
    }
  };
  for (size_t i = 0; i < graph_->inputs().size(); ++i) {
    ValueId v = graph_->inputs()[i];
    memory::desc plain;
    PlainDesc(graph_->value(v).shape, graph_->value(v).dtype, &plain);
    int s = NewValueSlot(v, plain);
    slots_[static_cast<size_t>(s)].kind = Slot::Kind::kInput;
    slots_[static_cast<size_t>(s)].index = static_cast<int>(i);
    Define(v, s);
  }
  for (size_t i = 0; i < num_values; ++i) {
    const Value& value = graph_->values()[i];
    if (!value.is_constant()) continue;
    memory::desc plain;
    PlainDesc(value.shape, value.dtype, &plain);
    int s = NewValueSlot(static_cast<ValueId>(i), plain);
    slots_[static_cast<size_t>(s)].kind = Slot::Kind::kConstant;
    slots_[static_cast<size_t>(s)].constant = value.constant;
    Define(static_cast<ValueId>(i), s);
  }
  try {
    FusionPlan plan = PlanFusions(*graph_);
    for (int n : order) {
      if (graph_->nodes()[static_cast<size_t>(n)].removed) continue;
      int g = plan.group_of[static_cast<size_t>(n)];
      if (g < 0) {
        EI_RETURN_IF_ERROR(EmitNode(n));
        emitted(n);
      } else if (plan.groups[static_cast<size_t>(g)].nodes.back() == n) {
        EI_RETURN_IF_ERROR(EmitGroup(plan.groups[static_cast<size_t>(g)]));
        for (int m : plan.groups[static_cast<size_t>(g)].nodes) emitted(m);
      }
    }
    EI_RETURN_IF_ERROR(FinishOutputs());
  } catch (const dnnl::error& e) {
    return Status::Internal(std::string("cpu backend: oneDNN failed while compiling: ") + e.what());
  }
  return std::unique_ptr<Executable>(new CpuExecutable(
      std::move(graph_), engine_, std::move(slots_), std::move(steps_), threads_));
}

}  // namespace edgeinfer::cpu

#include "backend/cpu/cpu_executable.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "backend/backend_util.h"
#include "core/parallel.h"
#include "ops/op_registry.h"

namespace edgeinfer::cpu {
namespace {

constexpr size_t kAlign = 64;

size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

}  // namespace

Status DnnlStep::Execute(RunContext* ctx) const {
  try {
    std::unordered_map<int, dnnl::memory>& args = ctx->step_args[ctx->step];
    if (args.empty()) {
      // The memory objects are the run state's own; inputs and outputs are rebound by handle.
      for (const auto& [arg, slot] : args_)
        args.emplace(arg, ctx->memory[static_cast<size_t>(slot)]);
      if (scratchpad_bytes_ > 0) args.emplace(DNNL_ARG_SCRATCHPAD, ctx->scratchpad);
    }
    primitive_.execute(*ctx->stream, args);
  } catch (const dnnl::error& e) {
    return Status::Internal(label + ": oneDNN execution failed: " + e.what());
  }
  return Status::Ok();
}

Status ReferenceStep::Execute(RunContext* ctx) const {
  const Node& node = graph_->nodes()[static_cast<size_t>(node_)];
  std::vector<Tensor> inputs;
  inputs.reserve(in_slots_.size());
  for (int s : in_slots_) {
    if (s < 0) {
      inputs.emplace_back();
      continue;
    }
    const Slot& slot = (*ctx->slots)[static_cast<size_t>(s)];
    inputs.push_back(Tensor::Wrap(ctx->ptr[static_cast<size_t>(s)], slot.dtype, slot.shape, {}));
  }
  std::vector<Tensor> outputs;
  EI_RETURN_IF_ERROR(RunReferenceNode(*graph_, node, inputs, &outputs));
  for (size_t i = 0; i < out_slots_.size(); ++i) {
    int s = out_slots_[i];
    if (s < 0) continue;
    const Tensor& t = outputs[i];
    if (t.nbytes() > 0) std::memcpy(ctx->ptr[static_cast<size_t>(s)], t.raw_data(), t.nbytes());
  }
  return Status::Ok();
}

Status CopyStep::Execute(RunContext* ctx) const {
  const Slot& src = (*ctx->slots)[static_cast<size_t>(src_)];
  if (src.bytes > 0) {
    std::memcpy(ctx->ptr[static_cast<size_t>(dst_)], ctx->ptr[static_cast<size_t>(src_)],
                src.bytes);
  }
  return Status::Ok();
}

Status FillStep::Execute(RunContext* ctx) const {
  const Slot& dst = (*ctx->slots)[static_cast<size_t>(dst_)];
  auto* p = static_cast<float*>(ctx->ptr[static_cast<size_t>(dst_)]);
  const float value = value_;
  ParallelFor(
      static_cast<int64_t>(dst.bytes / sizeof(float)),
      [&](int64_t begin, int64_t end) { std::fill(p + begin, p + end, value); }, 1);
  return Status::Ok();
}

namespace {

// Bytes one unit of a ConcatCopyStep copies at most: large enough that the per-unit overhead
// vanishes, small enough to balance a few large parts over the threads.
constexpr size_t kConcatPiece = 64 * 1024;

}  // namespace

ConcatCopyStep::ConcatCopyStep(int dst, size_t outer, size_t dst_stride, std::vector<Part> parts)
    : dst_(dst), outer_(outer), dst_stride_(dst_stride), parts_(std::move(parts)) {
  size_t pieces = 0;
  for (const Part& p : parts_) {
    first_piece_.push_back(pieces);
    pieces += std::max<size_t>(1, (p.chunk + kConcatPiece - 1) / kConcatPiece);
  }
  first_piece_.push_back(pieces);
}

Status ConcatCopyStep::Execute(RunContext* ctx) const {
  const size_t per_outer = first_piece_.back();
  const size_t units = outer_ * per_outer;
  if (units == 0) return Status::Ok();
  auto* dst = static_cast<uint8_t*>(ctx->ptr[static_cast<size_t>(dst_)]);
  std::vector<const uint8_t*> src(parts_.size());
  for (size_t i = 0; i < parts_.size(); ++i) {
    src[i] = static_cast<const uint8_t*>(ctx->ptr[static_cast<size_t>(parts_[i].src)]);
  }
  const size_t bytes = outer_ * dst_stride_;
  // Rough cost per unit in ns at ~8 bytes/ns.
  const auto cost = static_cast<int64_t>(bytes / units / 8 + 1);
  ParallelFor(
      static_cast<int64_t>(units),
      [&](int64_t begin, int64_t end) {
        auto u = static_cast<size_t>(begin);
        size_t o = u / per_outer;
        size_t r = u % per_outer;
        size_t p =
            static_cast<size_t>(std::upper_bound(first_piece_.begin(), first_piece_.end(), r) -
                                first_piece_.begin() - 1);
        for (; u < static_cast<size_t>(end); ++u) {
          const Part& part = parts_[p];
          const size_t start = (r - first_piece_[p]) * kConcatPiece;
          const size_t len = std::min(kConcatPiece, part.chunk - start);
          if (len > 0) {
            std::memcpy(dst + o * dst_stride_ + part.dst_offset + start,
                        src[p] + o * part.chunk + start, len);
          }
          // Next unit: the next piece, part, or outer index.
          if (++r == per_outer) {
            r = 0;
            p = 0;
            ++o;
          } else if (r == first_piece_[p + 1]) {
            ++p;
          }
        }
      },
      cost);
  return Status::Ok();
}

CpuExecutable::CpuExecutable(std::unique_ptr<Graph> graph, dnnl::engine engine,
                             std::vector<Slot> slots, std::vector<std::unique_ptr<Step>> steps,
                             int threads)
    : graph_(std::move(graph)),
      engine_(std::move(engine)),
      slots_(std::move(slots)),
      steps_(std::move(steps)),
      threads_(threads) {
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    const Slot& root =
        slot.kind == Slot::Kind::kAlias ? slots_[static_cast<size_t>(slot.index)] : slot;
    if (root.kind == Slot::Kind::kInput || root.kind == Slot::Kind::kOutput) {
      io_slots_.push_back(static_cast<int>(s));
    }
  }
  for (const auto& step : steps_) {
    if (auto* d = dynamic_cast<const DnnlStep*>(step.get())) {
      scratchpad_bytes_ = std::max(scratchpad_bytes_, d->scratchpad_bytes());
    }
  }
  PlanArena();
}

void CpuExecutable::PlanArena() {
  // Live interval of each arena root, in step indices (aliases count for their root).
  const size_t n = slots_.size();
  std::vector<int> first(n, -1);
  std::vector<int> last(n, -1);
  auto touch = [&](int s, int step) {
    size_t r = static_cast<size_t>(s);
    if (slots_[r].kind == Slot::Kind::kAlias) r = static_cast<size_t>(slots_[r].index);
    if (first[r] < 0) first[r] = step;
    last[r] = std::max(last[r], step);
  };
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (int s : steps_[i]->reads) touch(s, static_cast<int>(i));
    for (int s : steps_[i]->writes) touch(s, static_cast<int>(i));
  }
  std::vector<size_t> order;
  for (size_t s = 0; s < n; ++s) {
    if (slots_[s].kind == Slot::Kind::kArena && first[s] >= 0) order.push_back(s);
  }
  // Largest first, each at the lowest offset not overlapping a placed slot live at the same
  // time: a simple greedy that reuses the bytes of dead tensors.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return slots_[a].bytes > slots_[b].bytes; });
  std::vector<size_t> placed;
  arena_bytes_ = 0;
  for (size_t s : order) {
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t p : placed) {
      if (first[p] <= last[s] && first[s] <= last[p]) {
        busy.emplace_back(slots_[p].offset, slots_[p].offset + AlignUp(slots_[p].bytes));
      }
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    const size_t size = AlignUp(slots_[s].bytes);
    for (const auto& [b, e] : busy) {
      if (offset + size <= b) break;
      offset = std::max(offset, e);
    }
    slots_[s].offset = offset;
    arena_bytes_ = std::max(arena_bytes_, offset + size);
    placed.push_back(s);
  }
}

Status CpuExecutable::Run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) const {
  return RunImpl(inputs, outputs, nullptr);
}

Status CpuExecutable::RunProfiled(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                                  std::vector<StepTiming>* timings) const {
  return RunImpl(inputs, outputs, timings);
}

size_t CpuExecutable::num_run_states() const {
  std::lock_guard<std::mutex> lock(pool_mu_);
  return created_;
}

std::unique_ptr<CpuExecutable::RunState> CpuExecutable::NewRunState() const {
  auto state = std::make_unique<RunState>();
  state->block = Tensor::Empty(DType::kUInt8,
                               {static_cast<int64_t>(arena_bytes_ + scratchpad_bytes_ + kAlign)});
  auto* base = static_cast<uint8_t*>(state->block.raw_data());
  state->stream = dnnl::stream(engine_);
  RunContext& ctx = state->ctx;
  ctx.engine = &engine_;
  ctx.stream = &state->stream;
  ctx.slots = &slots_;
  ctx.ptr.assign(slots_.size(), nullptr);
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    if (slot.kind == Slot::Kind::kArena) ctx.ptr[s] = base + slot.offset;
    if (slot.kind == Slot::Kind::kConstant)
      ctx.ptr[s] = const_cast<void*>(slot.constant.raw_data());
  }
  for (size_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s].kind == Slot::Kind::kAlias) {
      ctx.ptr[s] = ctx.ptr[static_cast<size_t>(slots_[s].index)];
    }
  }
  ctx.memory.resize(slots_.size());
  for (size_t s = 0; s < slots_.size(); ++s) {
    // oneDNN never writes a source or weights argument, so constants are shared read-only.
    if (slots_[s].has_desc) ctx.memory[s] = dnnl::memory(slots_[s].desc, engine_, ctx.ptr[s]);
  }
  if (scratchpad_bytes_ > 0) {
    dnnl::memory::desc pad({static_cast<dnnl::memory::dim>(scratchpad_bytes_)},
                           dnnl::memory::data_type::u8, dnnl::memory::format_tag::a);
    ctx.scratchpad = dnnl::memory(pad, engine_, base + arena_bytes_);
  }
  ctx.step_args.resize(steps_.size());
  return state;
}

std::unique_ptr<CpuExecutable::RunState> CpuExecutable::Acquire() const {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_.empty()) {
      std::unique_ptr<RunState> state = std::move(idle_.back());
      idle_.pop_back();
      return state;
    }
    ++created_;
  }
  return NewRunState();
}

void CpuExecutable::Release(std::unique_ptr<RunState> state) const {
  std::lock_guard<std::mutex> lock(pool_mu_);
  idle_.push_back(std::move(state));
}

Status CpuExecutable::RunImpl(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                              std::vector<StepTiming>* timings) const {
  EI_RETURN_IF_ERROR(CheckRunInputs(*graph_, inputs));
  if (threads_ > 0) SetNumThreads(threads_);
  std::vector<Tensor> results;
  results.reserve(graph_->outputs().size());
  for (ValueId id : graph_->outputs()) {
    const Value& v = graph_->value(id);
    results.push_back(Tensor::Empty(v.dtype, v.shape));
  }
  std::unique_ptr<RunState> state;
  try {
    state = Acquire();
  } catch (const dnnl::error& e) {
    return Status::Internal(std::string("oneDNN stream creation failed: ") + e.what());
  }
  RunContext& ctx = state->ctx;
  for (int s : io_slots_) {
    const Slot& slot = slots_[static_cast<size_t>(s)];
    const Slot& root =
        slot.kind == Slot::Kind::kAlias ? slots_[static_cast<size_t>(slot.index)] : slot;
    void* p = root.kind == Slot::Kind::kInput
                  ? const_cast<void*>(inputs[static_cast<size_t>(root.index)].raw_data())
                  : results[static_cast<size_t>(root.index)].raw_data();
    ctx.ptr[static_cast<size_t>(s)] = p;
    if (ctx.memory[static_cast<size_t>(s)]) ctx.memory[static_cast<size_t>(s)].set_data_handle(p);
  }
  Status status = Status::Ok();
  try {
    for (size_t i = 0; i < steps_.size() && status.ok(); ++i) {
      auto start = std::chrono::steady_clock::now();
      ctx.step = i;
      status = steps_[i]->Execute(&ctx);
      if (timings != nullptr) {
        std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start;
        timings->push_back(StepTiming{steps_[i]->nodes, ms.count(), steps_[i]->reference()});
      }
    }
    state->stream.wait();
  } catch (const dnnl::error& e) {
    status = Status::Internal(std::string("oneDNN stream failed: ") + e.what());
  }
  // The state holds no pointer into this run's inputs or outputs beyond the next rebinding.
  Release(std::move(state));
  EI_RETURN_IF_ERROR(status);
  *outputs = std::move(results);
  return Status::Ok();
}

}  // namespace edgeinfer::cpu

// Concat on the cpu backend: one output layout, the one most inputs already have, filled by one
// threaded copy step (ConcatCopyStep) for those inputs and by one reorder straight into the
// output for each other input.
//
// oneDNN's concat primitive copies blocks only when every input has the same layout; with mixed
// layouts (DenseNet: nhwc 1x1-convolution outputs next to nChw16c 3x3 ones; ShuffleNet: a plain
// channel shuffle next to nhwc) it takes its scalar `ref:any` path, and reordering every input
// to one layout first costs a second pass over each input.
#include <algorithm>

#include "backend/cpu/cpu_compiler.h"

namespace edgeinfer::cpu {
namespace {

using dnnl::memory;

// How one input lies in the output: `outer` runs of `chunk` contiguous bytes in both, the
// input's runs back to back, the output's `dst_stride` apart starting at `dst_offset`.
struct Runs {
  size_t outer = 0;
  size_t chunk = 0;
  size_t dst_stride = 0;
  size_t dst_offset = 0;
};

// Whether input layout `in`, concatenated into layout `out` along `axis` at element `offset`,
// is a set of runs as above (the same layout over the input's dims, with the axis cut on block
// boundaries); fills `runs` when it is. Dims of size 1 are ignored (their strides are arbitrary).
bool ConcatRuns(const memory::desc& in, const memory::desc& out, int axis, int64_t offset,
                Runs* runs) {
  const dnnl_memory_desc_t& i = in.data;
  const dnnl_memory_desc_t& o = out.data;
  if (i.format_kind != dnnl_blocked || o.format_kind != dnnl_blocked || i.ndims != o.ndims ||
      i.data_type != dnnl_f32 || o.data_type != dnnl_f32 || i.offset0 != 0 || o.offset0 != 0) {
    return false;
  }
  const int rank = o.ndims;
  const dnnl_blocking_desc_t& ib = i.format_desc.blocking;
  const dnnl_blocking_desc_t& ob = o.format_desc.blocking;
  if (axis < 0 || axis >= rank || ib.inner_nblks != ob.inner_nblks) return false;
  int64_t inner = 1;
  std::vector<int64_t> blk(static_cast<size_t>(rank), 1);
  for (int k = 0; k < ob.inner_nblks; ++k) {
    if (ib.inner_blks[k] != ob.inner_blks[k] || ib.inner_idxs[k] != ob.inner_idxs[k]) return false;
    blk[static_cast<size_t>(ob.inner_idxs[k])] *= ob.inner_blks[k];
    inner *= ob.inner_blks[k];
  }
  auto ext = [&](const dnnl_memory_desc_t& m, int d) { return m.dims[d] / blk[size_t(d)]; };
  for (int d = 0; d < rank; ++d) {
    if (i.padded_dims[d] != i.dims[d] || o.padded_dims[d] != o.dims[d] ||
        i.padded_offsets[d] != 0 || o.padded_offsets[d] != 0) {
      return false;
    }
    if (d != axis && i.dims[d] != o.dims[d]) return false;
    if (i.dims[d] % blk[size_t(d)] != 0 || o.dims[d] % blk[size_t(d)] != 0) return false;
  }
  if (offset % blk[size_t(axis)] != 0 || offset + i.dims[axis] > o.dims[axis]) return false;
  if (ext(o, axis) <= 1) return false;  // the axis' own stride would be arbitrary
  std::vector<int> order;               // outer dims of the output, outermost first
  for (int d = 0; d < rank; ++d) {
    if (d == axis || ext(o, d) > 1) order.push_back(d);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return ob.strides[a] > ob.strides[b]; });
  // Both dense in that order, from the innermost outer dim out.
  int64_t expect_o = inner;
  int64_t expect_i = inner;
  for (size_t k = order.size(); k-- > 0;) {
    const int d = order[k];
    if (ob.strides[d] != expect_o) return false;
    if (ext(i, d) > 1 && ib.strides[d] != expect_i) return false;
    expect_o *= ext(o, d);
    expect_i *= ext(i, d);
  }
  size_t outer = 1;
  for (int d : order) {
    if (d == axis) break;
    outer *= static_cast<size_t>(ext(o, d));
  }
  const auto row = static_cast<size_t>(ob.strides[axis]) * sizeof(float);
  runs->outer = outer;
  runs->chunk = static_cast<size_t>(ext(i, axis)) * row;
  runs->dst_stride = static_cast<size_t>(ext(o, axis)) * row;
  runs->dst_offset = static_cast<size_t>(offset / blk[size_t(axis)]) * row;
  return true;
}

// Output layouts a concat may take: plain first (it wins ties), then channel-last and the
// channel-blocked layouts oneDNN's convolutions produce.
std::vector<memory::desc> CandidateLayouts(const Shape& ys) {
  using tag = memory::format_tag;
  std::vector<memory::desc> out = {PlainF32(ys)};
  std::vector<tag> tags;
  switch (ys.size()) {
    case 3:
      tags = {tag::acb, tag::aBc8b, tag::aBc16b};
      break;
    case 4:
      tags = {tag::acdb, tag::aBcd8b, tag::aBcd16b};
      break;
    case 5:
      tags = {tag::acdeb, tag::aBcde8b, tag::aBcde16b};
      break;
    default:
      break;
  }
  for (tag t : tags) {
    memory::desc d(ToDims(ys), memory::data_type::f32, t);
    // Padded blocks (channels not a multiple of the block) would need zeroed tails: skipped.
    if (d.data.padded_dims[1] == d.data.dims[1]) out.push_back(d);
  }
  return out;
}

// The element offset along `axis` at which each input starts.
std::vector<int64_t> Offsets(const Graph& g, const Node& node, int axis) {
  std::vector<int64_t> offsets;
  int64_t at = 0;
  for (ValueId v : node.inputs) {
    offsets.push_back(at);
    at += g.value(v).shape[static_cast<size_t>(axis)];
  }
  return offsets;
}

// The block size of `d` along `axis` (1 when not blocked there).
int64_t BlockAlong(const memory::desc& d, int axis) {
  int64_t b = 1;
  const dnnl_blocking_desc_t& bd = d.data.format_desc.blocking;
  for (int k = 0; k < bd.inner_nblks; ++k) {
    if (bd.inner_idxs[k] == axis) b *= bd.inner_blks[k];
  }
  return b;
}

}  // namespace

bool EmitConcat(Compiler& c, const Node& node) {
  const Graph& g = c.graph();
  ValueId y = node.outputs[0];
  if (!IsF32(g, y) || node.inputs.empty()) return false;
  const Shape& ys = g.value(y).shape;
  const auto rank = static_cast<int64_t>(ys.size());
  int64_t axis64 = node.attrs.GetInt("axis", 0);
  if (axis64 < 0) axis64 += rank;
  if (axis64 < 0 || axis64 >= rank || NumElements(ys) == 0) return false;
  const int axis = static_cast<int>(axis64);
  for (ValueId v : node.inputs) {
    if (!IsF32(g, v) || g.value(v).shape.size() != ys.size() ||
        NumElements(g.value(v).shape) == 0) {
      return false;
    }
    const Slot& s = c.slot(c.Primary(v));
    if (!s.has_desc || s.desc.dims() != ToDims(g.value(v).shape)) return false;
  }
  const std::vector<int64_t> offsets = Offsets(g, node, axis);

  // The candidate most inputs can be copied into as runs (then the most bytes so copied);
  // plain always qualifies.
  memory::desc best;
  size_t best_count = 0;
  size_t best_bytes = 0;
  bool found = false;
  for (const memory::desc& cand : CandidateLayouts(ys)) {
    const int64_t blk = BlockAlong(cand, axis);
    size_t count = 0;
    size_t bytes = 0;
    bool aligned = true;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Shape& xs = g.value(node.inputs[i]).shape;
      if (xs[size_t(axis)] % blk != 0 || offsets[i] % blk != 0) aligned = false;
      Runs runs;
      if (ConcatRuns(c.slot(c.Primary(node.inputs[i])).desc, cand, axis, offsets[i], &runs)) {
        ++count;
        bytes += runs.outer * runs.chunk;
      }
    }
    if (!aligned) continue;
    if (!found || count > best_count || (count == best_count && bytes > best_bytes)) {
      best = cand;
      best_count = count;
      best_bytes = bytes;
      found = true;
    }
  }
  if (!found) return false;

  const int n = c.NodeIndex(node);
  const int out = c.NewValueSlot(y, best);
  std::vector<ConcatCopyStep::Part> parts;
  size_t outer = 0;
  size_t dst_stride = 0;
  std::vector<int> reads;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    ValueId v = node.inputs[i];
    const int src = c.Primary(v);
    Runs runs;
    if (ConcatRuns(c.slot(src).desc, best, axis, offsets[i], &runs)) {
      parts.push_back({src, runs.chunk, runs.dst_offset});
      outer = runs.outer;
      dst_stride = runs.dst_stride;
      reads.push_back(src);
      continue;
    }
    // Another layout: one reorder into the input's part of the output.
    memory::dims at(static_cast<size_t>(rank), 0);
    at[static_cast<size_t>(axis)] = offsets[i];
    const memory::desc part = best.submemory_desc(ToDims(g.value(v).shape), at);
    c.AddReorder(src, c.View(out, part), {n});
  }
  if (!parts.empty()) {
    auto step = std::make_unique<ConcatCopyStep>(out, outer, dst_stride, std::move(parts));
    step->reads = std::move(reads);
    step->writes = {out};
    c.AddStep(std::move(step), {n});
  }
  c.Define(y, out);
  return true;
}

}  // namespace edgeinfer::cpu

#include "ops/broadcast.h"

#include "ops/op_registry.h"

namespace edgeinfer {

Status BroadcastShapes(const Node& node, const Shape& a, const Shape& b, Shape* out) {
  const size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == 1) {
      result[i] = db;
    } else if (db == 1) {
      result[i] = da;
    } else if (da == db) {
      result[i] = da;
    } else if (da < 0 || db < 0) {
      result[i] = std::max(da, db);  // the known one; -1 if both are unknown
    } else {
      return Status::InvalidArgument(NodeLabel(node) + ": shapes " + ShapeToString(a) + " and " +
                                     ShapeToString(b) + " are not broadcastable");
    }
  }
  *out = std::move(result);
  return Status::Ok();
}

bool BroadcastsTo(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t lead = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) {
    const int64_t f = from[i];
    const int64_t t = to[lead + i];
    if (f != 1 && f != t && f >= 0 && t >= 0) return false;
  }
  return true;
}

BroadcastIter MakeBroadcastIter(const std::vector<Shape>& inputs, const Shape& out) {
  const size_t n = inputs.size();
  const size_t rank = out.size();
  BroadcastIter it;
  it.numel = NumElements(out);
  it.strides.assign(n, {});
  std::vector<std::vector<int64_t>> full(n, std::vector<int64_t>(rank, 0));
  for (size_t k = 0; k < n; ++k) {
    const Shape& in = inputs[k];
    const size_t lead = rank - in.size();
    int64_t stride = 1;
    for (size_t d = rank; d-- > lead;) {
      const int64_t dim = in[d - lead];
      full[k][d] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
  }
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    bool merge = !it.dims.empty();
    for (size_t k = 0; k < n && merge; ++k) {
      merge = it.strides[k].back() == full[k][d] * out[d];
    }
    if (merge) {
      it.dims.back() *= out[d];
      for (size_t k = 0; k < n; ++k) it.strides[k].back() = full[k][d];
    } else {
      it.dims.push_back(out[d]);
      for (size_t k = 0; k < n; ++k) it.strides[k].push_back(full[k][d]);
    }
  }
  if (it.dims.empty()) {
    it.dims.push_back(1);
    for (size_t k = 0; k < n; ++k) it.strides[k].push_back(0);
  }
  return it;
}

}  // namespace edgeinfer

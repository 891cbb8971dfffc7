#include "ops/op_registry.h"

#include <array>
#include <mutex>

namespace edgeinfer {
namespace {

const std::array<const OpSchema*, static_cast<size_t>(OpKind::kCount)>& Table() {
  static const auto* table = [] {
    static std::vector<OpSchema> storage;
    RegisterNnOps(&storage);
    RegisterElementwiseOps(&storage);
    RegisterTensorOps(&storage);
    auto* t = new std::array<const OpSchema*, static_cast<size_t>(OpKind::kCount)>();
    t->fill(nullptr);
    for (const OpSchema& s : storage) (*t)[static_cast<size_t>(s.kind)] = &s;
    return t;
  }();
  return *table;
}

}  // namespace

const OpSchema* FindSchema(OpKind kind) {
  auto i = static_cast<size_t>(kind);
  if (i >= Table().size()) return nullptr;
  return Table()[i];
}

std::vector<const OpSchema*> AllSchemas() {
  std::vector<const OpSchema*> all;
  for (const OpSchema* s : Table()) {
    if (s) all.push_back(s);
  }
  return all;
}

std::string NodeLabel(const Node& node) {
  return std::string(OpName(node.op)) + " node '" + node.name + "'";
}

}  // namespace edgeinfer

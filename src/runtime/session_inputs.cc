#include "runtime/session_inputs.h"

#include <map>
#include <string>

namespace edgeinfer {

Status OrderInputs(const std::vector<TensorInfo>& model_inputs,
                   const std::vector<NamedTensor>& inputs, std::vector<Tensor>* ordered) {
  std::map<std::string, const Tensor*> by_name;
  for (const NamedTensor& nt : inputs) {
    bool known = false;
    for (const TensorInfo& info : model_inputs) known = known || info.name == nt.name;
    if (!known) {
      std::string names;
      for (const TensorInfo& info : model_inputs) {
        names += (names.empty() ? "" : ", ") + info.name;
      }
      return Status::InvalidArgument("model has no input named '" + nt.name +
                                     "' (inputs: " + names + ")");
    }
    if (!by_name.emplace(nt.name, &nt.tensor).second) {
      return Status::InvalidArgument("input '" + nt.name + "' given more than once");
    }
  }
  ordered->clear();
  for (const TensorInfo& info : model_inputs) {
    auto it = by_name.find(info.name);
    if (it == by_name.end()) {
      return Status::InvalidArgument("missing input '" + info.name + "' (" + DTypeName(info.dtype) +
                                     ShapeToString(info.shape) + ")");
    }
    const Tensor& t = *it->second;
    if (t.dtype() != info.dtype) {
      return Status::InvalidArgument("input '" + info.name + "' has dtype " + DTypeName(t.dtype()) +
                                     ", the model expects " + DTypeName(info.dtype));
    }
    bool rank_ok = t.shape().size() == info.shape.size();
    for (size_t d = 0; rank_ok && d < info.shape.size(); ++d) {
      rank_ok = info.shape[d] < 0 || info.shape[d] == t.shape()[d];
    }
    if (!rank_ok) {
      return Status::InvalidArgument("input '" + info.name + "' has shape " +
                                     ShapeToString(t.shape()) + ", the model expects " +
                                     ShapeToString(info.shape));
    }
    ordered->push_back(t);
  }
  return Status::Ok();
}

}  // namespace edgeinfer

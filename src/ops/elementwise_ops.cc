// Registration of the elementwise op family and the helpers its files share.
#include "ops/elementwise_common.h"

namespace edgeinfer {

Status UnsupportedDType(const Node& node, DType dtype, const std::string& what) {
  return Status::InvalidArgument(NodeLabel(node) + ": unsupported dtype " + DTypeName(dtype) +
                                 " for " + what);
}

Status RunViaFloat32(ReferenceFn kernel, const Node& node, int64_t opset,
                     const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
  bool has_half = false;
  for (const Tensor& t : inputs) has_half |= t.dtype() == DType::kFloat16;
  if (!has_half) return kernel(node, opset, inputs, outputs);
  std::vector<Tensor> widened;
  widened.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    if (t.dtype() == DType::kFloat16) {
      EI_ASSIGN_OR_RETURN(Tensor w, t.CastTo(DType::kFloat32));
      widened.push_back(std::move(w));
    } else {
      widened.push_back(t);
    }
  }
  EI_RETURN_IF_ERROR(kernel(node, opset, widened, outputs));
  for (Tensor& t : *outputs) {
    if (t.dtype() != DType::kFloat32) continue;
    EI_ASSIGN_OR_RETURN(t, t.CastTo(DType::kFloat16));
  }
  return Status::Ok();
}

Status ExpectSameDType(const ShapeContext& ctx, size_t i, DType expected) {
  if (!ctx.has_input(i) || expected == DType::kUndefined) return Status::Ok();
  if (ctx.inputs[i].dtype == expected) return Status::Ok();
  return Status::InvalidArgument(NodeLabel(*ctx.node) + ": input " + std::to_string(i) +
                                 " has dtype " + DTypeName(ctx.inputs[i].dtype) + ", expected " +
                                 DTypeName(expected));
}

void ResizeOutputs(const ShapeContext& ctx, std::vector<ValueInfo>* outputs) {
  outputs->assign(std::max<size_t>(1, ctx.node->outputs.size()), ValueInfo{});
}

void RegisterElementwiseOps(std::vector<OpSchema>* out) {
  RegisterUnaryElementwiseOps(out);
  RegisterBinaryElementwiseOps(out);
}

}  // namespace edgeinfer

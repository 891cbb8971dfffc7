// Hand-built edge-case graphs run through edgeinfer and ONNX Runtime: every op family, the
// attribute forms of each opset, broadcasting, and PyTorch-style shape subgraphs.
//
// Tolerance: relative L2 <= 1e-4. Both engines compute in fp32; the differences come from
// summation order (im2col/Winograd/blocked GEMM vs ONNX Runtime's MLAS) over at most a few
// thousand terms, which stays around 1e-6; 1e-4 leaves margin without hiding a wrong index or
// coefficient (those give errors of order 1e-2 or more).
#include <gtest/gtest.h>

#include <functional>

#include "oracle_util.h"

namespace edgeinfer::testing {
namespace {

constexpr double kTolerance = 1e-4;

// Builds one small graph with its inputs.
class CaseBuilder {
 public:
  explicit CaseBuilder(int64_t opset) { graph_.opset = opset; }

  ValueId Input(const Shape& shape, DType dtype = DType::kFloat32, float lo = -1.f,
                float hi = 1.f) {
    std::string name = "x" + std::to_string(inputs_.size());
    inputs_.push_back({name, RandomTensor(dtype, shape, 1000 + inputs_.size(), lo, hi)});
    return graph_.AddInput(name, dtype, shape);
  }
  // A graph input with a dynamic first dim; the data has `shape`.
  ValueId DynamicInput(const Shape& shape) {
    std::string name = "x" + std::to_string(inputs_.size());
    inputs_.push_back({name, RandomTensor(DType::kFloat32, shape, 1000 + inputs_.size())});
    Shape dyn = shape;
    dyn[0] = -1;
    return graph_.AddInput(name, DType::kFloat32, dyn);
  }
  ValueId Const(Tensor t) { return graph_.AddConstant("c" + std::to_string(counter_++), t); }
  ValueId Weight(const Shape& shape, float lo = -0.5f, float hi = 0.5f) {
    return Const(RandomTensor(DType::kFloat32, shape, 7 + counter_, lo, hi));
  }
  ValueId Ints(const std::vector<int64_t>& v) {
    return Const(Tensor::FromVector<int64_t>(v, {static_cast<int64_t>(v.size())}));
  }
  ValueId Floats(const std::vector<float>& v) {
    return Const(Tensor::FromVector<float>(v, {static_cast<int64_t>(v.size())}));
  }
  // Adds a node with `num_outputs` outputs of unknown shape; returns the first output.
  ValueId Op(OpKind op, std::vector<ValueId> ins, Attributes attrs = {}, int num_outputs = 1,
             DType out_dtype = DType::kFloat32) {
    std::vector<ValueId> outs;
    for (int i = 0; i < num_outputs; ++i) {
      ValueId v = graph_.AddValue("t" + std::to_string(counter_++), out_dtype, {});
      graph_.mutable_value(v).rank_known = false;
      outs.push_back(v);
    }
    graph_.AddNode(op, std::string(OpName(op)) + "_" + std::to_string(counter_++), ins, outs,
                   std::move(attrs));
    return outs[0];
  }
  void Output(ValueId v) { graph_.AddOutput(v); }

  Graph& graph() { return graph_; }
  std::vector<NamedTensor>& inputs() { return inputs_; }

 private:
  Graph graph_;
  std::vector<NamedTensor> inputs_;
  int counter_ = 0;
};

Attributes A(std::initializer_list<std::pair<const char*, AttrValue>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.Set(k, v);
  return a;
}
using Ints = std::vector<int64_t>;

struct OracleCase {
  std::string name;
  int64_t opset;
  std::function<void(CaseBuilder&)> build;
};

std::vector<OracleCase> Cases() {
  std::vector<OracleCase> c;
  // Convolution family.
  c.push_back({"conv_group_dilation_asym_pads", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 4, 11, 10});
                 b.Output(b.Op(OpKind::kConv, {x, b.Weight({6, 2, 3, 3}), b.Weight({6})},
                               A({{"group", int64_t{2}},
                                  {"dilations", Ints{2, 1}},
                                  {"pads", Ints{1, 0, 2, 1}},
                                  {"strides", Ints{1, 2}}})));
               }});
  c.push_back({"conv_same_upper_stride2", 11, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 3, 15, 16});
                 b.Output(
                     b.Op(OpKind::kConv, {x, b.Weight({8, 3, 4, 4})},
                          A({{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{2, 2}}})));
               }});
  c.push_back({"conv_same_lower_depthwise", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 8, 9, 9});
                 b.Output(b.Op(OpKind::kConv, {x, b.Weight({8, 1, 3, 3}), b.Weight({8})},
                               A({{"auto_pad", std::string("SAME_LOWER")},
                                  {"group", int64_t{8}},
                                  {"strides", Ints{2, 2}}})));
               }});
  c.push_back({"conv_valid_1x1", 7, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 16, 7, 7});
                 b.Output(b.Op(OpKind::kConv, {x, b.Weight({32, 16, 1, 1}), b.Weight({32})},
                               A({{"auto_pad", std::string("VALID")}})));
               }});
  c.push_back({"conv_transpose_stride2_outpad", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 4, 5, 6});
                 b.Output(b.Op(OpKind::kConvTranspose, {x, b.Weight({4, 3, 3, 3}), b.Weight({3})},
                               A({{"strides", Ints{2, 2}},
                                  {"pads", Ints{1, 1, 1, 1}},
                                  {"output_padding", Ints{1, 0}}})));
               }});
  c.push_back({"conv_transpose_group_k2s2", 11, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 6, 4, 4});
                 b.Output(b.Op(OpKind::kConvTranspose, {x, b.Weight({6, 2, 2, 2})},
                               A({{"strides", Ints{2, 2}}, {"group", int64_t{3}}})));
               }});
  // Pooling.
  c.push_back({"maxpool_ceil_pads", 12, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 3, 10, 11});
                 b.Output(b.Op(OpKind::kMaxPool, {x},
                               A({{"kernel_shape", Ints{3, 3}},
                                  {"strides", Ints{2, 2}},
                                  {"pads", Ints{1, 0, 0, 1}},
                                  {"ceil_mode", int64_t{1}}})));
               }});
  c.push_back({"maxpool_stride1_asym_pad", 8, [](CaseBuilder& b) {  // YOLOv2-tiny's 6th pool
                 ValueId x = b.Input({1, 4, 13, 13});
                 b.Output(b.Op(OpKind::kMaxPool, {x},
                               A({{"kernel_shape", Ints{2, 2}},
                                  {"strides", Ints{1, 1}},
                                  {"pads", Ints{0, 0, 1, 1}}})));
               }});
  c.push_back({"avgpool_exclude_pad_ceil", 11, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 3, 9, 8});
                 b.Output(b.Op(OpKind::kAveragePool, {x},
                               A({{"kernel_shape", Ints{3, 3}},
                                  {"strides", Ints{2, 2}},
                                  {"pads", Ints{1, 1, 1, 1}},
                                  {"ceil_mode", int64_t{1}}})));
               }});
  c.push_back({"avgpool_include_pad", 11, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 3, 8, 8});
                 b.Output(b.Op(OpKind::kAveragePool, {x},
                               A({{"kernel_shape", Ints{3, 3}},
                                  {"pads", Ints{1, 1, 1, 1}},
                                  {"count_include_pad", int64_t{1}}})));
               }});
  c.push_back({"global_pools", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 5, 6, 7});
                 b.Output(b.Op(OpKind::kGlobalAveragePool, {x}));
                 b.Output(b.Op(OpKind::kGlobalMaxPool, {x}));
               }});
  // Normalisation.
  c.push_back({"batchnorm_lrn", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 6, 5, 5});
                 ValueId bn = b.Op(OpKind::kBatchNormalization,
                                   {x, b.Weight({6}, 0.5f, 1.5f), b.Weight({6}), b.Weight({6}),
                                    b.Weight({6}, 0.5f, 2.f)},
                                   A({{"epsilon", 1e-3f}}));
                 b.Output(b.Op(
                     OpKind::kLRN, {bn},
                     A({{"size", int64_t{3}}, {"alpha", 1e-2f}, {"beta", 0.75f}, {"bias", 2.f}})));
               }});
  c.push_back({"instance_norm", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 4, 5});
                 b.Output(b.Op(OpKind::kInstanceNormalization, {x, b.Weight({3}), b.Weight({3})}));
               }});
  c.push_back(
      {"layer_norm_decomposed", 13, [](CaseBuilder& b) {  // paddle2onnx's pattern
         ValueId x = b.Input({1, 10, 32});
         ValueId mean = b.Op(OpKind::kReduceMean, {x}, A({{"axes", Ints{-1}}}));
         ValueId d = b.Op(OpKind::kSub, {x, mean});
         ValueId var = b.Op(OpKind::kReduceMean, {b.Op(OpKind::kPow, {d, b.Floats({2.f})})},
                            A({{"axes", Ints{-1}}}));
         ValueId denom = b.Op(OpKind::kSqrt, {b.Op(OpKind::kAdd, {var, b.Floats({1e-5f})})});
         ValueId y = b.Op(OpKind::kDiv, {d, denom});
         b.Output(b.Op(OpKind::kAdd, {b.Op(OpKind::kMul, {y, b.Weight({32})}), b.Weight({32})}));
       }});
  c.push_back({"layer_norm_op17", 17, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 7, 16});
                 b.Output(b.Op(OpKind::kLayerNormalization, {x, b.Weight({16}), b.Weight({16})},
                               A({{"axis", int64_t{-1}}, {"epsilon", 1e-5f}})));
               }});
  // Activations.
  c.push_back(
      {"activations", 14, [](CaseBuilder& b) {
         ValueId x = b.Input({1, 4, 6, 6}, DType::kFloat32, -4.f, 4.f);
         b.Output(b.Op(OpKind::kRelu, {x}));
         b.Output(b.Op(OpKind::kLeakyRelu, {x}, A({{"alpha", 0.1f}})));
         b.Output(b.Op(OpKind::kPRelu, {x, b.Weight({4, 1, 1})}));
         b.Output(b.Op(OpKind::kSigmoid, {x}));
         b.Output(b.Op(OpKind::kHardSigmoid, {x}, A({{"alpha", 0.1666667f}, {"beta", 0.5f}})));
         b.Output(b.Op(OpKind::kHardSwish, {x}));
         b.Output(b.Op(OpKind::kTanh, {x}));
         b.Output(b.Op(OpKind::kErf, {x}));
         b.Output(b.Op(OpKind::kExp, {x}));
         b.Output(b.Op(OpKind::kClip, {x, b.Const(Tensor::Scalar<float>(0.f)),
                                       b.Const(Tensor::Scalar<float>(6.f))}));
       }});
  c.push_back({"clip_attribute_form", 9, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 4}, DType::kFloat32, -8.f, 8.f);
                 b.Output(b.Op(OpKind::kClip, {x}, A({{"min", -1.f}, {"max", 6.f}})));
               }});
  c.push_back({"sqrt_pow", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({3, 5}, DType::kFloat32, 0.1f, 3.f);
                 b.Output(b.Op(OpKind::kSqrt, {x}));
                 b.Output(b.Op(OpKind::kPow, {x, b.Floats({1.5f})}));
               }});
  // Broadcasting binary ops.
  c.push_back({"broadcast_binary", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 4, 5});
                 ValueId y = b.Input({3, 1, 1});
                 ValueId z = b.Input({5}, DType::kFloat32, 0.5f, 2.f);
                 b.Output(b.Op(OpKind::kAdd, {x, y}));
                 b.Output(b.Op(OpKind::kSub, {y, x}));
                 b.Output(b.Op(OpKind::kMul, {x, z}));
                 b.Output(b.Op(OpKind::kDiv, {x, z}));
                 b.Output(b.Op(OpKind::kMax, {x, y, z}));
                 b.Output(b.Op(OpKind::kMin, {x, b.Const(Tensor::Scalar<float>(0.25f))}));
               }});
  // Layout ops.
  c.push_back(
      {"concat_split_slice", 13, [](CaseBuilder& b) {
         ValueId x = b.Input({1, 4, 6, 6});
         ValueId y = b.Input({1, 2, 6, 6});
         ValueId cat = b.Op(OpKind::kConcat, {x, y}, A({{"axis", int64_t{1}}}));
         ValueId s0 = b.Op(OpKind::kSplit, {cat, b.Ints({1, 5})}, A({{"axis", int64_t{1}}}), 2);
         b.Output(s0);
         b.Output(s0 + 1);
         b.Output(b.Op(OpKind::kSlice,
                       {cat, b.Ints({5, -1}), b.Ints({0, 0}), b.Ints({3, 2}), b.Ints({-2, -2})}));
       }});
  c.push_back({"reshape_transpose_flatten", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 4, 5});
                 ValueId r = b.Op(OpKind::kReshape, {x, b.Ints({0, -1, 10})});
                 ValueId t = b.Op(OpKind::kTranspose, {r}, A({{"perm", Ints{2, 0, 1}}}));
                 b.Output(b.Op(OpKind::kFlatten, {t}, A({{"axis", int64_t{2}}})));
               }});
  c.push_back({"squeeze_unsqueeze_attr_form", 11, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 3, 1, 5});
                 ValueId s = b.Op(OpKind::kSqueeze, {x}, A({{"axes", Ints{0, 2}}}));
                 b.Output(b.Op(OpKind::kUnsqueeze, {s}, A({{"axes", Ints{-1, 1}}})));
               }});
  c.push_back({"squeeze_unsqueeze_input_form", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 3, 1, 5});
                 ValueId s = b.Op(OpKind::kSqueeze, {x, b.Ints({2})});
                 b.Output(b.Op(OpKind::kUnsqueeze, {s, b.Ints({0, 4})}));
               }});
  // Dense layers.
  c.push_back({"gemm_trans_alpha_beta", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({3, 20});
                 b.Output(b.Op(OpKind::kGemm, {x, b.Weight({7, 20}), b.Weight({7})},
                               A({{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.f}})));
               }});
  c.push_back({"gemm_transA_matrix_bias", 11, [](CaseBuilder& b) {
                 ValueId x = b.Input({20, 3});
                 b.Output(b.Op(OpKind::kGemm, {x, b.Weight({20, 4}), b.Weight({3, 4})},
                               A({{"transA", int64_t{1}}})));
               }});
  c.push_back({"matmul_batched_and_vector", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 5, 8});
                 b.Output(b.Op(OpKind::kMatMul, {x, b.Weight({8, 6})}));
                 b.Output(b.Op(OpKind::kMatMul, {x, b.Input({3, 8, 4})}));
                 b.Output(b.Op(OpKind::kMatMul, {x, b.Weight({8})}));
               }});
  c.push_back({"softmax_opset11_coerced", 11, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 4, 5}, DType::kFloat32, -3.f, 3.f);
                 b.Output(b.Op(OpKind::kSoftmax, {x}));
                 b.Output(b.Op(OpKind::kLogSoftmax, {x}, A({{"axis", int64_t{2}}})));
               }});
  c.push_back({"softmax_opset13_axis", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 4, 5}, DType::kFloat32, -3.f, 3.f);
                 b.Output(b.Op(OpKind::kSoftmax, {x}));
                 b.Output(b.Op(OpKind::kSoftmax, {x}, A({{"axis", int64_t{1}}})));
               }});
  c.push_back({"reduce_mean_keepdims", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 4, 5});
                 b.Output(b.Op(OpKind::kReduceMean, {x},
                               A({{"axes", Ints{2, 3}}, {"keepdims", int64_t{0}}})));
                 b.Output(b.Op(OpKind::kReduceMean, {x}, A({{"axes", Ints{1}}})));
               }});
  // Padding and resizing.
  c.push_back({"pad_modes", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 2, 5, 6});
                 b.Output(b.Op(OpKind::kPad, {x, b.Ints({0, 0, 1, 2, 0, 0, 2, 1}),
                                              b.Const(Tensor::Scalar<float>(0.5f))}));
                 b.Output(b.Op(OpKind::kPad, {x, b.Ints({0, 0, 2, 1, 0, 0, 1, 2})},
                               A({{"mode", std::string("reflect")}})));
                 b.Output(b.Op(OpKind::kPad, {x, b.Ints({0, 0, 1, 0, 0, 0, -1, 3})},
                               A({{"mode", std::string("edge")}})));
               }});
  c.push_back({"pad_attribute_form", 7, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 2, 4, 4});
                 b.Output(b.Op(OpKind::kPad, {x},
                               A({{"pads", Ints{0, 0, 1, 1, 0, 0, 1, 1}}, {"value", 1.f}})));
               }});
  c.push_back({"resize_nearest_modes", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 2, 5, 7});
                 ValueId none = kNoValue;
                 b.Output(b.Op(OpKind::kResize, {x, none, b.Floats({1, 1, 2, 2})},
                               A({{"mode", std::string("nearest")},
                                  {"coordinate_transformation_mode", std::string("asymmetric")},
                                  {"nearest_mode", std::string("floor")}})));
                 b.Output(b.Op(OpKind::kResize, {x, none, b.Floats({1, 1, 1.6f, 0.7f})},
                               A({{"mode", std::string("nearest")}})));
               }});
  c.push_back(
      {"resize_linear_modes", 13, [](CaseBuilder& b) {
         ValueId x = b.Input({1, 3, 6, 5});
         ValueId none = kNoValue;
         b.Output(b.Op(OpKind::kResize, {x, none, b.Floats({1, 1, 2, 2})},
                       A({{"mode", std::string("linear")}})));
         b.Output(b.Op(OpKind::kResize, {x, none, none, b.Ints({1, 3, 11, 9})},
                       A({{"mode", std::string("linear")},
                          {"coordinate_transformation_mode", std::string("align_corners")}})));
         b.Output(b.Op(OpKind::kResize, {x, none, b.Floats({1, 1, 0.5f, 2.5f})},
                       A({{"mode", std::string("linear")},
                          {"coordinate_transformation_mode", std::string("pytorch_half_pixel")}})));
       }});
  c.push_back({"upsample_opset9", 9, [](CaseBuilder& b) {
                 ValueId x = b.Input({1, 2, 4, 3});
                 b.Output(b.Op(OpKind::kUpsample, {x, b.Floats({1, 1, 2, 3})},
                               A({{"mode", std::string("nearest")}})));
               }});
  c.push_back({"dropout_identity", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 8});
                 b.Output(b.Op(OpKind::kIdentity, {b.Op(OpKind::kDropout, {x})}));
               }});
  // A PyTorch flatten head with a dynamic batch: the shape subgraph must fold at run time.
  c.push_back({"pytorch_dynamic_flatten_chain", 13, [](CaseBuilder& b) {
                 ValueId x = b.DynamicInput({3, 4, 2, 2});
                 ValueId shape = b.Op(OpKind::kShape, {x}, {}, 1, DType::kInt64);
                 ValueId n = b.Op(OpKind::kGather, {shape, b.Const(Tensor::Scalar<int64_t>(0))},
                                  A({{"axis", int64_t{0}}}), 1, DType::kInt64);
                 ValueId un = b.Op(OpKind::kUnsqueeze, {n, b.Ints({0})}, {}, 1, DType::kInt64);
                 ValueId cat = b.Op(OpKind::kConcat, {un, b.Ints({-1})}, A({{"axis", int64_t{0}}}),
                                    1, DType::kInt64);
                 ValueId flat = b.Op(OpKind::kReshape, {x, cat});
                 b.Output(b.Op(OpKind::kGemm, {flat, b.Weight({5, 16}), b.Weight({5})},
                               A({{"transB", int64_t{1}}})));
               }});
  c.push_back({"where_equal_cast_expand", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 4});
                 ValueId shape = b.Op(OpKind::kShape, {x}, {}, 1, DType::kInt64);
                 ValueId ones = b.Op(OpKind::kConstantOfShape, {shape},
                                     A({{"value", Tensor::FromVector<float>({1.f}, {1})}}));
                 ValueId pos = b.Op(OpKind::kGreater, {x, b.Const(Tensor::Scalar<float>(0.f))}, {},
                                    1, DType::kBool);
                 b.Output(b.Op(OpKind::kWhere, {pos, x, ones}));
                 ValueId i = b.Op(OpKind::kCast, {x}, A({{"to", int64_t{7}}}), 1, DType::kInt64);
                 b.Output(b.Op(OpKind::kCast, {i}, A({{"to", int64_t{1}}})));
                 b.Output(b.Op(OpKind::kExpand, {b.Input({3, 1}), b.Ints({2, 3, 4})}));
               }});
  // Mod as Swin's window-shift mask computes it (int64, Python sign rule) and float fmod.
  // ScatterND as Swin-T's exported window mask uses it (rows of a constant replaced), and
  // single elements.
  c.push_back({"scatter_nd", 13, [](CaseBuilder& b) {
                 ValueId rows = b.Const(Tensor::FromVector<int64_t>({3, 0}, {2, 1}));
                 b.Output(b.Op(OpKind::kScatterND, {b.Input({4, 5, 3}), rows, b.Input({2, 5, 3})}));
                 ValueId cells = b.Const(Tensor::FromVector<int64_t>({1, 2, 3, 4, 0, 0}, {3, 2}));
                 b.Output(b.Op(OpKind::kScatterND, {b.Input({4, 5}), cells, b.Input({3})}));
               }});
  c.push_back({"mod_int_and_fmod", 13, [](CaseBuilder& b) {
                 ValueId i = b.Input({4, 3}, DType::kInt64);
                 ValueId neg = b.Op(OpKind::kSub, {i, b.Ints({5})}, {}, 1, DType::kInt64);
                 b.Output(b.Op(OpKind::kMod, {neg, b.Ints({3, -4, 7})}, {}, 1, DType::kInt64));
                 ValueId x = b.Input({2, 5}, DType::kFloat32, -6.f, 6.f);
                 b.Output(b.Op(OpKind::kMod, {x, b.Floats({1.5f, -2.5f, 3.f, 0.7f, -1.f})},
                               A({{"fmod", int64_t{1}}})));
               }});
  // Exporter patterns the cpu backend fuses (ops/fuse_patterns.h) or maps onto oneDNN: a
  // ConvNeXt block as torch.onnx writes it at opset 13 (depthwise 7x7, channel-last Transpose,
  // decomposed LayerNorm, rank-4 MatMul, erf GELU, layer scale, residual).
  c.push_back(
      {"convnext_block_decomposed", 13, [](CaseBuilder& b) {
         ValueId x = b.Input({1, 8, 6, 5});
         auto scalar = [&](float v) { return b.Const(Tensor::Scalar<float>(v)); };
         ValueId dw = b.Op(OpKind::kConv, {x, b.Weight({8, 1, 7, 7}), b.Weight({8})},
                           A({{"group", int64_t{8}}, {"pads", Ints{3, 3, 3, 3}}}));
         ValueId t = b.Op(OpKind::kTranspose, {dw}, A({{"perm", Ints{0, 2, 3, 1}}}));
         ValueId mean = b.Op(OpKind::kReduceMean, {t}, A({{"axes", Ints{-1}}}));
         ValueId d = b.Op(OpKind::kSub, {t, mean});
         ValueId var = b.Op(OpKind::kReduceMean, {b.Op(OpKind::kPow, {d, scalar(2.f)})},
                            A({{"axes", Ints{-1}}}));
         ValueId sd = b.Op(OpKind::kSqrt, {b.Op(OpKind::kAdd, {var, scalar(1e-6f)})});
         ValueId n = b.Op(OpKind::kDiv, {d, sd});
         ValueId ln = b.Op(OpKind::kAdd,
                           {b.Op(OpKind::kMul, {n, b.Weight({8}, 0.5f, 1.5f)}), b.Weight({8})});
         ValueId h =
             b.Op(OpKind::kAdd, {b.Op(OpKind::kMatMul, {ln, b.Weight({8, 32})}), b.Weight({32})});
         ValueId erf = b.Op(OpKind::kErf, {b.Op(OpKind::kDiv, {h, scalar(1.4142135f)})});
         ValueId gelu =
             b.Op(OpKind::kMul,
                  {b.Op(OpKind::kMul, {h, b.Op(OpKind::kAdd, {erf, scalar(1.f)})}), scalar(0.5f)});
         ValueId o =
             b.Op(OpKind::kAdd, {b.Op(OpKind::kMatMul, {gelu, b.Weight({32, 8})}), b.Weight({8})});
         ValueId ls = b.Op(OpKind::kMul, {o, b.Weight({8})});
         ValueId back = b.Op(OpKind::kTranspose, {ls}, A({{"perm", Ints{0, 3, 1, 2}}}));
         b.Output(b.Op(OpKind::kAdd, {x, back}));
       }});
  // paddle2onnx's GELU (Mul by 1/sqrt 2, 0.5 applied first), broadcast first operands of Sub
  // and Div, a constant-exponent Pow, Reciprocal, Neg, and a batched broadcasting MatMul.
  c.push_back({"paddle_gelu_broadcast_binary_batched_matmul", 13, [](CaseBuilder& b) {
                 ValueId x = b.Input({2, 3, 4, 5});
                 auto scalar = [&](float v) { return b.Const(Tensor::Scalar<float>(v)); };
                 ValueId erf = b.Op(OpKind::kErf, {b.Op(OpKind::kMul, {x, scalar(0.70710678f)})});
                 ValueId half = b.Op(OpKind::kMul, {x, scalar(0.5f)});
                 ValueId gelu = b.Op(OpKind::kMul, {half, b.Op(OpKind::kAdd, {scalar(1.f), erf})});
                 b.Output(gelu);
                 ValueId c3 = b.Weight({1, 3, 1, 1});
                 b.Output(b.Op(OpKind::kSub, {c3, x}));
                 ValueId pos = b.Op(OpKind::kAdd, {b.Op(OpKind::kAbs, {x}), scalar(0.5f)});
                 b.Output(b.Op(OpKind::kDiv, {scalar(2.f), pos}));
                 b.Output(b.Op(OpKind::kPow, {pos, scalar(1.5f)}));
                 b.Output(b.Op(OpKind::kNeg, {b.Op(OpKind::kReciprocal, {pos})}));
                 b.Output(b.Op(OpKind::kMatMul, {x, b.Weight({3, 5, 6})}));
                 b.Output(b.Op(OpKind::kReduceSum, {x, b.Ints({1, 3})}));
               }});
  return c;
}

class OracleOpsTest : public ::testing::TestWithParam<OracleCase> {};

TEST_P(OracleOpsTest, MatchesOnnxRuntime) {
  const OracleCase& oc = GetParam();
  CaseBuilder b(oc.opset);
  oc.build(b);
  TempDir dir;
  std::string detail;
  auto err = CompareWithOnnxRuntime(b.graph(), b.inputs(), dir.path(), oc.name, &detail);
  ASSERT_TRUE(err.ok()) << err.status().ToString();
  EXPECT_LE(*err, kTolerance) << detail;
}

INSTANTIATE_TEST_SUITE_P(EdgeCases, OracleOpsTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<OracleCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace edgeinfer::testing

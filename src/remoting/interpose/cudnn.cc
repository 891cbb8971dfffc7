// libcudnn.so.9 interposer: cuDNN handles, descriptors and the fp32 forward calls of CNN
// inference forwarded to the remoting server (docs/remoting.md). Descriptors live on the
// server; a copy of their parameters stays here so that dimension, algorithm and workspace
// queries need no round trip. Compute calls are asynchronous (queued).
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstring>
#include <string>

#include "remoting/interpose/interpose.h"

using namespace edgeinfer::remoting;
using namespace edgeinfer::remoting::interpose;

struct cudnnContext {
  uint64_t id = 0;
  cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
  uint64_t id = 0;
  bool set = false;
  int dims[4] = {0, 0, 0, 0};
  int strides[4] = {0, 0, 0, 0};
};
struct cudnnFilterStruct {
  uint64_t id = 0;
  bool set = false;
  int dims[4] = {0, 0, 0, 0};
};
struct cudnnConvolutionStruct {
  uint64_t id = 0;
  bool set = false;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  bool cross = true;
  int groups = 1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};
struct cudnnPoolingStruct {
  uint64_t id = 0;
  bool set = false;
  int win_h = 0, win_w = 0, pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1;
};
struct cudnnActivationStruct {
  uint64_t id = 0;
  bool set = false;
};
struct cudnnLRNStruct {
  uint64_t id = 0;
};
struct cudnnOpTensorStruct {
  uint64_t id = 0;
  bool set = false;
};

namespace {

thread_local std::string last_error_string;

cudnnStatus_t Fail(cudnnStatus_t st, const std::string& why) {
  last_error_string = why;
  return st;
}
cudnnStatus_t Unsupported(const char* what) {
  last_error_string = std::string(what) + " is not supported by edgeinfer remoting";
  return static_cast<cudnnStatus_t>(
      edgeinfer_remoting_unsupported(what, CUDNN_STATUS_NOT_SUPPORTED));
}

cudnnStatus_t Enq(Op op, const Encoder& args) {
  Client* c = GetClient();
  if (c == nullptr) return Fail(CUDNN_STATUS_NOT_INITIALIZED, "no remoting connection");
  return c->Enqueue(op, args).ok() ? CUDNN_STATUS_SUCCESS
                                   : Fail(CUDNN_STATUS_EXECUTION_FAILED, "connection lost");
}

// Creates the client object and its server descriptor.
template <typename T>
cudnnStatus_t CreateDesc(T** out, DescKind kind) {
  if (out == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null descriptor pointer");
  Client* c = GetClient();
  if (c == nullptr) return Fail(CUDNN_STATUS_NOT_INITIALIZED, "no remoting connection");
  auto* d = new T();
  d->id = c->NextId();
  const cudnnStatus_t st = Enq(Op::kDescCreate, Encoder().U8(uint8_t(kind)).U64(d->id));
  if (st != CUDNN_STATUS_SUCCESS) {
    delete d;
    return st;
  }
  *out = d;
  return CUDNN_STATUS_SUCCESS;
}

template <typename T>
cudnnStatus_t DestroyDesc(T* d) {
  if (d == nullptr) return CUDNN_STATUS_SUCCESS;
  const cudnnStatus_t st = Enq(Op::kDescDestroy, Encoder().U64(d->id));
  delete d;
  return st;
}

float Scalar(const void* p) { return p == nullptr ? 0.0f : *static_cast<const float*>(p); }

bool Ready(const cudnnTensorStruct* t) { return t != nullptr && t->set; }

cudnnStatus_t SetTensor(cudnnTensorDescriptor_t d, cudnnDataType_t type, const int dims[4],
                        const int strides[4]) {
  if (d == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null tensor descriptor");
  if (type != CUDNN_DATA_FLOAT) return Unsupported("cuDNN tensors of a type other than float");
  for (int i = 0; i < 4; ++i) {
    if (dims[i] <= 0 || strides[i] <= 0) {
      return Fail(CUDNN_STATUS_BAD_PARAM, "tensor dimensions and strides must be positive");
    }
  }
  std::memcpy(d->dims, dims, sizeof(d->dims));
  std::memcpy(d->strides, strides, sizeof(d->strides));
  d->set = true;
  Encoder e;
  e.U64(d->id);
  for (int i = 0; i < 4; ++i) e.I32(dims[i]);
  for (int i = 0; i < 4; ++i) e.I32(strides[i]);
  return Enq(Op::kTensorDescSet, e);
}

}  // namespace

extern "C" {

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }
size_t cudnnGetCudartVersion(void) { return CUDART_VERSION; }

const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_SUCCESS:
      return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED:
      return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM:
      return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED:
      return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_EXECUTION_FAILED:
      return "CUDNN_STATUS_EXECUTION_FAILED";
    default:
      return "CUDNN_STATUS_UNKNOWN (edgeinfer remoting)";
  }
}

void cudnnGetLastErrorString(char* message, size_t max_size) {
  if (message == nullptr || max_size == 0) return;
  std::snprintf(message, max_size, "%s", last_error_string.c_str());
  last_error_string.clear();
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  if (handle == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null handle pointer");
  Client* c = GetClient();
  if (c == nullptr) return Fail(CUDNN_STATUS_NOT_INITIALIZED, "no remoting connection");
  auto* h = new cudnnContext();
  h->id = c->NextId();
  const cudnnStatus_t st = Enq(Op::kDnnCreate, Encoder().U64(h->id));
  if (st != CUDNN_STATUS_SUCCESS) {
    delete h;
    return st;
  }
  *handle = h;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  if (handle == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null handle");
  const cudnnStatus_t st = Enq(Op::kDnnDestroy, Encoder().U64(handle->id));
  delete handle;
  return st;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null handle");
  handle->stream = stream;
  return Enq(Op::kDnnSetStream, Encoder().U64(handle->id).U64(Ptr(stream)));
}
cudnnStatus_t cudnnGetStream(cudnnHandle_t handle, cudaStream_t* stream) {
  if (handle == nullptr || stream == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null");
  *stream = handle->stream;
  return CUDNN_STATUS_SUCCESS;
}

// Tensor descriptors.
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) {
  return CreateDesc(d, DescKind::kTensor);
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { return DestroyDesc(d); }

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format,
                                         cudnnDataType_t type, int n, int c, int h, int w) {
  const int dims[4] = {n, c, h, w};
  if (format == CUDNN_TENSOR_NCHW) {
    const int strides[4] = {c * h * w, h * w, w, 1};
    return SetTensor(d, type, dims, strides);
  }
  if (format == CUDNN_TENSOR_NHWC) {
    const int strides[4] = {h * w * c, 1, w * c, c};
    return SetTensor(d, type, dims, strides);
  }
  return Unsupported("cudnnSetTensor4dDescriptor with a vectorised format");
}

cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t d, cudnnDataType_t type, int n,
                                           int c, int h, int w, int ns, int cs, int hs, int ws) {
  const int dims[4] = {n, c, h, w}, strides[4] = {ns, cs, hs, ws};
  return SetTensor(d, type, dims, strides);
}

cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t d, cudnnDataType_t type,
                                         int nb_dims, const int dim_a[], const int stride_a[]) {
  if (dim_a == nullptr || stride_a == nullptr || nb_dims < 3 || nb_dims > 4) {
    return nb_dims > 4 ? Unsupported("cudnnSetTensorNdDescriptor with more than 4 dimensions")
                       : Fail(CUDNN_STATUS_BAD_PARAM, "bad tensor dimensions");
  }
  int dims[4] = {1, 1, 1, 1}, strides[4] = {1, 1, 1, 1};
  for (int i = 0; i < nb_dims; ++i) {
    dims[i] = dim_a[i];
    strides[i] = stride_a[i];
  }
  return SetTensor(d, type, dims, strides);
}

cudnnStatus_t cudnnGetTensor4dDescriptor(const cudnnTensorDescriptor_t d, cudnnDataType_t* type,
                                         int* n, int* c, int* h, int* w, int* ns, int* cs, int* hs,
                                         int* ws) {
  if (!Ready(d)) return Fail(CUDNN_STATUS_BAD_PARAM, "tensor descriptor not set");
  int* out[8] = {n, c, h, w, ns, cs, hs, ws};
  for (int i = 0; i < 8; ++i) {
    if (out[i] != nullptr) *out[i] = i < 4 ? d->dims[i] : d->strides[i - 4];
  }
  if (type != nullptr) *type = CUDNN_DATA_FLOAT;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetTensorSizeInBytes(const cudnnTensorDescriptor_t d, size_t* size) {
  if (!Ready(d) || size == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "descriptor not set");
  size_t span = 1;
  for (int i = 0; i < 4; ++i) span += size_t(d->dims[i] - 1) * d->strides[i];
  *size = span * sizeof(float);
  return CUDNN_STATUS_SUCCESS;
}

// Filters.
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) {
  return CreateDesc(d, DescKind::kFilter);
}
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { return DestroyDesc(d); }
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w) {
  if (d == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null filter descriptor");
  if (type != CUDNN_DATA_FLOAT) return Unsupported("cuDNN filters of a type other than float");
  if (format != CUDNN_TENSOR_NCHW) return Unsupported("cuDNN filters in a format other than NCHW");
  if (k <= 0 || c <= 0 || h <= 0 || w <= 0) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "filter dimensions must be positive");
  }
  d->dims[0] = k, d->dims[1] = c, d->dims[2] = h, d->dims[3] = w;
  d->set = true;
  return Enq(Op::kFilterDescSet, Encoder().U64(d->id).I32(k).I32(c).I32(h).I32(w));
}

// Convolutions.
static cudnnStatus_t SendConv(cudnnConvolutionDescriptor_t d) {
  Encoder e;
  e.U64(d->id).I32(d->pad_h).I32(d->pad_w).I32(d->stride_h).I32(d->stride_w).I32(d->dil_h);
  e.I32(d->dil_w).U8(d->cross ? 1 : 0).I32(d->groups);
  return Enq(Op::kConvDescSet, e);
}
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
  return CreateDesc(d, DescKind::kConv);
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
  return DestroyDesc(d);
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w,
                                              int u, int v, int dil_h, int dil_w,
                                              cudnnConvolutionMode_t mode,
                                              cudnnDataType_t compute) {
  if (d == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null convolution descriptor");
  if (compute != CUDNN_DATA_FLOAT) return Unsupported("cuDNN convolutions computing in non-fp32");
  if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dil_h <= 0 || dil_w <= 0) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "convolution parameters out of range");
  }
  d->pad_h = pad_h, d->pad_w = pad_w, d->stride_h = u, d->stride_w = v, d->dil_h = dil_h;
  d->dil_w = dil_w, d->cross = mode == CUDNN_CROSS_CORRELATION, d->set = true;
  return SendConv(d);
}
cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int groups) {
  if (d == nullptr || groups <= 0) return Fail(CUDNN_STATUS_BAD_PARAM, "bad group count");
  d->groups = groups;
  return d->set ? SendConv(d) : CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t math) {
  if (d == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null convolution descriptor");
  d->math = math;  // the cpu executor computes in fp32 whatever the math type
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t cd,
                                                    const cudnnTensorDescriptor_t x,
                                                    const cudnnFilterDescriptor_t f, int* n, int* c,
                                                    int* h, int* w) {
  if (cd == nullptr || !cd->set || !Ready(x) || f == nullptr || !f->set || n == nullptr ||
      c == nullptr || h == nullptr || w == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "descriptor not set or null output");
  }
  if (x->dims[1] != f->dims[1] * cd->groups) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "input channels do not match the filter and groups");
  }
  const int oh = (x->dims[2] + 2 * cd->pad_h - cd->dil_h * (f->dims[2] - 1) - 1) / cd->stride_h + 1;
  const int ow = (x->dims[3] + 2 * cd->pad_w - cd->dil_w * (f->dims[3] - 1) - 1) / cd->stride_w + 1;
  if (oh <= 0 || ow <= 0) return Fail(CUDNN_STATUS_BAD_PARAM, "empty convolution output");
  *n = x->dims[0], *c = f->dims[0], *h = oh, *w = ow;
  return CUDNN_STATUS_SUCCESS;
}

// One algorithm: the cpu executor's direct convolution, with no workspace.
static cudnnStatus_t OneAlgorithm(int requested, int* returned,
                                  cudnnConvolutionFwdAlgoPerf_t* perf) {
  if (returned == nullptr || perf == nullptr || requested < 1) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "bad algorithm query arguments");
  }
  std::memset(perf, 0, sizeof(*perf));
  perf->algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  perf->status = CUDNN_STATUS_SUCCESS;
  perf->time = 0;
  perf->memory = 0;
  perf->determinism = CUDNN_DETERMINISTIC;
  perf->mathType = CUDNN_DEFAULT_MATH;
  *returned = 1;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                                     const cudnnFilterDescriptor_t,
                                                     const cudnnConvolutionDescriptor_t,
                                                     const cudnnTensorDescriptor_t, const int req,
                                                     int* returned,
                                                     cudnnConvolutionFwdAlgoPerf_t* perf) {
  return OneAlgorithm(req, returned, perf);
}
cudnnStatus_t cudnnFindConvolutionForwardAlgorithm(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                                   const cudnnFilterDescriptor_t,
                                                   const cudnnConvolutionDescriptor_t,
                                                   const cudnnTensorDescriptor_t, const int req,
                                                   int* returned,
                                                   cudnnConvolutionFwdAlgoPerf_t* perf) {
  return OneAlgorithm(req, returned, perf);
}
cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                                      const cudnnFilterDescriptor_t,
                                                      const cudnnConvolutionDescriptor_t,
                                                      const cudnnTensorDescriptor_t,
                                                      cudnnConvolutionFwdAlgo_t, size_t* size) {
  if (size == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null size");
  *size = 0;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void* alpha,
                                      const cudnnTensorDescriptor_t xd, const void* x,
                                      const cudnnFilterDescriptor_t wd, const void* w,
                                      const cudnnConvolutionDescriptor_t cd,
                                      cudnnConvolutionFwdAlgo_t, void*, size_t, const void* beta,
                                      const cudnnTensorDescriptor_t yd, void* y) {
  if (h == nullptr || !Ready(xd) || !Ready(yd) || wd == nullptr || !wd->set || cd == nullptr ||
      !cd->set || alpha == nullptr || beta == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "null handle or descriptor not set");
  }
  Encoder e;
  e.U64(h->id).F32(Scalar(alpha)).U64(xd->id).U64(Ptr(x)).U64(wd->id).U64(Ptr(w)).U64(cd->id);
  e.F32(Scalar(beta)).U64(yd->id).U64(Ptr(y));
  return Enq(Op::kConvForward, e);
}

cudnnStatus_t cudnnAddTensor(cudnnHandle_t h, const void* alpha, const cudnnTensorDescriptor_t ad,
                             const void* a, const void* beta, const cudnnTensorDescriptor_t cd,
                             void* c) {
  if (h == nullptr || !Ready(ad) || !Ready(cd) || alpha == nullptr || beta == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "null handle or descriptor not set");
  }
  Encoder e;
  e.U64(h->id).F32(Scalar(alpha)).U64(ad->id).U64(Ptr(a)).F32(Scalar(beta)).U64(cd->id);
  e.U64(Ptr(c));
  return Enq(Op::kAddTensor, e);
}

// Pooling.
cudnnStatus_t cudnnCreatePoolingDescriptor(cudnnPoolingDescriptor_t* d) {
  return CreateDesc(d, DescKind::kPool);
}
cudnnStatus_t cudnnDestroyPoolingDescriptor(cudnnPoolingDescriptor_t d) { return DestroyDesc(d); }
cudnnStatus_t cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t d, cudnnPoolingMode_t mode,
                                          cudnnNanPropagation_t, int wh, int ww, int ph, int pw,
                                          int sh, int sw) {
  if (d == nullptr || wh <= 0 || ww <= 0 || ph < 0 || pw < 0 || sh <= 0 || sw <= 0) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "pooling parameters out of range");
  }
  if (mode > CUDNN_POOLING_MAX_DETERMINISTIC) return Unsupported("this cuDNN pooling mode");
  d->win_h = wh, d->win_w = ww, d->pad_h = ph, d->pad_w = pw, d->stride_h = sh, d->stride_w = sw;
  d->set = true;
  Encoder e;
  e.U64(d->id).U8(uint8_t(mode)).I32(wh).I32(ww).I32(ph).I32(pw).I32(sh).I32(sw);
  return Enq(Op::kPoolDescSet, e);
}
cudnnStatus_t cudnnGetPooling2dForwardOutputDim(const cudnnPoolingDescriptor_t p,
                                                const cudnnTensorDescriptor_t x, int* n, int* c,
                                                int* h, int* w) {
  if (p == nullptr || !p->set || !Ready(x) || n == nullptr || c == nullptr || h == nullptr ||
      w == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "descriptor not set or null output");
  }
  *n = x->dims[0], *c = x->dims[1];
  *h = 1 + (x->dims[2] + 2 * p->pad_h - p->win_h) / p->stride_h;
  *w = 1 + (x->dims[3] + 2 * p->pad_w - p->win_w) / p->stride_w;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnPoolingForward(cudnnHandle_t h, const cudnnPoolingDescriptor_t p,
                                  const void* alpha, const cudnnTensorDescriptor_t xd,
                                  const void* x, const void* beta, const cudnnTensorDescriptor_t yd,
                                  void* y) {
  if (h == nullptr || p == nullptr || !p->set || !Ready(xd) || !Ready(yd) || alpha == nullptr ||
      beta == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "null handle or descriptor not set");
  }
  Encoder e;
  e.U64(h->id).U64(p->id).F32(Scalar(alpha)).U64(xd->id).U64(Ptr(x)).F32(Scalar(beta));
  e.U64(yd->id).U64(Ptr(y));
  return Enq(Op::kPoolingForward, e);
}

// Activations.
cudnnStatus_t cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t* d) {
  return CreateDesc(d, DescKind::kAct);
}
cudnnStatus_t cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t d) {
  return DestroyDesc(d);
}
cudnnStatus_t cudnnSetActivationDescriptor(cudnnActivationDescriptor_t d,
                                           cudnnActivationMode_t mode, cudnnNanPropagation_t,
                                           double coef) {
  if (d == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null activation descriptor");
  if (mode > CUDNN_ACTIVATION_SWISH) return Unsupported("this cuDNN activation mode");
  d->set = true;
  return Enq(Op::kActDescSet, Encoder().U64(d->id).U8(uint8_t(mode)).F64(coef));
}
cudnnStatus_t cudnnActivationForward(cudnnHandle_t h, cudnnActivationDescriptor_t a,
                                     const void* alpha, const cudnnTensorDescriptor_t xd,
                                     const void* x, const void* beta,
                                     const cudnnTensorDescriptor_t yd, void* y) {
  if (h == nullptr || a == nullptr || !a->set || !Ready(xd) || !Ready(yd) || alpha == nullptr ||
      beta == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "null handle or descriptor not set");
  }
  Encoder e;
  e.U64(h->id).U64(a->id).F32(Scalar(alpha)).U64(xd->id).U64(Ptr(x)).F32(Scalar(beta));
  e.U64(yd->id).U64(Ptr(y));
  return Enq(Op::kActivationForward, e);
}

cudnnStatus_t cudnnSoftmaxForward(cudnnHandle_t h, cudnnSoftmaxAlgorithm_t algo,
                                  cudnnSoftmaxMode_t mode, const void* alpha,
                                  const cudnnTensorDescriptor_t xd, const void* x, const void* beta,
                                  const cudnnTensorDescriptor_t yd, void* y) {
  if (h == nullptr || !Ready(xd) || !Ready(yd) || alpha == nullptr || beta == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "null handle or descriptor not set");
  }
  Encoder e;
  e.U64(h->id).U8(algo == CUDNN_SOFTMAX_LOG ? 1 : 0).U8(mode == CUDNN_SOFTMAX_MODE_CHANNEL ? 1 : 0);
  e.F32(Scalar(alpha)).U64(xd->id).U64(Ptr(x)).F32(Scalar(beta)).U64(yd->id).U64(Ptr(y));
  return Enq(Op::kSoftmaxForward, e);
}

// LRN (cross-channel).
cudnnStatus_t cudnnCreateLRNDescriptor(cudnnLRNDescriptor_t* d) {
  const cudnnStatus_t st = CreateDesc(d, DescKind::kLrn);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  // cuDNN's defaults: n 5, alpha 1e-4, beta 0.75, k 2.
  return Enq(Op::kLrnDescSet, Encoder().U64((*d)->id).U32(5).F64(1e-4).F64(0.75).F64(2.0));
}
cudnnStatus_t cudnnDestroyLRNDescriptor(cudnnLRNDescriptor_t d) { return DestroyDesc(d); }
cudnnStatus_t cudnnSetLRNDescriptor(cudnnLRNDescriptor_t d, unsigned n, double alpha, double beta,
                                    double k) {
  if (d == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null LRN descriptor");
  return Enq(Op::kLrnDescSet, Encoder().U64(d->id).U32(n).F64(alpha).F64(beta).F64(k));
}
cudnnStatus_t cudnnLRNCrossChannelForward(cudnnHandle_t h, cudnnLRNDescriptor_t l,
                                          cudnnLRNMode_t mode, const void* alpha,
                                          const cudnnTensorDescriptor_t xd, const void* x,
                                          const void* beta, const cudnnTensorDescriptor_t yd,
                                          void* y) {
  if (h == nullptr || l == nullptr || !Ready(xd) || !Ready(yd) || alpha == nullptr ||
      beta == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "null handle or descriptor not set");
  }
  if (mode != CUDNN_LRN_CROSS_CHANNEL_DIM1) return Unsupported("this cuDNN LRN mode");
  Encoder e;
  e.U64(h->id).U64(l->id).F32(Scalar(alpha)).U64(xd->id).U64(Ptr(x)).F32(Scalar(beta));
  e.U64(yd->id).U64(Ptr(y));
  return Enq(Op::kLrnForward, e);
}

// Op tensor and transform tensor.
cudnnStatus_t cudnnCreateOpTensorDescriptor(cudnnOpTensorDescriptor_t* d) {
  return CreateDesc(d, DescKind::kOpTensor);
}
cudnnStatus_t cudnnDestroyOpTensorDescriptor(cudnnOpTensorDescriptor_t d) { return DestroyDesc(d); }
cudnnStatus_t cudnnSetOpTensorDescriptor(cudnnOpTensorDescriptor_t d, cudnnOpTensorOp_t op,
                                         cudnnDataType_t type, cudnnNanPropagation_t) {
  if (d == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "null op tensor descriptor");
  if (type != CUDNN_DATA_FLOAT) return Unsupported("cudnnOpTensor computing in non-fp32");
  if (op > CUDNN_OP_TENSOR_NOT) return Unsupported("this cuDNN op tensor op");
  d->set = true;
  return Enq(Op::kOpTensorDescSet, Encoder().U64(d->id).U8(uint8_t(op)));
}
cudnnStatus_t cudnnOpTensor(cudnnHandle_t h, const cudnnOpTensorDescriptor_t o, const void* alpha1,
                            const cudnnTensorDescriptor_t ad, const void* a, const void* alpha2,
                            const cudnnTensorDescriptor_t bd, const void* b, const void* beta,
                            const cudnnTensorDescriptor_t cd, void* c) {
  if (h == nullptr || o == nullptr || !o->set || !Ready(ad) || !Ready(cd) || alpha1 == nullptr ||
      beta == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "null handle or descriptor not set");
  }
  Encoder e;
  e.U64(h->id).U64(o->id).F32(Scalar(alpha1)).U64(ad->id).U64(Ptr(a)).F32(Scalar(alpha2));
  e.U64(bd != nullptr ? bd->id : 0).U64(Ptr(b)).F32(Scalar(beta)).U64(cd->id).U64(Ptr(c));
  return Enq(Op::kOpTensor, e);
}
// y = alpha * x + beta * y between two layouts of the same dimensions: the server's add with
// equal dimensions.
cudnnStatus_t cudnnTransformTensor(cudnnHandle_t h, const void* alpha,
                                   const cudnnTensorDescriptor_t xd, const void* x,
                                   const void* beta, const cudnnTensorDescriptor_t yd, void* y) {
  if (h == nullptr || !Ready(xd) || !Ready(yd) || alpha == nullptr || beta == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "null handle or descriptor not set");
  }
  if (std::memcmp(xd->dims, yd->dims, sizeof(xd->dims)) != 0) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "transform tensor dimensions differ");
  }
  Encoder e;
  e.U64(h->id).F32(Scalar(alpha)).U64(xd->id).U64(Ptr(x)).F32(Scalar(beta)).U64(yd->id);
  e.U64(Ptr(y));
  return Enq(Op::kAddTensor, e);
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(
    cudnnHandle_t h, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
    const cudnnTensorDescriptor_t xd, const void* x, const cudnnTensorDescriptor_t yd, void* y,
    const cudnnTensorDescriptor_t bd, const void* scale, const void* bias, const void* mean,
    const void* var, double eps) {
  if (h == nullptr || !Ready(xd) || !Ready(yd) || !Ready(bd) || alpha == nullptr ||
      beta == nullptr) {
    return Fail(CUDNN_STATUS_BAD_PARAM, "null handle or descriptor not set");
  }
  if (mode != CUDNN_BATCHNORM_SPATIAL) return Unsupported("batch norm other than spatial mode");
  Encoder e;
  e.U64(h->id).F32(Scalar(alpha)).F32(Scalar(beta)).U64(xd->id).U64(Ptr(x)).U64(yd->id);
  e.U64(Ptr(y)).U64(bd->id).U64(Ptr(scale)).U64(Ptr(bias)).U64(Ptr(mean)).U64(Ptr(var)).F64(eps);
  return Enq(Op::kBatchNormInference, e);
}

}  // extern "C"

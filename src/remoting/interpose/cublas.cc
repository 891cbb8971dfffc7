// libcublas.so.13 interposer: cuBLAS handles and the fp32 GEMM/GEMV family forwarded to the
// remoting server (docs/remoting.md). The calls are asynchronous: queued with the process's
// CUDA runtime calls, their errors returned by the next synchronising call.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstring>

#include "remoting/interpose/interpose.h"

using namespace edgeinfer::remoting;
using namespace edgeinfer::remoting::interpose;

// The handle type is opaque to programs; here it is the client's view of a server handle.
struct cublasContext {
  uint64_t id = 0;
  cudaStream_t stream = nullptr;
  cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
  cublasMath_t math_mode = CUBLAS_DEFAULT_MATH;
};

namespace {

cublasStatus_t Enq(Op op, const Encoder& args) {
  Client* c = GetClient();
  if (c == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  return c->Enqueue(op, args).ok() ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

cublasStatus_t Unsupported(const char* what) {
  return static_cast<cublasStatus_t>(
      edgeinfer_remoting_unsupported(what, CUBLAS_STATUS_NOT_SUPPORTED));
}

uint8_t Trans(cublasOperation_t op) { return op == CUBLAS_OP_N ? 0 : op == CUBLAS_OP_T ? 1 : 2; }

cublasStatus_t Gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                    int k, const float* alpha, const float* A, int lda, long long sa,
                    const float* B, int ldb, long long sb, const float* beta, float* C, int ldc,
                    long long sc, int batch) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (alpha == nullptr || beta == nullptr || m < 0 || n < 0 || k < 0 || batch < 0) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (h->pointer_mode != CUBLAS_POINTER_MODE_HOST) {
    return Unsupported("cuBLAS GEMM with CUBLAS_POINTER_MODE_DEVICE");
  }
  if (Trans(ta) > 1 || Trans(tb) > 1) return CUBLAS_STATUS_INVALID_VALUE;
  Encoder e;
  e.U64(h->id).U8(Trans(ta)).U8(Trans(tb)).I32(m).I32(n).I32(k).F32(*alpha);
  e.U64(Ptr(A)).I32(lda).U64(Ptr(B)).I32(ldb).F32(*beta).U64(Ptr(C)).I32(ldc);
  e.I64(sa).I64(sb).I64(sc).I32(batch);
  return Enq(Op::kSgemm, e);
}

bool IsF32(cudaDataType t) { return t == CUDA_R_32F; }
bool IsF32Compute(cublasComputeType_t t) {
  return t == CUBLAS_COMPUTE_32F || t == CUBLAS_COMPUTE_32F_PEDANTIC ||
         t == CUBLAS_COMPUTE_32F_FAST_TF32;
}

}  // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  Client* c = GetClient();
  if (c == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  auto* h = new cublasContext();
  h->id = c->NextId();
  const cublasStatus_t st = Enq(Op::kBlasCreate, Encoder().U64(h->id));
  if (st != CUBLAS_STATUS_SUCCESS) {
    delete h;
    return st;
  }
  *handle = h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const cublasStatus_t st = Enq(Op::kBlasDestroy, Encoder().U64(handle->id));
  delete handle;
  return st;
}

cublasStatus_t cublasGetVersion_v2(cublasHandle_t, int* version) {
  if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *version = CUBLAS_VERSION;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return Enq(Op::kBlasSetStream, Encoder().U64(handle->id).U64(Ptr(stream)));
}
cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (stream == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void*, size_t) {
  return handle == nullptr ? CUBLAS_STATUS_NOT_INITIALIZED : CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  handle->pointer_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t* mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->pointer_mode;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math_mode = mode;  // the cpu executor computes in fp32 whatever the mode
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math_mode;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    default:
      return "CUBLAS_STATUS_UNKNOWN";
  }
}
const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the edgeinfer remoting connection failed";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "the functionality requested is not supported by edgeinfer remoting";
    default:
      return "unknown error";
  }
}

// Helpers that move matrices and vectors (synchronous, as in cuBLAS).
cublasStatus_t cublasSetMatrix(int rows, int cols, int elem, const void* A, int lda, void* B,
                               int ldb) {
  if (rows < 0 || cols < 0 || elem <= 0 || lda < rows || ldb < rows) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  for (int j = 0; j < cols; ++j) {
    if (cudaMemcpy(static_cast<char*>(B) + size_t(j) * ldb * elem,
                   static_cast<const char*>(A) + size_t(j) * lda * elem, size_t(rows) * elem,
                   cudaMemcpyHostToDevice) != cudaSuccess) {
      return CUBLAS_STATUS_EXECUTION_FAILED;
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetMatrix(int rows, int cols, int elem, const void* A, int lda, void* B,
                               int ldb) {
  if (rows < 0 || cols < 0 || elem <= 0 || lda < rows || ldb < rows) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  for (int j = 0; j < cols; ++j) {
    if (cudaMemcpyAsync(static_cast<char*>(B) + size_t(j) * ldb * elem,
                        static_cast<const char*>(A) + size_t(j) * lda * elem, size_t(rows) * elem,
                        cudaMemcpyDeviceToHost, nullptr) != cudaSuccess) {
      return CUBLAS_STATUS_EXECUTION_FAILED;
    }
  }
  return cudaDeviceSynchronize() == cudaSuccess ? CUBLAS_STATUS_SUCCESS
                                                : CUBLAS_STATUS_EXECUTION_FAILED;
}
cublasStatus_t cublasSetVector(int n, int elem, const void* x, int incx, void* y, int incy) {
  if (incx == 1 && incy == 1) return cublasSetMatrix(n, 1, elem, x, n, y, n);
  if (incx <= 0 || incy <= 0) return CUBLAS_STATUS_INVALID_VALUE;
  for (int i = 0; i < n; ++i) {
    if (cublasSetMatrix(1, 1, elem, static_cast<const char*>(x) + size_t(i) * incx * elem, 1,
                        static_cast<char*>(y) + size_t(i) * incy * elem, 1) != 0) {
      return CUBLAS_STATUS_EXECUTION_FAILED;
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetVector(int n, int elem, const void* x, int incx, void* y, int incy) {
  if (incx == 1 && incy == 1) return cublasGetMatrix(n, 1, elem, x, n, y, n);
  return Unsupported("cublasGetVector with strides");
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb,
                              int m, int n, int k, const float* alpha, const float* A, int lda,
                              const float* B, int ldb, const float* beta, float* C, int ldc) {
  return Gemm(handle, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t ta,
                                         cublasOperation_t tb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda,
                                         long long int sa, const float* B, int ldb,
                                         long long int sb, const float* beta, float* C, int ldc,
                                         long long int sc, int batch) {
  return Gemm(handle, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb,
                            int m, int n, int k, const void* alpha, const void* A, cudaDataType at,
                            int lda, const void* B, cudaDataType bt, int ldb, const void* beta,
                            void* C, cudaDataType ct, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t) {
  if (!IsF32(at) || !IsF32(bt) || !IsF32(ct) || !IsF32Compute(compute)) {
    return Unsupported("cublasGemmEx with a type other than fp32");
  }
  return Gemm(handle, ta, tb, m, n, k, static_cast<const float*>(alpha),
              static_cast<const float*>(A), lda, 0, static_cast<const float*>(B), ldb, 0,
              static_cast<const float*>(beta), static_cast<float*>(C), ldc, 0, 1);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t ta,
                                          cublasOperation_t tb, int m, int n, int k,
                                          const void* alpha, const void* A, cudaDataType at,
                                          int lda, long long int sa, const void* B, cudaDataType bt,
                                          int ldb, long long int sb, const void* beta, void* C,
                                          cudaDataType ct, int ldc, long long int sc, int batch,
                                          cublasComputeType_t compute, cublasGemmAlgo_t) {
  if (!IsF32(at) || !IsF32(bt) || !IsF32(ct) || !IsF32Compute(compute)) {
    return Unsupported("cublasGemmStridedBatchedEx with a type other than fp32");
  }
  return Gemm(handle, ta, tb, m, n, k, static_cast<const float*>(alpha),
              static_cast<const float*>(A), lda, sa, static_cast<const float*>(B), ldb, sb,
              static_cast<const float*>(beta), static_cast<float*>(C), ldc, sc, batch);
}

cublasStatus_t cublasSgemv_v2(cublasHandle_t handle, cublasOperation_t trans, int m, int n,
                              const float* alpha, const float* A, int lda, const float* x, int incx,
                              const float* beta, float* y, int incy) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (alpha == nullptr || beta == nullptr || m < 0 || n < 0 || Trans(trans) > 1) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (handle->pointer_mode != CUBLAS_POINTER_MODE_HOST) {
    return Unsupported("cuBLAS GEMV with CUBLAS_POINTER_MODE_DEVICE");
  }
  if (incx <= 0 || incy <= 0) return Unsupported("cublasSgemv with a non-positive increment");
  Encoder e;
  e.U64(handle->id).U8(Trans(trans)).I32(m).I32(n).F32(*alpha).U64(Ptr(A)).I32(lda);
  e.U64(Ptr(x)).I32(incx).F32(*beta).U64(Ptr(y)).I32(incy);
  return Enq(Op::kSgemv, e);
}

}  // extern "C"

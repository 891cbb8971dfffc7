// A cuBLAS program as users write it (no edgeinfer headers): SGEMM, strided-batched SGEMM,
// GemmEx in fp32 and SGEMV on a stream, timed with events, checked against a host
// computation. Prints "rel_l2 NAME VALUE" per result and exits 0 when every one is <= 1e-5.
// Build: nvcc -cudart shared sgemm.cu -lcublas
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK_CUDA(x)                                                                     \
  do {                                                                                    \
    cudaError_t e = (x);                                                                  \
    if (e != cudaSuccess) {                                                               \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e), __FILE__, __LINE__); \
      return 1;                                                                           \
    }                                                                                     \
  } while (0)
#define CHECK_CUBLAS(x)                                                      \
  do {                                                                       \
    cublasStatus_t s = (x);                                                  \
    if (s != CUBLAS_STATUS_SUCCESS) {                                        \
      std::printf("cuBLAS error %d at %s:%d\n", int(s), __FILE__, __LINE__); \
      return 1;                                                              \
    }                                                                        \
  } while (0)

static double RelL2(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

// Column-major C = alpha * op(A) op(B) + beta * C on the host.
static void HostGemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda,
                     const float* B, int ldb, float beta, float* C, int ldc) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0;
      for (int p = 0; p < k; ++p)
        acc +=
            double(ta ? A[i * lda + p] : A[p * lda + i]) * (tb ? B[p * ldb + j] : B[j * ldb + p]);
      C[j * ldc + i] = float(alpha * acc + beta * C[j * ldc + i]);
    }
}

int main() {
  const int m = 96, n = 80, k = 112, batch = 3;
  std::vector<float> A(size_t(m) * k * batch), B(size_t(k) * n * batch), C(size_t(m) * n * batch);
  srand(42);
  for (float& v : A) v = float(rand()) / RAND_MAX - 0.5f;
  for (float& v : B) v = float(rand()) / RAND_MAX - 0.5f;
  for (float& v : C) v = float(rand()) / RAND_MAX - 0.5f;

  float *dA, *dB, *dC, *dx, *dy;
  CHECK_CUDA(cudaMalloc(&dA, A.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dB, B.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dC, C.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dx, k * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dy, m * sizeof(float)));
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreate(&stream));
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  cublasHandle_t handle;
  CHECK_CUBLAS(cublasCreate(&handle));
  CHECK_CUBLAS(cublasSetStream(handle, stream));

  CHECK_CUDA(
      cudaMemcpyAsync(dA, A.data(), A.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
  CHECK_CUDA(
      cudaMemcpyAsync(dB, B.data(), B.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
  CHECK_CUDA(
      cudaMemcpyAsync(dC, C.data(), C.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
  const float alpha = 1.25f, beta = 0.5f;
  int failures = 0;

  // 1. SGEMM, no transposes.
  CHECK_CUDA(cudaEventRecord(start, stream));
  CHECK_CUBLAS(
      cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, dA, m, dB, k, &beta, dC, m));
  CHECK_CUDA(cudaEventRecord(stop, stream));
  std::vector<float> got(size_t(m) * n), want(C.begin(), C.begin() + size_t(m) * n);
  CHECK_CUDA(
      cudaMemcpyAsync(got.data(), dC, got.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
  CHECK_CUDA(cudaStreamSynchronize(stream));
  float ms = -1;
  CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
  HostGemm(false, false, m, n, k, alpha, A.data(), m, B.data(), k, beta, want.data(), m);
  double e = RelL2(got, want);
  std::printf("rel_l2 sgemm %.3g\n", e);
  failures += !(e <= 1e-5) || !(ms >= 0);

  // 2. Strided batched with A transposed (A read as k x m, lda = k).
  CHECK_CUBLAS(cublasSgemmStridedBatched(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, dA, k,
                                         (long long)m * k, dB, k, (long long)k * n, &beta, dC, m,
                                         (long long)m * n, batch));
  std::vector<float> got_b(C.size());
  CHECK_CUDA(cudaMemcpy(got_b.data(), dC, got_b.size() * sizeof(float), cudaMemcpyDeviceToHost));
  std::vector<float> want_b = C;
  HostGemm(false, false, m, n, k, alpha, A.data(), m, B.data(), k, beta, want_b.data(), m);
  for (int b = 0; b < batch; ++b)
    HostGemm(true, false, m, n, k, alpha, A.data() + size_t(b) * m * k, k,
             B.data() + size_t(b) * k * n, k, beta, want_b.data() + size_t(b) * m * n, m);
  e = RelL2(got_b, want_b);
  std::printf("rel_l2 sgemm_strided_batched %.3g\n", e);
  failures += !(e <= 1e-5);

  // 3. GemmEx in fp32 with B transposed (B read as n x k, ldb = n), beta = 0.
  const float zero = 0.0f;
  CHECK_CUBLAS(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_T, m, n, k, &alpha, dA, CUDA_R_32F, m,
                            dB, CUDA_R_32F, n, &zero, dC, CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT));
  CHECK_CUDA(cudaMemcpy(got.data(), dC, got.size() * sizeof(float), cudaMemcpyDeviceToHost));
  std::vector<float> want_ex(size_t(m) * n, 0.0f);
  HostGemm(false, true, m, n, k, alpha, A.data(), m, B.data(), n, 0.0f, want_ex.data(), m);
  e = RelL2(got, want_ex);
  std::printf("rel_l2 gemm_ex %.3g\n", e);
  failures += !(e <= 1e-5);

  // 4. SGEMV: y = A x with the first k columns of A as an m x k matrix.
  std::vector<float> x(k), y(m);
  for (float& v : x) v = float(rand()) / RAND_MAX - 0.5f;
  CHECK_CUDA(cudaMemcpy(dx, x.data(), k * sizeof(float), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dy, 0, m * sizeof(float)));
  const float one = 1.0f;
  CHECK_CUBLAS(cublasSgemv(handle, CUBLAS_OP_N, m, k, &one, dA, m, dx, 1, &zero, dy, 1));
  CHECK_CUDA(cudaMemcpy(y.data(), dy, m * sizeof(float), cudaMemcpyDeviceToHost));
  std::vector<float> want_y(m, 0.0f);
  HostGemm(false, false, m, 1, k, 1.0f, A.data(), m, x.data(), k, 0.0f, want_y.data(), m);
  e = RelL2(y, want_y);
  std::printf("rel_l2 sgemv %.3g\n", e);
  failures += !(e <= 1e-5);

  CHECK_CUBLAS(cublasDestroy(handle));
  CHECK_CUDA(cudaEventDestroy(start));
  CHECK_CUDA(cudaEventDestroy(stop));
  CHECK_CUDA(cudaStreamDestroy(stream));
  CHECK_CUDA(cudaFree(dA));
  CHECK_CUDA(cudaFree(dB));
  CHECK_CUDA(cudaFree(dC));
  CHECK_CUDA(cudaFree(dx));
  CHECK_CUDA(cudaFree(dy));
  std::printf("%s\n", failures == 0 ? "PASS" : "FAIL");
  return failures == 0 ? 0 : 1;
}

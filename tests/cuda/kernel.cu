// A program with its own kernels (vector add, a custom activation), as users write it. On a
// GPU it prints "PASS". Through remoting against the cpu executor the launch fails: it prints
// the error the runtime returned and exits 3.
// Build: nvcc -cudart shared kernel.cu
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <vector>

__global__ void VecAdd(const float* a, const float* b, float* c, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

__global__ void LeakyClip(float* x, int n, float slope) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = fminf(x[i] > 0 ? x[i] : slope * x[i], 6.0f);
}

int main() {
  const int n = 1000;
  std::vector<float> a(n), b(n), c(n);
  for (int i = 0; i < n; ++i) a[i] = i * 0.01f - 3, b[i] = 1.5f;
  float *da, *db, *dc;
  if (cudaMalloc(&da, n * sizeof(float)) != cudaSuccess ||
      cudaMalloc(&db, n * sizeof(float)) != cudaSuccess ||
      cudaMalloc(&dc, n * sizeof(float)) != cudaSuccess) {
    std::printf("cudaMalloc failed\n");
    return 1;
  }
  cudaMemcpy(da, a.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  // Not forwarded by remoting: logged once by name and answered "not supported", no crash.
  const cudaError_t limit = cudaDeviceSetLimit(cudaLimitStackSize, 4096);
  std::printf("cudaDeviceSetLimit: %s\n", cudaGetErrorName(limit));
  VecAdd<<<(n + 255) / 256, 256>>>(da, db, dc, n);
  cudaError_t launch = cudaGetLastError();
  if (launch != cudaSuccess) {
    std::printf("launch error: %s: %s\n", cudaGetErrorName(launch), cudaGetErrorString(launch));
    return 3;
  }
  LeakyClip<<<(n + 255) / 256, 256>>>(dc, n, 0.1f);
  cudaError_t sync = cudaDeviceSynchronize();
  if (sync != cudaSuccess) {
    std::printf("sync error: %s\n", cudaGetErrorString(sync));
    return 3;
  }
  cudaMemcpy(c.data(), dc, n * sizeof(float), cudaMemcpyDeviceToHost);
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    float v = a[i] + b[i];
    v = std::fmin(v > 0 ? v : 0.1f * v, 6.0f);
    bad += std::fabs(c[i] - v) > 1e-6f;
  }
  std::printf("%s\n", bad == 0 ? "PASS" : "FAIL");
  return bad == 0 ? 0 : 1;
}

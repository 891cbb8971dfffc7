// A cuDNN CNN forward as users write it (no edgeinfer headers): a VGG-style block (conv 3x3 +
// bias + ReLU, twice, max pool), LRN, batch-norm inference, ReLU as an op tensor, a round trip
// through the NHWC layout (transform tensor), an OpenPose-style two-branch stage (3x3 conv +
// ReLU and 1x1 conv on two streams joined by events, each writing its half of the
// concatenated channels through a strided descriptor), a 1x1 conv classifier, global average
// pooling and softmax, checked against a host computation. `cnn [N]` runs N inferences
// (default 1); each uploads the input, runs the network and reads the output back. Prints
// "rel_l2 cnn VALUE" and exits 0 when it is <= 1e-5.
// Build: nvcc -cudart shared cnn.cu -lcudnn
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK_CUDA(x)                                                             \
  do {                                                                            \
    cudaError_t e = (x);                                                          \
    if (e != cudaSuccess) {                                                       \
      std::printf("CUDA error %s at line %d\n", cudaGetErrorString(e), __LINE__); \
      return 1;                                                                   \
    }                                                                             \
  } while (0)
#define CHECK_CUDNN(x)                                                              \
  do {                                                                              \
    cudnnStatus_t s = (x);                                                          \
    if (s != CUDNN_STATUS_SUCCESS) {                                                \
      std::printf("cuDNN error %s at line %d\n", cudnnGetErrorString(s), __LINE__); \
      return 1;                                                                     \
    }                                                                               \
  } while (0)

struct Shape {
  int n, c, h, w;
  size_t size() const { return size_t(n) * c * h * w; }
};

// Host reference layers (NCHW).
static std::vector<float> Conv(const std::vector<float>& x, Shape s, const std::vector<float>& w,
                               const std::vector<float>& b, int k, int r, int pad, Shape* out) {
  *out = {s.n, k, s.h + 2 * pad - r + 1, s.w + 2 * pad - r + 1};
  std::vector<float> y(out->size());
  for (int n = 0; n < s.n; ++n)
    for (int o = 0; o < k; ++o)
      for (int i = 0; i < out->h; ++i)
        for (int j = 0; j < out->w; ++j) {
          double acc = 0;
          for (int c = 0; c < s.c; ++c)
            for (int p = 0; p < r; ++p)
              for (int q = 0; q < r; ++q) {
                const int hi = i - pad + p, wj = j - pad + q;
                if (hi < 0 || hi >= s.h || wj < 0 || wj >= s.w) continue;
                acc += double(x[((size_t(n) * s.c + c) * s.h + hi) * s.w + wj]) *
                       w[((size_t(o) * s.c + c) * r + p) * r + q];
              }
          y[((size_t(n) * k + o) * out->h + i) * out->w + j] = float(acc) + b[o];
        }
  return y;
}
static void Relu(std::vector<float>& x) {
  for (float& v : x) v = v > 0 ? v : 0;
}
static std::vector<float> Pool(const std::vector<float>& x, Shape s, int win, bool max,
                               Shape* out) {
  *out = {s.n, s.c, s.h / win, s.w / win};
  std::vector<float> y(out->size());
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < out->h; ++i)
        for (int j = 0; j < out->w; ++j) {
          double acc = max ? -1e30 : 0;
          for (int p = 0; p < win; ++p)
            for (int q = 0; q < win; ++q) {
              const double v = x[((size_t(n) * s.c + c) * s.h + i * win + p) * s.w + j * win + q];
              acc = max ? (v > acc ? v : acc) : acc + v;
            }
          y[((size_t(n) * s.c + c) * out->h + i) * out->w + j] =
              float(max ? acc : acc / (win * win));
        }
  return y;
}
static std::vector<float> Lrn(const std::vector<float>& x, Shape s, int size, double alpha,
                              double beta, double k) {
  std::vector<float> y(x.size());
  const size_t plane = size_t(s.h) * s.w;
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (size_t i = 0; i < plane; ++i) {
        double sq = 0;
        for (int j = c - (size - 1) / 2; j <= c + size / 2; ++j) {
          if (j < 0 || j >= s.c) continue;
          const double v = x[(size_t(n) * s.c + j) * plane + i];
          sq += v * v;
        }
        const size_t at = (size_t(n) * s.c + c) * plane + i;
        y[at] = float(x[at] / std::pow(k + alpha / size * sq, beta));
      }
  return y;
}

static std::vector<float> Random(size_t n, float scale) {
  std::vector<float> v(n);
  for (float& x : v) x = (float(rand()) / RAND_MAX - 0.5f) * scale;
  return v;
}

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 1;
  srand(7);
  const Shape in = {2, 3, 32, 32};
  const int c1 = 8, c2 = 8, classes = 10;
  std::vector<float> x = Random(in.size(), 2.0f);
  std::vector<float> w1 = Random(size_t(c1) * 3 * 9, 0.6f), b1 = Random(c1, 0.2f);
  std::vector<float> w2 = Random(size_t(c2) * c1 * 9, 0.3f), b2 = Random(c2, 0.2f);
  const int half = 4, cat = 2 * half;  // the two branches' channels, concatenated
  std::vector<float> wa = Random(size_t(half) * c2 * 9, 0.3f), ba = Random(half, 0.2f);
  std::vector<float> wb = Random(size_t(half) * c2, 0.5f), bb = Random(half, 0.2f);
  std::vector<float> w3 = Random(size_t(classes) * cat, 0.8f), b3 = Random(classes, 0.2f);
  std::vector<float> bn_scale = Random(c2, 1.0f), bn_bias = Random(c2, 0.5f),
                     bn_mean = Random(c2, 0.2f), bn_var(c2);
  for (float& v : bn_var) v = 0.5f + float(rand()) / RAND_MAX;
  const double lrn_alpha = 1e-3, lrn_beta = 0.75, lrn_k = 2.0, bn_eps = 1e-5;

  // Host reference.
  Shape s1, s2, sp, s3, sg;
  std::vector<float> h = Conv(x, in, w1, b1, c1, 3, 1, &s1);
  Relu(h);
  h = Conv(h, s1, w2, b2, c2, 3, 1, &s2);
  Relu(h);
  h = Pool(h, s2, 2, true, &sp);
  h = Lrn(h, sp, 5, lrn_alpha, lrn_beta, lrn_k);
  const size_t plane = size_t(sp.h) * sp.w;
  for (int n = 0; n < sp.n; ++n)
    for (int c = 0; c < sp.c; ++c)
      for (size_t i = 0; i < plane; ++i) {
        float& v = h[(size_t(n) * sp.c + c) * plane + i];
        v = float(bn_scale[c] * (v - bn_mean[c]) / std::sqrt(double(bn_var[c]) + bn_eps) +
                  bn_bias[c]);
        v = v > 0 ? v : 0;  // ReLU, on the device through cudnnOpTensor(MAX, x, 0 * x)
      }
  Shape sa, sb;
  std::vector<float> branch_a = Conv(h, sp, wa, ba, half, 3, 1, &sa);
  Relu(branch_a);
  std::vector<float> branch_b = Conv(h, sp, wb, bb, half, 1, 0, &sb);
  const Shape sc = {sp.n, cat, sp.h, sp.w};
  std::vector<float> concat(sc.size());
  for (int n = 0; n < sp.n; ++n) {
    std::copy(branch_a.begin() + n * half * plane, branch_a.begin() + (n + 1) * half * plane,
              concat.begin() + n * cat * plane);
    std::copy(branch_b.begin() + n * half * plane, branch_b.begin() + (n + 1) * half * plane,
              concat.begin() + (n * cat + half) * plane);
  }
  h = Conv(concat, sc, w3, b3, classes, 1, 0, &s3);
  h = Pool(h, s3, s3.h, false, &sg);
  std::vector<float> want(h.size());
  for (int n = 0; n < sg.n; ++n) {
    double mx = -1e30, sum = 0;
    for (int c = 0; c < classes; ++c) mx = h[n * classes + c] > mx ? h[n * classes + c] : mx;
    for (int c = 0; c < classes; ++c) sum += std::exp(h[n * classes + c] - mx);
    for (int c = 0; c < classes; ++c)
      want[n * classes + c] = float(std::exp(h[n * classes + c] - mx) / sum);
  }

  // cuDNN.
  cudnnHandle_t dnn;
  CHECK_CUDNN(cudnnCreate(&dnn));
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreate(&stream));
  CHECK_CUDNN(cudnnSetStream(dnn, stream));
  auto tensor = [](Shape s) {
    cudnnTensorDescriptor_t d;
    cudnnCreateTensorDescriptor(&d);
    cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w);
    return d;
  };
  auto upload = [](const std::vector<float>& v) {
    float* p = nullptr;
    if (cudaMalloc(&p, v.size() * sizeof(float)) != cudaSuccess) return (float*)nullptr;
    cudaMemcpy(p, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice);
    return p;
  };
  cudnnTensorDescriptor_t xd = tensor(in), y1d = tensor(s1), y2d = tensor(s2), pd = tensor(sp),
                          y3d = tensor(s3), gd = tensor(sg);
  cudnnTensorDescriptor_t b1d = tensor({1, c1, 1, 1}), b2d = tensor({1, c2, 1, 1}),
                          b3d = tensor({1, classes, 1, 1}), bnd = tensor({1, c2, 1, 1});
  cudnnTensorDescriptor_t catd = tensor(sc), bad = tensor({1, half, 1, 1});
  // Each branch's output: half the channels of the concatenation, with its strides.
  cudnnTensorDescriptor_t halfd;
  CHECK_CUDNN(cudnnCreateTensorDescriptor(&halfd));
  CHECK_CUDNN(cudnnSetTensor4dDescriptorEx(halfd, CUDNN_DATA_FLOAT, sp.n, half, sp.h, sp.w,
                                           cat * sp.h * sp.w, sp.h * sp.w, sp.w, 1));
  cudnnFilterDescriptor_t f1, f2, f3, fa, fb;
  CHECK_CUDNN(cudnnCreateFilterDescriptor(&fa));
  CHECK_CUDNN(cudnnCreateFilterDescriptor(&fb));
  CHECK_CUDNN(cudnnSetFilter4dDescriptor(fa, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, half, c2, 3, 3));
  CHECK_CUDNN(cudnnSetFilter4dDescriptor(fb, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, half, c2, 1, 1));
  CHECK_CUDNN(cudnnCreateFilterDescriptor(&f1));
  CHECK_CUDNN(cudnnCreateFilterDescriptor(&f2));
  CHECK_CUDNN(cudnnCreateFilterDescriptor(&f3));
  CHECK_CUDNN(cudnnSetFilter4dDescriptor(f1, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, c1, 3, 3, 3));
  CHECK_CUDNN(cudnnSetFilter4dDescriptor(f2, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, c2, c1, 3, 3));
  CHECK_CUDNN(
      cudnnSetFilter4dDescriptor(f3, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, classes, cat, 1, 1));
  cudnnConvolutionDescriptor_t conv3x3, conv1x1;
  CHECK_CUDNN(cudnnCreateConvolutionDescriptor(&conv3x3));
  CHECK_CUDNN(cudnnCreateConvolutionDescriptor(&conv1x1));
  CHECK_CUDNN(cudnnSetConvolution2dDescriptor(conv3x3, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
  CHECK_CUDNN(cudnnSetConvolution2dDescriptor(conv1x1, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
  // Plain fp32 arithmetic (no TF32 tensor cores on GPUs that have them), so that the result
  // matches the host computation within 1e-5 on a GPU as well.
  CHECK_CUDNN(cudnnSetConvolutionMathType(conv3x3, CUDNN_FMA_MATH));
  CHECK_CUDNN(cudnnSetConvolutionMathType(conv1x1, CUDNN_FMA_MATH));
  int on, oc, oh, ow;
  CHECK_CUDNN(cudnnGetConvolution2dForwardOutputDim(conv3x3, xd, f1, &on, &oc, &oh, &ow));
  if (on != s1.n || oc != s1.c || oh != s1.h || ow != s1.w) {
    std::printf("unexpected output dims %d %d %d %d\n", on, oc, oh, ow);
    return 1;
  }
  cudnnConvolutionFwdAlgoPerf_t perf;
  int returned = 0;
  CHECK_CUDNN(
      cudnnGetConvolutionForwardAlgorithm_v7(dnn, xd, f1, conv3x3, y1d, 1, &returned, &perf));
  size_t workspace_bytes = 0;
  CHECK_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(dnn, xd, f1, conv3x3, y1d, perf.algo,
                                                      &workspace_bytes));
  void* workspace = nullptr;
  if (workspace_bytes > 0) CHECK_CUDA(cudaMalloc(&workspace, workspace_bytes));
  cudnnActivationDescriptor_t relu;
  CHECK_CUDNN(cudnnCreateActivationDescriptor(&relu));
  CHECK_CUDNN(
      cudnnSetActivationDescriptor(relu, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0));
  cudnnPoolingDescriptor_t maxpool, avgpool;
  CHECK_CUDNN(cudnnCreatePoolingDescriptor(&maxpool));
  CHECK_CUDNN(cudnnCreatePoolingDescriptor(&avgpool));
  CHECK_CUDNN(cudnnSetPooling2dDescriptor(maxpool, CUDNN_POOLING_MAX, CUDNN_NOT_PROPAGATE_NAN, 2, 2,
                                          0, 0, 2, 2));
  CHECK_CUDNN(cudnnSetPooling2dDescriptor(avgpool, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING,
                                          CUDNN_NOT_PROPAGATE_NAN, s3.h, s3.w, 0, 0, s3.h, s3.w));
  cudnnOpTensorDescriptor_t opmax;
  CHECK_CUDNN(cudnnCreateOpTensorDescriptor(&opmax));
  CHECK_CUDNN(cudnnSetOpTensorDescriptor(opmax, CUDNN_OP_TENSOR_MAX, CUDNN_DATA_FLOAT,
                                         CUDNN_NOT_PROPAGATE_NAN));
  cudnnTensorDescriptor_t nhwcd;
  CHECK_CUDNN(cudnnCreateTensorDescriptor(&nhwcd));
  CHECK_CUDNN(cudnnSetTensor4dDescriptor(nhwcd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, sp.n, sp.c,
                                         sp.h, sp.w));
  cudnnLRNDescriptor_t lrn;
  CHECK_CUDNN(cudnnCreateLRNDescriptor(&lrn));
  CHECK_CUDNN(cudnnSetLRNDescriptor(lrn, 5, lrn_alpha, lrn_beta, lrn_k));

  float *dw1 = upload(w1), *db1 = upload(b1), *dw2 = upload(w2), *db2 = upload(b2),
        *dw3 = upload(w3), *db3 = upload(b3), *dscale = upload(bn_scale), *dbias = upload(bn_bias),
        *dmean = upload(bn_mean), *dvar = upload(bn_var);
  float *dwa = upload(wa), *dba = upload(ba), *dwb = upload(wb), *dbb = upload(bb);
  // The second branch runs on its own stream with its own handle; an event joins them.
  cudaStream_t stream_b;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream_b, cudaStreamNonBlocking));
  cudnnHandle_t dnn_b;
  CHECK_CUDNN(cudnnCreate(&dnn_b));
  CHECK_CUDNN(cudnnSetStream(dnn_b, stream_b));
  cudaEvent_t fork, join;
  CHECK_CUDA(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
  CHECK_CUDA(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
  float *dcat, *dnhwc;
  CHECK_CUDA(cudaMalloc(&dnhwc, sp.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dcat, sc.size() * sizeof(float)));
  float *dx, *d1, *d2, *dp, *dl, *d3, *dg, *dout;
  CHECK_CUDA(cudaMalloc(&dx, in.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d1, s1.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d2, s2.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dp, sp.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dl, sp.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d3, s3.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dg, sg.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dout, sg.size() * sizeof(float)));

  const float one = 1.0f, zero = 0.0f;
  std::vector<float> got(sg.size());
  for (int it = 0; it < iterations; ++it) {
    CHECK_CUDA(
        cudaMemcpyAsync(dx, x.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
    CHECK_CUDNN(cudnnConvolutionForward(dnn, &one, xd, dx, f1, dw1, conv3x3, perf.algo, workspace,
                                        workspace_bytes, &zero, y1d, d1));
    CHECK_CUDNN(cudnnAddTensor(dnn, &one, b1d, db1, &one, y1d, d1));
    CHECK_CUDNN(cudnnActivationForward(dnn, relu, &one, y1d, d1, &zero, y1d, d1));
    CHECK_CUDNN(cudnnConvolutionForward(dnn, &one, y1d, d1, f2, dw2, conv3x3, perf.algo, workspace,
                                        workspace_bytes, &zero, y2d, d2));
    CHECK_CUDNN(cudnnAddTensor(dnn, &one, b2d, db2, &one, y2d, d2));
    CHECK_CUDNN(cudnnActivationForward(dnn, relu, &one, y2d, d2, &zero, y2d, d2));
    CHECK_CUDNN(cudnnPoolingForward(dnn, maxpool, &one, y2d, d2, &zero, pd, dp));
    CHECK_CUDNN(cudnnLRNCrossChannelForward(dnn, lrn, CUDNN_LRN_CROSS_CHANNEL_DIM1, &one, pd, dp,
                                            &zero, pd, dl));
    CHECK_CUDNN(cudnnBatchNormalizationForwardInference(dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero,
                                                        pd, dl, pd, dl, bnd, dscale, dbias, dmean,
                                                        dvar, bn_eps));
    CHECK_CUDNN(cudnnOpTensor(dnn, opmax, &one, pd, dl, &zero, pd, dl, &zero, pd, dl));
    // A round trip through the NHWC layout (identity on the values).
    CHECK_CUDNN(cudnnTransformTensor(dnn, &one, pd, dl, &zero, nhwcd, dnhwc));
    CHECK_CUDNN(cudnnTransformTensor(dnn, &one, nhwcd, dnhwc, &zero, pd, dl));
    // Two branches into the two halves of the concatenation.
    CHECK_CUDA(cudaEventRecord(fork, stream));
    CHECK_CUDA(cudaStreamWaitEvent(stream_b, fork, 0));
    CHECK_CUDNN(cudnnConvolutionForward(dnn, &one, pd, dl, fa, dwa, conv3x3, perf.algo, workspace,
                                        workspace_bytes, &zero, halfd, dcat));
    CHECK_CUDNN(cudnnAddTensor(dnn, &one, bad, dba, &one, halfd, dcat));
    CHECK_CUDNN(cudnnActivationForward(dnn, relu, &one, halfd, dcat, &zero, halfd, dcat));
    float* dcat_b = dcat + size_t(half) * sp.h * sp.w;
    CHECK_CUDNN(cudnnConvolutionForward(dnn_b, &one, pd, dl, fb, dwb, conv1x1, perf.algo, workspace,
                                        workspace_bytes, &zero, halfd, dcat_b));
    CHECK_CUDNN(cudnnAddTensor(dnn_b, &one, bad, dbb, &one, halfd, dcat_b));
    CHECK_CUDA(cudaEventRecord(join, stream_b));
    CHECK_CUDA(cudaStreamWaitEvent(stream, join, 0));
    CHECK_CUDNN(cudnnConvolutionForward(dnn, &one, catd, dcat, f3, dw3, conv1x1, perf.algo,
                                        workspace, workspace_bytes, &zero, y3d, d3));
    CHECK_CUDNN(cudnnAddTensor(dnn, &one, b3d, db3, &one, y3d, d3));
    CHECK_CUDNN(cudnnPoolingForward(dnn, avgpool, &one, y3d, d3, &zero, gd, dg));
    CHECK_CUDNN(cudnnSoftmaxForward(dnn, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE, &one,
                                    gd, dg, &zero, gd, dout));
    CHECK_CUDA(cudaMemcpyAsync(got.data(), dout, got.size() * sizeof(float), cudaMemcpyDeviceToHost,
                               stream));
    CHECK_CUDA(cudaStreamSynchronize(stream));
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  const double e = std::sqrt(num / den);
  std::printf("rel_l2 cnn %.3g\n", e);
  cudnnDestroy(dnn_b);
  cudnnDestroy(dnn);
  std::printf("%s\n", e <= 1e-5 ? "PASS" : "FAIL");
  return e <= 1e-5 ? 0 : 1;
}

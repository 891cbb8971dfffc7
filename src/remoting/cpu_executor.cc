// The cpu executor: device memory is host memory behind bounds-checked device addresses;
// streams and events are ordering tokens (calls run in order per connection); cuBLAS GEMMs run
// on oneDNN's sgemm, the cuDNN calls on plain loops (fp32, NCHW-strided tensors).
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "oneapi/dnnl/dnnl.h"
#include "remoting/executor.h"

namespace edgeinfer::remoting {

namespace {

// cuDNN's enum values travel unchanged on the wire (docs/remoting.md).
enum PoolMode : uint8_t { kPoolMax = 0, kPoolAvgInclude = 1, kPoolAvgExclude = 2, kPoolMaxDet = 3 };
enum ActMode : uint8_t {
  kSigmoid = 0,
  kRelu = 1,
  kTanh = 2,
  kClippedRelu = 3,
  kElu = 4,
  kIdentity = 5,
  kSwish = 6
};

// Device addresses start here (never 0, never a host address of the server) and are never
// reused within a connection.
constexpr uint64_t kFirstAddress = uint64_t{1} << 36;
constexpr uint64_t kAlignment = 256;
// Element counts of tensors and matrices are capped so that index arithmetic cannot overflow.
constexpr int64_t kMaxElements = int64_t{1} << 34;

struct Allocation {
  std::unique_ptr<uint8_t[]> bytes;
  uint64_t size = 0;
};

struct Desc {
  DescKind kind = DescKind::kTensor;
  bool set = false;
  int64_t dims[4] = {0, 0, 0, 0};     // tensor n c h w / filter k c h w
  int64_t strides[4] = {0, 0, 0, 0};  // tensor
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;  // conv, pool
  bool cross = true;
  int groups = 1;
  uint8_t mode = 0;  // pool or activation mode
  int win_h = 0, win_w = 0;
  double coef = 0;
  uint32_t lrn_n = 5;
  double lrn_alpha = 1e-4, lrn_beta = 0.75, lrn_k = 2.0;
};

// A tensor argument: its descriptor and host view.
struct TensorView {
  const Desc* d = nullptr;
  float* p = nullptr;
  float& at(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return p[n * d->strides[0] + c * d->strides[1] + h * d->strides[2] + w * d->strides[3]];
  }
};

Status Bad(const std::string& m) { return Status::InvalidArgument(m); }

class CpuSession : public ExecutorSession {
 public:
  CpuSession(ExecutorCounters* counters, const ExecutorOptions& options)
      : counters_(counters),
        max_bytes_(options.max_connection_bytes),
        max_macs_(options.max_call_macs) {}
  ~CpuSession() override {
    counters_->live_allocations -= static_cast<int64_t>(allocations_.size());
    counters_->live_bytes -= static_cast<int64_t>(held_bytes_);
    counters_->live_objects -= static_cast<int64_t>(streams_.size() + events_.size() +
                                                    blas_.size() + dnn_.size() + descs_.size());
  }

  Result<uint8_t*> Resolve(uint64_t ptr, uint64_t size) override {
    if (size == 0) return static_cast<uint8_t*>(nullptr);
    auto it = allocations_.upper_bound(ptr);
    if (it == allocations_.begin()) return BadPointer(ptr, size);
    --it;
    const uint64_t offset = ptr - it->first;
    if (offset >= it->second.size || size > it->second.size - offset) return BadPointer(ptr, size);
    return it->second.bytes.get() + offset;
  }

  Status Execute(Op op, Decoder& a, Encoder* result) override {
    switch (op) {
      case Op::kMalloc:
        return Malloc(a, result);
      case Op::kFree:
        return Free(a);
      case Op::kMemcpyDtoD:
        return MemcpyDtoD(a);
      case Op::kMemset:
        return Memset(a);
      case Op::kSynchronize: {
        const uint64_t stream = a.U64();
        if (!a.ok()) return Truncated(op);
        return CheckStream(stream);
      }
      case Op::kStreamCreate:
        return Create(a, op, &streams_);
      case Op::kStreamDestroy:
        return Destroy(a, op, &streams_);
      case Op::kEventCreate: {
        const uint64_t id = a.U64();
        if (!a.ok()) return Truncated(op);
        if (id == 0 || events_.count(id)) return Bad("event id " + Hex(id) + " already in use");
        events_[id] = -1.0;
        ++counters_->live_objects;
        return Status::Ok();
      }
      case Op::kEventDestroy: {
        const uint64_t id = a.U64();
        if (!a.ok()) return Truncated(op);
        if (events_.erase(id) == 0) return NotFoundId("event", id);
        --counters_->live_objects;
        return Status::Ok();
      }
      case Op::kEventRecord: {
        const uint64_t id = a.U64(), stream = a.U64();
        if (!a.ok()) return Truncated(op);
        EI_RETURN_IF_ERROR(CheckStream(stream));
        auto it = events_.find(id);
        if (it == events_.end()) return NotFoundId("event", id);
        it->second = NowMs();
        return Status::Ok();
      }
      case Op::kEventElapsed: {
        const uint64_t start = a.U64(), end = a.U64();
        if (!a.ok()) return Truncated(op);
        auto s = events_.find(start), e = events_.find(end);
        if (s == events_.end()) return NotFoundId("event", start);
        if (e == events_.end()) return NotFoundId("event", end);
        if (s->second < 0 || e->second < 0) {
          return Status::FailedPrecondition("event not recorded");
        }
        result->F32(static_cast<float>(e->second - s->second));
        return Status::Ok();
      }
      case Op::kMemGetInfo:
        result->U64(max_bytes_ - held_bytes_).U64(max_bytes_);
        return Status::Ok();
      case Op::kLaunchKernel: {
        const std::string name = a.Str(1024);
        return Status::FailedPrecondition(
            "kernel '" + name +
            "' needs a GPU remoting server: this server runs the cpu executor, which runs "
            "memory, stream, event, cuBLAS and cuDNN calls only (start the server on a machine "
            "with an NVIDIA GPU with --remoting-executor gpu)");
      }
      case Op::kBlasCreate:
        return Create(a, op, &blas_);
      case Op::kBlasDestroy:
        return Destroy(a, op, &blas_);
      case Op::kBlasSetStream:
        return SetStream(a, op, blas_, "cuBLAS handle");
      case Op::kSgemm:
        return Sgemm(a);
      case Op::kSgemv:
        return Sgemv(a);
      case Op::kDnnCreate:
        return Create(a, op, &dnn_);
      case Op::kDnnDestroy:
        return Destroy(a, op, &dnn_);
      case Op::kDnnSetStream:
        return SetStream(a, op, dnn_, "cuDNN handle");
      case Op::kDescCreate: {
        const uint8_t kind = a.U8();
        const uint64_t id = a.U64();
        if (!a.ok()) return Truncated(op);
        if (kind < 1 || kind > 7) return Bad("unknown descriptor kind " + std::to_string(kind));
        if (id == 0 || descs_.count(id)) return Bad("descriptor id " + Hex(id) + " in use");
        descs_[id].kind = static_cast<DescKind>(kind);
        ++counters_->live_objects;
        return Status::Ok();
      }
      case Op::kDescDestroy: {
        const uint64_t id = a.U64();
        if (!a.ok()) return Truncated(op);
        if (descs_.erase(id) == 0) return NotFoundId("descriptor", id);
        --counters_->live_objects;
        return Status::Ok();
      }
      case Op::kTensorDescSet:
        return TensorDescSet(a);
      case Op::kFilterDescSet:
        return FilterDescSet(a);
      case Op::kConvDescSet:
        return ConvDescSet(a);
      case Op::kPoolDescSet:
        return PoolDescSet(a);
      case Op::kActDescSet:
        return ActDescSet(a);
      case Op::kLrnDescSet:
        return LrnDescSet(a);
      case Op::kOpTensorDescSet: {
        const uint64_t id = a.U64();
        const uint8_t op_mode = a.U8();
        if (!a.ok()) return Truncated(op);
        EI_ASSIGN_OR_RETURN(Desc * d, GetDesc(id, DescKind::kOpTensor, false));
        if (op_mode > 5) return Status::Unimplemented("op tensor op " + std::to_string(op_mode));
        d->mode = op_mode;
        d->set = true;
        return Status::Ok();
      }
      case Op::kOpTensor:
        return OpTensor(a);
      case Op::kConvForward:
        return ConvForward(a);
      case Op::kAddTensor:
        return AddTensor(a);
      case Op::kActivationForward:
        return ActivationForward(a);
      case Op::kPoolingForward:
        return PoolingForward(a);
      case Op::kSoftmaxForward:
        return SoftmaxForward(a);
      case Op::kLrnForward:
        return LrnForward(a);
      case Op::kBatchNormInference:
        return BatchNormInference(a);
      case Op::kNone:
      case Op::kMemcpyHtoD:
      case Op::kMemcpyDtoH:
        break;  // the server moves copy data itself
    }
    return Status::Unimplemented(std::string("remoting call ") + OpName(op) + " (" +
                                 std::to_string(static_cast<int>(op)) +
                                 ") is not supported by the cpu executor");
  }

 private:
  static std::string Hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
    return buf;
  }
  static Status Truncated(Op op) {
    return Bad(std::string("truncated arguments of remoting call ") + OpName(op));
  }
  static Status NotFoundId(const char* what, uint64_t id) {
    return Status::NotFound(std::string("unknown ") + what + " " + Hex(id));
  }
  static Status BadPointer(uint64_t ptr, uint64_t size) {
    return Status::OutOfRange("device range " + Hex(ptr) + " + " + std::to_string(size) +
                              " bytes is not inside one allocation");
  }
  static double NowMs() {
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  Status CheckStream(uint64_t stream) const {
    // 0: legacy default stream, 1: cudaStreamLegacy, 2: cudaStreamPerThread.
    if (stream <= 2 || streams_.count(stream)) return Status::Ok();
    return NotFoundId("stream", stream);
  }

  Status Create(Decoder& a, Op op, std::map<uint64_t, uint64_t>* table) {
    const uint64_t id = a.U64();
    if (!a.ok()) return Truncated(op);
    if (id <= 2 || table->count(id)) return Bad("id " + Hex(id) + " already in use");
    (*table)[id] = 0;
    ++counters_->live_objects;
    return Status::Ok();
  }
  Status Destroy(Decoder& a, Op op, std::map<uint64_t, uint64_t>* table) {
    const uint64_t id = a.U64();
    if (!a.ok()) return Truncated(op);
    if (table->erase(id) == 0) return NotFoundId("handle", id);
    --counters_->live_objects;
    return Status::Ok();
  }
  Status SetStream(Decoder& a, Op op, std::map<uint64_t, uint64_t>& table, const char* what) {
    const uint64_t id = a.U64(), stream = a.U64();
    if (!a.ok()) return Truncated(op);
    auto it = table.find(id);
    if (it == table.end()) return NotFoundId(what, id);
    EI_RETURN_IF_ERROR(CheckStream(stream));
    it->second = stream;
    return Status::Ok();
  }
  Status CheckHandle(const std::map<uint64_t, uint64_t>& table, uint64_t id, const char* what) {
    return table.count(id) ? Status::Ok() : NotFoundId(what, id);
  }

  Status Malloc(Decoder& a, Encoder* result) {
    const uint64_t size = a.U64();
    if (!a.ok()) return Truncated(Op::kMalloc);
    if (size == 0) {
      result->U64(0);
      return Status::Ok();
    }
    if (size > max_bytes_ - held_bytes_) {
      return Status::ResourceExhausted("out of device memory: " + std::to_string(size) +
                                       " bytes requested, " + std::to_string(held_bytes_) + " of " +
                                       std::to_string(max_bytes_) + " in use");
    }
    Allocation alloc;
    alloc.bytes.reset(new (std::nothrow) uint8_t[size]());
    if (!alloc.bytes) return Status::ResourceExhausted("host allocation failed");
    alloc.size = size;
    const uint64_t ptr = next_address_;
    next_address_ += (size + kAlignment - 1) / kAlignment * kAlignment + kAlignment;
    allocations_[ptr] = std::move(alloc);
    held_bytes_ += size;
    ++counters_->live_allocations;
    counters_->live_bytes += static_cast<int64_t>(size);
    result->U64(ptr);
    return Status::Ok();
  }

  Status Free(Decoder& a) {
    const uint64_t ptr = a.U64();
    if (!a.ok()) return Truncated(Op::kFree);
    if (ptr == 0) return Status::Ok();
    auto it = allocations_.find(ptr);
    if (it == allocations_.end()) {
      return Status::OutOfRange("free of " + Hex(ptr) + ", which is not an allocation");
    }
    held_bytes_ -= it->second.size;
    --counters_->live_allocations;
    counters_->live_bytes -= static_cast<int64_t>(it->second.size);
    allocations_.erase(it);
    return Status::Ok();
  }

  Status MemcpyDtoD(Decoder& a) {
    const uint64_t dst = a.U64(), src = a.U64(), size = a.U64();
    if (!a.ok()) return Truncated(Op::kMemcpyDtoD);
    EI_ASSIGN_OR_RETURN(uint8_t * d, Resolve(dst, size));
    EI_ASSIGN_OR_RETURN(uint8_t * s, Resolve(src, size));
    if (size > 0) std::memmove(d, s, size);
    return Status::Ok();
  }

  Status Memset(Decoder& a) {
    const uint64_t dst = a.U64();
    const uint32_t value = a.U32();
    const uint64_t size = a.U64();
    if (!a.ok()) return Truncated(Op::kMemset);
    EI_ASSIGN_OR_RETURN(uint8_t * d, Resolve(dst, size));
    if (size > 0) std::memset(d, static_cast<int>(value & 0xff), size);
    return Status::Ok();
  }

  // Host view of a float matrix or vector of `elements` elements spanning `span` elements.
  Result<float*> Floats(uint64_t ptr, int64_t span) {
    if (span < 0 || span > kMaxElements) return Bad("matrix extent out of range");
    EI_ASSIGN_OR_RETURN(uint8_t * p, Resolve(ptr, static_cast<uint64_t>(span) * 4));
    if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) {
      return Bad("device pointer " + Hex(ptr) + " is not aligned to 4 bytes");
    }
    return reinterpret_cast<float*>(p);
  }

  // Elements spanned by a column-major rows x cols matrix with leading dimension ld.
  static Result<int64_t> MatrixSpan(const char* name, int64_t rows, int64_t cols, int64_t ld) {
    if (rows < 0 || cols < 0) return Bad(std::string("negative dimension of ") + name);
    if (ld < std::max<int64_t>(1, rows)) {
      return Bad(std::string("leading dimension of ") + name + " (" + std::to_string(ld) +
                 ") is less than its rows (" + std::to_string(rows) + ")");
    }
    if (rows == 0 || cols == 0) return int64_t{0};
    if (cols > kMaxElements / ld) return Bad(std::string(name) + " is too large");
    return ld * (cols - 1) + rows;
  }

  Status Sgemm(Decoder& a) {
    const uint64_t handle = a.U64();
    const uint8_t ta = a.U8(), tb = a.U8();
    const int64_t m = a.I32(), n = a.I32(), k = a.I32();
    const float alpha = a.F32();
    const uint64_t pa = a.U64();
    const int64_t lda = a.I32();
    const uint64_t pb = a.U64();
    const int64_t ldb = a.I32();
    const float beta = a.F32();
    const uint64_t pc = a.U64();
    const int64_t ldc = a.I32();
    const int64_t sa = a.I64(), sb = a.I64(), sc = a.I64();
    const int64_t batch = a.I32();
    if (!a.ok()) return Truncated(Op::kSgemm);
    EI_RETURN_IF_ERROR(CheckHandle(blas_, handle, "cuBLAS handle"));
    if (ta > 1 || tb > 1) return Status::Unimplemented("conjugate transpose of a real GEMM");
    if (batch < 0 || sa < 0 || sb < 0 || sc < 0) return Bad("negative batch count or stride");
    if (m == 0 || n == 0 || batch == 0) return Status::Ok();
    EI_RETURN_IF_ERROR(CheckWork("GEMM", double(m) * n * std::max<int64_t>(k, 1) * batch));
    EI_ASSIGN_OR_RETURN(int64_t span_a, MatrixSpan("A", ta ? k : m, ta ? m : k, lda));
    EI_ASSIGN_OR_RETURN(int64_t span_b, MatrixSpan("B", tb ? n : k, tb ? k : n, ldb));
    EI_ASSIGN_OR_RETURN(int64_t span_c, MatrixSpan("C", m, n, ldc));
    auto total = [&](int64_t span, int64_t stride) -> int64_t {
      if (span == 0) return 0;
      if (stride > 0 && batch - 1 > kMaxElements / stride) return -1;
      return stride * (batch - 1) + span;
    };
    EI_ASSIGN_OR_RETURN(float* A, Floats(pa, total(span_a, sa)));
    EI_ASSIGN_OR_RETURN(float* B, Floats(pb, total(span_b, sb)));
    EI_ASSIGN_OR_RETURN(float* C, Floats(pc, total(span_c, sc)));
    for (int64_t i = 0; i < batch; ++i) {
      float* c = C + i * sc;
      if (k == 0) {
        for (int64_t col = 0; col < n; ++col) {
          for (int64_t row = 0; row < m; ++row) {
            float& v = c[col * ldc + row];
            v = beta == 0.0f ? 0.0f : beta * v;
          }
        }
        continue;
      }
      // Column-major C (m x n) is row-major C^T (n x m) = op(B)^T op(A)^T.
      const dnnl_status_t st = dnnl_sgemm(tb ? 'T' : 'N', ta ? 'T' : 'N', n, m, k, alpha,
                                          B + i * sb, ldb, A + i * sa, lda, beta, c, ldc);
      if (st != dnnl_success) {
        return Status::Internal("oneDNN sgemm failed (status " + std::to_string(st) + ")");
      }
    }
    return Status::Ok();
  }

  Status Sgemv(Decoder& a) {
    const uint64_t handle = a.U64();
    const uint8_t trans = a.U8();
    const int64_t m = a.I32(), n = a.I32();
    const float alpha = a.F32();
    const uint64_t pa = a.U64();
    const int64_t lda = a.I32();
    const uint64_t px = a.U64();
    const int64_t incx = a.I32();
    const float beta = a.F32();
    const uint64_t py = a.U64();
    const int64_t incy = a.I32();
    if (!a.ok()) return Truncated(Op::kSgemv);
    EI_RETURN_IF_ERROR(CheckHandle(blas_, handle, "cuBLAS handle"));
    if (trans > 1) return Status::Unimplemented("conjugate transpose of a real GEMV");
    if (incx <= 0 || incy <= 0) return Status::Unimplemented("GEMV with a non-positive increment");
    if (m == 0 || n == 0) return Status::Ok();
    EI_ASSIGN_OR_RETURN(int64_t span_a, MatrixSpan("A", m, n, lda));
    const int64_t xn = trans ? m : n, yn = trans ? n : m;
    if (xn > kMaxElements / incx || yn > kMaxElements / incy) return Bad("vector too large");
    EI_ASSIGN_OR_RETURN(float* A, Floats(pa, span_a));
    EI_ASSIGN_OR_RETURN(float* x, Floats(px, (xn - 1) * incx + 1));
    EI_ASSIGN_OR_RETURN(float* y, Floats(py, (yn - 1) * incy + 1));
    std::vector<double> acc(static_cast<size_t>(yn), 0.0);
    for (int64_t col = 0; col < n; ++col) {
      for (int64_t row = 0; row < m; ++row) {
        const double v = A[col * lda + row];
        if (trans) {
          acc[col] += v * x[row * incx];
        } else {
          acc[row] += v * x[col * incx];
        }
      }
    }
    for (int64_t i = 0; i < yn; ++i) {
      float& out = y[i * incy];
      out = static_cast<float>(alpha * acc[i] + (beta == 0.0f ? 0.0 : beta * out));
    }
    return Status::Ok();
  }

  Result<Desc*> GetDesc(uint64_t id, DescKind kind, bool must_be_set = true) {
    auto it = descs_.find(id);
    if (it == descs_.end() || it->second.kind != kind) {
      static const char* kNames[] = {"",        "tensor",     "filter", "convolution",
                                     "pooling", "activation", "LRN",    "op tensor"};
      return NotFoundId((std::string(kNames[static_cast<int>(kind)]) + " descriptor").c_str(), id);
    }
    if (must_be_set && !it->second.set) return Bad("descriptor " + Hex(id) + " was never set");
    return &it->second;
  }

  Status TensorDescSet(Decoder& a) {
    const uint64_t id = a.U64();
    int64_t dims[4], strides[4];
    for (int64_t& d : dims) d = a.I32();
    for (int64_t& s : strides) s = a.I32();
    if (!a.ok()) return Truncated(Op::kTensorDescSet);
    EI_ASSIGN_OR_RETURN(Desc * d, GetDesc(id, DescKind::kTensor, false));
    int64_t elements = 1;
    for (int i = 0; i < 4; ++i) {
      if (dims[i] <= 0 || strides[i] <= 0) return Bad("tensor dimensions and strides must be > 0");
      if (dims[i] > kMaxElements / elements) return Bad("tensor too large");
      elements *= dims[i];
    }
    std::copy(dims, dims + 4, d->dims);
    std::copy(strides, strides + 4, d->strides);
    d->set = true;
    return Status::Ok();
  }

  Status FilterDescSet(Decoder& a) {
    const uint64_t id = a.U64();
    int64_t dims[4];
    for (int64_t& d : dims) d = a.I32();
    if (!a.ok()) return Truncated(Op::kFilterDescSet);
    EI_ASSIGN_OR_RETURN(Desc * d, GetDesc(id, DescKind::kFilter, false));
    int64_t elements = 1;
    for (int i = 0; i < 4; ++i) {
      if (dims[i] <= 0) return Bad("filter dimensions must be > 0");
      if (dims[i] > kMaxElements / elements) return Bad("filter too large");
      elements *= dims[i];
    }
    std::copy(dims, dims + 4, d->dims);
    d->strides[3] = 1;
    d->strides[2] = dims[3];
    d->strides[1] = dims[2] * dims[3];
    d->strides[0] = dims[1] * dims[2] * dims[3];
    d->set = true;
    return Status::Ok();
  }

  Status ConvDescSet(Decoder& a) {
    const uint64_t id = a.U64();
    const int ph = a.I32(), pw = a.I32(), sh = a.I32(), sw = a.I32(), dh = a.I32(), dw = a.I32();
    const uint8_t cross = a.U8();
    const int groups = a.I32();
    if (!a.ok()) return Truncated(Op::kConvDescSet);
    EI_ASSIGN_OR_RETURN(Desc * d, GetDesc(id, DescKind::kConv, false));
    if (ph < 0 || pw < 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || groups <= 0 ||
        ph > (1 << 20) || pw > (1 << 20) || dh > (1 << 20) || dw > (1 << 20)) {
      return Bad("convolution padding, strides, dilations or groups out of range");
    }
    d->pad_h = ph, d->pad_w = pw, d->stride_h = sh, d->stride_w = sw, d->dil_h = dh;
    d->dil_w = dw, d->cross = cross != 0, d->groups = groups, d->set = true;
    return Status::Ok();
  }

  Status PoolDescSet(Decoder& a) {
    const uint64_t id = a.U64();
    const uint8_t mode = a.U8();
    const int wh = a.I32(), ww = a.I32(), ph = a.I32(), pw = a.I32(), sh = a.I32(), sw = a.I32();
    if (!a.ok()) return Truncated(Op::kPoolDescSet);
    EI_ASSIGN_OR_RETURN(Desc * d, GetDesc(id, DescKind::kPool, false));
    if (mode > kPoolMaxDet) return Status::Unimplemented("pooling mode " + std::to_string(mode));
    if (wh <= 0 || ww <= 0 || ph < 0 || pw < 0 || sh <= 0 || sw <= 0 || ph >= wh || pw >= ww ||
        wh > (1 << 20) || ww > (1 << 20)) {
      return Bad("pooling window, padding or strides out of range");
    }
    d->mode = mode, d->win_h = wh, d->win_w = ww, d->pad_h = ph, d->pad_w = pw;
    d->stride_h = sh, d->stride_w = sw, d->set = true;
    return Status::Ok();
  }

  Status ActDescSet(Decoder& a) {
    const uint64_t id = a.U64();
    const uint8_t mode = a.U8();
    const double coef = a.F64();
    if (!a.ok()) return Truncated(Op::kActDescSet);
    EI_ASSIGN_OR_RETURN(Desc * d, GetDesc(id, DescKind::kAct, false));
    if (mode > kSwish) return Status::Unimplemented("activation mode " + std::to_string(mode));
    d->mode = mode, d->coef = coef, d->set = true;
    return Status::Ok();
  }

  Status LrnDescSet(Decoder& a) {
    const uint64_t id = a.U64();
    const uint32_t n = a.U32();
    const double alpha = a.F64(), beta = a.F64(), k = a.F64();
    if (!a.ok()) return Truncated(Op::kLrnDescSet);
    EI_ASSIGN_OR_RETURN(Desc * d, GetDesc(id, DescKind::kLrn, false));
    if (n < 1 || n > 16 || k < 1e-5 || beta < 0.01) return Bad("LRN parameters out of range");
    d->lrn_n = n, d->lrn_alpha = alpha, d->lrn_beta = beta, d->lrn_k = k, d->set = true;
    return Status::Ok();
  }

  // The tensor `desc_id` at device address `ptr`.
  Result<TensorView> Tensor(uint64_t desc_id, uint64_t ptr) {
    EI_ASSIGN_OR_RETURN(Desc * d, GetDesc(desc_id, DescKind::kTensor));
    int64_t span = 1;
    for (int i = 0; i < 4; ++i) {
      if (d->strides[i] > kMaxElements / d->dims[i]) return Bad("tensor strides too large");
      span += (d->dims[i] - 1) * d->strides[i];
    }
    EI_ASSIGN_OR_RETURN(float* p, Floats(ptr, span));
    return TensorView{d, p};
  }

  static bool SameDims(const Desc& a, const Desc& b) {
    return std::equal(a.dims, a.dims + 4, b.dims);
  }
  static std::string DimsString(const int64_t* d) {
    return std::to_string(d[0]) + "x" + std::to_string(d[1]) + "x" + std::to_string(d[2]) + "x" +
           std::to_string(d[3]);
  }
  static void Store(float& y, float alpha, double v, float beta) {
    y = static_cast<float>(alpha * v + (beta == 0.0f ? 0.0 : beta * static_cast<double>(y)));
  }

  Status ConvForward(Decoder& a) {
    const uint64_t handle = a.U64();
    const float alpha = a.F32();
    const uint64_t xd = a.U64(), xp = a.U64(), wd = a.U64(), wp = a.U64(), cd = a.U64();
    const float beta = a.F32();
    const uint64_t yd = a.U64(), yp = a.U64();
    if (!a.ok()) return Truncated(Op::kConvForward);
    EI_RETURN_IF_ERROR(CheckHandle(dnn_, handle, "cuDNN handle"));
    EI_ASSIGN_OR_RETURN(TensorView x, Tensor(xd, xp));
    EI_ASSIGN_OR_RETURN(TensorView y, Tensor(yd, yp));
    EI_ASSIGN_OR_RETURN(Desc * f, GetDesc(wd, DescKind::kFilter));
    EI_ASSIGN_OR_RETURN(Desc * c, GetDesc(cd, DescKind::kConv));
    EI_ASSIGN_OR_RETURN(float* w, Floats(wp, f->strides[0] * f->dims[0]));
    const int64_t N = x.d->dims[0], C = x.d->dims[1], H = x.d->dims[2], W = x.d->dims[3];
    const int64_t K = f->dims[0], CG = f->dims[1], R = f->dims[2], S = f->dims[3];
    const int64_t G = c->groups;
    if (C != CG * G || K % G != 0) {
      return Bad("convolution channels do not match: input " + DimsString(x.d->dims) + ", filter " +
                 DimsString(f->dims) + ", groups " + std::to_string(G));
    }
    const int64_t OH = (H + 2 * c->pad_h - c->dil_h * (R - 1) - 1) / c->stride_h + 1;
    const int64_t OW = (W + 2 * c->pad_w - c->dil_w * (S - 1) - 1) / c->stride_w + 1;
    const int64_t expect[4] = {N, K, OH, OW};
    if (OH <= 0 || OW <= 0 || !std::equal(expect, expect + 4, y.d->dims)) {
      return Bad("convolution output descriptor is " + DimsString(y.d->dims) + ", expected " +
                 DimsString(expect));
    }
    EI_RETURN_IF_ERROR(CheckWork("convolution", double(N) * K * OH * OW * CG * R * S));
    const int64_t KG = K / G;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k) {
        std::vector<double> acc(static_cast<size_t>(OH * OW), 0.0);
        const int64_t g = k / KG;
        for (int64_t cg = 0; cg < CG; ++cg) {
          const int64_t ci = g * CG + cg;
          for (int64_t r = 0; r < R; ++r) {
            for (int64_t s = 0; s < S; ++s) {
              const int64_t fr = c->cross ? r : R - 1 - r, fs = c->cross ? s : S - 1 - s;
              const double wv = w[k * f->strides[0] + cg * f->strides[1] + fr * f->strides[2] +
                                  fs * f->strides[3]];
              for (int64_t oh = 0; oh < OH; ++oh) {
                const int64_t ih = oh * c->stride_h - c->pad_h + r * c->dil_h;
                if (ih < 0 || ih >= H) continue;
                for (int64_t ow = 0; ow < OW; ++ow) {
                  const int64_t iw = ow * c->stride_w - c->pad_w + s * c->dil_w;
                  if (iw < 0 || iw >= W) continue;
                  acc[oh * OW + ow] += wv * x.at(n, ci, ih, iw);
                }
              }
            }
          }
        }
        for (int64_t oh = 0; oh < OH; ++oh) {
          for (int64_t ow = 0; ow < OW; ++ow)
            Store(y.at(n, k, oh, ow), alpha, acc[oh * OW + ow], beta);
        }
      }
    }
    return Status::Ok();
  }

  Status AddTensor(Decoder& a) {
    const uint64_t handle = a.U64();
    const float alpha = a.F32();
    const uint64_t ad = a.U64(), ap = a.U64();
    const float beta = a.F32();
    const uint64_t cd = a.U64(), cp = a.U64();
    if (!a.ok()) return Truncated(Op::kAddTensor);
    EI_RETURN_IF_ERROR(CheckHandle(dnn_, handle, "cuDNN handle"));
    EI_ASSIGN_OR_RETURN(TensorView A, Tensor(ad, ap));
    EI_ASSIGN_OR_RETURN(TensorView Cv, Tensor(cd, cp));
    for (int i = 0; i < 4; ++i) {
      if (A.d->dims[i] != 1 && A.d->dims[i] != Cv.d->dims[i]) {
        return Bad("cannot add a " + DimsString(A.d->dims) + " tensor to a " +
                   DimsString(Cv.d->dims) + " tensor");
      }
    }
    const int64_t* cdims = Cv.d->dims;
    auto bi = [&](int i, int64_t v) { return A.d->dims[i] == 1 ? 0 : v; };
    for (int64_t n = 0; n < cdims[0]; ++n)
      for (int64_t c = 0; c < cdims[1]; ++c)
        for (int64_t h = 0; h < cdims[2]; ++h)
          for (int64_t w = 0; w < cdims[3]; ++w)
            Store(Cv.at(n, c, h, w), alpha, A.at(bi(0, n), bi(1, c), bi(2, h), bi(3, w)), beta);
    return Status::Ok();
  }

  // C = op(alpha1 * A, alpha2 * B) + beta * C; B broadcasts over its size-1 dimensions; SQRT
  // and NOT read A only.
  Status OpTensor(Decoder& a) {
    const uint64_t handle = a.U64(), od = a.U64();
    const float alpha1 = a.F32();
    const uint64_t ad = a.U64(), ap = a.U64();
    const float alpha2 = a.F32();
    const uint64_t bd = a.U64(), bp = a.U64();
    const float beta = a.F32();
    const uint64_t cd = a.U64(), cp = a.U64();
    if (!a.ok()) return Truncated(Op::kOpTensor);
    EI_RETURN_IF_ERROR(CheckHandle(dnn_, handle, "cuDNN handle"));
    EI_ASSIGN_OR_RETURN(Desc * o, GetDesc(od, DescKind::kOpTensor));
    const uint8_t op = o->mode;
    const bool unary = op == 4 || op == 5;
    EI_ASSIGN_OR_RETURN(TensorView A, Tensor(ad, ap));
    EI_ASSIGN_OR_RETURN(TensorView C, Tensor(cd, cp));
    if (!SameDims(*A.d, *C.d)) return Bad("op tensor A and C dimensions differ");
    TensorView B = A;
    if (!unary) {
      EI_ASSIGN_OR_RETURN(B, Tensor(bd, bp));
      for (int i = 0; i < 4; ++i) {
        if (B.d->dims[i] != 1 && B.d->dims[i] != C.d->dims[i]) {
          return Bad("op tensor B " + DimsString(B.d->dims) + " does not broadcast to C " +
                     DimsString(C.d->dims));
        }
      }
    }
    const int64_t* d = C.d->dims;
    auto bi = [&](int i, int64_t v) { return B.d->dims[i] == 1 ? 0 : v; };
    for (int64_t n = 0; n < d[0]; ++n)
      for (int64_t c = 0; c < d[1]; ++c)
        for (int64_t h = 0; h < d[2]; ++h)
          for (int64_t w = 0; w < d[3]; ++w) {
            const double x = double(alpha1) * A.at(n, c, h, w);
            const double y =
                unary ? 0.0 : double(alpha2) * B.at(bi(0, n), bi(1, c), bi(2, h), bi(3, w));
            double v = 0;
            switch (op) {
              case 0:
                v = x + y;
                break;
              case 1:
                v = x * y;
                break;
              case 2:
                v = std::min(x, y);
                break;
              case 3:
                v = std::max(x, y);
                break;
              case 4:
                v = std::sqrt(x);
                break;
              default:
                v = 1.0 - x;
                break;
            }
            Store(C.at(n, c, h, w), 1.0f, v, beta);
          }
    return Status::Ok();
  }

  Status ActivationForward(Decoder& a) {
    const uint64_t handle = a.U64(), act = a.U64();
    const float alpha = a.F32();
    const uint64_t xd = a.U64(), xp = a.U64();
    const float beta = a.F32();
    const uint64_t yd = a.U64(), yp = a.U64();
    if (!a.ok()) return Truncated(Op::kActivationForward);
    EI_RETURN_IF_ERROR(CheckHandle(dnn_, handle, "cuDNN handle"));
    EI_ASSIGN_OR_RETURN(Desc * ad, GetDesc(act, DescKind::kAct));
    EI_ASSIGN_OR_RETURN(TensorView x, Tensor(xd, xp));
    EI_ASSIGN_OR_RETURN(TensorView y, Tensor(yd, yp));
    if (!SameDims(*x.d, *y.d)) return Bad("activation input and output dimensions differ");
    const double coef = ad->coef;
    const uint8_t mode = ad->mode;
    auto f = [&](double v) -> double {
      switch (mode) {
        case kSigmoid:
          return 1.0 / (1.0 + std::exp(-v));
        case kRelu:
          return v > 0 ? v : 0.0;
        case kTanh:
          return std::tanh(v);
        case kClippedRelu:
          return std::min(std::max(v, 0.0), coef);
        case kElu:
          return v > 0 ? v : coef * (std::exp(v) - 1.0);
        case kSwish:
          return v / (1.0 + std::exp(-coef * v));
        default:
          return v;
      }
    };
    const int64_t* d = x.d->dims;
    for (int64_t n = 0; n < d[0]; ++n)
      for (int64_t c = 0; c < d[1]; ++c)
        for (int64_t h = 0; h < d[2]; ++h)
          for (int64_t w = 0; w < d[3]; ++w)
            Store(y.at(n, c, h, w), alpha, f(x.at(n, c, h, w)), beta);
    return Status::Ok();
  }

  Status PoolingForward(Decoder& a) {
    const uint64_t handle = a.U64(), pool = a.U64();
    const float alpha = a.F32();
    const uint64_t xd = a.U64(), xp = a.U64();
    const float beta = a.F32();
    const uint64_t yd = a.U64(), yp = a.U64();
    if (!a.ok()) return Truncated(Op::kPoolingForward);
    EI_RETURN_IF_ERROR(CheckHandle(dnn_, handle, "cuDNN handle"));
    EI_ASSIGN_OR_RETURN(Desc * p, GetDesc(pool, DescKind::kPool));
    EI_ASSIGN_OR_RETURN(TensorView x, Tensor(xd, xp));
    EI_ASSIGN_OR_RETURN(TensorView y, Tensor(yd, yp));
    const int64_t* d = x.d->dims;
    const int64_t OH = (d[2] + 2 * p->pad_h - p->win_h) / p->stride_h + 1;
    const int64_t OW = (d[3] + 2 * p->pad_w - p->win_w) / p->stride_w + 1;
    const int64_t expect[4] = {d[0], d[1], OH, OW};
    if (d[2] + 2 * p->pad_h < p->win_h || d[3] + 2 * p->pad_w < p->win_w ||
        !std::equal(expect, expect + 4, y.d->dims)) {
      return Bad("pooling output descriptor is " + DimsString(y.d->dims) + ", expected " +
                 DimsString(expect));
    }
    EI_RETURN_IF_ERROR(CheckWork("pooling", double(d[0]) * d[1] * OH * OW * p->win_h * p->win_w));
    const bool is_max = p->mode == kPoolMax || p->mode == kPoolMaxDet;
    for (int64_t n = 0; n < d[0]; ++n) {
      for (int64_t c = 0; c < d[1]; ++c) {
        for (int64_t oh = 0; oh < OH; ++oh) {
          for (int64_t ow = 0; ow < OW; ++ow) {
            double acc = is_max ? -INFINITY : 0.0;
            int64_t count = 0;
            for (int64_t r = 0; r < p->win_h; ++r) {
              const int64_t ih = oh * p->stride_h - p->pad_h + r;
              if (ih < 0 || ih >= d[2]) continue;
              for (int64_t s = 0; s < p->win_w; ++s) {
                const int64_t iw = ow * p->stride_w - p->pad_w + s;
                if (iw < 0 || iw >= d[3]) continue;
                const double v = x.at(n, c, ih, iw);
                acc = is_max ? std::max(acc, v) : acc + v;
                ++count;
              }
            }
            if (!is_max) {
              const int64_t divisor = p->mode == kPoolAvgInclude ? p->win_h * p->win_w : count;
              acc = divisor > 0 ? acc / static_cast<double>(divisor) : 0.0;
            }
            Store(y.at(n, c, oh, ow), alpha, acc, beta);
          }
        }
      }
    }
    return Status::Ok();
  }

  Status SoftmaxForward(Decoder& a) {
    const uint64_t handle = a.U64();
    const uint8_t log = a.U8(), channel = a.U8();
    const float alpha = a.F32();
    const uint64_t xd = a.U64(), xp = a.U64();
    const float beta = a.F32();
    const uint64_t yd = a.U64(), yp = a.U64();
    if (!a.ok()) return Truncated(Op::kSoftmaxForward);
    EI_RETURN_IF_ERROR(CheckHandle(dnn_, handle, "cuDNN handle"));
    EI_ASSIGN_OR_RETURN(TensorView x, Tensor(xd, xp));
    EI_ASSIGN_OR_RETURN(TensorView y, Tensor(yd, yp));
    if (!SameDims(*x.d, *y.d)) return Bad("softmax input and output dimensions differ");
    const int64_t* d = x.d->dims;
    // Instance mode: one softmax over c, h, w per n. Channel mode: over c per (n, h, w).
    const int64_t outer_h = channel ? d[2] : 1, outer_w = channel ? d[3] : 1;
    const int64_t inner_h = channel ? 1 : d[2], inner_w = channel ? 1 : d[3];
    std::vector<double> e;
    for (int64_t n = 0; n < d[0]; ++n) {
      for (int64_t oh = 0; oh < outer_h; ++oh) {
        for (int64_t ow = 0; ow < outer_w; ++ow) {
          auto X = [&](int64_t c, int64_t ih, int64_t iw) -> float& {
            return x.at(n, c, channel ? oh : ih, channel ? ow : iw);
          };
          auto Y = [&](int64_t c, int64_t ih, int64_t iw) -> float& {
            return y.at(n, c, channel ? oh : ih, channel ? ow : iw);
          };
          double mx = -INFINITY;
          for (int64_t c = 0; c < d[1]; ++c)
            for (int64_t ih = 0; ih < inner_h; ++ih)
              for (int64_t iw = 0; iw < inner_w; ++iw) mx = std::max<double>(mx, X(c, ih, iw));
          double sum = 0;
          e.clear();
          for (int64_t c = 0; c < d[1]; ++c)
            for (int64_t ih = 0; ih < inner_h; ++ih)
              for (int64_t iw = 0; iw < inner_w; ++iw) {
                e.push_back(std::exp(X(c, ih, iw) - mx));
                sum += e.back();
              }
          size_t i = 0;
          for (int64_t c = 0; c < d[1]; ++c)
            for (int64_t ih = 0; ih < inner_h; ++ih)
              for (int64_t iw = 0; iw < inner_w; ++iw, ++i) {
                const double v = log ? (X(c, ih, iw) - mx) - std::log(sum) : e[i] / sum;
                Store(Y(c, ih, iw), alpha, v, beta);
              }
        }
      }
    }
    return Status::Ok();
  }

  Status LrnForward(Decoder& a) {
    const uint64_t handle = a.U64(), lrn = a.U64();
    const float alpha = a.F32();
    const uint64_t xd = a.U64(), xp = a.U64();
    const float beta = a.F32();
    const uint64_t yd = a.U64(), yp = a.U64();
    if (!a.ok()) return Truncated(Op::kLrnForward);
    EI_RETURN_IF_ERROR(CheckHandle(dnn_, handle, "cuDNN handle"));
    EI_ASSIGN_OR_RETURN(Desc * l, GetDesc(lrn, DescKind::kLrn));
    EI_ASSIGN_OR_RETURN(TensorView x, Tensor(xd, xp));
    EI_ASSIGN_OR_RETURN(TensorView y, Tensor(yd, yp));
    if (!SameDims(*x.d, *y.d)) return Bad("LRN input and output dimensions differ");
    const int64_t* d = x.d->dims;
    const int64_t lo = (static_cast<int64_t>(l->lrn_n) - 1) / 2;
    const int64_t hi = static_cast<int64_t>(l->lrn_n) / 2;
    for (int64_t n = 0; n < d[0]; ++n)
      for (int64_t c = 0; c < d[1]; ++c)
        for (int64_t h = 0; h < d[2]; ++h)
          for (int64_t w = 0; w < d[3]; ++w) {
            double sq = 0;
            for (int64_t j = std::max<int64_t>(0, c - lo); j <= std::min(d[1] - 1, c + hi); ++j) {
              const double v = x.at(n, j, h, w);
              sq += v * v;
            }
            const double scale = l->lrn_k + l->lrn_alpha / l->lrn_n * sq;
            Store(y.at(n, c, h, w), alpha, x.at(n, c, h, w) / std::pow(scale, l->lrn_beta), beta);
          }
    return Status::Ok();
  }

  Status BatchNormInference(Decoder& a) {
    const uint64_t handle = a.U64();
    const float alpha = a.F32(), beta = a.F32();
    const uint64_t xd = a.U64(), xp = a.U64(), yd = a.U64(), yp = a.U64(), bd = a.U64();
    const uint64_t scale_p = a.U64(), bias_p = a.U64(), mean_p = a.U64(), var_p = a.U64();
    const double eps = a.F64();
    if (!a.ok()) return Truncated(Op::kBatchNormInference);
    EI_RETURN_IF_ERROR(CheckHandle(dnn_, handle, "cuDNN handle"));
    EI_ASSIGN_OR_RETURN(TensorView x, Tensor(xd, xp));
    EI_ASSIGN_OR_RETURN(TensorView y, Tensor(yd, yp));
    if (!SameDims(*x.d, *y.d)) return Bad("batch-norm input and output dimensions differ");
    const int64_t* d = x.d->dims;
    EI_ASSIGN_OR_RETURN(Desc * bdesc, GetDesc(bd, DescKind::kTensor));
    if (bdesc->dims[0] != 1 || bdesc->dims[1] != d[1] || bdesc->dims[2] != 1 ||
        bdesc->dims[3] != 1) {
      return Status::Unimplemented("batch-norm parameters other than 1xCx1x1 (spatial mode)");
    }
    EI_ASSIGN_OR_RETURN(TensorView scale, Tensor(bd, scale_p));
    EI_ASSIGN_OR_RETURN(TensorView bias, Tensor(bd, bias_p));
    EI_ASSIGN_OR_RETURN(TensorView mean, Tensor(bd, mean_p));
    EI_ASSIGN_OR_RETURN(TensorView var, Tensor(bd, var_p));
    for (int64_t c = 0; c < d[1]; ++c) {
      const double inv = 1.0 / std::sqrt(static_cast<double>(var.at(0, c, 0, 0)) + eps);
      const double s = scale.at(0, c, 0, 0), b = bias.at(0, c, 0, 0), m = mean.at(0, c, 0, 0);
      for (int64_t n = 0; n < d[0]; ++n)
        for (int64_t h = 0; h < d[2]; ++h)
          for (int64_t w = 0; w < d[3]; ++w)
            Store(y.at(n, c, h, w), alpha, s * (x.at(n, c, h, w) - m) * inv + b, beta);
    }
    return Status::Ok();
  }

  Status CheckWork(const char* what, double macs) const {
    if (macs <= max_macs_) return Status::Ok();
    return Status::ResourceExhausted(std::string(what) + " of " + std::to_string(macs) +
                                     " multiply-adds exceeds the cpu executor's per-call limit");
  }

  ExecutorCounters* counters_;
  uint64_t max_bytes_;
  double max_macs_;
  uint64_t held_bytes_ = 0;
  uint64_t next_address_ = kFirstAddress;
  std::map<uint64_t, Allocation> allocations_;
  std::map<uint64_t, uint64_t> streams_;
  std::map<uint64_t, double> events_;  // id -> recorded time (ms), -1 before a record
  std::map<uint64_t, uint64_t> blas_;  // handle -> stream
  std::map<uint64_t, uint64_t> dnn_;   // handle -> stream
  std::map<uint64_t, Desc> descs_;
};

class CpuExecutor : public Executor {
 public:
  explicit CpuExecutor(const ExecutorOptions& options) : options_(options) {}
  std::string name() const override { return "cpu"; }
  std::string device_name() const override { return "edgeinfer remoting cpu executor"; }
  uint64_t total_memory() const override { return options_.max_connection_bytes; }
  std::unique_ptr<ExecutorSession> NewSession(ExecutorCounters* counters) override {
    return std::make_unique<CpuSession>(counters, options_);
  }

 private:
  ExecutorOptions options_;
};

}  // namespace

std::string GpuUnavailableReason() {
  void* driver = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (driver == nullptr) {
    return "no NVIDIA driver on this server (libcuda.so.1 cannot be loaded)";
  }
  using DeviceGetCount = int (*)(int*);
  using Init = int (*)(unsigned);
  auto init = reinterpret_cast<Init>(::dlsym(driver, "cuInit"));
  auto count_fn = reinterpret_cast<DeviceGetCount>(::dlsym(driver, "cuDeviceGetCount"));
  int count = 0;
  std::string reason;
  if (init == nullptr || count_fn == nullptr || init(0) != 0 || count_fn(&count) != 0 ||
      count == 0) {
    reason = "the NVIDIA driver reports no usable GPU on this server";
  } else {
    reason = "this build's gpu executor is not implemented yet (the server has " +
             std::to_string(count) + " GPU(s))";
  }
  ::dlclose(driver);
  return reason;
}

Result<std::unique_ptr<Executor>> MakeExecutor(const std::string& kind,
                                               const ExecutorOptions& options) {
  if (kind == "cpu" || kind == "auto") {
    // auto: gpu when it can run here; this build has no gpu executor yet, so cpu.
    return std::unique_ptr<Executor>(std::make_unique<CpuExecutor>(options));
  }
  if (kind == "gpu") {
    return Status::FailedPrecondition(
        "remoting executor 'gpu' cannot run: " + GpuUnavailableReason() +
        "; use --remoting-executor cpu (cuBLAS and cuDNN calls on "
        "the CPU; user kernels need a GPU)");
  }
  return Status::InvalidArgument("unknown remoting executor '" + kind +
                                 "' (expected gpu, cpu or auto)");
}

}  // namespace edgeinfer::remoting

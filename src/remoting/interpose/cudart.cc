// libcudart.so.13 interposer: the CUDA runtime calls of an unchanged program (linked with
// nvcc -cudart shared) forwarded to an edgeinfer remoting server (docs/remoting.md).
//
// Memory copies to the device, memsets, device-to-device copies, stream and event calls and
// kernel launches are queued; device-to-host copies, allocations, and stream, event and device
// synchronisation are the synchronising calls that send the queue and wait for one reply.
// Streams and events are ids chosen here; device pointers are the server's addresses.
#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "remoting/interpose/interpose.h"

using edgeinfer::Result;
using edgeinfer::Status;
using edgeinfer::StatusCode;
using namespace edgeinfer::remoting;
using namespace edgeinfer::remoting::interpose;

namespace {

struct ProcessState {
  std::once_flag once;
  Client* client = nullptr;
  std::mutex mu;
  std::map<uint64_t, uint64_t> allocations;    // device pointer -> size
  std::map<const void*, std::string> kernels;  // host stub -> device function name
  std::set<std::string> unsupported_logged;
  std::set<std::string> reported;
};

ProcessState& State() {
  static ProcessState* state = new ProcessState();  // never destroyed: used until exit
  return *state;
}

thread_local cudaError_t last_error = cudaSuccess;
// An earlier asynchronous call's error that arrived with a cudaMalloc reply: the allocation is
// returned (it exists on the server) and the error waits for the next synchronising call.
std::atomic<int> held_error{cudaSuccess};

struct LaunchConfig {
  dim3 grid, block;
  size_t shared = 0;
  cudaStream_t stream = nullptr;
};
thread_local std::vector<LaunchConfig> launch_stack;

std::string ReadToken() {
  if (const char* t = std::getenv("EDGEINFER_REMOTING_TOKEN")) return t;
  const char* file = std::getenv("EDGEINFER_REMOTING_TOKEN_FILE");
  if (file == nullptr) return "";
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const size_t e = line.find_last_not_of(" \t\r");
    return line.substr(b, e - b + 1);
  }
  return "";
}

void PrintStats() {
  Client* c = State().client;
  if (c == nullptr) return;
  const ClientStats s = c->stats();
  std::fprintf(stderr,
               "edgeinfer remoting: %lld calls, %lld round trips, %lld frames, %lld bytes sent, "
               "%lld bytes received\n",
               static_cast<long long>(s.calls), static_cast<long long>(s.round_trips),
               static_cast<long long>(s.frames_out), static_cast<long long>(s.bytes_out),
               static_cast<long long>(s.bytes_in));
}

void Connect() {
  ProcessState& st = State();
  const char* address = std::getenv("EDGEINFER_REMOTING");
  if (address == nullptr || *address == '\0') {
    std::fprintf(stderr,
                 "edgeinfer remoting: EDGEINFER_REMOTING is not set (HOST:PORT of an 'edgeinfer "
                 "serve --remoting' server; 'edgeinfer cuda-run' sets it); CUDA calls fail with "
                 "cudaErrorNoDevice\n");
    return;
  }
  Result<std::unique_ptr<Client>> c = Client::Connect(address, ReadToken());
  if (!c.ok()) {
    std::fprintf(stderr, "edgeinfer remoting: %s; CUDA calls fail with cudaErrorNoDevice\n",
                 c.status().ToString().c_str());
    return;
  }
  st.client = c->release();
  const char* stats = std::getenv("EDGEINFER_REMOTING_STATS");
  if (stats != nullptr && *stats != '\0' && *stats != '0') std::atexit(PrintStats);
}

cudaError_t ToCuda(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return cudaSuccess;
    case StatusCode::kResourceExhausted:
      return cudaErrorMemoryAllocation;
    case StatusCode::kOutOfRange:
    case StatusCode::kInvalidArgument:
      return cudaErrorInvalidValue;
    case StatusCode::kNotFound:
      return cudaErrorInvalidResourceHandle;
    case StatusCode::kUnimplemented:
    case StatusCode::kFailedPrecondition:
      return cudaErrorNotSupported;
    case StatusCode::kUnavailable:
      return cudaErrorDevicesUnavailable;
    default:
      return cudaErrorUnknown;
  }
}

cudaError_t Set(cudaError_t e) {
  if (e != cudaSuccess) last_error = e;
  return e;
}

// The connection, or nullptr with last_error set.
Client* Need() {
  Client* c = GetClient();
  if (c == nullptr) Set(cudaErrorNoDevice);
  return c;
}

cudaError_t Enq(Op op, const Encoder& args) {
  Client* c = Need();
  if (c == nullptr) return cudaErrorNoDevice;
  Status st = c->Enqueue(op, args);
  if (!st.ok()) edgeinfer_remoting_report("connection", st.message().c_str());
  return Set(st.ok() ? cudaSuccess : cudaErrorDevicesUnavailable);
}

// Sends the queue with `op`; the first error since the last sync, as a cudaError_t.
cudaError_t SyncCall(Op op, const Encoder& args, std::vector<uint8_t>* result = nullptr) {
  Client* c = Need();
  if (c == nullptr) return cudaErrorNoDevice;
  Result<Reply> r = c->Sync(op, args);
  cudaError_t e = ToCuda(Check(r));
  if (r.ok() && result != nullptr) *result = r->result;
  const int held = held_error.exchange(cudaSuccess);
  if (e == cudaSuccess) e = static_cast<cudaError_t>(held);
  return Set(e);
}

uint64_t StreamId(cudaStream_t s) { return Ptr(s); }

bool IsDevice(const void* p) {
  ProcessState& st = State();
  std::lock_guard<std::mutex> lock(st.mu);
  const uint64_t v = Ptr(p);
  auto it = st.allocations.upper_bound(v);
  if (it == st.allocations.begin()) return false;
  --it;
  return v - it->first < it->second;
}

cudaError_t Copy(void* dst, const void* src, size_t count, cudaMemcpyKind kind, bool sync) {
  if (kind == cudaMemcpyDefault) {
    const bool d = IsDevice(dst), s = IsDevice(src);
    kind = d ? (s ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
             : (s ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  }
  if (count == 0) return cudaSuccess;
  Client* c = nullptr;
  if (kind != cudaMemcpyHostToHost && (c = Need()) == nullptr) return cudaErrorNoDevice;
  switch (kind) {
    case cudaMemcpyHostToHost:
      std::memmove(dst, src, count);
      return cudaSuccess;
    case cudaMemcpyHostToDevice: {
      // The bytes are taken now, so the copy needs no round trip.
      Status st = c->CopyToDevice(Ptr(dst), src, count);
      return Set(st.ok() ? cudaSuccess : cudaErrorDevicesUnavailable);
    }
    case cudaMemcpyDeviceToHost: {
      Status st = c->CopyToHost(dst, Ptr(src), count);
      if (!st.ok()) return Set(cudaErrorDevicesUnavailable);
      // A synchronous copy is itself the synchronising call; an asynchronous one lands at the
      // next synchronisation, as on a GPU.
      return sync ? SyncCall(Op::kNone, Encoder()) : cudaSuccess;
    }
    case cudaMemcpyDeviceToDevice:
      return Enq(Op::kMemcpyDtoD, Encoder().U64(Ptr(dst)).U64(Ptr(src)).U64(count));
    default:
      return Set(cudaErrorInvalidMemcpyDirection);
  }
}

}  // namespace

extern "C" {

void* edgeinfer_remoting_client(void) {
  ProcessState& st = State();
  std::call_once(st.once, Connect);
  return st.client;
}

int edgeinfer_remoting_unsupported(const char* name, int code) {
  ProcessState& st = State();
  std::lock_guard<std::mutex> lock(st.mu);
  if (st.unsupported_logged.insert(name).second) {
    std::fprintf(stderr, "edgeinfer remoting: %s is not supported (returns error %d)\n", name,
                 code);
  }
  return code;
}

void edgeinfer_remoting_report(const char* what, const char* message) {
  ProcessState& st = State();
  std::lock_guard<std::mutex> lock(st.mu);
  if (st.reported.size() >= 20) return;
  if (st.reported.insert(std::string(what) + message).second) {
    std::fprintf(stderr, "edgeinfer remoting: %s failed: %s\n", what, message);
  }
}

// Errors.
cudaError_t cudaGetLastError(void) {
  const cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotSupported:
      return "cudaErrorNotSupported";
    case cudaErrorDevicesUnavailable:
      return "cudaErrorDevicesUnavailable";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    case cudaErrorInvalidMemcpyDirection:
      return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    default:
      return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorNotSupported:
      return "operation not supported by the edgeinfer remoting server (kernel launches need a "
             "GPU remoting server; the cpu executor runs memory, stream, event, cuBLAS and cuDNN "
             "calls only; details on stderr)";
    case cudaErrorDevicesUnavailable:
      return "edgeinfer remoting connection lost";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected (edgeinfer remoting: no server connection; "
             "see stderr)";
    case cudaErrorInvalidMemcpyDirection:
      return "invalid copy direction for memcpy";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorNotReady:
      return "device not ready";
    default:
      return "unknown error";
  }
}

// Device management.
cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return Set(cudaErrorInvalidValue);
  *count = GetClient() != nullptr ? 1 : 0;
  return *count == 1 ? cudaSuccess : Set(cudaErrorNoDevice);
}
cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return Set(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device != 0) return Set(cudaErrorInvalidDevice);
  return Need() != nullptr ? cudaSuccess : cudaErrorNoDevice;
}
cudaError_t cudaSetDeviceFlags(unsigned int) { return cudaSuccess; }
cudaError_t cudaDeviceReset(void) { return SyncCall(Op::kSynchronize, Encoder().U64(0)); }
cudaError_t cudaDeviceSynchronize(void) { return SyncCall(Op::kSynchronize, Encoder().U64(0)); }
cudaError_t cudaRuntimeGetVersion(int* v) {
  if (v == nullptr) return Set(cudaErrorInvalidValue);
  *v = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  if (v == nullptr) return Set(cudaErrorInvalidValue);
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* prop, int device) {
  if (prop == nullptr) return Set(cudaErrorInvalidValue);
  if (device != 0) return Set(cudaErrorInvalidDevice);
  Client* c = Need();
  if (c == nullptr) return cudaErrorNoDevice;
  std::memset(prop, 0, sizeof(*prop));
  std::snprintf(prop->name, sizeof(prop->name), "%s (%s executor, via edgeinfer remoting)",
                c->welcome().device_name.c_str(), c->welcome().executor.c_str());
  prop->totalGlobalMem = c->welcome().total_memory;
  prop->sharedMemPerBlock = 48 << 10;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->totalConstMem = 64 << 10;
  prop->major = 8;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  prop->textureAlignment = 512;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int device) {
  if (value == nullptr) return Set(cudaErrorInvalidValue);
  if (device != 0) return Set(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrComputeCapabilityMajor:
      *value = 8;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
      *value = 1;
      return cudaSuccess;
    case cudaDevAttrMaxThreadsPerBlock:
      *value = 1024;
      return cudaSuccess;
    case cudaDevAttrWarpSize:
      *value = 32;
      return cudaSuccess;
    default:
      return Set(static_cast<cudaError_t>(edgeinfer_remoting_unsupported(
          "cudaDeviceGetAttribute(this attribute)", cudaErrorNotSupported)));
  }
}

// Memory.
cudaError_t cudaMalloc(void** ptr, size_t size) {
  if (ptr == nullptr) return Set(cudaErrorInvalidValue);
  std::vector<uint8_t> result;
  const cudaError_t e = SyncCall(Op::kMalloc, Encoder().U64(size), &result);
  Decoder d(result.data(), result.size());
  const uint64_t p = d.U64();
  if (!d.ok()) {  // no allocation
    *ptr = nullptr;
    return e != cudaSuccess ? e : Set(cudaErrorUnknown);
  }
  if (e != cudaSuccess) held_error = e;  // an earlier call's error: reported by the next sync
  *ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(p));
  if (p != 0) {
    std::lock_guard<std::mutex> lock(State().mu);
    State().allocations[p] = size;
  }
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return Need() != nullptr ? cudaSuccess : cudaErrorNoDevice;
  {
    std::lock_guard<std::mutex> lock(State().mu);
    State().allocations.erase(Ptr(ptr));
  }
  return Enq(Op::kFree, Encoder().U64(Ptr(ptr)));
}

cudaError_t cudaMallocHost(void** ptr, size_t size) {
  if (ptr == nullptr) return Set(cudaErrorInvalidValue);
  *ptr = std::malloc(size == 0 ? 1 : size);
  return *ptr != nullptr ? cudaSuccess : Set(cudaErrorMemoryAllocation);
}
cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int) {
  return cudaMallocHost(ptr, size);
}
cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  std::vector<uint8_t> result;
  const cudaError_t e = SyncCall(Op::kMemGetInfo, Encoder(), &result);
  if (e != cudaSuccess) return e;
  Decoder d(result.data(), result.size());
  const uint64_t f = d.U64(), t = d.U64();
  if (free_bytes != nullptr) *free_bytes = f;
  if (total != nullptr) *total = t;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind) {
  return Copy(dst, src, count, kind, true);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind,
                            cudaStream_t) {
  return Copy(dst, src, count, kind, false);
}
cudaError_t cudaMemset(void* dst, int value, size_t count) {
  return Enq(Op::kMemset, Encoder().U64(Ptr(dst)).U32(static_cast<uint32_t>(value)).U64(count));
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t count, cudaStream_t) {
  return cudaMemset(dst, value, count);
}

// Streams.
static cudaError_t NewStream(cudaStream_t* stream) {
  if (stream == nullptr) return Set(cudaErrorInvalidValue);
  Client* c = Need();
  if (c == nullptr) return cudaErrorNoDevice;
  const uint64_t id = c->NextId();
  *stream = reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(id));
  return Enq(Op::kStreamCreate, Encoder().U64(id));
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return NewStream(stream); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
  return NewStream(stream);
}
cudaError_t cudaStreamCreateWithPriority(cudaStream_t* stream, unsigned int, int) {
  return NewStream(stream);
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  return Enq(Op::kStreamDestroy, Encoder().U64(StreamId(stream)));
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  return SyncCall(Op::kSynchronize, Encoder().U64(StreamId(stream)));
}
cudaError_t cudaStreamQuery(cudaStream_t stream) { return cudaStreamSynchronize(stream); }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned int) {
  // The server runs one connection's calls in order, so a cross-stream wait always holds.
  return cudaSuccess;
}

// Events.
static cudaError_t NewEvent(cudaEvent_t* event) {
  if (event == nullptr) return Set(cudaErrorInvalidValue);
  Client* c = Need();
  if (c == nullptr) return cudaErrorNoDevice;
  const uint64_t id = c->NextId();
  *event = reinterpret_cast<cudaEvent_t>(static_cast<uintptr_t>(id));
  return Enq(Op::kEventCreate, Encoder().U64(id));
}
cudaError_t cudaEventCreate(cudaEvent_t* event) { return NewEvent(event); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) { return NewEvent(event); }
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  return Enq(Op::kEventDestroy, Encoder().U64(Ptr(event)));
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  return Enq(Op::kEventRecord, Encoder().U64(Ptr(event)).U64(StreamId(stream)));
}
cudaError_t cudaEventSynchronize(cudaEvent_t) {
  return SyncCall(Op::kSynchronize, Encoder().U64(0));
}
cudaError_t cudaEventQuery(cudaEvent_t) { return SyncCall(Op::kSynchronize, Encoder().U64(0)); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (ms == nullptr) return Set(cudaErrorInvalidValue);
  std::vector<uint8_t> result;
  const cudaError_t e =
      SyncCall(Op::kEventElapsed, Encoder().U64(Ptr(start)).U64(Ptr(end)), &result);
  if (e != cudaSuccess) return e;
  Decoder d(result.data(), result.size());
  *ms = d.F32();
  return d.ok() ? cudaSuccess : Set(cudaErrorUnknown);
}

// Registration, as nvcc-generated host code performs it at load time. Only the kernels'
// names are kept (for launches and messages); the cpu executor runs no device code.
static void* fatbin_handle_storage[1];
void** __cudaRegisterFatBinary(void* fat_cubin) {
  fatbin_handle_storage[0] = fat_cubin;
  return fatbin_handle_storage;
}
void __cudaRegisterFatBinaryEnd(void**) {}
void __cudaUnregisterFatBinary(void**) {}
void __cudaRegisterFunction(void**, const char* host_fun, char*, const char* device_name, int,
                            uint3*, uint3*, dim3*, dim3*, int*) {
  std::lock_guard<std::mutex> lock(State().mu);
  State().kernels[host_fun] = device_name != nullptr ? device_name : "?";
}
void __cudaRegisterVar(void**, char*, char*, const char*, int, size_t, int, int) {}
void __cudaRegisterManagedVar(void**, void**, char*, const char*, int, size_t, int, int) {}
char __cudaInitModule(void**) { return 1; }

unsigned __cudaPushCallConfiguration(dim3 grid, dim3 block, size_t shared,
                                     struct CUstream_st* stream) {
  launch_stack.push_back(LaunchConfig{grid, block, shared, stream});
  return 0;
}
cudaError_t __cudaPopCallConfiguration(dim3* grid, dim3* block, size_t* shared, void* stream) {
  if (launch_stack.empty()) return Set(cudaErrorInvalidConfiguration);
  const LaunchConfig c = launch_stack.back();
  launch_stack.pop_back();
  *grid = c.grid;
  *block = c.block;
  *shared = c.shared;
  *static_cast<cudaStream_t*>(stream) = c.stream;
  return cudaSuccess;
}

cudaError_t __cudaGetKernel(cudaKernel_t* kernel, const void* host_fun) {
  if (kernel == nullptr) return Set(cudaErrorInvalidValue);
  *kernel = reinterpret_cast<cudaKernel_t>(const_cast<void*>(host_fun));
  return cudaSuccess;
}

cudaError_t cudaLaunchKernel(const void* func, dim3 grid, dim3 block, void**, size_t shared,
                             cudaStream_t stream) {
  Client* c = Need();
  if (c == nullptr) return cudaErrorNoDevice;
  std::string name = "(unregistered kernel)";
  {
    std::lock_guard<std::mutex> lock(State().mu);
    auto it = State().kernels.find(func);
    if (it != State().kernels.end()) name = it->second;
  }
  Encoder e;
  e.Str(name).U32(grid.x).U32(grid.y).U32(grid.z).U32(block.x).U32(block.y).U32(block.z);
  e.U64(shared).U64(StreamId(stream));
  if (c->welcome().executor == "cpu") {
    // Said at once rather than at the next synchronisation: no kernel can run on this server.
    const std::string message =
        "kernel '" + name +
        "' needs a GPU remoting server: the server runs the cpu executor, which runs memory, "
        "stream, event, cuBLAS and cuDNN calls only";
    edgeinfer_remoting_report("cudaLaunchKernel", message.c_str());
    (void)Enq(Op::kLaunchKernel, e);  // the server reports it again at the next sync
    return Set(cudaErrorNotSupported);
  }
  return Enq(Op::kLaunchKernel, e);
}

cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 grid, dim3 block, void** args,
                               size_t shared, cudaStream_t stream) {
  return cudaLaunchKernel(reinterpret_cast<const void*>(kernel), grid, block, args, shared, stream);
}
cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t kernel, dim3 grid, dim3 block, void** args,
                                    size_t shared, cudaStream_t stream) {
  return __cudaLaunchKernel(kernel, grid, block, args, shared, stream);
}

}  // extern "C"

// Executors run the calls of a remoting connection: `cpu` (host memory; cuBLAS and cuDNN calls
// on oneDNN and plain loops) and `gpu` (the server's CUDA stack; only its availability check is
// built so far: it reports a clear error).
#ifndef EDGEINFER_REMOTING_EXECUTOR_H_
#define EDGEINFER_REMOTING_EXECUTOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "edgeinfer/status.h"
#include "remoting/protocol.h"

namespace edgeinfer::remoting {

// Counters of one server, shared by its connections.
struct ExecutorCounters {
  std::atomic<int64_t> live_allocations{0};
  std::atomic<int64_t> live_bytes{0};
  std::atomic<int64_t> live_objects{0};  // streams, events, handles, descriptors
};

// The state of one connection: its allocations, streams, events, handles and descriptors, all
// released by the destructor.
class ExecutorSession {
 public:
  virtual ~ExecutorSession() = default;
  // Runs one call. A synchronous call writes its result to `result`.
  virtual Status Execute(Op op, Decoder& args, Encoder* result) = 0;
  // The host view of the device bytes [ptr, ptr + size), which must lie in one allocation.
  virtual Result<uint8_t*> Resolve(uint64_t ptr, uint64_t size) = 0;
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual std::string name() const = 0;
  virtual std::string device_name() const = 0;
  virtual uint64_t total_memory() const = 0;
  virtual std::unique_ptr<ExecutorSession> NewSession(ExecutorCounters* counters) = 0;
};

struct ExecutorOptions {
  // Device memory one connection may hold (cpu executor: host bytes).
  uint64_t max_connection_bytes = uint64_t{4} << 30;
  // Multiply-adds one GEMM or convolution call may take (cpu executor), so that one call
  // cannot hold a server core for hours.
  double max_call_macs = 1e12;
};

// "cpu", "gpu" or "auto" (gpu when the server has a usable GPU, else cpu). An error that says
// why when the kind is unknown or the gpu executor cannot run here.
Result<std::unique_ptr<Executor>> MakeExecutor(const std::string& kind,
                                               const ExecutorOptions& options = {});

// Why this server cannot run the gpu executor (empty when it can).
std::string GpuUnavailableReason();

}  // namespace edgeinfer::remoting

#endif  // EDGEINFER_REMOTING_EXECUTOR_H_

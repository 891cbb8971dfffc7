// Fuzz target: the remoting server's side of a connection (docs/remoting.md): frame headers
// and their size limits, the hello, kCalls records and every call's arguments on the cpu
// executor, streamed copies. Input: the bytes a client sends. When the first byte is 1 a valid
// hello is sent first, so that mutations reach the calls.
#include <memory>
#include <vector>

#include "fuzz_common.h"
#include "remoting/protocol.h"
#include "remoting/server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeinfer::remoting;
  static Executor* executor = [] {
    ExecutorOptions options;
    options.max_connection_bytes = 1 << 20;
    options.max_call_macs = 1e7;
    return MakeExecutor("cpu", options).value().release();
  }();
  std::vector<uint8_t> stream;
  if (size > 0 && data[0] == 1) {
    const std::vector<uint8_t> hello = EncodeHello(Hello{});
    MemoryStream frame(nullptr, 0);
    (void)WriteFrame(frame, FrameType::kHello, 0, hello.data(), hello.size());
    stream = frame.written();
    ++data;
    --size;
  }
  stream.insert(stream.end(), data, data + size);
  MemoryStream in(stream.data(), stream.size());
  ServerCounters counters;
  ConnectionLimits limits;
  limits.max_pending_copy_bytes = 1 << 20;
  (void)ServeConnection(in, *executor, {}, &counters, limits);
  // Whatever the server answered must parse as frames.
  MemoryStream out(in.written().data(), in.written().size());
  FrameHeader header;
  std::vector<uint8_t> payload;
  while (ReadFrame(out, kMaxFrameBytes, &header, &payload).ok()) {
    if (header.type == FrameType::kReply) (void)DecodeReply(payload.data(), payload.size());
    if (header.type == FrameType::kWelcome) (void)DecodeWelcome(payload.data(), payload.size());
  }
  if (counters.executor.live_bytes != 0) __builtin_trap();  // a session leaked its memory
  return 0;
}

// The client side of the remoting protocol, used by the interposer libraries: one connection
// per process, asynchronous calls queued and sent with the next synchronising call.
#ifndef EDGEINFER_REMOTING_CLIENT_H_
#define EDGEINFER_REMOTING_CLIENT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "edgeinfer/status.h"
#include "remoting/protocol.h"

namespace edgeinfer::remoting {

struct ClientStats {
  int64_t calls = 0;
  int64_t round_trips = 0;
  int64_t frames_out = 0;
  int64_t bytes_out = 0;
  int64_t bytes_in = 0;
};

class Client {
 public:
  // Connects to "HOST:PORT" and performs the handshake with `token`. The error names the
  // address, or carries the server's reason for refusing.
  static Result<std::unique_ptr<Client>> Connect(const std::string& address,
                                                 const std::string& token);
  // Performs the handshake on an already connected stream.
  static Result<std::unique_ptr<Client>> Handshake(std::unique_ptr<Stream> stream,
                                                   const std::string& token);

  const Welcome& welcome() const { return welcome_; }

  // Queues an asynchronous call (sent with the next synchronising call, or earlier when the
  // queue fills a frame).
  Status Enqueue(Op op, const Encoder& args);
  // Queues a host-to-device copy. The bytes are taken now: inline when small, else the queue
  // is sent and the bytes streamed at once (no reply is awaited).
  Status CopyToDevice(uint64_t dst, const void* src, uint64_t size);
  // Queues a device-to-host copy; `dst` is written when the next synchronising call returns.
  Status CopyToHost(void* dst, uint64_t src, uint64_t size);
  // Sends the queue, ending with `op` (kNone: the last queued call is the synchronising one),
  // waits for the reply and writes the pending device-to-host copies. The reply carries the
  // first error of any call since the previous reply. A broken connection is Unavailable.
  Result<Reply> Sync(Op op, const Encoder& args);

  // A fresh id for a stream, event, handle or descriptor (never 0, 1 or 2).
  uint64_t NextId();
  ClientStats stats();

 private:
  explicit Client(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}
  Status SendQueue(uint16_t flags);
  Status Broken();

  std::mutex mu_;
  std::unique_ptr<Stream> stream_;
  Welcome welcome_;
  std::vector<uint8_t> queue_;
  std::vector<std::pair<void*, uint64_t>> copies_;  // pending device-to-host copies
  uint64_t next_id_ = 0x1000;
  bool broken_ = false;
  std::string broken_reason_;
  ClientStats stats_;
};

}  // namespace edgeinfer::remoting

#endif  // EDGEINFER_REMOTING_CLIENT_H_

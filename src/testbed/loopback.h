// Loopback TCP helpers for tests and benchmarks of the link emulator: a client connection, a
// blocking send of a whole buffer, a server that runs a handler per accepted connection, and
// the echo handler. Loopback only (127.0.0.1): nothing here reaches another machine.
#ifndef EDGEINFER_TESTBED_LOOPBACK_H_
#define EDGEINFER_TESTBED_LOOPBACK_H_

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgeinfer::testbed {

// A TCP connection to 127.0.0.1:port with TCP_NODELAY; -1 when it is refused.
int ConnectTo(int port);

// Sends all `n` bytes (blocking, no SIGPIPE); false when the peer is gone.
bool SendAll(int fd, const char* data, size_t n);

// Echoes until EOF, then half-closes: a client sees EOF only if FINs cross the relay between.
void EchoUntilEof(int fd);

// Listens on an ephemeral loopback port; each accepted connection runs `handler(fd)` on its own
// thread. The destructor stops accepting, shuts every connection down (waking blocked handlers),
// joins the handlers and closes the sockets. Not copyable.
class LoopbackServer {
 public:
  using Handler = std::function<void(int fd)>;
  explicit LoopbackServer(Handler handler);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  // False when the socket could not be bound or listened on; port() is 0 then.
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  const Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;              // guarded by mu_
  std::vector<std::thread> workers_;  // guarded by mu_
};

}  // namespace edgeinfer::testbed

#endif  // EDGEINFER_TESTBED_LOOPBACK_H_

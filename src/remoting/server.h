// The remoting server (`edgeinfer serve --remoting HOST:PORT`): accepts interposer
// connections, checks their token, and runs their calls on an executor, one thread and one
// executor session per connection. A connection's allocations, streams, events, handles and
// descriptors are freed when it drops.
#ifndef EDGEINFER_REMOTING_SERVER_H_
#define EDGEINFER_REMOTING_SERVER_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "edgeinfer/status.h"
#include "remoting/executor.h"
#include "remoting/protocol.h"

namespace edgeinfer::remoting {

struct RemotingServerOptions {
  std::string address = "0.0.0.0:9400";  // port 0 picks a free port
  // Accepted tokens; empty: no token needed.
  std::set<std::string> tokens;
  std::string executor = "auto";  // gpu | cpu | auto
  ExecutorOptions executor_options;
  int max_connections = 64;
};

struct RemotingCounters {
  int64_t connections_accepted = 0;
  int64_t connections_open = 0;
  int64_t handshakes_refused = 0;
  int64_t protocol_errors = 0;
  int64_t calls = 0;
  int64_t round_trips = 0;  // kReply frames sent: the clients' synchronising calls
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  int64_t live_allocations = 0;
  int64_t live_bytes = 0;
  int64_t live_objects = 0;
};

// The shared counters behind RemotingCounters.
struct ServerCounters {
  std::atomic<int64_t> connections_accepted{0}, connections_open{0}, handshakes_refused{0},
      protocol_errors{0}, calls{0}, round_trips{0}, bytes_in{0}, bytes_out{0};
  ExecutorCounters executor;
  RemotingCounters Snapshot() const;
};

struct ConnectionLimits {
  // Bytes of device-to-host copies a connection may have pending (copied aside, sent with the
  // next reply); a client that asks for more breaks the protocol and is disconnected.
  uint64_t max_pending_copy_bytes = uint64_t{1} << 30;
};

// Serves one connection on `stream` until it closes or breaks the protocol: the handshake,
// then kCalls frames. Used by the server's connection threads and by the fuzz target.
// Returns why the connection ended (OK when the client closed it cleanly).
Status ServeConnection(Stream& stream, Executor& executor, const std::set<std::string>& tokens,
                       ServerCounters* counters, const ConnectionLimits& limits = {});

class RemotingServer {
 public:
  RemotingServer() = default;
  ~RemotingServer();
  RemotingServer(const RemotingServer&) = delete;
  RemotingServer& operator=(const RemotingServer&) = delete;

  // Creates the executor, listens and starts accepting. Errors name the address or executor.
  Status Start(const RemotingServerOptions& options);
  // Closes the listener and every connection, and waits for their threads.
  void Shutdown();
  int port() const { return port_; }
  const std::string& executor_name() const { return executor_name_; }
  RemotingCounters counters() const { return counters_.Snapshot(); }

 private:
  struct Connection {
    std::unique_ptr<SocketStream> stream;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void AcceptLoop();
  void ReapFinished();

  RemotingServerOptions options_;
  std::unique_ptr<Executor> executor_;
  std::string executor_name_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::list<Connection> connections_;
  ServerCounters counters_;
};

}  // namespace edgeinfer::remoting

#endif  // EDGEINFER_REMOTING_SERVER_H_

#include "remoting/server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/sha256.h"

namespace edgeinfer::remoting {

namespace {

bool TokenMatches(const std::set<std::string>& tokens, const std::string& presented) {
  if (tokens.empty()) return true;
  // Constant-time in the contents and lengths: compare SHA-256 digests in full.
  const std::string p = Sha256Hex(presented);
  bool found = false;
  for (const std::string& t : tokens) {
    const std::string d = Sha256Hex(t);
    unsigned char diff = 0;
    for (size_t i = 0; i < d.size(); ++i) diff |= static_cast<unsigned char>(d[i] ^ p[i]);
    found = (diff == 0) || found;
  }
  return found;
}

// A device-to-host copy waiting for the next reply: a snapshot, a direct view (the last call
// of a synchronising frame, nothing can change it before it is sent) or zeros (failed copy).
struct PendingCopy {
  std::vector<uint8_t> snapshot;
  const uint8_t* direct = nullptr;
  uint64_t size = 0;
};

class Connection {
 public:
  Connection(Stream& s, ExecutorSession& session, ServerCounters* counters, uint64_t max_copy_bytes,
             const ConnectionLimits& limits)
      : s_(s),
        session_(session),
        counters_(counters),
        max_copy_bytes_(max_copy_bytes),
        limits_(limits) {}

  Status Run() {
    std::vector<uint8_t> payload;
    std::vector<uint8_t> chunk;
    while (true) {
      FrameHeader h;
      Status st = ReadFrame(s_, kMaxFrameBytes, &h, &payload);
      if (!st.ok()) {
        // A clean close between frames is how a client says goodbye.
        return st.code() == StatusCode::kUnavailable ? Status::Ok() : st;
      }
      counters_->bytes_in += static_cast<int64_t>(kFrameHeaderBytes + h.size);
      if (h.type != FrameType::kCalls) {
        return Status::InvalidArgument("unexpected remoting frame type " +
                                       std::to_string(static_cast<int>(h.type)) +
                                       " where calls were expected");
      }
      EI_ASSIGN_OR_RETURN(std::vector<CallRecord> records,
                          SplitCalls(payload.data(), payload.size()));
      const bool sync = (h.flags & kFlagSync) != 0;
      Encoder result;
      for (size_t i = 0; i < records.size(); ++i) {
        const CallRecord& r = records[i];
        const bool last = i + 1 == records.size();
        ++counters_->calls;
        result.Clear();
        Decoder args(r.args, r.size);
        if (r.op == Op::kMemcpyHtoD) {
          EI_RETURN_IF_ERROR(HostToDevice(args, last, &chunk));
        } else if (r.op == Op::kMemcpyDtoH) {
          EI_RETURN_IF_ERROR(DeviceToHost(args, sync && last));
        } else {
          Note(r.op, session_.Execute(r.op, args, &result));
        }
      }
      if (sync) EI_RETURN_IF_ERROR(SendReply(result));
    }
  }

 private:
  void Note(Op op, const Status& st) {
    if (st.ok() || !first_error_.ok()) return;
    first_error_ = st;
    failed_op_ = op;
  }

  Status HostToDevice(Decoder& args, bool last, std::vector<uint8_t>* chunk) {
    const uint64_t dst = args.U64(), size = args.U64();
    const uint8_t inline_data = args.U8();
    if (!args.ok()) return Status::InvalidArgument("truncated MemcpyHtoD call");
    if (inline_data) {
      if (args.remaining() != size) {
        return Status::InvalidArgument("MemcpyHtoD carries " + std::to_string(args.remaining()) +
                                       " bytes, declares " + std::to_string(size));
      }
      const uint8_t* src = args.Bytes(size);
      Result<uint8_t*> d = session_.Resolve(dst, size);
      if (!d.ok()) {
        Note(Op::kMemcpyHtoD, d.status());
      } else if (size > 0) {
        std::memcpy(*d, src, size);
      }
      return Status::Ok();
    }
    // Streamed: the data follows as kData frames; this call ends its frame.
    if (!last) return Status::InvalidArgument("a streamed MemcpyHtoD must end its calls frame");
    Result<uint8_t*> d = session_.Resolve(dst, size);
    if (!d.ok()) Note(Op::kMemcpyHtoD, d.status());
    uint64_t done = 0;
    while (done < size) {
      FrameHeader h;
      EI_RETURN_IF_ERROR(ReadFrameHeader(s_, kMaxFrameBytes, &h));
      if (h.type != FrameType::kData || h.size == 0 || h.size > size - done) {
        return Status::InvalidArgument("bad data frame inside a streamed MemcpyHtoD");
      }
      counters_->bytes_in += static_cast<int64_t>(kFrameHeaderBytes + h.size);
      uint8_t* into = nullptr;
      if (d.ok()) {
        into = *d + done;
      } else {
        chunk->resize(h.size);
        into = chunk->data();
      }
      if (!s_.ReadFull(into, h.size)) return Status::Unavailable("connection lost in a copy");
      done += h.size;
    }
    return Status::Ok();
  }

  Status DeviceToHost(Decoder& args, bool direct) {
    const uint64_t src = args.U64(), size = args.U64();
    if (!args.ok() || args.remaining() != 0) {
      return Status::InvalidArgument("malformed MemcpyDtoH call");
    }
    // A valid copy lies inside one allocation; a failed one is answered with as many zeros,
    // so both are bounded before anything is copied or promised.
    if (size > max_copy_bytes_) {
      return Status::InvalidArgument("MemcpyDtoH of " + std::to_string(size) +
                                     " bytes exceeds the connection's device memory");
    }
    if (!direct && (pending_bytes_ > limits_.max_pending_copy_bytes ||
                    size > limits_.max_pending_copy_bytes - pending_bytes_)) {
      return Status::ResourceExhausted(
          "more than " + std::to_string(limits_.max_pending_copy_bytes) +
          " bytes of device-to-host copies pending without a synchronisation");
    }
    PendingCopy copy;
    copy.size = size;
    Result<uint8_t*> s = session_.Resolve(src, size);
    if (!s.ok()) {
      Note(Op::kMemcpyDtoH, s.status());
    } else if (direct) {
      copy.direct = *s;
    } else if (size > 0) {
      copy.snapshot.assign(*s, *s + size);
    }
    pending_bytes_ += size;
    pending_.push_back(std::move(copy));
    return Status::Ok();
  }

  Status SendReply(const Encoder& result) {
    Reply reply;
    reply.code = first_error_.code();
    reply.failed_op = first_error_.ok() ? Op::kNone : failed_op_;
    reply.message = first_error_.message();
    reply.result = result.bytes();
    reply.data_bytes = pending_bytes_;
    const std::vector<uint8_t> bytes = EncodeReply(reply);
    // Counted before the client can see the reply, so its view of the counters is current.
    ++counters_->round_trips;
    counters_->bytes_out += static_cast<int64_t>(kFrameHeaderBytes + bytes.size());
    EI_RETURN_IF_ERROR(WriteFrame(s_, FrameType::kReply, 0, bytes.data(), bytes.size()));
    std::vector<uint8_t> zeros;
    for (const PendingCopy& c : pending_) {
      const uint8_t* from = c.direct != nullptr   ? c.direct
                            : !c.snapshot.empty() ? c.snapshot.data()
                                                  : nullptr;
      for (uint64_t at = 0; at < c.size; at += kChunkBytes) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, c.size - at));
        const uint8_t* p = from;
        if (p == nullptr) {
          zeros.assign(n, 0);
          p = zeros.data();
        } else {
          p += at;
        }
        EI_RETURN_IF_ERROR(WriteFrame(s_, FrameType::kData, 0, p, n));
        counters_->bytes_out += static_cast<int64_t>(kFrameHeaderBytes + n);
      }
    }
    pending_.clear();
    pending_bytes_ = 0;
    first_error_ = Status::Ok();
    failed_op_ = Op::kNone;
    return Status::Ok();
  }

  Stream& s_;
  ExecutorSession& session_;
  ServerCounters* counters_;
  Status first_error_;
  Op failed_op_ = Op::kNone;
  uint64_t max_copy_bytes_;
  ConnectionLimits limits_;
  std::vector<PendingCopy> pending_;
  uint64_t pending_bytes_ = 0;
};

Status SendWelcome(Stream& s, const Welcome& w, ServerCounters* counters) {
  const std::vector<uint8_t> bytes = EncodeWelcome(w);
  counters->bytes_out += static_cast<int64_t>(kFrameHeaderBytes + bytes.size());
  return WriteFrame(s, FrameType::kWelcome, 0, bytes.data(), bytes.size());
}

}  // namespace

RemotingCounters ServerCounters::Snapshot() const {
  RemotingCounters c;
  c.connections_accepted = connections_accepted;
  c.connections_open = connections_open;
  c.handshakes_refused = handshakes_refused;
  c.protocol_errors = protocol_errors;
  c.calls = calls;
  c.round_trips = round_trips;
  c.bytes_in = bytes_in;
  c.bytes_out = bytes_out;
  c.live_allocations = executor.live_allocations;
  c.live_bytes = executor.live_bytes;
  c.live_objects = executor.live_objects;
  return c;
}

Status ServeConnection(Stream& stream, Executor& executor, const std::set<std::string>& tokens,
                       ServerCounters* counters, const ConnectionLimits& limits) {
  FrameHeader h;
  std::vector<uint8_t> payload;
  Status st = ReadFrame(stream, kMaxHelloBytes, &h, &payload);
  if (st.ok() && h.type != FrameType::kHello) {
    st = Status::InvalidArgument("the first remoting frame must be a hello");
  }
  if (!st.ok()) {
    ++counters->handshakes_refused;
    return st;
  }
  counters->bytes_in += static_cast<int64_t>(kFrameHeaderBytes + h.size);
  Welcome welcome;
  welcome.executor = executor.name();
  welcome.device_name = executor.device_name();
  welcome.total_memory = executor.total_memory();
  Result<Hello> hello = DecodeHello(payload.data(), payload.size());
  if (!hello.ok()) {
    welcome.code = hello.status().code();
    welcome.message = hello.status().message();
  } else if (hello->version != kProtocolVersion) {
    welcome.code = StatusCode::kFailedPrecondition;
    welcome.message = "remoting protocol version " + std::to_string(hello->version) +
                      " is not supported (server speaks " + std::to_string(kProtocolVersion) + ")";
  } else if (!TokenMatches(tokens, hello->token)) {
    welcome.code = StatusCode::kUnauthenticated;
    welcome.message = "the remoting token is not accepted by this server";
  }
  if (welcome.code != StatusCode::kOk) {
    ++counters->handshakes_refused;
    (void)SendWelcome(stream, welcome, counters);
    return Status(welcome.code, welcome.message);
  }
  EI_RETURN_IF_ERROR(SendWelcome(stream, welcome, counters));
  std::unique_ptr<ExecutorSession> session = executor.NewSession(&counters->executor);
  Connection connection(stream, *session, counters, executor.total_memory(), limits);
  st = connection.Run();
  if (!st.ok() && st.code() != StatusCode::kUnavailable) ++counters->protocol_errors;
  return st;
}

RemotingServer::~RemotingServer() { Shutdown(); }

Status RemotingServer::Start(const RemotingServerOptions& options) {
  options_ = options;
  EI_ASSIGN_OR_RETURN(executor_, MakeExecutor(options.executor, options.executor_options));
  executor_name_ = executor_->name();
  std::string host;
  int port = 0;
  EI_RETURN_IF_ERROR(SplitHostPort(options.address, &host, &port));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints,
                    &found) != 0 ||
      found == nullptr) {
    return Status::Unavailable("cannot resolve remoting address '" + options.address + "'");
  }
  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  const int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || ::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::freeaddrinfo(found);
    return Status::Unavailable("cannot listen for remoting on '" + options.address + "': " + why);
  }
  ::freeaddrinfo(found);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  stopping_ = false;
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return Status::Ok();
}

void RemotingServer::AcceptLoop() {
  while (!stopping_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) ::usleep(10000);
        continue;
      }
      return;
    }
    ReapFinished();
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || counters_.connections_open >= options_.max_connections) {
      ::close(fd);
      continue;
    }
    ++counters_.connections_accepted;
    ++counters_.connections_open;
    connections_.emplace_back();
    Connection& c = connections_.back();
    c.stream = std::make_unique<SocketStream>(fd);
    c.thread = std::thread([this, &c] {
      (void)ServeConnection(*c.stream, *executor_, options_.tokens, &counters_);
      c.stream->Shutdown();
      --counters_.connections_open;
      c.done = true;
    });
  }
}

void RemotingServer::ReapFinished() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->done) {
      it->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void RemotingServer::Shutdown() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  std::list<Connection> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Connection& c : connections_) c.stream->Shutdown();
    connections.splice(connections.begin(), connections_);
  }
  for (Connection& c : connections) c.thread.join();
}

}  // namespace edgeinfer::remoting

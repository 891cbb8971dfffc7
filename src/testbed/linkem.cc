// LinkEmulator: one I/O thread, poll() over the listener, a wake-up eventfd and both sockets of
// every relayed connection. Each loop: apply the rate trace, pass queued chunks through the two
// token buckets into the delay lines, write released chunks, then sleep in ppoll() until a socket
// is ready, the next chunk is due, the bucket refills or the trace steps.
#include "testbed/linkem.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace edgeinfer::net {

namespace {

using TimePoint = Clock::TimePoint;

// Largest unit the bucket passes at once: 16 KiB is ~26 ms at 5 Mbit/s, smooth enough for
// transfers of a few hundred ms, and big enough that 1 Gbit/s needs only ~8k wake-ups a second.
constexpr size_t kChunkBytes = 16 * 1024;
// Read-ahead per direction of a connection before the bucket: beyond it the relay stops reading
// and TCP flow control pushes back on the sender, as a full router queue would.
constexpr int64_t kPendingCapBytes = 64 * 1024;
// Delay-line capacity when the rate is unlimited (bounds memory when a receiver stalls).
constexpr int64_t kUnlimitedFlightBytes = 16 * 1024 * 1024;

Clock::Duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(s));
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

struct Chunk {
  std::string data;
  size_t offset = 0;  // bytes already written
  TimePoint release;
  bool fin = false;  // end of stream: shutdown(dst, SHUT_WR) when released
};

// One direction of one connection.
struct Pipe {
  int src = -1;  // borrowed from the Conn
  int dst = -1;
  std::deque<Chunk> pending;  // read, waiting for the bucket
  int64_t pending_bytes = 0;
  std::deque<Chunk> flight;  // past the bucket: in the delay line or being written
  int64_t flight_bytes = 0;
  TimePoint last_release;   // keeps the delay line FIFO across rate changes
  bool src_eof = false;     // the source sent FIN
  bool fin_queued = false;  // the FIN entered the delay line
  bool done = false;        // the FIN was forwarded
  bool want_write = false;  // the last send would block: wait for POLLOUT
};

struct Conn {
  int client = -1;
  int upstream = -1;
  bool connecting = true;
  bool failed = false;  // close both sockets now
  Pipe up;              // client -> upstream
  Pipe down;            // upstream -> client
};

struct Bucket {
  TokenBucket tokens;
  size_t cursor = 0;  // round robin over connections
};

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Splits "HOST:PORT" or "[V6]:PORT"; an empty host means any address.
Status SplitHostPort(const std::string& text, const char* what, std::string* host,
                     std::string* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return Status::InvalidArgument(std::string(what) + " '" + text + "' is not HOST:PORT");
  }
  *host = text.substr(0, colon);
  *port = text.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  for (char c : *port) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument(std::string(what) + " '" + text + "': bad port");
    }
  }
  return Status::Ok();
}

Result<sockaddr_storage> Resolve(const std::string& text, const char* what, bool passive,
                                 socklen_t* length) {
  std::string host, port;
  EI_RETURN_IF_ERROR(SplitHostPort(text, what, &host, &port));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Status::InvalidArgument(std::string(what) + " '" + text +
                                   "': cannot resolve: " + gai_strerror(rc));
  }
  sockaddr_storage address{};
  std::memcpy(&address, found->ai_addr, found->ai_addrlen);
  *length = found->ai_addrlen;
  freeaddrinfo(found);
  return address;
}

}  // namespace

RateSchedule::RateSchedule(const LinkOptions& options, Clock::TimePoint start)
    : options_(options),
      start_(start),
      trace_active_(!options.trace.empty()),
      fixed_rate_bps_(options.rate_bps) {}

double RateSchedule::RateAt(TimePoint now, std::optional<TimePoint>* next_change) const {
  if (next_change != nullptr) *next_change = std::nullopt;
  if (!trace_active_) return fixed_rate_bps_;
  const auto& trace = options_.trace;
  double t = std::chrono::duration<double>(now - start_).count();
  double cycle_start = 0.0;
  if (options_.trace_period_s > 0) {
    cycle_start = std::floor(t / options_.trace_period_s) * options_.trace_period_s;
    t -= cycle_start;
  }
  double rate = options_.rate_bps;
  size_t next = 0;
  while (next < trace.size() && trace[next].time_s <= t) rate = trace[next++].rate_bps;
  double next_s;
  if (next < trace.size()) {
    next_s = cycle_start + trace[next].time_s;
  } else if (options_.trace_period_s > 0) {
    next_s = cycle_start + options_.trace_period_s;
  } else {
    return rate;
  }
  if (next_change != nullptr) *next_change = start_ + Seconds(next_s);
  return rate;
}

void RateSchedule::SetRate(double rate_bps) {
  trace_active_ = false;
  fixed_rate_bps_ = std::max(0.0, rate_bps);
}

int64_t TokenBucket::Burst(int64_t burst_option, double rate_bps) {
  if (burst_option > 0) return burst_option;
  return std::max<int64_t>(16 * 1024, static_cast<int64_t>(rate_bps / 8.0 * 0.010));
}

TokenBucket::TokenBucket(int64_t burst_option, double rate_bps, TimePoint start)
    : burst_option_(burst_option),
      tokens_(static_cast<double>(Burst(burst_option, rate_bps))),
      last_(start) {}

void TokenBucket::Refill(TimePoint now, double rate_bps) {
  const double burst = static_cast<double>(Burst(burst_option_, rate_bps));
  if (rate_bps > 0) {
    tokens_ += std::chrono::duration<double>(now - last_).count() * (rate_bps / 8.0);
    tokens_ = std::min(tokens_, burst);
  } else {
    tokens_ = burst;
  }
  last_ = now;
}

TimePoint TokenBucket::Pass(int64_t bytes, TimePoint now, double rate_bps) {
  if (rate_bps <= 0) return now;
  const double bytes_per_s = rate_bps / 8.0;
  TimePoint sent = now;
  if (tokens_ < static_cast<double>(bytes)) {
    sent += Seconds((static_cast<double>(bytes) - tokens_) / bytes_per_s);
  }
  tokens_ -= static_cast<double>(bytes);
  return sent;
}

TimePoint TokenBucket::NextPass(TimePoint now, double rate_bps) const {
  if (CanPass(rate_bps)) return now;
  return now + Seconds(-tokens_ / (rate_bps / 8.0)) + std::chrono::microseconds(20);
}

class LinkEmulator::Impl {
 public:
  ~Impl() { Stop(); }

  Status Init(const LinkOptions& options, int* port) {
    options_ = options;
    if (!(options.rate_bps >= 0) || !std::isfinite(options.rate_bps)) {
      return Status::InvalidArgument("linkem: rate must be >= 0 bits/s");
    }
    if (!(options.delay_ms >= 0) || !std::isfinite(options.delay_ms)) {
      return Status::InvalidArgument("linkem: delay must be >= 0 ms");
    }
    if (options.burst_bytes < 0) return Status::InvalidArgument("linkem: burst must be >= 0");
    for (size_t i = 0; i < options.trace.size(); ++i) {
      const RateStep& s = options.trace[i];
      if (!(s.time_s >= 0) || !(s.rate_bps >= 0) || !std::isfinite(s.rate_bps) ||
          (i > 0 && !(s.time_s > options.trace[i - 1].time_s))) {
        return Status::InvalidArgument("linkem: trace step " + std::to_string(i + 1) +
                                       ": times must be >= 0 and increasing, rates >= 0");
      }
    }
    if (options.trace_period_s < 0 || (options.trace_period_s > 0 && !options.trace.empty() &&
                                       options.trace_period_s <= options.trace.back().time_s)) {
      return Status::InvalidArgument(
          "linkem: trace period must be 0 (hold the last rate) or after the last step");
    }
    socklen_t upstream_length = 0;
    EI_ASSIGN_OR_RETURN(upstream_, Resolve(options.to, "--to", false, &upstream_length));
    upstream_length_ = upstream_length;
    socklen_t listen_length = 0;
    EI_ASSIGN_OR_RETURN(sockaddr_storage listen_address,
                        Resolve(options.listen, "--listen", true, &listen_length));

    listener_ = socket(listen_address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener_ < 0) return Status::Unavailable(Errno("linkem: socket"));
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(listener_, reinterpret_cast<sockaddr*>(&listen_address), listen_length) != 0) {
      return Status::Unavailable(Errno(("linkem: bind " + options.listen).c_str()));
    }
    if (listen(listener_, 512) != 0) return Status::Unavailable(Errno("linkem: listen"));
    sockaddr_storage bound{};
    socklen_t bound_length = sizeof(bound);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &bound_length);
    *port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) return Status::Unavailable(Errno("linkem: eventfd"));

    clock_ = options.clock != nullptr ? options.clock : RealClock();
    real_time_ = clock_ == RealClock();
    const TimePoint start = clock_->Now();
    schedule_.emplace(options, start);
    ApplyTrace(start);
    for (auto& b : buckets_) b.emplace(Bucket{TokenBucket(options.burst_bytes, rate_bps_, start)});
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  void Stop() {
    if (thread_.joinable()) {
      stop_ = true;
      Wake();
      thread_.join();
    }
    for (auto& c : conns_) CloseConn(*c);
    conns_.clear();
    if (listener_ >= 0) close(listener_);
    if (wake_ >= 0) close(wake_);
    listener_ = wake_ = -1;
  }

  void SetRate(double rate_bps) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      schedule_->SetRate(rate_bps);
      rate_bps_ = schedule_->RateAt(clock_->Now());
    }
    Wake();
  }

  double rate_bps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return rate_bps_;
  }

  void SetStalled(bool stalled) {
    stalled_ = stalled;
    Wake();
  }

  LinkStats stats() const {
    LinkStats s;
    s.bytes_up = bytes_up_.load();
    s.bytes_down = bytes_down_.load();
    s.bytes_read_up = bytes_read_[0].load();
    s.bytes_read_down = bytes_read_[1].load();
    s.connections_accepted = accepted_.load();
    s.connections_open = open_.load();
    s.connections_failed = failed_.load();
    return s;
  }

  void Wake() {
    const uint64_t one = 1;
    if (wake_ >= 0) (void)!write(wake_, &one, sizeof(one));
  }

 private:
  // Sets rate_bps_ from the schedule at `now`; returns when it next changes (nullopt: never).
  std::optional<TimePoint> ApplyTrace(TimePoint now) {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<TimePoint> next;
    rate_bps_ = schedule_->RateAt(now, &next);
    return next;
  }

  void CloseConn(Conn& c) {
    if (c.client >= 0) close(c.client);
    if (c.upstream >= 0) close(c.upstream);
    c.client = c.upstream = -1;
  }

  void Accept(TimePoint now) {
    if (now < accept_paused_until_) return;
    while (true) {
      const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors: the listener stays readable, so back off instead of spinning.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          accept_paused_until_ = now + std::chrono::milliseconds(100);
        }
        return;
      }
      ++accepted_;
      SetNoDelay(fd);
      auto c = std::make_unique<Conn>();
      c->client = fd;
      c->upstream = socket(upstream_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->upstream < 0 ||
          (connect(c->upstream, reinterpret_cast<sockaddr*>(&upstream_), upstream_length_) != 0 &&
           errno != EINPROGRESS)) {
        ++failed_;
        CloseConn(*c);
        continue;
      }
      c->up.src = c->down.dst = c->client;
      c->up.dst = c->down.src = c->upstream;
      ++open_;
      conns_.push_back(std::move(c));
    }
  }

  void FinishConnect(Conn& c) {
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(c.upstream, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error == EINPROGRESS || error == EALREADY) return;
    if (error != 0) {
      ++failed_;
      c.failed = true;  // the client sees EOF
      return;
    }
    c.connecting = false;
    SetNoDelay(c.upstream);
  }

  void Read(Conn& c, Pipe& p) {
    char buffer[kChunkBytes];
    while (p.pending_bytes < kPendingCapBytes && !p.src_eof) {
      const ssize_t n = recv(p.src, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) {
        size_t used = 0;
        while (used < static_cast<size_t>(n)) {
          if (p.pending.empty() || p.pending.back().data.size() >= kChunkBytes) {
            p.pending.emplace_back();
          }
          std::string& back = p.pending.back().data;
          const size_t take = std::min(kChunkBytes - back.size(), static_cast<size_t>(n) - used);
          back.append(buffer + used, take);
          used += take;
        }
        p.pending_bytes += n;
        bytes_read_[&p == &c.up ? 0 : 1] += n;
      } else if (n == 0) {
        p.src_eof = true;
      } else {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.failed = true;  // reset: drop both sides
        return;
      }
    }
  }

  // Capacity of a pipe's delay line: what the link holds in flight plus slack; beyond it the
  // receiver is not reading and the bucket skips this pipe.
  int64_t FlightCap(double rate_bps, int64_t burst) const {
    if (rate_bps <= 0) return kUnlimitedFlightBytes;
    return static_cast<int64_t>(rate_bps / 8.0 * options_.delay_ms / 1000.0) + burst +
           kPendingCapBytes;
  }

  // Moves pending chunks of direction `dir` through its bucket into the delay lines. Returns when
  // the bucket next has tokens if some pipe is still waiting for them.
  std::optional<TimePoint> ServeBucket(int dir, TimePoint now, double rate_bps) {
    if (stalled_) return std::nullopt;  // bytes wait in `pending` until the link resumes
    Bucket& b = *buckets_[dir];
    const int64_t burst = TokenBucket::Burst(options_.burst_bytes, rate_bps);
    const int64_t flight_cap = FlightCap(rate_bps, burst);
    const Clock::Duration delay = Seconds(options_.delay_ms / 1000.0);
    b.tokens.Refill(now, rate_bps);
    bool waiting = false;
    const size_t n = conns_.size();
    // Round robin: one chunk per connection per round while tokens last.
    while (n > 0) {
      bool passed = false;
      for (size_t k = 0; k < n; ++k) {
        const size_t i = (b.cursor + k) % n;
        Conn& c = *conns_[i];
        Pipe& p = dir == 0 ? c.up : c.down;
        if (c.failed || p.pending.empty() || p.flight_bytes >= flight_cap) continue;
        if (!b.tokens.CanPass(rate_bps)) {
          waiting = true;
          break;
        }
        Chunk chunk = std::move(p.pending.front());
        p.pending.pop_front();
        const auto size = static_cast<int64_t>(chunk.data.size());
        p.pending_bytes -= size;
        const TimePoint sent = b.tokens.Pass(size, now, rate_bps);
        chunk.release = std::max(sent + delay, p.last_release);
        p.last_release = chunk.release;
        p.flight_bytes += size;
        p.flight.push_back(std::move(chunk));
        b.cursor = (i + 1) % n;
        passed = true;
      }
      if (!passed || waiting) break;
    }
    // A FIN follows the last byte through the delay line; it costs no tokens.
    for (auto& c : conns_) {
      Pipe& p = dir == 0 ? c->up : c->down;
      if (p.src_eof && p.pending.empty() && !p.fin_queued) {
        Chunk fin;
        fin.fin = true;
        fin.release = std::max(now + delay, p.last_release);
        p.last_release = fin.release;
        p.flight.push_back(std::move(fin));
        p.fin_queued = true;
      }
    }
    if (!waiting) return std::nullopt;
    return b.tokens.NextPass(now, rate_bps);
  }

  // Writes released chunks; returns when the next one is due (nullopt: none or blocked).
  std::optional<TimePoint> Flush(Conn& c, Pipe& p, bool up, TimePoint now) {
    if (stalled_) return std::nullopt;
    while (!p.flight.empty() && !p.want_write && !c.failed) {
      Chunk& front = p.flight.front();
      if (front.release > now) return front.release;
      if (front.fin) {
        shutdown(p.dst, SHUT_WR);
        p.done = true;
        p.flight.pop_front();
        continue;
      }
      const ssize_t n = send(p.dst, front.data.data() + front.offset,
                             front.data.size() - front.offset, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          p.want_write = true;
        } else {
          c.failed = true;  // the receiver is gone
        }
        break;
      }
      front.offset += static_cast<size_t>(n);
      (up ? bytes_up_ : bytes_down_) += n;
      if (front.offset == front.data.size()) {
        p.flight_bytes -= static_cast<int64_t>(front.data.size());
        p.flight.pop_front();
      }
    }
    return std::nullopt;
  }

  void Loop() {
    std::vector<pollfd> fds;
    while (!stop_) {
      TimePoint now = clock_->Now();
      std::optional<TimePoint> deadline = ApplyTrace(now);
      auto earliest = [&deadline](std::optional<TimePoint> t) {
        if (t && (!deadline || *t < *deadline)) deadline = t;
      };
      const double rate = rate_bps();
      for (int dir = 0; dir < 2; ++dir) earliest(ServeBucket(dir, now, rate));
      for (auto& c : conns_) {
        if (c->connecting) continue;
        earliest(Flush(*c, c->up, true, now));
        earliest(Flush(*c, c->down, false, now));
      }
      // Closed connections leave; a FIN or failure may have unblocked nothing else, so no
      // re-serve is needed before sleeping.
      for (auto& c : conns_) {
        if (c->failed || (c->up.done && c->down.done)) {
          CloseConn(*c);
          --open_;
        }
      }
      conns_.erase(std::remove_if(conns_.begin(), conns_.end(),
                                  [](const std::unique_ptr<Conn>& c) { return c->client < 0; }),
                   conns_.end());

      // Only sockets with something wanted are polled (fd -1 otherwise): POLLHUP is reported even
      // for zero events and would wake the loop forever.
      fds.assign(2 + 2 * conns_.size(), pollfd{-1, 0, 0});
      fds[0] = {wake_, POLLIN, 0};
      if (now >= accept_paused_until_) {
        fds[1] = {listener_, POLLIN, 0};
      } else {
        earliest(accept_paused_until_);
      }
      for (size_t i = 0; i < conns_.size(); ++i) {
        Conn& c = *conns_[i];
        short client_events = 0, upstream_events = 0;
        if (!c.up.src_eof && c.up.pending_bytes < kPendingCapBytes) client_events |= POLLIN;
        if (c.down.want_write) client_events |= POLLOUT;
        if (c.connecting) {
          upstream_events = POLLOUT;
        } else {
          if (!c.down.src_eof && c.down.pending_bytes < kPendingCapBytes) upstream_events |= POLLIN;
          if (c.up.want_write) upstream_events |= POLLOUT;
        }
        if (client_events) fds[2 + 2 * i] = {c.client, client_events, 0};
        if (upstream_events) fds[3 + 2 * i] = {c.upstream, upstream_events, 0};
      }
      timespec timeout{};
      timespec* timeout_ptr = nullptr;
      // A clock other than the real one moves only when its owner says so (and calls Wake()), so
      // its deadlines are not slept for in real time.
      if (deadline && real_time_) {
        const auto wait = std::max(Clock::Duration::zero(), *deadline - clock_->Now());
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
        timeout.tv_sec = static_cast<time_t>(ns / 1000000000);
        timeout.tv_nsec = static_cast<long>(ns % 1000000000);
        timeout_ptr = &timeout;
      }
      const int ready = ppoll(fds.data(), fds.size(), timeout_ptr, nullptr);
      if (ready <= 0) continue;
      if (fds[0].revents) {
        uint64_t count;
        (void)!read(wake_, &count, sizeof(count));
      }
      now = clock_->Now();
      const size_t polled = conns_.size();  // Accept appends; new ones are polled next round
      for (size_t i = 0; i < polled; ++i) {
        Conn& c = *conns_[i];
        const short cr = fds[2 + 2 * i].revents;
        const short ur = fds[3 + 2 * i].revents;
        if (c.connecting) {
          if (ur) FinishConnect(c);
        } else {
          if (ur & POLLOUT) c.up.want_write = false;
          if ((ur & (POLLERR | POLLHUP)) && c.up.want_write) c.up.want_write = false;
          if ((ur & (POLLIN | POLLERR | POLLHUP)) && (fds[3 + 2 * i].events & POLLIN)) {
            Read(c, c.down);
          }
        }
        if (cr & (POLLOUT | POLLERR | POLLHUP)) c.down.want_write = false;
        if ((cr & (POLLIN | POLLERR | POLLHUP)) && (fds[2 + 2 * i].events & POLLIN)) {
          Read(c, c.up);
        }
      }
      if (fds[1].revents) Accept(now);
    }
  }

  LinkOptions options_;
  sockaddr_storage upstream_{};
  socklen_t upstream_length_ = 0;
  int listener_ = -1;
  int wake_ = -1;
  const Clock* clock_ = nullptr;
  bool real_time_ = true;  // clock_ is RealClock(): sleep until deadlines
  TimePoint accept_paused_until_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> stalled_{false};  // forward nothing in either direction

  mutable std::mutex mu_;
  std::optional<RateSchedule> schedule_;  // guarded by mu_ (set once in Init)
  double rate_bps_ = 0.0;                 // guarded by mu_: the schedule's rate, last applied

  // Owned by the I/O thread (and by Stop() after the join).
  std::vector<std::unique_ptr<Conn>> conns_;
  std::optional<Bucket> buckets_[2];  // [0] client -> upstream, [1] upstream -> client

  std::atomic<int64_t> bytes_up_{0};
  std::atomic<int64_t> bytes_down_{0};
  std::atomic<int64_t> bytes_read_[2] = {0, 0};  // [0] read from clients, [1] from upstreams
  std::atomic<int64_t> accepted_{0};
  std::atomic<int64_t> open_{0};
  std::atomic<int64_t> failed_{0};
};

Result<std::unique_ptr<LinkEmulator>> LinkEmulator::Start(const LinkOptions& options) {
  std::unique_ptr<LinkEmulator> link(new LinkEmulator());
  link->impl_ = std::make_unique<Impl>();
  EI_RETURN_IF_ERROR(link->impl_->Init(options, &link->port_));
  std::string host, port;
  EI_RETURN_IF_ERROR(SplitHostPort(options.listen, "--listen", &host, &port));
  link->host_ = host;
  return link;
}

LinkEmulator::~LinkEmulator() { Stop(); }

std::string LinkEmulator::address() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

void LinkEmulator::SetRate(double rate_bps) { impl_->SetRate(rate_bps); }
void LinkEmulator::Wake() {
  if (impl_) impl_->Wake();
}
double LinkEmulator::rate_bps() const { return impl_->rate_bps(); }
void LinkEmulator::SetStalled(bool stalled) { impl_->SetStalled(stalled); }
LinkStats LinkEmulator::stats() const { return impl_->stats(); }
void LinkEmulator::Stop() {
  if (impl_) impl_->Stop();
}

}  // namespace edgeinfer::net

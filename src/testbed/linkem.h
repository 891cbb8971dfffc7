// LinkEmulator: a userspace TCP relay that behaves like a network link of a given rate and
// one-way delay, so offloading can be tested on one machine without netem.
//
// Every connection accepted on `listen` is relayed to a new connection to `to`. Each direction
// is one link: bytes read from one socket queue for a token bucket whose rate is shared by all
// connections in that direction (round robin between connections, like flows on one real
// link), then wait `delay` in a delay line, then are written to the other socket. So a chunk of
// n bytes leaves at  max(now, link free) + n / rate + delay : serialisation at the bottleneck
// followed by propagation. The byte stream is relayed exactly (gRPC/HTTP2 runs over it);
// half-close is forwarded (a FIN travels the delay line like data), and a connection whose
// upstream refuses or resets is closed on the client side (the client reads EOF).
//
// Model limits: the rate counts TCP payload bytes (a kernel shaper such as tc tbf also counts
// headers, about 4.5% more on Ethernet); the TCP handshake is not delayed; chunks are at most
// 16 KiB, so at 5 Mbit/s the output is smooth to ~26 ms.
//
// Thread safety: all public methods may be called from any thread. One I/O thread does all the
// relaying with poll() and timed waits (it never spins).
#ifndef EDGEINFER_TESTBED_LINKEM_H_
#define EDGEINFER_TESTBED_LINKEM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/units.h"
#include "edgeinfer/status.h"

namespace edgeinfer::net {

// From time_s (seconds since Start) on, the rate is rate_bps (bits per second, 0 = unlimited).
struct RateStep {
  double time_s = 0.0;
  double rate_bps = 0.0;
};

struct LinkOptions {
  std::string listen = "127.0.0.1:0";  // "HOST:PORT"; port 0 picks a free port
  std::string to;                      // "HOST:PORT" of the upstream server
  double rate_bps = 0.0;               // payload bits per second in each direction; 0 = unlimited
  double delay_ms = 0.0;               // one-way delay, applied in each direction
  // Rate schedule (times strictly increasing, the first >= 0). Before the first step the rate is
  // rate_bps. With trace_period_s == 0 the last step's rate holds forever; with
  // trace_period_s > 0 (greater than the last step's time) the schedule repeats with that period
  // (and in every period the rate is rate_bps until the first step).
  std::vector<RateStep> trace;
  double trace_period_s = 0.0;
  // Token bucket depth in bytes: how much may pass at once after the link was idle. 0 picks
  // max(16 KiB, 10 ms at the current rate), recomputed when the rate changes.
  int64_t burst_bytes = 0;
};

// Bytes written to the far side so far (payload only).
struct LinkStats {
  int64_t bytes_up = 0;    // client -> upstream
  int64_t bytes_down = 0;  // upstream -> client
  int64_t connections_accepted = 0;
  int64_t connections_open = 0;
  int64_t connections_failed = 0;  // upstream refused or unreachable
};

class LinkEmulator {
 public:
  // Binds, listens and starts relaying. Errors: bad addresses or rates, bind failure (port in
  // use), a bad trace; each names the option.
  static Result<std::unique_ptr<LinkEmulator>> Start(const LinkOptions& options);
  ~LinkEmulator();  // Stop()
  LinkEmulator(const LinkEmulator&) = delete;
  LinkEmulator& operator=(const LinkEmulator&) = delete;

  int port() const { return port_; }  // the bound port (resolved when 0 was asked)
  // "HOST:PORT" clients should connect to (the listen host with the resolved port).
  std::string address() const;

  // Sets the rate of both directions now (bits per second, 0 = unlimited) and stops the trace.
  // Data already past the bucket keeps its schedule.
  void SetRate(double rate_bps);
  void SetRateMbit(double mbit) { SetRate(mbit * 1e6); }
  double rate_bps() const;  // the rate in force now (the trace's, while it runs)

  LinkStats stats() const;

  // Closes the listener and every relayed connection and joins the I/O thread. Idempotent.
  void Stop();

 private:
  class Impl;
  LinkEmulator() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::string host_;
};

// Trace text: one step a line, "TIME_S RATE" (e.g. "0 20mbit", "10.5 5mbit"); TIME_S is seconds
// (a bare number, or with a unit as in ParseDurationMs); '#' starts a comment; blank lines are
// skipped; times strictly increasing. Errors name the line number.
Result<std::vector<RateStep>> ParseTrace(const std::string& text);

// "20mbit" style text for a rate in bits per second ("unlimited" for 0).
std::string FormatRate(double rate_bps);

}  // namespace edgeinfer::net

#endif  // EDGEINFER_TESTBED_LINKEM_H_

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
//
// Time: every pacing decision reads LinkOptions::clock (the real steady clock by default), and
// the decisions themselves live in RateSchedule and TokenBucket below, which take the time as an
// argument, so that tests can check them exactly with a FakeClock.
#ifndef EDGEINFER_TESTBED_LINKEM_H_
#define EDGEINFER_TESTBED_LINKEM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
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
  // Time source of all pacing (not owned; must outlive the emulator). nullptr: RealClock(). With
  // any other clock the I/O thread does not sleep until deadlines (its clock's time does not
  // pass by itself): it re-reads the clock on socket events and on Wake().
  const Clock* clock = nullptr;
};

// Bytes written to the far side so far (payload only).
struct LinkStats {
  int64_t bytes_up = 0;    // client -> upstream
  int64_t bytes_down = 0;  // upstream -> client
  // Bytes read from the sending side so far: written plus still held by the link (queued for
  // the bucket or in the delay line).
  int64_t bytes_read_up = 0;
  int64_t bytes_read_down = 0;
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

  // A stalled link forwards nothing in either direction: connections stay open and are
  // accepted, bytes read are held (up to the per-connection cap) and nothing is written, as on a
  // silent partition. Unstalling forwards what was held, in order. Thread safe.
  void SetStalled(bool stalled);

  LinkStats stats() const;

  // Makes the I/O thread re-read the clock now. Only needed with a clock other than the real one
  // (a test calls it after advancing its FakeClock); harmless otherwise.
  void Wake();

  // Closes the listener and every relayed connection and joins the I/O thread. Idempotent.
  void Stop();

 private:
  class Impl;
  LinkEmulator() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::string host_;
};

// The rate in force at each moment: LinkOptions' rate and trace (looping with its period), until
// SetRate replaces both. Times are on the emulator's clock; `start` is time 0 of the trace. Not
// synchronised (the emulator guards it).
class RateSchedule {
 public:
  RateSchedule(const LinkOptions& options, Clock::TimePoint start);
  // The rate at `now` (bits per second, 0 = unlimited). *next_change (if not null) is set to when
  // the rate next changes by itself, nullopt when it never does (no trace, a trace past its last
  // step without a period, or after SetRate). `now` must not be before `start`.
  double RateAt(Clock::TimePoint now, std::optional<Clock::TimePoint>* next_change = nullptr) const;
  // From now on the rate is `rate_bps` (negative counts as 0) and the trace is stopped.
  void SetRate(double rate_bps);

 private:
  LinkOptions options_;
  Clock::TimePoint start_;
  bool trace_active_ = false;
  double fixed_rate_bps_ = 0.0;  // the rate while no trace runs
};

// One direction's token bucket, counted in payload bytes. Tokens accrue at the rate in force up
// to the burst depth; a chunk may pass while any token is left, and its serialisation ends once
// the bytes beyond the tokens it found have been paid for (tokens go negative meanwhile). With
// rate 0 (unlimited) everything passes at once. Times are on the emulator's clock. Not
// synchronised (the I/O thread owns it).
class TokenBucket {
 public:
  // The bucket depth at `rate_bps` for LinkOptions::burst_bytes `burst_option`: the option when
  // it is > 0, else max(16 KiB, 10 ms at the rate).
  static int64_t Burst(int64_t burst_option, double rate_bps);

  // Full (burst at `rate_bps`) at `start`.
  TokenBucket(int64_t burst_option, double rate_bps, Clock::TimePoint start);

  // Adds the tokens earned since the last refill at `rate_bps`, capped at the burst depth for
  // that rate (full at once when the rate is unlimited).
  void Refill(Clock::TimePoint now, double rate_bps);
  // May a chunk pass now (call after Refill)?
  bool CanPass(double rate_bps) const { return rate_bps <= 0 || tokens_ > 0; }
  // Passes `bytes` at `now` (CanPass must hold); returns when their serialisation ends, i.e. when
  // the link has sent the last of them (before the propagation delay).
  Clock::TimePoint Pass(int64_t bytes, Clock::TimePoint now, double rate_bps);
  // When CanPass next holds at `rate_bps`, if no rate change comes first: `now` if it holds now,
  // else the moment the debt is paid plus 20 us (so that a wake-up finds a token, not zero).
  Clock::TimePoint NextPass(Clock::TimePoint now, double rate_bps) const;
  double tokens() const { return tokens_; }

 private:
  int64_t burst_option_;
  double tokens_;  // bytes; negative while a passed chunk is still serialising
  Clock::TimePoint last_;
};

// Trace text: one step a line, "TIME_S RATE" (e.g. "0 20mbit", "10.5 5mbit"); TIME_S is seconds
// (a bare number, or with a unit as in ParseDurationMs); '#' starts a comment; blank lines are
// skipped; times strictly increasing. Errors name the line number.
Result<std::vector<RateStep>> ParseTrace(const std::string& text);

// "20mbit" style text for a rate in bits per second ("unlimited" for 0).
std::string FormatRate(double rate_bps);

}  // namespace edgeinfer::net

#endif  // EDGEINFER_TESTBED_LINKEM_H_

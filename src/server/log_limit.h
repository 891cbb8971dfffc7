// Rate limiting of library log lines that a client can trigger at will (protobuf logs one
// line per request with invalid UTF-8 in a string field), so that a hostile client cannot
// flood the server's log.
#ifndef EDGEINFER_SERVER_LOG_LIMIT_H_
#define EDGEINFER_SERVER_LOG_LIMIT_H_

#include <cstdint>
#include <mutex>

#include "core/clock.h"

namespace edgeinfer::server {

// Admits at most `burst` lines per `window`; the rest are counted and reported once, when the
// next window's first line is admitted. Thread safe.
class LogRateLimiter {
 public:
  LogRateLimiter(int burst, Clock::Duration window, const Clock* clock = RealClock())
      : burst_(burst), window_(window), clock_(clock) {}

  // True when the line may be written. `*suppressed` receives how many lines were dropped
  // since the last admitted one (0 mostly); the caller reports that number first.
  bool Admit(int64_t* suppressed);

 private:
  const int burst_;
  const Clock::Duration window_;
  const Clock* const clock_;
  std::mutex mu_;
  bool started_ = false;           // guarded by mu_
  Clock::TimePoint window_start_;  // guarded by mu_
  int admitted_ = 0;               // in this window; guarded by mu_
  int64_t suppressed_ = 0;         // since the last admitted line; guarded by mu_
};

// Routes protobuf's log lines (process-wide) through a LogRateLimiter of 10 lines a minute,
// written to stderr with an "edgeinfer serve: protobuf" prefix. Idempotent.
void LimitProtobufLogging();

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_LOG_LIMIT_H_

#include "server/log_limit.h"

#include <google/protobuf/stubs/logging.h>

#include <cstdio>
#include <string>

namespace edgeinfer::server {

bool LogRateLimiter::Admit(int64_t* suppressed) {
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::TimePoint now = clock_->Now();
  if (!started_ || now - window_start_ >= window_) {
    started_ = true;
    window_start_ = now;
    admitted_ = 0;
  }
  if (admitted_ >= burst_) {
    ++suppressed_;
    *suppressed = 0;
    return false;
  }
  ++admitted_;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

namespace {

LogRateLimiter& ProtobufLimiter() {
  static LogRateLimiter* limiter = new LogRateLimiter(10, std::chrono::minutes(1));
  return *limiter;
}

void LimitedProtobufLog(google::protobuf::LogLevel level, const char* filename, int line,
                        const std::string& message) {
  int64_t suppressed = 0;
  if (!ProtobufLimiter().Admit(&suppressed)) return;
  if (suppressed > 0) {
    std::fprintf(stderr, "edgeinfer serve: protobuf: %lld similar lines suppressed\n",
                 static_cast<long long>(suppressed));
  }
  static const char* const kLevels[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  const int index = static_cast<int>(level);
  std::fprintf(stderr, "edgeinfer serve: protobuf %s %s:%d: %s\n",
               index >= 0 && index < 4 ? kLevels[index] : "LOG", filename, line, message.c_str());
}

}  // namespace

void LimitProtobufLogging() { google::protobuf::SetLogHandler(&LimitedProtobufLog); }

}  // namespace edgeinfer::server

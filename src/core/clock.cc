#include "core/clock.h"

namespace edgeinfer {

namespace {

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace

const Clock* RealClock() {
  static const SteadyClock clock;  // trivially destructible state; safe at exit
  return &clock;
}

}  // namespace edgeinfer

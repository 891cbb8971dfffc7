// Clock: the time source of code whose timing decisions must be testable exactly (the link
// emulator's pacing, the auto mode's prober). Production code takes a `const Clock*` and uses
// RealClock() by default; a test passes a FakeClock and moves time itself, so that what the code
// decides at time t does not depend on how fast or loaded the machine is.
#ifndef EDGEINFER_CORE_CLOCK_H_
#define EDGEINFER_CORE_CLOCK_H_

#include <chrono>
#include <mutex>

namespace edgeinfer {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  // Monotonic: never earlier than a previous call's result. Thread safe.
  virtual TimePoint Now() const = 0;
};

// std::chrono::steady_clock. The same object for the whole process; never null.
const Clock* RealClock();

// Milliseconds from `from` to `to` (negative when `to` is earlier).
inline double MsBetween(Clock::TimePoint from, Clock::TimePoint to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// A clock that moves only when told to. It starts at a fixed point one hour after the steady
// clock's epoch (so that times before the start exist), whatever the real time is. Thread safe.
// Code that sleeps until a deadline on its clock cannot be woken by a FakeClock; such code offers
// its own way to re-read the clock (e.g. LinkEmulator::Wake).
class FakeClock final : public Clock {
 public:
  FakeClock() = default;
  TimePoint Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  // Moves time forward by `d` (>= 0; a negative step is ignored: the clock stays monotonic).
  void Advance(Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    if (d > Duration::zero()) now_ += d;
  }
  void AdvanceMs(double ms) {
    Advance(std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms)));
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_ = TimePoint() + std::chrono::hours(1);  // guarded by mu_
};

}  // namespace edgeinfer

#endif  // EDGEINFER_CORE_CLOCK_H_

#include "backend/cpu/openmp_env.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace edgeinfer {
namespace {

constexpr const char* kApplied = "EDGEINFER_OMP_WAIT_APPLIED";

// Runnable threads of the whole machine right now, from /proc/loadavg's fourth field
// ("running/total"); -1 when unreadable.
int RunnableNow() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c, running;
  if (!(in >> a >> b >> c >> running)) return -1;
  const size_t slash = running.find('/');
  if (slash == std::string::npos || slash == 0) return -1;
  return std::atoi(running.substr(0, slash).c_str());
}

}  // namespace

bool ParseOpenMpWait(const std::string& text, OpenMpWait* out) {
  if (text == "passive") {
    *out = OpenMpWait::kPassive;
  } else if (text == "spin") {
    *out = OpenMpWait::kSpin;
  } else if (text == "auto") {
    *out = OpenMpWait::kAuto;
  } else {
    return false;
  }
  return true;
}

double OtherRunnable(int samples, int interval_ms) {
  int sum = 0;
  for (int i = 0; i < samples; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    const int n = RunnableNow();
    if (n < 0) return -1.0;
    sum += n - 1;  // the reading thread itself is running
  }
  return static_cast<double>(sum) / samples;
}

void ConfigureOpenMpWait(char** argv, OpenMpWait fallback) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr ||
      std::getenv(kApplied) != nullptr) {
    return;
  }
  OpenMpWait wait = fallback;
  if (const char* asked = std::getenv("EDGEINFER_OMP_WAIT"); asked != nullptr) {
    // An invalid value keeps the fallback; `edgeinfer` documents the three values.
    (void)ParseOpenMpWait(asked, &wait);
  }
  if (wait == OpenMpWait::kAuto) {
    // 10 looks at the run queue, 3 ms apart: a loop that runs now, or every few ms, shows.
    const double busy = OtherRunnable(10, 3);
    wait = busy >= 0.0 && busy < 0.5 ? OpenMpWait::kSpin : OpenMpWait::kPassive;
  }
  // The new process sees these set, so it never re-executes again.
  const bool spin = wait == OpenMpWait::kSpin;
  if (setenv(kApplied, spin ? "spin" : "passive", 1) != 0) return;
  if (spin ? setenv("GOMP_SPINCOUNT", kSpinCount, 1) != 0
           : setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) {
    return;
  }
  execv("/proc/self/exe", argv);
  // exec failed (no /proc, say): run on with libgomp's defaults; the variables now set are
  // harmless to this process and its children.
}

void ForgetAppliedOpenMpWait() {
  const char* applied = std::getenv(kApplied);
  if (applied == nullptr) return;
  const std::string a = applied;
  if (a == "spin") unsetenv("GOMP_SPINCOUNT");
  if (a == "passive") unsetenv("OMP_WAIT_POLICY");
  unsetenv(kApplied);
}

std::string OpenMpWaitDescription() {
  if (const char* applied = std::getenv(kApplied); applied != nullptr) {
    const std::string a = applied;
    if (a == "spin" || a == "passive") {
      // The user may still have changed the libgomp variables for a child since.
      const char* count = std::getenv("GOMP_SPINCOUNT");
      const char* policy = std::getenv("OMP_WAIT_POLICY");
      if ((a == "spin" && count != nullptr && std::string(count) == kSpinCount) ||
          (a == "passive" && policy != nullptr && std::string(policy) == "PASSIVE")) {
        return a;
      }
    }
  }
  std::string user;
  if (const char* p = std::getenv("OMP_WAIT_POLICY")) user += std::string("OMP_WAIT_POLICY=") + p;
  if (const char* c = std::getenv("GOMP_SPINCOUNT")) {
    user += (user.empty() ? "" : " ") + std::string("GOMP_SPINCOUNT=") + c;
  }
  return user.empty() ? "libgomp default" : "user (" + user + ")";
}

}  // namespace edgeinfer

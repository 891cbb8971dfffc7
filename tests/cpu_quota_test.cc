// LimitCpu in a forked child (the quota must not slow down the test process itself): the child
// busy-loops for 1 s of wall time and reports the CPU time it got.
#include "testbed/cpu_quota.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace edgeinfer {
namespace {

double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct ChildReport {
  bool limited = false;
  std::string skip_reason;
  double cpu_s = 0.0;
  double wall_s = 0.0;
};

// Forks; the child calls LimitCpu(cores) then spins for `wall_s`, and writes one line back:
// "skip <reason>" or "ok <cpu seconds> <wall seconds>".
ChildReport RunLimitedChild(double cores, double wall_s) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string line;
    Status s = LimitCpu(cores);
    if (!s.ok()) {
      line = "skip " + s.ToString();
    } else {
      const double cpu0 = ProcessCpuSeconds();
      const auto t0 = std::chrono::steady_clock::now();
      volatile unsigned long spin = 0;
      double elapsed = 0.0;
      while (elapsed < wall_s) {
        for (int i = 0; i < 10000; ++i) spin = spin + 1;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      char buffer[64];
      std::snprintf(buffer, sizeof(buffer), "ok %.6f %.6f", ProcessCpuSeconds() - cpu0, elapsed);
      line = buffer;
    }
    (void)!write(fds[1], line.data(), line.size());
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buffer[512];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) text.append(buffer, n);
  close(fds[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  RemoveStaleCpuGroups();  // the child's group is empty now
  ChildReport report;
  if (text.rfind("skip ", 0) == 0) {
    report.skip_reason = text.substr(5);
  } else if (std::sscanf(text.c_str(), "ok %lf %lf", &report.cpu_s, &report.wall_s) == 2) {
    report.limited = true;
  } else {
    ADD_FAILURE() << "child reported '" << text << "'";
  }
  return report;
}

TEST(CpuQuotaTest, QuarterCoreGetsAQuarterOfTheTime) {
  const ChildReport r = RunLimitedChild(0.25, 1.0);
  if (!r.limited) GTEST_SKIP() << "cgroup CPU quota not permitted here: " << r.skip_reason;
  // The quota is an upper bound that load cannot break (load only takes CPU away): at most
  // 0.25 x wall, plus 0.08 s of slack because the first period may start with a full quota
  // (25 ms) and the scheduler overruns by up to one tick per period boundary. Without the quota
  // the child would use ~1 s. How much of its quarter core the child actually gets depends on
  // what else runs; bench_timing measures that.
  EXPECT_LE(r.cpu_s, 0.25 * r.wall_s + 0.08) << "wall " << r.wall_s;
  EXPECT_GT(r.cpu_s, 0.0) << "the child never ran";
}

TEST(CpuQuotaTest, RejectsBadCoresOrPeriod) {
  EXPECT_EQ(LimitCpu(0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LimitCpu(-1).code(), StatusCode::kInvalidArgument);
  // The kernel accepts CFS periods of 1 ms to 1 s; outside that nothing is touched.
  EXPECT_EQ(LimitCpu(0.5, 0.5).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LimitCpu(0.5, 2000).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeinfer

// Child processes of bench_loadpart: the edge server and the device worker.
//
// Every child dies with the benchmark (PR_SET_PDEATHSIG) and is registered so that SIGINT and
// SIGTERM kill it before the benchmark exits (InstallCleanupHandlers), so an interrupted run
// leaves nothing behind.
#ifndef EDGEINFER_BENCH_LOADPART_PROCESS_H_
#define EDGEINFER_BENCH_LOADPART_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/status.h"

namespace edgeinfer::bench {

// SIGINT/SIGTERM: SIGKILL every live child, then exit with 128 + signal.
void InstallCleanupHandlers();

// Pins the calling thread (and the threads it starts afterwards) to `cpus`. Errors: an empty
// list or a CPU this process may not use.
Status PinToCpus(const std::vector<int>& cpus);

// "0", "0,2" or "0-3,6" -> CPU numbers. Errors name the bad item.
Result<std::vector<int>> ParseCpuList(const std::string& text);

class ChildProcess {
 public:
  // Runs argv[0] with `argv`. With `pipes`, the child's stdin and stdout are pipes to us
  // (WriteLine/ReadLine); else stdout goes to `log_path` (or is inherited when it is empty).
  // stderr goes to `log_path` when given, else it is inherited. `nice` > 0 lowers the child's
  // priority. A non-empty `cpus` pins the child (and every thread it starts) to those CPUs.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                     bool pipes, const std::string& log_path,
                                                     int nice = 0,
                                                     const std::vector<int>& cpus = {});
  ~ChildProcess();  // Kill()
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Kill();  // SIGKILL and reap; idempotent

  Status WriteLine(const std::string& line);
  // One line from the child's stdout (without '\n'); DeadlineExceeded after `timeout_ms`,
  // Unavailable when the child closed it (exited).
  Result<std::string> ReadLine(int timeout_ms);

  // Waits until `log_path` contains `marker` and returns the text after it up to the next
  // space or newline. Errors carry the log.
  Result<std::string> WaitForLogValue(const std::string& marker, int timeout_ms);
  std::string Log() const;

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int in_fd_ = -1;   // our end of the child's stdin
  int out_fd_ = -1;  // our end of the child's stdout
  std::string buffer_;
  std::string log_path_;
};

}  // namespace edgeinfer::bench

#endif  // EDGEINFER_BENCH_LOADPART_PROCESS_H_

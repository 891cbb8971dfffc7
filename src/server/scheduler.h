// Scheduler: a bounded FIFO queue in front of a fixed set of worker threads.
//
// The thread budget is workers x threads: each worker sets its own kernel thread count once
// (the OpenMP team size is per calling thread), so compute never oversubscribes the cores
// however many RPC threads are waiting. A full queue refuses work (ResourceExhausted); a
// request whose deadline passes while it is queued is dropped (DeadlineExceeded); work that has
// started runs to completion. Thread safe.
#ifndef EDGEINFER_SERVER_SCHEDULER_H_
#define EDGEINFER_SERVER_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "edgeinfer/status.h"

namespace edgeinfer::server {

struct SchedulerOptions {
  int workers = 1;     // worker threads (>= 1)
  int threads = 0;     // kernel threads per worker; <= 0 means all cores
  int max_queue = 64;  // waiting (not yet started) jobs; more are refused
};

struct ScheduleTiming {
  int64_t queue_us = 0;      // from submission to start
  int64_t queue_length = 0;  // jobs waiting when this one was submitted (itself excluded)
};

class Scheduler {
 public:
  using Clock = std::chrono::system_clock;  // gRPC deadlines are system-clock time points

  explicit Scheduler(SchedulerOptions options);
  ~Scheduler();  // stops the workers; queued jobs fail with Unavailable
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs `job` on a worker and blocks until it has run, or until `deadline` passes while it is
  // still queued (DeadlineExceeded; the job never runs). ResourceExhausted when the queue is
  // full, Unavailable after Shutdown. `job` may reference the caller's stack: it never runs
  // after Run returns.
  Status Run(const std::function<void()>& job, Clock::time_point deadline, ScheduleTiming* timing);

  // Refuses new work, fails queued jobs with Unavailable, and joins the workers. Idempotent.
  void Shutdown();

  int64_t queue_length() const;
  // True once Shutdown began: the server is draining and takes no new work.
  bool stopping() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Job;
  void WorkerLoop();

  const SchedulerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<std::shared_ptr<Job>> queue_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_SCHEDULER_H_

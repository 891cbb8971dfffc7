#include "server/scheduler.h"

#include <algorithm>

#include "core/parallel.h"

namespace edgeinfer::server {

struct Scheduler::Job {
  const std::function<void()>* fn = nullptr;
  std::chrono::steady_clock::time_point submitted;
  int64_t queue_us = 0;
  enum class State { kQueued, kRunning, kDone, kDropped } state = State::kQueued;  // mu_
  std::condition_variable done_cv;
};

Scheduler::Scheduler(SchedulerOptions options) : options_(options) {
  const int workers = std::max(1, options_.workers);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

Scheduler::~Scheduler() { Shutdown(); }

bool Scheduler::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void Scheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    for (const auto& job : queue_) {
      job->state = Job::State::kDropped;
      job->done_cv.notify_all();
    }
    queue_.clear();
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  workers_.clear();
}

int64_t Scheduler::queue_length() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(queue_.size());
}

Status Scheduler::Run(const std::function<void()>& job, Clock::time_point deadline,
                      ScheduleTiming* timing) {
  auto entry = std::make_shared<Job>();
  entry->fn = &job;
  entry->submitted = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return Status::Unavailable("the server is shutting down");
  if (Clock::now() >= deadline) {
    return Status(StatusCode::kDeadlineExceeded, "deadline exceeded before the request queued");
  }
  if (static_cast<int64_t>(queue_.size()) >= std::max(0, options_.max_queue)) {
    return Status::ResourceExhausted("request queue is full (" +
                                     std::to_string(options_.max_queue) + " waiting)");
  }
  if (timing != nullptr) timing->queue_length = static_cast<int64_t>(queue_.size());
  queue_.push_back(entry);
  work_cv_.notify_one();
  // A far deadline (gRPC's "none" is time_point::max) waits untimed: converting it to the
  // condition variable's clock would overflow.
  const bool timed = deadline < Clock::now() + std::chrono::hours(24 * 365);
  while (entry->state == Job::State::kQueued) {
    if (!timed) {
      entry->done_cv.wait(lock);
      continue;
    }
    if (entry->done_cv.wait_until(lock, deadline) == std::cv_status::timeout &&
        entry->state == Job::State::kQueued) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), entry));
      entry->state = Job::State::kDropped;
      return Status(StatusCode::kDeadlineExceeded, "deadline exceeded while queued");
    }
  }
  // Once running, the job references the caller's stack: wait for it regardless of deadline.
  entry->done_cv.wait(lock, [&] { return entry->state != Job::State::kRunning; });
  if (entry->state == Job::State::kDropped) {
    return Status::Unavailable("the server shut down before the request ran");
  }
  if (timing != nullptr) timing->queue_us = entry->queue_us;
  return Status::Ok();
}

void Scheduler::WorkerLoop() {
  SetNumThreads(options_.threads);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::shared_ptr<Job> job = queue_.front();
    queue_.pop_front();
    job->state = Job::State::kRunning;
    job->queue_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - job->submitted)
                        .count();
    job->done_cv.notify_all();
    lock.unlock();
    (*job->fn)();
    lock.lock();
    job->state = Job::State::kDone;
    job->done_cv.notify_all();
  }
}

}  // namespace edgeinfer::server

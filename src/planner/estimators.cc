#include "planner/estimators.h"

#include <algorithm>

namespace edgeinfer::planner {

void SmoothedValue::Add(double sample, double alpha) {
  window_[next_] = sample;
  next_ = (next_ + 1) % kWindow;
  const bool first = count_ == 0;
  count_ = std::min(count_ + 1, kWindow);
  // Median of what the window holds (insertion sort of at most kWindow values); with two
  // samples their mean.
  double sorted[kWindow] = {};
  for (int i = 0; i < count_; ++i) {
    int j = i;
    for (; j > 0 && sorted[j - 1] > window_[i]; --j) sorted[j] = sorted[j - 1];
    sorted[j] = window_[i];
  }
  const double median =
      count_ % 2 == 1 ? sorted[count_ / 2] : 0.5 * (sorted[count_ / 2 - 1] + sorted[count_ / 2]);
  // A step: the two newest samples both lie beyond kStepRatio of the estimate on the same
  // side. The estimate then jumps to the median (which already left the old level) instead of
  // creeping towards it; one outlier alone never triggers it.
  const double newest = window_[(next_ + kWindow - 1) % kWindow];
  const double previous = window_[(next_ + kWindow - 2) % kWindow];
  auto beyond = [this](double x, int side) {
    return side > 0 ? x > value_ * kStepRatio : x * kStepRatio < value_;
  };
  const bool step = count_ >= 2 && ((beyond(newest, 1) && beyond(previous, 1)) ||
                                    (beyond(newest, -1) && beyond(previous, -1)));
  value_ = first || step ? median : alpha * median + (1.0 - alpha) * value_;
}

LinkEstimator::LinkEstimator(EstimatorOptions options) : options_(options) {}

void LinkEstimator::AddRtt(double ms, double now_ms) {
  if (!(ms >= 0.0)) return;
  std::lock_guard<std::mutex> lock(mu_);
  rtt_ms_.Add(ms, options_.alpha);
}

void LinkEstimator::AddTransfer(int64_t bytes, double ms, double now_ms) {
  if (bytes < kMinTransferBytes) return;
  std::lock_guard<std::mutex> lock(mu_);
  const double wire_ms = ms - rtt_ms_.value();
  // Also rejects NaN.
  if (!(wire_ms >= kMinWireMs)) return;
  const double mbit = static_cast<double>(bytes) * 8.0 / 1e6 / (wire_ms / 1e3);
  bandwidth_mbit_.Add(mbit, options_.alpha);
  ++samples_;
  last_ms_ = now_ms;
}

double LinkEstimator::bandwidth_mbit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bandwidth_mbit_.value();
}

double LinkEstimator::rtt_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rtt_ms_.value();
}

bool LinkEstimator::Stale(double now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!rtt_ms_.has_value() || !bandwidth_mbit_.has_value()) return true;
  return now_ms - last_ms_ > options_.stale_after_ms;
}

int LinkEstimator::samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return samples_;
}

LoadEstimator::LoadEstimator(EstimatorOptions options) : options_(options) {}

void LoadEstimator::AddReply(double load_factor, double queue_ms, double now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (load_factor > 0.0) load_factor_.Add(load_factor, options_.alpha);
  queue_ms_.Add(queue_ms > 0.0 ? queue_ms : 0.0, options_.alpha);
  last_ms_ = now_ms;
}

double LoadEstimator::load_factor() const {
  std::lock_guard<std::mutex> lock(mu_);
  return load_factor_.has_value() ? load_factor_.value() : 1.0;
}

double LoadEstimator::queue_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_ms_.value();
}

bool LoadEstimator::Stale(double now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  return !queue_ms_.has_value() || now_ms - last_ms_ > options_.stale_after_ms;
}

ProbeScheduler::ProbeScheduler(const Clock* clock, EstimatorOptions options, double while_used_ms)
    : clock_(clock), options_(options), while_used_ms_(while_used_ms), epoch_(clock->Now()) {}

bool ProbeScheduler::Due(const LinkEstimator& link, const LoadEstimator& load) const {
  const double now = NowMs();
  if (!load.Stale(now) && !link.Stale(now)) return false;
  return now - last_request_ms_.load() <= while_used_ms_;
}

}  // namespace edgeinfer::planner

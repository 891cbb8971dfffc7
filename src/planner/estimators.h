// Estimators that turn timed transfers and server replies into planner Conditions.
//
// Both smooth with an exponentially weighted moving average (weight `alpha` on the newest
// sample) and know how old their newest sample is, so the caller can probe actively when an
// estimate is stale. Thread safe: samples and reads may come from concurrent requests.
//
// Each raw sample first passes a median of the last three samples (SmoothedValue), so one
// outlier (a GC pause, a retransmission) never reaches the average; the first sample sets the
// estimate directly, and so does a step: two consecutive samples beyond a factor of two of the
// estimate, on the same side, replace it with the median instead of letting the average creep.
// Times are in milliseconds on any monotonic clock the caller chooses.
#ifndef EDGEINFER_PLANNER_ESTIMATORS_H_
#define EDGEINFER_PLANNER_ESTIMATORS_H_

#include <atomic>
#include <cstdint>
#include <mutex>

#include "core/clock.h"

namespace edgeinfer::planner {

struct EstimatorOptions {
  double alpha = 0.5;            // EWMA weight of the newest sample (docs/planner.md: why)
  double stale_after_ms = 1000;  // an estimate older than this asks for a probe
};

// EWMA over the median of the last kWindow raw samples. Not synchronised (the estimators
// guard it).
class SmoothedValue {
 public:
  static constexpr int kWindow = 3;
  // Two consecutive samples more than this factor above (or below) the estimate are a step.
  static constexpr double kStepRatio = 2.0;

  void Add(double sample, double alpha);
  bool has_value() const { return count_ > 0; }
  double value() const { return value_; }

 private:
  double window_[kWindow] = {};
  int count_ = 0;  // samples seen, saturating at kWindow
  int next_ = 0;   // ring position of the next sample
  double value_ = 0.0;
};

// Link bandwidth and round-trip time.
class LinkEstimator {
 public:
  explicit LinkEstimator(EstimatorOptions options = {});

  // A round trip that carried (almost) no payload, e.g. ServerLive: an RTT sample.
  void AddRtt(double ms, double now_ms);
  // A transfer of `bytes` (both directions) that took `ms` on the wire, i.e. the client's
  // round trip minus the server's own queue and compute time. The RTT estimate is subtracted
  // before the bandwidth sample is taken; transfers too small to say anything are ignored:
  // under kMinTransferBytes, or less than kMinWireMs left after the RTT.
  void AddTransfer(int64_t bytes, double ms, double now_ms);

  static constexpr int64_t kMinTransferBytes = 16 * 1024;
  static constexpr double kMinWireMs = 0.1;

  double bandwidth_mbit() const;  // <= 0 until the first usable sample
  double rtt_ms() const;
  // No RTT or bandwidth sample yet, or the newest bandwidth sample is older than
  // stale_after_ms (an RTT sample alone does not refresh the bandwidth).
  bool Stale(double now_ms) const;
  int samples() const;  // bandwidth samples accepted

 private:
  const EstimatorOptions options_;
  mutable std::mutex mu_;
  SmoothedValue bandwidth_mbit_;  // guarded by mu_
  SmoothedValue rtt_ms_;          // guarded by mu_
  int samples_ = 0;               // guarded by mu_
  double last_ms_ = -1.0;         // newest bandwidth sample; guarded by mu_
};

// The server's load factor k and queue time q.
class LoadEstimator {
 public:
  explicit LoadEstimator(EstimatorOptions options = {});

  // From one reply: the server's reported load factor (<= 0: not reported; then the reply only
  // updates q) and queue ms (negative counts as 0).
  void AddReply(double load_factor, double queue_ms, double now_ms);

  double load_factor() const;       // 1 until the first sample
  double queue_ms() const;          // 0 until the first sample
  bool Stale(double now_ms) const;  // no reply yet, or the newest is older than stale_after_ms

 private:
  const EstimatorOptions options_;
  mutable std::mutex mu_;
  SmoothedValue load_factor_;  // guarded by mu_
  SmoothedValue queue_ms_;     // guarded by mu_
  double last_ms_ = -1.0;      // newest reply; guarded by mu_
};

// When the auto mode's background prober probes. The prober wakes every period_ms() (on a real
// timer it owns) and asks Due(); a probe is due when either estimate is stale and the session was
// used (a request started) within while_used_ms, so an idle application costs the link nothing.
// The session's first while_used_ms count as used. There is no backoff: a failed probe leaves
// the estimates stale, so the next wake-up probes again (the probe's own deadline bounds each
// try). Times are milliseconds since construction on `clock`, the axis the estimators are fed
// on. Thread safe.
class ProbeScheduler {
 public:
  static constexpr double kWhileUsedMs = 10000.0;

  explicit ProbeScheduler(const Clock* clock = RealClock(), EstimatorOptions options = {},
                          double while_used_ms = kWhileUsedMs);

  double NowMs() const { return MsBetween(epoch_, clock_->Now()); }
  // Half the staleness limit: an estimate of a used session is never older than the limit by
  // more than one probe.
  double period_ms() const { return options_.stale_after_ms / 2.0; }
  // A request starts now.
  void NoteRequest() { last_request_ms_.store(NowMs()); }
  bool Due(const LinkEstimator& link, const LoadEstimator& load) const;

 private:
  const Clock* const clock_;
  const EstimatorOptions options_;
  const double while_used_ms_;
  const Clock::TimePoint epoch_;
  std::atomic<double> last_request_ms_{0.0};
};

}  // namespace edgeinfer::planner

#endif  // EDGEINFER_PLANNER_ESTIMATORS_H_

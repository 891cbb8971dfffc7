#include "runtime/failover.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "net/model_hash.h"

namespace edgeinfer {

namespace {

// A transport failure: the server is unreachable, or the attempt ran out of its time.
bool IsTransportFailure(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

// The server answered but cannot take this request now (a full queue), or its reply was
// dropped: another server may do it.
bool IsRetryElsewhere(const Status& s) {
  return s.code() == StatusCode::kResourceExhausted || s.code() == StatusCode::kDataLoss;
}

std::string NewSessionId() {
  std::random_device rd;
  char text[17];
  std::snprintf(text, sizeof(text), "%08x%08x", rd(), rd());
  return text;
}

}  // namespace

FailoverCaller::FailoverCaller(std::unique_ptr<net::EndpointPool> pool,
                               std::shared_ptr<const std::string> model, FailoverOptions options)
    : pool_(std::move(pool)),
      model_(std::move(model)),
      model_name_(net::ContentModelName(*model_)),
      options_(options),
      session_id_(NewSessionId()) {}

FailoverCaller::~FailoverCaller() {
  {
    std::lock_guard<std::mutex> lock(probe_mu_);
    stop_ = true;
  }
  probe_cv_.notify_all();
  if (prober_.joinable()) prober_.join();
}

void FailoverCaller::StartProber(int period_ms) {
  prober_ = std::thread([this, period_ms] {
    std::unique_lock<std::mutex> lock(probe_mu_);
    while (
        !probe_cv_.wait_for(lock, std::chrono::milliseconds(period_ms), [this] { return stop_; })) {
      lock.unlock();
      pool_->ProbeDue();
      lock.lock();
    }
  });
}

bool FailoverCaller::IsServerFailure(const Status& s) {
  return IsTransportFailure(s) || IsRetryElsewhere(s);
}

Status FailoverCaller::EnsureOn(size_t i, int check_timeout_ms) {
  net::EdgeClient& client = pool_->client(i);
  net::CallOptions check;
  check.timeout_ms = check_timeout_ms;
  EI_ASSIGN_OR_RETURN(bool ready, client.ModelReady(model_name_, check));
  if (!ready) {
    net::CallOptions call;
    const double upload_ms =
        static_cast<double>(options_.timeout_ms) +
        static_cast<double>(model_->size()) * 8.0 / std::max(1.0, options_.upload_floor_bps) * 1e3;
    call.timeout_ms = static_cast<int>(std::min(upload_ms, 2e9));
    EI_RETURN_IF_ERROR(client.LoadModel(model_name_, *model_, call));
  }
  pool_->set_model_ready(i, true);
  return Status::Ok();
}

Status FailoverCaller::EnsureSomewhere() {
  std::string failures;
  // A silent server must not take the whole deadline: each gets its share for the check.
  const int check_ms = options_.attempt_timeout_ms > 0
                           ? options_.attempt_timeout_ms
                           : std::max(1, options_.timeout_ms / static_cast<int>(pool_->size()));
  for (size_t i : pool_->AllByPreference()) {
    Status s = EnsureOn(i, check_ms);
    if (s.ok()) {
      pool_->ReportSuccess(i);
      return s;
    }
    if (IsTransportFailure(s)) pool_->ReportFailure(i);
    failures += (failures.empty() ? "" : "; ") + s.ToString();
  }
  return Status::Unavailable("no edge server of " + std::to_string(pool_->size()) +
                             " holds or accepted model '" + model_name_ + "': " + failures);
}

Result<std::vector<NamedTensor>> FailoverCaller::Infer(const std::vector<NamedTensor>& inputs,
                                                       const std::vector<std::string>& outputs,
                                                       net::InferTiming* timing,
                                                       const net::TransferOptions& transfer,
                                                       FailoverReport* report, int preferred) {
  const Clock* clock = pool_->clock();
  const Clock::TimePoint start = clock->Now();
  const Clock::TimePoint deadline = start + std::chrono::milliseconds(options_.timeout_ms);
  const std::string id = session_id_ + "-" + std::to_string(next_request_++);
  std::set<size_t> tried;     // servers that failed this request
  std::set<size_t> uploaded;  // servers this request uploaded the model to
  std::map<size_t, Status> last_error;
  std::optional<size_t> again;  // retry this server next (after a re-upload)
  int attempts = 0;
  const int max_attempts = std::max(1, options_.max_attempts);
  while (attempts < max_attempts) {
    const double remaining = MsBetween(clock->Now(), deadline);
    if (remaining <= 0.0) break;
    size_t i = 0;
    if (again.has_value()) {
      i = *again;
      again.reset();
    } else {
      std::vector<size_t> order = pool_->Candidates();
      if (attempts == 0 && preferred >= 0) {
        auto p = std::find(order.begin(), order.end(), static_cast<size_t>(preferred));
        if (p != order.end()) std::rotate(order.begin(), p, p + 1);
      }
      if (order.empty()) order = pool_->AllByPreference();
      auto untried =
          std::find_if(order.begin(), order.end(), [&](size_t s) { return tried.count(s) == 0; });
      i = untried != order.end() ? *untried : order.front();
    }
    ++attempts;
    if (!pool_->model_ready(i)) {
      if (uploaded.count(i) != 0) {
        // Uploaded by this request already and lost again: not repeated.
        tried.insert(i);
        continue;
      }
      uploaded.insert(i);
      const double left = MsBetween(clock->Now(), deadline);
      const int check_ms =
          options_.attempt_timeout_ms > 0
              ? std::min(options_.attempt_timeout_ms, static_cast<int>(left))
              : static_cast<int>(left / static_cast<double>(max_attempts - attempts + 1));
      Status s = EnsureOn(i, std::max(1, check_ms));
      if (!s.ok()) {
        last_error[i] = s;
        tried.insert(i);
        if (IsTransportFailure(s)) pool_->ReportFailure(i);
        if (!IsServerFailure(s) && s.code() != StatusCode::kPermissionDenied) return s;
        continue;
      }
    }
    net::CallOptions call;
    call.request_id = id;
    call.parameters = options_.parameters;
    const double left = MsBetween(clock->Now(), deadline);
    if (left <= 0.0) break;
    const double share = options_.attempt_timeout_ms > 0
                             ? std::min<double>(options_.attempt_timeout_ms, left)
                             : left / static_cast<double>(max_attempts - attempts + 1);
    call.timeout_ms = std::max(1, static_cast<int>(share));
    pool_->BeginAttempt(i);
    Result<std::vector<NamedTensor>> r =
        pool_->client(i).Infer(model_name_, inputs, outputs, timing, transfer, call);
    pool_->EndAttempt(i);
    if (r.ok()) {
      pool_->ReportSuccess(i);
      if (report != nullptr) {
        report->server = pool_->address(i);
        report->server_index = i;
        report->attempts = attempts;
      }
      return r;
    }
    const Status& s = r.status();
    last_error[i] = s;
    if (s.code() == StatusCode::kNotFound) {
      // A restarted server lost the uploaded model: send it again, then retry there.
      pool_->ReportSuccess(i);
      pool_->set_model_ready(i, false);
      if (uploaded.count(i) == 0) {
        again = i;
      } else {
        tried.insert(i);
      }
      continue;
    }
    if (IsTransportFailure(s)) {
      pool_->ReportFailure(i);
      tried.insert(i);
      continue;
    }
    if (IsRetryElsewhere(s)) {
      tried.insert(i);
      continue;
    }
    return s;  // the request's own error: another server would answer the same
  }
  std::string detail;
  for (const auto& [server, status] : last_error) {
    detail += (detail.empty() ? "" : "; ") + status.ToString();
  }
  return Status::Unavailable(
      "no edge server answered model '" + model_name_ + "' after " + std::to_string(attempts) +
      " attempt(s) in " + std::to_string(static_cast<int64_t>(MsBetween(start, clock->Now()))) +
      " ms (deadline " + std::to_string(options_.timeout_ms) +
      " ms); servers: " + pool_->Describe() + (detail.empty() ? "" : "; errors: " + detail));
}

}  // namespace edgeinfer

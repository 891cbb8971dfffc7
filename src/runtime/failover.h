// FailoverCaller: one server part run against several edge servers (an EndpointPool), with
// retries, per-attempt deadlines and re-upload of a model a server lost.
//
// One request has one overall deadline (FailoverOptions::timeout_ms) split into attempts: an
// attempt's deadline is attempt_timeout_ms when set, else the remaining time divided by the
// attempts left. An attempt that fails with UNAVAILABLE or its own DEADLINE_EXCEEDED marks the
// server failed (EndpointPool::ReportFailure) and the next attempt goes to another server;
// RESOURCE_EXHAUSTED (a full queue) and a dropped reply (DATA_LOSS: a reply id that is not the
// request's) move to another server without marking it; NOT_FOUND for the model re-uploads it
// to that server (once per server per request) and tries again. Other errors (a bad input, a
// refused token) are the request's own and are returned at once. Each request carries an id
// ("<session>-<n>"), and a reply with another id is dropped.
//
// Thread safety: Infer may be called concurrently.
#ifndef EDGEINFER_RUNTIME_FAILOVER_H_
#define EDGEINFER_RUNTIME_FAILOVER_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edgeinfer/session.h"
#include "net/client.h"
#include "net/endpoint_pool.h"

namespace edgeinfer {

struct FailoverOptions {
  int timeout_ms = 30000;      // overall deadline of one request
  int attempt_timeout_ms = 0;  // <= 0: the remaining deadline / the attempts left
  int max_attempts = 3;        // inference calls per request, over all servers
  // An upload's deadline: timeout_ms plus the model's size at this rate (bits per second), so
  // that a large model on a slow link is not cut off by the inference deadline.
  double upload_floor_bps = 10e6;
  // Request-level parameters sent with every attempt (the collaborative mode's).
  std::map<std::string, int64_t> parameters;
};

// Which server answered and after how many inference attempts.
struct FailoverReport {
  std::string server;       // "HOST:PORT"
  size_t server_index = 0;  // in the pool
  int attempts = 0;
};

class FailoverCaller {
 public:
  // `model_bytes` is what is uploaded to a server that lacks the model; its content name is the
  // model's name on every server.
  FailoverCaller(std::unique_ptr<net::EndpointPool> pool, std::shared_ptr<const std::string> model,
                 FailoverOptions options);
  ~FailoverCaller();  // stops the prober
  FailoverCaller(const FailoverCaller&) = delete;
  FailoverCaller& operator=(const FailoverCaller&) = delete;

  // Starts a thread that probes the down servers whose backoff has passed (EndpointPool::
  // ProbeDue) every `period_ms`, so that a restarted server is used again without a request
  // paying for the probe.
  void StartProber(int period_ms);

  // Makes sure some server holds the model, trying the servers in order of preference. Errors:
  // Unavailable naming every server and why it failed.
  Status EnsureSomewhere();

  // Runs the model from `inputs` to `outputs` on some server. Errors: the request's own error
  // (not retried), or, when no attempt succeeded, Unavailable (DeadlineExceeded when the overall
  // deadline passed) naming every server tried and its last error. `preferred` (a pool index;
  // negative: none) takes the first attempt when the pool lists it among its candidates.
  Result<std::vector<NamedTensor>> Infer(const std::vector<NamedTensor>& inputs,
                                         const std::vector<std::string>& outputs,
                                         net::InferTiming* timing,
                                         const net::TransferOptions& transfer,
                                         FailoverReport* report, int preferred = -1);

  const std::string& model_name() const { return model_name_; }
  net::EndpointPool& pool() const { return *pool_; }

  // Whether an error from Infer means "no server could answer" (where a local fallback may
  // run) rather than the request's own fault.
  static bool IsServerFailure(const Status& s);

 private:
  // Uploads the model to server i unless it already holds it. The ModelReady check has
  // `check_timeout_ms`; the upload gets its own deadline from the model's size.
  Status EnsureOn(size_t i, int check_timeout_ms);

  const std::unique_ptr<net::EndpointPool> pool_;
  const std::shared_ptr<const std::string> model_;
  const std::string model_name_;
  const FailoverOptions options_;
  const std::string session_id_;
  std::atomic<uint64_t> next_request_{1};

  std::mutex probe_mu_;
  std::condition_variable probe_cv_;
  bool stop_ = false;  // guarded by probe_mu_
  std::thread prober_;
};

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_FAILOVER_H_

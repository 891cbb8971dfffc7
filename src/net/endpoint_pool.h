// EndpointPool: several edge servers behind one device, each with a health state learnt from
// replies and probes, and the endpoint-list syntax that names them.
//
// A device names its servers as a comma list ("a:8001,b:8001", each item in ParseEndpoint's
// syntax) or as "dns:///NAME:PORT", whose A records are the servers (a Kubernetes headless
// Service). The pool holds one EdgeClient per server and a state per server:
//
//   healthy  --a transport failure-->  suspect  --another one-->  down
//      ^                                  |                         | backoff passed: a probe or
//      +------------- a success ----------+-------------------------+ a request may try it again
//
// A down server is skipped until its backoff (initial, doubling per failure, capped) has
// passed; then a probe (ProbeDue, ServerLive with the probe deadline) or, when every other
// server failed too, a request tries it again. A suspect server is still tried (after the
// healthy ones) and is probed once backoff_initial_ms after its failure. All timing reads
// PoolOptions::clock, so the state machine is tested exactly with a FakeClock.
//
// Thread safety: every method may be called concurrently; the clients are thread safe.
#ifndef EDGEINFER_NET_ENDPOINT_POOL_H_
#define EDGEINFER_NET_ENDPOINT_POOL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "edgeinfer/status.h"
#include "net/client.h"

namespace edgeinfer::net {

// Resolves a host name to its IPv4 addresses (dotted quads). Errors name the host.
using HostResolver = std::function<Result<std::vector<std::string>>(const std::string& host)>;
// getaddrinfo(AF_INET); addresses in the resolver's order, duplicates removed.
Result<std::vector<std::string>> ResolveIpv4(const std::string& host);

// True when `text` names several servers: it holds a comma or starts with "dns:///". Failover
// (retries, re-upload, health tracking) is opt-in through such a list; a single endpoint keeps
// the one-server behaviour.
bool IsEndpointList(const std::string& text);

// One EdgeClientOptions per server of `text` (comma list or dns:///NAME:PORT, resolved now with
// `resolve`), each a copy of `base` with address and tls set as ParseEndpoint does. Errors: an
// empty item, a malformed endpoint, a duplicate server, a name that resolves to nothing; each
// names the item.
Result<std::vector<EdgeClientOptions>> ParseEndpointList(const std::string& text,
                                                         const EdgeClientOptions& base,
                                                         const HostResolver& resolve = ResolveIpv4);

enum class ServerHealth { kHealthy, kSuspect, kDown };
const char* ServerHealthName(ServerHealth health);

struct PoolOptions {
  double backoff_initial_ms = 250.0;  // first wait of a down server before it is tried again
  double backoff_max_ms = 2000.0;     // the doubling wait stops here
  int probe_timeout_ms = 1000;        // deadline of a ServerLive probe
  const Clock* clock = nullptr;       // not owned; nullptr: RealClock()
};

class EndpointPool {
 public:
  // One client per entry of `servers` (connections are lazy). Errors: an empty list, the
  // client's (an unreadable CA file).
  static Result<std::unique_ptr<EndpointPool>> Create(const std::vector<EdgeClientOptions>& servers,
                                                      PoolOptions options = {});

  size_t size() const { return servers_.size(); }
  EdgeClient& client(size_t i) const { return *servers_[i].client; }
  const std::string& address(size_t i) const { return servers_[i].client->options().address; }

  ServerHealth health(size_t i) const;
  // The servers a request may try, best first: healthy ones (fewest attempts in flight first,
  // ties rotating so that equal servers share the requests), then suspect ones, then down ones
  // whose backoff has passed. Down servers inside their backoff are left out.
  std::vector<size_t> Candidates();
  // Every server in the order of Candidates, then the down servers still inside their backoff:
  // what a request tries when nothing else is left.
  std::vector<size_t> AllByPreference();

  // An attempt on server i starts / ends (counts attempts in flight for Candidates).
  void BeginAttempt(size_t i);
  void EndAttempt(size_t i);
  // Server i answered (any reply that is not a transport failure): it is healthy.
  void ReportSuccess(size_t i);
  // Server i failed at the transport (UNAVAILABLE, an attempt's DEADLINE_EXCEEDED): healthy
  // becomes suspect, suspect or down becomes down with a doubled backoff.
  void ReportFailure(size_t i);
  // Server i failed in a way that makes it useless for a while (a collaborative host's peer
  // that failed, stalled or timed out mid-request): it goes down at once, whatever its state,
  // with the backoff of its failure count. A probe or a later success makes it healthy again.
  void ReportDown(size_t i);

  // Whether server i is known to hold the model (set after an upload or a ModelReady answer,
  // cleared on a NOT_FOUND reply or when the server went down: a restarted server may have lost
  // an uploaded model).
  bool model_ready(size_t i) const;
  void set_model_ready(size_t i, bool ready);

  // Down servers whose backoff has passed, and suspect servers backoff_initial_ms after their
  // failure.
  std::vector<size_t> DueForProbe();
  // Probes server i with ServerLive (probe_timeout_ms) and reports the outcome.
  void Probe(size_t i);
  // Probes every server DueForProbe returns.
  void ProbeDue();

  // "a:1 (healthy), b:2 (down)".
  std::string Describe() const;

  const Clock* clock() const { return clock_; }

 private:
  struct Server {
    std::unique_ptr<EdgeClient> client;
    std::unique_ptr<EdgeClient> prober;  // same server, probe deadline
  };
  struct State {
    ServerHealth health = ServerHealth::kHealthy;
    int failures = 0;  // consecutive transport failures
    Clock::TimePoint retry_at;
    int in_flight = 0;
    bool model_ready = false;
  };
  EndpointPool(std::vector<Server> servers, PoolOptions options);
  bool Eligible(const State& s, Clock::TimePoint now) const;

  const std::vector<Server> servers_;
  const PoolOptions options_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::vector<State> states_;  // guarded by mu_, one per server
  uint64_t rotation_ = 0;      // guarded by mu_
};

}  // namespace edgeinfer::net

#endif  // EDGEINFER_NET_ENDPOINT_POOL_H_

// CollabHost: an edge server acting as the host of the collaborative mode (HALP; docs/planner.md
// "Collaborative mode", docs/protocol.md "Collaborative mode").
//
// A request with the parameter edgeinfer_collab runs here instead of as one slice: for each
// stage of the model's spatial front (planner/collab_plan.h) the host sends band requests to its
// peers (other edge servers, the same KServe v2 protocol), computes its own segment and the
// overlap zones while they are on the wire, and stitches every segment in place into the stage
// output; then it runs the non-spatial tail itself and returns the model's outputs.
//
// A peer that fails, answers late (after peer_timeout_ms on the host's clock) or cannot take the
// model costs time, never the request: the host computes that segment itself and marks the peer
// down (net::EndpointPool::ReportDown); it gets work again once a probe finds it live. Peers
// hold the model under its content name; the host uploads it (ExportOnnx of its graph) when a
// peer lacks it, so peers need --allow-upload unless they load the model from their own
// repository under the same name.
//
// Thread safety: Run may be called concurrently.
#ifndef EDGEINFER_SERVER_COLLAB_HOST_H_
#define EDGEINFER_SERVER_COLLAB_HOST_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "edgeinfer/session.h"
#include "edgeinfer/status.h"
#include "net/client.h"
#include "net/endpoint_pool.h"
#include "planner/collab_plan.h"
#include "planner/estimators.h"
#include "server/served_model.h"

namespace edgeinfer::server {

struct CollabOptions {
  std::vector<net::EdgeClientOptions> peers;  // at least one
  int peer_timeout_ms = 5000;  // a peer's band must be back this long after it was sent
  planner::CollabScheme scheme = planner::CollabScheme::kHalp;
  // Until a peer's link is measured, the planner assumes this rate (Mbit/s) and RTT (ms).
  double default_bandwidth_mbit = 1000.0;
  double default_rtt_ms = 0.5;
  // Static plan: relative speeds of the host and each peer (peers + 1 entries, all > 0); links
  // are taken as free and nothing is learnt. Empty (adaptive): peer speeds and links are
  // measured from their replies, the host's from its own bands.
  std::vector<double> static_speeds;
  // Waiting for peers and the peers' backoff read this clock (tests: a FakeClock); not owned.
  const Clock* clock = nullptr;
  // A background thread probes down peers this often (ServerLive); 0: no thread (tests call
  // ProbeDue).
  int probe_period_ms = 100;
  // Test hook: runs on a peer call's own thread just before the call is sent (peer index from
  // 1, stage index from 0). A test stalls a peer mid-request by blocking in it.
  std::function<void(size_t peer, size_t stage)> before_peer_call;
};

struct CollabResult {
  std::vector<NamedTensor> outputs;  // requested order (empty request: the model's outputs)
  int servers = 1;                   // servers that computed part of it, the host included
  int peer_failures = 0;             // peer segments the host recomputed
  int64_t compute_us = 0;            // the whole collaborative run at the host
  bool deadline_missed = false;      // over Run's deadline_ms on the host's clock
  planner::CollabPlan plan;          // what was planned
};

class CollabHost {
 public:
  // Errors: no peers, a peer's client (an unreadable CA file).
  static Result<std::unique_ptr<CollabHost>> Create(CollabOptions options);
  ~CollabHost();  // joins the prober and every peer call still in flight
  CollabHost(const CollabHost&) = delete;
  CollabHost& operator=(const CollabHost&) = delete;

  // Runs `model` on `inputs` collaboratively. A model with no spatial front (several inputs, a
  // first layer that is not local in rows) runs whole at the host. Errors: the model's own
  // (InvalidArgument for inputs that do not fit), never a peer's.
  // `model` is shared: a stalled peer call may outlive the request. `deadline_ms` > 0: whether
  // the run took longer on the host's clock is CollabResult::deadline_missed.
  Result<CollabResult> Run(std::shared_ptr<const ServedModel> model,
                           const std::vector<NamedTensor>& inputs,
                           const std::vector<std::string>& outputs, int64_t deadline_ms = 0);

  net::EndpointPool& pool() { return *pool_; }
  const CollabOptions& options() const { return options_; }

 private:
  struct Analysis;
  struct PeerCall;
  struct PeerStats {
    planner::LinkEstimator link;
    double speed = 1.0;  // relative to the host's unloaded profile; guarded by CollabHost::mu_
    bool measured = false;
  };

  explicit CollabHost(CollabOptions options);
  Result<CollabResult> RunCollab(std::shared_ptr<const ServedModel> model,
                                 const std::vector<NamedTensor>& inputs,
                                 const std::vector<std::string>& outputs);
  Result<std::shared_ptr<const Analysis>> Analyse(const ServedModel& model,
                                                  const std::vector<NamedTensor>& inputs);
  // The peer's name for `model`, uploading it when the peer lacks it.
  Result<std::string> EnsureOnPeer(size_t peer, const ServedModel& model);
  std::shared_ptr<PeerCall> StartPeerCall(size_t peer, size_t stage_index,
                                          std::shared_ptr<const ServedModel> model,
                                          const planner::CollabStage& stage,
                                          const planner::StageTask& task, const Tensor& input);
  void ProbeLoop();

  CollabOptions options_;
  const Clock* clock_;
  std::unique_ptr<net::EndpointPool> pool_;  // server i of the pool is peer i + 1
  std::vector<std::unique_ptr<PeerStats>> stats_;

  std::mutex mu_;
  // Analyses by model, version and input shapes; peer model names by "peer|model|version".
  std::map<std::string, std::shared_ptr<const Analysis>> analyses_;  // guarded by mu_
  std::map<std::string, std::string> peer_models_;                   // guarded by mu_
  // The last plan per analysis and the estimates it was made with: kept while the estimates
  // stay close, so that segment heights (and the servers' compiled bands) do not churn.
  struct CachedPlan {
    std::vector<planner::CollabServer> servers;  // the estimates it was made with
    planner::CollabPlan plan;
    int uses = 0;
  };
  std::map<const Analysis*, CachedPlan> plans_;  // guarded by mu_
  double host_speed_ = 1.0;         // measured, relative to its profile; guarded by mu_
  std::vector<std::thread> calls_;  // peer call threads; guarded by mu_, joined when done
  std::vector<std::shared_ptr<PeerCall>> call_states_;  // guarded by mu_, one per thread

  std::mutex probe_mu_;
  std::condition_variable probe_cv_;
  bool stopping_ = false;  // guarded by probe_mu_
  std::thread prober_;
};

// Refuses a peer list that names this server itself: a peer whose port is `own_port` and whose
// host resolves to an address of this machine (loopback, the wildcard, or an interface
// address). InvalidArgument naming the peer.
Status CheckPeersAreNotSelf(const std::vector<net::EdgeClientOptions>& peers, int own_port,
                            const net::HostResolver& resolve = net::ResolveIpv4);

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_COLLAB_HOST_H_

// The auto modes: a Session that chooses, for every request, where to cut the model: which part
// runs on this device and which on the edge server (LoADPart; "auto-noload" is Neurosurgeon).
//
// At open it makes sure the server holds the model, fetches the server's load-time per-node
// profile, profiles the device (planner/profile_cache.h, cached on disk), builds the planner's
// cost table for the model's static input shapes, and probes the link (ServerLive round trips,
// one remote run of zero inputs). Every Run decides from the current link and load estimates,
// runs the device part (compiled per cut on first use, a bounded cache) and the server part on
// the server, and feeds what the reply reports back into the estimators. A background thread
// probes the server while no request refreshes the estimates. docs/planner.md, "Runtime
// integration", describes what is probed when.
#ifndef EDGEINFER_RUNTIME_AUTO_SESSION_H_
#define EDGEINFER_RUNTIME_AUTO_SESSION_H_

#include <memory>
#include <string>

#include "edgeinfer/session.h"
#include "ir/graph.h"
#include "runtime/offload_config.h"

namespace edgeinfer {

// Opens an auto session for config.mode kAuto (load-aware) or kAutoNoLoad (load-oblivious).
// `graph` is the model imported from `model_bytes`. Errors: dynamic model input shapes (the
// cost table needs static ones), an unreachable or refusing server, a server that reports no
// profile, a failing device profile; each names the model and the step.
Result<std::unique_ptr<Session>> OpenAutoSession(Graph graph, const std::string& model_bytes,
                                                 const OffloadConfig& config,
                                                 const SessionOptions& options);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_AUTO_SESSION_H_

// Where a Session runs: SessionOptions and the EDGEINFER_* environment resolved to one mode.
#ifndef EDGEINFER_RUNTIME_OFFLOAD_CONFIG_H_
#define EDGEINFER_RUNTIME_OFFLOAD_CONFIG_H_

#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "net/client.h"

namespace edgeinfer {

struct OffloadConfig {
  // kAuto and kAutoNoLoad choose the cut per request (runtime/auto_session.h): load-aware
  // (LoADPart) and load-oblivious (Neurosurgeon).
  ExecutionMode mode = ExecutionMode::kLocal;
  Cut cut;                        // kSplit only
  net::EdgeClientOptions client;  // every mode but kLocal; the first server when failover
  // Failover (an accelerator list, or a fallback): every server, in the list's order; empty
  // otherwise (one server, today's behaviour: no retries).
  std::vector<net::EdgeClientOptions> servers;
  bool failover = false;
  bool fallback_local = false;
  int attempt_timeout_ms = 0;
};

// Resolves `options` against the environment as documented in edgeinfer/session.h: fields set
// in `options` win; an explicit kLocal ignores the environment. Errors: an unknown
// EDGEINFER_MODE text, kSplit at a trivial cut, an offload mode without an accelerator, a
// malformed endpoint or list, a dns:/// name that does not resolve, an unknown fallback.
Result<OffloadConfig> ResolveOffloadConfig(const SessionOptions& options);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_OFFLOAD_CONFIG_H_

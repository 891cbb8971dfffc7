// The local Session: runs a graph on this device's backend.
#ifndef EDGEINFER_RUNTIME_LOCAL_SESSION_H_
#define EDGEINFER_RUNTIME_LOCAL_SESSION_H_

#include <memory>

#include "edgeinfer/session.h"
#include "ir/graph.h"

namespace edgeinfer {

// A Session over `graph` (as imported: dynamic dims may be -1) on options.backend with
// options.threads. The offload fields of `options` are ignored. Errors: an unknown backend.
Result<std::unique_ptr<Session>> MakeLocalSession(Graph graph, const SessionOptions& options);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_LOCAL_SESSION_H_

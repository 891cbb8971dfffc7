// Sessions that offload to an edge server: remote (the whole model runs there) and split (the
// device part runs on this device, the server part there).
#ifndef EDGEINFER_RUNTIME_OFFLOAD_SESSION_H_
#define EDGEINFER_RUNTIME_OFFLOAD_SESSION_H_

#include <memory>
#include <string>

#include "edgeinfer/session.h"
#include "ir/graph.h"
#include "runtime/offload_config.h"

namespace edgeinfer {

// Connects to config.client, makes sure the server holds `model_bytes` (uploading it only when
// it lacks it) and returns a Session for config.mode (kRemote or kSplit). `graph` is the model
// imported from `model_bytes`; the device compiles its part (split mode) with
// options.backend and options.threads. Errors: a bad cut, an unreachable or refusing server
// (with the server's message), all within config.client.timeout_ms per call.
Result<std::unique_ptr<Session>> OpenOffloadSession(Graph graph, const std::string& model_bytes,
                                                    const OffloadConfig& config,
                                                    const SessionOptions& options);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_OFFLOAD_SESSION_H_

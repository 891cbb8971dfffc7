// RunStats of a request that went to an edge server, from the client's timing of it.
#ifndef EDGEINFER_RUNTIME_REMOTE_STATS_H_
#define EDGEINFER_RUNTIME_REMOTE_STATS_H_

#include "edgeinfer/session.h"
#include "net/client.h"

namespace edgeinfer {

// Fills the server and transfer fields of `stats` (queue, compute, load factor, bytes, upload,
// download) from `timing`; leaves the others as they are. The transfer time is what the round
// trip spent outside the server's queue and compute; it is attributed to each direction in
// proportion to the bytes that crossed.
void FillRemoteStats(const net::InferTiming& timing, RunStats* stats);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_REMOTE_STATS_H_

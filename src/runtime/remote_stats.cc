#include "runtime/remote_stats.h"

#include <algorithm>

namespace edgeinfer {

void FillRemoteStats(const net::InferTiming& timing, RunStats* stats) {
  stats->server_queue_ms = timing.server_queue_ms;
  stats->server_compute_ms = timing.server_compute_ms;
  stats->server_load_factor = timing.load_factor;
  stats->bytes_sent = timing.bytes_sent;
  stats->bytes_received = timing.bytes_received;
  const double transfer =
      std::max(0.0, timing.round_trip_ms - timing.server_queue_ms - timing.server_compute_ms);
  const double bytes = static_cast<double>(timing.bytes_sent + timing.bytes_received);
  const double up_share = bytes > 0 ? static_cast<double>(timing.bytes_sent) / bytes : 0.5;
  stats->upload_ms = transfer * up_share;
  stats->download_ms = transfer - stats->upload_ms;
}

}  // namespace edgeinfer

#include "runtime/auto_servers.h"

namespace edgeinfer {

ServerChoice DecideAcrossServers(const planner::CostTable& table,
                                 const std::vector<planner::Conditions>& per_server,
                                 const std::vector<size_t>& candidates, planner::Policy policy) {
  ServerChoice best;
  bool have = false;
  for (size_t server : candidates) {
    const planner::Prediction p = planner::Decide(table, per_server[server], policy);
    if (!have || p.total_ms < best.prediction.total_ms) {
      best.server = server;
      best.prediction = p;
      have = true;
    }
  }
  return best;
}

}  // namespace edgeinfer

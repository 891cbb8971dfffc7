// The auto modes across several servers: the decision is over (server, cut). Each candidate
// server is judged under its own load (load factor k and queue time q from its own replies);
// the link and the cost table are shared (the servers are assumed to be alike and behind the
// same link).
#ifndef EDGEINFER_RUNTIME_AUTO_SERVERS_H_
#define EDGEINFER_RUNTIME_AUTO_SERVERS_H_

#include <cstddef>
#include <vector>

#include "planner/cost_table.h"
#include "planner/planner.h"

namespace edgeinfer {

struct ServerChoice {
  size_t server = 0;  // an entry of `candidates`
  planner::Prediction prediction;
};

// The candidate whose best cut (planner::Decide under `per_server[server]`) has the lowest
// predicted total; ties go to the earlier candidate (the pool's order of preference).
// `per_server` is indexed by server; `candidates` is not empty.
ServerChoice DecideAcrossServers(const planner::CostTable& table,
                                 const std::vector<planner::Conditions>& per_server,
                                 const std::vector<size_t>& candidates, planner::Policy policy);

}  // namespace edgeinfer

#endif  // EDGEINFER_RUNTIME_AUTO_SERVERS_H_

// The auto modes' decision over (server, cut): each server under its own load estimate.
#include "runtime/auto_servers.h"

#include <gtest/gtest.h>

namespace edgeinfer {
namespace {

// Two nodes: remote (10 ms on the server), split after one node (5 + 5 ms), local (30 ms on
// the device). Uploads are small, so the link costs about the RTT.
planner::CostTable Table() {
  planner::CostTable t;
  t.node_count = 2;
  planner::CutCost remote;
  remote.device_nodes = 0;
  remote.tensors = {"x"};
  remote.tensor_bytes = {1000};
  remote.upload_bytes = 1000;
  remote.download_bytes = 100;
  remote.server_ms = 10.0;
  planner::CutCost split = remote;
  split.device_nodes = 1;
  split.tensors = {"h"};
  split.device_ms = 5.0;
  split.server_ms = 5.0;
  planner::CutCost local;
  local.device_nodes = 2;
  local.device_ms = 30.0;
  local.all_local = true;
  t.cuts = {remote, split, local};
  return t;
}

planner::Conditions Idle() {
  planner::Conditions c;
  c.bandwidth_mbit = 100.0;
  c.rtt_ms = 1.0;
  return c;
}

planner::Conditions Loaded() {
  planner::Conditions c = Idle();
  c.load_factor = 8.0;
  c.queue_ms = 40.0;
  return c;
}

TEST(AutoServersTest, RequestsGoToTheIdleServer) {
  const planner::CostTable table = Table();
  const std::vector<planner::Conditions> per_server = {Loaded(), Idle()};
  const ServerChoice c =
      DecideAcrossServers(table, per_server, {0, 1}, planner::Policy::kLoadAware);
  EXPECT_EQ(c.server, 1u);
  EXPECT_EQ(c.prediction.device_nodes, 0) << "the idle server takes the whole model";
  // The same, whatever the pool's order of preference.
  EXPECT_EQ(DecideAcrossServers(table, per_server, {1, 0}, planner::Policy::kLoadAware).server, 1u);
}

TEST(AutoServersTest, AnExcludedServerIsNeverChosen) {
  const planner::CostTable table = Table();
  const std::vector<planner::Conditions> per_server = {Loaded(), Idle()};
  // Server 1 is down (not a candidate): the loaded server 0 is judged alone, and under its
  // load (8 x 10 ms + 40 ms queue) running locally (30 ms) wins.
  const ServerChoice c = DecideAcrossServers(table, per_server, {0}, planner::Policy::kLoadAware);
  EXPECT_EQ(c.server, 0u);
  EXPECT_EQ(c.prediction.device_nodes, 2);
}

TEST(AutoServersTest, EqualServersKeepThePoolsOrder) {
  const planner::CostTable table = Table();
  const std::vector<planner::Conditions> per_server = {Idle(), Idle(), Idle()};
  EXPECT_EQ(DecideAcrossServers(table, per_server, {2, 0, 1}, planner::Policy::kLoadAware).server,
            2u);
  EXPECT_EQ(DecideAcrossServers(table, per_server, {1, 2}, planner::Policy::kLoadAware).server, 1u);
}

}  // namespace
}  // namespace edgeinfer

// edgeinfer plan MODEL --collab SPEEDS: the collaborative planner's stages and segment heights
// (planner/collab_plan.h) for servers of the given relative speeds.
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "core/units.h"
#include "onnx/onnx_io.h"
#include "ops/passes.h"
#include "planner/collab_plan.h"

namespace edgeinfer::tools {

int PlanCollab(const Args& args) {
  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "edgeinfer plan: %s (see --help)\n", message.c_str());
    return 2;
  };
  if (args.positionals().size() != 1) return usage("expected one MODEL argument");
  for (const char* flag : {"--load", "--queue-ms", "--policy", "--compression", "--edge",
                           "--server-speedup", "--device-slowdown", "--input"}) {
    if (args.Has(flag)) return usage(std::string(flag) + " does not apply to --collab");
  }
  std::vector<planner::CollabServer> servers;
  const std::string speeds = args.Get("--collab");
  size_t start = 0;
  while (start <= speeds.size()) {
    size_t end = speeds.find(',', start);
    if (end == std::string::npos) end = speeds.size();
    Result<double> speed = ParseNumber(speeds.substr(start, end - start), "--collab speed");
    if (!speed.ok()) return usage(speed.status().message());
    if (!(*speed > 0.0)) return usage("--collab speeds must be positive");
    planner::CollabServer server;
    server.speed = *speed;
    servers.push_back(server);
    start = end + 1;
  }
  double mbit = 1000.0, rtt_ms = 0.0, gflops = 50.0;
  if (args.Has("--bandwidth")) {
    Result<double> rate = ParseRate(args.Get("--bandwidth"));
    if (!rate.ok() || !(*rate > 0)) return usage("--bandwidth: expected a positive rate");
    mbit = *rate / 1e6;
  }
  if (args.Has("--rtt")) {
    Result<double> rtt = ParseDurationMs(args.Get("--rtt"));
    if (!rtt.ok()) return usage("--rtt: " + rtt.status().message());
    rtt_ms = *rtt;
  }
  if (args.Has("--host-gflops")) {
    Result<double> g = ParseNumber(args.Get("--host-gflops"), "--host-gflops");
    if (!g.ok() || !(*g > 0.0)) return usage("--host-gflops must be positive");
    gflops = *g;
  }
  for (size_t i = 1; i < servers.size(); ++i) {
    servers[i].bandwidth_mbit = mbit;
    servers[i].rtt_ms = rtt_ms;
  }
  Result<planner::CollabScheme> scheme =
      planner::ParseCollabScheme(args.Get("--collab-scheme", "halp"));
  if (!scheme.ok()) return usage("--collab-scheme: " + scheme.status().message());

  const std::string model = args.positionals()[0];
  auto fail = [&](const Status& s) {
    std::fprintf(stderr, "edgeinfer plan: %s: %s\n", model.c_str(), s.ToString().c_str());
    return 1;
  };
  Result<Graph> graph = ImportOnnxFile(model);
  if (!graph.ok()) return fail(graph.status());
  std::map<std::string, Shape> shapes;
  for (ValueId id : graph->inputs()) {
    const Value& v = graph->value(id);
    if (!v.shape_known()) {
      return fail(Status::InvalidArgument("input '" + v.name +
                                          "' has a dynamic shape; --collab needs static shapes"));
    }
    shapes[v.name] = v.shape;
  }
  if (Status s = Specialize(&*graph, shapes); !s.ok()) return fail(s);
  Result<planner::CollabModel> analysed = planner::AnalyseCollab(*graph, *scheme);
  if (!analysed.ok()) return fail(analysed.status());
  const planner::CollabPlan plan = planner::PlanCollab(*analysed, servers, 1e3 / gflops, *scheme);
  if (args.Has("--json")) {
    nlohmann::json j;
    j["scheme"] = planner::CollabSchemeName(*scheme);
    j["servers"] = servers.size();
    j["predicted_ms"] = plan.predicted_ms;
    j["host_alone_ms"] = plan.host_alone_ms;
    j["servers_used"] = plan.servers_used;
    j["why_none"] = analysed->why_none;
    j["stages"] = nlohmann::json::array();
    for (size_t s = 0; s < plan.stages.size(); ++s) {
      const planner::CollabStage& st = analysed->stages[s];
      j["stages"].push_back({{"input", st.input},
                             {"output", st.output},
                             {"in_height", st.in_height},
                             {"out_height", st.out_height},
                             {"nodes", st.nodes},
                             {"heights", plan.stages[s].rows},
                             {"predicted_ms", plan.stages[s].predicted_ms}});
    }
    std::cout << j.dump() << std::endl;
    return 0;
  }
  std::printf(
      "collaborative plan (%s) for %zu servers, speeds %s, links %.0f Mbit/s RTT %.2f ms, "
      "host %.0f GFLOP/s\n",
      planner::CollabSchemeName(*scheme), servers.size(), speeds.c_str(), mbit, rtt_ms, gflops);
  if (analysed->stages.empty()) {
    std::printf("no stages: %s; the host runs the whole model\n", analysed->why_none.c_str());
    return 0;
  }
  std::printf("%s", planner::DescribeCollabPlan(*analysed, plan).c_str());
  return 0;
}

}  // namespace edgeinfer::tools

// edgeinfer plan: predicted latency of every cut of a model under given link and load
// conditions, and the cut each policy picks.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "core/units.h"
#include "edgeinfer/session.h"
#include "inputs.h"
#include "net/client.h"
#include "onnx/onnx_io.h"
#include "ops/passes.h"
#include "planner/cost_table.h"
#include "planner/planner.h"
#include "planner/profile_cache.h"

namespace edgeinfer::tools {

namespace {

constexpr char kUsage[] =
    "usage: edgeinfer plan MODEL.onnx --bandwidth RATE [--rtt TIME] [--load K] [--queue-ms Q]\n"
    "                      [--threads N] [--repeat N] [--input SPEC] [--seed N]\n"
    "                      [--device-slowdown X] [--server-speedup X | --edge HOST:PORT\n"
    "                      [--token T] [--tls-ca FILE] [--timeout-ms MS]] [--policy P]\n"
    "                      [--compression lz4|zstd --compress-ratio R [--compress-speed MB/s]]\n"
    "                      [--no-cache] [--all] [--json]\n"
    "       edgeinfer plan MODEL.onnx --collab SPEED,SPEED,... [--collab-scheme halp|modnn]\n"
    "                      [--bandwidth RATE] [--rtt TIME] [--host-gflops G] [--json]\n\n"
    "Profiles MODEL on this machine (cached per model, machine, threads and input shapes; see\n"
    "docs/planner.md) and predicts the latency of every cut (remote, split:N with the first N\n"
    "nodes in topological order on the device and the rest on an edge server, local):\n"
    "  total = device + upload/bandwidth + RTT + K x server + Q + download/bandwidth\n\n"
    "  --bandwidth RATE       link rate, both directions: 20mbit, 500kbit, 1gbit, or bit/s\n"
    "  --rtt TIME             round-trip time: 10ms, 200us, 0.01s (default 0)\n"
    "  --load K               server load factor: its compute / its unloaded profile (default 1)\n"
    "  --queue-ms Q           server queue time in ms (default 0)\n"
    "  --threads N            device kernel threads for the profile (default 1)\n"
    "  --repeat N             profile repeats, median taken (default 10)\n"
    "  --device-slowdown X    device compute x X, to emulate a weaker device (default 1)\n"
    "  --server-speedup X     the server profile is the device profile / X (default 1)\n"
    "  --edge HOST:PORT       take the server profile from this edge server instead (uploading\n"
    "                         the model if it lacks it); grpc://HOST:PORT or grpcs://HOST:PORT\n"
    "                         also accepted. Not with --server-speedup\n"
    "  --token T              bearer token for --edge (default: $EDGEINFER_TOKEN)\n"
    "  --tls-ca FILE          TLS to --edge, trusting the CA in FILE (default: $EDGEINFER_TLS_CA)\n"
    "  --timeout-ms MS        deadline of each call to --edge (default 30000)\n"
    "  --policy P             also mark the pick of local, remote, fixed:N or split:N, auto or\n"
    "                         loadaware, auto-noload or neurosurgeon\n"
    "  --compression CODEC    let cuts upload compressed with CODEC at --compress-ratio R\n"
    "                         (compressed / raw bytes) and --compress-speed MB/s (default 500);\n"
    "                         decompression is counted free\n"
    "  --no-cache             always profile, ignore the profile cache\n"
    "  --all                  print every cut (default: the cuts that win for some load K, plus\n"
    "                         local, remote and the chosen ones)\n"
    "  --json                 everything machine-readable, every cut\n\n"
    "Marks: auto = load-aware choice (LoADPart), noload = Neurosurgeon (K=1, Q=0), env = on the\n"
    "lower envelope over K. The server profile is the edge server's own load-time profile with\n"
    "--edge, else this machine's profile / --server-speedup.\n\n"
    "--collab: the collaborative mode's plan (docs/planner.md \"Collaborative mode\") for\n"
    "servers of these relative speeds, the host first: the stages (layers between two\n"
    "synchronisation points), each server's output rows per stage and the predicted time, with\n"
    "every host-peer link at --bandwidth (default 1gbit) and --rtt (default 0), and the host\n"
    "computing --host-gflops GFLOP/s (default 50). No profiling.\n";

int Usage(const std::string& message) {
  std::fprintf(stderr, "edgeinfer plan: %s (see --help)\n", message.c_str());
  return 2;
}

Result<std::string> ReadModel(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open model file '" + path + "'");
  std::ostringstream data;
  data << in.rdbuf();
  if (in.bad()) return Status::DataLoss("cannot read model file '" + path + "'");
  return data.str();
}

// `value`, or environment variable `name` when `value` is empty.
std::string EnvOr(const std::string& value, const char* name) {
  if (!value.empty()) return value;
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// The edge server's load-time per-step profile of the model in `bytes`, uploading the model
// when the server lacks it (as mode auto does at open). Errors name the server's address.
Result<std::vector<NodeProfile>> EdgeProfile(const net::EdgeClientOptions& options,
                                             const std::string& bytes) {
  Result<std::unique_ptr<net::EdgeClient>> client = net::EdgeClient::Connect(options);
  if (!client.ok()) return client.status().WithContext("edge server " + options.address);
  Result<std::string> name = (*client)->EnsureModel(bytes);
  if (!name.ok()) return name.status().WithContext("uploading the model");
  Result<std::vector<NodeProfile>> profile = (*client)->ServerProfile(*name);
  if (!profile.ok()) return profile.status().WithContext("the server's profile");
  return profile;
}

// "a", "a,b" or "a,b,+3" for more than three crossing tensors, at most `width` characters.
std::string Abbreviate(const std::vector<std::string>& tensors, size_t width) {
  if (tensors.empty()) return "-";
  std::string s;
  const size_t shown = std::min<size_t>(tensors.size(), 2);
  for (size_t i = 0; i < shown; ++i) s += (i ? "," : "") + tensors[i];
  if (tensors.size() > shown) s += ",+" + std::to_string(tensors.size() - shown);
  if (s.size() > width) s = s.substr(0, width - 2) + "..";
  return s;
}

struct Flags {
  double bandwidth_mbit = 0.0;
  double rtt_ms = 0.0;
  double load = 1.0;
  double queue_ms = 0.0;
  double device_slowdown = 1.0;
  double server_speedup = 1.0;
  double compress_ratio = 1.0;
  double compress_speed = 500.0;
};

// Parses the numeric flags; returns "" or the error message.
std::string ParseFlags(const Args& args, Flags* f) {
  if (!args.Has("--bandwidth")) return "--bandwidth is required (e.g. --bandwidth 20mbit)";
  auto rate = ParseRate(args.Get("--bandwidth"));
  if (!rate.ok()) return "--bandwidth: " + rate.status().message();
  if (!(*rate > 0)) return "--bandwidth must be positive, got '" + args.Get("--bandwidth") + "'";
  f->bandwidth_mbit = *rate / 1e6;
  auto rtt = ParseDurationMs(args.Get("--rtt", "0"));
  if (!rtt.ok()) return "--rtt: " + rtt.status().message();
  f->rtt_ms = *rtt;
  struct Positive {
    const char* flag;
    double* out;
    bool zero_ok;
  };
  const Positive numbers[] = {{"--load", &f->load, false},
                              {"--queue-ms", &f->queue_ms, true},
                              {"--device-slowdown", &f->device_slowdown, false},
                              {"--server-speedup", &f->server_speedup, false},
                              {"--compress-ratio", &f->compress_ratio, false},
                              {"--compress-speed", &f->compress_speed, false}};
  for (const Positive& p : numbers) {
    if (!args.Has(p.flag)) continue;
    auto v = ParseNumber(args.Get(p.flag), p.flag);
    if (!v.ok()) return v.status().message();
    if (p.zero_ok ? *v < 0.0 : !(*v > 0.0)) {
      return std::string(p.flag) + " must be " + (p.zero_ok ? "non-negative" : "positive") +
             ", got '" + args.Get(p.flag) + "'";
    }
    *p.out = *v;
  }
  if (args.Has("--compression")) {
    const std::string codec = args.Get("--compression");
    if (codec != "lz4" && codec != "zstd") {
      return "--compression must be lz4 or zstd, got '" + codec + "'";
    }
    if (!args.Has("--compress-ratio")) return "--compression needs --compress-ratio R";
  } else if (args.Has("--compress-ratio") || args.Has("--compress-speed")) {
    return "--compress-ratio and --compress-speed need --compression";
  }
  return "";
}

nlohmann::json PredictionJson(const planner::Prediction& p, int node_count) {
  return {{"cut", planner::CutAt(p.device_nodes, node_count).ToString()},
          {"device_nodes", p.device_nodes},
          {"total_ms", p.total_ms},
          {"device_ms", p.device_ms},
          {"upload_ms", p.upload_ms},
          {"rtt_ms", p.rtt_ms},
          {"server_ms", p.server_ms},
          {"download_ms", p.download_ms},
          {"compress", p.compress}};
}

}  // namespace

int PlanCommand(int argc, char** argv) {
  Args args(
      {"--bandwidth", "--rtt", "--load", "--queue-ms", "--threads", "--repeat", "--input", "--seed",
       "--device-slowdown", "--server-speedup", "--policy", "--compression", "--compress-ratio",
       "--compress-speed", "--edge", "--token", "--tls-ca", "--timeout-ms", "--collab",
       "--collab-scheme", "--host-gflops"},
      {"--json", "--all", "--no-cache", "--help", "-h"});
  if (!args.Parse(argc, argv)) return Usage(args.error());
  if (args.Has("--help") || args.Has("-h")) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (args.Has("--collab")) return PlanCollab(args);
  if (args.Has("--collab-scheme") || args.Has("--host-gflops")) {
    return Usage("--collab-scheme and --host-gflops need --collab");
  }
  if (args.positionals().size() != 1) return Usage("expected one MODEL argument");
  Flags f;
  if (std::string error = ParseFlags(args, &f); !error.empty()) return Usage(error);
  long long threads, repeat, seed, timeout_ms;
  if (!args.GetInt("--threads", 1, &threads) || !args.GetInt("--repeat", 10, &repeat) ||
      !args.GetInt("--seed", 0, &seed) || !args.GetInt("--timeout-ms", 30000, &timeout_ms)) {
    return Usage(args.error());
  }
  if (threads < 1 || threads > 1024) return Usage("--threads must be in [1, 1024]");
  if (repeat < 1 || repeat > 100000) return Usage("--repeat must be in [1, 100000]");
  const bool edge = args.Has("--edge");
  net::EdgeClientOptions client;
  if (edge) {
    if (args.Has("--server-speedup")) {
      return Usage(
          "--edge and --server-speedup exclude each other: with --edge the server profile is "
          "the edge server's own");
    }
    if (timeout_ms < 1 || timeout_ms > INT32_MAX) return Usage("--timeout-ms must be >= 1");
    client.token = EnvOr(args.Get("--token"), "EDGEINFER_TOKEN");
    client.tls_ca_file = EnvOr(args.Get("--tls-ca"), "EDGEINFER_TLS_CA");
    client.timeout_ms = static_cast<int>(timeout_ms);
    if (Status s = net::ParseEndpoint(args.Get("--edge"), &client); !s.ok()) {
      return Usage("--edge: " + s.message());
    }
  } else if (args.Has("--token") || args.Has("--tls-ca") || args.Has("--timeout-ms")) {
    return Usage("--token, --tls-ca and --timeout-ms need --edge");
  }
  const std::string server_source =
      edge ? "edge " + client.address : std::string("device/server-speedup");
  planner::Policy policy = planner::Policy::kLoadAware;
  int fixed_device_nodes = 0;
  if (args.Has("--policy")) {
    auto parsed = planner::ParsePolicy(args.Get("--policy"), &fixed_device_nodes);
    if (!parsed.ok()) return Usage("--policy: " + parsed.status().message());
    policy = *parsed;
  }

  const std::string model = args.positionals()[0];
  auto fail = [&](const Status& s) {
    std::fprintf(stderr, "edgeinfer plan: %s: %s\n", model.c_str(), s.ToString().c_str());
    return 1;
  };
  auto bytes = ReadModel(model);
  if (!bytes.ok()) return fail(bytes.status());
  const std::string base_dir = std::filesystem::path(model).parent_path().string();
  SessionOptions options;
  options.threads = static_cast<int>(threads);
  options.mode = ExecutionMode::kLocal;
  auto session = Session::OpenFromBytes(*bytes, base_dir.empty() ? "." : base_dir, options);
  if (!session.ok()) return fail(session.status());
  auto inputs =
      BuildInputs((*session)->inputs(), args.GetAll("--input"), static_cast<uint64_t>(seed));
  if (!inputs.ok()) return fail(inputs.status());

  // The graph the session compiles for these inputs, so profile steps match its node names.
  ImportOptions import;
  import.base_dir = base_dir.empty() ? "." : base_dir;
  auto graph = ImportOnnx(*bytes, import);
  if (!graph.ok()) return fail(graph.status());
  std::map<std::string, Shape> shapes;
  for (const NamedTensor& in : *inputs) shapes[in.name] = in.tensor.shape();
  if (Status s = Specialize(&*graph, shapes); !s.ok()) return fail(s);

  // The edge server before the device profile, which may take a while: a wrong address fails
  // at once.
  std::vector<NodeProfile> server;
  if (edge) {
    auto profile = EdgeProfile(client, *bytes);
    if (!profile.ok()) return fail(profile.status());
    server = std::move(profile).value();
  }

  planner::ProfileCacheOptions cache;
  cache.enabled = !args.Has("--no-cache");
  bool from_cache = false;
  auto device = planner::LoadOrProfile(**session, *bytes, *inputs, static_cast<int>(threads),
                                       static_cast<int>(repeat), cache, &from_cache);
  if (!device.ok()) return fail(device.status());
  if (!edge) {
    server = *device;
    for (NodeProfile& p : server) p.median_ms /= f.server_speedup;
  }
  auto table = planner::BuildCostTable(*graph, *device, server);
  if (!table.ok()) return fail(table.status());

  planner::CompressionModel compression;
  planner::Conditions conditions;
  conditions.bandwidth_mbit = f.bandwidth_mbit;
  conditions.rtt_ms = f.rtt_ms;
  conditions.load_factor = f.load;
  conditions.queue_ms = f.queue_ms;
  conditions.device_speed = f.device_slowdown;
  if (args.Has("--compression")) {
    compression.codec = args.Get("--compression");
    compression.compress_mb_per_s = f.compress_speed;
    compression.default_ratio = f.compress_ratio;
    conditions.compression = &compression;
  }

  const std::vector<planner::Prediction> all = planner::PredictAll(*table, conditions);
  const planner::Prediction chosen =
      planner::Decide(*table, conditions, planner::Policy::kLoadAware);
  const planner::Prediction noload =
      planner::Decide(*table, conditions, planner::Policy::kNeurosurgeon);
  const planner::Prediction picked =
      planner::Decide(*table, conditions, policy, fixed_device_nodes);
  const std::vector<int> envelope = planner::LoadEnvelope(*table, conditions);
  const std::set<int> on_envelope(envelope.begin(), envelope.end());
  const int last = table->node_count;

  if (args.Has("--json")) {
    nlohmann::json cuts = nlohmann::json::array();
    for (size_t i = 0; i < all.size(); ++i) {
      const planner::CutCost& c = table->cuts[i];
      nlohmann::json row = PredictionJson(all[i], last);
      row["tensors"] = c.tensors;
      row["tensor_bytes"] = c.tensor_bytes;
      row["upload_bytes"] = c.upload_bytes;
      row["download_bytes"] = c.download_bytes;
      row["all_local"] = c.all_local;
      row["on_load_envelope"] = on_envelope.count(static_cast<int>(i)) > 0;
      cuts.push_back(std::move(row));
    }
    nlohmann::json j = {
        {"model", model},
        {"threads", threads},
        {"nodes", last},
        {"profile_from_cache", from_cache},
        {"server_profile", server_source},
        {"conditions",
         {{"bandwidth_mbit", f.bandwidth_mbit},
          {"rtt_ms", f.rtt_ms},
          {"load_factor", f.load},
          {"queue_ms", f.queue_ms},
          {"device_slowdown", f.device_slowdown},
          {"server_speedup", edge ? nlohmann::json(nullptr) : nlohmann::json(f.server_speedup)},
          {"compression", compression.codec},
          {"compress_ratio", compression.codec.empty() ? 1.0 : f.compress_ratio}}},
        {"auto", PredictionJson(chosen, last)},
        {"auto_noload", PredictionJson(noload, last)},
        {"policy",
         {{"name", args.Get("--policy", "auto")}, {"choice", PredictionJson(picked, last)}}},
        {"load_envelope", envelope},
        {"cuts", cuts}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    return 0;
  }

  std::printf("%s: %d nodes, %d cuts; device profile %s (%lld threads)\n", model.c_str(), last,
              last + 1, from_cache ? "from cache" : "measured", threads);
  char server_text[64];
  std::snprintf(server_text, sizeof server_text, "/%.2f", f.server_speedup);
  std::printf(
      "bandwidth %.3f Mbit/s, RTT %.3f ms, load K=%.2f, queue Q=%.3f ms, device x%.2f, "
      "server %s%s\n\n",
      f.bandwidth_mbit, f.rtt_ms, f.load, f.queue_ms, f.device_slowdown,
      edge ? ("profiled by edge " + client.address).c_str() : server_text,
      compression.codec.empty() ? "" : (", " + compression.codec + " allowed").c_str());
  std::printf("%-10s  %-32s %10s %10s %10s %10s %10s %10s  %s\n", "cut", "crossing tensors",
              "upload KB", "device ms", "upload ms", "server ms", "down ms", "total ms", "marks");
  int hidden = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const int device_nodes = static_cast<int>(i);
    std::string marks;
    if (device_nodes == chosen.device_nodes) marks += " auto";
    if (device_nodes == noload.device_nodes) marks += " noload";
    if (args.Has("--policy") && device_nodes == picked.device_nodes) {
      marks += " " + args.Get("--policy");
    }
    if (on_envelope.count(device_nodes)) marks += " env";
    if (device_nodes == 0) marks += " remote";
    if (device_nodes == last) marks += " local";
    if (!args.Has("--all") && marks.empty()) {
      ++hidden;
      continue;
    }
    if (all[i].compress) marks += " " + compression.codec;
    const planner::CutCost& c = table->cuts[i];
    const planner::Prediction& p = all[i];
    std::printf("%-10s  %-32s %10.1f %10.3f %10.3f %10.3f %10.3f %10.3f %s\n",
                planner::CutAt(device_nodes, last).ToString().c_str(),
                Abbreviate(c.tensors, 32).c_str(), static_cast<double>(c.upload_bytes) / 1024.0,
                p.device_ms, p.upload_ms, p.server_ms, p.download_ms, p.total_ms, marks.c_str());
  }
  if (hidden > 0) std::printf("(%d other cuts not shown; --all prints every cut)\n", hidden);
  auto cut_text = [&](const planner::Prediction& p) {
    return planner::CutAt(p.device_nodes, last).ToString();
  };
  std::printf("\nauto (load-aware):     cut %s, predicted %.3f ms\n", cut_text(chosen).c_str(),
              chosen.total_ms);
  std::printf("auto-noload (Neurosurgeon): cut %s, predicted %.3f ms under K=%.2f Q=%.3f\n",
              cut_text(noload).c_str(), noload.total_ms, f.load, f.queue_ms);
  if (args.Has("--policy")) {
    std::printf("%s: cut %s, predicted %.3f ms\n", args.Get("--policy").c_str(),
                cut_text(picked).c_str(), picked.total_ms);
  }
  return 0;
}

}  // namespace edgeinfer::tools

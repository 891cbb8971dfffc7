// edgeinfer serve: the edge server (KServe v2 / Triton gRPC and HTTP, model repository).
#include <csignal>
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "core/units.h"
#include "net/memory_policy.h"
#include "remoting/server.h"
#include "server/auth.h"
#include "server/server.h"
#include "testbed/cpu_quota.h"

namespace edgeinfer::tools {

namespace {

constexpr char kUsage[] =
    "usage: edgeinfer serve [--repository DIR] [--grpc HOST:PORT] [--http HOST:PORT|none]\n"
    "                       [--threads N] [--workers N] [--max-queue N]\n"
    "                       [--max-message-bytes N] [--max-model-bytes N] [--token-file FILE]\n"
    "                       [--tls-cert FILE --tls-key FILE] [--allow-upload]\n"
    "                       [--max-model-nodes N] [--http-max-connections N]\n"
    "                       [--http-max-connections-per-client N] [--http-request-timeout-ms "
    "MS]\n"
    "                       [--peers HOST:PORT,... [--peer-timeout-ms MS]\n"
    "                       [--collab-scheme halp|modnn] [--collab-speeds S,S,...]]\n"
    "                       [--cpu-quota CORES]\n"
    "                       [--remoting HOST:PORT [--remoting-executor gpu|cpu|auto]]\n\n"
    "Serves ONNX models over the KServe v2 protocol (gRPC, default 0.0.0.0:8001; HTTP/REST\n"
    "with Prometheus /metrics, default 0.0.0.0:8000). DIR holds NAME/VERSION/model.onnx.\n"
    "Requests run on N workers with --threads kernel threads each, behind a queue of\n"
    "--max-queue waiting requests (default 64). Port 0 picks a free port. Once ready it\n"
    "prints 'edgeinfer serve: listening grpc=HOST:PORT http=HOST:PORT'. SIGINT/SIGTERM stop it.\n"
    "--token-file: one bearer token a line; requests need 'authorization: Bearer <token>'.\n"
    "--allow-upload: accept models in RepositoryModelLoad (off by default).\n"
    "Limits default to 1 GiB for messages and models and 10000 nodes a model. HTTP admits\n"
    "256 connections (32 per client address; more are answered 503) and closes one that\n"
    "takes over 30000 ms to send a request.\n"
    "--peers: act as a collaborative host (HALP): a request with edgeinfer_collab (the device's\n"
    "--mode collab) is cut into row bands stage by stage and run here and on these edge servers\n"
    "(which need --allow-upload, or the model in their repository); a peer that fails or takes\n"
    "over --peer-timeout-ms (default 5000) is recomputed here and skipped until it answers a\n"
    "probe. --collab-scheme modnn: the MoDNN baseline (a stage per layer, halos sent). A server\n"
    "listing itself is refused. --collab-speeds 1,0.5,...: a static plan with these relative\n"
    "speeds (this server first, then each peer) and free links, instead of measuring them.\n"
    "--cpu-quota CORES: hold this server to CORES CPUs with a cgroup quota (root), to emulate\n"
    "edge servers of unequal speeds on one machine (bench_collab).\n"
    "--remoting: also serve CUDA API remoting (docs/remoting.md) to programs run with\n"
    "'edgeinfer cuda-run'; --token-file applies to it too. --remoting-executor: gpu (the\n"
    "server's GPU), cpu (memory, cuBLAS and cuDNN calls on the CPU; no user kernels) or auto\n"
    "(default: gpu when usable, else cpu). With --grpc none --http none only remoting runs.\n";

std::string HostOf(const std::string& address) {
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace

int ServeCommand(int argc, char** argv) {
  // Large tensors would otherwise be faulted into fresh pages on every request.
  net::RetainLargeAllocations();
  Args args({"--repository", "--grpc", "--http", "--threads", "--workers", "--max-queue",
             "--max-message-bytes", "--max-model-bytes", "--token-file", "--tls-cert", "--tls-key",
             "--max-model-nodes", "--http-max-connections", "--http-max-connections-per-client",
             "--http-request-timeout-ms", "--peers", "--peer-timeout-ms", "--collab-scheme",
             "--collab-speeds", "--cpu-quota", "--remoting", "--remoting-executor"},
            {"--allow-upload", "--help", "-h"});
  if (!args.Parse(argc, argv)) {
    std::fprintf(stderr, "edgeinfer serve: %s (see --help)\n", args.error().c_str());
    return 2;
  }
  if (args.Has("--help") || args.Has("-h")) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (!args.positionals().empty()) {
    std::fprintf(stderr, "edgeinfer serve: unexpected argument '%s' (see --help)\n",
                 args.positionals()[0].c_str());
    return 2;
  }
  server::ServerOptions options;
  long long threads, workers, max_queue, max_message, max_model, max_nodes, http_connections,
      http_per_client, http_timeout, peer_timeout;
  if (!args.GetInt("--threads", 0, &threads) || !args.GetInt("--workers", 1, &workers) ||
      !args.GetInt("--max-queue", 64, &max_queue) ||
      !args.GetInt("--max-message-bytes", options.max_message_bytes, &max_message) ||
      !args.GetInt("--max-model-bytes", options.max_model_bytes, &max_model) ||
      !args.GetInt("--max-model-nodes", options.max_model_nodes, &max_nodes) ||
      !args.GetInt("--http-max-connections", options.http_max_connections, &http_connections) ||
      !args.GetInt("--http-max-connections-per-client", options.http_max_connections_per_client,
                   &http_per_client) ||
      !args.GetInt("--http-request-timeout-ms", options.http_request_timeout_ms, &http_timeout) ||
      !args.GetInt("--peer-timeout-ms", options.peer_timeout_ms, &peer_timeout)) {
    std::fprintf(stderr, "edgeinfer serve: %s\n", args.error().c_str());
    return 2;
  }
  options.grpc_address = args.Get("--grpc", options.grpc_address);
  options.http_address = args.Get("--http", options.http_address);
  if (options.http_address == "none") options.http_address.clear();
  options.repository = args.Get("--repository");
  options.threads = static_cast<int>(threads);
  options.workers = static_cast<int>(workers);
  options.max_queue = static_cast<int>(max_queue);
  options.max_message_bytes = max_message;
  options.max_model_bytes = max_model;
  options.max_model_nodes = max_nodes;
  options.http_max_connections = static_cast<int>(http_connections);
  options.http_max_connections_per_client = static_cast<int>(http_per_client);
  options.http_request_timeout_ms = http_timeout;
  options.token_file = args.Get("--token-file");
  options.tls_cert = args.Get("--tls-cert");
  options.tls_key = args.Get("--tls-key");
  options.allow_upload = args.Has("--allow-upload");
  options.peers = args.Get("--peers");
  options.peer_timeout_ms = static_cast<int>(peer_timeout);
  options.collab_scheme = args.Get("--collab-scheme", options.collab_scheme);
  options.collab_speeds = args.Get("--collab-speeds");
  if ((args.Has("--peer-timeout-ms") || args.Has("--collab-scheme") ||
       args.Has("--collab-speeds")) &&
      options.peers.empty()) {
    std::fprintf(stderr,
                 "edgeinfer serve: --peer-timeout-ms, --collab-scheme and --collab-speeds need "
                 "--peers\n");
    return 2;
  }

  if (args.Has("--cpu-quota")) {
    // Before any thread starts, so that every thread of the server is held to it.
    Result<double> cores = ParseNumber(args.Get("--cpu-quota"), "--cpu-quota");
    if (!cores.ok()) {
      std::fprintf(stderr, "edgeinfer serve: %s\n", cores.status().ToString().c_str());
      return 2;
    }
    if (Status limited = LimitCpu(*cores); !limited.ok()) {
      std::fprintf(stderr, "edgeinfer serve: --cpu-quota: %s\n", limited.ToString().c_str());
      return 1;
    }
  }
  // Signals are blocked in every thread (the server's threads inherit the mask) and taken
  // synchronously here, so shutdown runs in an ordinary thread, not a signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const bool kserve = options.grpc_address != "none";
  if (!kserve && !options.http_address.empty()) {
    std::fprintf(stderr, "edgeinfer serve: --grpc none needs --http none (remoting only)\n");
    return 2;
  }
  if (!kserve && !args.Has("--remoting")) {
    std::fprintf(stderr, "edgeinfer serve: nothing to serve (--grpc none without --remoting)\n");
    return 2;
  }
  if (args.Has("--remoting-executor") && !args.Has("--remoting")) {
    std::fprintf(stderr, "edgeinfer serve: --remoting-executor needs --remoting\n");
    return 2;
  }

  remoting::RemotingServer remote;
  std::string remoting_line;
  if (args.Has("--remoting")) {
    remoting::RemotingServerOptions remoting_options;
    remoting_options.address = args.Get("--remoting");
    remoting_options.executor = args.Get("--remoting-executor", "auto");
    if (!options.token_file.empty()) {
      Result<std::set<std::string>> tokens = server::LoadTokens(options.token_file);
      if (!tokens.ok()) {
        std::fprintf(stderr, "edgeinfer serve: %s\n", tokens.status().ToString().c_str());
        return 1;
      }
      remoting_options.tokens = *tokens;
    }
    Status remoting_started = remote.Start(remoting_options);
    if (!remoting_started.ok()) {
      std::fprintf(stderr, "edgeinfer serve: %s\n", remoting_started.ToString().c_str());
      return 1;
    }
    remoting_line = " remoting=" + HostOf(remoting_options.address) + ":" +
                    std::to_string(remote.port()) + " executor=" + remote.executor_name();
  }

  server::EdgeServer edge;
  if (kserve) {
    Status started = edge.Start(options);
    if (!started.ok()) {
      std::fprintf(stderr, "edgeinfer serve: %s\n", started.ToString().c_str());
      return 1;
    }
    const server::ServerPorts ports = edge.ports();
    std::string http = "off";
    if (ports.http > 0) http = HostOf(options.http_address) + ":" + std::to_string(ports.http);
    std::printf("edgeinfer serve: listening grpc=%s:%d http=%s%s\n",
                HostOf(options.grpc_address).c_str(), ports.grpc, http.c_str(),
                remoting_line.c_str());
  } else {
    std::printf("edgeinfer serve: listening%s\n", remoting_line.c_str());
  }
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::fprintf(stderr, "edgeinfer serve: signal %d, shutting down\n", signal_number);
  if (kserve) edge.Shutdown();
  remote.Shutdown();
  return 0;
}

}  // namespace edgeinfer::tools

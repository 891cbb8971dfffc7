#include "runtime/offload_config.h"

#include <cstdlib>

#include "net/endpoint_pool.h"

namespace edgeinfer {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string OrEnv(const std::string& value, const char* name) {
  return value.empty() ? Env(name) : value;
}

}  // namespace

Result<OffloadConfig> ResolveOffloadConfig(const SessionOptions& options) {
  OffloadConfig config;
  if (options.mode == ExecutionMode::kLocal) return config;
  const std::string accelerator = OrEnv(options.accelerator, "EDGEINFER_ACCELERATOR");
  if (options.mode.has_value()) {
    config.mode = *options.mode;
    config.cut = options.cut;
  } else if (const std::string text = Env("EDGEINFER_MODE"); !text.empty()) {
    Status parsed = ParseExecutionMode(text, &config.mode, &config.cut);
    if (!parsed.ok()) return parsed.WithContext("EDGEINFER_MODE");
  } else {
    config.mode = accelerator.empty() ? ExecutionMode::kLocal : ExecutionMode::kRemote;
  }
  if (config.mode == ExecutionMode::kLocal) return config;
  const std::string mode = ExecutionModeText(config.mode, config.cut);
  if (config.mode == ExecutionMode::kSplit && config.cut.kind() != Cut::Kind::kAfterNodes &&
      config.cut.kind() != Cut::Kind::kAtTensors) {
    return Status::InvalidArgument(
        "session mode split needs a cut: SessionOptions::cut = Cut::AfterNodes(N) or "
        "Cut::AtTensors({...}) (text form split:N or split:NAME[,NAME...])");
  }
  if (accelerator.empty()) {
    return Status::InvalidArgument("session mode '" + mode +
                                   "' needs an edge server: set SessionOptions::accelerator or "
                                   "EDGEINFER_ACCELERATOR=grpc://HOST:PORT");
  }
  config.client.token = OrEnv(options.token, "EDGEINFER_TOKEN");
  config.client.tls_ca_file = OrEnv(options.tls_ca_file, "EDGEINFER_TLS_CA");
  config.client.timeout_ms = options.timeout_ms;
  const std::string fallback = OrEnv(options.fallback, "EDGEINFER_FALLBACK");
  if (!fallback.empty() && fallback != "local") {
    return Status::InvalidArgument("fallback '" + fallback + "': expected 'local' or nothing");
  }
  config.fallback_local = fallback == "local";
  config.attempt_timeout_ms = options.attempt_timeout_ms;
  config.failover = config.fallback_local || net::IsEndpointList(accelerator);
  if (!config.failover) {
    EI_RETURN_IF_ERROR(net::ParseEndpoint(accelerator, &config.client));
    return config;
  }
  // A silent partition is noticed by keepalive within seconds, not at the deadline.
  config.client.keepalive_ms = 2000;
  EI_ASSIGN_OR_RETURN(config.servers, net::ParseEndpointList(accelerator, config.client));
  config.client = config.servers.front();
  return config;
}

}  // namespace edgeinfer

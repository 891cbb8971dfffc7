#include "runtime/offload_config.h"

#include <cstdlib>

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
  if (options.mode == "local") return config;
  const std::string accelerator = OrEnv(options.accelerator, "EDGEINFER_ACCELERATOR");
  std::string mode = OrEnv(options.mode, "EDGEINFER_MODE");
  if (mode.empty()) mode = accelerator.empty() ? "local" : "remote";
  if (mode == "local") return config;
  if (mode == "remote") {
    config.mode = OffloadConfig::Mode::kRemote;
  } else if (mode.rfind("split:", 0) == 0 && mode.size() > 6) {
    config.mode = OffloadConfig::Mode::kSplit;
    config.cut = mode.substr(6);
  } else if (mode == "auto") {
    config.mode = OffloadConfig::Mode::kAuto;
  } else if (mode == "auto-noload") {
    config.mode = OffloadConfig::Mode::kAutoNoLoad;
  } else {
    return Status::InvalidArgument("unknown session mode '" + mode +
                                   "' (expected local, remote, split:CUT, where CUT is "
                                   "comma-separated tensor names or a node index, auto or "
                                   "auto-noload)");
  }
  if (accelerator.empty()) {
    return Status::InvalidArgument("session mode '" + mode +
                                   "' needs an edge server: set SessionOptions::accelerator or "
                                   "EDGEINFER_ACCELERATOR=grpc://HOST:PORT");
  }
  config.client.token = OrEnv(options.token, "EDGEINFER_TOKEN");
  config.client.tls_ca_file = OrEnv(options.tls_ca_file, "EDGEINFER_TLS_CA");
  config.client.timeout_ms = options.timeout_ms;
  EI_RETURN_IF_ERROR(net::ParseEndpoint(accelerator, &config.client));
  return config;
}

}  // namespace edgeinfer

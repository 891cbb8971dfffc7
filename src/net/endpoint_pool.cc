#include "net/endpoint_pool.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

namespace edgeinfer::net {

namespace {

constexpr char kDnsScheme[] = "dns:///";

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

Clock::Duration Ms(double ms) {
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double, std::milli>(ms));
}

}  // namespace

Result<std::vector<std::string>> ResolveIpv4(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    return Status::Unavailable("cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  std::vector<std::string> addresses;
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    char text[INET_ADDRSTRLEN] = {};
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) == nullptr) continue;
    if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
      addresses.push_back(text);
    }
  }
  freeaddrinfo(list);
  return addresses;
}

bool IsEndpointList(const std::string& text) {
  return text.find(',') != std::string::npos || text.rfind(kDnsScheme, 0) == 0;
}

Result<std::vector<EdgeClientOptions>> ParseEndpointList(const std::string& text,
                                                         const EdgeClientOptions& base,
                                                         const HostResolver& resolve) {
  std::vector<std::string> items;
  if (text.rfind(kDnsScheme, 0) == 0) {
    const std::string target = text.substr(sizeof(kDnsScheme) - 1);
    const size_t colon = target.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == target.size() ||
        target.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
      return Status::InvalidArgument("accelerator endpoint '" + text +
                                     "': expected dns:///NAME:PORT with a numeric port");
    }
    const std::string host = target.substr(0, colon);
    EI_ASSIGN_OR_RETURN(std::vector<std::string> addresses, resolve(host));
    if (addresses.empty()) {
      return Status::Unavailable("accelerator endpoint '" + text + "': '" + host +
                                 "' has no IPv4 address");
    }
    for (const std::string& a : addresses) items.push_back(a + target.substr(colon));
  } else {
    size_t start = 0;
    while (true) {
      const size_t comma = text.find(',', start);
      items.push_back(
          Trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  std::vector<EdgeClientOptions> servers;
  std::set<std::string> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].empty()) {
      return Status::InvalidArgument("accelerator list '" + text + "': item " +
                                     std::to_string(i + 1) + " is empty");
    }
    EdgeClientOptions options = base;
    EI_RETURN_IF_ERROR(ParseEndpoint(items[i], &options));
    if (!seen.insert(options.address).second) {
      return Status::InvalidArgument("accelerator list '" + text + "' names server " +
                                     options.address + " twice");
    }
    servers.push_back(std::move(options));
  }
  return servers;
}

const char* ServerHealthName(ServerHealth health) {
  switch (health) {
    case ServerHealth::kHealthy:
      return "healthy";
    case ServerHealth::kSuspect:
      return "suspect";
    case ServerHealth::kDown:
      return "down";
  }
  return "?";
}

EndpointPool::EndpointPool(std::vector<Server> servers, PoolOptions options)
    : servers_(std::move(servers)),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : RealClock()),
      states_(servers_.size()) {}

Result<std::unique_ptr<EndpointPool>> EndpointPool::Create(
    const std::vector<EdgeClientOptions>& servers, PoolOptions options) {
  if (servers.empty()) return Status::InvalidArgument("endpoint pool: no servers");
  std::vector<Server> built;
  for (const EdgeClientOptions& o : servers) {
    Server s;
    EI_ASSIGN_OR_RETURN(s.client, EdgeClient::Connect(o));
    EdgeClientOptions probe = o;
    probe.timeout_ms = std::min(o.timeout_ms, std::max(1, options.probe_timeout_ms));
    EI_ASSIGN_OR_RETURN(s.prober, EdgeClient::Connect(probe));
    built.push_back(std::move(s));
  }
  return std::unique_ptr<EndpointPool>(new EndpointPool(std::move(built), options));
}

ServerHealth EndpointPool::health(size_t i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return states_[i].health;
}

bool EndpointPool::Eligible(const State& s, Clock::TimePoint now) const {
  return s.health != ServerHealth::kDown || now >= s.retry_at;
}

std::vector<size_t> EndpointPool::Candidates() {
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = states_.size();
  const size_t first = static_cast<size_t>(rotation_++ % n);
  std::vector<size_t> order;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (first + k) % n;
    if (Eligible(states_[i], now)) order.push_back(i);
  }
  // Stable: among equals the rotation decides.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const State& x = states_[a];
    const State& y = states_[b];
    if (x.health != y.health) return static_cast<int>(x.health) < static_cast<int>(y.health);
    return x.in_flight < y.in_flight;
  });
  return order;
}

std::vector<size_t> EndpointPool::AllByPreference() {
  std::vector<size_t> order = Candidates();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<size_t> rest;
  for (size_t i = 0; i < states_.size(); ++i) {
    if (std::find(order.begin(), order.end(), i) == order.end()) rest.push_back(i);
  }
  std::sort(rest.begin(), rest.end(),
            [&](size_t a, size_t b) { return states_[a].retry_at < states_[b].retry_at; });
  order.insert(order.end(), rest.begin(), rest.end());
  return order;
}

void EndpointPool::BeginAttempt(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  ++states_[i].in_flight;
}

void EndpointPool::EndAttempt(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  if (states_[i].in_flight > 0) --states_[i].in_flight;
}

void EndpointPool::ReportSuccess(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  states_[i].health = ServerHealth::kHealthy;
  states_[i].failures = 0;
}

void EndpointPool::ReportFailure(size_t i) {
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  State& s = states_[i];
  ++s.failures;
  if (s.health == ServerHealth::kHealthy) {
    // Still tried (after the healthy ones), and probed after the first wait: a server that
    // failed once and gets no more requests must not stay suspect forever.
    s.health = ServerHealth::kSuspect;
    s.retry_at = now + Ms(options_.backoff_initial_ms);
    return;
  }
  s.health = ServerHealth::kDown;
  // A server that went down may come back without the models it was sent.
  s.model_ready = false;
  // Failures while suspect count from the one that made it suspect: the second failure waits
  // backoff_initial_ms, each further one twice as long, up to backoff_max_ms.
  double wait = options_.backoff_initial_ms;
  for (int k = 2; k < s.failures && wait < options_.backoff_max_ms; ++k) wait *= 2.0;
  s.retry_at = now + Ms(std::min(wait, options_.backoff_max_ms));
}

void EndpointPool::ReportDown(size_t i) {
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  State& s = states_[i];
  s.failures = std::max(s.failures + 1, 2);
  s.health = ServerHealth::kDown;
  s.model_ready = false;
  double wait = options_.backoff_initial_ms;
  for (int k = 2; k < s.failures && wait < options_.backoff_max_ms; ++k) wait *= 2.0;
  s.retry_at = now + Ms(std::min(wait, options_.backoff_max_ms));
}

bool EndpointPool::model_ready(size_t i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return states_[i].model_ready;
}

void EndpointPool::set_model_ready(size_t i, bool ready) {
  std::lock_guard<std::mutex> lock(mu_);
  states_[i].model_ready = ready;
}

std::vector<size_t> EndpointPool::DueForProbe() {
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<size_t> due;
  for (size_t i = 0; i < states_.size(); ++i) {
    if (states_[i].health != ServerHealth::kHealthy && now >= states_[i].retry_at) {
      due.push_back(i);
    }
  }
  return due;
}

void EndpointPool::Probe(size_t i) {
  if (servers_[i].prober->ServerLive().ok()) {
    ReportSuccess(i);
  } else {
    ReportFailure(i);
  }
}

void EndpointPool::ProbeDue() {
  for (size_t i : DueForProbe()) Probe(i);
}

std::string EndpointPool::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string text;
  for (size_t i = 0; i < states_.size(); ++i) {
    if (!text.empty()) text += ", ";
    text +=
        servers_[i].client->options().address + " (" + ServerHealthName(states_[i].health) + ")";
  }
  return text;
}

}  // namespace edgeinfer::net

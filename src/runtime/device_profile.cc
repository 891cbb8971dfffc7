#include "runtime/device_profile.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "planner/profile_cache.h"

namespace edgeinfer {

namespace {

// Timed runs per profiled step; the median of 5 is robust to one preempted run.
constexpr int kProfileRepeat = 5;

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The quota in cores that one cgroup directory sets; 0 when none.
double GroupQuota(const std::string& dir) {
  // cgroup v2: "max 100000" or "25000 100000".
  std::istringstream v2(ReadSmallFile(dir + "/cpu.max"));
  std::string quota_text;
  double period = 0;
  if (v2 >> quota_text >> period) {
    if (quota_text == "max" || period <= 0) return 0.0;
    return std::strtod(quota_text.c_str(), nullptr) / period;
  }
  // cgroup v1: a quota of -1 means unlimited.
  double quota = 0;
  std::istringstream q(ReadSmallFile(dir + "/cpu.cfs_quota_us"));
  std::istringstream p(ReadSmallFile(dir + "/cpu.cfs_period_us"));
  if (q >> quota && p >> period && quota > 0 && period > 0) return quota / period;
  return 0.0;
}

}  // namespace

double EffectiveCpuQuota() {
  std::istringstream lines(ReadSmallFile("/proc/self/cgroup"));
  std::string line;
  double best = 0.0;
  while (std::getline(lines, line)) {
    // "ID:CONTROLLERS:PATH"; v2 has empty controllers, v1 lists "cpu" among them.
    const size_t a = line.find(':');
    const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    std::vector<std::string> roots;
    if (controllers.empty()) {
      roots = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    } else {
      std::stringstream list(controllers);
      std::string c;
      bool has_cpu = false;
      while (std::getline(list, c, ',')) has_cpu = has_cpu || c == "cpu";
      if (!has_cpu) continue;
      roots = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/" + controllers, "/sys/fs/cgroup/cpu,cpuacct"};
    }
    for (const std::string& root : roots) {
      // The group and every ancestor up to the root: the tightest quota binds.
      std::string p = path;
      while (true) {
        const double q = GroupQuota(root + (p == "/" ? "" : p));
        if (q > 0.0 && (best == 0.0 || q < best)) best = q;
        if (p.empty() || p == "/") break;
        const size_t slash = p.rfind('/');
        p = slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
      }
    }
  }
  return best;
}

Result<std::vector<NodeProfile>> DeviceProfile(Session& session, const std::string& model_bytes,
                                               const std::vector<NamedTensor>& inputs, int threads,
                                               bool* from_cache) {
  planner::ProfileCacheOptions cache;
  const double quota = EffectiveCpuQuota();
  if (quota > 0.0) {
    const std::string base = planner::DefaultProfileCacheDir();
    if (base.empty()) {
      cache.enabled = false;
    } else {
      char tag[64];
      std::snprintf(tag, sizeof(tag), "/cpu-quota-%.3f", quota);
      cache.dir = base + tag;
    }
  }
  return planner::LoadOrProfile(session, model_bytes, inputs, threads, kProfileRepeat, cache,
                                from_cache);
}

}  // namespace edgeinfer

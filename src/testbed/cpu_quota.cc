#include "testbed/cpu_quota.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace edgeinfer {

namespace {

constexpr char kGroupPrefix[] = "edgeinfer-";
constexpr long kMinQuotaUs = 1000;      // the kernel's minimum quota and period
constexpr long kMaxPeriodUs = 1000000;  // the kernel's maximum period

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// A Status for a failed cgroupfs operation, saying why in terms the user can act on.
Status CgroupError(const std::string& what, const std::string& path, int error) {
  const std::string detail = what + " " + path + ": " + std::strerror(error);
  if (error == EROFS) {
    return Status::FailedPrecondition("cpu quota: the cgroup filesystem is read-only (" + detail +
                                      "); run with a writable /sys/fs/cgroup");
  }
  if (error == EACCES || error == EPERM) {
    return {
        StatusCode::kPermissionDenied,
        "cpu quota: " + detail +
            (geteuid() != 0 ? " (needs root or a delegated cgroup)" : " (cgroup not writable)")};
  }
  return Status::FailedPrecondition("cpu quota: " + detail);
}

Status WriteFile(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return CgroupError("open", path, errno);
  // cgroupfs reports errors at write/flush time; unbuffered so the errno is the kernel's.
  std::setvbuf(f, nullptr, _IONBF, 0);
  const bool wrote = std::fputs(text.c_str(), f) >= 0;
  const int error = errno;
  std::fclose(f);
  if (!wrote) return CgroupError("write '" + text + "' to", path, error);
  return Status::Ok();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The mount point of the cgroup v1 hierarchy that has the cpu controller, or "".
std::string V1CpuMount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string device, dir, type, options, rest;
  while (mounts >> device >> dir >> type >> options) {
    std::getline(mounts, rest);
    if (type != "cgroup") continue;
    std::stringstream opts(options);
    std::string opt;
    while (std::getline(opts, opt, ',')) {
      if (opt == "cpu") return dir;
    }
  }
  return "";
}

// This process's cgroup path (relative to the hierarchy root) for the v1 controller `controller`
// or, with controller "", the v2 unified hierarchy. "/" when not found.
std::string OwnCgroupPath(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find(':');
    const size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (controller.empty()) {
      if (line.compare(0, a, "0") == 0 && controllers.empty()) return path;
      continue;
    }
    std::stringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ',')) {
      if (c == controller) return path;
    }
  }
  return "/";
}

// The directory edgeinfer-<pid> groups are created in (the process's own group, so they stay
// inside a delegated subtree), and whether it is cgroup v2.
struct Hierarchy {
  std::string parent;
  bool v2 = false;
};

Result<Hierarchy> FindHierarchy() {
  Hierarchy h;
  if (Exists("/sys/fs/cgroup/cgroup.controllers")) {
    h.v2 = true;
    h.parent = "/sys/fs/cgroup" + OwnCgroupPath("");
  } else {
    const std::string mount = V1CpuMount();
    if (mount.empty()) {
      return Status::FailedPrecondition(
          "cpu quota: no cgroup v1 cpu controller is mounted and /sys/fs/cgroup is not cgroup v2");
    }
    h.parent = mount + OwnCgroupPath("cpu");
  }
  while (h.parent.size() > 1 && h.parent.back() == '/') h.parent.pop_back();
  // Our own group is where we create children; if we already are in an edgeinfer group (a
  // second call), create siblings of it instead.
  const size_t slash = h.parent.rfind('/');
  if (h.parent.compare(slash + 1, std::strlen(kGroupPrefix), kGroupPrefix) == 0) {
    h.parent.resize(slash);
  }
  return h;
}

void RemoveStaleIn(const std::string& parent) {
  DIR* dir = opendir(parent.c_str());
  if (dir == nullptr) return;
  const std::string own = kGroupPrefix + std::to_string(getpid());
  std::vector<std::string> stale;
  while (dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name.rfind(kGroupPrefix, 0) != 0 || name == own) continue;
    const long pid = std::strtol(name.c_str() + std::strlen(kGroupPrefix), nullptr, 10);
    if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      stale.push_back(parent + "/" + name);
    }
  }
  closedir(dir);
  for (const std::string& path : stale) rmdir(path.c_str());  // fails harmlessly if non-empty
}

}  // namespace

void RemoveStaleCpuGroups() {
  Result<Hierarchy> h = FindHierarchy();
  if (h.ok()) RemoveStaleIn(h->parent);
}

Status LimitCpu(double cores, double period_ms) {
  if (!(cores > 0) || !std::isfinite(cores)) {
    return Status::InvalidArgument("cpu quota: cores must be > 0, got " + std::to_string(cores));
  }
  const long period_us = std::lround(period_ms * 1000.0);
  if (!(period_us >= kMinQuotaUs && period_us <= kMaxPeriodUs)) {
    return Status::InvalidArgument("cpu quota: the period must be 1-1000 ms, got " +
                                   std::to_string(period_ms) + " ms");
  }
  EI_ASSIGN_OR_RETURN(Hierarchy h, FindHierarchy());
  RemoveStaleIn(h.parent);
  const std::string group = h.parent + "/" + kGroupPrefix + std::to_string(getpid());
  if (mkdir(group.c_str(), 0755) != 0 && errno != EEXIST) {
    return CgroupError("mkdir", group, errno);
  }
  const long quota_us = std::max(kMinQuotaUs, std::lround(cores * static_cast<double>(period_us)));
  Status configured;
  if (h.v2) {
    if (!Exists(group + "/cpu.max")) {
      // The cpu controller must be enabled for the parent's children.
      const std::string control = h.parent + "/cgroup.subtree_control";
      configured = WriteFile(control, "+cpu");
      if (!configured.ok() || !Exists(group + "/cpu.max")) {
        rmdir(group.c_str());
        return Status::FailedPrecondition(
            "cpu quota: the cgroup v2 cpu controller is not enabled in " + control +
            (configured.ok() ? "" : " (" + configured.message() + ")"));
      }
    }
    configured =
        WriteFile(group + "/cpu.max", std::to_string(quota_us) + " " + std::to_string(period_us));
  } else {
    configured = WriteFile(group + "/cpu.cfs_period_us", std::to_string(period_us));
    if (configured.ok()) {
      configured = WriteFile(group + "/cpu.cfs_quota_us", std::to_string(quota_us));
    }
  }
  if (configured.ok()) {
    // cgroup.procs moves every thread of the process; "tasks" (v1) only the one named.
    configured = WriteFile(group + "/cgroup.procs", std::to_string(getpid()));
  }
  if (!configured.ok()) {
    const std::string procs = ReadFile(group + "/cgroup.procs");
    if (procs.empty()) rmdir(group.c_str());
    return configured;
  }
  return Status::Ok();
}

}  // namespace edgeinfer

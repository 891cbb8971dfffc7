// Helpers the benchmark drivers share. Header only: every bench/*.cc is its own binary.
#ifndef EDGEINFER_BENCH_BENCH_UTIL_H_
#define EDGEINFER_BENCH_BENCH_UTIL_H_

#include <sys/utsname.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace edgeinfer::bench {

// "a,b,,c" -> {"a", "b", "c"}.
inline std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The "model name" of /proc/cpuinfo, or "unknown CPU".
inline std::string CpuModelName() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

// "CPU, N cores, SYSNAME RELEASE MACHINE": where a benchmark ran, for its report.
inline std::string MachineLine() {
  struct utsname un {};
  uname(&un);
  return CpuModelName() + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores, " +
         un.sysname + " " + un.release + " " + un.machine;
}

}  // namespace edgeinfer::bench

#endif  // EDGEINFER_BENCH_BENCH_UTIL_H_

// Rate traces for the link emulator (text form; rates and durations as in core/units.h).
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "testbed/linkem.h"

namespace edgeinfer::net {

Result<std::vector<RateStep>> ParseTrace(const std::string& text) {
  std::vector<RateStep> steps;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string time_text, rate_text, extra;
    if (!(fields >> time_text)) continue;
    const std::string where = "trace line " + std::to_string(number) + ": ";
    if (!(fields >> rate_text) || (fields >> extra)) {
      return Status::InvalidArgument(where + "expected 'TIME_S RATE', got '" + line + "'");
    }
    RateStep step;
    char* end = nullptr;
    step.time_s = std::strtod(time_text.c_str(), &end);
    if (end == time_text.c_str() || *end != '\0') {
      Result<double> ms = ParseDurationMs(time_text);
      if (!ms.ok()) return ms.status().WithContext(where.substr(0, where.size() - 2));
      step.time_s = *ms / 1000.0;
    }
    if (!(step.time_s >= 0) || !std::isfinite(step.time_s)) {
      return Status::InvalidArgument(where + "time must be >= 0 seconds");
    }
    if (!steps.empty() && !(step.time_s > steps.back().time_s)) {
      return Status::InvalidArgument(where + "times must increase (" + time_text +
                                     " s is not after the previous step)");
    }
    Result<double> rate = ParseRate(rate_text);
    if (!rate.ok()) return rate.status().WithContext(where.substr(0, where.size() - 2));
    step.rate_bps = *rate;
    steps.push_back(step);
  }
  return steps;
}

std::string FormatRate(double rate_bps) {
  if (rate_bps <= 0) return "unlimited";
  char buffer[64];
  if (rate_bps >= 1e9) {
    std::snprintf(buffer, sizeof(buffer), "%.6ggbit", rate_bps / 1e9);
  } else if (rate_bps >= 1e6) {
    std::snprintf(buffer, sizeof(buffer), "%.6gmbit", rate_bps / 1e6);
  } else if (rate_bps >= 1e3) {
    std::snprintf(buffer, sizeof(buffer), "%.6gkbit", rate_bps / 1e3);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.6gbit", rate_bps);
  }
  return buffer;
}

}  // namespace edgeinfer::net

// Text forms of link parameters (rates, durations, rate traces), following tc(8)'s units.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "net/linkem.h"

namespace edgeinfer::net {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Splits "12.5mbit" into 12.5 and "mbit". False when there is no leading number.
bool SplitNumber(const std::string& text, double* value, std::string* unit) {
  if (text.empty()) return false;
  const char* begin = text.c_str();
  char* end = nullptr;
  *value = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(*value)) return false;
  *unit = Lower(std::string(end));
  return true;
}

}  // namespace

Result<double> ParseRate(const std::string& text) {
  double value;
  std::string unit;
  if (!SplitNumber(text, &value, &unit) || value < 0) {
    return Status::InvalidArgument("bad rate '" + text + "': expected e.g. 20mbit");
  }
  struct Unit {
    const char* name;
    double bits;
  };
  static const Unit kUnits[] = {
      {"", 1},
      {"bit", 1},
      {"kbit", 1e3},
      {"mbit", 1e6},
      {"gbit", 1e9},
      {"tbit", 1e12},
      {"kibit", 1024.0},
      {"mibit", 1048576.0},
      {"gibit", 0x1p30},
      {"tibit", 0x1p40},
      {"bps", 8},
      {"kbps", 8e3},
      {"mbps", 8e6},
      {"gbps", 8e9},
      {"tbps", 8e12},
      {"kibps", 8 * 1024.0},
      {"mibps", 8 * 1048576.0},
      {"gibps", 8 * 0x1p30},
      {"tibps", 8 * 0x1p40},
  };
  for (const Unit& u : kUnits) {
    if (unit == u.name) return value * u.bits;
  }
  return Status::InvalidArgument("bad rate '" + text +
                                 "': unknown unit (bit, kbit, mbit, gbit; bps, kbps, mbps, gbps "
                                 "are bytes per second as in tc)");
}

Result<double> ParseDurationMs(const std::string& text) {
  double value;
  std::string unit;
  if (!SplitNumber(text, &value, &unit) || value < 0) {
    return Status::InvalidArgument("bad duration '" + text + "': expected e.g. 10ms");
  }
  if (unit.empty() && value == 0) return 0.0;
  if (unit == "us" || unit == "usec" || unit == "usecs") return value / 1000.0;
  if (unit == "ms" || unit == "msec" || unit == "msecs") return value;
  if (unit == "s" || unit == "sec" || unit == "secs") return value * 1000.0;
  return Status::InvalidArgument("bad duration '" + text + "': needs a unit (us, ms or s)");
}

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

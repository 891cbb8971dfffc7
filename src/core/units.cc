// Text forms of link quantities, following tc(8)'s units.
#include "core/units.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace edgeinfer {

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

Result<double> ParseNumber(const std::string& text, const std::string& what) {
  double v = 0.0;
  std::string suffix;
  if (!SplitNumber(text, &v, &suffix) || !suffix.empty() || !std::isfinite(v)) {
    return Status::InvalidArgument(what + " needs a number, got '" + text + "'");
  }
  return v;
}

}  // namespace edgeinfer

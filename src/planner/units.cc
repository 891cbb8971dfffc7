#include "planner/units.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace edgeinfer::planner {

namespace {

// Splits "20.5mbit" into 20.5 and "mbit" (lower-cased). False when no number leads.
bool SplitNumber(const std::string& text, double* value, std::string* suffix) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  errno = 0;
  *value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || errno == ERANGE) return false;
  suffix->clear();
  for (const char* c = end; *c != '\0'; ++c) {
    suffix->push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(*c))));
  }
  return true;
}

}  // namespace

Result<double> ParseNumber(const std::string& text, const std::string& what) {
  double v = 0.0;
  std::string suffix;
  if (!SplitNumber(text, &v, &suffix) || !suffix.empty() || !std::isfinite(v)) {
    return Status::InvalidArgument(what + " needs a number, got '" + text + "'");
  }
  return v;
}

Result<double> ParseBitRate(const std::string& text) {
  double v = 0.0;
  std::string suffix;
  if (!SplitNumber(text, &v, &suffix)) {
    return Status::InvalidArgument("rate '" + text + "' needs a number, e.g. 20mbit");
  }
  double scale;
  if (suffix.empty() || suffix == "bit") {
    scale = 1.0;
  } else if (suffix == "kbit") {
    scale = 1e3;
  } else if (suffix == "mbit") {
    scale = 1e6;
  } else if (suffix == "gbit") {
    scale = 1e9;
  } else {
    return Status::InvalidArgument("rate '" + text + "' has unknown unit '" + suffix +
                                   "' (use bit, kbit, mbit or gbit)");
  }
  const double bits = v * scale;
  if (!std::isfinite(bits) || !(bits > 0.0)) {
    return Status::InvalidArgument("rate '" + text + "' must be positive");
  }
  return bits;
}

Result<double> ParseDurationMs(const std::string& text) {
  double v = 0.0;
  std::string suffix;
  if (!SplitNumber(text, &v, &suffix)) {
    return Status::InvalidArgument("duration '" + text + "' needs a number, e.g. 10ms");
  }
  double scale;
  if (suffix == "us") {
    scale = 1e-3;
  } else if (suffix == "ms") {
    scale = 1.0;
  } else if (suffix == "s") {
    scale = 1e3;
  } else if (suffix.empty() && v == 0.0) {
    scale = 0.0;
  } else if (suffix.empty()) {
    return Status::InvalidArgument("duration '" + text + "' needs a unit (us, ms or s)");
  } else {
    return Status::InvalidArgument("duration '" + text + "' has unknown unit '" + suffix +
                                   "' (use us, ms or s)");
  }
  const double ms = v * scale;
  if (!std::isfinite(ms) || ms < 0.0) {
    return Status::InvalidArgument("duration '" + text + "' must be non-negative and finite");
  }
  return ms;
}

}  // namespace edgeinfer::planner

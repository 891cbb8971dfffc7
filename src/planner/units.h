// Parsing the link quantities people type: rates ("20mbit") and durations ("10ms").
#ifndef EDGEINFER_PLANNER_UNITS_H_
#define EDGEINFER_PLANNER_UNITS_H_

#include <string>

#include "edgeinfer/status.h"

namespace edgeinfer::planner {

// A bit rate: a number with an optional suffix bit, kbit, mbit or gbit (case-insensitive,
// decimal multiples as in tc: 1mbit = 1e6 bit/s); a plain number is bit/s. Returns bit/s.
// Errors: no number, an unknown suffix (e.g. "mbps", which tc reads as bytes), a value that is
// not positive and finite.
Result<double> ParseBitRate(const std::string& text);

// A duration: a number with suffix us, ms or s (required, except for a plain "0"). Returns
// milliseconds. Errors: no number, a missing or unknown suffix, a negative or infinite value.
Result<double> ParseDurationMs(const std::string& text);

// A plain finite number; `what` names it in the error.
Result<double> ParseNumber(const std::string& text, const std::string& what);

}  // namespace edgeinfer::planner

#endif  // EDGEINFER_PLANNER_UNITS_H_

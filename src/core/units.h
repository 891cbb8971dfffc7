// Parsing the link quantities people type: rates ("20mbit"), durations ("10ms"), numbers.
#ifndef EDGEINFER_CORE_UNITS_H_
#define EDGEINFER_CORE_UNITS_H_

#include <string>

#include "edgeinfer/status.h"

namespace edgeinfer {

// "20mbit" -> 2e7 bits per second, following tc(8): bit (or a bare number), kbit, mbit, gbit,
// tbit are bits per second with SI prefixes (x1000); kibit, mibit, gibit, tibit use x1024; bps,
// kbps, mbps, gbps, tbps (and kibps, ...) are BYTES per second (x8). Case-insensitive. Errors
// name the text.
Result<double> ParseRate(const std::string& text);

// "10ms" -> 10.0 milliseconds. Units: us, ms, s (also usec, msec, sec). A bare number is an
// error (tc would read it as microseconds), except "0".
Result<double> ParseDurationMs(const std::string& text);

// A plain finite number; `what` names it in the error.
Result<double> ParseNumber(const std::string& text, const std::string& what);

}  // namespace edgeinfer

#endif  // EDGEINFER_CORE_UNITS_H_

// Output summaries shared by the run and profile subcommands.
#ifndef EDGEINFER_TOOLS_REPORT_H_
#define EDGEINFER_TOOLS_REPORT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgeinfer/session.h"

namespace edgeinfer::tools {

// Median of `v` (the upper median for even sizes); 0 for empty input.
double Median(std::vector<double> v);

// Summary of one output: dtype, shape, min/max/mean, and top-5 (index, value) for classifier
// outputs (shape [1, N] or [1, N, 1, 1] with N >= 5).
nlohmann::json SummarizeOutput(const NamedTensor& out);

// Human-readable lines for a summary produced by SummarizeOutput.
std::string FormatSummary(const nlohmann::json& summary);

}  // namespace edgeinfer::tools

#endif  // EDGEINFER_TOOLS_REPORT_H_

// bench_loadpart's results: per-request records, the markdown tables and summary, the CSV, the
// SVG plot and the section of docs/benchmarks.md.
#ifndef EDGEINFER_BENCH_LOADPART_REPORT_H_
#define EDGEINFER_BENCH_LOADPART_REPORT_H_

#include <string>
#include <vector>

#include "edgeinfer/status.h"
#include "loadpart/worker.h"

namespace edgeinfer::bench {

// One request of one policy in one slot. Policies: "auto", "auto-noload", "local", "remote",
// "split:N"; the oracle is derived (OracleRecords), never measured on its own.
struct Record {
  std::string model;
  std::string phase;
  int slot = 0;  // global slot number within the model
  double bandwidth_mbit = 0.0;
  double t_s = 0.0;  // start, seconds since the model's first slot
  std::string policy;
  int order = 0;  // position of this request within its slot (rotated)
  bool ok = false;
  std::string error;
  RunSample sample;
};

// The four policies the tables compare, and "oracle".
inline const std::vector<std::string>& MainPolicies() {
  static const std::vector<std::string> kPolicies = {"auto", "auto-noload", "local", "remote"};
  return kPolicies;
}

// Whether `policy` is a fixed cut (local, remote or split:N): an oracle candidate.
bool IsFixedCut(const std::string& policy);

// One record per (model, slot, policy): of that policy's successful requests in the slot, the
// one with the median latency (the lower middle one for an even count); a policy whose every
// request failed keeps its first failed record. With one request per policy per slot this is
// the input unchanged (in another order).
std::vector<Record> SlotMedians(const std::vector<Record>& records);

// The oracle of each slot: the fastest successful fixed-cut record of that slot (policy
// "oracle", its cut the winner's). Slots without any successful fixed cut get none.
std::vector<Record> OracleRecords(const std::vector<Record>& records);

struct ReportOptions {
  std::vector<std::string> models;
  std::vector<std::string> phases;
};

// Markdown: one table per model (a row per phase and one for all phases) and the summary
// against the targets. `records` must include the oracle records.
std::string MarkdownTables(const std::vector<Record>& records, const ReportOptions& options);
std::string MarkdownSummary(const std::vector<Record>& records, const ReportOptions& options);

// Every record (oracle included) as CSV with a header line.
std::string Csv(const std::vector<Record>& records);

// Latency over time per policy for `model`, phases shaded, log latency axis.
std::string Svg(const std::vector<Record>& records, const std::string& model,
                const std::vector<std::string>& phases, const std::string& title);

// Replaces the section starting at the line `heading` (up to the next "## " heading) in the
// file at `path` with `section`, or appends it when absent.
Status ReplaceDocSection(const std::string& path, const std::string& heading,
                         const std::string& section);

}  // namespace edgeinfer::bench

#endif  // EDGEINFER_BENCH_LOADPART_REPORT_H_

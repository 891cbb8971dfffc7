#include "loadpart/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace edgeinfer::bench {
namespace {

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// (model, phase or "" for all, slot) -> policy -> the slot's record.
using SlotKey = std::pair<std::string, int>;
using Slots = std::map<SlotKey, std::map<std::string, const Record*>>;

Slots GroupBySlot(const std::vector<Record>& records, const std::string& model,
                  const std::string& phase) {
  Slots slots;
  for (const Record& r : records) {
    if (r.model != model || (!phase.empty() && r.phase != phase) || !r.ok) continue;
    slots[{r.phase, r.slot}][r.policy] = &r;
  }
  return slots;
}

// Mean latency of each of `policies` over the slots where every one of them succeeded, so that
// all means cover the same conditions. Returns the number of such slots.
int CommonMeans(const Slots& slots, const std::vector<std::string>& policies,
                std::map<std::string, double>* means) {
  int n = 0;
  std::map<std::string, double> sum;
  for (const auto& [key, by_policy] : slots) {
    bool complete = true;
    for (const std::string& p : policies) complete = complete && by_policy.count(p) > 0;
    if (!complete) continue;
    ++n;
    for (const std::string& p : policies) sum[p] += by_policy.at(p)->sample.total_ms;
  }
  means->clear();
  for (const std::string& p : policies) (*means)[p] = n > 0 ? sum[p] / n : NAN;
  return n;
}

// "remote x3, split:21 x2" (most frequent first, at most three).
std::string CutMix(const Slots& slots, const std::string& policy) {
  std::map<std::string, int> count;
  for (const auto& [key, by_policy] : slots) {
    auto it = by_policy.find(policy);
    if (it != by_policy.end()) ++count[it->second->sample.cut];
  }
  std::vector<std::pair<int, std::string>> order;
  for (const auto& [cut, n] : count) order.push_back({-n, cut});
  std::sort(order.begin(), order.end());
  std::string text;
  for (size_t i = 0; i < order.size() && i < 3; ++i) {
    if (!text.empty()) text += ", ";
    text += order[i].second + " x" + std::to_string(-order[i].first);
  }
  if (order.size() > 3) text += ", ...";
  return text;
}

double Improvement(double auto_ms, double baseline_ms) {
  return 100.0 * (baseline_ms - auto_ms) / baseline_ms;
}

std::vector<std::string> ComparedPolicies() {
  std::vector<std::string> policies = MainPolicies();
  policies.push_back("oracle");
  return policies;
}

}  // namespace

bool IsFixedCut(const std::string& policy) {
  return policy == "local" || policy == "remote" || policy.rfind("split:", 0) == 0;
}

std::vector<Record> SlotMedians(const std::vector<Record>& records) {
  std::map<std::tuple<std::string, int, std::string>, std::vector<const Record*>> groups;
  for (const Record& r : records) groups[{r.model, r.slot, r.policy}].push_back(&r);
  std::vector<Record> out;
  for (auto& [key, group] : groups) {
    std::vector<const Record*> ok;
    for (const Record* r : group) {
      if (r->ok) ok.push_back(r);
    }
    if (ok.empty()) {
      out.push_back(*group.front());
      continue;
    }
    std::sort(ok.begin(), ok.end(), [](const Record* a, const Record* b) {
      return a->sample.total_ms < b->sample.total_ms;
    });
    out.push_back(*ok[(ok.size() - 1) / 2]);
  }
  return out;
}

std::vector<Record> OracleRecords(const std::vector<Record>& records) {
  std::map<std::pair<std::string, int>, const Record*> best;
  for (const Record& r : records) {
    if (!r.ok || !IsFixedCut(r.policy)) continue;
    const Record*& b = best[{r.model, r.slot}];
    if (b == nullptr || r.sample.total_ms < b->sample.total_ms) b = &r;
  }
  std::vector<Record> oracle;
  for (const auto& [key, r] : best) {
    Record o = *r;
    o.policy = "oracle";
    o.order = -1;
    oracle.push_back(std::move(o));
  }
  return oracle;
}

std::string MarkdownTables(const std::vector<Record>& records, const ReportOptions& options) {
  std::ostringstream md;
  const std::vector<std::string> policies = ComparedPolicies();
  for (const std::string& model : options.models) {
    md << "**" << model << "** (mean latency ms over the slots where every policy succeeded)\n\n"
       << "| phase | slots | auto | auto-noload | local | remote | oracle | auto vs noload | "
          "auto vs oracle | auto's cuts | noload's cuts |\n"
       << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
    std::vector<std::string> rows = options.phases;
    rows.push_back("");
    for (const std::string& phase : rows) {
      const Slots slots = GroupBySlot(records, model, phase);
      std::map<std::string, double> mean;
      const int n = CommonMeans(slots, policies, &mean);
      md << "| " << (phase.empty() ? "**all**" : phase) << " | " << n;
      for (const std::string& p : policies) md << " | " << Fmt("%.1f", mean[p]);
      md << " | " << Fmt("%+.1f%%", Improvement(mean["auto"], mean["auto-noload"])) << " | "
         << Fmt("%+.1f%%", -Improvement(mean["auto"], mean["oracle"])) << " | "
         << CutMix(slots, "auto") << " | " << CutMix(slots, "auto-noload") << " |\n";
    }
    md << "\n";
  }
  return md.str();
}

std::string MarkdownSummary(const std::vector<Record>& records, const ReportOptions& options) {
  const std::vector<std::string> policies = ComparedPolicies();
  std::ostringstream md;
  md << "| model | auto vs noload, all phases | auto vs noload, heavy | auto vs oracle gap | "
        "oracle vs noload, all phases | oracle vs noload, heavy |\n"
     << "|---|---:|---:|---:|---:|---:|\n";
  double sum_all = 0, sum_heavy = 0, sum_gap = 0, sum_ceil_all = 0, sum_ceil_heavy = 0;
  int n_all = 0, n_heavy = 0;
  for (const std::string& model : options.models) {
    std::map<std::string, double> all, heavy;
    const int slots_all = CommonMeans(GroupBySlot(records, model, ""), policies, &all);
    const int slots_heavy = CommonMeans(GroupBySlot(records, model, "heavy"), policies, &heavy);
    const double imp_all = Improvement(all["auto"], all["auto-noload"]);
    const double imp_heavy = Improvement(heavy["auto"], heavy["auto-noload"]);
    const double gap = -Improvement(all["auto"], all["oracle"]);
    // The ceiling: what choosing the best measured fixed cut in every slot would have gained
    // over the baseline in the same slots. No per-request planner can beat it on average.
    const double ceil_all = Improvement(all["oracle"], all["auto-noload"]);
    const double ceil_heavy = Improvement(heavy["oracle"], heavy["auto-noload"]);
    md << "| " << model << " | " << Fmt("%+.1f%%", imp_all) << " | " << Fmt("%+.1f%%", imp_heavy)
       << " | " << Fmt("%+.1f%%", gap) << " | " << Fmt("%+.1f%%", ceil_all) << " | "
       << Fmt("%+.1f%%", ceil_heavy) << " |\n";
    if (slots_all > 0) {
      sum_all += imp_all;
      sum_gap += gap;
      sum_ceil_all += ceil_all;
      ++n_all;
    }
    if (slots_heavy > 0) {
      sum_heavy += imp_heavy;
      sum_ceil_heavy += ceil_heavy;
      ++n_heavy;
    }
  }
  const double avg_all = n_all ? sum_all / n_all : NAN;
  const double avg_heavy = n_heavy ? sum_heavy / n_heavy : NAN;
  const double avg_gap = n_all ? sum_gap / n_all : NAN;
  const double avg_ceil_all = n_all ? sum_ceil_all / n_all : NAN;
  const double avg_ceil_heavy = n_heavy ? sum_ceil_heavy / n_heavy : NAN;
  auto verdict = [](bool met) { return met ? "met" : "NOT met"; };
  md << "| **mean of models** | **" << Fmt("%+.1f%%", avg_all) << "** | **"
     << Fmt("%+.1f%%", avg_heavy) << "** | **" << Fmt("%+.1f%%", avg_gap) << "** | **"
     << Fmt("%+.1f%%", avg_ceil_all) << "** | **" << Fmt("%+.1f%%", avg_ceil_heavy) << "** |\n\n"
     << "Targets: auto >= 14.2% lower mean latency than auto-noload (Neurosurgeon) over all "
        "phases: "
     << verdict(avg_all >= 14.2) << " (" << Fmt("%.1f%%", avg_all)
     << "); >= 30% lower in the heavy phase: " << verdict(avg_heavy >= 30.0) << " ("
     << Fmt("%.1f%%", avg_heavy) << "); within 10% of the oracle: " << verdict(avg_gap <= 10.0)
     << " (" << Fmt("%.1f%%", avg_gap) << "). The oracle columns are the ceiling of this set-up: "
     << "the best fixed cut of every slot, chosen with hindsight, is "
     << Fmt("%.1f%%", avg_ceil_all) << " faster than auto-noload over all phases and "
     << Fmt("%.1f%%", avg_ceil_heavy) << " in the heavy phase.\n";
  return md.str();
}

std::string Csv(const std::vector<Record>& records) {
  std::ostringstream csv;
  csv << "model,phase,slot,bandwidth_mbit,t_s,policy,order,ok,latency_ms,cut,predicted_ms,"
         "device_ms,upload_ms,queue_ms,server_ms,download_ms,load_factor,bytes_sent,compressed,"
         "est_bandwidth_mbit,est_rtt_ms,est_load_factor,est_queue_ms,error\n";
  for (const Record& r : records) {
    std::string error = r.error;
    std::replace(error.begin(), error.end(), '"', '\'');
    std::replace(error.begin(), error.end(), '\n', ' ');
    const RunSample& s = r.sample;
    csv << r.model << "," << r.phase << "," << r.slot << "," << r.bandwidth_mbit << ","
        << Fmt("%.3f", r.t_s) << "," << r.policy << "," << r.order << "," << (r.ok ? 1 : 0) << ","
        << Fmt("%.3f", s.total_ms) << "," << s.cut << "," << Fmt("%.3f", s.predicted_ms) << ","
        << Fmt("%.3f", s.device_ms) << "," << Fmt("%.3f", s.upload_ms) << ","
        << Fmt("%.3f", s.queue_ms) << "," << Fmt("%.3f", s.server_ms) << ","
        << Fmt("%.3f", s.download_ms) << "," << Fmt("%.3f", s.load_factor) << "," << s.bytes_sent
        << "," << (s.compressed ? 1 : 0) << "," << Fmt("%.2f", s.est_bandwidth_mbit) << ","
        << Fmt("%.2f", s.est_rtt_ms) << "," << Fmt("%.3f", s.est_load_factor) << ","
        << Fmt("%.2f", s.est_queue_ms) << ",\"" << error << "\"\n";
  }
  return csv.str();
}

std::string Svg(const std::vector<Record>& records, const std::string& model,
                const std::vector<std::string>& phases, const std::string& title) {
  const double width = 960, height = 460, left = 70, right = 150, top = 50, bottom = 60;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  // Each slot is one x position (its time would crowd fast slots together); phases are spans.
  std::map<int, const Record*> slot_info;
  double lo = 1e9, hi = 0;
  for (const Record& r : records) {
    if (r.model != model || !r.ok) continue;
    if (!slot_info.count(r.slot)) slot_info[r.slot] = &r;
    lo = std::min(lo, r.sample.total_ms);
    hi = std::max(hi, r.sample.total_ms);
  }
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">"
      << title << "</text>\n";
  if (slot_info.empty()) {
    svg << "<text x=\"" << width / 2 << "\" y=\"" << height / 2
        << "\" text-anchor=\"middle\">no data</text>\n</svg>\n";
    return svg.str();
  }
  std::vector<int> slots;
  for (const auto& [slot, r] : slot_info) slots.push_back(slot);
  const double log_lo = std::log10(std::max(1.0, lo * 0.8)), log_hi = std::log10(hi * 1.25);
  auto x_of = [&](size_t i) { return left + plot_w * (i + 0.5) / slots.size(); };
  auto y_of = [&](double ms) {
    const double f = (std::log10(std::max(ms, 1e-3)) - log_lo) / (log_hi - log_lo);
    return top + plot_h * (1.0 - std::clamp(f, 0.0, 1.0));
  };
  const std::map<std::string, std::string> shade = {
      {"idle", "#eef5ee"}, {"light", "#fff4d6"}, {"heavy", "#fbdcdc"}, {"idle2", "#eef5ee"}};
  // Phase spans.
  size_t i = 0;
  while (i < slots.size()) {
    const std::string phase = slot_info[slots[i]]->phase;
    size_t j = i;
    while (j < slots.size() && slot_info[slots[j]]->phase == phase) ++j;
    const double x0 = left + plot_w * i / slots.size(), x1 = left + plot_w * j / slots.size();
    auto it = shade.find(phase);
    svg << "<rect x=\"" << x0 << "\" y=\"" << top << "\" width=\"" << x1 - x0 << "\" height=\""
        << plot_h << "\" fill=\"" << (it == shade.end() ? "#f0f0f0" : it->second) << "\"/>\n"
        << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << top + 14
        << "\" text-anchor=\"middle\" fill=\"#555\">" << phase << "</text>\n";
    i = j;
  }
  // Axes, log ticks.
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\""
      << plot_h << "\" fill=\"none\" stroke=\"#333\"/>\n";
  for (int e = static_cast<int>(std::floor(log_lo)); e <= static_cast<int>(std::ceil(log_hi));
       ++e) {
    for (int m : {1, 2, 5}) {
      const double v = m * std::pow(10.0, e);
      const double lv = std::log10(v);
      if (lv < log_lo || lv > log_hi) continue;
      const double y = y_of(v);
      svg << "<line x1=\"" << left << "\" x2=\"" << left + plot_w << "\" y1=\"" << y << "\" y2=\""
          << y << "\" stroke=\"#ccc\" stroke-dasharray=\"2,3\"/>\n"
          << "<text x=\"" << left - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << v
          << "</text>\n";
    }
  }
  svg << "<text transform=\"translate(18," << top + plot_h / 2
      << ") rotate(-90)\" text-anchor=\"middle\">latency, ms (log)</text>\n";
  // Bandwidth of each slot under the axis.
  for (size_t k = 0; k < slots.size(); ++k) {
    svg << "<text x=\"" << x_of(k) << "\" y=\"" << top + plot_h + 16
        << "\" text-anchor=\"middle\" font-size=\"10\">" << slot_info[slots[k]]->bandwidth_mbit
        << "</text>\n";
  }
  svg << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << top + plot_h + 40
      << "\" text-anchor=\"middle\">request slot (link rate, Mbit/s)</text>\n";
  // One polyline per policy.
  const std::vector<std::pair<std::string, std::string>> styles = {{"local", "#7f7f7f"},
                                                                   {"remote", "#1f77b4"},
                                                                   {"oracle", "#2ca02c"},
                                                                   {"auto-noload", "#ff7f0e"},
                                                                   {"auto", "#d62728"}};
  double legend_y = top + 10;
  for (const auto& [policy, color] : styles) {
    std::ostringstream points;
    for (size_t k = 0; k < slots.size(); ++k) {
      for (const Record& r : records) {
        if (r.model == model && r.ok && r.slot == slots[k] && r.policy == policy) {
          points << x_of(k) << "," << y_of(r.sample.total_ms) << " ";
          svg << "<circle cx=\"" << x_of(k) << "\" cy=\"" << y_of(r.sample.total_ms)
              << "\" r=\"2.5\" fill=\"" << color << "\"/>\n";
        }
      }
    }
    const bool dashed = policy == "oracle";
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\""
        << (policy == "auto" ? 2.2 : 1.4) << "\"" << (dashed ? " stroke-dasharray=\"5,3\"" : "")
        << " points=\"" << points.str() << "\"/>\n"
        << "<line x1=\"" << left + plot_w + 12 << "\" x2=\"" << left + plot_w + 36 << "\" y1=\""
        << legend_y << "\" y2=\"" << legend_y << "\" stroke=\"" << color << "\" stroke-width=\"2\""
        << (dashed ? " stroke-dasharray=\"5,3\"" : "") << "/>\n"
        << "<text x=\"" << left + plot_w + 42 << "\" y=\"" << legend_y + 4 << "\">" << policy
        << "</text>\n";
    legend_y += 20;
  }
  svg << "</svg>\n";
  return svg.str();
}

Status ReplaceDocSection(const std::string& path, const std::string& heading,
                         const std::string& section) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::string out;
  size_t at = text.find("\n" + heading + "\n");
  if (at == std::string::npos) {
    out = text;
    if (!out.empty() && out.back() != '\n') out += "\n";
    out += "\n" + section;
  } else {
    size_t end = text.find("\n## ", at + 1);
    out = text.substr(0, at + 1) + section;
    if (end != std::string::npos) out += text.substr(end);
  }
  if (!out.empty() && out.back() != '\n') out += "\n";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream o(tmp);
    o << out;
    if (!o) return Status::Internal("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Internal("cannot replace " + path);
  }
  return Status::Ok();
}

}  // namespace edgeinfer::bench

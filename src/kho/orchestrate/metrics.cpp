#include "kho/orchestrate/metrics.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "kho/util/atomic_file.hpp"
#include "kho/util/fd.hpp"

namespace kho::orchestrate {

namespace {

std::string escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Exact decimal seconds: "1769742000", "1769742000.5".
std::string seconds_text(TimeNs t) {
  const bool negative = t < 0;
  const std::uint64_t abs = negative ? 0 - static_cast<std::uint64_t>(t) : static_cast<std::uint64_t>(t);
  std::string text = fmt::format("{}{}", negative ? "-" : "", abs / 1'000'000'000);
  if (const std::uint64_t frac = abs % 1'000'000'000; frac != 0) {
    std::string digits = fmt::format("{:09}", frac);
    digits.erase(digits.find_last_not_of('0') + 1);
    text += "." + digits;
  }
  return text;
}

std::string number_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

struct Family {
  const char* name;
  const char* help;
  std::vector<std::pair<std::string, std::string>> samples;  // labels ("" or {...}), value
};

}  // namespace

std::string render_metrics(const std::vector<PolicyMetrics>& policies, TimeNs now) {
  std::vector<const PolicyMetrics*> sorted;
  sorted.reserve(policies.size());
  for (const auto& p : policies) sorted.push_back(&p);
  std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->policy < b->policy; });

  std::vector<Family> families = {
      {"kho_last_check_success_timestamp_seconds", "Unix time of the last successful repository check.", {}},
      {"kho_last_run_bytes_added", "Bytes the last backup run added to the repository.", {}},
      {"kho_last_run_duration_seconds", "Duration of the last backup run.", {}},
      {"kho_last_run_success", "Whether the last backup run succeeded (1) or failed (0).", {}},
      {"kho_last_run_timestamp_seconds", "Unix time the last backup run ended.", {}},
      {"kho_last_success_timestamp_seconds", "Unix time the last successful backup ended.", {}},
      {"kho_metrics_generated_timestamp_seconds", "Unix time these metrics were written.", {}},
      {"kho_newest_snapshot_timestamp_seconds", "Unix time of the newest snapshot.", {}},
      {"kho_rpo_met", "Whether the newest snapshot is within the recovery point objective (1) or not (0).", {}},
      {"kho_rpo_seconds", "Recovery point objective of the policy.", {}},
      {"kho_snapshot_age_seconds", "Age of the newest snapshot when the metrics were written.", {}},
  };
  auto add = [&](std::string_view family, std::string labels, std::string value) {
    auto it = std::find_if(families.begin(), families.end(), [&](const Family& f) { return family == f.name; });
    it->samples.emplace_back(std::move(labels), std::move(value));
  };

  add("kho_metrics_generated_timestamp_seconds", "", seconds_text(now));
  for (const PolicyMetrics* p : sorted) {
    const std::string labels = "{policy=\"" + escape_label(p->policy) + "\"}";
    if (p->last_check_success)
      add("kho_last_check_success_timestamp_seconds", labels, seconds_text(*p->last_check_success));
    if (p->last_run) {
      add("kho_last_run_bytes_added", labels, fmt::format("{}", p->last_bytes_added));
      add("kho_last_run_duration_seconds", labels, number_text(p->last_duration_s));
      add("kho_last_run_success", labels, p->last_run_ok ? "1" : "0");
      add("kho_last_run_timestamp_seconds", labels, seconds_text(*p->last_run));
    }
    if (p->last_success) add("kho_last_success_timestamp_seconds", labels, seconds_text(*p->last_success));
    std::optional<TimeNs> age;
    if (p->newest_snapshot) {
      age = std::max<TimeNs>(0, now - *p->newest_snapshot);
      add("kho_newest_snapshot_timestamp_seconds", labels, seconds_text(*p->newest_snapshot));
      add("kho_snapshot_age_seconds", labels, seconds_text(*age));
    }
    if (p->rpo_s) {
      const bool met = age && static_cast<double>(*age) / 1e9 <= *p->rpo_s;
      add("kho_rpo_met", labels, met ? "1" : "0");
      add("kho_rpo_seconds", labels, number_text(*p->rpo_s));
    }
  }

  std::string out;
  for (const Family& f : families) {  // already in name order
    if (f.samples.empty()) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", f.name, f.help, f.name);
    for (const auto& [labels, value] : f.samples) out += fmt::format("{}{} {}\n", f.name, labels, value);
  }
  return out;
}

Status write_metrics_file(const std::filesystem::path& path, const std::string& text) {
  return replace_file(path, text, 0644, "metrics file");
}

Result<PolicyMetrics> policy_metrics(const Policy& policy, StateDb& state) {
  PolicyMetrics m;
  m.policy = policy.name;
  m.rpo_s = policy.objectives.rpo_s;
  KHO_TRY_ASSIGN(auto last, state.last_run(policy.name, RunKind::backup));
  KHO_TRY_ASSIGN(auto ok, state.last_success(policy.name, RunKind::backup));
  KHO_TRY_ASSIGN(auto check, state.last_success(policy.name, RunKind::check));
  if (last) {
    m.last_run = last->finished_at.value_or(last->started_at);
    m.last_run_ok = last->status == RunStatus::success;
    m.last_duration_s = last->figures.value("duration_s", 0.0);
    m.last_bytes_added = last->figures.value("data_added", std::uint64_t{0});
  }
  if (ok) {
    m.last_success = ok->finished_at.value_or(ok->started_at);
    m.newest_snapshot = ok->started_at;
  }
  if (check) m.last_check_success = check->finished_at.value_or(check->started_at);
  return m;
}

Status write_policy_metrics(const std::filesystem::path& path, const std::vector<Policy>& policies, StateDb& state) {
  std::vector<PolicyMetrics> all;
  for (const auto& p : policies) {
    KHO_TRY_ASSIGN(auto m, policy_metrics(p, state));
    all.push_back(std::move(m));
  }
  return write_metrics_file(path, render_metrics(all, now_ns()));
}

}  // namespace kho::orchestrate

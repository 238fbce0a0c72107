#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "kho/orchestrate/metrics.hpp"
#include "scoped_temp_dir.hpp"
#include "file_helpers.hpp"

using namespace kho;
using namespace kho::orchestrate;

using kho::test::read_file;

namespace {

constexpr TimeNs k_s = 1'000'000'000;
constexpr TimeNs k_now = 1'769'742'000 * k_s;

const std::string k_generated =
    "# HELP kho_metrics_generated_timestamp_seconds Unix time these metrics were written.\n"
    "# TYPE kho_metrics_generated_timestamp_seconds gauge\n"
    "kho_metrics_generated_timestamp_seconds 1769742000\n";

}  // namespace

TEST_CASE("metrics for one policy render as exact exposition text", "[metrics]") {
  struct Case {
    const char* name;
    PolicyMetrics input;
    std::string expected;
  };
  PolicyMetrics full;
  full.policy = "portal";
  full.last_success = k_now - 3600 * k_s;
  full.last_run = k_now - 600 * k_s + 500'000'000;
  full.last_run_ok = false;
  full.last_duration_s = 12.25;
  full.last_bytes_added = 123456789012;
  full.newest_snapshot = k_now - 3600 * k_s;
  full.rpo_s = 7200;
  full.last_check_success = k_now - 86400 * k_s;

  PolicyMetrics late = full;
  late.rpo_s = 1800;
  late.last_run_ok = true;
  late.last_check_success.reset();

  PolicyMetrics never;  // nothing known yet: an RPO is then not met
  never.policy = "new";
  never.rpo_s = 3600;

  const std::vector<Case> cases = {
      {"everything known",
       full,
       "# HELP kho_last_check_success_timestamp_seconds Unix time of the last successful repository check.\n"
       "# TYPE kho_last_check_success_timestamp_seconds gauge\n"
       "kho_last_check_success_timestamp_seconds{policy=\"portal\"} 1769655600\n"
       "# HELP kho_last_run_bytes_added Bytes the last backup run added to the repository.\n"
       "# TYPE kho_last_run_bytes_added gauge\n"
       "kho_last_run_bytes_added{policy=\"portal\"} 123456789012\n"
       "# HELP kho_last_run_duration_seconds Duration of the last backup run.\n"
       "# TYPE kho_last_run_duration_seconds gauge\n"
       "kho_last_run_duration_seconds{policy=\"portal\"} 12.25\n"
       "# HELP kho_last_run_success Whether the last backup run succeeded (1) or failed (0).\n"
       "# TYPE kho_last_run_success gauge\n"
       "kho_last_run_success{policy=\"portal\"} 0\n"
       "# HELP kho_last_run_timestamp_seconds Unix time the last backup run ended.\n"
       "# TYPE kho_last_run_timestamp_seconds gauge\n"
       "kho_last_run_timestamp_seconds{policy=\"portal\"} 1769741400.5\n"
       "# HELP kho_last_success_timestamp_seconds Unix time the last successful backup ended.\n"
       "# TYPE kho_last_success_timestamp_seconds gauge\n"
       "kho_last_success_timestamp_seconds{policy=\"portal\"} 1769738400\n" +
           k_generated +
           "# HELP kho_newest_snapshot_timestamp_seconds Unix time of the newest snapshot.\n"
           "# TYPE kho_newest_snapshot_timestamp_seconds gauge\n"
           "kho_newest_snapshot_timestamp_seconds{policy=\"portal\"} 1769738400\n"
           "# HELP kho_rpo_met Whether the newest snapshot is within the recovery point objective (1) or not (0).\n"
           "# TYPE kho_rpo_met gauge\n"
           "kho_rpo_met{policy=\"portal\"} 1\n"
           "# HELP kho_rpo_seconds Recovery point objective of the policy.\n"
           "# TYPE kho_rpo_seconds gauge\n"
           "kho_rpo_seconds{policy=\"portal\"} 7200\n"
           "# HELP kho_snapshot_age_seconds Age of the newest snapshot when the metrics were written.\n"
           "# TYPE kho_snapshot_age_seconds gauge\n"
           "kho_snapshot_age_seconds{policy=\"portal\"} 3600\n"},
      {"RPO missed",
       late,
       "# HELP kho_last_run_bytes_added Bytes the last backup run added to the repository.\n"
       "# TYPE kho_last_run_bytes_added gauge\n"
       "kho_last_run_bytes_added{policy=\"portal\"} 123456789012\n"
       "# HELP kho_last_run_duration_seconds Duration of the last backup run.\n"
       "# TYPE kho_last_run_duration_seconds gauge\n"
       "kho_last_run_duration_seconds{policy=\"portal\"} 12.25\n"
       "# HELP kho_last_run_success Whether the last backup run succeeded (1) or failed (0).\n"
       "# TYPE kho_last_run_success gauge\n"
       "kho_last_run_success{policy=\"portal\"} 1\n"
       "# HELP kho_last_run_timestamp_seconds Unix time the last backup run ended.\n"
       "# TYPE kho_last_run_timestamp_seconds gauge\n"
       "kho_last_run_timestamp_seconds{policy=\"portal\"} 1769741400.5\n"
       "# HELP kho_last_success_timestamp_seconds Unix time the last successful backup ended.\n"
       "# TYPE kho_last_success_timestamp_seconds gauge\n"
       "kho_last_success_timestamp_seconds{policy=\"portal\"} 1769738400\n" +
           k_generated +
           "# HELP kho_newest_snapshot_timestamp_seconds Unix time of the newest snapshot.\n"
           "# TYPE kho_newest_snapshot_timestamp_seconds gauge\n"
           "kho_newest_snapshot_timestamp_seconds{policy=\"portal\"} 1769738400\n"
           "# HELP kho_rpo_met Whether the newest snapshot is within the recovery point objective (1) or not (0).\n"
           "# TYPE kho_rpo_met gauge\n"
           "kho_rpo_met{policy=\"portal\"} 0\n"
           "# HELP kho_rpo_seconds Recovery point objective of the policy.\n"
           "# TYPE kho_rpo_seconds gauge\n"
           "kho_rpo_seconds{policy=\"portal\"} 1800\n"
           "# HELP kho_snapshot_age_seconds Age of the newest snapshot when the metrics were written.\n"
           "# TYPE kho_snapshot_age_seconds gauge\n"
           "kho_snapshot_age_seconds{policy=\"portal\"} 3600\n"},
      {"nothing known yet",
       never,
       k_generated +
           "# HELP kho_rpo_met Whether the newest snapshot is within the recovery point objective (1) or not (0).\n"
           "# TYPE kho_rpo_met gauge\n"
           "kho_rpo_met{policy=\"new\"} 0\n"
           "# HELP kho_rpo_seconds Recovery point objective of the policy.\n"
           "# TYPE kho_rpo_seconds gauge\n"
           "kho_rpo_seconds{policy=\"new\"} 3600\n"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(render_metrics({c.input}, k_now) == c.expected);
  }
  CHECK(render_metrics({}, k_now) == k_generated);
}

TEST_CASE("metrics of several policies share one HELP/TYPE per family, in policy order", "[metrics]") {
  PolicyMetrics a, b;
  a.policy = "zeta";
  a.last_success = k_now;
  b.policy = "alpha";
  b.last_success = k_now - k_s;
  std::string text = render_metrics({a, b}, k_now);
  CHECK_THAT(text, Catch::Contains("# TYPE kho_last_success_timestamp_seconds gauge\n"
                                   "kho_last_success_timestamp_seconds{policy=\"alpha\"} 1769741999\n"
                                   "kho_last_success_timestamp_seconds{policy=\"zeta\"} 1769742000\n"));
  std::size_t helps = 0;
  for (auto pos = text.find("# HELP"); pos != std::string::npos; pos = text.find("# HELP", pos + 1)) ++helps;
  CHECK(helps == 2);
}

TEST_CASE("metric label values escape backslash, quote and newline", "[metrics]") {
  PolicyMetrics p;
  p.policy = "a\\b\"c\nd";
  p.rpo_s = 60;
  CHECK_THAT(render_metrics({p}, k_now), Catch::Contains("kho_rpo_seconds{policy=\"a\\\\b\\\"c\\nd\"} 60\n"));
}

TEST_CASE("a metrics file is replaced atomically with mode 0644", "[metrics]") {
  kho::test::ScopedTempDir dir("kho-metrics");
  const auto path = dir / "kho.prom";
  ::umask(022);
  REQUIRE(write_metrics_file(path, "first 1\n"));
  REQUIRE(write_metrics_file(path, "second 2\n"));
  CHECK(read_file(path) == "second 2\n");
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  CHECK(names == std::vector<std::string>{"kho.prom"});  // no temporary file left
}

TEST_CASE("a metrics file that cannot be written gives an error naming it", "[metrics]") {
  kho::test::ScopedTempDir dir("kho-metrics");
  std::ofstream(dir / "file") << "x";
  std::vector<std::filesystem::path> paths = {dir / "missing" / "kho.prom", dir / "file" / "kho.prom"};
  if (::geteuid() != 0) {  // root writes to read-only directories anyway
    std::filesystem::create_directory(dir / "ro");
    std::filesystem::permissions(dir / "ro", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    paths.push_back(dir / "ro" / "kho.prom");
  }
  for (const auto& p : paths) {
    auto r = write_metrics_file(p, "x 1\n");
    REQUIRE(!r);
    CHECK_THAT(r.error().message(), Catch::Contains(p.string()));
  }
  if (::geteuid() != 0) std::filesystem::permissions(dir / "ro", std::filesystem::perms::owner_all);
}

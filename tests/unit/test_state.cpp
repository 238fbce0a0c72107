// The orchestration state store (orchestrate/state.hpp) on real SQLite files.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kho/orchestrate/state.hpp"
#include "result_helpers.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho::orchestrate;
using kho::Errc;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {



template <typename T>
kho::Error error_of(const kho::Result<T>& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// A second, raw connection for what the API does not offer (on purpose).
struct RawDb {
  explicit RawDb(const fs::path& file) {
    REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
  }
  ~RawDb() { sqlite3_close_v2(db); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    INFO(sql << ": " << (err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    std::string out(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    sqlite3_finalize(s);
    return out;
  }
  sqlite3* db = nullptr;
};

RunStart start(const std::string& policy, RunKind kind, kho::TimeNs at) {
  return RunStart{policy, kind, RunTrigger::schedule, 1, at};
}

RunOutcome outcome(RunStatus status, kho::TimeNs at) {
  RunOutcome o;
  o.status = status;
  o.finished_at = at;
  return o;
}

}  // namespace

TEST_CASE("the state directory and database are private, in WAL mode, and keep data across opens", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  const fs::path dir = tmp / "deep" / "state";
  std::int64_t id = 0;
  {
    auto db = value_of(StateDb::open(dir));
    CHECK(db.file() == dir / "state.db");
    id = value_of(db.begin_run(start("web", RunKind::backup, 1000)));
    StateDb moved = std::move(db);  // movable; the moved-from handle is only destroyed
    ok(moved.finish_run(id, outcome(RunStatus::success, 2000)));
  }
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(tmp / "deep") == 0700);
  CHECK(mode_of(dir / "state.db") == 0600);
  CHECK(RawDb(dir / "state.db").text("PRAGMA journal_mode") == "wal");
  CHECK(RawDb(dir / "state.db").text("PRAGMA user_version") == "1");

  auto again = value_of(StateDb::open(dir));
  const auto run = value_of(again.run(id));
  REQUIRE(run.has_value());
  CHECK(run->status == RunStatus::success);
  CHECK(run->finished_at == 2000);
}

TEST_CASE("an existing state directory or file open to others is tightened", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  const fs::path dir = tmp / "state";
  fs::create_directory(dir);
  ::chmod(dir.c_str(), 0755);
  std::ofstream(dir / "state.db").close();
  ::chmod((dir / "state.db").c_str(), 0644);
  auto db = value_of(StateDb::open(dir));
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(dir / "state.db") == 0600);
}

TEST_CASE("a state directory owned by another user is refused", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  const fs::path dir = tmp / "state";
  fs::create_directory(dir);
  if (::geteuid() == 0) {
    REQUIRE(::chown(dir.c_str(), 65534, 65534) == 0);
    ::chmod(dir.c_str(), 0755);
  } else {
    // Owned by root: /; refused before anything is changed.
    const auto err = error_of(StateDb::open("/"));
    CHECK(err.code() == Errc::permission);
    CHECK_THAT(err.message(), Contains("is owned by uid 0"));
    return;
  }
  const auto err = error_of(StateDb::open(dir));
  CHECK(err.code() == Errc::permission);
  CHECK_THAT(err.message(), Contains(dir.string()) && Contains("is owned by uid 65534"));
  CHECK(mode_of(dir) == 0755);  // untouched
}

TEST_CASE("a run's lifecycle round-trips with steps and figures", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  auto db = value_of(StateDb::open(tmp.path()));
  RunStart s{"erp", RunKind::drill, RunTrigger::retry, 2, 1'000'000'000};
  const auto id = value_of(db.begin_run(s));

  const auto running = value_of(db.run(id));
  REQUIRE(running.has_value());
  CHECK(running->status == RunStatus::running);
  CHECK_FALSE(running->finished_at.has_value());
  CHECK(running->owner_pid == ::getpid());
  CHECK(running->figures == nlohmann::json::object());

  ok(db.add_step(id, RunStep{0, "restore /srv", 1'100'000'000, 1'500'000'000, StepStatus::success, ""}));
  ok(db.add_step(id, RunStep{0, "wait_for :5432", 1'500'000'000, 1'600'000'000, StepStatus::failed, "timed out"}));

  RunOutcome o = outcome(RunStatus::failed, 2'000'000'000);
  o.stage = "copy:offsite";
  o.error = "connection refused";
  o.snapshot_id = "4f2a9c1e";
  o.figures = {{"bytes_added", 123456789012}, {"files", 42}, {"duration_s", 1.5}, {"path", "/srv/\xff"}};
  ok(db.finish_run(id, o));

  const auto done = value_of(db.run(id));
  REQUIRE(done.has_value());
  CHECK(done->policy == "erp");
  CHECK(done->kind == RunKind::drill);
  CHECK(done->trigger == RunTrigger::retry);
  CHECK(done->attempt == 2);
  CHECK(done->started_at == 1'000'000'000);
  CHECK(done->finished_at == 2'000'000'000);
  CHECK(done->status == RunStatus::failed);
  CHECK(done->stage == "copy:offsite");
  CHECK(done->error == "connection refused");
  CHECK(done->snapshot_id == "4f2a9c1e");
  CHECK(done->figures["bytes_added"] == 123456789012);
  CHECK(done->figures["files"] == 42);
  CHECK(done->figures["duration_s"] == 1.5);
  CHECK(done->figures["path"] == "/srv/\xEF\xBF\xBD");  // invalid UTF-8 replaced, not thrown

  const auto steps = value_of(db.steps(id));
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].seq == 1);
  CHECK(steps[0].name == "restore /srv");
  CHECK(steps[1].seq == 2);
  CHECK(steps[1].status == StepStatus::failed);
  CHECK(steps[1].detail == "timed out");
  CHECK(steps[1].finished_at - steps[1].started_at == 100'000'000);

  SECTION("misuse is refused with a reason") {
    const auto twice = db.finish_run(id, outcome(RunStatus::success, 3));
    REQUIRE_FALSE(twice);
    CHECK(twice.error().code() == Errc::invalid_argument);
    CHECK_THAT(twice.error().message(), Contains("already failed"));
    CHECK(db.finish_run(9999, outcome(RunStatus::success, 3)).error().code() == Errc::not_found);
    CHECK(db.add_step(9999, RunStep{}).error().code() == Errc::not_found);
    const auto other = value_of(db.begin_run(start("erp", RunKind::backup, 5)));
    CHECK(db.finish_run(other, outcome(RunStatus::running, 6)).error().code() == Errc::invalid_argument);
    RunOutcome bad = outcome(RunStatus::success, 6);
    bad.figures = nlohmann::json::array();
    CHECK(db.finish_run(other, bad).error().code() == Errc::invalid_argument);
    CHECK(db.begin_run(start("", RunKind::backup, 5)).error().code() == Errc::invalid_argument);
  }
}

TEST_CASE("last_run, last_success and runs pick the newest first", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  auto db = value_of(StateDb::open(tmp.path()));
  CHECK_FALSE(value_of(db.last_run("web", RunKind::backup)).has_value());

  auto add = [&](const std::string& policy, RunKind kind, kho::TimeNs at, std::optional<RunStatus> status) {
    const auto id = value_of(db.begin_run(start(policy, kind, at)));
    if (status) ok(db.finish_run(id, outcome(*status, at + 10)));
    return id;
  };
  const auto ok1 = add("web", RunKind::backup, 100, RunStatus::success);
  const auto ok2 = add("web", RunKind::backup, 200, RunStatus::success);
  const auto failed = add("web", RunKind::backup, 300, RunStatus::failed);
  const auto running = add("web", RunKind::backup, 400, std::nullopt);
  const auto check = add("web", RunKind::check, 500, RunStatus::success);
  const auto other = add("db", RunKind::backup, 600, RunStatus::success);
  const auto older_id_newer_time = add("web", RunKind::backup, 150, RunStatus::success);

  CHECK(value_of(db.last_run("web", RunKind::backup))->id == running);
  CHECK(value_of(db.last_success("web", RunKind::backup))->id == ok2);
  CHECK(value_of(db.last_success("web", RunKind::check))->id == check);
  CHECK_FALSE(value_of(db.last_success("web", RunKind::prune)).has_value());

  auto ids = [&](const RunFilter& f) {
    std::vector<std::int64_t> out;
    for (const auto& r : value_of(db.runs(f))) out.push_back(r.id);
    return out;
  };
  CHECK(ids({}) == std::vector<std::int64_t>{other, check, running, failed, ok2, older_id_newer_time, ok1});
  CHECK(ids({"web", RunKind::backup, 150, 0}) == std::vector<std::int64_t>{running, failed, ok2, older_id_newer_time});
  CHECK(ids({"web", std::nullopt, 0, 2}) == std::vector<std::int64_t>{check, running});
  CHECK(ids({std::nullopt, RunKind::backup, 500, 10}) == std::vector<std::int64_t>{other});
  CHECK(ids({"nobody", std::nullopt, 0, 10}).empty());
}

TEST_CASE("mark_interrupted_runs marks runs of dead processes only", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  auto db = value_of(StateDb::open(tmp.path()));
  const auto live = value_of(db.begin_run(start("web", RunKind::backup, 100)));
  const auto finished = value_of(db.begin_run(start("web", RunKind::check, 100)));
  ok(db.finish_run(finished, outcome(RunStatus::success, 200)));

  // A process that starts a run and dies without finishing it.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto own = StateDb::open(tmp.path());
    const bool started = own && own->begin_run(start("web", RunKind::prune, 300));
    std::_Exit(started ? 0 : 1);  // no destructors: the crash being simulated
  }
  int wstatus = 0;
  REQUIRE(::waitpid(child, &wstatus, 0) == child);
  REQUIRE(WIFEXITED(wstatus));
  REQUIRE(WEXITSTATUS(wstatus) == 0);

  // A run from before a reboot, with a PID that is alive now (ours).
  const auto before_reboot = value_of(db.begin_run(start("db", RunKind::backup, 400)));
  RawDb(tmp / "state.db")
      .exec("UPDATE runs SET owner_boot_id = 'another-boot' WHERE id = " + std::to_string(before_reboot));

  CHECK(value_of(db.mark_interrupted_runs()) == 2);
  CHECK(value_of(db.mark_interrupted_runs()) == 0);

  CHECK(value_of(db.run(live))->status == RunStatus::running);
  CHECK(value_of(db.run(finished))->status == RunStatus::success);
  const auto dead = value_of(db.last_run("web", RunKind::prune));
  REQUIRE(dead.has_value());
  CHECK(dead->owner_pid == child);
  CHECK(dead->status == RunStatus::interrupted);
  CHECK_THAT(dead->error.value_or(""), Contains("pid " + std::to_string(child)));
  CHECK(value_of(db.run(before_reboot))->status == RunStatus::interrupted);
  // The live process can still finish its own run.
  ok(db.finish_run(live, outcome(RunStatus::success, 500)));
}

TEST_CASE("a state database newer than this kho is refused", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  { auto db = value_of(StateDb::open(tmp.path())); }
  RawDb(tmp / "state.db").exec("PRAGMA user_version = 7");
  const auto err = error_of(StateDb::open(tmp.path()));
  CHECK(err.code() == Errc::unsupported);
  CHECK_THAT(err.message(), Contains("state database schema version 7 is newer than this kho (1): upgrade kho") &&
                                Contains((tmp / "state.db").string()));
  CHECK(RawDb(tmp / "state.db").text("PRAGMA user_version") == "7");
}

TEST_CASE("an empty state.db is migrated to the current schema", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  std::ofstream(tmp / "state.db").close();
  REQUIRE(fs::file_size(tmp / "state.db") == 0);
  auto db = value_of(StateDb::open(tmp.path()));
  CHECK(RawDb(tmp / "state.db").text("PRAGMA user_version") == "1");
  CHECK(RawDb(tmp / "state.db").text("SELECT value FROM meta WHERE key = 'created_by'") == "kho");
  CHECK(value_of(db.begin_run(start("web", RunKind::backup, 1))) == 1);
  // Opening again applies nothing twice.
  auto again = value_of(StateDb::open(tmp.path()));
  CHECK(value_of(again.runs({})).size() == 1);
}

TEST_CASE("two handles writing at once wait for each other instead of failing busy", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  auto a = value_of(StateDb::open(tmp.path()));
  auto b = value_of(StateDb::open(tmp.path()));

  constexpr int k_runs = 100;
  auto writer = [&](StateDb& db, const std::string& policy, std::vector<std::string>& errors) {
    for (int i = 0; i < k_runs; ++i) {
      auto id = db.begin_run(start(policy, RunKind::backup, i));
      if (!id) {
        errors.push_back(id.error().message());
        continue;
      }
      auto done = db.finish_run(*id, outcome(RunStatus::success, i + 1));
      if (!done) errors.push_back(done.error().message());
      auto read = db.last_run(policy, RunKind::backup);
      if (!read) errors.push_back(read.error().message());
    }
  };
  std::vector<std::string> errors_a, errors_b;
  std::thread t1([&] { writer(a, "one", errors_a); });
  std::thread t2([&] { writer(b, "two", errors_b); });
  t1.join();
  t2.join();
  CHECK(errors_a.empty());
  CHECK(errors_b.empty());
  CHECK(value_of(a.runs({"two", std::nullopt, 0, 0})).size() == k_runs);
  CHECK(value_of(b.runs({"one", std::nullopt, 0, 0})).size() == k_runs);

  // A writer holding the lock for a while delays the next write; it does not fail it.
  RawDb holder(tmp / "state.db");
  holder.exec("BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'created_by'");
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(holder.db, "COMMIT", nullptr, nullptr, nullptr);
  });
  const auto t0 = std::chrono::steady_clock::now();
  const auto waited = a.begin_run(start("one", RunKind::check, 0));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  release.join();
  CHECK(waited.has_value());
  CHECK(elapsed >= std::chrono::milliseconds(250));
}

TEST_CASE("a damaged state.db gives an error naming the file", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  const fs::path file = tmp / "state.db";
  SECTION("garbage") {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>((i * 131 + 7) & 0xff));
  }
  SECTION("a SQLite header followed by garbage") {
    { auto db = value_of(StateDb::open(tmp.path())); }
    fs::remove(tmp / "state.db-wal");
    fs::remove(tmp / "state.db-shm");
    std::fstream io(file, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(100);
    for (int i = 0; i < 4000; ++i) io.put(static_cast<char>(0xA5));
  }
  ::chmod(file.c_str(), 0600);
  const auto err = error_of(StateDb::open(tmp.path()));
  CHECK(err.code() == Errc::corruption);
  CHECK_THAT(err.message(), Contains(file.string()) && Contains("move it aside"));
}

TEST_CASE("copy ages and the scheduler's last due instants only move forward", "[state]") {
  kho::test::ScopedTempDir tmp("kho-state");
  auto db = value_of(StateDb::open(tmp.path()));
  CHECK_FALSE(value_of(db.last_copy("web", "offline")).has_value());
  ok(db.record_copy("web", {"offline", 100, "aaaa"}));
  ok(db.record_copy("web", {"offline", 50, "old"}));  // ignored: older
  ok(db.record_copy("web", {"offsite", 70, "bbbb"}));
  ok(db.record_copy("db", {"offline", 999, "cccc"}));
  const auto offline = value_of(db.last_copy("web", "offline"));
  REQUIRE(offline.has_value());
  CHECK(offline->last_success_at == 100);
  CHECK(offline->snapshot_id == "aaaa");
  const auto all = value_of(db.copies("web"));
  REQUIRE(all.size() == 2);
  CHECK(all[0].destination == "offline");
  CHECK(all[1].destination == "offsite");

  CHECK_FALSE(value_of(db.last_due("web", ScheduledJob::backup)).has_value());
  CHECK(value_of(db.advance_last_due("web", ScheduledJob::backup, 1000)));
  CHECK_FALSE(value_of(db.advance_last_due("web", ScheduledJob::backup, 1000)));  // already handled
  CHECK_FALSE(value_of(db.advance_last_due("web", ScheduledJob::backup, 900)));
  CHECK(value_of(db.advance_last_due("web", ScheduledJob::check, 5)));
  CHECK(value_of(db.last_due("web", ScheduledJob::backup)) == 1000);
  CHECK(value_of(db.advance_last_due("web", ScheduledJob::backup, 2000)));
  CHECK(value_of(db.last_due("web", ScheduledJob::backup)) == 2000);
  CHECK(value_of(db.last_due("web", ScheduledJob::check)) == 5);
}

TEST_CASE("the default state directory follows euid, XDG_STATE_HOME and HOME", "[state]") {
  if (::geteuid() == 0) {
    CHECK(value_of(default_state_dir()) == "/var/lib/kho");
    return;
  }
  auto saved = [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  const auto xdg = saved("XDG_STATE_HOME");
  const auto home = saved("HOME");
  ::setenv("XDG_STATE_HOME", "/x/state", 1);
  ::setenv("HOME", "/home/someone", 1);
  const auto from_xdg = default_state_dir();
  ::setenv("XDG_STATE_HOME", "relative/ignored", 1);
  const auto from_home = default_state_dir();
  xdg ? ::setenv("XDG_STATE_HOME", xdg->c_str(), 1) : ::unsetenv("XDG_STATE_HOME");
  home ? ::setenv("HOME", home->c_str(), 1) : ::unsetenv("HOME");
  CHECK(value_of(from_xdg) == "/x/state/kho");
  CHECK(value_of(from_home) == "/home/someone/.local/state/kho");
}

// The orchestration state store: a record of every run (backup, check, prune,
// copy, restore, drill, forget) with its result, figures and step timings, the
// age of each offline/offsite copy, and what the scheduler has already handled.
//
// One SQLite database, <state dir>/state.db, in WAL mode, shared by the
// scheduler and short-lived CLI processes (`kho status`, `kho policy run`).
// Every write is one IMMEDIATE transaction and waits up to k_busy_timeout_ms
// for another process's; readers never block writers.
//
// Schema (PRAGMA user_version = 1). Times are INTEGER nanoseconds since the
// Unix epoch (kho::TimeNs, as everywhere in kho); enumerations are TEXT.
//
//   runs       id INTEGER PRIMARY KEY, policy, kind (backup|check|prune|copy|
//              restore|drill|forget), trigger (schedule|catch-up|manual|retry),
//              attempt >= 1, started_at, finished_at NULL while running,
//              status (running|success|failed|interrupted), stage NULL (where it
//              failed: hooks.before, backup, hooks.after, forget, prune,
//              copy:<dest>, check...), error NULL, snapshot_id NULL,
//              figures (a JSON object, '{}' when none),
//              owner_pid, owner_boot_id, owner_start_ticks NULL (the process that
//              runs it: PID, /proc/sys/kernel/random/boot_id, start time in clock
//              ticks after boot from /proc/<pid>/stat, so a reused PID is not
//              taken for the owner)
//              INDEX (policy, kind, started_at), INDEX (started_at),
//              partial INDEX (status) WHERE status = 'running'
//   run_steps  (run_id -> runs.id ON DELETE CASCADE, seq from 1) PRIMARY KEY,
//              name, started_at, finished_at, status (success|failed|skipped), detail
//   copies     (policy, destination) PRIMARY KEY, last_success_at, snapshot_id
//   scheduler  (policy, job (backup|check|prune)) PRIMARY KEY, last_due_at
//   meta       key PRIMARY KEY, value (created_at, created_by)
//
// Migrations are an ordered list; each runs in one transaction that also sets
// user_version, so a crash leaves the database at a whole version. A database
// whose version is newer than this program is refused, never written.
//
// Thread-safety: a StateDb is used by one thread at a time; open one per thread
// (or per process) — they may all point at the same directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kho/util/error.hpp"
#include "kho/util/time.hpp"

struct sqlite3;

namespace kho::orchestrate {

enum class RunKind { backup, check, prune, copy, restore, drill, forget };
enum class RunTrigger { schedule, catch_up, manual, retry };
enum class RunStatus { running, success, failed, interrupted };
enum class StepStatus { success, failed, skipped };
enum class ScheduledJob { backup, check, prune };

// The names stored in the database and shown to users ("catch-up", ...).
std::string_view to_string(RunKind kind);
std::string_view to_string(RunTrigger trigger);
std::string_view to_string(RunStatus status);
std::string_view to_string(StepStatus status);
std::string_view to_string(ScheduledJob job);

// The state directory: /var/lib/kho when running as root (euid 0), else
// $XDG_STATE_HOME/kho (when set to an absolute path) or ~/.local/state/kho.
// Fails with not_found when neither XDG_STATE_HOME nor a home directory is known.
// Creates nothing.
[[nodiscard]] Result<std::filesystem::path> default_state_dir();

struct RunStart {
  std::string policy;
  RunKind kind = RunKind::backup;
  RunTrigger trigger = RunTrigger::manual;
  int attempt = 1;  // 1 for the first try, 2 for the first retry...
  TimeNs started_at = 0;
};

struct RunOutcome {
  RunStatus status = RunStatus::success;  // REQUIRES: not running
  TimeNs finished_at = 0;
  std::optional<std::string> stage;        // where it failed
  std::optional<std::string> error;        // the error message
  std::optional<std::string> snapshot_id;  // the snapshot it made or used
  nlohmann::json figures = nlohmann::json::object();  // REQUIRES: an object
};

struct RunRecord {
  std::int64_t id = 0;
  std::string policy;
  RunKind kind = RunKind::backup;
  RunTrigger trigger = RunTrigger::manual;
  int attempt = 1;
  TimeNs started_at = 0;
  std::optional<TimeNs> finished_at;  // absent while running and for interrupted runs
  RunStatus status = RunStatus::running;
  std::optional<std::string> stage;
  std::optional<std::string> error;
  std::optional<std::string> snapshot_id;
  nlohmann::json figures = nlohmann::json::object();
  std::int64_t owner_pid = 0;
};

struct RunStep {
  int seq = 0;  // assigned by add_step (1, 2, ...); ignored on input
  std::string name;
  TimeNs started_at = 0;
  TimeNs finished_at = 0;
  StepStatus status = StepStatus::success;
  std::string detail;
};

struct RunFilter {
  std::optional<std::string> policy;  // all policies when absent
  std::optional<RunKind> kind;        // all kinds when absent
  TimeNs since = 0;                   // started_at >= since
  int limit = 100;                    // newest first; <= 0: no limit
};

struct CopyRecord {
  std::string destination;
  TimeNs last_success_at = 0;
  std::string snapshot_id;
};

// Errors of every StateDb function name the database file. SQLite's "busy"
// after the timeout is Errc::locked (transient); a damaged file is corruption.
class StateDb {
public:
  static constexpr int k_schema_version = 1;
  static constexpr int k_busy_timeout_ms = 10000;

  // Opens (creating when missing) <dir>/state.db and brings its schema up to
  // k_schema_version. The directory is created with mode 0700 (missing parents
  // too); an existing one that group or others may access is tightened to 0700.
  // The file is created 0600 and tightened likewise. Fails with permission when
  // the directory or file is owned by another user, corruption when state.db is
  // not a SQLite database, unsupported when its schema is newer than this kho.
  [[nodiscard]] static Result<StateDb> open(const std::filesystem::path& dir);

  StateDb(StateDb&& other) noexcept;
  StateDb& operator=(StateDb&& other) noexcept;
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;
  ~StateDb();

  const std::filesystem::path& file() const { return m_file; }

  // Records a run as running, owned by this process; returns its id.
  [[nodiscard]] Result<std::int64_t> begin_run(const RunStart& start);

  // Appends a finished step to a run (seq = previous + 1). not_found when there
  // is no such run.
  [[nodiscard]] Status add_step(std::int64_t run_id, const RunStep& step);
  [[nodiscard]] Result<std::vector<RunStep>> steps(std::int64_t run_id);

  // Records the result of a running run. not_found when there is no such run;
  // invalid_argument when it is no longer running (finished or interrupted) or
  // outcome.status is running or figures is not a JSON object.
  [[nodiscard]] Status finish_run(std::int64_t run_id, const RunOutcome& outcome);

  // nullopt when there is none.
  [[nodiscard]] Result<std::optional<RunRecord>> run(std::int64_t run_id);
  // The most recently started run of any status (running included).
  [[nodiscard]] Result<std::optional<RunRecord>> last_run(std::string_view policy, RunKind kind);
  // The most recently started successful run.
  [[nodiscard]] Result<std::optional<RunRecord>> last_success(std::string_view policy, RunKind kind);
  // Runs matching the filter, newest started first.
  [[nodiscard]] Result<std::vector<RunRecord>> runs(const RunFilter& filter);

  // Marks as interrupted every run still `running` whose owning process is gone
  // (another boot, or no process with that PID and start time); runs of live
  // processes, this one included, are left alone. Returns how many were marked.
  // Call at scheduler start-up. REQUIRES: the processes sharing the state
  // directory see one PID namespace.
  [[nodiscard]] Result<int> mark_interrupted_runs();

  // The last successful copy of a policy's snapshots to a destination. Only
  // moves forward: an older `at` than the one stored is ignored.
  [[nodiscard]] Status record_copy(std::string_view policy, const CopyRecord& copy);
  [[nodiscard]] Result<std::optional<CopyRecord>> last_copy(std::string_view policy, std::string_view destination);
  [[nodiscard]] Result<std::vector<CopyRecord>> copies(std::string_view policy);

  // The last scheduled instant of a job that was handled (ran, or was caught up).
  [[nodiscard]] Result<std::optional<TimeNs>> last_due(std::string_view policy, ScheduledJob job);
  // Sets last_due to `due` when it is unset or earlier; returns whether it
  // changed. Atomic, so of two schedulers handling the same instant exactly one
  // sees true.
  [[nodiscard]] Result<bool> advance_last_due(std::string_view policy, ScheduledJob job, TimeNs due);

private:
  struct Closer {
    void operator()(sqlite3* db) const noexcept;
  };
  StateDb(std::unique_ptr<sqlite3, Closer> db, std::filesystem::path file);

  std::unique_ptr<sqlite3, Closer> m_db;
  std::filesystem::path m_file;
};

}  // namespace kho::orchestrate

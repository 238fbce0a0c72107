#include "kho/orchestrate/state.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kho/util/fd.hpp"
#include "kho/util/json.hpp"

namespace kho::orchestrate {

namespace {

namespace fs = std::filesystem;

// ---- enumerations <-> text ----------------------------------------------------

constexpr std::array<std::string_view, 7> k_kind_names = {"backup", "check", "prune", "copy",
                                                          "restore", "drill", "forget"};
constexpr std::array<std::string_view, 4> k_trigger_names = {"schedule", "catch-up", "manual", "retry"};
constexpr std::array<std::string_view, 4> k_status_names = {"running", "success", "failed", "interrupted"};
constexpr std::array<std::string_view, 3> k_step_status_names = {"success", "failed", "skipped"};
constexpr std::array<std::string_view, 3> k_job_names = {"backup", "check", "prune"};

template <typename E, std::size_t N>
std::optional<E> enum_from(const std::array<std::string_view, N>& names, std::string_view text) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<E>(i);
  }
  return std::nullopt;
}

template <typename E, std::size_t N>
std::string_view enum_name(const std::array<std::string_view, N>& names, E value) {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : std::string_view("unknown");
}

// ---- schema -------------------------------------------------------------------

struct Migration {
  int version;
  const char* sql;
};

// Append only: a released migration is never edited.
constexpr std::array<Migration, 1> k_migrations = {{
    {1, R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  policy TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('backup','check','prune','copy','restore','drill','forget')),
  trigger TEXT NOT NULL CHECK (trigger IN ('schedule','catch-up','manual','retry')),
  attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  status TEXT NOT NULL CHECK (status IN ('running','success','failed','interrupted')),
  stage TEXT,
  error TEXT,
  snapshot_id TEXT,
  figures TEXT NOT NULL DEFAULT '{}',
  owner_pid INTEGER NOT NULL,
  owner_boot_id TEXT NOT NULL,
  owner_start_ticks INTEGER
);
CREATE INDEX runs_policy_kind_started ON runs (policy, kind, started_at);
CREATE INDEX runs_started ON runs (started_at);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
CREATE TABLE run_steps (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  name TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('success','failed','skipped')),
  detail TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE copies (
  policy TEXT NOT NULL,
  destination TEXT NOT NULL,
  last_success_at INTEGER NOT NULL,
  snapshot_id TEXT NOT NULL,
  PRIMARY KEY (policy, destination)
) WITHOUT ROWID;
CREATE TABLE scheduler (
  policy TEXT NOT NULL,
  job TEXT NOT NULL CHECK (job IN ('backup','check','prune')),
  last_due_at INTEGER NOT NULL,
  PRIMARY KEY (policy, job)
) WITHOUT ROWID;
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('created_by', 'kho'),
  ('created_at', CAST(unixepoch() * 1000000000 AS TEXT));
)sql"},
}};
static_assert(k_migrations.back().version == StateDb::k_schema_version);

// ---- SQLite helpers -----------------------------------------------------------

Errc errc_from_sqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Errc::locked;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Errc::corruption;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return Errc::permission;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL: return Errc::io;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG: return Errc::invalid_argument;
    default: return Errc::failed;
  }
}

// "state database /x/state.db: <doing>: <sqlite message>" plus advice where there is some.
Error sqlite_error(sqlite3* db, int rc, const fs::path& file, std::string_view doing) {
  const char* detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = fmt::format("state database {}: {}: {}", file.string(), doing, detail);
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      message += "; the file is damaged or not a kho state database: move it aside and kho creates a new one "
                 "(the run history in it is lost)";
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      message +=
          fmt::format(" (still busy after {} s; another kho process holds it)", StateDb::k_busy_timeout_ms / 1000);
      break;
    case SQLITE_FULL: message += " (the disk is full)"; break;
    default: break;
  }
  const bool transient = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
  return Error(errc_from_sqlite(rc), std::move(message), transient);
}

// A prepared statement; parameters are bound by 1-based index.
class Stmt {
public:
  Stmt(sqlite3* db, const fs::path& file, std::string_view sql) : m_db(db), m_file(&file) {
    sqlite3_stmt* raw = nullptr;
    m_rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    m_stmt.reset(raw);
  }

  Stmt& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(m_stmt.get(), i, v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, std::string_view v) {
    return check(sqlite3_bind_text64(m_stmt.get(), i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Stmt& bind(int i, const std::optional<std::string>& v) {
    return v ? bind(i, std::string_view(*v)) : check(sqlite3_bind_null(m_stmt.get(), i));
  }

  // true: a row is available; false: done.
  [[nodiscard]] Result<bool> step(std::string_view doing) {
    if (m_rc != SQLITE_OK) return tl::unexpected(sqlite_error(m_db, m_rc, *m_file, doing));
    const int rc = sqlite3_step(m_stmt.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return tl::unexpected(sqlite_error(m_db, rc, *m_file, doing));
  }
  [[nodiscard]] Status run(std::string_view doing) {
    KHO_TRY_STATUS(step(doing));
    return {};
  }

  bool is_null(int col) const { return sqlite3_column_type(m_stmt.get(), col) == SQLITE_NULL; }
  std::int64_t int64(int col) const { return sqlite3_column_int64(m_stmt.get(), col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt.get(), col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(m_stmt.get(), col))) : std::string();
  }
  std::optional<std::string> optional_text(int col) const {
    return is_null(col) ? std::nullopt : std::optional<std::string>(text(col));
  }

private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
  };
  Stmt& check(int rc) {
    if (m_rc == SQLITE_OK && rc != SQLITE_OK) m_rc = rc;
    return *this;
  }

  sqlite3* m_db;
  const fs::path* m_file;
  std::unique_ptr<sqlite3_stmt, Finalizer> m_stmt;
  int m_rc = SQLITE_OK;
};

Status exec(sqlite3* db, const fs::path& file, const char* sql, std::string_view doing) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return tl::unexpected(sqlite_error(db, rc, file, doing));
  return {};
}

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed. IMMEDIATE takes the
// write lock up front, where the busy timeout applies; a deferred transaction
// that upgrades from reading to writing would fail at once with SQLITE_BUSY.
class Transaction {
public:
  static Result<Transaction> begin(sqlite3* db, const fs::path& file) {
    KHO_TRY_STATUS(exec(db, file, "BEGIN IMMEDIATE", "starting a transaction"));
    return Transaction(db, file);
  }
  Transaction(Transaction&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)), m_file(other.m_file) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() {
    if (m_db) sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  [[nodiscard]] Status commit() {
    sqlite3* db = std::exchange(m_db, nullptr);
    Status done = exec(db, *m_file, "COMMIT", "committing");
    if (!done) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return done;
  }

private:
  Transaction(sqlite3* db, const fs::path& file) : m_db(db), m_file(&file) {}
  sqlite3* m_db;
  const fs::path* m_file;
};

Result<std::int64_t> pragma_int(sqlite3* db, const fs::path& file, const char* sql, std::string_view doing) {
  Stmt stmt(db, file, sql);
  KHO_TRY_ASSIGN(const bool row, stmt.step(doing));
  return row ? stmt.int64(0) : 0;
}

// ---- this process and others ----------------------------------------------------

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string boot_id() {
  static const std::string id = read_first_line("/proc/sys/kernel/random/boot_id");
  return id;
}

// Field 22 of /proc/<pid>/stat (start time in clock ticks after boot); nullopt
// when the process does not exist or /proc cannot tell.
std::optional<std::int64_t> process_start_ticks(std::int64_t pid) {
  const std::string stat = read_first_line("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) is in parentheses and may hold spaces and ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  char* end = nullptr;
  errno = 0;
  const long long ticks = std::strtoll(field.c_str(), &end, 10);
  if (errno != 0 || end == field.c_str() || *end != '\0') return std::nullopt;
  return ticks;
}

struct Owner {
  std::int64_t pid;
  std::string boot_id;
  std::optional<std::int64_t> start_ticks;
};

Owner this_process() {
  const std::int64_t pid = ::getpid();
  return Owner{pid, boot_id(), process_start_ticks(pid)};
}

bool owner_alive(const Owner& owner) {
  if (!owner.boot_id.empty() && !boot_id().empty() && owner.boot_id != boot_id()) return false;
  if (owner.pid <= 0) return false;
  if (const auto ticks = process_start_ticks(owner.pid)) {
    return !owner.start_ticks || *owner.start_ticks == *ticks;
  }
  // No /proc entry: gone, unless /proc is not there to ask (then kill(2) can).
  if (process_start_ticks(::getpid())) return false;
  return ::kill(static_cast<pid_t>(owner.pid), 0) == 0 || errno == EPERM;
}

// ---- files ----------------------------------------------------------------------

// Creates `dir` and missing parents with mode 0700.
Status make_dirs(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) return {};
  if (dir.has_parent_path() && dir.parent_path() != dir) KHO_TRY_STATUS(make_dirs(dir.parent_path()));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail_errno("creating the state directory " + dir.string(), errno);
  }
  return {};
}

Status check_owner(const struct stat& st, const fs::path& path, std::string_view what) {
  if (st.st_uid != ::geteuid()) {
    return failf(Errc::permission,
                 "{} {} is owned by uid {}, not by this user (uid {}); use a state directory of your own "
                 "(XDG_STATE_HOME) or run kho as its owner",
                 what, path.string(), st.st_uid, ::geteuid());
  }
  return {};
}

// Refuses an object owned by someone else; sets `mode` (removing group and other permissions).
Status secure(int fd, const fs::path& path, std::string_view what, mode_t mode) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno(path.string(), errno);
  KHO_TRY_STATUS(check_owner(st, path, what));
  if ((st.st_mode & 07777) != mode && ::fchmod(fd, mode) != 0) {
    return fail_errno(fmt::format("setting mode {:o} on {} {}", mode, what, path.string()), errno);
  }
  return {};
}

}  // namespace

std::string_view to_string(RunKind kind) { return enum_name(k_kind_names, kind); }
std::string_view to_string(RunTrigger trigger) { return enum_name(k_trigger_names, trigger); }
std::string_view to_string(RunStatus status) { return enum_name(k_status_names, status); }
std::string_view to_string(StepStatus status) { return enum_name(k_step_status_names, status); }
std::string_view to_string(ScheduledJob job) { return enum_name(k_job_names, job); }

Result<fs::path> default_state_dir() {
  if (::geteuid() == 0) return fs::path("/var/lib/kho");
  // The XDG base directory spec: a relative value is invalid and ignored.
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg == '/') return fs::path(xdg) / "kho";
  std::string home;
  if (const char* env = std::getenv("HOME"); env && *env == '/') {
    home = env;
  } else {
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::array<char, 4096> buf{};
    if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_dir &&
        found->pw_dir[0] == '/') {
      home = found->pw_dir;
    }
  }
  if (home.empty()) {
    return fail(Errc::not_found,
                "cannot find the kho state directory: HOME is not set and uid has no home directory; set "
                "XDG_STATE_HOME or HOME");
  }
  return fs::path(home) / ".local" / "state" / "kho";
}

// ---- StateDb --------------------------------------------------------------------

void StateDb::Closer::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

StateDb::StateDb(std::unique_ptr<sqlite3, Closer> db, fs::path file) : m_db(std::move(db)), m_file(std::move(file)) {}
StateDb::StateDb(StateDb&& other) noexcept = default;
StateDb& StateDb::operator=(StateDb&& other) noexcept = default;
StateDb::~StateDb() = default;

Result<StateDb> StateDb::open(const fs::path& dir) {
  if (dir.empty()) return fail(Errc::invalid_argument, "the state directory is empty");
  KHO_TRY_STATUS(make_dirs(dir));
  // Owner checks before open(2) too, which would fail with a vaguer EACCES.
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) KHO_TRY_STATUS(check_owner(st, dir, "the state directory"));
  {
    KHO_TRY_ASSIGN(Fd dir_fd, open_fd(dir.string(), O_RDONLY | O_DIRECTORY));
    KHO_TRY_STATUS(secure(dir_fd.get(), dir, "the state directory", 0700));
  }
  fs::path file = dir / "state.db";
  if (::lstat(file.c_str(), &st) == 0) KHO_TRY_STATUS(check_owner(st, file, "the state database"));
  {
    // Created here, not by SQLite, to get mode 0600 whatever the umask; not
    // through a symlink, which someone else could point anywhere.
    KHO_TRY_ASSIGN(Fd file_fd, open_fd(file.string(), O_RDWR | O_CREAT | O_NOFOLLOW, 0600));
    KHO_TRY_STATUS(secure(file_fd.get(), file, "the state database", 0600));
  }

  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
  std::unique_ptr<sqlite3, Closer> db(raw);
  if (rc != SQLITE_OK) return tl::unexpected(sqlite_error(db.get(), rc, file, "opening"));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), k_busy_timeout_ms);

  const auto too_new = [&](std::int64_t version) {
    return failf(Errc::unsupported,
                 "state database {}: state database schema version {} is newer than this kho ({}): upgrade kho",
                 file.string(), version, k_schema_version);
  };
  // The first read of the file: a damaged one fails here.
  KHO_TRY_ASSIGN(const std::int64_t found,
                 pragma_int(db.get(), file, "PRAGMA user_version", "reading the schema version"));
  // Refused before anything is written, the WAL switch included.
  if (found > k_schema_version) return too_new(found);
  // Parses the schema (page 1 and up): damage there shows now, not at the first run.
  KHO_TRY_STATUS(pragma_int(db.get(), file, "SELECT count(*) FROM sqlite_schema", "reading the schema"));
  {
    Stmt wal(db.get(), file, "PRAGMA journal_mode=WAL");
    KHO_TRY_ASSIGN(const bool row, wal.step("switching to WAL mode"));
    if (!row || wal.text(0) != "wal") {
      return failf(Errc::unsupported, "state database {}: cannot use WAL mode (journal mode is {}); the state "
                   "directory must be on a local filesystem", file.string(), row ? wal.text(0) : "unknown");
    }
  }
  KHO_TRY_STATUS(exec(db.get(), file, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", "setting options"));

  for (const Migration& m : k_migrations) {
    KHO_TRY_ASSIGN(auto tx, Transaction::begin(db.get(), file));
    // Read again under the write lock: another process may have migrated meanwhile.
    KHO_TRY_ASSIGN(const std::int64_t version,
                   pragma_int(db.get(), file, "PRAGMA user_version", "reading the schema version"));
    if (version > k_schema_version) return too_new(version);
    if (version >= m.version) continue;
    if (version != m.version - 1) {
      return failf(Errc::corruption, "state database {}: schema version {} has no migration to version {}",
                   file.string(), version, m.version);
    }
    KHO_TRY_STATUS(exec(db.get(), file, m.sql, fmt::format("migrating the schema to version {}", m.version)));
    const std::string set_version = fmt::format("PRAGMA user_version = {}", m.version);
    KHO_TRY_STATUS(exec(db.get(), file, set_version.c_str(), "setting the schema version"));
    KHO_TRY_STATUS(tx.commit());
  }
  return StateDb(std::move(db), std::move(file));
}

// ---- runs -------------------------------------------------------------------------

namespace {

constexpr const char* k_run_columns =
    "id, policy, kind, trigger, attempt, started_at, finished_at, status, stage, error, snapshot_id, figures, "
    "owner_pid";

Result<RunRecord> read_run(const Stmt& s, const fs::path& file) {
  RunRecord r;
  r.id = s.int64(0);
  r.policy = s.text(1);
  const auto kind = enum_from<RunKind>(k_kind_names, s.text(2));
  const auto trigger = enum_from<RunTrigger>(k_trigger_names, s.text(3));
  const auto status = enum_from<RunStatus>(k_status_names, s.text(7));
  if (!kind || !trigger || !status) {
    return failf(Errc::corruption, "state database {}: run {} has an unknown kind, trigger or status", file.string(),
                 r.id);
  }
  r.kind = *kind;
  r.trigger = *trigger;
  r.attempt = static_cast<int>(s.int64(4));
  r.started_at = s.int64(5);
  if (!s.is_null(6)) r.finished_at = s.int64(6);
  r.status = *status;
  r.stage = s.optional_text(8);
  r.error = s.optional_text(9);
  r.snapshot_id = s.optional_text(10);
  r.figures = nlohmann::json::parse(s.text(11), nullptr, false);
  if (r.figures.is_discarded() || !r.figures.is_object()) {
    return failf(Errc::corruption, "state database {}: run {} has damaged figures (not a JSON object)", file.string(),
                 r.id);
  }
  r.owner_pid = s.int64(12);
  return r;
}

Result<std::optional<RunRecord>> first_run(Stmt& s, const fs::path& file, std::string_view doing) {
  KHO_TRY_ASSIGN(const bool row, s.step(doing));
  if (!row) return std::optional<RunRecord>();
  KHO_TRY_ASSIGN(RunRecord r, read_run(s, file));
  return std::optional<RunRecord>(std::move(r));
}

}  // namespace

Result<std::int64_t> StateDb::begin_run(const RunStart& start) {
  if (start.policy.empty()) return fail(Errc::invalid_argument, "a run needs a policy name");
  if (start.attempt < 1) return failf(Errc::invalid_argument, "run attempt {} must be at least 1", start.attempt);
  const Owner me = this_process();
  KHO_TRY_ASSIGN(auto tx, Transaction::begin(m_db.get(), m_file));
  Stmt s(m_db.get(), m_file,
         "INSERT INTO runs (policy, kind, trigger, attempt, started_at, status, owner_pid, owner_boot_id, "
         "owner_start_ticks) VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8)");
  s.bind(1, start.policy)
      .bind(2, to_string(start.kind))
      .bind(3, to_string(start.trigger))
      .bind(4, std::int64_t{start.attempt})
      .bind(5, start.started_at)
      .bind(6, me.pid)
      .bind(7, me.boot_id);
  if (me.start_ticks) s.bind(8, *me.start_ticks);
  KHO_TRY_STATUS(
      s.run(fmt::format("recording the start of a {} run of policy {}", to_string(start.kind), start.policy)));
  const std::int64_t id = sqlite3_last_insert_rowid(m_db.get());
  KHO_TRY_STATUS(tx.commit());
  return id;
}

Status StateDb::add_step(std::int64_t run_id, const RunStep& step) {
  KHO_TRY_ASSIGN(auto tx, Transaction::begin(m_db.get(), m_file));
  KHO_TRY_ASSIGN(const auto existing, run(run_id));
  if (!existing) {
    return failf(Errc::not_found, "state database {}: no run {} to add step {} to", m_file.string(), run_id, step.name);
  }
  Stmt s(m_db.get(), m_file,
         "INSERT INTO run_steps (run_id, seq, name, started_at, finished_at, status, detail) "
         "SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6 FROM run_steps WHERE run_id = ?1");
  s.bind(1, run_id)
      .bind(2, step.name)
      .bind(3, step.started_at)
      .bind(4, step.finished_at)
      .bind(5, to_string(step.status))
      .bind(6, step.detail);
  KHO_TRY_STATUS(s.run(fmt::format("recording step {} of run {}", step.name, run_id)));
  return tx.commit();
}

Result<std::vector<RunStep>> StateDb::steps(std::int64_t run_id) {
  Stmt s(m_db.get(), m_file,
         "SELECT seq, name, started_at, finished_at, status, detail FROM run_steps WHERE run_id = ?1 ORDER BY seq");
  s.bind(1, run_id);
  std::vector<RunStep> out;
  const std::string doing = fmt::format("reading the steps of run {}", run_id);
  while (true) {
    KHO_TRY_ASSIGN(const bool row, s.step(doing));
    if (!row) break;
    const auto status = enum_from<StepStatus>(k_step_status_names, s.text(4));
    if (!status) return failf(Errc::corruption, "state database {}: a step of run {} has an unknown status",
                              m_file.string(), run_id);
    out.push_back(RunStep{static_cast<int>(s.int64(0)), s.text(1), s.int64(2), s.int64(3), *status, s.text(5)});
  }
  return out;
}

Status StateDb::finish_run(std::int64_t run_id, const RunOutcome& outcome) {
  if (outcome.status == RunStatus::running) {
    return failf(Errc::invalid_argument, "run {} cannot finish with status running", run_id);
  }
  if (!outcome.figures.is_object()) {
    return failf(Errc::invalid_argument, "the figures of run {} must be a JSON object", run_id);
  }
  // Replace invalid UTF-8 (in file names, say) rather than throw.
  const std::string figures = json_dump(outcome.figures);
  KHO_TRY_ASSIGN(auto tx, Transaction::begin(m_db.get(), m_file));
  Stmt s(m_db.get(), m_file,
         "UPDATE runs SET status = ?2, finished_at = ?3, stage = ?4, error = ?5, snapshot_id = ?6, figures = ?7 "
         "WHERE id = ?1 AND status = 'running'");
  s.bind(1, run_id)
      .bind(2, to_string(outcome.status))
      .bind(3, outcome.finished_at)
      .bind(4, outcome.stage)
      .bind(5, outcome.error)
      .bind(6, outcome.snapshot_id)
      .bind(7, figures);
  KHO_TRY_STATUS(s.run(fmt::format("recording the result of run {}", run_id)));
  if (sqlite3_changes(m_db.get()) == 0) {
    KHO_TRY_ASSIGN(const auto existing, run(run_id));
    if (!existing) return failf(Errc::not_found, "state database {}: no run {} to finish", m_file.string(), run_id);
    return failf(Errc::invalid_argument, "state database {}: run {} is already {}, not running", m_file.string(),
                 run_id, to_string(existing->status));
  }
  return tx.commit();
}

Result<std::optional<RunRecord>> StateDb::run(std::int64_t run_id) {
  Stmt s(m_db.get(), m_file, fmt::format("SELECT {} FROM runs WHERE id = ?1", k_run_columns));
  s.bind(1, run_id);
  return first_run(s, m_file, fmt::format("reading run {}", run_id));
}

Result<std::optional<RunRecord>> StateDb::last_run(std::string_view policy, RunKind kind) {
  Stmt s(m_db.get(), m_file,
         fmt::format("SELECT {} FROM runs WHERE policy = ?1 AND kind = ?2 ORDER BY started_at DESC, id DESC LIMIT 1",
                     k_run_columns));
  s.bind(1, policy).bind(2, to_string(kind));
  return first_run(s, m_file, fmt::format("reading the last {} run of policy {}", to_string(kind), policy));
}

Result<std::optional<RunRecord>> StateDb::last_success(std::string_view policy, RunKind kind) {
  Stmt s(m_db.get(), m_file,
         fmt::format("SELECT {} FROM runs WHERE policy = ?1 AND kind = ?2 AND status = 'success' "
                     "ORDER BY started_at DESC, id DESC LIMIT 1",
                     k_run_columns));
  s.bind(1, policy).bind(2, to_string(kind));
  return first_run(s, m_file, fmt::format("reading the last successful {} run of policy {}", to_string(kind), policy));
}

Result<std::vector<RunRecord>> StateDb::runs(const RunFilter& filter) {
  // NULL parameters match everything; one statement for every filter.
  Stmt s(m_db.get(), m_file,
         fmt::format("SELECT {} FROM runs WHERE (?1 IS NULL OR policy = ?1) AND (?2 IS NULL OR kind = ?2) "
                     "AND started_at >= ?3 ORDER BY started_at DESC, id DESC LIMIT ?4",
                     k_run_columns));
  s.bind(1, filter.policy)
      .bind(2, filter.kind ? std::optional<std::string>(to_string(*filter.kind)) : std::nullopt)
      .bind(3, filter.since)
      .bind(4, std::int64_t{filter.limit > 0 ? filter.limit : -1});
  std::vector<RunRecord> out;
  while (true) {
    KHO_TRY_ASSIGN(const bool row, s.step("listing runs"));
    if (!row) break;
    KHO_TRY_ASSIGN(RunRecord r, read_run(s, m_file));
    out.push_back(std::move(r));
  }
  return out;
}

Result<int> StateDb::mark_interrupted_runs() {
  KHO_TRY_ASSIGN(auto tx, Transaction::begin(m_db.get(), m_file));
  std::vector<std::pair<std::int64_t, std::int64_t>> dead;  // run id, pid
  {
    Stmt s(m_db.get(), m_file,
           "SELECT id, owner_pid, owner_boot_id, owner_start_ticks FROM runs WHERE status = 'running'");
    while (true) {
      KHO_TRY_ASSIGN(const bool row, s.step("looking for unfinished runs"));
      if (!row) break;
      Owner owner{s.int64(1), s.text(2), s.is_null(3) ? std::nullopt : std::optional<std::int64_t>(s.int64(3))};
      if (!owner_alive(owner)) dead.emplace_back(s.int64(0), owner.pid);
    }
  }
  for (const auto& [id, pid] : dead) {
    Stmt s(m_db.get(), m_file,
           "UPDATE runs SET status = 'interrupted', error = ?2 WHERE id = ?1 AND status = 'running'");
    s.bind(1, id).bind(2, fmt::format("interrupted: the kho process (pid {}) running it ended without recording a "
                                      "result (crash, kill or power loss)",
                                      pid));
    KHO_TRY_STATUS(s.run(fmt::format("marking run {} interrupted", id)));
  }
  KHO_TRY_STATUS(tx.commit());
  return static_cast<int>(dead.size());
}

// ---- copies and the scheduler ------------------------------------------------------

Status StateDb::record_copy(std::string_view policy, const CopyRecord& copy) {
  KHO_TRY_ASSIGN(auto tx, Transaction::begin(m_db.get(), m_file));
  Stmt s(m_db.get(), m_file,
         "INSERT INTO copies (policy, destination, last_success_at, snapshot_id) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (policy, destination) DO UPDATE SET last_success_at = excluded.last_success_at, "
         "snapshot_id = excluded.snapshot_id WHERE excluded.last_success_at >= copies.last_success_at");
  s.bind(1, policy).bind(2, copy.destination).bind(3, copy.last_success_at).bind(4, copy.snapshot_id);
  KHO_TRY_STATUS(s.run(fmt::format("recording the copy of policy {} to {}", policy, copy.destination)));
  return tx.commit();
}

Result<std::optional<CopyRecord>> StateDb::last_copy(std::string_view policy, std::string_view destination) {
  Stmt s(m_db.get(), m_file,
         "SELECT destination, last_success_at, snapshot_id FROM copies WHERE policy = ?1 AND destination = ?2");
  s.bind(1, policy).bind(2, destination);
  KHO_TRY_ASSIGN(const bool row, s.step(fmt::format("reading the copy of policy {} to {}", policy, destination)));
  if (!row) return std::optional<CopyRecord>();
  return std::optional<CopyRecord>(CopyRecord{s.text(0), s.int64(1), s.text(2)});
}

Result<std::vector<CopyRecord>> StateDb::copies(std::string_view policy) {
  Stmt s(m_db.get(), m_file,
         "SELECT destination, last_success_at, snapshot_id FROM copies WHERE policy = ?1 ORDER BY destination");
  s.bind(1, policy);
  std::vector<CopyRecord> out;
  const std::string doing = fmt::format("reading the copies of policy {}", policy);
  while (true) {
    KHO_TRY_ASSIGN(const bool row, s.step(doing));
    if (!row) break;
    out.push_back(CopyRecord{s.text(0), s.int64(1), s.text(2)});
  }
  return out;
}

Result<std::optional<TimeNs>> StateDb::last_due(std::string_view policy, ScheduledJob job) {
  Stmt s(m_db.get(), m_file, "SELECT last_due_at FROM scheduler WHERE policy = ?1 AND job = ?2");
  s.bind(1, policy).bind(2, to_string(job));
  KHO_TRY_ASSIGN(const bool row, s.step(fmt::format("reading the last due {} of policy {}", to_string(job), policy)));
  if (!row) return std::optional<TimeNs>();
  return std::optional<TimeNs>(s.int64(0));
}

Result<bool> StateDb::advance_last_due(std::string_view policy, ScheduledJob job, TimeNs due) {
  KHO_TRY_ASSIGN(auto tx, Transaction::begin(m_db.get(), m_file));
  Stmt s(m_db.get(), m_file,
         "INSERT INTO scheduler (policy, job, last_due_at) VALUES (?1, ?2, ?3) "
         "ON CONFLICT (policy, job) DO UPDATE SET last_due_at = excluded.last_due_at "
         "WHERE excluded.last_due_at > scheduler.last_due_at");
  s.bind(1, policy).bind(2, to_string(job)).bind(3, due);
  KHO_TRY_STATUS(s.run(fmt::format("recording the last due {} of policy {}", to_string(job), policy)));
  const bool changed = sqlite3_changes(m_db.get()) > 0;
  KHO_TRY_STATUS(tx.commit());
  return changed;
}

}  // namespace kho::orchestrate

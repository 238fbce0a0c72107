// What every command shares: global options, the repository, output helpers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "kho/engine/progress.hpp"
#include "kho/repo/lock.hpp"
#include "kho/repo/repository.hpp"

namespace kho::cli {

struct GlobalOptions {
  std::string repo;
  std::string password_file;
  std::string password_command;
  bool json = false;
  bool quiet = false;
  int verbose = 0;
  bool no_progress = false;
  unsigned threads = 0;
  std::string retry_lock;  // duration to wait for a lock, e.g. "10m"
  std::vector<std::string> options;  // -o KEY=VALUE, for the backends
};

// The -o KEY=VALUE options as a map; a malformed one is a usage error.
Result<backend::BackendOptions> parse_backend_options(const std::vector<std::string>& options);

// The first line of a password file (without its line ending). `what` names
// the option in errors ("the password file", "the new password file").
Result<SecretString> read_password_file(const std::string& path, const std::string& what);

// Where a password comes from, in order: a file, a command's first line, an
// environment variable, a no-echo prompt on the terminal.
struct PasswordSource {
  std::string file;
  std::string command;
  std::string command_option;  // for messages: "--password-command"
  std::string env_var;         // "KHO_PASSWORD"
  std::string prompt;          // "Repository password: "
  std::string alternatives;    // what to set when there is no terminal
};
Result<SecretString> get_password(const PasswordSource& source, bool confirm = false);

// Moves KHO_PASSWORD, KHO_FROM_PASSWORD and KHO_NEW_PASSWORD out of the
// environment (wiping them there) into memory, so that no hook, password
// command or runbook step inherits them and /proc/PID/environ does not show
// them. Called once at start-up, before any thread is started.
void take_password_variables();
// The value of such a variable: taken at start-up, else the environment's.
SecretString password_variable(const std::string& name);

class Context {
public:
  GlobalOptions global;

  // The command's action, set by the subcommand's parse callback.
  std::function<Status()> action;
  // Exit code for a command that finished but wants a non-zero code (3, 4).
  int result_code = 0;

  // The password from --password-file, --password-command, KHO_PASSWORD, or a
  // no-echo prompt on the terminal (asked twice when `confirm`).
  Result<SecretString> password(bool confirm = false) const;
  PasswordSource password_source() const;
  Result<std::unique_ptr<backend::Backend>> open_backend() const;
  // Opens another repository's backend (copy's --from-repo) with the same -o options.
  Result<std::unique_ptr<backend::Backend>> open_backend(const std::string& location) const;
  // Opens the repository named by -r/KHO_REPOSITORY with the password.
  Result<std::unique_ptr<repo::Repository>> open_repository(bool load_index = true) const;
  // Opens another repository (copy's --from-repo) with its own password source.
  Result<std::unique_ptr<repo::Repository>> open_repository(const std::string& location, const PasswordSource& source,
                                                            bool load_index = true) const;

  // Takes a shared or exclusive lock on the repository for `command`,
  // waiting as long as --retry-lock says.
  Result<std::unique_ptr<repo::Lock>> lock(repo::Repository& repo, bool exclusive, const std::string& command) const;

  // Human output on stdout (suppressed by --json and -q for informational lines).
  template <typename... Args>
  void print(fmt::format_string<Args...> format, Args&&... args) const {
    if (global.json || global.quiet) return;
    fmt::print(format, std::forward<Args>(args)...);
  }
  // Details shown with -v, on stderr.
  template <typename... Args>
  void verbose(fmt::format_string<Args...> format, Args&&... args) const {
    if (global.verbose <= 0) return;
    fmt::print(stderr, format, std::forward<Args>(args)...);
    fmt::print(stderr, "\n");
  }
  // Warnings go to stderr unless -q.
  template <typename... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) const {
    if (global.quiet) return;
    fmt::print(stderr, "warning: ");
    fmt::print(stderr, format, std::forward<Args>(args)...);
    fmt::print(stderr, "\n");
  }
  void print_json(const nlohmann::ordered_json& j) const;

  // The snapshots named by `specs` (IDs, prefixes, "latest"), or when none are
  // named every snapshot matching `filter`, oldest first. Unreadable snapshots
  // are reported as warnings ("<message> (<skipped_note>)") and left out.
  Result<std::vector<repo::SnapshotRef>> select_snapshots(const repo::Repository& repo,
                                                          const std::vector<std::string>& specs,
                                                          const repo::SnapshotFilter& filter,
                                                          const std::string& skipped_note) const;

  bool show_progress() const;
};

// Shows a progress line on stderr while alive (only on a terminal, not with
// -q, --json or --no-progress).
class ProgressDisplay {
public:
  ProgressDisplay(const Context& ctx, engine::Progress& progress, std::string verb);
  ~ProgressDisplay();
  void stop();

private:
  void render(bool final);
  engine::Progress& m_progress;
  std::string m_verb;
  bool m_enabled;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
  TimeNs m_start;
};

// Snapshot filter options shared by several commands.
struct FilterOptions {
  std::vector<std::string> hosts;
  std::vector<std::string> tags;
  std::vector<std::string> paths;
  void add_to(CLI::App* cmd);
  repo::SnapshotFilter filter() const;
};

// The source repository of copy and init --copy-chunker-params.
struct FromRepoOptions {
  std::string repo;
  std::string password_file;
  std::string password_command;
  void add_to(CLI::App* cmd);
  PasswordSource password_source() const;
};

// Registration of each command (cmd_*.cpp).
void register_init(CLI::App& app, Context& ctx);
void register_copy(CLI::App& app, Context& ctx);
void register_backup(CLI::App& app, Context& ctx);
void register_snapshots(CLI::App& app, Context& ctx);
void register_snapshot_mark(CLI::App& app, Context& ctx);
void register_ls(CLI::App& app, Context& ctx);
void register_cat(CLI::App& app, Context& ctx);
void register_restore(CLI::App& app, Context& ctx);
void register_compare(CLI::App& app, Context& ctx);
void register_check(CLI::App& app, Context& ctx);
void register_forget(CLI::App& app, Context& ctx);
void register_prune(CLI::App& app, Context& ctx);
void register_unlock(CLI::App& app, Context& ctx);
void register_key(CLI::App& app, Context& ctx);
void register_diff(CLI::App& app, Context& ctx);
void register_find(CLI::App& app, Context& ctx);
void register_stats(CLI::App& app, Context& ctx);
void register_export(CLI::App& app, Context& ctx);
void register_import(CLI::App& app, Context& ctx);
void register_policy(CLI::App& app, Context& ctx);
void register_status(CLI::App& app, Context& ctx);
void register_report(CLI::App& app, Context& ctx);
void register_scheduler(CLI::App& app, Context& ctx);
void register_runbook(CLI::App& app, Context& ctx);
void register_drill(CLI::App& app, Context& ctx);

// A simple aligned text table.
class Table {
public:
  explicit Table(std::vector<std::string> headers) : m_headers(std::move(headers)) {}
  void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
  std::string render() const;

private:
  std::vector<std::string> m_headers;
  std::vector<std::vector<std::string>> m_rows;
};

}  // namespace kho::cli

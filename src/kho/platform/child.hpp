// Running a child program to completion: hooks, dump commands run by policies,
// kho's own commands run by the scheduler.
//
// The child runs in its own process group (so a time-out or an interrupt stops
// the whole pipeline a shell command started), with stdin fed from a string
// (or /dev/null), stdout and stderr captured, the environment changed as asked,
// an empty signal mask and default signal dispositions, and no descriptor of
// ours but 0-2. Secrets belong in the environment or stdin, never in argv.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kho/util/error.hpp"

namespace kho::platform {

// Environment variables that name a kho repository or open it. A kho started as a
// child must not inherit them from whoever started kho: the policy or runbook says
// where the repository is and how to open it.
extern const std::vector<std::string> k_kho_repository_env;

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::vector<std::pair<std::string, std::string>> set_env;
  std::vector<std::string> unset_env;
  std::string stdin_data;  // written to the child's stdin, which is then closed
  double timeout_s = 0;    // 0: none; then SIGTERM to the group, SIGKILL after kill_grace_s
  const std::atomic<bool>* interrupt = nullptr;  // becomes true: stopped like a time-out
  double kill_grace_s = 10;
  std::size_t capture_limit = 1 << 20;  // bytes kept of stdout (head) and stderr (tail)
  std::function<void(std::string_view line)> on_stderr_line;  // each stderr line as it comes
};

struct ChildResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  bool timed_out = false;
  bool interrupted = false;
  std::string out;  // stdout (the first capture_limit bytes)
  std::string err;  // stderr (the last capture_limit bytes)
  double seconds = 0;

  bool ok() const { return exit_code == 0 && signal == 0 && !timed_out && !interrupted; }
  // "exit status 3", "killed by signal 9", "timed out after 60 s", "interrupted".
  std::string status_text(double timeout_s = 0) const;
  // The last non-empty line of stderr, for error messages.
  std::string last_error_line() const;
};

// Fails only when the child cannot be started (Errc::io, naming argv[0]);
// how it ended is in the result.
Result<ChildResult> run_child(const ChildOptions& options);

// A child left running in the background (a service a drill starts), in its
// own process group, its stdout and stderr appended to a log file, stdin
// /dev/null. Stopping it (stop() or the destructor) sends SIGTERM to the whole
// group, then SIGKILL after the grace time, and reaps it.
class BackgroundChild {
 public:
  BackgroundChild() = default;
  BackgroundChild(BackgroundChild&& other) noexcept;
  BackgroundChild& operator=(BackgroundChild&& other) noexcept;
  BackgroundChild(const BackgroundChild&) = delete;
  BackgroundChild& operator=(const BackgroundChild&) = delete;
  ~BackgroundChild();

  int pid() const { return m_pid; }
  // Whether it still runs (false once it exited; it is then reaped).
  bool running();
  // The exit status text once it ended ("exit status 1", "killed by signal 9").
  const std::string& ended_with() const { return m_ended; }
  // Stops the group (see above); returns how the leader ended.
  std::string stop(double grace_s = 10);

 private:
  friend Result<BackgroundChild> start_background(const ChildOptions&, const std::string&);
  int m_pid = 0;
  std::string m_ended;
};

// Starts argv (options.argv, set_env, unset_env; the other fields are not
// used) with output appended to `log_path` (created 0600).
Result<BackgroundChild> start_background(const ChildOptions& options, const std::string& log_path);

// The path of the running program (/proc/self/exe), for running kho itself.
Result<std::string> self_executable();

}  // namespace kho::platform

#include "kho/platform/child.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <utility>

#include "kho/platform/process.hpp"
#include "kho/util/fd.hpp"

extern char** environ;

namespace kho::platform {

const std::vector<std::string> k_kho_repository_env = {"KHO_REPOSITORY",      "KHO_PASSWORD",
                                                       "KHO_PASSWORD_FILE",   "KHO_FROM_REPOSITORY",
                                                       "KHO_FROM_PASSWORD_FILE", "KHO_PASSWORD_COMMAND"};

namespace {
using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The child's environment: ours, changed as asked. Built before fork (the
// child may only make async-signal-safe calls).
std::vector<std::string> child_environment(const ChildOptions& o) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& name : o.unset_env) {
    if (name.empty() || name.back() != '*') {
      env.erase(name);
      continue;
    }
    const std::string prefix = name.substr(0, name.size() - 1);
    for (auto it = env.lower_bound(prefix); it != env.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
      it = env.erase(it);
  }
  for (const auto& [name, value] : o.set_env) env[name] = value;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

[[noreturn]] void exec_child(int in, int out, int err, char* const* argv, char* const* envp) {
  setpgid(0, 0);
  dup2(in, STDIN_FILENO);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  close_range(3, ~0U, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  restore_core_limit();  // kho keeps its own keys out of core files, not the child's data
  execvpe(argv[0], argv, envp);
  const char msg[] = "kho: cannot run the program: ";
  [[maybe_unused]] auto w = write(STDERR_FILENO, msg, sizeof msg - 1);
  w = write(STDERR_FILENO, argv[0], std::strlen(argv[0]));
  w = write(STDERR_FILENO, "\n", 1);
  _exit(127);
}

// The child has exited, without reaping it: while it is a zombie its pid, and
// so its process group ID, cannot be reused, so the group can still be signalled.
bool exited(pid_t pid) {
  siginfo_t info{};
  for (;;) {
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0) return info.si_pid == pid;
    if (errno != EINTR) return true;  // ECHILD: nothing left to wait for
  }
}

void keep_tail(std::string& s, std::size_t limit) {
  if (s.size() > limit) s.erase(0, s.size() - limit);
}
}  // namespace

std::string ChildResult::status_text(double timeout_s) const {
  if (interrupted) return "interrupted";
  if (timed_out) return timeout_s > 0 ? fmt::format("timed out after {:g} s", timeout_s) : "timed out";
  if (signal != 0) return fmt::format("killed by signal {} ({})", signal, strsignal(signal));
  return fmt::format("exit status {}", exit_code);
}

std::string ChildResult::last_error_line() const {
  std::size_t end = err.size();
  while (end > 0) {
    while (end > 0 && (err[end - 1] == '\n' || err[end - 1] == '\r' || err[end - 1] == ' ')) --end;
    std::size_t start = err.rfind('\n', end == 0 ? 0 : end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    if (end > start) return err.substr(start, end - start);
    if (start == 0) break;
    end = start;
  }
  return {};
}

Result<ChildResult> run_child(const ChildOptions& o) {
  if (o.argv.empty() || o.argv[0].empty()) return fail(Errc::invalid_argument, "no program to run");
  // stdin is a memory file, not a pipe: no deadlock and no SIGPIPE when the
  // child does not read all of it.
  Fd in_r(memfd_create("kho-child-stdin", MFD_CLOEXEC));
  if (!in_r) return fail_errno("cannot create the input of " + o.argv[0], errno);
  for (std::size_t done = 0; done < o.stdin_data.size();) {
    ssize_t w = write(in_r.get(), o.stdin_data.data() + done, o.stdin_data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return fail_errno("cannot write the input of " + o.argv[0], errno);
    done += static_cast<std::size_t>(w);
  }
  if (lseek(in_r.get(), 0, SEEK_SET) != 0) return fail_errno("cannot rewind the input of " + o.argv[0], errno);
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return fail_errno("cannot create a pipe", errno);
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return fail_errno("cannot create a pipe", errno);
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);

  std::vector<std::string> env = child_environment(o);
  std::vector<char*> argv, envp;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const auto start = Clock::now();
  pid_t pid = fork();
  if (pid < 0) return fail_errno("cannot start " + o.argv[0], errno);
  if (pid == 0) exec_child(in_r.get(), out_w.get(), err_w.get(), argv.data(), envp.data());
  setpgid(pid, pid);  // also here, so the group exists before we may signal it
  in_r.reset();
  out_w.reset();
  err_w.reset();
  fcntl(out_r.get(), F_SETFL, fcntl(out_r.get(), F_GETFL) | O_NONBLOCK);
  fcntl(err_r.get(), F_SETFL, fcntl(err_r.get(), F_GETFL) | O_NONBLOCK);

  ChildResult r;
  std::string err_line;
  double stop_sent_at = -1;  // seconds since start when SIGTERM went out
  auto on_err = [&](const char* data, std::size_t n) {
    r.err.append(data, n);
    if (o.on_stderr_line) {
      err_line.append(data, n);
      for (auto nl = err_line.find('\n'); nl != std::string::npos; nl = err_line.find('\n')) {
        o.on_stderr_line(std::string_view(err_line).substr(0, nl));
        err_line.erase(0, nl + 1);
      }
    }
    keep_tail(r.err, o.capture_limit);
  };
  char buf[65536];
  // Reads what is there; false at end of file.
  auto read_some = [&](Fd& fd) {
    while (true) {
      ssize_t got = read(fd.get(), buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return errno == EAGAIN;
      if (got == 0) return false;
      if (&fd == &out_r) {
        std::size_t room = o.capture_limit > r.out.size() ? o.capture_limit - r.out.size() : 0;
        r.out.append(buf, std::min(room, static_cast<std::size_t>(got)));
      } else {
        on_err(buf, static_cast<std::size_t>(got));
      }
    }
  };
  // Until the child has exited; then what is left in the pipes is read, but a
  // background process it left holding them open is not waited for.
  while (true) {
    const bool gone = exited(pid);
    std::vector<pollfd> fds;
    if (out_r) fds.push_back({out_r.get(), POLLIN, 0});
    if (err_r) fds.push_back({err_r.get(), POLLIN, 0});
    if (!fds.empty()) {
      if (poll(fds.data(), fds.size(), gone ? 0 : 100) < 0 && errno != EINTR) break;
    } else if (!gone) {
      usleep(50000);
    }
    for (const auto& p : fds) {
      if (p.revents == 0 && !gone) continue;
      Fd& fd = p.fd == out_r.get() ? out_r : err_r;
      if (!read_some(fd)) fd.reset();
    }
    if (gone) break;
    const double t = since(start);
    if (stop_sent_at < 0) {
      bool stop = false;
      if (o.timeout_s > 0 && t >= o.timeout_s) stop = r.timed_out = true;
      else if (o.interrupt && o.interrupt->load()) stop = r.interrupted = true;
      if (stop) {
        kill(-pid, SIGTERM);
        stop_sent_at = t;
      }
    } else if (t - stop_sent_at >= o.kill_grace_s) {
      kill(-pid, SIGKILL);
      stop_sent_at = t + 1e9;  // once
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!err_line.empty() && o.on_stderr_line) o.on_stderr_line(err_line);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.seconds = since(start);
  return r;
}

BackgroundChild::BackgroundChild(BackgroundChild&& other) noexcept
    : m_pid(std::exchange(other.m_pid, 0)), m_ended(std::move(other.m_ended)) {}

BackgroundChild& BackgroundChild::operator=(BackgroundChild&& other) noexcept {
  if (this != &other) {
    stop();
    m_pid = std::exchange(other.m_pid, 0);
    m_ended = std::move(other.m_ended);
  }
  return *this;
}

BackgroundChild::~BackgroundChild() { stop(); }

namespace {
std::string wait_status_text(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "ended";
}
}  // namespace

bool BackgroundChild::running() {
  if (m_pid <= 0) return false;
  int status = 0;
  pid_t r = waitpid(m_pid, &status, WNOHANG);
  if (r == 0) return true;
  if (r == m_pid) m_ended = wait_status_text(status);
  // The leader is gone; whatever it left in its group is stopped too.
  kill(-m_pid, SIGTERM);
  m_pid = 0;
  return false;
}

std::string BackgroundChild::stop(double grace_s) {
  if (m_pid <= 0) return m_ended;
  kill(-m_pid, SIGTERM);
  const auto start = Clock::now();
  bool killed = false;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(m_pid, &status, WNOHANG);
    if (r == m_pid) {
      m_ended = wait_status_text(status);
      break;
    }
    if (r < 0 && errno != EINTR) break;
    if (!killed && since(start) >= grace_s) {
      kill(-m_pid, SIGKILL);
      killed = true;
    }
    usleep(20000);
  }
  // Members of the group that outlive the leader (a service the shell
  // started, still cleaning up) get the rest of the grace time, then SIGKILL.
  for (;;) {
    // Members orphaned by the leader are ours to reap (we are a subreaper).
    while (waitpid(-m_pid, nullptr, WNOHANG) > 0) {
    }
    if (kill(-m_pid, 0) != 0) break;
    if (killed) {
      // After SIGKILL only zombies another parent has not reaped yet can remain.
      if (since(start) >= grace_s + 5) break;
      usleep(20000);
      continue;
    }
    if (since(start) >= grace_s) {
      kill(-m_pid, SIGKILL);
      killed = true;
    } else {
      usleep(20000);
    }
  }
  m_pid = 0;
  return m_ended;
}

Result<BackgroundChild> start_background(const ChildOptions& o, const std::string& log_path) {
  if (o.argv.empty() || o.argv[0].empty()) return fail(Errc::invalid_argument, "no program to run");
  Fd log(open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log) return fail_errno("cannot open the log " + log_path, errno);
  Fd null_in(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_in) return fail_errno("/dev/null", errno);
  std::vector<std::string> env = child_environment(o);
  std::vector<char*> argv, envp;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // Processes the service leaves behind when its leader exits become our
  // children, so stop() can wait for them and reap them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t pid = fork();
  if (pid < 0) return fail_errno("cannot start " + o.argv[0], errno);
  if (pid == 0) exec_child(null_in.get(), log.get(), log.get(), argv.data(), envp.data());
  setpgid(pid, pid);
  BackgroundChild child;
  child.m_pid = pid;
  return child;
}

Result<std::string> self_executable() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return fail_errno("/proc/self/exe (the path of the kho program)", errno);
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace kho::platform

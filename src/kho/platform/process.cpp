#include "kho/platform/process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "kho/util/fd.hpp"

extern char** environ;

namespace kho::platform {

namespace {

// Commands appear in error messages; a long script is cut so the message stays readable.
std::string shown(const std::string& command) {
  constexpr std::size_t k_max = 200;
  if (command.size() <= k_max) return "'" + command + "'";
  return "'" + command.substr(0, k_max) + "...'";
}

struct SpawnAttributes {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttributes() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

pid_t waitpid_eintr(pid_t pid, int* status, int flags) {
  for (;;) {
    pid_t r = ::waitpid(pid, status, flags);
    if (r >= 0 || errno != EINTR) return r;
  }
}

}  // namespace

Result<ShellCommand> ShellCommand::start(const std::string& command) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("creating a pipe for command " + shown(command), errno);
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);

  SpawnAttributes sa;
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&sa.attr, &empty);
  posix_spawnattr_setsigdefault(&sa.attr, &defaults);
  posix_spawnattr_setflags(&sa.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // dup2 onto fd 1 clears FD_CLOEXEC on the copy; the originals close on exec.
  posix_spawn_file_actions_adddup2(&sa.actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&sa.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

  std::string sh = "sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, "/bin/sh", &sa.actions, &sa.attr, argv, environ);
  if (err != 0) return fail_errno("starting command " + shown(command), err);
  write_end.reset();  // only the child writes; we see end of output when it is done
  return ShellCommand(pid, read_end.release(), command);
}

ShellCommand::ShellCommand(ShellCommand&& other) noexcept
    : m_pid(std::exchange(other.m_pid, -1)), m_fd(std::exchange(other.m_fd, -1)), m_command(std::move(other.m_command)) {}

ShellCommand& ShellCommand::operator=(ShellCommand&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    m_pid = std::exchange(other.m_pid, -1);
    m_fd = std::exchange(other.m_fd, -1);
    m_command = std::move(other.m_command);
  }
  return *this;
}

ShellCommand::~ShellCommand() { kill_and_reap(); }

void ShellCommand::kill_and_reap() noexcept {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
  if (m_pid <= 0) return;
  ::kill(m_pid, SIGTERM);
  int status;
  bool reaped = false;
  for (int i = 0; i < 200 && !reaped; ++i) {  // 2 s for a clean exit
    pid_t r = waitpid_eintr(m_pid, &status, WNOHANG);
    if (r == m_pid || r < 0) {
      reaped = true;
      break;
    }
    struct timespec pause = {0, 10'000'000};
    ::nanosleep(&pause, nullptr);
  }
  if (!reaped) {
    ::kill(m_pid, SIGKILL);
    waitpid_eintr(m_pid, &status, 0);
  }
  m_pid = -1;
}

Result<std::size_t> ShellCommand::read(std::uint8_t* buffer, std::size_t size) {
  if (m_fd < 0) return failf(Errc::invalid_argument, "output of command {} is closed", shown(m_command));
  return read_some(m_fd, buffer, size, "output of command " + shown(m_command));
}

Status ShellCommand::wait() {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
  if (m_pid <= 0) return failf(Errc::invalid_argument, "command {} was already waited for", shown(m_command));
  int status = 0;
  pid_t r = waitpid_eintr(m_pid, &status, 0);
  int err = errno;
  m_pid = -1;
  if (r < 0) return fail_errno("waiting for command " + shown(m_command), err);
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    if (code == 0) return {};
    std::string hint = code == 127 ? " (command not found?)" : code == 126 ? " (not executable?)" : "";
    return failf(Errc::failed, "command {} exited with status {}{}", shown(m_command), code, hint);
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* abbrev = ::sigabbrev_np(sig);
    return failf(Errc::failed, "command {} was killed by signal {} (SIG{}: {})", shown(m_command), sig,
                 abbrev ? abbrev : "?", ::strsignal(sig));
  }
  return failf(Errc::failed, "command {} ended with wait status {:#x}", shown(m_command), status);
}

Result<std::string> run_capture(const std::string& command) {
  KHO_TRY_ASSIGN(ShellCommand child, ShellCommand::start(command));
  std::string out;
  out.reserve(4096);
  std::uint8_t buf[4096];
  for (;;) {
    auto n = child.read(buf, sizeof buf);
    if (!n) {
      ::explicit_bzero(buf, sizeof buf);
      ::explicit_bzero(out.data(), out.capacity());
      return tl::unexpected(n.error());
    }
    if (*n == 0) break;
    if (out.size() + *n > out.capacity()) {
      // Grow by hand: a reallocation by append() would free the old bytes unwiped.
      std::string bigger;
      bigger.reserve(2 * (out.size() + *n));
      bigger.append(out);
      ::explicit_bzero(out.data(), out.capacity());
      out.swap(bigger);
    }
    out.append(reinterpret_cast<const char*>(buf), *n);
  }
  ::explicit_bzero(buf, sizeof buf);  // the output may be a password
  KHO_TRY_STATUS(child.wait());
  return out;
}

namespace {
// The core limit found at the first protect_secrets_in_memory() call; written
// once before any thread or child exists that reads it.
struct rlimit g_saved_core_limit {};
bool g_core_limit_saved = false;
}  // namespace

void protect_secrets_in_memory() {
  if (!g_core_limit_saved && ::getrlimit(RLIMIT_CORE, &g_saved_core_limit) == 0) {
    g_core_limit_saved = true;
    struct rlimit none = g_saved_core_limit;
    none.rlim_cur = 0;  // the hard limit stays, so children can get their limit back
    ::setrlimit(RLIMIT_CORE, &none);
  }
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void restore_core_limit() noexcept {
  if (g_core_limit_saved) ::setrlimit(RLIMIT_CORE, &g_saved_core_limit);
}

SecretString take_environment_secret(const char* name) {
  char* value = std::getenv(name);
  if (value == nullptr) return SecretString();
  SecretString out{std::string(value)};
  // The initial environment lives at the top of the stack, and /proc/PID/environ
  // shows that memory: unsetenv() alone would leave the value there.
  ::explicit_bzero(value, std::strlen(value));
  ::unsetenv(name);
  return out;
}

}  // namespace kho::platform

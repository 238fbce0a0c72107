// Child processes: a shell command whose standard output is streamed back.
//
// The command runs as `/bin/sh -c CMD` with stdin from /dev/null, stdout on a
// pipe, stderr inherited. The child gets the parent's environment, an empty
// signal mask and default SIGPIPE handling (even when the parent ignores
// SIGPIPE), and no other descriptor of ours (the pipe is O_CLOEXEC); nothing
// secret is placed in its argv. It stays in our process group, so it can still
// prompt on the terminal (e.g. a password command). A ShellCommand is used by
// one thread at a time.
#pragma once

#include <sys/types.h>

#include <string>

#include "kho/util/bytes.hpp"
#include "kho/util/secret.hpp"

namespace kho::platform {

class ShellCommand {
public:
  // Starts the command. Fails with Errc::io when it cannot be started.
  static Result<ShellCommand> start(const std::string& command);

  ShellCommand(ShellCommand&& other) noexcept;
  ShellCommand& operator=(ShellCommand&& other) noexcept;
  ShellCommand(const ShellCommand&) = delete;
  ShellCommand& operator=(const ShellCommand&) = delete;
  // Kills (SIGTERM, then SIGKILL after 2 s) and reaps a child not yet waited for.
  ~ShellCommand();

  // Reads up to `size` bytes of the child's stdout; 0 at end of output.
  Result<std::size_t> read(std::uint8_t* buffer, std::size_t size);

  // Closes the stdout pipe, then waits for the child; fails (Errc::failed)
  // naming the command and its exit status or signal when it did not exit 0.
  // Output not yet read is discarded; a child still writing gets SIGPIPE (so
  // read to the end first when the output matters). Fails with
  // Errc::invalid_argument when called twice.
  Status wait();

  // The file descriptor of the stdout pipe (for reading it as a stream).
  int stdout_fd() const { return m_fd; }

private:
  void kill_and_reap() noexcept;
  ShellCommand(pid_t pid, int fd, std::string command) : m_pid(pid), m_fd(fd), m_command(std::move(command)) {}
  pid_t m_pid = -1;
  int m_fd = -1;
  std::string m_command;
};

// Runs a command and captures its whole stdout (for --password-command).
// Fails when it exits non-zero. The output may be a secret: no copy of it is
// left behind in freed memory while it is read.
Result<std::string> run_capture(const std::string& command);

// Keeps key material out of core dumps and away from other processes of the
// same user: sets RLIMIT_CORE's soft limit to 0 and marks the process not
// dumpable (PR_SET_DUMPABLE 0, which also refuses ptrace and makes /proc/PID
// files root's). Call before a password or key is read; idempotent. Programs
// started by run_child() get the core limit back (see restore_core_limit);
// execve() makes them dumpable again.
void protect_secrets_in_memory();

// In a child between fork() and execve() (async-signal-safe): puts back the
// core file size limit in force before protect_secrets_in_memory().
void restore_core_limit() noexcept;

// Takes the variable `name` out of the environment: returns its value (empty
// when unset or empty), overwrites the value in place (so it also leaves
// /proc/self/environ) and unsets it, so that no child inherits it.
SecretString take_environment_secret(const char* name);

}  // namespace kho::platform

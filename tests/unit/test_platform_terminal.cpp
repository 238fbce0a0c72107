#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "kho/platform/terminal.hpp"

using namespace kho;
using namespace kho::platform;

namespace {

// Reads what the pty shows until `marker` appears or a few seconds pass.
std::string read_until(int master, const std::string& marker) {
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (seen.find(marker) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<std::size_t>(n));
  }
  return seen;
}

// Outcome of read_password in a child whose controlling terminal is a new pty,
// as "<errc or ok>|<password>|<echo restored 0/1>".
struct PtyRun {
  std::string report;
  std::string screen;  // what the terminal displayed
  int exit_status = -1;
};

PtyRun read_password_on_pty(const std::string& typed) {
  int report_pipe[2];
  REQUIRE(::pipe(report_pipe) == 0);
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(report_pipe[0]);
    auto password = read_password("Password: ");
    struct termios now {};
    ::tcgetattr(STDIN_FILENO, &now);
    std::string report = password ? "ok|" + password->value() : std::string(errc_name(password.error().code())) + "|";
    report += (now.c_lflag & ECHO) ? "|1" : "|0";
    (void)!::write(report_pipe[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(report_pipe[1]);
  PtyRun run;
  run.screen = read_until(master, "Password: ");
  (void)!::write(master, typed.data(), typed.size());
  run.screen += read_until(master, "\n");
  char buf[512];
  ssize_t n;
  while ((n = ::read(report_pipe[0], buf, sizeof buf)) > 0) run.report.append(buf, static_cast<std::size_t>(n));
  ::close(report_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  run.exit_status = status;
  ::close(master);
  return run;
}

}  // namespace

TEST_CASE("read_password reads a line without echo and restores the terminal", "[platform][terminal]") {
  auto run = read_password_on_pty("correct horse\n");
  CHECK(run.report == "ok|correct horse|1");
  CHECK(run.screen.find("Password: ") != std::string::npos);
  CHECK(run.screen.find("correct") == std::string::npos);  // not echoed
}

TEST_CASE("Ctrl-C while reading a password restores echo and still interrupts", "[platform][terminal]") {
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    (void)read_password("Password: ");
    ::_exit(0);  // not reached when SIGINT is re-raised
  }
  CHECK(read_until(master, "Password: ").find("Password: ") != std::string::npos);
  struct termios during {};
  REQUIRE(::tcgetattr(master, &during) == 0);  // a pty master reports its slave's settings
  CHECK((during.c_lflag & ECHO) == 0);
  (void)!::write(master, "secr\x03", 5);  // ^C: the line discipline sends SIGINT
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGINT);
  struct termios after {};
  REQUIRE(::tcgetattr(master, &after) == 0);
  CHECK((after.c_lflag & ECHO) != 0);
  ::close(master);
}

TEST_CASE("read_password fails without a controlling terminal", "[platform][terminal]") {
  int report_pipe[2];
  REQUIRE(::pipe(report_pipe) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setsid();  // a new session has no controlling terminal
    auto password = read_password("Password: ");
    std::string report = password ? "ok" : errc_name(password.error().code());
    (void)!::write(report_pipe[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(report_pipe[1]);
  std::string report;
  char buf[64];
  ssize_t n;
  while ((n = ::read(report_pipe[0], buf, sizeof buf)) > 0) report.append(buf, static_cast<std::size_t>(n));
  ::close(report_pipe[0]);
  ::waitpid(pid, nullptr, 0);
  CHECK(report == "invalid_argument");
}

TEST_CASE("terminal width and detection", "[platform][terminal]") {
  int master = -1, slave = -1;
  struct winsize ws {};
  ws.ws_col = 123;
  ws.ws_row = 40;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, &ws) == 0);
  CHECK(is_terminal(slave));
  CHECK(terminal_width(slave) == 123);
  int p[2];
  REQUIRE(::pipe(p) == 0);
  CHECK_FALSE(is_terminal(p[0]));
  CHECK(terminal_width(p[0]) == 80);
  for (int fd : {master, slave, p[0], p[1]}) ::close(fd);
}

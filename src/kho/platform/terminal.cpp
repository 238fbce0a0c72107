#include "kho/platform/terminal.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "kho/util/fd.hpp"

namespace kho::platform {

bool is_terminal(int fd) { return ::isatty(fd) == 1; }

int terminal_width(int fd) {
  struct winsize ws {};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

namespace {

volatile std::sig_atomic_t g_caught_signal = 0;

extern "C" void note_signal(int sig) { g_caught_signal = sig; }

constexpr std::array<int, 4> k_signals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Catches the terminating signals and blocks them except while waiting in
// ppoll(), so one that arrives just before we wait is not lost. Destruction
// unblocks them (a pending one reaches note_signal) and then puts the previous
// handlers back.
class SignalCatcher {
public:
  SignalCatcher() {
    g_caught_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = note_signal;
    sigemptyset(&sa.sa_mask);
    sigset_t block;
    sigemptyset(&block);
    for (std::size_t i = 0; i < k_signals.size(); ++i) {
      ::sigaction(k_signals[i], &sa, &m_old[i]);
      sigaddset(&block, k_signals[i]);
    }
    ::pthread_sigmask(SIG_BLOCK, &block, &m_old_mask);
  }
  ~SignalCatcher() {
    ::pthread_sigmask(SIG_SETMASK, &m_old_mask, nullptr);
    for (std::size_t i = 0; i < k_signals.size(); ++i) ::sigaction(k_signals[i], &m_old[i], nullptr);
  }
  SignalCatcher(const SignalCatcher&) = delete;
  SignalCatcher& operator=(const SignalCatcher&) = delete;
  // The mask to wait with: the caller's, in which our signals are deliverable.
  const sigset_t* wait_mask() const { return &m_old_mask; }

private:
  std::array<struct sigaction, k_signals.size()> m_old{};
  sigset_t m_old_mask{};
};

// Turns echo off and restores the saved settings when destroyed.
class EchoOff {
public:
  EchoOff(int fd, const struct termios& saved) : m_fd(fd), m_saved(saved) {
    struct termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK);
    quiet.c_lflag |= ICANON;
    m_ok = ::tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    while (::tcsetattr(m_fd, TCSAFLUSH, &m_saved) != 0 && errno == EINTR) {
    }
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;
  bool ok() const { return m_ok; }

private:
  int m_fd;
  struct termios m_saved;
  bool m_ok = false;
};

void write_tty(int fd, std::string_view text) { (void)write_all(fd, as_bytes(text), "/dev/tty"); }

// Appends a byte to a secret buffer; growing it never leaves an unwiped copy behind.
void append_secret(std::string& s, char c) {
  if (s.size() == s.capacity()) {
    std::string bigger;
    bigger.reserve(s.capacity() * 2);
    bigger.assign(s);
    ::explicit_bzero(s.data(), s.size());
    s.swap(bigger);
  }
  s.push_back(c);
}

}  // namespace

Result<SecretString> read_password(const std::string& prompt) {
  auto tty = open_fd("/dev/tty", O_RDWR | O_NOCTTY);
  if (!tty)
    return fail(Errc::invalid_argument,
                "no terminal to read the password from; supply it another way (a password file, "
                "command or environment variable)");
  struct termios saved;
  if (::tcgetattr(tty->get(), &saved) != 0)
    return fail(Errc::invalid_argument, "/dev/tty is not a terminal; cannot read the password without echo");

  std::string password;
  password.reserve(128);
  bool got_line = false;
  {
    SignalCatcher catcher;  // outlives EchoOff: the terminal is restored before handlers are
    EchoOff quiet(tty->get(), saved);
    if (!quiet.ok()) return fail_errno("turning off echo on /dev/tty", errno);
    write_tty(tty->get(), prompt);
    for (;;) {
      // Our signals are blocked except inside ppoll: a signal either interrupts
      // the wait or is delivered there at once if it came earlier.
      struct pollfd pfd = {tty->get(), POLLIN, 0};
      int ready = ::ppoll(&pfd, 1, nullptr, catcher.wait_mask());
      if (g_caught_signal != 0) break;
      if (ready < 0) {
        if (errno == EINTR) continue;
        break;
      }
      char c;
      ssize_t n = ::read(tty->get(), &c, 1);  // canonical mode: a whole line is ready, so no blocking
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;
      if (c == '\n') {
        got_line = true;
        break;
      }
      append_secret(password, c);
    }
  }
  write_tty(tty->get(), "\n");  // echo was off, so the user's Enter did not move the cursor
  int sig = g_caught_signal;
  if (sig != 0) {
    ::explicit_bzero(password.data(), password.size());
    ::raise(sig);
    return fail(Errc::interrupted, "interrupted while reading the password");
  }
  if (!got_line) {
    ::explicit_bzero(password.data(), password.size());
    return fail(Errc::interrupted, "end of input while reading the password");
  }
  if (!password.empty() && password.back() == '\r') {
    password.back() = '\0';
    password.pop_back();
  }
  return SecretString(std::move(password));
}

}  // namespace kho::platform

// The user's terminal: whether a stream is one, its width, and reading a
// password without echo.
#pragma once

#include <string>

#include "kho/util/secret.hpp"

namespace kho::platform {

bool is_terminal(int fd);
// Columns of the terminal on `fd`, or 80.
int terminal_width(int fd);
// Prints `prompt` on /dev/tty and reads one line from it with echo off; the
// trailing newline (and a '\r' before it) is not part of the password.
// The terminal's settings are restored on every path, including SIGINT,
// SIGTERM, SIGHUP and SIGQUIT while reading: those are caught, the terminal
// restored, the previous handlers put back and the signal raised again (fails
// with Errc::interrupted if that returns). Changes signal dispositions for the
// duration, so call it from one thread at start-up.
// Fails (Errc::invalid_argument) when there is no terminal, and with
// Errc::interrupted at end of input before a newline.
Result<SecretString> read_password(const std::string& prompt);

}  // namespace kho::platform

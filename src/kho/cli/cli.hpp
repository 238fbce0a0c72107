// The kho command line: parses arguments, runs one command, returns its exit code.
#pragma once

namespace kho::cli {

// Exit codes (DESIGN.md).
enum ExitCode : int {
  k_exit_ok = 0,
  k_exit_failed = 1,
  k_exit_usage = 2,
  k_exit_incomplete = 3,
  k_exit_verify = 4,
  k_exit_no_repository = 10,
  k_exit_locked = 11,
  k_exit_wrong_password = 12,
  k_exit_interrupted = 130,
};

int run(int argc, char** argv);

}  // namespace kho::cli

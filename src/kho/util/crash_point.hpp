// Named crash points for crash-safety tests.
//
// When the environment variable KHO_CRASH_AT equals a point's name, reaching
// that point kills the process with SIGKILL, as a power cut or `kill -9` would.
// Without the variable a crash point costs one cached comparison.
#pragma once

namespace kho {

void crash_point(const char* name);

}  // namespace kho

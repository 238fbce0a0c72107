// Joining paths, in the file system and inside snapshots.
#pragma once

#include <string>

namespace kho {

// `dir`/`name`, without doubling the slash of the root ("/" + "etc" -> "/etc").
inline std::string join_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

}  // namespace kho

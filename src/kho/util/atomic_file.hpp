// Replacing a whole file so that readers see the old or the new content, never
// a mix: write a temporary file beside it, fsync, rename over it, fsync the folder.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "kho/util/error.hpp"

namespace kho {

// Writes `text` to `path` atomically with permissions `mode`. `kind` names the
// file in errors ("report", "metrics file"). The temporary file
// (".<name>.tmp-XXXXXX" in the same folder) is removed on any failure.
[[nodiscard]] Status replace_file(const std::filesystem::path& path, std::string_view text, mode_t mode,
                                  std::string_view kind);

}  // namespace kho

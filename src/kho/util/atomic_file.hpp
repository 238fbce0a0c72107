// Writing files safely: a temporary file that removes itself unless it was
// renamed into place, and replacing a whole file atomically (write beside it,
// fsync, rename over it, fsync the folder).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <sys/types.h>

#include "kho/util/error.hpp"

namespace kho {

// Deletes a temporary file when it goes out of scope, unless committed() was
// called after it was renamed into place.
class TempFile {
public:
  explicit TempFile(std::string path) : m_path(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();
  const std::string& path() const { return m_path; }
  void committed() { m_path.clear(); }

private:
  std::string m_path;
};

// Writes `text` to `path` atomically with permissions `mode`. `kind` names the
// file in errors ("report", "metrics file"). The temporary file
// (".<name>.tmp-XXXXXX" in the same folder) is removed on any failure.
[[nodiscard]] Status replace_file(const std::filesystem::path& path, std::string_view text, mode_t mode,
                                  std::string_view kind);

}  // namespace kho

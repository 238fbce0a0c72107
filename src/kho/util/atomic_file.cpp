#include "kho/util/atomic_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kho/util/fd.hpp"

namespace kho {

namespace {

// Deletes the temporary file unless it was renamed into place.
class TempPath {
public:
  explicit TempPath(std::string path) : m_path(std::move(path)) {}
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  ~TempPath() {
    if (!m_path.empty()) ::unlink(m_path.c_str());
  }
  void committed() { m_path.clear(); }

private:
  std::string m_path;
};

}  // namespace

Status replace_file(const std::filesystem::path& path, std::string_view text, mode_t mode, std::string_view kind) {
  const std::string target = path.string();
  if (path.filename().empty()) return failf(Errc::invalid_argument, "{} '{}' names no file", kind, target);
  const std::string what = fmt::format("writing {} {}", kind, target);
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string temp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return fail_errno(what, errno);
  TempPath cleanup(temp);
  KHO_TRY_STATUS(write_all(fd.get(), as_bytes(text), what));
  if (::fchmod(fd.get(), mode) != 0) return fail_errno(what, errno);
  KHO_TRY_STATUS(fsync_fd(fd.get(), what));
  KHO_TRY_STATUS(fd.close(what));
  if (::rename(temp.c_str(), target.c_str()) != 0) return fail_errno(what, errno);
  cleanup.committed();
  return fsync_dir(dir.string());
}

}  // namespace kho

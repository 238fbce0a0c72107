#include "kho/util/atomic_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kho/util/fd.hpp"

namespace kho {

TempFile::~TempFile() {
  if (!m_path.empty()) ::unlink(m_path.c_str());
}

Status replace_file(const std::filesystem::path& path, std::string_view text, mode_t mode, std::string_view kind) {
  const std::string target = path.string();
  if (path.filename().empty()) return failf(Errc::invalid_argument, "{} '{}' names no file", kind, target);
  const std::string what = fmt::format("writing {} {}", kind, target);
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string temp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return fail_errno(what, errno);
  TempFile cleanup(temp);
  KHO_TRY_STATUS(write_all(fd.get(), as_bytes(text), what));
  if (::fchmod(fd.get(), mode) != 0) return fail_errno(what, errno);
  KHO_TRY_STATUS(fsync_fd(fd.get(), what));
  KHO_TRY_STATUS(fd.close(what));
  if (::rename(temp.c_str(), target.c_str()) != 0) return fail_errno(what, errno);
  cleanup.committed();
  return fsync_dir(dir.string());
}

}  // namespace kho

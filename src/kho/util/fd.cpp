#include "kho/util/fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace kho {

void Fd::reset(int fd) noexcept {
  if (m_fd >= 0) ::close(m_fd);  // Linux closes the fd even when close() fails: never retry
  m_fd = fd;
}

Status Fd::close(const std::string& what) {
  int fd = release();
  if (fd < 0) return {};
  if (::close(fd) != 0 && errno != EINTR) return fail_errno("closing " + what, errno);
  return {};
}

Result<Fd> open_fd(const std::string& path, int flags, mode_t mode) {
  for (;;) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd >= 0) return Fd(fd);
    if (errno != EINTR) return fail_errno(path, errno);
  }
}

Status write_all(int fd, ByteSpan data, const std::string& what) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("writing " + what, errno);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Result<std::size_t> read_some(int fd, std::uint8_t* buffer, std::size_t size, const std::string& what) {
  for (;;) {
    ssize_t n = ::read(fd, buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return fail_errno("reading " + what, errno);
  }
}

Result<std::size_t> pread_all(int fd, std::uint8_t* buffer, std::size_t size, std::uint64_t offset,
                              const std::string& what) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buffer + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("reading " + what, errno);
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Status fsync_fd(int fd, const std::string& what) {
  for (;;) {
    if (::fsync(fd) == 0) return {};
    if (errno != EINTR) return fail_errno("syncing " + what, errno);
  }
}

Status fsync_dir(const std::string& path) {
  KHO_TRY_ASSIGN(Fd dir, open_fd(path, O_RDONLY | O_DIRECTORY));
  // Some filesystems (e.g. certain network ones) cannot sync a directory: the
  // rename is as durable as that filesystem makes it, which is all we can do.
  if (::fsync(dir.get()) != 0 && errno != EINVAL && errno != EROFS && errno != EINTR)
    return fail_errno("syncing directory " + path, errno);
  return dir.close("directory " + path);
}

}  // namespace kho

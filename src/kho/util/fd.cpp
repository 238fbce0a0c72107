#include "kho/util/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
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

void SparseReader::locate() {
  const off_t pos = static_cast<off_t>(m_pos);
  const off_t data = ::lseek(m_fd, pos, SEEK_DATA);
  if (data < 0) {
    // ENXIO: no data at or after `pos`, a hole up to the end of the file (or the
    // end itself). Any other error: the file system cannot tell; read all.
    struct stat st;
    if (errno == ENXIO && ::fstat(m_fd, &st) == 0) m_hole_end = std::max<std::uint64_t>(m_pos, st.st_size);
    else m_seekable = false;
    return;
  }
  if (data > pos) {
    m_hole_end = static_cast<std::uint64_t>(data);
    return;
  }
  const off_t hole = ::lseek(m_fd, pos, SEEK_HOLE);
  if (hole > pos) m_data_end = static_cast<std::uint64_t>(hole);
  else m_seekable = false;
}

Result<std::size_t> SparseReader::read(std::uint8_t* buffer, std::size_t size) {
  if (size == 0) return std::size_t{0};
  if (m_seekable && m_pos >= m_hole_end && m_pos >= m_data_end) locate();
  if (m_pos < m_hole_end) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, m_hole_end - m_pos));
    std::memset(buffer, 0, n);
    m_pos += n;
    m_hole_bytes += n;
    return n;
  }
  // Within the data found, or past the end (a read there finds the end, or what was appended since).
  if (m_pos < m_data_end) size = static_cast<std::size_t>(std::min<std::uint64_t>(size, m_data_end - m_pos));
  KHO_TRY_ASSIGN(std::size_t n, pread_all(m_fd, buffer, size, m_pos, m_what));
  m_pos += n;
  return n;
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

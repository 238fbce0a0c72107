// An owned POSIX file descriptor and the read/write loops every caller needs.
//
// Fd closes its descriptor when destroyed (errors from that close are lost; call
// close() where they matter, e.g. after writing). The helpers retry on EINTR and
// on short transfers, and name `what` (a path or object) in their errors.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <utility>

#include "kho/util/bytes.hpp"

namespace kho {

class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) noexcept : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership; the caller closes the descriptor.
  int release() noexcept {
    int fd = m_fd;
    m_fd = -1;
    return fd;
  }
  // Closes the current descriptor (ignoring errors) and owns `fd`.
  void reset(int fd = -1) noexcept;
  // Closes the descriptor and reports a failed close(2) (which can mean lost
  // writes on some filesystems). The Fd is invalid afterwards either way.
  [[nodiscard]] Status close(const std::string& what);

private:
  int m_fd = -1;
};

// open(2) with O_CLOEXEC added, retried on EINTR.
[[nodiscard]] Result<Fd> open_fd(const std::string& path, int flags, mode_t mode = 0);

// Writes all of `data`.
[[nodiscard]] Status write_all(int fd, ByteSpan data, const std::string& what);

// read(2) retried on EINTR; returns the byte count, 0 at end of file.
[[nodiscard]] Result<std::size_t> read_some(int fd, std::uint8_t* buffer, std::size_t size,
                                            const std::string& what);

// Reads up to `size` bytes at `offset`, looping over short reads; returns fewer
// than `size` only at end of file.
[[nodiscard]] Result<std::size_t> pread_all(int fd, std::uint8_t* buffer, std::size_t size,
                                            std::uint64_t offset, const std::string& what);

// Reads a file from its start as read(2) would, except that its holes (as
// lseek's SEEK_DATA and SEEK_HOLE find them) come back as zeros without being
// read: reading a hole would fill the page cache with zeros and copy them, a
// cost of seconds for each GiB of a large sparse file (a raw disk image,
// /var/log/lastlog). Where the file system cannot tell holes, it reads all.
class SparseReader {
public:
  SparseReader(int fd, std::string what) : m_fd(fd), m_what(std::move(what)) {}
  // Up to `size` bytes of the next ones; 0 at the end of the file.
  [[nodiscard]] Result<std::size_t> read(std::uint8_t* buffer, std::size_t size);
  std::uint64_t position() const { return m_pos; }
  std::uint64_t hole_bytes() const { return m_hole_bytes; }  // given as zeros, not read

private:
  void locate();

  int m_fd;
  std::string m_what;
  std::uint64_t m_pos = 0;
  std::uint64_t m_hole_end = 0;  // [m_pos, m_hole_end) is a hole
  std::uint64_t m_data_end = 0;  // [m_pos, m_data_end) is data
  std::uint64_t m_hole_bytes = 0;
  bool m_seekable = true;
};

// fsync(2) of an open descriptor.
[[nodiscard]] Status fsync_fd(int fd, const std::string& what);

// Opens a directory and fsyncs it, making renames and unlinks in it durable.
[[nodiscard]] Status fsync_dir(const std::string& path);

}  // namespace kho

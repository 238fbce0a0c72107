// An owned POSIX file descriptor and the read/write loops every caller needs.
//
// Fd closes its descriptor when destroyed (errors from that close are lost; call
// close() where they matter, e.g. after writing). The helpers retry on EINTR and
// on short transfers, and name `what` (a path or object) in their errors.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>

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

// fsync(2) of an open descriptor.
[[nodiscard]] Status fsync_fd(int fd, const std::string& what);

// Opens a directory and fsyncs it, making renames and unlinks in it durable.
[[nodiscard]] Status fsync_dir(const std::string& path);

}  // namespace kho

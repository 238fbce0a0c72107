#include "kho/util/error.hpp"

#include <cerrno>
#include <cstring>

namespace kho {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::not_found: return "not_found";
    case Errc::already_exists: return "already_exists";
    case Errc::corruption: return "corruption";
    case Errc::io: return "io";
    case Errc::permission: return "permission";
    case Errc::timeout: return "timeout";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::unsupported: return "unsupported";
    case Errc::locked: return "locked";
    case Errc::wrong_password: return "wrong_password";
    case Errc::no_repository: return "no_repository";
    case Errc::interrupted: return "interrupted";
    case Errc::incomplete: return "incomplete";
    case Errc::verification_failed: return "verification_failed";
    case Errc::failed: return "failed";
  }
  return "unknown";
}

Errc errc_from_errno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR: return Errc::not_found;
    case EEXIST: return Errc::already_exists;
    case EACCES:
    case EPERM:
    case EROFS: return Errc::permission;
    case ETIMEDOUT: return Errc::timeout;
    case EINVAL: return Errc::invalid_argument;
    case EOPNOTSUPP: return Errc::unsupported;
    case EINTR: return Errc::interrupted;
    default: return Errc::io;
  }
}

tl::unexpected<Error> fail_errno(const std::string& what, int err) {
  bool transient = err == EAGAIN || err == EINTR || err == ETIMEDOUT || err == EIO;
  return tl::unexpected<Error>(Error(errc_from_errno(err), what + ": " + std::strerror(err), transient));
}

}  // namespace kho

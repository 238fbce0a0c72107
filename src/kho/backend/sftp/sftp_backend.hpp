// A repository on an SFTP server, through libssh.
//
// Layout as LocalBackend's: PATH/config, PATH/{keys,index,snapshots,locks}/<name>,
// PATH/data/<name[0:2]>/<name>; create() makes every directory (0700), objects
// are 0600, and names follow LocalBackend's rules (Errc::invalid_argument
// otherwise).
//
// save() writes "<name>.tmp-<random>", fsyncs it (fsync@openssh.com, where the
// server offers it), and renames it into place. SFTP (version 3) refuses to
// rename over an existing file: then an existing object of the same size is
// the same content-named object and counts as saved; one of another size
// (damaged, or another version of a lock) is removed and replaced. list()
// ignores temporary files. A directory cannot be fsynced over SFTP: the
// rename is as durable as the server's filesystem makes it.
//
// Connections: up to sftp.connections, opened on demand and kept for reuse, so
// threads do not wait for each other; reads keep several requests in flight.
// A call that finds its connection lost or unanswered (sftp.timeout) fails
// with a transient error after discarding the connection; the next call
// connects again. A failure on a connection that sat idle (the server may have
// dropped it) is retried once on a new connection at once. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "kho/backend/backend.hpp"

namespace kho::backend {

// Opens "sftp://[user@]host[:port]/path" with the "sftp.*" options (see
// sftp_location.hpp). Fails with Errc::invalid_argument for a bad location or
// option. Nothing is sent to the server until the first operation.
Result<std::unique_ptr<Backend>> open_sftp(const std::string& location, const BackendOptions& options);

namespace sftp {

// One entry of a directory listing as the server sent it (libssh's name, type
// SSH_FILEXFER_TYPE_* and size): what list() makes of it, or nothing for "." and
// "..", and, with `objects_only`, for temporary files and non-regular files.
// A null name is the empty name.
std::optional<ObjectInfo> listing_entry(const char* name, std::uint8_t type, std::uint64_t size, bool objects_only);

}  // namespace sftp

}  // namespace kho::backend

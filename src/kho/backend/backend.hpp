// Storage of named objects: the only thing a repository asks of a place.
//
// A backend stores opaque byte strings under (type, name). It knows nothing of
// what the bytes mean. Layout (the one REST backup servers serve):
//   config                 (type config, name ignored)
//   keys/<name>            data/<name[0:2]>/<name>
//   index/<name>           snapshots/<name>            locks/<name>
//
// Contracts common to all backends:
// - save() is atomic: a reader sees the whole object or none of it; the object
//   is durable (fsynced where the medium allows) before save() returns.
//   Saving a name that exists with the same bytes succeeds (idempotent).
// - load() of an absent object fails with Errc::not_found.
// - list() returns names in no particular order, with sizes.
// - remove() of an absent object fails with Errc::not_found.
// - Errors are marked transient() when a retry may succeed.
// All methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kho/util/bytes.hpp"

namespace kho::backend {

enum class ObjectType { config, key, data, index, snapshot, lock };

const char* type_dir(ObjectType type);  // "config", "keys", "data", ...

struct Handle {
  ObjectType type;
  std::string name;  // empty for config
};

// "config", "keys/<name>", "data/<name[0:2]>/<name>", ...; for logs and error messages.
std::string describe(const Handle& handle);

struct ObjectInfo {
  std::string name;
  std::uint64_t size = 0;
};

struct Properties {
  bool append_only = false;  // the server refuses deletes of everything but locks
  std::string location;      // redacted URL for messages (no credentials)
};

// One object written in pieces, for objects too large to hold in memory whole
// (packs) and named only when complete (a pack is named by its hash). Nothing
// appears under any name before commit(); a writer destroyed without commit()
// leaves nothing behind, and the temporary of a process killed mid-write is
// removed by Backend::remove_temporaries().
class ObjectWriter {
public:
  virtual ~ObjectWriter() = default;
  [[nodiscard]] virtual Status append(ByteSpan data) = 0;
  // Stores everything appended as `handle` (of the type the writer was begun
  // with), with save()'s guarantees: atomic and durable. An existing object of
  // that name is replaced. The writer is spent afterwards, whatever the outcome.
  [[nodiscard]] virtual Status commit(const Handle& handle) = 0;
  // Whether the object's bytes wait in memory for commit() (a remote backend's
  // writer), rather than going out as they are appended.
  virtual bool buffered() const { return true; }
};

class Backend {
public:
  virtual ~Backend() = default;

  // Creates the layout (directories) of a new repository. Fails with
  // Errc::already_exists when a config is present.
  [[nodiscard]] virtual Status create() = 0;

  [[nodiscard]] virtual Status save(const Handle& handle, ByteSpan data) = 0;
  // Reads `length` bytes at `offset` (length 0 = to the end). Fails with
  // Errc::corruption when the object is shorter than requested.
  [[nodiscard]] virtual Result<Bytes> load(const Handle& handle, std::uint64_t offset = 0,
                                           std::uint64_t length = 0) = 0;
  // Reads out.size() bytes at `offset` into `out`, which callers reuse to spare
  // a fresh buffer per read. Fails like load(); the default loads and copies.
  [[nodiscard]] virtual Status load_into(const Handle& handle, std::uint64_t offset, std::span<std::uint8_t> out);
  // Starts an object of `type` written in pieces, expected to reach about
  // `size_hint` bytes (0: unknown). The default collects the pieces in memory,
  // room for size_hint reserved at the first piece, and save()s them at commit();
  // the local backend writes them to a temporary file beside the objects as they come.
  [[nodiscard]] virtual Result<std::unique_ptr<ObjectWriter>> begin_save(ObjectType type, std::uint64_t size_hint);
  [[nodiscard]] virtual Result<ObjectInfo> stat(const Handle& handle) = 0;
  [[nodiscard]] virtual Result<std::vector<ObjectInfo>> list(ObjectType type) = 0;
  [[nodiscard]] virtual Status remove(const Handle& handle) = 0;
  // Removes the temporary files that saves killed mid-write left among objects
  // of `type`; returns how many. Only safe while nobody saves (under an exclusive
  // lock). The default does nothing (a server cleans up after its own uploads).
  [[nodiscard]] virtual Result<std::uint64_t> remove_temporaries(ObjectType type);
  virtual Properties properties() const = 0;
};

// Options given with -o KEY=VALUE (e.g. "sftp.identity" -> "/root/.ssh/id_ed25519").
// Each backend reads the keys with its own prefix ("sftp.", "rest.") and refuses
// unknown keys with that prefix; keys for other backends are ignored, so one set
// of -o options can serve a command that opens two repositories (copy).
using BackendOptions = std::map<std::string, std::string>;

// Opens a backend from a location string:
//   PATH | local:PATH                        a directory (LocalBackend)
//   sftp://[user@]host[:port]/path           SFTP through libssh (SftpBackend)
//   rest:http(s)://[user:pass@]host:port/[path]   restic REST protocol v2 (RestBackend)
// A leading "scheme:" (^[a-z][a-z0-9+.-]*:) names a backend unless the location,
// or its first path component, exists as a local path ("./x:y" or "local:x:y"
// always mean a path). Fails with Errc::unsupported for a scheme kho does not
// handle (the message names the scheme only, never credentials) and with
// Errc::invalid_argument for an empty path. Nothing is touched on disk.
// Remote backends are wrapped in a RetryBackend (transient errors retried with backoff).
// When the environment variable KHO_FAULTS holds a fault spec (a testing aid, see
// fault_backend.hpp), every backend is wrapped in a FaultBackend inside a
// RetryBackend; a malformed spec fails with Errc::invalid_argument.
Result<std::unique_ptr<Backend>> open_location(const std::string& location, const BackendOptions& options = {});

// Fails with Errc::permission when the backend refuses deletions (an append-only
// REST server), found by deleting a data object no pack can be named (all
// zeros): a server that allows deletions answers "not found". Changes nothing.
[[nodiscard]] Status check_deletions_allowed(Backend& backend);

// The location with any password removed ("rest:https://user:***@host/"), for messages.
std::string redact_location(const std::string& location);

}  // namespace kho::backend

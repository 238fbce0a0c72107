// A repository behind a REST server speaking restic's REST protocol v2
// (rest-server, `rclone serve restic`), through libcurl.
//
// Requests, relative to the repository URL (see rest_location.hpp):
//   create   HEAD config (must be absent: else Errc::already_exists), then POST ?create=true
//   save     HEAD {type}/{name}; POST {type}/{name} unless it already holds as many bytes
//            (config: always POST)
//   load     GET {type}/{name}, with "Range: bytes=FIRST-LAST" for part of an object
//   stat     HEAD {type}/{name}           remove  DELETE {type}/{name}
//   list     GET {type}/ with "Accept: application/vnd.x.restic.rest.v2" -> [{"name","size"}]
//   config is "config" (type and name in one).
//
// Contract details on top of backend.hpp:
// - Objects other than config are named by the SHA-256 of their bytes, so save()
//   of a name the server already holds with the same size succeeds without an
//   upload (a damaged stored copy is found by `kho check --read-data`). This is
//   also what makes save() idempotent on append-only servers, which refuse (403)
//   to store a name twice: after a 403 the object is looked up, and the save
//   succeeds when it is there with the same size (config: the same bytes).
// - Atomicity is the server's: rest-server publishes an upload only when it is
//   complete; `rclone serve restic` 1.60 writes in place, so another process may
//   read an object while it is being written. Within one RestBackend, a save()
//   of a name never overlaps a load() or stat() of it (they wait for each other).
// - load() returns exactly the bytes asked for or fails: a shorter answer is
//   Errc::corruption naming the object, and so is an answer for another range.
// - Errors: 404 -> not_found (naming the object and the repository); 401 ->
//   Errc::permission "the server refused the credentials (HTTP 401)"; 403 on
//   DELETE -> Errc::permission "the server refused to delete <object>: it is in
//   append-only mode (or forbids deletion)", and properties().append_only becomes
//   true; 5xx, 408, 429, refused or reset connections and timeouts are transient
//   (RetryBackend retries them, and names the object: their messages name the
//   server only); other statuses -> Errc::io.
// - Names must be non-empty, at most 200 bytes of [A-Za-z0-9._-], not starting
//   with '.' (Errc::invalid_argument otherwise).
// - list() of a type the server has no folder for is empty.
// - No message holds the password; properties().location is the redacted location.
// Thread-safe: up to rest.connections requests run at once, each on a kept-alive
// connection of its own.
#pragma once

#include <memory>
#include <string>

#include "kho/backend/backend.hpp"

namespace kho::backend {

// Opens "rest:http(s)://[user:pass@]host:port/[path]" with the "rest.*" options.
// Fails with Errc::invalid_argument for a malformed location or option.
// Nothing is sent to the server until the first operation.
Result<std::unique_ptr<Backend>> open_rest(const std::string& location, const BackendOptions& options);

// Parses the body of a v2 listing (`[{"name": str, "size": n}, ...]`); `what`
// names the listing in errors. Errc::unsupported for a v1 listing (names only),
// Errc::io for anything else that is not such a list. Names are not checked here.
Result<std::vector<ObjectInfo>> parse_rest_listing(const Bytes& body, const std::string& what);

}  // namespace kho::backend

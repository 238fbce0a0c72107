// What a "rest:" repository location and the "rest.*" options say, parsed and
// checked before anything is sent.
//
// Location grammar (restic's, so the same URLs work for both tools):
//   rest:SCHEME://[USER[:PASSWORD]@]HOST[:PORT][/PATH]
//   SCHEME   = "http" | "https"
//   HOST     = a name, an IPv4 address or "[" IPv6 "]"
//   PORT     = 1..65535 (default 80 / 443)
//   USER, PASSWORD: percent-encoded where they hold ':', '@', '/' or '%'
//              ("p%40ss" is the password "p@ss"); a raw '@' is accepted in the
//              password (the last '@' before the path ends the credentials).
//   PATH     = the repository's path on the server; a trailing '/' is added.
//              Characters that may not appear in a URL path are percent-encoded;
//              '%' escapes already present are kept. '?', '#', "." and ".."
//              segments are refused.
//
// Options (-o KEY=VALUE):
//   rest.cacert=FILE      PEM CA certificate(s) that sign the server's TLS certificate
//                         (default: the system's trust store)
//   rest.connections=N    parallel connections, 1..64 (default 5)
//   rest.timeout=DURATION a request fails (and is retried) when connecting takes,
//                         or no byte moves for, this long: "90", "90s", "2m", "1h"
//                         (default 60s)
// Other "rest.*" keys are refused (Errc::invalid_argument); keys of other
// backends are ignored.
//
// No error message holds the password; the user name may appear.
#pragma once

#include <chrono>
#include <string>

#include "kho/backend/backend.hpp"
#include "kho/util/error.hpp"
#include "kho/util/secret.hpp"

namespace kho::backend {

struct RestLocation {
  std::string base_url;   // "http://host:port/path/" without credentials; ends with '/'
  std::string host_port;  // "host:port" for messages
  bool https = false;
  std::string user;       // percent-decoded; empty: no authentication
  SecretString password;  // percent-decoded
  std::string redacted;   // the location for messages (redact_location)
};

// Fails with Errc::invalid_argument, saying what is wrong (never the password).
Result<RestLocation> parse_rest_location(const std::string& location);

struct RestOptions {
  std::string cacert;  // empty: system default
  int connections = 5;
  std::chrono::seconds timeout{60};
};

// Fails with Errc::invalid_argument for an unknown "rest.*" key or a bad value;
// a cacert file that cannot be read is refused here too.
Result<RestOptions> parse_rest_options(const BackendOptions& options);

}  // namespace kho::backend

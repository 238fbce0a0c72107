// The parts of an "sftp://" repository location and the "sftp.*" options.
//
// Location grammar:
//   sftp://[user@]host[:port]/path
//   host   = name | IPv4 address | "[" IPv6 address "]"
//   path   = "/" absolute-path          e.g. sftp://backup@nas/srv/kho
//          | "/~" ["/" relative-path]   relative to the login directory,
//                                       e.g. sftp://nas/~/kho
// "%XX" escapes are decoded in the user and the path. A password in the
// location ("user:secret@host") is refused: kho authenticates with keys only.
// Without a user or port, ~/.ssh/config (or sftp.config) and then the
// defaults decide (the local user name, port 22).
//
// Options (-o KEY=VALUE):
//   sftp.identity=FILE            private key to offer first (before ssh-agent's
//                                 and the default ~/.ssh/id_* keys)
//   sftp.known_hosts=FILE         known_hosts file (default: UserKnownHostsFile
//                                 from the ssh config, else ~/.ssh/known_hosts)
//   sftp.accept_new_host_key=yes  add an unknown host key to known_hosts (a
//                                 changed key is never accepted)
//   sftp.connections=N            connections to the server, 1..64 (default 4)
//   sftp.timeout=SECONDS          connect timeout, and the longest wait for any
//                                 one answer from the server (default 30)
//   sftp.config=FILE              ssh client config to read instead of
//                                 ~/.ssh/config and /etc/ssh/ssh_config
// Any other "sftp.*" key fails with Errc::invalid_argument naming it.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "kho/backend/backend.hpp"
#include "kho/util/error.hpp"

namespace kho::backend::sftp {

struct SftpLocation {
  std::string user;         // empty: from the ssh config or the local user
  std::string host;         // without brackets for IPv6
  std::optional<int> port;  // empty: from the ssh config or 22
  std::string path;         // absolute ("/srv/kho"), or relative to the login directory ("kho", ".")

  // "sftp://[user@]host[:port]/path" as given (normalized), for messages.
  std::string display() const;
};

// Parses a location; fails with Errc::invalid_argument saying what is wrong.
Result<SftpLocation> parse_sftp_location(const std::string& location);

struct SftpOptions {
  std::string identity;
  std::string known_hosts;
  std::string config;
  bool accept_new_host_key = false;
  int connections = 4;
  std::chrono::seconds timeout{30};
};

// Reads the "sftp.*" keys (others are ignored); fails with
// Errc::invalid_argument for an unknown "sftp.*" key or a bad value.
Result<SftpOptions> parse_sftp_options(const BackendOptions& options);

}  // namespace kho::backend::sftp

// One authenticated SSH connection with an SFTP session (libssh), and the
// watchdog that bounds how long any call on it may wait.
//
// libssh's blocking SFTP calls have no time limit of their own: a server that
// stops answering (suspended, a dead network path) would hold a thread forever.
// Each call is therefore "armed" with a deadline of sftp.timeout; the Watchdog
// shuts the socket down when a deadline passes, which makes the call fail, and
// the connection reports the failure as a transient Errc::timeout.
//
// Not thread-safe: a connection serves one thread at a time (the pool hands it
// out); the Watchdog and arm()/expire_if_due() are safe across threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "kho/backend/sftp/sftp_location.hpp"
#include "kho/util/error.hpp"

namespace kho::backend::sftp {

struct SshSessionFree {
  void operator()(ssh_session s) const { ssh_free(s); }
};
struct SftpSessionFree {
  void operator()(sftp_session s) const { sftp_free(s); }
};
struct SftpFileClose {
  void operator()(sftp_file f) const { sftp_close(f); }
};
struct SftpAttributesFree {
  void operator()(sftp_attributes a) const { sftp_attributes_free(a); }
};
struct SftpDirClose {
  void operator()(sftp_dir d) const { sftp_closedir(d); }
};
using SshSessionPtr = std::unique_ptr<ssh_session_struct, SshSessionFree>;
using SftpSessionPtr = std::unique_ptr<sftp_session_struct, SftpSessionFree>;
using SftpFilePtr = std::unique_ptr<sftp_file_struct, SftpFileClose>;
using SftpAttributesPtr = std::unique_ptr<sftp_attributes_struct, SftpAttributesFree>;
using SftpDirPtr = std::unique_ptr<sftp_dir_struct, SftpDirClose>;

class SftpConnection;

// Checks the deadlines of registered connections a few times a second.
class Watchdog {
public:
  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void add(SftpConnection* connection);
  void remove(SftpConnection* connection);

private:
  void run();

  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::set<SftpConnection*> m_connections;
  bool m_stop = false;
  std::thread m_thread;
};

class SftpConnection {
public:
  // Connects to the server, verifies its host key against known_hosts (adding
  // an unknown one only with accept_new_host_key), authenticates with public
  // keys (sftp.identity, ssh-agent, the config's IdentityFile and ~/.ssh/id_*)
  // and starts SFTP. `server` names the repository in messages.
  // Fails with Errc::permission for an unknown or changed host key or refused
  // authentication (permanent), Errc::invalid_argument for an unusable option,
  // and a transient Errc::io / Errc::timeout when the server cannot be reached.
  [[nodiscard]] static Result<std::unique_ptr<SftpConnection>> open(const SftpLocation& location,
                                                                    const SftpOptions& options,
                                                                    const std::string& server, Watchdog& watchdog);
  ~SftpConnection();
  SftpConnection(const SftpConnection&) = delete;
  SftpConnection& operator=(const SftpConnection&) = delete;

  sftp_session sftp() const { return m_sftp.get(); }
  bool has_fsync() const { return m_has_fsync; }

  // Starts (or extends) the deadline for the next call: now + sftp.timeout.
  void arm();
  // No call in progress: the watchdog leaves the connection alone.
  void disarm();
  // Watchdog side: closes the socket of a connection whose deadline passed.
  void expire_if_due(std::chrono::steady_clock::time_point now);

  // The error of the last failed SFTP call, as "<what>: <reason>". A status
  // from the server maps to not_found, permission, already_exists, ...; a lost
  // or timed-out connection gives a transient io/timeout error and marks the
  // connection broken.
  Error error(const std::string& what);
  // The SFTP status code of the last failed call (SSH_FX_*), or -1 when the
  // connection itself failed.
  int status() const;
  bool broken() const { return m_broken; }
  void mark_broken() { m_broken = true; }

private:
  SftpConnection(const std::string& server, std::chrono::seconds timeout, Watchdog& watchdog);
  Status connect(const SftpLocation& location, const SftpOptions& options);
  Status verify_host_key(const SftpOptions& options);
  Status authenticate(const SftpOptions& options);
  bool connection_lost() const;

  std::string m_server;
  std::chrono::seconds m_timeout;
  Watchdog& m_watchdog;
  SshSessionPtr m_session;
  SftpSessionPtr m_sftp;
  bool m_has_fsync = false;
  bool m_broken = false;
  std::atomic<std::int64_t> m_deadline{0};  // steady_clock ns; 0 = no call in progress
  std::atomic<bool> m_timed_out{false};
};

}  // namespace kho::backend::sftp

#include "kho/backend/sftp/sftp_connection.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

namespace kho::backend::sftp {

namespace {

std::once_flag g_ssh_init;
// Serializes host key checks and additions, so that several connections
// opened at once add an unknown key to known_hosts once.
std::mutex g_known_hosts_mutex;

std::int64_t to_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

struct SshKeyFree {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
struct SshCharFree {
  void operator()(char* p) const { ssh_string_free_char(p); }
};

// A string option of the session (after the config was applied), or "".
std::string session_option(ssh_session session, ssh_options_e type) {
  char* value = nullptr;
  if (ssh_options_get(session, type, &value) != SSH_OK || !value) return {};
  std::unique_ptr<char, SshCharFree> owned(value);
  return value;
}

const char* sftp_status_text(int status) {
  switch (status) {
    case SSH_FX_EOF: return "end of file";
    case SSH_FX_NO_SUCH_FILE: return "no such file";
    case SSH_FX_PERMISSION_DENIED: return "permission denied";
    case SSH_FX_FAILURE: return "the server reports a failure";
    case SSH_FX_BAD_MESSAGE: return "the server reports a bad message";
    case SSH_FX_NO_CONNECTION: return "no connection";
    case SSH_FX_CONNECTION_LOST: return "connection lost";
    case SSH_FX_OP_UNSUPPORTED: return "operation not supported by the server";
    case SSH_FX_INVALID_HANDLE: return "invalid handle";
    case SSH_FX_NO_SUCH_PATH: return "no such path";
    case SSH_FX_FILE_ALREADY_EXISTS: return "file already exists";
    case SSH_FX_WRITE_PROTECT: return "write-protected";
    case SSH_FX_NO_MEDIA: return "no media";
    default: return "unknown SFTP error";
  }
}

}  // namespace

// --- Watchdog ---

Watchdog::Watchdog() : m_thread([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  m_thread.join();
}

void Watchdog::add(SftpConnection* connection) {
  std::lock_guard lock(m_mutex);
  m_connections.insert(connection);
}

void Watchdog::remove(SftpConnection* connection) {
  std::lock_guard lock(m_mutex);
  m_connections.erase(connection);
}

void Watchdog::run() {
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    m_wake.wait_for(lock, std::chrono::milliseconds(200));
    auto now = std::chrono::steady_clock::now();
    for (SftpConnection* c : m_connections) c->expire_if_due(now);
  }
}

// --- SftpConnection ---

SftpConnection::SftpConnection(const std::string& server, std::chrono::seconds timeout, Watchdog& watchdog)
    : m_server(server), m_timeout(timeout), m_watchdog(watchdog) {
  m_watchdog.add(this);
}

SftpConnection::~SftpConnection() {
  // Closing talks to the server too: keep the deadline while it does.
  arm();
  m_sftp.reset();
  if (m_session && !m_broken && ssh_is_connected(m_session.get())) ssh_disconnect(m_session.get());
  m_watchdog.remove(this);
  m_session.reset();
}

void SftpConnection::arm() {
  m_deadline = to_ns(std::chrono::steady_clock::now() + m_timeout);
}

void SftpConnection::disarm() { m_deadline = 0; }

void SftpConnection::expire_if_due(std::chrono::steady_clock::time_point now) {
  std::int64_t deadline = m_deadline;
  if (deadline == 0 || to_ns(now) < deadline || m_timed_out) return;
  m_timed_out = true;
  socket_t fd = m_session ? ssh_get_fd(m_session.get()) : SSH_INVALID_SOCKET;
  // shutdown(), not close(): the descriptor stays libssh's, its calls just fail.
  if (fd != SSH_INVALID_SOCKET) ::shutdown(fd, SHUT_RDWR);
}

bool SftpConnection::connection_lost() const {
  if (m_timed_out || !m_session) return true;
  return !ssh_is_connected(m_session.get()) || ssh_get_error_code(m_session.get()) == SSH_FATAL;
}

int SftpConnection::status() const {
  if (connection_lost() || !m_sftp) return -1;
  return sftp_get_error(m_sftp.get());
}

Error SftpConnection::error(const std::string& what) {
  if (m_timed_out) {
    m_broken = true;
    return Error(Errc::timeout,
                 fmt::format("{}: {} did not answer within {} s (-o sftp.timeout); the connection was closed", what,
                             m_server, m_timeout.count()),
                 true);
  }
  if (connection_lost()) {
    m_broken = true;
    const char* detail = m_session ? ssh_get_error(m_session.get()) : "";
    return Error(Errc::io, fmt::format("{}: connection to {} lost{}{}", what, m_server, *detail ? ": " : "", detail),
                 true);
  }
  if (!m_sftp) return Error(Errc::io, fmt::format("{}: {}", what, ssh_get_error(m_session.get())));
  int st = sftp_get_error(m_sftp.get());
  std::string message = fmt::format("{}: {}", what, sftp_status_text(st));
  switch (st) {
    case SSH_FX_NO_SUCH_FILE:
    case SSH_FX_NO_SUCH_PATH: return Error(Errc::not_found, message);
    case SSH_FX_PERMISSION_DENIED:
    case SSH_FX_WRITE_PROTECT: return Error(Errc::permission, message);
    case SSH_FX_FILE_ALREADY_EXISTS: return Error(Errc::already_exists, message);
    case SSH_FX_OP_UNSUPPORTED: return Error(Errc::unsupported, message);
    case SSH_FX_NO_CONNECTION:
    case SSH_FX_CONNECTION_LOST: m_broken = true; return Error(Errc::io, message, true);
    default: return Error(Errc::io, message);
  }
}

Result<std::unique_ptr<SftpConnection>> SftpConnection::open(const SftpLocation& location, const SftpOptions& options,
                                                             const std::string& server, Watchdog& watchdog) {
  std::call_once(g_ssh_init, [] { ssh_init(); });
  std::unique_ptr<SftpConnection> c(new SftpConnection(server, options.timeout, watchdog));
  Status connected = c->connect(location, options);
  c->disarm();
  if (!connected) {
    c->m_broken = true;
    return tl::unexpected(connected.error());
  }
  return c;
}

Status SftpConnection::connect(const SftpLocation& location, const SftpOptions& options) {
  ssh_session session = ssh_new();
  if (!session) return fail(Errc::io, "cannot create an SSH session (out of memory)");
  m_session.reset(session);

  auto option_error = [&](const char* what) {
    return failf(Errc::invalid_argument, "SFTP repository {}: cannot set {}: {}", m_server, what,
                 ssh_get_error(session));
  };
  if (ssh_options_set(session, SSH_OPTIONS_HOST, location.host.c_str()) != SSH_OK) return option_error("the host");
  // The ssh config first (it may rename the host and set user, port, keys and
  // known_hosts); what the location and the -o options say wins over it.
  if (!options.config.empty()) {
    if (::access(options.config.c_str(), R_OK) != 0)
      return failf(Errc::invalid_argument, "option -o sftp.config={}: cannot read the file: {}", options.config,
                   std::strerror(errno));
    if (ssh_options_parse_config(session, options.config.c_str()) != SSH_OK) return option_error("sftp.config");
  } else if (ssh_options_parse_config(session, nullptr) != SSH_OK) {
    return option_error("the options of ~/.ssh/config");
  }
  if (!location.user.empty() && ssh_options_set(session, SSH_OPTIONS_USER, location.user.c_str()) != SSH_OK)
    return option_error("the user");
  if (location.port) {
    unsigned int port = static_cast<unsigned int>(*location.port);
    if (ssh_options_set(session, SSH_OPTIONS_PORT, &port) != SSH_OK) return option_error("the port");
  }
  if (!options.known_hosts.empty() &&
      ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, options.known_hosts.c_str()) != SSH_OK)
    return option_error("sftp.known_hosts");
  if (!options.identity.empty()) {
    if (::access(options.identity.c_str(), R_OK) != 0)
      return failf(Errc::invalid_argument, "option -o sftp.identity={}: cannot read the key file: {}",
                   options.identity, std::strerror(errno));
    if (ssh_options_set(session, SSH_OPTIONS_ADD_IDENTITY, options.identity.c_str()) != SSH_OK)
      return option_error("sftp.identity");
  }
  long timeout = static_cast<long>(options.timeout.count());
  if (ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout) != SSH_OK) return option_error("sftp.timeout");
  // Without TCP_NODELAY every SFTP request waits for the peer's delayed ACK.
  int nodelay = 1;
  if (ssh_options_set(session, SSH_OPTIONS_NODELAY, &nodelay) != SSH_OK) return option_error("TCP_NODELAY");

  arm();
  if (ssh_connect(session) != SSH_OK) {
    if (m_timed_out)
      return tl::unexpected(Error(Errc::timeout,
                                  fmt::format("cannot connect to {}: no answer within {} s (-o sftp.timeout)",
                                              m_server, m_timeout.count()),
                                  true));
    return tl::unexpected(
        Error(Errc::io, fmt::format("cannot connect to {}: {}", m_server, ssh_get_error(session)), true));
  }
  KHO_TRY_STATUS(verify_host_key(options));
  KHO_TRY_STATUS(authenticate(options));

  arm();
  m_sftp.reset(sftp_new(session));
  if (!m_sftp) return tl::unexpected(error("starting SFTP on " + m_server));
  if (sftp_init(m_sftp.get()) != SSH_OK) {
    Error e = error("starting SFTP on " + m_server);
    return tl::unexpected(e);
  }
  m_has_fsync = sftp_extension_supported(m_sftp.get(), "fsync@openssh.com", "1") == 1;
  return {};
}

Status SftpConnection::verify_host_key(const SftpOptions& options) {
  ssh_session session = m_session.get();
  ssh_key raw_key = nullptr;
  if (ssh_get_server_publickey(session, &raw_key) != SSH_OK)
    return tl::unexpected(error("reading the host key of " + m_server));
  std::unique_ptr<ssh_key_struct, SshKeyFree> key(raw_key);
  unsigned char* hash = nullptr;
  std::size_t hash_length = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_length) != 0)
    return failf(Errc::io, "cannot compute the fingerprint of the host key of {}", m_server);
  std::unique_ptr<char, SshCharFree> fingerprint(ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_length));
  ssh_clean_pubkey_hash(&hash);
  const std::string key_text = fmt::format("{} key {}", ssh_key_type_to_char(ssh_key_type(key.get())),
                                           fingerprint ? fingerprint.get() : "(no fingerprint)");

  std::lock_guard lock(g_known_hosts_mutex);
  arm();
  const ssh_known_hosts_e state = ssh_session_is_known_server(session);
  const std::string file = session_option(session, SSH_OPTIONS_KNOWNHOSTS);
  const std::string host = session_option(session, SSH_OPTIONS_HOST);
  unsigned int port = 22;
  ssh_options_get_port(session, &port);
  const std::string entry = port == 22 ? host : fmt::format("[{}]:{}", host, port);

  switch (state) {
    case SSH_KNOWN_HOSTS_OK: return {};
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      return failf(Errc::permission,
                   "the host key of {} has CHANGED: the server offers the {}, but {} holds {} for {}. Someone may "
                   "be intercepting the connection, or the server's key was replaced. kho never accepts a changed "
                   "key by itself: once you have confirmed the new fingerprint with the server's administrator, "
                   "remove the old line (ssh-keygen -R '{}' -f {}) and run again with -o sftp.accept_new_host_key=yes",
                   m_server, key_text, file,
                   state == SSH_KNOWN_HOSTS_OTHER ? "a key of another type" : "a different key", entry, entry, file);
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND: break;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      return failf(Errc::failed, "cannot check the host key of {} against {}: {}", m_server, file,
                   ssh_get_error(session));
  }
  if (!options.accept_new_host_key)
    return failf(Errc::permission,
                 "the host key of {} is not known: the server offers the {}, and {} has no key for {}. Check this "
                 "fingerprint with the server's administrator (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the "
                 "server), then run again with -o sftp.accept_new_host_key=yes to add it to {}",
                 m_server, key_text, file, entry, file);
  std::error_code ec;
  auto parent = std::filesystem::path(file).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (!ec) std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
  }
  if (ssh_session_update_known_hosts(session) != SSH_OK)
    return failf(Errc::failed, "cannot add the host key of {} ({}) to {}: {}", m_server, key_text, file,
                 ssh_get_error(session));
  return {};
}

Status SftpConnection::authenticate(const SftpOptions& options) {
  ssh_session session = m_session.get();
  arm();
  int rc = ssh_userauth_publickey_auto(session, nullptr, nullptr);
  if (rc == SSH_AUTH_SUCCESS) return {};
  if (rc == SSH_AUTH_ERROR && (m_timed_out || !ssh_is_connected(session)))
    return tl::unexpected(error("authenticating to " + m_server));
  const std::string user = session_option(session, SSH_OPTIONS_USER);
  return failf(Errc::permission,
               "{} refused public-key authentication for user '{}' (offered: {}keys from ssh-agent, IdentityFile "
               "from the ssh config, ~/.ssh/id_*; {}). Give the key with -o sftp.identity=FILE or load it into "
               "ssh-agent (a key with a passphrase must be in the agent), and make sure its public key is in the "
               "user's authorized_keys on the server",
               m_server, user, options.identity.empty() ? "" : options.identity + ", ", ssh_get_error(session));
}

}  // namespace kho::backend::sftp

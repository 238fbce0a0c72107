#include "kho/backend/sftp/sftp_location.hpp"

#include <charconv>

#include "kho/util/url.hpp"

namespace kho::backend::sftp {

namespace {

constexpr std::string_view k_scheme = "sftp://";



tl::unexpected<Error> bad_location(const std::string& why) {
  return fail(Errc::invalid_argument,
              "invalid sftp:// location: " + why + " (expected sftp://[user@]host[:port]/path)");
}

Result<int> parse_int(const std::string& text, int min, int max) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    return fail(Errc::invalid_argument, "");
  return value;
}

}  // namespace

std::string SftpLocation::display() const {
  std::string out(k_scheme);
  if (!user.empty()) out += user + "@";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port) out += ":" + std::to_string(*port);
  if (path.starts_with('/'))
    out += path;
  else
    out += path == "." ? "/~" : "/~/" + path;
  return out;
}

Result<SftpLocation> parse_sftp_location(const std::string& location) {
  if (!location.starts_with(k_scheme)) return bad_location("it does not start with sftp://");
  std::string_view rest = std::string_view(location).substr(k_scheme.size());
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return bad_location("no path after the host");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = rest.substr(slash);

  SftpLocation out;
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view user = authority.substr(0, at);
    // Never echo what follows the colon: it would be a password.
    if (user.find(':') != std::string_view::npos)
      return bad_location("a password in the location is not supported; kho authenticates with keys "
                          "(ssh-agent, ~/.ssh/id_*, -o sftp.identity=FILE)");
    if (user.empty()) return bad_location("empty user name before '@'");
    KHO_TRY_ASSIGN(out.user, percent_decode(user, "user"));
    authority = authority.substr(at + 1);
  }

  std::string_view port;
  if (authority.starts_with('[')) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad_location("'[' without ']' around an IPv6 address");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad_location("unexpected text after ']'");
      port = after.substr(1);
      if (port.empty()) return bad_location("empty port after ':'");
    }
  } else {
    std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return bad_location("empty port after ':'");
      authority = authority.substr(0, colon);
    }
    out.host = std::string(authority);
  }
  if (out.host.empty()) return bad_location("no host");
  for (char c : out.host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_' || c == ':' || c == '%';
    if (!ok) return bad_location("invalid character in the host name");
  }
  if (!port.empty()) {
    auto number = parse_int(std::string(port), 1, 65535);
    if (!number) return bad_location("the port is not a number from 1 to 65535");
    out.port = *number;
  }

  KHO_TRY_ASSIGN(std::string decoded, percent_decode(path, "path"));
  // "/~" and "/~/x" are relative to the login directory; "//x" is "/x".
  if (decoded == "/~" || decoded == "/~/") {
    out.path = ".";
  } else if (decoded.starts_with("/~/")) {
    out.path = decoded.substr(3);
  } else {
    out.path = decoded;
  }
  while (out.path.size() > 1 && out.path.ends_with('/')) out.path.pop_back();
  while (out.path.starts_with("//")) out.path.erase(0, 1);
  if (out.path.empty() || out.path == "/")
    return bad_location("the path is empty or '/'; name the repository's directory");
  return out;
}

Result<SftpOptions> parse_sftp_options(const BackendOptions& options) {
  SftpOptions out;
  for (const auto& option : options) {
    const std::string& key = option.first;  // named, not bound: lambdas below capture them
    const std::string& value = option.second;
    if (!key.starts_with("sftp.")) continue;
    auto bad_value = [&](const char* expected) {
      return failf(Errc::invalid_argument, "option -o {}={}: expected {}", key, value, expected);
    };
    auto need_value = [&]() -> Status {
      if (value.empty()) return failf(Errc::invalid_argument, "option -o {} needs a value", key);
      return {};
    };
    if (key == "sftp.identity") {
      KHO_TRY_STATUS(need_value());
      out.identity = value;
    } else if (key == "sftp.known_hosts") {
      KHO_TRY_STATUS(need_value());
      out.known_hosts = value;
    } else if (key == "sftp.config") {
      KHO_TRY_STATUS(need_value());
      out.config = value;
    } else if (key == "sftp.accept_new_host_key") {
      if (value == "yes" || value == "true" || value == "1")
        out.accept_new_host_key = true;
      else if (value == "no" || value == "false" || value == "0")
        out.accept_new_host_key = false;
      else
        return bad_value("yes or no");
    } else if (key == "sftp.connections") {
      auto n = parse_int(value, 1, 64);
      if (!n) return bad_value("a number of connections from 1 to 64");
      out.connections = *n;
    } else if (key == "sftp.timeout") {
      auto n = parse_int(value, 1, 86400);
      if (!n) return bad_value("a number of seconds from 1 to 86400");
      out.timeout = std::chrono::seconds(*n);
    } else {
      return failf(Errc::invalid_argument,
                   "unknown option -o {}: SFTP options are sftp.identity, sftp.known_hosts, "
                   "sftp.accept_new_host_key, sftp.connections, sftp.timeout and sftp.config",
                   key);
    }
  }
  return out;
}

}  // namespace kho::backend::sftp

#include "kho/backend/rest/rest_location.hpp"

#include <charconv>
#include <cmath>
#include <unistd.h>

#include "kho/util/time.hpp"
#include "kho/util/url.hpp"

namespace kho::backend {

namespace {

constexpr std::string_view k_prefix = "rest:";


bool is_unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Characters kept as they are in a URL path (RFC 3986 pchar and '/'); '%' is
// kept when it starts a valid escape.
bool is_path_char(char c) {
  return is_unreserved(c) || c == '/' || c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' ||
         c == '*' || c == '+' || c == ',' || c == ';' || c == '=' || c == ':' || c == '@';
}

Result<std::string> encode_path(const std::string& path, const std::string& redacted) {
  constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '?' || c == '#')
      return failf(Errc::invalid_argument,
                   "repository location {}: the path may not contain '{}' (write %{:02X} for a literal one)", redacted,
                   c, static_cast<unsigned>(c));
    if (c == '%' && i + 2 < path.size() && hex_digit_value(path[i + 1]) >= 0 && hex_digit_value(path[i + 2]) >= 0) {
      out += path.substr(i, 3);
      i += 2;
    } else if (is_path_char(c)) {
      out += c;
    } else {
      auto b = static_cast<unsigned char>(c);
      out += '%';
      out += digits[b >> 4];
      out += digits[b & 15];
    }
  }
  // "." and ".." would let the server resolve the repository somewhere else.
  std::size_t start = 0;
  while (start <= out.size()) {
    std::size_t end = out.find('/', start);
    if (end == std::string::npos) end = out.size();
    std::string_view segment(out.data() + start, end - start);
    if (segment == "." || segment == ".." || segment == "%2E" || segment == "%2e" || segment == "%2E%2E" ||
        segment == "%2e%2e" || segment == ".%2E" || segment == "%2E." || segment == ".%2e" || segment == "%2e.")
      return failf(Errc::invalid_argument, "repository location {}: the path may not contain '.' or '..' segments",
                   redacted);
    start = end + 1;
  }
  return out;
}

}  // namespace


Result<RestLocation> parse_rest_location(const std::string& location) {
  RestLocation loc;
  loc.redacted = redact_location(location);
  auto bad = [&](const std::string& why) {
    return failf(Errc::invalid_argument,
                 "repository location {}: {} (expected rest:http(s)://[user:password@]host[:port]/[path])", loc.redacted,
                 why);
  };
  if (location.compare(0, k_prefix.size(), k_prefix) != 0) return bad("it does not start with 'rest:'");
  std::string url = location.substr(k_prefix.size());
  std::string scheme;
  if (url.compare(0, 7, "http://") == 0) {
    scheme = "http";
  } else if (url.compare(0, 8, "https://") == 0) {
    scheme = "https";
    loc.https = true;
  } else {
    return bad("the URL must start with http:// or https://");
  }
  const std::size_t authority_begin = scheme.size() + 3;
  std::size_t authority_end = url.find('/', authority_begin);
  if (authority_end == std::string::npos) authority_end = url.size();
  std::string authority = url.substr(authority_begin, authority_end - authority_begin);
  std::string path = authority_end < url.size() ? url.substr(authority_end) : "/";

  std::string hostport = authority;
  std::size_t at = authority.rfind('@');
  if (at != std::string::npos) {
    std::string userinfo = authority.substr(0, at);
    hostport = authority.substr(at + 1);
    std::size_t colon = userinfo.find(':');
    std::string user = userinfo.substr(0, colon);
    KHO_TRY_ASSIGN(loc.user, percent_decode(user, "user name"));
    if (loc.user.empty()) {
      secure_wipe(userinfo.data(), userinfo.size());
      secure_wipe(authority.data(), authority.size());
      secure_wipe(url.data(), url.size());
      return bad("the user name before '@' is empty");
    }
    if (colon != std::string::npos) {
      auto password = percent_decode(userinfo.substr(colon + 1), "password");
      secure_wipe(userinfo.data(), userinfo.size());
      secure_wipe(authority.data(), authority.size());
      secure_wipe(url.data(), url.size());
      if (!password) return tl::unexpected(password.error());
      loc.password = SecretString(std::move(*password));
    }
  }

  std::string host = hostport;
  std::string port_text;
  if (!hostport.empty() && hostport[0] == '[') {
    std::size_t close = hostport.find(']');
    if (close == std::string::npos) return bad("an IPv6 address must end with ']'");
    host = hostport.substr(0, close + 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return bad("unexpected text after the IPv6 address");
      port_text = hostport.substr(close + 2);
      if (port_text.empty()) return bad("the port after ':' is empty");
    }
  } else {
    std::size_t colon = hostport.rfind(':');
    if (colon != std::string::npos) {
      host = hostport.substr(0, colon);
      port_text = hostport.substr(colon + 1);
      if (port_text.empty()) return bad("the port after ':' is empty");
    }
  }
  if (host.empty() || host == "[]") return bad("the host is empty");
  for (char c : host)
    if (!(is_unreserved(c) || c == '[' || c == ']' || c == ':' || c == '%'))
      return bad(fmt::format("the host '{}' holds a character that is not allowed in a host name", host));
  unsigned port = loc.https ? 443 : 80;
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return bad(fmt::format("the port '{}' is not a number from 1 to 65535", port_text));
  }

  if (path.empty() || path.back() != '/') path += '/';
  KHO_TRY_ASSIGN(std::string encoded, encode_path(path, loc.redacted));
  loc.host_port = fmt::format("{}:{}", host, port);
  loc.base_url = fmt::format("{}://{}{}", scheme, loc.host_port, encoded);
  return loc;
}

Result<RestOptions> parse_rest_options(const BackendOptions& options) {
  RestOptions out;
  for (const auto& [key, value] : options) {
    if (key.compare(0, 5, "rest.") != 0) continue;
    if (key == "rest.cacert") {
      if (value.empty() || ::access(value.c_str(), R_OK) != 0)
        return failf(Errc::invalid_argument, "-o rest.cacert={}: cannot read the file (give a PEM CA certificate)",
                     value);
      out.cacert = value;
    } else if (key == "rest.connections") {
      int n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > 64)
        return failf(Errc::invalid_argument, "-o rest.connections={}: give a number of connections from 1 to 64",
                     value);
      out.connections = n;
    } else if (key == "rest.timeout") {
      bool bare_number = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
      auto seconds = parse_duration(bare_number ? value + "s" : value);
      if (!seconds || *seconds < 1 || *seconds > 86400)
        return failf(Errc::invalid_argument,
                     "-o rest.timeout={}: give a duration from 1s to 24h (e.g. 90, 90s, 2m)", value);
      out.timeout = std::chrono::seconds(static_cast<long long>(std::ceil(*seconds)));
    } else {
      return failf(Errc::invalid_argument,
                   "unknown option -o {}: REST repositories take rest.cacert, rest.connections and rest.timeout", key);
    }
  }
  return out;
}

}  // namespace kho::backend

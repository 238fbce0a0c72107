#include "kho/backend/backend.hpp"

#include <sys/stat.h>

#include "kho/backend/local/local_backend.hpp"

namespace kho::backend {

const char* type_dir(ObjectType type) {
  switch (type) {
    case ObjectType::config: return "config";
    case ObjectType::key: return "keys";
    case ObjectType::data: return "data";
    case ObjectType::index: return "index";
    case ObjectType::snapshot: return "snapshots";
    case ObjectType::lock: return "locks";
  }
  return "unknown";
}

std::string describe(const Handle& handle) {
  if (handle.type == ObjectType::config) return "config";
  std::string out = type_dir(handle.type);
  out += '/';
  if (handle.type == ObjectType::data) {
    out += handle.name.substr(0, 2);
    out += '/';
  }
  out += handle.name;
  return out;
}

namespace {

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Length of a leading "scheme:" (without the colon), or 0 when there is none.
std::size_t scheme_length(const std::string& location) {
  if (location.empty() || location[0] < 'a' || location[0] > 'z') return 0;
  for (std::size_t i = 1; i < location.size(); ++i) {
    char c = location[i];
    if (c == ':') return i;
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '-';
    if (!ok) return 0;
  }
  return 0;
}

Result<std::unique_ptr<Backend>> open_local(const std::string& path) {
  if (path.empty()) return fail(Errc::invalid_argument, "repository location has an empty path");
  return std::unique_ptr<Backend>(std::make_unique<LocalBackend>(path));
}

}  // namespace

Result<std::unique_ptr<Backend>> open_location(const std::string& location) {
  if (location.empty()) return fail(Errc::invalid_argument, "no repository location given");
  std::size_t n = scheme_length(location);
  if (n == 0) return open_local(location);
  std::string scheme = location.substr(0, n);
  if (scheme == "local") return open_local(location.substr(n + 1));
  // "host:dir" style names are also plausible plain paths: an existing path wins.
  if (path_exists(location) || path_exists(location.substr(0, location.find('/')))) return open_local(location);
  return failf(Errc::unsupported,
               "repository location scheme '{}:' is not supported (yet); use a local path or "
               "local:PATH (write ./{}:... for a local path that starts with '{}:')",
               scheme, scheme, scheme);
}

}  // namespace kho::backend

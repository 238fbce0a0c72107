#include "kho/backend/backend.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>

#include "kho/backend/local/local_backend.hpp"
#include "kho/backend/rest/rest_backend.hpp"
#include "kho/backend/sftp/sftp_backend.hpp"
#include "kho/backend/wrap/fault_backend.hpp"
#include "kho/backend/wrap/retry_backend.hpp"
#include "kho/util/url.hpp"

namespace kho::backend {

Result<std::uint64_t> Backend::remove_temporaries(ObjectType) { return 0; }

namespace {

// Collects the pieces in memory and hands them to save() at commit().
class BufferedObjectWriter final : public ObjectWriter {
public:
  BufferedObjectWriter(Backend& backend, ObjectType type, std::uint64_t size_hint)
      : m_backend(backend), m_type(type), m_size_hint(std::min<std::uint64_t>(size_hint, k_max_reserve)) {}

  Status append(ByteSpan data) override {
    // Reserved at the first piece, not before: a writer dropped unused costs nothing.
    if (m_data.empty()) m_data.reserve(std::max<std::uint64_t>(m_size_hint, data.size()));
    m_data.insert(m_data.end(), data.begin(), data.end());
    return {};
  }

  Status commit(const Handle& handle) override {
    if (handle.type != m_type)
      return failf(Errc::invalid_argument, "{} committed by a writer begun for {}", describe(handle), type_dir(m_type));
    Bytes data = std::move(m_data);
    m_data.clear();
    return m_backend.save(handle, data);
  }

private:
  // A hint is only a hint: no more than this is reserved on its word.
  static constexpr std::uint64_t k_max_reserve = 256ULL << 20;

  Backend& m_backend;
  ObjectType m_type;
  std::uint64_t m_size_hint;
  Bytes m_data;
};

}  // namespace

Result<std::unique_ptr<ObjectWriter>> Backend::begin_save(ObjectType type, std::uint64_t size_hint) {
  return std::unique_ptr<ObjectWriter>(std::make_unique<BufferedObjectWriter>(*this, type, size_hint));
}

Status Backend::load_into(const Handle& handle, std::uint64_t offset, std::span<std::uint8_t> out) {
  if (out.empty()) return {};
  KHO_TRY_ASSIGN(Bytes data, load(handle, offset, out.size()));
  // A backend that breaks its contract must not make us write past the buffer.
  if (data.size() != out.size())
    return failf(Errc::corruption, "{} returned {} bytes instead of {} at offset {}", describe(handle), data.size(),
                 out.size(), offset);
  std::copy(data.begin(), data.end(), out.begin());
  return {};
}

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

Result<std::unique_ptr<Backend>> open_local(const std::string& path) {
  if (path.empty()) return fail(Errc::invalid_argument, "repository location has an empty path");
  return std::unique_ptr<Backend>(std::make_unique<LocalBackend>(path));
}

// Refuses options meant for no backend (each backend checks its own keys).
Status check_option_prefixes(const BackendOptions& options) {
  for (const auto& [key, value] : options) {
    auto dot = key.find('.');
    std::string prefix = dot == std::string::npos ? key : key.substr(0, dot);
    if (prefix != "sftp" && prefix != "rest")
      return failf(Errc::invalid_argument, "unknown option -o {}: options start with 'sftp.' or 'rest.'", key);
  }
  return {};
}

// The spec in KHO_FAULTS, parsed once; nullopt when the variable is unset or empty.
const Result<std::optional<FaultSpec>>& fault_spec() {
  static const Result<std::optional<FaultSpec>> spec = []() -> Result<std::optional<FaultSpec>> {
    const char* env = std::getenv("KHO_FAULTS");
    if (!env || !*env) return std::nullopt;
    KHO_TRY_ASSIGN(FaultSpec parsed, parse_fault_spec(env));
    return std::optional<FaultSpec>(std::move(parsed));
  }();
  return spec;
}

// Wraps an opened backend: faults (KHO_FAULTS) innermost, so that injected
// transient errors go through the retries; remote backends, and any backend with
// faults, get a RetryBackend.
Result<std::unique_ptr<Backend>> wrap(Result<std::unique_ptr<Backend>> backend, bool remote) {
  if (!backend) return backend;
  const auto& faults = fault_spec();
  if (!faults) return tl::unexpected(faults.error());
  RetryPolicy policy;
  std::unique_ptr<Backend> out = std::move(*backend);
  if (*faults) {
    out = std::make_unique<FaultBackend>(std::move(out), **faults);
    policy.first_delay = std::chrono::milliseconds((*faults)->retry_delay_ms);
    policy.max_delay = std::max(policy.first_delay, std::chrono::milliseconds((*faults)->retry_delay_ms * 8));
  } else if (!remote) {
    return out;
  }
  return std::unique_ptr<Backend>(std::make_unique<RetryBackend>(std::move(out), policy));
}

}  // namespace

Status check_deletions_allowed(Backend& backend) {
  auto probe = backend.remove(Handle{ObjectType::data, std::string(64, '0')});
  if (probe || probe.error().code() == Errc::not_found) return {};
  if (probe.error().code() != Errc::permission) return probe;
  return failf(Errc::permission, "the server of repository {} refuses deletions (it is in append-only mode)",
               backend.properties().location);
}

std::string redact_location(const std::string& location) {
  // scheme://user:password@host -> scheme://user:***@host
  auto scheme_end = location.find("://");
  if (scheme_end == std::string::npos) return location;
  std::size_t authority = scheme_end + 3;
  std::size_t authority_end = location.find('/', authority);
  if (authority_end == std::string::npos) authority_end = location.size();
  std::size_t at = location.rfind('@', authority_end);
  if (at == std::string::npos || at < authority) return location;
  std::size_t colon = location.find(':', authority);
  if (colon == std::string::npos || colon > at) return location;
  return location.substr(0, colon + 1) + "***" + location.substr(at);
}

Result<std::unique_ptr<Backend>> open_location(const std::string& location, const BackendOptions& options) {
  if (location.empty()) return fail(Errc::invalid_argument, "no repository location given");
  KHO_TRY_STATUS(check_option_prefixes(options));
  std::size_t n = scheme_length(location);
  if (n == 0) return wrap(open_local(location), false);
  std::string scheme = location.substr(0, n);
  if (scheme == "local") return wrap(open_local(location.substr(n + 1)), false);
  if (scheme == "sftp" && location.compare(n, 3, "://") == 0) return wrap(open_sftp(location, options), true);
  if (scheme == "rest") return wrap(open_rest(location, options), true);
  // "host:dir" style names are also plausible plain paths: an existing path wins.
  if (path_exists(location) || path_exists(location.substr(0, location.find('/'))))
    return wrap(open_local(location), false);
  return failf(Errc::unsupported,
               "repository location scheme '{}:' is not supported; use a local path, local:PATH, "
               "sftp://[user@]host[:port]/path or rest:http(s)://host:port/path "
               "(write ./{}:... for a local path that starts with '{}:')",
               scheme, scheme, scheme);
}

}  // namespace kho::backend

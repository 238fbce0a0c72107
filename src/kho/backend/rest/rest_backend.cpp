#include "kho/backend/rest/rest_backend.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <map>

#include <nlohmann/json.hpp>

#include "kho/backend/object_names.hpp"
#include "kho/backend/rest/http_client.hpp"
#include "kho/backend/rest/rest_location.hpp"

namespace kho::backend {

namespace {

constexpr std::uint64_t k_max_object = std::uint64_t{1} << 34;   // 16 GiB: far above any pack
constexpr std::uint64_t k_max_listing = std::uint64_t{1} << 30;  // 1 GiB of JSON
constexpr std::uint64_t k_max_range_end = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_';
}

// The common rules, and only characters a URL path holds as they are.
Status check_handle(const Handle& handle) {
  KHO_TRY_STATUS(check_object_name(handle));
  for (char c : handle.name)
    if (!is_name_char(c))
      return failf(Errc::invalid_argument, "invalid {} object name '{}': only letters, digits, '.', '_' and '-' are allowed",
                   type_dir(handle.type), handle.name);
  return {};
}

// The start of a server's error text, printable ASCII only, for messages.
std::string body_excerpt(const Bytes& body) {
  std::string out;
  for (std::uint8_t b : body) {
    if (out.size() >= 200) {
      out += "...";
      break;
    }
    char c = static_cast<char>(b);
    out += (b >= 0x20 && b < 0x7f) ? c : ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Per-name reader/writer exclusion within one instance: a save of a name never
// overlaps a load or stat of it (see the header). Waiting saves go first.
class NameLocks {
public:
  void lock_write(const std::string& key) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_names[key].writers_waiting++;
    m_changed.wait(lock, [&] {
      const State& s = m_names[key];
      return !s.writer && s.readers == 0;
    });
    State& s = m_names[key];
    s.writers_waiting--;
    s.writer = true;
  }
  void unlock_write(const std::string& key) {
    {
      std::lock_guard<std::mutex> guard(m_mutex);
      m_names[key].writer = false;
      forget_if_idle(key);
    }
    m_changed.notify_all();
  }
  void lock_read(const std::string& key) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_changed.wait(lock, [&] {
      auto it = m_names.find(key);
      return it == m_names.end() || (!it->second.writer && it->second.writers_waiting == 0);
    });
    m_names[key].readers++;
  }
  void unlock_read(const std::string& key) {
    {
      std::lock_guard<std::mutex> guard(m_mutex);
      m_names[key].readers--;
      forget_if_idle(key);
    }
    m_changed.notify_all();
  }

private:
  struct State {
    int readers = 0;
    int writers_waiting = 0;
    bool writer = false;
  };
  void forget_if_idle(const std::string& key) {
    auto it = m_names.find(key);
    if (it != m_names.end() && it->second.readers == 0 && it->second.writers_waiting == 0 && !it->second.writer)
      m_names.erase(it);
  }

  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::map<std::string, State> m_names;
};

class NameLock {
public:
  NameLock(NameLocks& locks, std::string key, bool write) : m_locks(locks), m_key(std::move(key)), m_write(write) {
    if (m_write) m_locks.lock_write(m_key);
    else m_locks.lock_read(m_key);
  }
  ~NameLock() {
    if (m_write) m_locks.unlock_write(m_key);
    else m_locks.unlock_read(m_key);
  }
  NameLock(const NameLock&) = delete;
  NameLock& operator=(const NameLock&) = delete;

private:
  NameLocks& m_locks;
  std::string m_key;
  bool m_write;
};

class RestBackend final : public Backend {
public:
  RestBackend(RestLocation location, std::unique_ptr<HttpClient> http)
      : m_location(std::move(location)), m_http(std::move(http)) {}

  Status create() override;
  Status save(const Handle& handle, ByteSpan data) override;
  Result<Bytes> load(const Handle& handle, std::uint64_t offset, std::uint64_t length) override;
  Result<ObjectInfo> stat(const Handle& handle) override;
  Result<std::vector<ObjectInfo>> list(ObjectType type) override;
  Status remove(const Handle& handle) override;
  Properties properties() const override {
    Properties p;
    p.location = m_location.redacted;
    p.append_only = m_append_only.load();
    return p;
  }

private:
  std::string url_of(const Handle& handle) const {
    if (handle.type == ObjectType::config) return m_location.base_url + "config";
    return m_location.base_url + type_dir(handle.type) + "/" + handle.name;
  }
  std::string object(const Handle& handle) const {
    return fmt::format("{} in repository {}", describe(handle), m_location.redacted);
  }
  // The size of a stored object, or nullopt when the server has none by that name.
  Result<std::optional<std::uint64_t>> head(const Handle& handle, const std::string& what);
  tl::unexpected<Error> status_error(const std::string& what, const Handle* handle, const HttpResponse& response) const;
  tl::unexpected<Error> too_short(const Handle& handle, std::uint64_t offset, std::uint64_t length,
                                  std::optional<std::uint64_t> size) const;

  RestLocation m_location;
  std::unique_ptr<HttpClient> m_http;
  NameLocks m_names;
  std::atomic<bool> m_append_only{false};
};

tl::unexpected<Error> RestBackend::status_error(const std::string& what, const Handle* handle,
                                                const HttpResponse& response) const {
  const long s = response.status;
  std::string excerpt = body_excerpt(response.body);
  std::string answer = excerpt.empty() ? fmt::format("HTTP {}", s) : fmt::format("HTTP {}: {}", s, excerpt);
  if (s == 404) {
    if (handle) return failf(Errc::not_found, "{} not found in repository {}", describe(*handle), m_location.redacted);
    return failf(Errc::not_found, "{}: not found on the server ({})", what, answer);
  }
  if (s == 401) {
    if (m_location.user.empty())
      return failf(Errc::permission,
                   "{}: the server asks for a user name and password (HTTP 401); give them in the repository "
                   "location: rest:http(s)://USER:PASSWORD@host:port/path (in KHO_REPOSITORY, not on the command line)",
                   what);
    return failf(Errc::permission,
                 "{}: the server refused the credentials (HTTP 401) of user '{}'; check the user name and password in "
                 "the repository location",
                 what, m_location.user);
  }
  if (s == 403) return failf(Errc::permission, "{}: the server refused access ({})", what, answer);
  if (s == 408 || s == 429 || (s >= 500 && s <= 599))  // the caller (RetryBackend) names the object
    return tl::unexpected(Error(
        Errc::io, fmt::format("the REST server of {} answered {}", m_location.redacted, answer), true));
  return failf(Errc::io, "{}: unexpected answer from the server ({})", what, answer);
}

tl::unexpected<Error> RestBackend::too_short(const Handle& handle, std::uint64_t offset, std::uint64_t length,
                                             std::optional<std::uint64_t> size) const {
  std::string range = length == 0 ? fmt::format("{}+(rest)", offset) : fmt::format("{}+{}", offset, length);
  if (size)
    return failf(Errc::corruption, "{} is {} bytes, shorter than the requested range {}", object(handle), *size, range);
  return failf(Errc::corruption, "{} is shorter than the requested range {}", object(handle), range);
}

Result<std::optional<std::uint64_t>> RestBackend::head(const Handle& handle, const std::string& what) {
  HttpRequest request;
  request.method = HttpMethod::head;
  request.url = url_of(handle);
  request.what = what;
  KHO_TRY_ASSIGN(HttpResponse response, m_http->perform(request));
  if (response.status == 404) return std::optional<std::uint64_t>();
  if (response.status != 200) return status_error(what, &handle, response);
  if (!response.content_length)
    return failf(Errc::io, "{}: the server did not say how big {} is (no Content-Length)", what, describe(handle));
  return std::optional<std::uint64_t>(*response.content_length);
}

Status RestBackend::create() {
  const Handle config{ObjectType::config, ""};
  const std::string what = "creating repository " + m_location.redacted;
  KHO_TRY_ASSIGN(auto existing, head(config, what));
  if (existing)
    return failf(Errc::already_exists, "a repository already exists at {} (it has a config)", m_location.redacted);
  HttpRequest request;
  request.method = HttpMethod::post;
  request.url = m_location.base_url + "?create=true";
  request.what = what;
  KHO_TRY_ASSIGN(HttpResponse response, m_http->perform(request));
  if (response.status >= 200 && response.status <= 299) return {};
  return status_error(what, nullptr, response);
}

Status RestBackend::save(const Handle& handle, ByteSpan data) {
  KHO_TRY_STATUS(check_handle(handle));
  NameLock writing(m_names, url_of(handle), true);
  const std::string what = fmt::format("saving {} to {}", describe(handle), m_location.redacted);
  if (handle.type != ObjectType::config) {
    // Named by its content: the same name and size is the same object.
    KHO_TRY_ASSIGN(auto existing, head(handle, what));
    if (existing && *existing == data.size()) return {};
  }
  HttpRequest request;
  request.method = HttpMethod::post;
  request.url = url_of(handle);
  request.body = data;
  request.what = what;
  KHO_TRY_ASSIGN(HttpResponse response, m_http->perform(request));
  if (response.status >= 200 && response.status <= 299) return {};
  if (response.status != 403) return status_error(what, &handle, response);

  // Append-only servers refuse to store a name twice: fine if it holds these bytes.
  KHO_TRY_ASSIGN(auto existing, head(handle, what));
  if (!existing) return status_error(what, &handle, response);
  bool same = *existing == data.size();
  if (same && handle.type == ObjectType::config) {
    HttpRequest get;
    get.url = url_of(handle);
    get.max_body = data.size();
    get.what = what;
    KHO_TRY_ASSIGN(HttpResponse stored, m_http->perform(get));
    same = stored.status == 200 && !stored.body_too_long && stored.body.size() == data.size() &&
           std::equal(stored.body.begin(), stored.body.end(), data.begin());
  }
  if (same) {
    m_append_only = true;
    return {};
  }
  return failf(Errc::permission,
               "{}: the server already holds {} with other content ({} bytes, not {}) and refuses to replace it "
               "(HTTP 403: it is in append-only mode or forbids overwriting)",
               what, describe(handle), *existing, data.size());
}

Result<Bytes> RestBackend::load(const Handle& handle, std::uint64_t offset, std::uint64_t length) {
  KHO_TRY_STATUS(check_handle(handle));
  NameLock reading(m_names, url_of(handle), false);
  const std::string what = fmt::format("loading {} from {}", describe(handle), m_location.redacted);
  if (offset > k_max_range_end || (length > 0 && length - 1 > k_max_range_end - offset)) {
    // No server stores an object that big: say whether it exists at all.
    KHO_TRY_ASSIGN(auto size, head(handle, what));
    if (!size) return failf(Errc::not_found, "{} not found in repository {}", describe(handle), m_location.redacted);
    return too_short(handle, offset, length, size);
  }
  HttpRequest request;
  request.url = url_of(handle);
  request.what = what;
  request.max_body = length > 0 ? length : k_max_object;
  const bool ranged = offset > 0 || length > 0;
  if (ranged)
    request.range = length > 0 ? fmt::format("{}-{}", offset, offset + length - 1) : fmt::format("{}-", offset);
  KHO_TRY_ASSIGN(HttpResponse response, m_http->perform(request));

  if (response.status == 416) {  // the range starts at or beyond the end
    KHO_TRY_ASSIGN(auto size, head(handle, what));
    if (!size) return failf(Errc::not_found, "{} not found in repository {}", describe(handle), m_location.redacted);
    if (length == 0 && offset == *size) return Bytes{};
    return too_short(handle, offset, length, size);
  }
  if (response.status == 200) {
    if (response.body_too_long) {
      if (!ranged) return failf(Errc::corruption, "{} is larger than {} bytes", object(handle), k_max_object);
      // The server ignored the Range header: fetch it whole and cut.
      request.range.clear();
      request.max_body = k_max_object;
      KHO_TRY_ASSIGN(response, m_http->perform(request));
      if (response.status != 200) return status_error(what, &handle, response);
    }
    if (!ranged) return std::move(response.body);
    const std::uint64_t size = response.body.size();
    if (offset > size || (length > 0 && length > size - offset)) return too_short(handle, offset, length, size);
    const std::uint64_t end = length > 0 ? offset + length : size;
    return Bytes(response.body.begin() + static_cast<std::ptrdiff_t>(offset),
                 response.body.begin() + static_cast<std::ptrdiff_t>(end));
  }
  if (response.status == 206) {
    if (response.body_too_long)
      return failf(Errc::corruption, "{}: the server sent more than the {} bytes asked for", object(handle), length);
    if (response.range_first && *response.range_first != offset)
      return failf(Errc::corruption, "{}: the server sent bytes from offset {} when asked for offset {}",
                   object(handle), *response.range_first, offset);
    std::optional<std::uint64_t> size = response.range_size;
    if (!size && (length > 0 ? response.body.size() != length : response.body.empty())) {
      KHO_TRY_ASSIGN(size, head(handle, what));  // no total given: ask
    }
    if (size && (offset > *size || (length > 0 && length > *size - offset)))
      return too_short(handle, offset, length, size);
    const std::uint64_t want = length > 0 ? length : size ? *size - offset : response.body.size();
    if (response.body.size() != want)
      return failf(Errc::corruption, "{}: the server sent {} bytes of the range {}+{} ({} expected)", object(handle),
                   response.body.size(), offset, length, want);
    return std::move(response.body);
  }
  return status_error(what, &handle, response);
}

Result<ObjectInfo> RestBackend::stat(const Handle& handle) {
  KHO_TRY_STATUS(check_handle(handle));
  NameLock reading(m_names, url_of(handle), false);
  const std::string what = fmt::format("reading the size of {} in {}", describe(handle), m_location.redacted);
  KHO_TRY_ASSIGN(auto size, head(handle, what));
  if (!size) return failf(Errc::not_found, "{} not found in repository {}", describe(handle), m_location.redacted);
  return ObjectInfo{handle.name, *size};
}

}  // namespace

Result<std::vector<ObjectInfo>> parse_rest_listing(const Bytes& body, const std::string& what) {
  std::vector<ObjectInfo> out;
  auto json = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (json.is_discarded() || !json.is_array())
    return failf(Errc::io, "{}: the server's answer is not a JSON list ({})", what, body_excerpt(body));
  out.reserve(json.size());
  for (const auto& item : json) {
    if (item.is_string())
      return failf(Errc::unsupported,
                   "{}: the server speaks version 1 of the REST protocol (names without sizes); kho needs version 2 "
                   "(upgrade rest-server or rclone)",
                   what);
    if (!item.is_object() || !item.contains("name") || !item["name"].is_string() || !item.contains("size") ||
        !item["size"].is_number_unsigned())
      return failf(Errc::io, "{}: unexpected entry in the server's listing: {}", what, item.dump());
    out.push_back({item["name"].get<std::string>(), item["size"].get<std::uint64_t>()});
  }
  return out;
}

namespace {

Result<std::vector<ObjectInfo>> RestBackend::list(ObjectType type) {
  std::vector<ObjectInfo> out;
  const std::string what = fmt::format("listing {} in {}", type_dir(type), m_location.redacted);
  if (type == ObjectType::config) {
    KHO_TRY_ASSIGN(auto size, head(Handle{ObjectType::config, ""}, what));
    if (size) out.push_back({"", *size});
    return out;
  }
  HttpRequest request;
  request.url = m_location.base_url + type_dir(type) + "/";
  request.accept_v2 = true;
  request.max_body = k_max_listing;
  request.what = what;
  KHO_TRY_ASSIGN(HttpResponse response, m_http->perform(request));
  if (response.status == 404) return out;  // no folder for this type: nothing stored
  if (response.status != 200) return status_error(what, nullptr, response);
  if (response.body_too_long) return failf(Errc::io, "{}: the listing is larger than {} bytes", what, k_max_listing);

  return parse_rest_listing(response.body, what);
}

Status RestBackend::remove(const Handle& handle) {
  KHO_TRY_STATUS(check_handle(handle));
  const std::string what = fmt::format("removing {} from {}", describe(handle), m_location.redacted);
  HttpRequest request;
  request.method = HttpMethod::del;
  request.url = url_of(handle);
  request.what = what;
  KHO_TRY_ASSIGN(HttpResponse response, m_http->perform(request));
  if (response.status >= 200 && response.status <= 299) return {};
  if (response.status == 403) {
    m_append_only = true;
    return failf(Errc::permission,
                 "the server refused to delete {} (HTTP 403): it is in append-only mode (or forbids deletion)",
                 object(handle));
  }
  return status_error(what, &handle, response);
}

}  // namespace

Result<std::unique_ptr<Backend>> open_rest(const std::string& location, const BackendOptions& options) {
  KHO_TRY_ASSIGN(RestLocation parsed, parse_rest_location(location));
  KHO_TRY_ASSIGN(RestOptions rest_options, parse_rest_options(options));
  HttpClientConfig config;
  config.user = parsed.user;
  config.password = parsed.password;
  config.cacert = rest_options.cacert;
  config.connections = rest_options.connections;
  config.timeout = rest_options.timeout;
  KHO_TRY_ASSIGN(auto http, HttpClient::create(std::move(config), parsed.host_port));
  return std::unique_ptr<Backend>(std::make_unique<RestBackend>(std::move(parsed), std::move(http)));
}

}  // namespace kho::backend

#include "kho/backend/rest/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <mutex>

#include "kho/util/curl_lib.hpp"

namespace kho::backend {

// Outside the anonymous namespace: HttpClient::Handle, a class with linkage, holds one.
struct CurlDeleter {
  void operator()(CURL* curl) const { curl::easy_cleanup(curl); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

namespace {

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl::slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

struct Transfer {
  HttpResponse* response;
  std::uint64_t max_body;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (t->response->body.size() + n > t->max_body) {
    t->response->body_too_long = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
  t->response->body.insert(t->response->body.end(), bytes, bytes + n);
  return n;
}

bool starts_with_nocase(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
  return true;
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {  // a new response (after "100 Continue")
    t->response->content_length.reset();
    t->response->range_first.reset();
    t->response->range_size.reset();
  } else if (starts_with_nocase(line, "content-length:")) {
    t->response->content_length = parse_number(line.substr(15));
    if (t->response->content_length)
      t->response->body.reserve(static_cast<std::size_t>(std::min(*t->response->content_length, t->max_body)));
  } else if (starts_with_nocase(line, "content-range:")) {
    std::string_view rest = line.substr(14);
    auto bytes = rest.find("bytes");
    if (bytes != std::string_view::npos) t->response->range_first = parse_number(rest.substr(bytes + 5));
    auto slash = rest.find('/');
    if (slash != std::string_view::npos) t->response->range_size = parse_number(rest.substr(slash + 1));
  }
  return n;
}

bool transient_code(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

constexpr char k_empty_body[] = "";

}  // namespace

struct HttpClient::Handle {
  CurlPtr curl;
  char error[CURL_ERROR_SIZE] = {};
};

HttpClient::HttpClient(HttpClientConfig config, std::string host_port)
    : m_config(std::move(config)), m_host_port(std::move(host_port)) {}

HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::create(HttpClientConfig config, std::string host_port) {
  KHO_TRY_STATUS(curl::init());
  config.connections = std::max(1, config.connections);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(config), std::move(host_port)));
}

Result<HttpClient::Handle*> HttpClient::acquire() {
  std::unique_lock<std::mutex> lock(m_mutex);
  m_available.wait(lock, [&] { return !m_idle.empty() || m_open < m_config.connections; });
  if (!m_idle.empty()) {
    Handle* h = m_idle.back().release();
    m_idle.pop_back();
    return h;
  }
  ++m_open;
  lock.unlock();
  auto h = std::make_unique<Handle>();
  h->curl.reset(curl::easy_init());
  if (!h->curl) {
    lock.lock();
    --m_open;
    m_available.notify_one();
    return fail(Errc::io, "cannot create a libcurl handle (out of memory?)");
  }
  return h.release();
}

void HttpClient::release(Handle* handle, bool reusable) {
  std::unique_ptr<Handle> owned(handle);
  std::lock_guard<std::mutex> guard(m_mutex);
  if (reusable) {
    m_idle.push_back(std::move(owned));
  } else {
    --m_open;  // `owned` closes the connection
  }
  m_available.notify_one();
}

Result<HttpResponse> HttpClient::perform(const HttpRequest& request) {
  KHO_TRY_ASSIGN(Handle * handle, acquire());
  // Gives the handle back to the pool when this returns; a connection left in an
  // unknown state is closed instead of reused.
  class Return {
  public:
    Return(HttpClient* client, Handle* handle) : m_client(client), m_handle(handle) {}
    Return(const Return&) = delete;
    Return& operator=(const Return&) = delete;
    ~Return() { m_client->release(m_handle, m_reusable); }
    void not_reusable() { m_reusable = false; }

  private:
    HttpClient* m_client;
    Handle* m_handle;
    bool m_reusable = true;
  } give_back(this, handle);

  CURL* curl = handle->curl.get();
  curl::easy_reset(curl);  // keeps the connection, DNS and TLS session caches
  handle->error[0] = '\0';
  HttpResponse response;
  Transfer transfer{&response, request.max_body};

  SlistPtr headers;
  auto add_header = [&](const char* h) {
    curl_slist* next = curl::slist_append(headers.get(), h);
    if (next) {
      (void)headers.release();
      headers.reset(next);
    }
    return next != nullptr;
  };
  bool headers_ok = add_header("Expect:");  // no 100-continue round trip before a body
  if (request.accept_v2) headers_ok = headers_ok && add_header("Accept: application/vnd.x.restic.rest.v2");
  if (request.method == HttpMethod::post) headers_ok = headers_ok && add_header("Content-Type: application/octet-stream");
  if (!headers_ok) return failf(Errc::io, "{}: out of memory building the request", request.what);

  curl::easy_setopt(curl, CURLOPT_ERRORBUFFER, handle->error);
  curl::easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl::easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl::easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl::easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl::easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl::easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl::easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl::easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
  const long timeout = static_cast<long>(m_config.timeout.count());
  curl::easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, timeout);
  curl::easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl::easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, timeout);
  if (!m_config.cacert.empty()) curl::easy_setopt(curl, CURLOPT_CAINFO, m_config.cacert.c_str());
  if (!m_config.user.empty()) {
    curl::easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl::easy_setopt(curl, CURLOPT_USERNAME, m_config.user.c_str());
    curl::easy_setopt(curl, CURLOPT_PASSWORD, m_config.password.value().c_str());
  }
  curl::easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl::easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl::easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl::easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl::easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  switch (request.method) {
    case HttpMethod::get: curl::easy_setopt(curl, CURLOPT_HTTPGET, 1L); break;
    case HttpMethod::head: curl::easy_setopt(curl, CURLOPT_NOBODY, 1L); break;
    case HttpMethod::post:
      curl::easy_setopt(curl, CURLOPT_POST, 1L);
      curl::easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl::easy_setopt(curl, CURLOPT_POSTFIELDS,
                        request.body.empty() ? k_empty_body : reinterpret_cast<const char*>(request.body.data()));
      break;
    case HttpMethod::del: curl::easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE"); break;
  }
  if (!request.range.empty()) curl::easy_setopt(curl, CURLOPT_RANGE, request.range.c_str());

  CURLcode code = curl::easy_perform(curl);
  curl::easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (code == CURLE_WRITE_ERROR && response.body_too_long) {
    give_back.not_reusable();  // the rest of that body is still on the connection
    return response;
  }
  if (code != CURLE_OK) {
    give_back.not_reusable();
    std::string detail = handle->error[0] ? handle->error : curl::easy_strerror(code);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
    if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE)
      return failf(Errc::io,
                   "{}: the TLS certificate of {} is not trusted ({}); give the CA certificate that signed it with "
                   "-o rest.cacert=FILE",
                   request.what, m_host_port, detail);
    // Transient errors leave the object to the caller (RetryBackend names it).
    if (code == CURLE_OPERATION_TIMEDOUT)
      return tl::unexpected(Error(Errc::timeout,
                                  fmt::format("the REST server {} did not answer within {} s ({}; -o rest.timeout="
                                              "DURATION changes the limit)",
                                              m_host_port, timeout, detail),
                                  true));
    if (transient_code(code))
      return tl::unexpected(
          Error(Errc::io, fmt::format("connection to the REST server {} failed: {}", m_host_port, detail), true));
    return failf(Errc::io, "{}: {} (REST server {})", request.what, detail, m_host_port);
  }
  return response;
}

bool curl_error_is_transient(int code) { return transient_code(static_cast<CURLcode>(code)); }

}  // namespace kho::backend

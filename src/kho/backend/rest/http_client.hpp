// A small HTTP/1.1 client over libcurl for the REST backend: a pool of easy
// handles, each keeping its connection alive between requests.
//
// perform() borrows a handle (waiting while `connections` requests are in
// flight), runs one request and returns the handle to the pool, so at most
// `connections` connections are open and each is reused. Any HTTP status is a
// successful perform(); only transport failures are errors: connection refused
// or reset, timeouts and truncated transfers are marked transient, TLS and
// other set-up problems are not. Messages name the server (and, for permanent
// errors, the request), never the credentials: they are given to libcurl apart
// from the URL, which holds none.
//
// Thread-safe. A response body is limited to `max_body` bytes (more is an
// error, flagged in HttpResponse::body_too_long) so a misbehaving server cannot
// make the client allocate without bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kho/util/bytes.hpp"
#include "kho/util/error.hpp"
#include "kho/util/secret.hpp"

namespace kho::backend {

struct HttpClientConfig {
  std::string user;       // empty: no authentication
  SecretString password;  // HTTP basic authentication
  std::string cacert;     // empty: the system's CA store
  int connections = 5;
  std::chrono::seconds timeout{60};  // connect timeout, and the longest stall of a transfer
};

enum class HttpMethod { get, head, post, del };

struct HttpRequest {
  HttpMethod method = HttpMethod::get;
  std::string url;
  ByteSpan body;                  // for post; must outlive perform()
  std::string range;              // "first-last" or "first-" for a Range header; empty: none
  bool accept_v2 = false;         // Accept: application/vnd.x.restic.rest.v2
  std::uint64_t max_body = 1ull << 30;
  std::string what;               // "loading data/ab/ab12..." for error messages
};

struct HttpResponse {
  long status = 0;
  Bytes body;
  std::optional<std::uint64_t> content_length;
  std::optional<std::uint64_t> range_first;  // from Content-Range: bytes FIRST-LAST/SIZE
  std::optional<std::uint64_t> range_size;   // SIZE from Content-Range (absent for "*")
  bool body_too_long = false;
};

class HttpClient {
public:
  // Fails when libcurl cannot be initialised.
  static Result<std::unique_ptr<HttpClient>> create(HttpClientConfig config, std::string host_port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  [[nodiscard]] Result<HttpResponse> perform(const HttpRequest& request);

private:
  struct Handle;  // one CURL easy handle and its connection
  HttpClient(HttpClientConfig config, std::string host_port);
  Result<Handle*> acquire();
  void release(Handle* handle, bool reusable);

  HttpClientConfig m_config;
  std::string m_host_port;
  std::mutex m_mutex;
  std::condition_variable m_available;
  std::vector<std::unique_ptr<Handle>> m_idle;
  int m_open = 0;  // handles in existence (idle or lent)
};

// A libcurl result code (CURLcode) that may go away when the request is made
// again: resolution, connection, time-out, a connection dropped mid-transfer.
bool curl_error_is_transient(int code);

}  // namespace kho::backend

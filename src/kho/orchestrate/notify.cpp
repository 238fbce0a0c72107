#include "kho/orchestrate/notify.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "kho/backend/backend.hpp"
#include "kho/backend/rest/http_client.hpp"
#include "kho/platform/child.hpp"
#include "kho/util/curl_lib.hpp"
#include "kho/util/fd.hpp"
#include "kho/util/json.hpp"
#include "kho/util/url.hpp"


namespace kho::orchestrate {

namespace {

using Clock = std::chrono::steady_clock;

#ifdef KHO_VERSION
constexpr const char* k_user_agent = "kho/" KHO_VERSION;
#else
constexpr const char* k_user_agent = "kho";
#endif

std::string default_summary(const NotifyMessage& m) {
  std::string what = m.kind.empty() ? "run" : m.kind;
  std::string line = fmt::format("kho: {} of policy {}: {}", what, m.policy, notify_event_name(m.event));
  if (!m.error.empty()) line += ": " + m.error;
  return line;
}

// ---- webhook --------------------------------------------------------------

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(),
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}

// The URL for messages: no password (backend::redact_location) and no query
// or fragment, where webhook services often put their tokens.
std::string redact_url(const std::string& url) {
  std::string shown = backend::redact_location(url);
  auto q = shown.find_first_of("?#");
  if (q != std::string::npos) shown = shown.substr(0, q) + "?***";
  return shown;
}

// The raw and decoded password of http(s)://user:password@host/..., to scrub
// from messages in case libcurl quotes it back.
std::vector<std::string> url_secrets(const std::string& url) {
  std::vector<std::string> out;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return out;
  std::size_t authority = scheme_end + 3;
  std::size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
  std::size_t at = url.rfind('@', authority_end);
  if (at == std::string::npos || at < authority) return out;
  std::size_t colon = url.find(':', authority);
  if (colon == std::string::npos || colon > at) return out;
  std::string raw = url.substr(colon + 1, at - colon - 1);
  if (raw.empty()) return out;
  out.push_back(raw);
  if (auto decoded = percent_decode(raw, "password"); decoded && *decoded != raw && !decoded->empty())
    out.push_back(*decoded);
  return out;
}

std::string scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets)
    for (auto pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + 3))
      text.replace(pos, s.size(), "***");
  return text;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl::easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl::slist_free_all(list); }
};

// Keeps the start of a response body for the error message; the rest is dropped.
std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* kept = static_cast<std::string*>(user);
  const std::size_t n = size * count;
  constexpr std::size_t k_keep = 512;
  if (kept->size() < k_keep) kept->append(data, std::min(n, k_keep - kept->size()));
  return n;
}

struct Attempt {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string detail;  // curl's error text, or the start of the response body
};

Result<Attempt> post_once(CURL* curl, const std::string& url, const std::string& body,
                          std::chrono::milliseconds timeout) {
  curl::easy_reset(curl);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const char* h : {"Content-Type: application/json", "Expect:"}) {
    curl_slist* next = curl::slist_append(headers.get(), h);
    if (!next) return fail(Errc::io, "out of memory building a webhook request");
    (void)headers.release();
    headers.reset(next);
  }
  char error[CURL_ERROR_SIZE] = {};
  Attempt attempt;
  std::string kept;
  const long timeout_ms = std::max<long>(1, static_cast<long>(timeout.count()));
  curl::easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl::easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl::easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl::easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl::easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl::easy_setopt(curl, CURLOPT_USERAGENT, k_user_agent);
  curl::easy_setopt(curl, CURLOPT_POST, 1L);
  curl::easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl::easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl::easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl::easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl::easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl::easy_setopt(curl, CURLOPT_WRITEDATA, &kept);
  attempt.code = curl::easy_perform(curl);
  if (attempt.code != CURLE_OK) {
    attempt.detail = error[0] ? error : curl::easy_strerror(attempt.code);
    return attempt;
  }
  curl::easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &attempt.status);
  // The first line of the answer, when it is short printable text, helps
  // the reader ("404: no such hook").
  kept = kept.substr(0, kept.find_first_of("\r\n"));
  bool printable = std::all_of(kept.begin(), kept.end(), [](char c) { return c >= 0x20 && c != 0x7f; });
  if (printable && kept.size() <= 200) attempt.detail = kept;
  return attempt;
}

std::string describe_attempt(const Attempt& a) {
  if (a.code != CURLE_OK) return a.detail;
  std::string text = fmt::format("HTTP status {}", a.status);
  if (!a.detail.empty()) text += " (" + a.detail + ")";
  return text;
}

// ---- command --------------------------------------------------------------

// A command by its program name only: its arguments may hold tokens.
std::string shown_command(const Command& command) {
  std::vector<std::string> argv = command.exec_argv();
  std::string program;
  bool more = false;
  if (command.shell) {
    std::string_view s = command.script;
    auto begin = s.find_first_not_of(" \t\n");
    if (begin != std::string_view::npos) {
      auto end = s.find_first_of(" \t\n;|&<>()", begin);
      if (end == begin) end = begin + 1;
      program = std::string(s.substr(begin, end - begin));
      more = end != std::string_view::npos && s.find_first_not_of(" \t\n", end) != std::string_view::npos;
    }
  } else if (!command.argv.empty()) {
    program = command.argv[0];
    more = command.argv.size() > 1;
  }
  return fmt::format("'{}{}'", program, more ? " ..." : "");
}

std::string first_line(const std::string& text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty()) return line.size() > 300 ? line.substr(0, 300) + "..." : line;
    pos = end + 1;
  }
  return {};
}

std::string json_text(const nlohmann::ordered_json& body, const char* key) {
  if (body.is_object()) {
    auto it = body.find(key);
    if (it != body.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

std::string format_ms(std::chrono::milliseconds d) { return format_duration(static_cast<double>(d.count()) / 1000.0); }

}  // namespace

nlohmann::ordered_json to_json(const NotifyMessage& m) {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["event"] = notify_event_name(m.event);
  j["policy"] = m.policy;
  j["host"] = m.host;
  j["time"] = format_rfc3339(m.time);
  j["kind"] = text_or_null(m.kind);
  j["stage"] = text_or_null(m.stage);
  j["error"] = text_or_null(m.error);
  j["snapshot_id"] = text_or_null(m.snapshot_id);
  j["figures"] = m.figures.is_object() && !m.figures.empty() ? m.figures : nlohmann::ordered_json(nullptr);
  const std::string summary = m.summary.empty() ? default_summary(m) : m.summary;
  j["summary"] = summary;
  j["text"] = summary;
  return j;
}

Status send_webhook(const std::string& url, const nlohmann::ordered_json& body, const WebhookOptions& options) {
  const std::string shown = redact_url(url);
  if (url.empty()) return fail(Errc::invalid_argument, "no webhook URL given");
  if (!starts_with_nocase(url, "http://") && !starts_with_nocase(url, "https://"))
    return failf(Errc::invalid_argument, "webhook {}: only http:// and https:// URLs are supported", shown);
  KHO_TRY_STATUS(curl::init());
  std::unique_ptr<CURL, CurlDeleter> curl(curl::easy_init());
  if (!curl) return fail(Errc::io, "cannot create a libcurl handle (out of memory?)");

  const std::string text = json_dump(body);
  const auto secrets = url_secrets(url);
  const int attempts = std::max(1, options.attempts);
  auto delay = options.first_delay;
  for (int n = 1;; ++n) {
    KHO_TRY_ASSIGN(Attempt a, post_once(curl.get(), url, text, options.timeout));
    if (a.code == CURLE_OK && a.status >= 200 && a.status < 300) return {};
    const bool retry = a.code != CURLE_OK ? backend::curl_error_is_transient(a.code) : (a.status == 429 || a.status >= 500);
    if (!retry) {
      std::string why = describe_attempt(a);
      if (a.code == CURLE_OK && a.status >= 300 && a.status < 400) why += "; redirects are not followed";
      return tl::unexpected(Error(a.code == CURLE_OK ? Errc::failed : Errc::io,
                                  scrub(fmt::format("webhook {}: {}; not retried", shown, why), secrets)));
    }
    if (n >= attempts) {
      const Errc code = a.code == CURLE_OPERATION_TIMEDOUT ? Errc::timeout : Errc::io;
      std::string why = a.code == CURLE_OPERATION_TIMEDOUT
                            ? fmt::format("no answer within {} ({})", format_ms(options.timeout), a.detail)
                            : describe_attempt(a);
      return tl::unexpected(Error(
          code,
          scrub(fmt::format("webhook {} failed after {} attempt{}: {}", shown, n, n == 1 ? "" : "s", why), secrets),
          true));
    }
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

Status run_notify_command(const Command& command, const nlohmann::ordered_json& body, const CommandOptions& options) {
  const std::string shown = "notify command " + shown_command(command);
  std::vector<std::string> argv = command.exec_argv();
  if (argv.empty() || argv[0].empty()) return failf(Errc::invalid_argument, "{} is empty", shown);

  platform::ChildOptions child;
  child.argv = std::move(argv);
  child.stdin_data = json_dump(body) + "\n";
  child.unset_env = {"KHO_*"};  // KHO_PASSWORD may hold the repository's password
  child.set_env = {{"KHO_EVENT", json_text(body, "event")},
                   {"KHO_POLICY", json_text(body, "policy")},
                   {"KHO_SUMMARY", json_text(body, "summary")}};
  child.timeout_s = static_cast<double>(options.timeout.count()) / 1000.0;
  child.kill_grace_s = static_cast<double>(options.kill_grace.count()) / 1000.0;
  child.capture_limit = 8192;
  auto result = platform::run_child(child);
  if (!result) return tl::unexpected(result.error().with_context("starting " + shown));
  const std::string err_text = result->err;
  const bool timed_out = result->timed_out;
  const int code = result->exit_code, sig = result->signal;
  const std::string line = first_line(err_text);
  const std::string tail = line.empty() ? "" : ": " + line;
  if (timed_out)
    return failf(Errc::timeout, "{} did not finish within {} and was killed{}", shown, format_ms(options.timeout),
                 tail);
  if (sig != 0) return failf(Errc::failed, "{} was killed by signal {} ({}){}", shown, sig, ::strsignal(sig), tail);
  if (code == 0) return {};
  return failf(Errc::failed, "{} exited with status {}{}", shown, code, tail);
}

Status notify(const Notify& n, const NotifyMessage& message, const WebhookOptions& webhook_options,
              const CommandOptions& command_options) {
  if (std::find(n.on.begin(), n.on.end(), message.event) == n.on.end()) return {};
  const auto body = to_json(message);
  std::vector<std::string> failures;
  if (!n.webhook.empty())
    if (auto r = send_webhook(n.webhook, body, webhook_options); !r) failures.push_back(r.error().message());
  if (n.command)
    if (auto r = run_notify_command(*n.command, body, command_options); !r) failures.push_back(r.error().message());
  if (failures.empty()) return {};
  return failf(Errc::failed, "notifying {} of policy {} failed: {}", notify_event_name(message.event), message.policy,
               fmt::join(failures, "; "));
}

}  // namespace kho::orchestrate

#include "kho/backend/wrap/retry_backend.hpp"

#include <cstdio>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace kho::backend {

namespace {

std::mutex g_reporter_mutex;
RetryReporter g_reporter;

void report(const std::string& message) {
  std::lock_guard<std::mutex> guard(g_reporter_mutex);
  if (g_reporter) {
    g_reporter(message);
  } else {
    fmt::print(stderr, "warning: {}\n", message);
  }
}

}  // namespace

void set_retry_reporter(RetryReporter reporter) {
  std::lock_guard<std::mutex> guard(g_reporter_mutex);
  g_reporter = std::move(reporter);
}

RetryBackend::RetryBackend(std::unique_ptr<Backend> inner, RetryPolicy policy)
    : m_inner(std::move(inner)), m_policy(policy) {}

template <typename Op>
auto RetryBackend::with_retries(const std::string& what, Op&& op) -> decltype(op()) {
  auto delay = m_policy.first_delay;
  for (int attempt = 1;; ++attempt) {
    auto result = op();
    if (result || !result.error().transient() || attempt >= m_policy.max_attempts) {
      if (!result && result.error().transient() && attempt > 1)
        return tl::unexpected<Error>(result.error().with_context(fmt::format("{} (gave up after {} attempts)", what, attempt)));
      return result;
    }
    report(fmt::format("{}: {}; retrying in {:.1f} s (attempt {} of {})", what, result.error().message(),
                       static_cast<double>(delay.count()) / 1000.0, attempt + 1, m_policy.max_attempts));
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, m_policy.max_delay);
  }
}

Status RetryBackend::create() { return m_inner->create(); }

Status RetryBackend::save(const Handle& handle, ByteSpan data) {
  return with_retries("saving " + describe(handle), [&] { return m_inner->save(handle, data); });
}

Result<Bytes> RetryBackend::load(const Handle& handle, std::uint64_t offset, std::uint64_t length) {
  return with_retries("loading " + describe(handle), [&] { return m_inner->load(handle, offset, length); });
}

Result<ObjectInfo> RetryBackend::stat(const Handle& handle) {
  return with_retries("reading the size of " + describe(handle), [&] { return m_inner->stat(handle); });
}

Result<std::vector<ObjectInfo>> RetryBackend::list(ObjectType type) {
  return with_retries(std::string("listing ") + type_dir(type), [&] { return m_inner->list(type); });
}

Status RetryBackend::remove(const Handle& handle) {
  bool retried = false;
  return with_retries("removing " + describe(handle), [&]() -> Status {
    Status status = m_inner->remove(handle);
    // A retry that finds the object gone: the attempt that timed out removed it.
    if (!status && retried && status.error().code() == Errc::not_found) return {};
    if (!status && status.error().transient()) retried = true;
    return status;
  });
}

Result<std::uint64_t> RetryBackend::remove_temporaries(ObjectType type) {
  return with_retries(std::string("removing temporary files among ") + type_dir(type),
                      [&] { return m_inner->remove_temporaries(type); });
}

}  // namespace kho::backend

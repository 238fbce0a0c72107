// Retries a backend's operations that fail with a transient error (a dropped
// connection, a timeout, a 5xx answer) with exponential backoff.
//
// Every Backend operation but create() is idempotent by contract, so retrying
// is safe: save() of the same bytes succeeds again, load/stat/list only read,
// and a remove() whose retry finds the object gone counts as done (the earlier
// attempt deleted it). Errors that are not transient (not found, permission,
// corruption) are returned at once. Each retry is reported through the
// reporter (stderr by default) with the object and the error, never credentials.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "kho/backend/backend.hpp"

namespace kho::backend {

struct RetryPolicy {
  int max_attempts = 6;                                  // first try included
  std::chrono::milliseconds first_delay{250};            // doubled after each try
  std::chrono::milliseconds max_delay{8000};
};

using RetryReporter = std::function<void(const std::string& message)>;

// Where retry messages go for every RetryBackend (default: "warning: ..." on
// stderr). The CLI silences it with -q. Thread-safe to call before backends run.
void set_retry_reporter(RetryReporter reporter);

class RetryBackend final : public Backend {
public:
  RetryBackend(std::unique_ptr<Backend> inner, RetryPolicy policy = {});

  Status create() override;
  Status save(const Handle& handle, ByteSpan data) override;
  Result<Bytes> load(const Handle& handle, std::uint64_t offset, std::uint64_t length) override;
  Result<ObjectInfo> stat(const Handle& handle) override;
  Result<std::vector<ObjectInfo>> list(ObjectType type) override;
  Status remove(const Handle& handle) override;
  Result<std::uint64_t> remove_temporaries(ObjectType type) override;
  Properties properties() const override { return m_inner->properties(); }

  Backend& inner() { return *m_inner; }

private:
  template <typename Op>
  auto with_retries(const std::string& what, Op&& op) -> decltype(op());

  std::unique_ptr<Backend> m_inner;
  RetryPolicy m_policy;
};

}  // namespace kho::backend

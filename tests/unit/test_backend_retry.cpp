#include <catch2/catch.hpp>

#include <atomic>

#include "backend_suite.hpp"
#include "kho/backend/local/local_backend.hpp"
#include "kho/backend/wrap/retry_backend.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho;
using namespace kho::backend;
using kho::test::ScopedTempDir;

namespace {

// Fails the next `failures` calls with the given error before passing calls on;
// with `after_inner`, the failing call is made on the inner backend first (the
// request reached the server, the answer was lost).
class FlakyBackend final : public Backend {
public:
  FlakyBackend(std::unique_ptr<Backend> inner, int failures, Errc code, bool transient, bool after_inner = false)
      : m_inner(std::move(inner)), m_failures(failures), m_code(code), m_transient(transient),
        m_after_inner(after_inner) {}

  Status create() override { return m_inner->create(); }
  Status save(const Handle& h, ByteSpan data) override { return run([&] { return m_inner->save(h, data); }); }
  Result<Bytes> load(const Handle& h, std::uint64_t offset, std::uint64_t length) override {
    return run([&] { return m_inner->load(h, offset, length); });
  }
  Result<ObjectInfo> stat(const Handle& h) override { return run([&] { return m_inner->stat(h); }); }
  Result<std::vector<ObjectInfo>> list(ObjectType type) override { return run([&] { return m_inner->list(type); }); }
  Status remove(const Handle& h) override { return run([&] { return m_inner->remove(h); }); }
  Properties properties() const override { return m_inner->properties(); }

  int calls() const { return m_calls.load(); }
  void fail_next(int n) { m_failures = n; }

private:
  template <typename Op>
  auto run(Op&& op) -> decltype(op()) {
    ++m_calls;
    if (m_failures > 0) {
      --m_failures;
      if (m_after_inner) (void)op();
      return tl::unexpected<Error>(Error(m_code, "injected failure", m_transient));
    }
    return op();
  }

  std::unique_ptr<Backend> m_inner;
  std::atomic<int> m_failures;
  Errc m_code;
  bool m_transient;
  bool m_after_inner;
  std::atomic<int> m_calls{0};
};

RetryPolicy fast_policy(int attempts) {
  RetryPolicy p;
  p.max_attempts = attempts;
  p.first_delay = std::chrono::milliseconds(1);
  p.max_delay = std::chrono::milliseconds(4);
  return p;
}

struct Quiet {
  std::vector<std::string> messages;
  Quiet() {
    set_retry_reporter([this](const std::string& m) { messages.push_back(m); });
  }
  ~Quiet() { set_retry_reporter({}); }
};

const Handle k_snapshot_handle{ObjectType::snapshot, std::string(64, 'a')};

}  // namespace

TEST_CASE("RetryBackend passes the backend conformance suite", "[backend][retry]") {
  ScopedTempDir tmp("kho-retry");
  int counter = 0;
  kho::test::run_backend_conformance_suite([&] {
    return std::make_unique<RetryBackend>(std::make_unique<LocalBackend>(tmp / ("repo-" + std::to_string(counter++))),
                                          fast_policy(3));
  });
}

TEST_CASE("RetryBackend retries transient errors until the operation succeeds", "[backend][retry]") {
  ScopedTempDir tmp("kho-retry");
  Quiet quiet;
  auto local = std::make_unique<LocalBackend>(tmp / "repo");
  REQUIRE(local->create());
  auto flaky_owned = std::make_unique<FlakyBackend>(std::move(local), 0, Errc::io, true);
  FlakyBackend* flaky = flaky_owned.get();
  RetryBackend retry(std::move(flaky_owned), fast_policy(4));
  Bytes data = {1, 2, 3};

  flaky->fail_next(3);
  REQUIRE(retry.save(k_snapshot_handle, data));
  CHECK(flaky->calls() == 4);
  CHECK(quiet.messages.size() == 3);
  CHECK(quiet.messages[0].find("saving snapshots/aaaa") != std::string::npos);

  flaky->fail_next(2);
  auto loaded = retry.load(k_snapshot_handle, 0, 0);
  REQUIRE(loaded);
  CHECK(*loaded == data);

  flaky->fail_next(1);
  auto listed = retry.list(ObjectType::snapshot);
  REQUIRE(listed);
  CHECK(listed->size() == 1);
}

TEST_CASE("RetryBackend gives up after the last attempt and says so", "[backend][retry]") {
  ScopedTempDir tmp("kho-retry");
  Quiet quiet;
  auto local = std::make_unique<LocalBackend>(tmp / "repo");
  REQUIRE(local->create());
  auto flaky_owned = std::make_unique<FlakyBackend>(std::move(local), 10, Errc::timeout, true);
  FlakyBackend* flaky = flaky_owned.get();
  RetryBackend retry(std::move(flaky_owned), fast_policy(3));
  auto st = retry.stat(k_snapshot_handle);
  REQUIRE_FALSE(st);
  CHECK(st.error().code() == Errc::timeout);
  CHECK(st.error().message().find("gave up after 3 attempts") != std::string::npos);
  CHECK(flaky->calls() == 3);
}

TEST_CASE("RetryBackend returns permanent errors at once", "[backend][retry]") {
  ScopedTempDir tmp("kho-retry");
  Quiet quiet;
  auto local = std::make_unique<LocalBackend>(tmp / "repo");
  REQUIRE(local->create());
  auto flaky_owned = std::make_unique<FlakyBackend>(std::move(local), 5, Errc::permission, false);
  FlakyBackend* flaky = flaky_owned.get();
  RetryBackend retry(std::move(flaky_owned), fast_policy(5));
  auto st = retry.remove(k_snapshot_handle);
  REQUIRE_FALSE(st);
  CHECK(st.error().code() == Errc::permission);
  CHECK(flaky->calls() == 1);
  CHECK(quiet.messages.empty());

  // An absent object is not retried either.
  flaky->fail_next(0);
  auto missing = retry.load(k_snapshot_handle, 0, 0);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Errc::not_found);
  CHECK(flaky->calls() == 2);
}

TEST_CASE("RetryBackend counts a remove whose answer was lost as done", "[backend][retry]") {
  ScopedTempDir tmp("kho-retry");
  Quiet quiet;
  auto local = std::make_unique<LocalBackend>(tmp / "repo");
  REQUIRE(local->create());
  Bytes data = {9};
  REQUIRE(local->save(k_snapshot_handle, data));
  // The first remove reaches the storage, then "times out"; the retry finds nothing.
  auto flaky_owned = std::make_unique<FlakyBackend>(std::move(local), 1, Errc::timeout, true, true);
  RetryBackend retry(std::move(flaky_owned), fast_policy(3));
  REQUIRE(retry.remove(k_snapshot_handle));
  auto gone = retry.stat(k_snapshot_handle);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code() == Errc::not_found);
  // Without a lost answer, removing an absent object still fails.
  auto again = retry.remove(k_snapshot_handle);
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Errc::not_found);
}

#include <catch2/catch.hpp>

#include "backend_suite.hpp"
#include "kho/backend/local/local_backend.hpp"
#include "kho/backend/wrap/fault_backend.hpp"
#include "kho/backend/wrap/retry_backend.hpp"
#include "result_helpers.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho;
using namespace kho::backend;
using kho::test::ScopedTempDir;

namespace {

const Handle k_handle{ObjectType::snapshot, std::string(64, 'b')};

Bytes pattern_bytes(std::size_t n) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return out;
}

// A created local repository under `dir`, wrapped in faults from `spec`.
std::unique_ptr<FaultBackend> faulty(const ScopedTempDir& dir, const std::string& name, const std::string& spec) {
  auto local = std::make_unique<LocalBackend>(dir / name);
  REQUIRE(local->create());
  return std::make_unique<FaultBackend>(std::move(local), value_of(parse_fault_spec(spec)));
}

// Which of `n` loads of k_handle fail: '.' for success, 'x' for an error.
std::string load_pattern(FaultBackend& backend, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += backend.load(k_handle, 0, 0) ? '.' : 'x';
  return out;
}

}  // namespace

TEST_CASE("Fault specs are parsed", "[backend][fault]") {
  auto spec = value_of(parse_fault_spec(
      "seed=7,rate=0.05,ops=load+save,corrupt=0.01,short=0.02,torn=0.5,lost=0.25,delay_ms=5,fail_at=save:12+stat:1,"
      "transient=no,retry_delay_ms=3,fail_at=remove:2"));
  CHECK(spec.seed == 7);
  CHECK(spec.rate == 0.05);
  CHECK(spec.ops[static_cast<std::size_t>(FaultOp::load)]);
  CHECK(spec.ops[static_cast<std::size_t>(FaultOp::save)]);
  CHECK_FALSE(spec.ops[static_cast<std::size_t>(FaultOp::list)]);
  CHECK(spec.corrupt == 0.01);
  CHECK(spec.short_read == 0.02);
  CHECK(spec.torn == 0.5);
  CHECK(spec.lost == 0.25);
  CHECK(spec.delay_ms == 5);
  CHECK_FALSE(spec.transient);
  CHECK(spec.retry_delay_ms == 3);
  REQUIRE(spec.fail_at.size() == 3);
  CHECK(spec.fail_at[0] == std::make_pair(FaultOp::save, std::uint64_t{12}));
  CHECK(spec.fail_at[2] == std::make_pair(FaultOp::remove, std::uint64_t{2}));
  CHECK(value_of(parse_fault_spec("")).rate == 0);
}

TEST_CASE("Malformed fault specs are refused naming the problem", "[backend][fault]") {
  struct Case {
    const char* spec;
    const char* says;
  };
  const Case cases[] = {
      {"rate=2", "rate=2"},
      {"rate=abc", "rate=abc"},
      {"seed=-1", "seed=-1"},
      {"ops=load+write", "write"},
      {"fail_at=save", "save"},
      {"fail_at=save:0", "from 1"},
      {"colour=red", "colour"},
      {"seed", "'seed'"},
      {"transient=maybe", "maybe"},
      {"rate=0.1,,seed=2", "''"},
      {"delay_ms=999999", "delay_ms"},
      {"corrupt=0.5x", "0.5x"},
  };
  for (const auto& c : cases) {
    INFO(c.spec);
    auto spec = parse_fault_spec(c.spec);
    REQUIRE_FALSE(spec);
    CHECK(spec.error().code() == Errc::invalid_argument);
    CHECK(spec.error().message().find("KHO_FAULTS") != std::string::npos);
    CHECK(spec.error().message().find(c.says) != std::string::npos);
  }
}

TEST_CASE("FaultBackend without faults passes the backend conformance suite", "[backend][fault]") {
  ScopedTempDir tmp("kho-fault");
  int counter = 0;
  kho::test::run_backend_conformance_suite([&] {
    return std::make_unique<FaultBackend>(std::make_unique<LocalBackend>(tmp / ("repo-" + std::to_string(counter++))),
                                          FaultSpec{});
  });
}

TEST_CASE("FaultBackend injects the same faults for the same seed", "[backend][fault]") {
  ScopedTempDir tmp("kho-fault");
  auto a = faulty(tmp, "a", "seed=7,rate=0.3,ops=load");
  auto b = faulty(tmp, "b", "seed=7,rate=0.3,ops=load");
  auto c = faulty(tmp, "c", "seed=8,rate=0.3,ops=load");
  ok(a->save(k_handle, pattern_bytes(10)));
  ok(b->save(k_handle, pattern_bytes(10)));
  ok(c->save(k_handle, pattern_bytes(10)));
  std::string pa = load_pattern(*a, 200), pb = load_pattern(*b, 200), pc = load_pattern(*c, 200);
  CHECK(pa == pb);
  CHECK(pa != pc);
  // About 30% fail.
  auto failures = std::count(pa.begin(), pa.end(), 'x');
  CHECK(failures > 30);
  CHECK(failures < 90);
  CHECK(a->calls(FaultOp::load) == 200);
}

TEST_CASE("FaultBackend fails exactly the chosen call numbers", "[backend][fault]") {
  ScopedTempDir tmp("kho-fault");
  auto backend = faulty(tmp, "repo", "fail_at=save:3+load:2,transient=no");
  Bytes data = pattern_bytes(100);
  ok(backend->save(k_handle, data));
  ok(backend->save(k_handle, data));
  auto third = backend->save(k_handle, data);
  REQUIRE_FALSE(third);
  CHECK(third.error().code() == Errc::io);
  CHECK_FALSE(third.error().transient());
  CHECK(third.error().message().find("saving snapshots/bbbb") != std::string::npos);
  CHECK(third.error().message().find("injected fault") != std::string::npos);
  ok(backend->save(k_handle, data));
  CHECK(load_pattern(*backend, 4) == ".x..");
  // Other operations are not touched.
  CHECK(backend->stat(k_handle));
  CHECK(backend->list(ObjectType::snapshot));
}

TEST_CASE("FaultBackend only fails the operations it is told to", "[backend][fault]") {
  ScopedTempDir tmp("kho-fault");
  auto backend = faulty(tmp, "repo", "rate=1,ops=stat+list");
  ok(backend->save(k_handle, pattern_bytes(5)));
  CHECK(backend->load(k_handle, 0, 0));
  CHECK_FALSE(backend->stat(k_handle));
  auto listed = backend->list(ObjectType::snapshot);
  REQUIRE_FALSE(listed);
  CHECK(listed.error().transient());
  ok(backend->remove(k_handle));
}

TEST_CASE("FaultBackend returns corrupted and short reads", "[backend][fault]") {
  ScopedTempDir tmp("kho-fault");
  Bytes data = pattern_bytes(1000);

  auto corrupt = faulty(tmp, "corrupt", "corrupt=1");
  ok(corrupt->save(k_handle, data));
  for (int i = 0; i < 20; ++i) {
    Bytes got = value_of(corrupt->load(k_handle, 100, 500));
    REQUIRE(got.size() == 500);
    int differing = 0;
    for (std::size_t j = 0; j < got.size(); ++j) differing += got[j] != data[100 + j];
    CHECK(differing == 1);
  }

  auto short_reads = faulty(tmp, "short", "short=1");
  ok(short_reads->save(k_handle, data));
  for (int i = 0; i < 20; ++i) {
    Bytes got = value_of(short_reads->load(k_handle, 0, 0));
    REQUIRE(got.size() < data.size());
    CHECK(std::equal(got.begin(), got.end(), data.begin()));
  }
}

TEST_CASE("FaultBackend tears and loses saves", "[backend][fault]") {
  ScopedTempDir tmp("kho-fault");
  Bytes data = pattern_bytes(1000);

  // A torn save leaves a shorter object behind and fails.
  auto torn = faulty(tmp, "torn", "torn=1");
  auto saved = torn->save(k_handle, data);
  REQUIRE_FALSE(saved);
  CHECK(saved.error().transient());
  CHECK(saved.error().message().find("cut off") != std::string::npos);
  CHECK(value_of(torn->stat(k_handle)).size < data.size());

  // A lost answer: the whole object is there, the save still fails.
  auto lost = faulty(tmp, "lost", "lost=1,transient=no");
  REQUIRE_FALSE(lost->save(k_handle, data));
  CHECK(value_of(lost->load(k_handle, 0, 0)) == data);
}

TEST_CASE("RetryBackend repairs transient injected faults", "[backend][fault]") {
  ScopedTempDir tmp("kho-fault");
  set_retry_reporter([](const std::string&) {});
  RetryPolicy policy;
  policy.max_attempts = 20;
  policy.first_delay = std::chrono::milliseconds(0);
  RetryBackend retry(faulty(tmp, "repo", "seed=3,rate=0.3,torn=0.3"), policy);
  for (std::uint64_t i = 0; i < 30; ++i) {
    Handle h{ObjectType::index, kho::test::suite_detail::object_name(i)};
    Bytes data = pattern_bytes(100 + i);
    ok(retry.save(h, data));
    CHECK(value_of(retry.load(h, 0, 0)) == data);
  }
  set_retry_reporter({});
}

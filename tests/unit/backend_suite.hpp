// The conformance suite every Backend passes (local, SFTP, REST, wrappers).
//
// Call run_backend_conformance_suite() from a TEST_CASE with a factory that
// returns a backend for a fresh, not yet created repository each time it is
// called (a new directory, a new server path, ...). The suite calls create()
// itself and uses Catch2 SECTIONs, so the factory runs once per section.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "kho/backend/backend.hpp"

namespace kho::test {

using BackendFactory = std::function<std::unique_ptr<backend::Backend>()>;

namespace suite_detail {

inline Bytes random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

// A 64-hex-character name like the SHA-256 names a repository uses.
inline std::string object_name(std::uint64_t seed) { return to_hex(random_bytes(32, seed ^ 0x5eed)); }

inline std::vector<std::pair<std::string, std::uint64_t>> sorted_listing(const std::vector<backend::ObjectInfo>& infos) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& info : infos) out.emplace_back(info.name, info.size);
  std::sort(out.begin(), out.end());
  return out;
}

inline std::unique_ptr<backend::Backend> fresh(const BackendFactory& make_backend) {
  auto b = make_backend();
  REQUIRE(b);
  auto created = b->create();
  INFO((created ? std::string() : created.error().message()));
  REQUIRE(created);
  return b;
}

}  // namespace suite_detail

inline void run_backend_conformance_suite(const BackendFactory& make_backend) {
  using namespace backend;
  using namespace suite_detail;
  const std::vector<ObjectType> all_types = {ObjectType::key, ObjectType::data, ObjectType::index, ObjectType::snapshot,
                                             ObjectType::lock};

  SECTION("a new repository holds no objects") {
    auto b = fresh(make_backend);
    for (ObjectType type : all_types) {
      auto listed = b->list(type);
      REQUIRE(listed);
      CHECK(listed->empty());
    }
    auto config = b->load({ObjectType::config, ""}, 0, 0);
    REQUIRE_FALSE(config);
    CHECK(config.error().code() == Errc::not_found);
  }

  SECTION("objects of every type round-trip with their sizes") {
    auto b = fresh(make_backend);
    std::vector<std::pair<Handle, Bytes>> objects = {
        {{ObjectType::config, ""}, random_bytes(155, 1)},
        {{ObjectType::key, object_name(2)}, random_bytes(460, 2)},
        {{ObjectType::data, object_name(3)}, random_bytes(3 * 1024 * 1024 + 17, 3)},
        {{ObjectType::data, object_name(4)}, Bytes{}},
        {{ObjectType::index, object_name(5)}, random_bytes(70000, 5)},
        {{ObjectType::snapshot, object_name(6)}, random_bytes(300, 6)},
        {{ObjectType::lock, object_name(7)}, random_bytes(1, 7)},
    };
    for (const auto& [handle, bytes] : objects) {
      INFO(describe(handle));
      auto saved = b->save(handle, bytes);
      INFO((saved ? std::string() : saved.error().message()));
      REQUIRE(saved);
    }
    for (const auto& [handle, bytes] : objects) {
      INFO(describe(handle));
      auto loaded = b->load(handle, 0, 0);
      REQUIRE(loaded);
      CHECK(*loaded == bytes);
      auto info = b->stat(handle);
      REQUIRE(info);
      CHECK(info->size == bytes.size());
      CHECK(info->name == handle.name);
    }
  }

  SECTION("ranged loads return exactly the requested bytes") {
    auto b = fresh(make_backend);
    const Handle h{ObjectType::data, object_name(10)};
    const Bytes bytes = random_bytes(100000, 10);
    REQUIRE(b->save(h, bytes));
    const std::uint64_t size = bytes.size();
    struct Range {
      std::uint64_t offset, length, expect_begin, expect_end;
    };
    const Range ok[] = {
        {0, 0, 0, size},          {10, 100, 10, 110},     {size - 1, 1, size - 1, size},
        {size, 0, size, size},    {0, size, 0, size},     {4096, 0, 4096, size},
        {size - 10, 10, size - 10, size},
    };
    for (const auto& r : ok) {
      INFO("offset " << r.offset << " length " << r.length);
      auto loaded = b->load(h, r.offset, r.length);
      REQUIRE(loaded);
      CHECK(*loaded == Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(r.expect_begin),
                             bytes.begin() + static_cast<std::ptrdiff_t>(r.expect_end)));
    }
    const std::pair<std::uint64_t, std::uint64_t> too_far[] = {
        {size - 10, 11}, {size + 1, 0}, {1, size}, {size, 1}, {UINT64_MAX, 2}, {2, UINT64_MAX}};
    for (const auto& [offset, length] : too_far) {
      INFO("offset " << offset << " length " << length);
      auto loaded = b->load(h, offset, length);
      REQUIRE_FALSE(loaded);
      CHECK(loaded.error().code() == Errc::corruption);
      CHECK_THAT(loaded.error().message(), Catch::Contains(h.name));
    }
    // load_into fills exactly the caller's buffer, and nothing around it.
    for (const auto& r : ok) {
      const std::uint64_t n = r.expect_end - r.expect_begin;
      if (r.length == 0 || n == 0) continue;
      INFO("load_into offset " << r.offset << " length " << n);
      Bytes buffer(n + 2, 0xAA);
      REQUIRE(b->load_into(h, r.offset, std::span<std::uint8_t>(buffer.data() + 1, n)));
      CHECK(buffer.front() == 0xAA);
      CHECK(buffer.back() == 0xAA);
      CHECK(Bytes(buffer.begin() + 1, buffer.end() - 1) ==
            Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(r.expect_begin),
                  bytes.begin() + static_cast<std::ptrdiff_t>(r.expect_end)));
    }
    for (const auto& [offset, length] : too_far) {
      if (length == 0 || length > size) continue;
      INFO("load_into offset " << offset << " length " << length);
      Bytes buffer(length);
      auto loaded = b->load_into(h, offset, buffer);
      REQUIRE_FALSE(loaded);
      CHECK(loaded.error().code() == Errc::corruption);
      CHECK_THAT(loaded.error().message(), Catch::Contains(h.name));
    }
  }

  SECTION("list reports each type's names and sizes, and only that type's") {
    auto b = fresh(make_backend);
    std::vector<std::pair<std::string, std::uint64_t>> data, index;
    for (std::uint64_t i = 0; i < 40; ++i) {  // spread over many data/xx prefixes
      Bytes bytes = random_bytes(100 + i, 100 + i);
      std::string name = object_name(100 + i);
      REQUIRE(b->save({ObjectType::data, name}, bytes));
      data.emplace_back(name, bytes.size());
    }
    for (std::uint64_t i = 0; i < 3; ++i) {
      std::string name = object_name(200 + i);
      REQUIRE(b->save({ObjectType::index, name}, random_bytes(50 * i, i)));
      index.emplace_back(name, 50 * i);
    }
    std::sort(data.begin(), data.end());
    std::sort(index.begin(), index.end());
    auto listed_data = b->list(ObjectType::data);
    REQUIRE(listed_data);
    CHECK(sorted_listing(*listed_data) == data);
    auto listed_index = b->list(ObjectType::index);
    REQUIRE(listed_index);
    CHECK(sorted_listing(*listed_index) == index);
    for (ObjectType type : {ObjectType::key, ObjectType::snapshot, ObjectType::lock}) {
      auto listed = b->list(type);
      REQUIRE(listed);
      CHECK(listed->empty());
    }
  }

  SECTION("remove deletes one object; a second remove is not_found") {
    auto b = fresh(make_backend);
    const Handle gone{ObjectType::snapshot, object_name(20)};
    const Handle kept{ObjectType::snapshot, object_name(21)};
    REQUIRE(b->save(gone, random_bytes(10, 20)));
    REQUIRE(b->save(kept, random_bytes(11, 21)));
    REQUIRE(b->remove(gone));
    auto loaded = b->load(gone, 0, 0);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().code() == Errc::not_found);
    auto info = b->stat(gone);
    REQUIRE_FALSE(info);
    CHECK(info.error().code() == Errc::not_found);
    auto again = b->remove(gone);
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == Errc::not_found);
    auto listed = b->list(ObjectType::snapshot);
    REQUIRE(listed);
    REQUIRE(listed->size() == 1);
    CHECK((*listed)[0].name == kept.name);
    CHECK(b->load(kept, 0, 0).value() == random_bytes(11, 21));
  }

  SECTION("absent objects are not_found, and the error names them") {
    auto b = fresh(make_backend);
    for (ObjectType type : all_types) {
      const Handle h{type, object_name(30 + static_cast<int>(type))};
      INFO(describe(h));
      auto loaded = b->load(h, 0, 0);
      REQUIRE_FALSE(loaded);
      CHECK(loaded.error().code() == Errc::not_found);
      CHECK_THAT(loaded.error().message(), Catch::Contains(h.name));
      auto info = b->stat(h);
      REQUIRE_FALSE(info);
      CHECK(info.error().code() == Errc::not_found);
      auto removed = b->remove(h);
      REQUIRE_FALSE(removed);
      CHECK(removed.error().code() == Errc::not_found);
    }
  }

  SECTION("saving the same bytes again succeeds and stores one object") {
    auto b = fresh(make_backend);
    const Handle h{ObjectType::data, object_name(40)};
    const Bytes bytes = random_bytes(5000, 40);
    REQUIRE(b->save(h, bytes));
    REQUIRE(b->save(h, bytes));
    auto listed = b->list(ObjectType::data);
    REQUIRE(listed);
    REQUIRE(listed->size() == 1);
    CHECK((*listed)[0].size == bytes.size());
    CHECK(b->load(h, 0, 0).value() == bytes);
  }

  SECTION("re-saving a name with other bytes leaves one whole version") {
    // Backends may overwrite or refuse (append-only servers); never a mixture.
    auto b = fresh(make_backend);
    const Handle h{ObjectType::lock, object_name(50)};
    const Bytes first = random_bytes(4000, 50);
    const Bytes same_size = random_bytes(4000, 51);
    const Bytes longer = random_bytes(9000, 52);
    REQUIRE(b->save(h, first));
    for (const Bytes* next : {&same_size, &longer}) {
      Bytes before = b->load(h, 0, 0).value();
      (void)b->save(h, *next);
      auto loaded = b->load(h, 0, 0);
      REQUIRE(loaded);
      CHECK((*loaded == before || *loaded == *next));
    }
  }

  SECTION("concurrent saves are atomic and leave no temporary objects behind") {
    auto b = fresh(make_backend);
    constexpr int k_threads = 8, k_per_thread = 12;
    const Handle shared{ObjectType::data, object_name(60)};
    const Bytes shared_bytes = random_bytes(512 * 1024, 60);
    std::atomic<bool> writers_done{false};
    std::atomic<int> save_failures{0}, torn_reads{0}, whole_reads{0};
    // A reader sees the shared object absent or whole, never partial.
    std::thread reader([&] {
      while (!writers_done) {
        auto loaded = b->load(shared, 0, 0);
        if (!loaded) {
          if (loaded.error().code() != Errc::not_found) ++torn_reads;
          continue;
        }
        if (*loaded == shared_bytes)
          ++whole_reads;
        else
          ++torn_reads;
      }
    });
    std::vector<std::thread> writers;
    for (int t = 0; t < k_threads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < k_per_thread; ++i) {
          std::uint64_t seed = 1000 + static_cast<std::uint64_t>(t * k_per_thread + i);
          if (!b->save({ObjectType::data, object_name(seed)}, random_bytes(1000 + seed, seed))) ++save_failures;
          if (!b->save(shared, shared_bytes)) ++save_failures;
        }
      });
    }
    for (auto& w : writers) w.join();
    writers_done = true;
    reader.join();
    CHECK(save_failures == 0);
    CHECK(torn_reads == 0);

    auto listed = b->list(ObjectType::data);
    REQUIRE(listed);
    CHECK(listed->size() == static_cast<std::size_t>(k_threads * k_per_thread + 1));
    for (const auto& info : *listed) {
      INFO(info.name);
      CHECK(info.name.size() == 64);  // no "<name>.tmp-..." leftovers
      auto loaded = b->load({ObjectType::data, info.name}, 0, 0);
      REQUIRE(loaded);
      CHECK(loaded->size() == info.size);
    }
    CHECK(b->load(shared, 0, 0).value() == shared_bytes);
  }

  SECTION("an object written in pieces appears whole at commit, and only then") {
    auto b = fresh(make_backend);
    const Bytes whole = random_bytes(700 * 1024 + 13, 80);
    auto writer = b->begin_save(ObjectType::data, 64 << 10);  // a hint the object outgrows
    REQUIRE(writer);
    for (std::size_t at = 0, piece = 1; at < whole.size(); at += piece, piece = piece * 7 + 1) {
      const std::size_t n = std::min(piece, whole.size() - at);
      REQUIRE((*writer)->append(ByteSpan(whole.data() + at, n)));
    }
    CHECK(b->list(ObjectType::data).value().empty());  // nothing visible before commit
    const Handle h{ObjectType::data, object_name(80)};
    REQUIRE((*writer)->commit(h));
    CHECK(b->load(h, 0, 0).value() == whole);
    CHECK(sorted_listing(b->list(ObjectType::data).value()) ==
          std::vector<std::pair<std::string, std::uint64_t>>{{h.name, whole.size()}});

    // Committed under a name that exists: one whole version stays (the new one,
    // or the old one on append-only servers).
    auto again = b->begin_save(ObjectType::data, 1 << 20);  // one it falls short of
    REQUIRE(again);
    const Bytes other = random_bytes(5000, 81);
    REQUIRE((*again)->append(other));
    (void)(*again)->commit(h);
    auto loaded = b->load(h, 0, 0);
    REQUIRE(loaded);
    CHECK((*loaded == whole || *loaded == other));

    // A writer dropped without commit leaves nothing, not even a temporary to list.
    {
      auto dropped = b->begin_save(ObjectType::index, 0);
      REQUIRE(dropped);
      REQUIRE((*dropped)->append(random_bytes(3000, 82)));
    }
    CHECK(b->list(ObjectType::index).value().empty());
    CHECK(b->remove_temporaries(ObjectType::index).value() == 0);

    // A writer refuses a name of another type than it was begun with.
    auto wrong = b->begin_save(ObjectType::snapshot, 0);
    REQUIRE(wrong);
    REQUIRE((*wrong)->append(random_bytes(10, 83)));
    auto refused = (*wrong)->commit({ObjectType::index, object_name(83)});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == Errc::invalid_argument);
    CHECK(b->list(ObjectType::index).value().empty());
  }

  SECTION("create refuses a repository that has a config") {
    auto b = fresh(make_backend);
    REQUIRE(b->save({ObjectType::config, ""}, random_bytes(100, 70)));
    auto again = b->create();
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == Errc::already_exists);
    CHECK(b->load({ObjectType::config, ""}, 0, 0).value() == random_bytes(100, 70));
  }

  SECTION("properties name the location") {
    auto b = fresh(make_backend);
    CHECK_FALSE(b->properties().location.empty());
  }
}

}  // namespace kho::test

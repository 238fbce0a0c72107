// Glob matching for excludes/includes, and time parsing, against tables.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "kho/util/glob.hpp"
#include "kho/util/time.hpp"

using namespace kho;

TEST_CASE("Exclude patterns match like restic's") {
  struct Case {
    const char* pattern;
    const char* path;
    bool match;
  };
  const Case cases[] = {
      {"*.tmp", "/srv/a/b.tmp", true},
      {"*.tmp", "/srv/a/b.tmpx", false},
      {"*.tmp", "/srv/x.tmp/inner", true},  // a matching directory covers what is below it
      {"**/cache/**", "/srv/app/cache/x", true},
      {"**/cache/**", "/srv/app/cachex/x", false},
      {"cache", "/srv/app/cache/x/y", true},
      {"/srv/app", "/srv/app/x", true},
      {"/srv/app", "/other/srv/app", false},
      {"app/*.log", "/srv/app/a.log", true},
      {"app/*.log", "/srv/app/sub/a.log", false},
      {"/srv/*/secret", "/srv/a/secret", true},
      {"/srv/*/secret", "/srv/a/b/secret", false},
      {"/srv/**/secret", "/srv/a/b/secret", true},
      {"?.txt", "/x/a.txt", true},
      {"?.txt", "/x/ab.txt", false},
      {"[ab].txt", "/x/b.txt", true},
      {"[!ab].txt", "/x/b.txt", false},
      {"hồ sơ*", "/data/hồ sơ 2026", true},
  };
  for (const auto& c : cases) {
    INFO(c.pattern << " vs " << c.path);
    REQUIRE(path_matches(c.pattern, c.path) == c.match);
  }
}

TEST_CASE("Include filters walk into the parents of what they include") {
  PathFilter f({"/srv/portal/uploads"}, {});
  REQUIRE(f.may_contain_included("/srv"));
  REQUIRE(f.may_contain_included("/srv/portal"));
  REQUIRE_FALSE(f.may_contain_included("/etc"));
  REQUIRE(f.included("/srv/portal/uploads/a.pdf"));
  REQUIRE_FALSE(f.included("/srv/portal/other"));
}

TEST_CASE("Times parse from RFC 3339 and local formats") {
  setenv("TZ", "Asia/Ho_Chi_Minh", 1);
  tzset();
  auto t = parse_rfc3339("2026-01-30T10:00:00+07:00");
  REQUIRE(t);
  REQUIRE(*t == 1769742000LL * 1000000000LL);
  auto z = parse_rfc3339("2026-01-30T03:00:00.5Z");
  REQUIRE(z);
  REQUIRE(*z == 1769742000LL * 1000000000LL + 500000000);
  auto local = parse_time("2026-01-30 10:00:00");
  REQUIRE(local);
  REQUIRE(*local == *t);
  REQUIRE(format_rfc3339(*t) == "2026-01-30T10:00:00+07:00");
  REQUIRE_FALSE(parse_time("2026-13-01 00:00:00"));
  REQUIRE_FALSE(parse_time("yesterday"));
  REQUIRE_FALSE(parse_rfc3339("2026-01-30T10:00:00"));  // no offset
  // Outside what 64-bit nanoseconds hold: refused, not wrapped around.
  REQUIRE_FALSE(parse_rfc3339("0196-12-01T13:41:52Z"));
  REQUIRE_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
  REQUIRE_FALSE(parse_time("3000-01-01 00:00:00"));
  REQUIRE(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
}

TEST_CASE("Durations parse and print") {
  REQUIRE(*parse_duration("30m") == 1800);
  REQUIRE(*parse_duration("1h30m") == 5400);
  REQUIRE(*parse_duration("7d") == 7 * 86400);
  REQUIRE_FALSE(parse_duration("30"));
  REQUIRE_FALSE(parse_duration("m"));
  REQUIRE(format_duration(83) == "1m23s");
  REQUIRE(format_size(1536) == "1.50 KiB");
}

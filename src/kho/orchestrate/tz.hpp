// Time zones for the scheduler: a small reader of the system's TZif database
// (RFC 8536, versions 1 to 4) and of POSIX TZ rule strings, with exact
// local <-> UTC conversion that reports DST gaps and folds.
//
// Why our own: libstdc++ 12 has no std::chrono time-zone database, and
// setenv("TZ") + localtime_r is process-global and not thread-safe, while the
// scheduler evaluates jobs in several zones at once.
//
// Instants are whole seconds since 1970-01-01T00:00:00Z (leap seconds not
// counted, as in time_t). Offsets are seconds east of UTC (+07:00 = 25200).
// Supported instants: |utc_seconds| <= 2^55 (about a billion years); values
// outside are clamped.
//
// Errors: load(), from_posix() and from_tzif() return kho::Result; nothing is
// thrown (except std::bad_alloc). Messages name the zone.
//
// Thread-safety: a TimeZone is immutable after construction; all const member
// functions may be called concurrently. Copies are independent values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kho/util/error.hpp"

namespace kho::orchestrate {

// A calendar date and wall-clock time with no zone attached (proleptic
// Gregorian calendar, astronomical year numbering: year 0 = 1 BC).
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;   // 0..23
  int minute = 0;
  int second = 0;

  friend auto operator<=>(const CivilTime&, const CivilTime&) = default;
};

// Calendar arithmetic (Howard Hinnant's algorithms). Days are counted from
// 1970-01-01 (day 0); negative before it.
// REQUIRES: 1 <= month <= 12. A day past the month's end rolls over
// (April 31 is May 1).
std::int64_t days_from_civil(std::int64_t year, int month, int day);
// Fills year, month and day; hour, minute and second are 0.
CivilTime civil_from_days(std::int64_t days);
// 0 = Sunday .. 6 = Saturday.
int weekday_from_days(std::int64_t days);
bool is_leap_year(std::int64_t year);
int days_in_month(std::int64_t year, int month);
// The civil time read as if it were UTC; hour/minute/second may roll over.
std::int64_t seconds_from_civil(const CivilTime& t);
CivilTime civil_from_seconds(std::int64_t seconds);
// "2026-03-29T02:30:00" (no zone designator).
std::string format_civil(const CivilTime& t);

// How one local civil time maps to UTC instants.
struct LocalMapping {
  enum class Kind {
    unique,  // exactly one instant: `first`
    gap,     // never occurs (DST spring-forward); `first` is the end of the gap,
             // i.e. the transition instant, the first instant after it
    fold,    // occurs twice or more (fall-back); `first` is the earliest, `last` the latest
  };
  Kind kind = Kind::unique;
  std::int64_t first = 0;
  std::int64_t last = 0;  // == first unless kind == fold
};

class TimeZone {
public:
  // UTC.
  TimeZone();

  // Loads a zone by IANA name ("Asia/Ho_Chi_Minh", "Europe/Berlin") from
  // <zoneinfo_dir>/<name>. An empty zoneinfo_dir means $TZDIR when set and not
  // empty, else /usr/share/zoneinfo. Also accepted without any file: "" and
  // "UTC" (UTC), and fixed offsets "+07:00", "-0530", "+07".
  // Names may use only [A-Za-z0-9_+-/], must be relative and hold no "..".
  // Fails, naming the zone, with invalid_argument when the name is invalid,
  // not_found when there is no such zone file, io when it cannot be read,
  // corruption when it is malformed, unsupported when it holds leap seconds
  // ("right/" zones).
  [[nodiscard]] static Result<TimeZone> load(std::string_view name, const std::filesystem::path& zoneinfo_dir = {});

  // A zone of constant offset, named like "+07:00". REQUIRES: |offset| < 26 h.
  static TimeZone fixed(int offset_seconds);

  // A zone from a POSIX TZ rule string as found in TZif footers, e.g.
  // "CET-1CEST,M3.5.0,M10.5.0/3", "<+07>-7", "EST5EDT" (US rules by default).
  // Dates Jn, n and Mm.w.d and transition times -167..167 h (RFC 8536 v3) are
  // supported. Fails with invalid_argument on a malformed string.
  [[nodiscard]] static Result<TimeZone> from_posix(std::string_view rule);

  // Parses the bytes of a TZif file; `name` is used in messages and by name().
  // Fails with corruption when the data is malformed (invalid_argument for a
  // malformed footer rule, unsupported for leap seconds).
  [[nodiscard]] static Result<TimeZone> from_tzif(std::string_view data, std::string name);

  // The name it was loaded by ("UTC" for the default zone).
  const std::string& name() const { return m_name; }

  // Seconds east of UTC in effect at the instant.
  int offset_at(std::int64_t utc_seconds) const;
  // "CEST", "+07", "UTC"...
  std::string abbreviation_at(std::int64_t utc_seconds) const;
  bool is_dst_at(std::int64_t utc_seconds) const;

  CivilTime to_local(std::int64_t utc_seconds) const;

  // All instants whose local time is `local`, ascending: 1 normally, 0 in a
  // spring-forward gap, 2 in a fall-back fold. REQUIRES: 1 <= local.month <= 12.
  std::vector<std::int64_t> from_local(const CivilTime& local) const;
  // As from_local, also saying where a gap ends.
  LocalMapping resolve_local(const CivilTime& local) const;

private:
  struct LocalType {
    int offset = 0;
    bool is_dst = false;
    std::string abbreviation;
  };
  enum class RuleDateKind { julian_no_leap, zero_based, month_week_day };
  struct RuleDate {
    RuleDateKind kind = RuleDateKind::month_week_day;
    int day = 0;  // Jn: 1..365; n: 0..365; Mm.w.d: weekday 0..6
    int month = 0;
    int week = 0;
    int time = 7200;  // seconds after local midnight, -167 h .. 167 h
  };
  struct PosixRule {
    LocalType standard;
    std::optional<LocalType> daylight;  // absent: no DST
    RuleDate start;                     // DST begins (in standard local time)
    RuleDate end;                       // DST ends (in daylight local time)
  };
  struct Transition {
    std::int64_t at;
    const LocalType* type;  // in effect from `at`
  };

  // Throws the internal error type of tz.cpp; public functions catch it.
  static PosixRule parse_posix(std::string_view text, const std::string& zone);
  static TimeZone parse_tzif(std::string_view data, std::string name);
  std::int64_t rule_day(const RuleDate& date, std::int64_t year) const;
  // The rule's transitions in years [first_year, last_year], sorted; at equal
  // instants the end of DST sorts first so that all-year DST stays DST.
  std::vector<Transition> rule_transitions(std::int64_t first_year, std::int64_t last_year) const;
  const LocalType& type_at(std::int64_t utc_seconds) const;
  const LocalType& rule_type_at(std::int64_t utc_seconds) const;
  // Transitions with lo < at <= hi, ascending.
  std::vector<Transition> transitions_between(std::int64_t lo, std::int64_t hi) const;

  std::string m_name = "UTC";
  std::vector<LocalType> m_types;  // never empty
  std::vector<std::int64_t> m_times;
  std::vector<std::size_t> m_type_index;  // parallel to m_times
  std::optional<PosixRule> m_rule;        // for instants after the last transition
};

// The system's local time zone, as the C library would choose it:
//   - $TZ when set and not empty (a leading ':' is ignored): an absolute path
//     is read as a TZif file; otherwise an IANA name or offset for load(), and
//     failing that a POSIX rule string ("UTC0", "<+07>-7");
//   - else the TZif file `localtime` (/etc/localtime), named after the zone
//     its symlink points to ("Asia/Ho_Chi_Minh") or else "localtime";
//   - UTC when that file does not exist.
// Fails like load() when the zone named by $TZ or the file cannot be used.
[[nodiscard]] Result<TimeZone> local_time_zone();
// The same with the environment and file given (for tests); a null tz_env
// means TZ is unset.
[[nodiscard]] Result<TimeZone> local_time_zone(const char* tz_env, const std::filesystem::path& localtime);

}  // namespace kho::orchestrate

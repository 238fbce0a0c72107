// Cron schedules: when a job is due, from a Vixie-cron expression evaluated in
// the local time of a TimeZone. Pure logic, no I/O, no clock.
//
// Grammar (fields separated by spaces or tabs):
//   expr    = minute hour day-of-month month day-of-week | macro
//   field   = item ("," item)*
//   item    = ("*" | value | value "-" value) ["/" step]    step >= 1
//   value   = number | name        names only in month (JAN..DEC) and
//                                  day-of-week (SUN..SAT), case-insensitive
//   ranges  minute 0-59, hour 0-23, day-of-month 1-31, month 1-12,
//           day-of-week 0-7 (0 and 7 are Sunday)
//   "a/n" means a-max/n; a range must not be reversed; a step may not exceed
//   the field's span.
//   macro   = @yearly | @annually (0 0 1 1 *) | @monthly (0 0 1 * *)
//           | @weekly (0 0 * * 0) | @daily | @midnight (0 0 * * *) | @hourly (0 * * * *)
//   @reboot is refused: kho has no notion of boot.
//
// Day matching follows Vixie cron and cronie exactly: when both day-of-month
// and day-of-week are restricted, a day matches if EITHER matches; a field
// whose text starts with "*" (also "*/2") counts as unrestricted, and then both
// must match. So "0 0 1 * MON" runs on the 1st and on every Monday, while
// "0 0 */2 * MON" runs on Mondays that fall on odd days.
//
// An expression that can never run because of its day-of-month and month
// fields ("0 0 30 2 *", "0 0 31 4,6 *") is refused by parse(). "0 0 29 2 *" is
// accepted and runs only in leap years.
//
// Daylight saving time (the choice of cronie for fixed-time jobs and of
// systemd timers):
//   - A local time that does not exist (skipped by a spring-forward gap) runs
//     once, at the first instant after the gap: "30 2 * * *" in Europe/Berlin on
//     2026-03-29 runs at 03:00 CEST (01:00Z). Several skipped times collapse into
//     that one run.
//   - A local time that occurs twice (a fall-back fold) runs once, at its first
//     occurrence: "30 2 * * *" in Europe/Berlin on 2026-10-25 runs at
//     02:30 CEST (00:30Z), not again at 02:30 CET. This applies to every minute
//     of the fold, so "0 * * * *" has no run between 02:00 CEST and 03:00 CET
//     (two real hours).
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kho/orchestrate/tz.hpp"
#include "kho/util/error.hpp"

namespace kho::orchestrate {

class CronSchedule {
public:
  // Leading and trailing blanks are ignored. A malformed or impossible
  // expression (see the grammar above) fails with Errc::invalid_argument and a
  // message that quotes the expression and names the field and token at fault:
  //   invalid cron expression "61 * * * *": minute field: 61 is out of range 0-59
  // Nothing is thrown (except std::bad_alloc).
  [[nodiscard]] static Result<CronSchedule> parse(std::string_view expr);

  // The expression as given (trimmed).
  const std::string& expression() const { return m_expression; }

  // The first run strictly after `utc_seconds`, in whole seconds since the
  // epoch, evaluating the fields in the local time of `tz` (see DST above).
  // Looks at most k_search_years of local dates ahead, day by day and only
  // through matching hours and minutes; nullopt when nothing runs in that window
  // (only possible for a day-of-week restricted to dates that line up rarely).
  std::optional<std::int64_t> next_after(std::int64_t utc_seconds, const TimeZone& tz) const;

  // Up to `count` successive runs after `from`, ascending; fewer when
  // next_after() finds no more. count <= 0 gives none.
  std::vector<std::int64_t> next_n(std::int64_t from, int count, const TimeZone& tz) const;

  // Whether the local date (year, month 1-12, day 1-31) is a day the job runs.
  bool matches_date(std::int64_t year, int month, int day) const;

  static constexpr int k_search_years = 30;

private:
  std::string m_expression;
  std::bitset<60> m_minutes;
  std::bitset<24> m_hours;
  std::bitset<32> m_days;     // 1..31
  std::bitset<13> m_months;   // 1..12
  std::bitset<7> m_weekdays;  // 0 = Sunday
  bool m_days_star = false;
  bool m_weekdays_star = false;
};

}  // namespace kho::orchestrate

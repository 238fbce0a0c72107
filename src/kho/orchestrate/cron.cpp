#include "kho/orchestrate/cron.hpp"

#include <array>
#include <cctype>
#include <stdexcept>

namespace kho::orchestrate {

namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const std::array<const char*, 12>* names;  // names[i] has value i + names_base
  int names_base;
};

constexpr std::array<const char*, 12> k_month_names = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 12> k_weekday_names = {"SUN", "MON",   "TUE",   "WED",   "THU",   "FRI",
                                                         "SAT", nullptr, nullptr, nullptr, nullptr, nullptr};
constexpr std::array<const char*, 12> k_month_full = {"January",   "February", "March",    "April",
                                                      "May",       "June",     "July",     "August",
                                                      "September", "October",  "November", "December"};

const FieldSpec k_minute{"minute", 0, 59, nullptr, 0};
const FieldSpec k_hour{"hour", 0, 23, nullptr, 0};
const FieldSpec k_day{"day-of-month", 1, 31, nullptr, 0};
const FieldSpec k_month{"month", 1, 12, &k_month_names, 1};
const FieldSpec k_weekday{"day-of-week", 0, 7, &k_weekday_names, 0};

class FieldError : public std::runtime_error {
public:
  FieldError(const FieldSpec& field, const std::string& why)
      : std::runtime_error(std::string(field.name) + " field: " + why) {}
};

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

int parse_value(const FieldSpec& f, std::string_view token) {
  if (token.empty()) throw FieldError(f, "missing value");
  if (std::isdigit(static_cast<unsigned char>(token[0]))) {
    int v = 0;
    for (char c : token) {
      if (!std::isdigit(static_cast<unsigned char>(c))) throw FieldError(f, in_quotes(token) + " is not a number");
      if (v > 1000)
        throw FieldError(
            f, std::string(token) + " is out of range " + std::to_string(f.min) + "-" + std::to_string(f.max));
      v = v * 10 + (c - '0');
    }
    if (v < f.min || v > f.max) {
      throw FieldError(f,
                       std::string(token) + " is out of range " + std::to_string(f.min) + "-" + std::to_string(f.max));
    }
    return v;
  }
  if (f.names) {
    const std::string u = upper(token);
    for (std::size_t i = 0; i < f.names->size(); ++i) {
      if ((*f.names)[i] && u == (*f.names)[i]) return static_cast<int>(i) + f.names_base;
    }
    throw FieldError(f, in_quotes(token) + " is not a number or a " +
                            (f.names == &k_month_names ? "month name (JAN-DEC)" : "weekday name (SUN-SAT)"));
  }
  throw FieldError(f, in_quotes(token) + " is not a number");
}

// Sets the bits of one field; returns whether its text starts with "*".
template <std::size_t N>
bool parse_field(const FieldSpec& f, std::string_view text, std::bitset<N>& bits) {
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = text.find(',', pos);
    const std::string_view item =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (item.empty()) throw FieldError(f, "empty item in list " + in_quotes(text));

    const std::size_t slash = item.find('/');
    const std::string_view base = item.substr(0, slash);
    int step = 1;
    if (slash != std::string_view::npos) {
      const std::string_view step_text = item.substr(slash + 1);
      if (step_text.empty() || step_text.size() > 4 ||
          step_text.find_first_not_of("0123456789") != std::string_view::npos) {
        throw FieldError(f, "step " + in_quotes(step_text) + " in " + in_quotes(item) + " is not a number");
      }
      step = std::stoi(std::string(step_text));
      if (step == 0) throw FieldError(f, "step 0 in " + in_quotes(item) + " must be at least 1");
      if (step > f.max - f.min) {
        throw FieldError(f, "step " + std::to_string(step) + " in " + in_quotes(item) + " is larger than the range " +
                                std::to_string(f.min) + "-" + std::to_string(f.max));
      }
    }
    int lo = f.min;
    // "*" and "a/n" end at Saturday for day-of-week: 7 would repeat Sunday.
    int hi = &f == &k_weekday ? 6 : f.max;
    if (base != "*") {
      const std::size_t dash = base.find('-');
      lo = parse_value(f, base.substr(0, dash));
      if (dash != std::string_view::npos) {
        hi = parse_value(f, base.substr(dash + 1));
        if (lo > hi) {
          throw FieldError(f, "range " + std::string(base) + " is reversed (" + std::to_string(lo) + " > " +
                                  std::to_string(hi) + "); write the smaller value first");
        }
      } else if (slash == std::string_view::npos) {
        hi = lo;
      }
    }
    for (int v = lo; v <= hi; v += step) bits.set(static_cast<std::size_t>(&f == &k_weekday ? v % 7 : v));

    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return !text.empty() && text.front() == '*';
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::vector<std::string_view> split_blanks(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const auto start = s.find_first_not_of(" \t", pos);
    if (start == std::string_view::npos) break;
    auto end = s.find_first_of(" \t", start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    pos = end;
  }
  return out;
}

std::string_view expand_macro(std::string_view macro) {
  const std::string m = upper(macro);
  if (m == "@YEARLY" || m == "@ANNUALLY") return "0 0 1 1 *";
  if (m == "@MONTHLY") return "0 0 1 * *";
  if (m == "@WEEKLY") return "0 0 * * 0";
  if (m == "@DAILY" || m == "@MIDNIGHT") return "0 0 * * *";
  if (m == "@HOURLY") return "0 * * * *";
  if (m == "@REBOOT") {
    throw std::runtime_error(
        "@reboot is not supported: kho schedules run at times of day; start kho from a boot-time service instead");
  }
  throw std::runtime_error("unknown macro " + in_quotes(macro) +
                           " (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)");
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(std::string_view expr) {
  CronSchedule s;
  s.m_expression = std::string(trim(expr));
  try {
    std::string_view text = s.m_expression;
    if (!text.empty() && text.front() == '@') {
      if (split_blanks(text).size() != 1) throw std::runtime_error("a macro like @daily stands alone, without fields");
      text = expand_macro(text);
    }
    const auto fields = split_blanks(text);
    if (fields.size() != 5) {
      throw std::runtime_error("expected 5 fields (minute hour day-of-month month day-of-week), got " +
                               std::to_string(fields.size()) +
                               (fields.size() == 6 ? " (seconds and year fields are not supported)" : ""));
    }
    parse_field(k_minute, fields[0], s.m_minutes);
    parse_field(k_hour, fields[1], s.m_hours);
    s.m_days_star = parse_field(k_day, fields[2], s.m_days);
    parse_field(k_month, fields[3], s.m_months);
    s.m_weekdays_star = parse_field(k_weekday, fields[4], s.m_weekdays);

    // With day-of-week unrestricted, only day-of-month picks days: one of them
    // must exist in one of the months (February counted with 29 days).
    if (s.m_weekdays_star) {
      bool possible = false;
      for (int m = 1; m <= 12 && !possible; ++m) {
        if (!s.m_months[static_cast<std::size_t>(m)]) continue;
        for (int d = 1; d <= days_in_month(2000, m) && !possible; ++d) possible = s.m_days[static_cast<std::size_t>(d)];
      }
      if (!possible) {
        std::string months;
        for (int m = 1; m <= 12; ++m) {
          if (!s.m_months[static_cast<std::size_t>(m)]) continue;
          if (!months.empty()) months += ", ";
          months += k_month_full[static_cast<std::size_t>(m - 1)];
        }
        throw std::runtime_error("day-of-month field: " + std::string(fields[2]) + " never occurs in " + months +
                                 "; the job would never run");
      }
    }
  } catch (const std::runtime_error& e) {
    // FieldError and the messages above; std::stoi cannot fail on the <= 4 digits checked.
    return fail(Errc::invalid_argument, "invalid cron expression " + in_quotes(s.m_expression) + ": " + e.what());
  }
  return s;
}

bool CronSchedule::matches_date(std::int64_t year, int month, int day) const {
  if (!m_months[static_cast<std::size_t>(month)]) return false;
  const bool day_ok = m_days[static_cast<std::size_t>(day)];
  const bool weekday_ok = m_weekdays[static_cast<std::size_t>(weekday_from_days(days_from_civil(year, month, day)))];
  if (m_days_star || m_weekdays_star) return day_ok && weekday_ok;
  return day_ok || weekday_ok;
}

std::optional<std::int64_t> CronSchedule::next_after(std::int64_t utc_seconds, const TimeZone& tz) const {
  // Candidates are walked in local order from the local minute of utc_seconds.
  // Mapping a local time to its first occurrence (or to the end of its gap)
  // never decreases as the local time grows, so the first candidate that maps
  // strictly after utc_seconds is the answer; earlier local times cannot be.
  // Only in a fold are some candidates rejected, at most the fold's length.
  const CivilTime start = tz.to_local(utc_seconds);
  std::int64_t day = days_from_civil(start.year, start.month, start.day);
  const std::int64_t last_day = day + std::int64_t{k_search_years} * 366;
  bool first_day = true;
  while (day <= last_day) {
    const CivilTime date = civil_from_days(day);
    if (!m_months[static_cast<std::size_t>(date.month)]) {
      // Skip to the 1st of the next month.
      day = date.month == 12 ? days_from_civil(date.year + 1, 1, 1) : days_from_civil(date.year, date.month + 1, 1);
      first_day = false;
      continue;
    }
    if (matches_date(date.year, date.month, date.day)) {
      for (int h = first_day ? start.hour : 0; h < 24; ++h) {
        if (!m_hours[static_cast<std::size_t>(h)]) continue;
        for (int m = first_day && h == start.hour ? start.minute : 0; m < 60; ++m) {
          if (!m_minutes[static_cast<std::size_t>(m)]) continue;
          CivilTime local = date;
          local.hour = h;
          local.minute = m;
          const std::int64_t at = tz.resolve_local(local).first;
          if (at > utc_seconds) return at;
        }
      }
    }
    ++day;
    first_day = false;
  }
  return std::nullopt;
}

std::vector<std::int64_t> CronSchedule::next_n(std::int64_t from, int count, const TimeZone& tz) const {
  std::vector<std::int64_t> out;
  for (int i = 0; i < count; ++i) {
    const auto next = next_after(from, tz);
    if (!next) break;
    out.push_back(*next);
    from = *next;
  }
  return out;
}

}  // namespace kho::orchestrate

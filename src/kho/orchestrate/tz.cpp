#include "kho/orchestrate/tz.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

namespace kho::orchestrate {

namespace {

// Thrown inside this file only; the public functions turn it into a kho::Error.
class TzFailure : public std::runtime_error {
public:
  TzFailure(Errc code, const std::string& message) : std::runtime_error(message), m_code(code) {}
  Errc code() const { return m_code; }

private:
  Errc m_code;
};

constexpr std::int64_t k_instant_limit = std::int64_t{1} << 55;
// Larger than any real UTC offset (tzdata's extremes are about +-15:57 LMT).
constexpr int k_max_offset = 26 * 3600 - 1;
constexpr std::int64_t k_max_tzif_size = 1 << 20;
constexpr std::int64_t k_day = 86400;

std::int64_t clamp_instant(std::int64_t t) { return std::clamp(t, -k_instant_limit, k_instant_limit); }

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// "+07:00", "-0530", "+07" -> seconds east; nullopt when not of that form.
std::optional<int> parse_fixed_offset(std::string_view s) {
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  std::string_view rest = s.substr(1);
  auto two = [](std::string_view d) {
    return is_digit(d[0]) && is_digit(d[1]) ? (d[0] - '0') * 10 + (d[1] - '0') : -1;
  };
  int hours = two(rest);
  int minutes = 0;
  if (rest.size() == 2) {
  } else if (rest.size() == 4) {
    minutes = two(rest.substr(2));
  } else if (rest.size() == 5 && rest[2] == ':') {
    minutes = two(rest.substr(3));
  } else {
    return std::nullopt;
  }
  if (hours < 0 || minutes < 0 || hours > 25 || minutes > 59) return std::nullopt;
  int seconds = hours * 3600 + minutes * 60;
  return s[0] == '-' ? -seconds : seconds;
}

std::string format_offset(int offset) {
  char buf[16];
  int a = offset < 0 ? -offset : offset;
  if (a % 60 != 0) {
    std::snprintf(buf, sizeof buf, "%c%02d:%02d:%02d", offset < 0 ? '-' : '+', a / 3600, a / 60 % 60, a % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  }
  return buf;
}

void check_zone_name(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return TzFailure(Errc::invalid_argument, "invalid time zone name " + in_quotes(name) + ": " + why);
  };
  if (name.size() > 255) throw bad("longer than 255 characters");
  if (name.front() == '/') throw bad("must be a relative IANA name like \"Europe/Berlin\", not a path");
  if (name.find("..") != std::string_view::npos) throw bad("must not contain \"..\"");
  for (char c : name) {
    if (!(is_alpha(c) || is_digit(c) || c == '_' || c == '+' || c == '-' || c == '/')) {
      throw bad(std::string("character '") + c + "' is not allowed (only A-Z a-z 0-9 _ + - /)");
    }
  }
}

// Big-endian reader over TZif bytes; every short read is corruption.
class TzifReader {
public:
  TzifReader(std::string_view data, const std::string& zone) : m_data(data), m_zone(zone) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw TzFailure(Errc::corruption, "time zone " + in_quotes(m_zone) + ": invalid TZif data: " + why);
  }
  void need(std::uint64_t n) const {
    if (n > m_data.size() - m_pos) fail("truncated at byte " + std::to_string(m_pos));
  }
  std::string_view bytes(std::uint64_t n) {
    need(n);
    std::string_view out = m_data.substr(m_pos, n);
    m_pos += n;
    return out;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(bytes(1)[0]); }
  std::int64_t be(int width) {
    std::string_view b = bytes(static_cast<std::uint64_t>(width));
    std::uint64_t v = 0;
    for (char c : b) v = (v << 8) | static_cast<std::uint8_t>(c);
    if (width == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
    return static_cast<std::int64_t>(v);
  }
  void skip(std::uint64_t n) { bytes(n); }
  bool at_end() const { return m_pos == m_data.size(); }

private:
  std::string_view m_data;
  std::size_t m_pos = 0;
  const std::string& m_zone;
};

struct TzifHeader {
  char version = 0;
  std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;

  std::uint64_t block_size(int time_width) const {
    return std::uint64_t{timecnt} * (time_width + 1) + std::uint64_t{typecnt} * 6 + charcnt +
           std::uint64_t{leapcnt} * (time_width + 4) + isstdcnt + isutcnt;
  }
};

TzifHeader read_header(TzifReader& in) {
  if (in.bytes(4) != "TZif") in.fail("not a TZif file (bad magic)");
  TzifHeader h;
  h.version = static_cast<char>(in.u8());
  if (h.version != 0 && h.version < '2') in.fail("unknown version byte");
  in.skip(15);
  h.isutcnt = static_cast<std::uint32_t>(in.be(4));
  h.isstdcnt = static_cast<std::uint32_t>(in.be(4));
  h.leapcnt = static_cast<std::uint32_t>(in.be(4));
  h.timecnt = static_cast<std::uint32_t>(in.be(4));
  h.typecnt = static_cast<std::uint32_t>(in.be(4));
  h.charcnt = static_cast<std::uint32_t>(in.be(4));
  if (h.typecnt == 0) in.fail("no local time types");
  if (h.charcnt == 0) in.fail("no abbreviation characters");
  if (h.isutcnt != 0 && h.isutcnt != h.typecnt) in.fail("UT/local indicator count differs from type count");
  if (h.isstdcnt != 0 && h.isstdcnt != h.typecnt) in.fail("standard/wall indicator count differs from type count");
  return h;
}

// Parses hh[:mm[:ss]] with an optional sign into seconds.
bool parse_hms(std::string_view s, std::size_t& pos, int max_hours, bool allow_sign, int& out) {
  int sign = 1;
  if (allow_sign && pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    if (s[pos] == '-') sign = -1;
    ++pos;
  }
  auto number = [&](int max_digits, int& v) {
    std::size_t start = pos;
    v = 0;
    while (pos < s.size() && is_digit(s[pos]) && pos - start < static_cast<std::size_t>(max_digits)) {
      v = v * 10 + (s[pos++] - '0');
    }
    return pos > start;
  };
  int h = 0, m = 0, sec = 0;
  if (!number(3, h) || h > max_hours) return false;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!number(2, m) || m > 59) return false;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!number(2, sec) || sec > 59) return false;
    }
  }
  out = sign * (h * 3600 + m * 60 + sec);
  return true;
}

}  // namespace

// ---- calendar ---------------------------------------------------------------

std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const std::int64_t yoe = year - era * 400;                                               // [0, 399]
  const std::int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;  // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                          // [0, 146096]
  return era * 146097 + doe - 719468;
}

CivilTime civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const std::int64_t doe = days - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  CivilTime out;
  out.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  out.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  out.year = static_cast<int>(yoe + era * 400 + (out.month <= 2));
  return out;
}

int weekday_from_days(std::int64_t days) {
  // 1970-01-01 was a Thursday.
  return static_cast<int>(((days + 4) % 7 + 7) % 7);
}

bool is_leap_year(std::int64_t year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int days_in_month(std::int64_t year, int month) {
  static constexpr std::array<int, 12> k_days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : k_days.at(static_cast<std::size_t>(month - 1));
}

std::int64_t seconds_from_civil(const CivilTime& t) {
  return days_from_civil(t.year, t.month, t.day) * k_day + std::int64_t{t.hour} * 3600 + std::int64_t{t.minute} * 60 +
         t.second;
}

CivilTime civil_from_seconds(std::int64_t seconds) {
  const std::int64_t days = floor_div(seconds, k_day);
  const std::int64_t rest = seconds - days * k_day;
  CivilTime out = civil_from_days(days);
  out.hour = static_cast<int>(rest / 3600);
  out.minute = static_cast<int>(rest / 60 % 60);
  out.second = static_cast<int>(rest % 60);
  return out;
}

std::string format_civil(const CivilTime& t) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour, t.minute, t.second);
  return buf;
}

// ---- construction -------------------------------------------------------------

TimeZone::TimeZone() { m_types.push_back(LocalType{0, false, "UTC"}); }

TimeZone TimeZone::fixed(int offset_seconds) {
  TimeZone tz;
  tz.m_name = format_offset(offset_seconds);
  tz.m_types.front() = LocalType{offset_seconds, false, tz.m_name};
  return tz;
}

Result<TimeZone> TimeZone::load(std::string_view name, const std::filesystem::path& zoneinfo_dir) {
  try {
    if (name.empty() || name == "UTC") return TimeZone();
    if (auto offset = parse_fixed_offset(name)) return fixed(*offset);
    check_zone_name(name);

    std::filesystem::path dir = zoneinfo_dir;
    if (dir.empty()) {
      const char* env = std::getenv("TZDIR");
      dir = env && *env ? env : "/usr/share/zoneinfo";
    }
    const std::filesystem::path path = dir / std::string(name);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return fail(Errc::not_found, "unknown time zone " + in_quotes(name) + ": no zone file " + path.string() +
                                       " (use an IANA name such as \"Europe/Berlin\" or an offset such as \"+07:00\")");
    }
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size > k_max_tzif_size) {
      return fail(Errc::io, "time zone " + in_quotes(name) + ": cannot read " + path.string() +
                                (ec ? ": " + ec.message() : ": too large"));
    }
    std::ifstream in(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad() || data.size() != size) {
      return fail(Errc::io, "time zone " + in_quotes(name) + ": cannot read " + path.string());
    }
    return parse_tzif(data, std::string(name));
  } catch (const TzFailure& e) {
    return fail(e.code(), e.what());
  }
}

Result<TimeZone> TimeZone::from_tzif(std::string_view data, std::string name) {
  try {
    return parse_tzif(data, std::move(name));
  } catch (const TzFailure& e) {
    return fail(e.code(), e.what());
  }
}

TimeZone TimeZone::parse_tzif(std::string_view data, std::string name) {
  TimeZone tz;
  tz.m_name = std::move(name);
  TzifReader in(data, tz.m_name);
  TzifHeader h = read_header(in);
  int width = 4;
  if (h.version != 0) {
    // Version 2+: skip the 32-bit block, use the 64-bit one.
    in.skip(h.block_size(4));
    const char version = h.version;
    h = read_header(in);
    if (h.version != version) in.fail("the two headers disagree on the version");
    width = 8;
  }
  if (h.leapcnt != 0) {
    throw TzFailure(Errc::unsupported,
                    "time zone " + in_quotes(tz.m_name) +
                        ": zones with leap seconds (\"right/\") are not supported; use the zone without \"right/\"");
  }
  in.need(h.block_size(width));

  std::vector<std::int64_t> times(h.timecnt);
  for (auto& t : times) t = in.be(width);
  for (std::size_t i = 1; i < times.size(); ++i) {
    if (times[i] <= times[i - 1]) in.fail("transition times are not ascending");
  }
  std::vector<std::size_t> index(h.timecnt);
  for (auto& i : index) {
    i = in.u8();
    if (i >= h.typecnt) in.fail("transition refers to a missing local time type");
  }
  struct RawType {
    std::int64_t offset;
    bool is_dst;
    std::uint8_t abbr_index;
  };
  std::vector<RawType> raw(h.typecnt);
  for (auto& r : raw) {
    r.offset = in.be(4);
    const std::uint8_t dst = in.u8();
    r.abbr_index = in.u8();
    if (r.offset < -k_max_offset || r.offset > k_max_offset) in.fail("UT offset out of range");
    if (dst > 1) in.fail("bad DST indicator");
    r.is_dst = dst == 1;
    if (r.abbr_index >= h.charcnt) in.fail("abbreviation index out of range");
  }
  const std::string_view chars = in.bytes(h.charcnt);
  in.skip(std::uint64_t{h.isstdcnt} + h.isutcnt);

  tz.m_types.clear();
  for (const auto& r : raw) {
    std::string_view abbr = chars.substr(r.abbr_index);
    abbr = abbr.substr(0, abbr.find('\0'));
    tz.m_types.push_back(LocalType{static_cast<int>(r.offset), r.is_dst, std::string(abbr)});
  }
  tz.m_times = std::move(times);
  tz.m_type_index = std::move(index);

  if (width == 8) {
    if (in.u8() != '\n') in.fail("footer does not start with a newline");
    std::string footer;
    for (char c = static_cast<char>(in.u8()); c != '\n'; c = static_cast<char>(in.u8())) footer += c;
    if (!footer.empty()) tz.m_rule = parse_posix(footer, tz.m_name);
  }
  return tz;
}

Result<TimeZone> TimeZone::from_posix(std::string_view rule) {
  try {
    TimeZone tz;
    tz.m_name = std::string(rule);
    tz.m_rule = parse_posix(rule, tz.m_name);
    tz.m_types.front() = tz.m_rule->standard;
    return tz;
  } catch (const TzFailure& e) {
    return fail(e.code(), e.what());
  }
}

// POSIX TZ grammar (the form used in TZif footers):
//   std offset [dst [offset] [,start[/time],end[/time]]]
//   name   = 3+ letters | "<" [A-Za-z0-9+-]{3,} ">"
//   offset = [+-]hh[:mm[:ss]]   hours west of UTC, 0..24
//   date   = Jn (1..365, Feb 29 never counted) | n (0..365) | Mm.w.d (week 5 = last)
//   time   = [+-]hh[:mm[:ss]]   -167..167 h, default 02:00:00
TimeZone::PosixRule TimeZone::parse_posix(std::string_view s, const std::string& zone) {
  std::size_t pos = 0;
  auto fail = [&](const std::string& expected) -> TzFailure {
    return TzFailure(Errc::invalid_argument, "time zone " + in_quotes(zone) + ": invalid POSIX TZ string " +
                                                 in_quotes(s) + ": expected " + expected + " at position " +
                                                 std::to_string(pos));
  };
  auto name = [&]() {
    std::string out;
    if (pos < s.size() && s[pos] == '<') {
      ++pos;
      while (pos < s.size() && (is_alpha(s[pos]) || is_digit(s[pos]) || s[pos] == '+' || s[pos] == '-'))
        out += s[pos++];
      if (pos >= s.size() || s[pos] != '>' || out.size() < 3) throw fail("a quoted abbreviation like <+07>");
      ++pos;
    } else {
      while (pos < s.size() && is_alpha(s[pos])) out += s[pos++];
      if (out.size() < 3) throw fail("an abbreviation of 3 or more letters");
    }
    return out;
  };
  auto offset = [&]() {
    int west = 0;
    if (!parse_hms(s, pos, 24, true, west)) throw fail("a UTC offset like 5 or -1 or 5:30");
    return -west;
  };
  auto date = [&]() {
    RuleDate d;
    auto number = [&](int lo, int hi) {
      int v = 0;
      const std::size_t start = pos;
      while (pos < s.size() && is_digit(s[pos]) && pos - start < 3) v = v * 10 + (s[pos++] - '0');
      if (pos == start || v < lo || v > hi) throw fail("a number in " + std::to_string(lo) + ".." + std::to_string(hi));
      return v;
    };
    if (pos < s.size() && s[pos] == 'J') {
      ++pos;
      d.kind = RuleDateKind::julian_no_leap;
      d.day = number(1, 365);
    } else if (pos < s.size() && s[pos] == 'M') {
      ++pos;
      d.kind = RuleDateKind::month_week_day;
      d.month = number(1, 12);
      if (pos >= s.size() || s[pos++] != '.') throw fail("'.' in Mm.w.d");
      d.week = number(1, 5);
      if (pos >= s.size() || s[pos++] != '.') throw fail("'.' in Mm.w.d");
      d.day = number(0, 6);
    } else {
      d.kind = RuleDateKind::zero_based;
      d.day = number(0, 365);
    }
    if (pos < s.size() && s[pos] == '/') {
      ++pos;
      if (!parse_hms(s, pos, 167, true, d.time)) throw fail("a transition time like 2 or 25 or -1:30");
    }
    return d;
  };

  PosixRule rule;
  rule.standard.abbreviation = name();
  rule.standard.offset = offset();
  if (pos == s.size()) return rule;

  LocalType daylight;
  daylight.is_dst = true;
  daylight.abbreviation = name();
  daylight.offset = rule.standard.offset + 3600;
  if (pos < s.size() && s[pos] != ',') daylight.offset = offset();
  rule.daylight = daylight;
  if (pos == s.size()) {
    // No dates: POSIX leaves it to the implementation; glibc and tzcode use US rules.
    rule.start = RuleDate{RuleDateKind::month_week_day, 0, 3, 2, 7200};
    rule.end = RuleDate{RuleDateKind::month_week_day, 0, 11, 1, 7200};
    return rule;
  }
  if (s[pos++] != ',') throw fail("','");
  rule.start = date();
  if (pos >= s.size() || s[pos++] != ',') throw fail("',' and the end date of DST");
  rule.end = date();
  if (pos != s.size()) throw fail("the end of the string");
  return rule;
}

// ---- lookups --------------------------------------------------------------------

std::int64_t TimeZone::rule_day(const RuleDate& date, std::int64_t year) const {
  const std::int64_t jan1 = days_from_civil(year, 1, 1);
  switch (date.kind) {
    case RuleDateKind::julian_no_leap:
      return jan1 + date.day - 1 + (is_leap_year(year) && date.day >= 60 ? 1 : 0);
    case RuleDateKind::zero_based:
      return jan1 + date.day;
    case RuleDateKind::month_week_day: {
      const std::int64_t first = days_from_civil(year, date.month, 1);
      std::int64_t day = first + (date.day - weekday_from_days(first) + 7) % 7 + 7 * (date.week - 1);
      const std::int64_t last = first + days_in_month(year, date.month) - 1;
      while (day > last) day -= 7;
      return day;
    }
  }
  return jan1;
}

std::vector<TimeZone::Transition> TimeZone::rule_transitions(std::int64_t first_year, std::int64_t last_year) const {
  std::vector<Transition> out;
  const PosixRule& r = *m_rule;
  for (std::int64_t y = first_year; y <= last_year; ++y) {
    out.push_back({rule_day(r.start, y) * k_day + r.start.time - r.standard.offset, &*r.daylight});
    out.push_back({rule_day(r.end, y) * k_day + r.end.time - r.daylight->offset, &r.standard});
  }
  std::stable_sort(out.begin(), out.end(), [](const Transition& a, const Transition& b) {
    if (a.at != b.at) return a.at < b.at;
    return !a.type->is_dst && b.type->is_dst;
  });
  return out;
}

const TimeZone::LocalType& TimeZone::rule_type_at(std::int64_t t) const {
  const PosixRule& r = *m_rule;
  if (!r.daylight) return r.standard;
  // Rule times reach 167 h past a date, so look from two years back.
  const std::int64_t year = civil_from_seconds(t + r.standard.offset).year;
  const auto list = rule_transitions(year - 2, year + 1);
  const LocalType* type = &r.standard;
  for (const auto& tr : list) {
    if (tr.at > t) break;
    type = tr.type;
  }
  return *type;
}

const TimeZone::LocalType& TimeZone::type_at(std::int64_t t) const {
  t = clamp_instant(t);
  if (m_rule && (m_times.empty() || t > m_times.back())) return rule_type_at(t);
  if (m_times.empty() || t < m_times.front()) return m_types.front();
  const auto it = std::upper_bound(m_times.begin(), m_times.end(), t);
  return m_types[m_type_index[static_cast<std::size_t>(it - m_times.begin()) - 1]];
}

std::vector<TimeZone::Transition> TimeZone::transitions_between(std::int64_t lo, std::int64_t hi) const {
  std::vector<Transition> out;
  auto it = std::upper_bound(m_times.begin(), m_times.end(), lo);
  for (; it != m_times.end() && *it <= hi; ++it) {
    out.push_back({*it, &m_types[m_type_index[static_cast<std::size_t>(it - m_times.begin())]]});
  }
  if (m_rule && m_rule->daylight) {
    const std::int64_t from = m_times.empty() ? lo : std::max(lo, m_times.back());
    if (from < hi) {
      const std::int64_t first_year = civil_from_seconds(from).year - 1;
      const std::int64_t last_year = civil_from_seconds(hi).year + 1;
      for (const auto& tr : rule_transitions(first_year, last_year)) {
        if (tr.at > from && tr.at <= hi) out.push_back(tr);
      }
    }
  }
  return out;
}

int TimeZone::offset_at(std::int64_t utc_seconds) const { return type_at(utc_seconds).offset; }

std::string TimeZone::abbreviation_at(std::int64_t utc_seconds) const { return type_at(utc_seconds).abbreviation; }

bool TimeZone::is_dst_at(std::int64_t utc_seconds) const { return type_at(utc_seconds).is_dst; }

CivilTime TimeZone::to_local(std::int64_t utc_seconds) const {
  utc_seconds = clamp_instant(utc_seconds);
  return civil_from_seconds(utc_seconds + offset_at(utc_seconds));
}

LocalMapping TimeZone::resolve_local(const CivilTime& local) const {
  const std::int64_t wall = clamp_instant(seconds_from_civil(local));
  // Any instant with this wall time lies within one maximal offset of it.
  const std::int64_t lo = wall - k_max_offset - 1;
  const std::int64_t hi = wall + k_max_offset + 1;
  const auto transitions = transitions_between(lo, hi);

  // Each run of constant offset [start, end) holds at most one solution.
  std::vector<std::int64_t> found;
  std::int64_t start = lo;
  int offset = offset_at(lo);
  std::optional<std::int64_t> gap_end;
  for (std::size_t i = 0; i <= transitions.size(); ++i) {
    const std::int64_t end = i < transitions.size() ? transitions[i].at : hi + 1;
    const std::int64_t candidate = wall - offset;
    if (candidate >= start && candidate < end) found.push_back(candidate);
    if (i == transitions.size()) break;
    const int next_offset = transitions[i].type->offset;
    // Skipped wall times: [end + offset, end + next_offset).
    if (!gap_end && wall >= end + offset && wall < end + next_offset) gap_end = end;
    start = end;
    offset = next_offset;
  }
  LocalMapping out;
  if (found.empty()) {
    out.kind = LocalMapping::Kind::gap;
    out.first = out.last = gap_end.value_or(wall - offset);
  } else {
    out.kind = found.size() == 1 ? LocalMapping::Kind::unique : LocalMapping::Kind::fold;
    out.first = found.front();
    out.last = found.back();
  }
  return out;
}

std::vector<std::int64_t> TimeZone::from_local(const CivilTime& local) const {
  const LocalMapping m = resolve_local(local);
  switch (m.kind) {
    case LocalMapping::Kind::gap:
      return {};
    case LocalMapping::Kind::unique:
      return {m.first};
    case LocalMapping::Kind::fold:
      break;
  }
  // A fold of more than two is not known in tzdata; report its ends.
  return {m.first, m.last};
}

// ---- the local zone ---------------------------------------------------------------

namespace {

Result<std::string> read_tzif_file(const std::filesystem::path& path, const std::string& zone) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    return fail(ec == std::errc::no_such_file_or_directory ? Errc::not_found : Errc::io,
                "time zone " + in_quotes(zone) + ": cannot read " + path.string() + ": " + ec.message());
  }
  if (size > static_cast<std::uintmax_t>(k_max_tzif_size)) {
    return fail(Errc::io, "time zone " + in_quotes(zone) + ": cannot read " + path.string() + ": too large");
  }
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad() || data.size() != size) {
    return fail(Errc::io, "time zone " + in_quotes(zone) + ": cannot read " + path.string());
  }
  return data;
}

}  // namespace

Result<TimeZone> local_time_zone() {
  return local_time_zone(std::getenv("TZ"), "/etc/localtime");
}

Result<TimeZone> local_time_zone(const char* tz_env, const std::filesystem::path& localtime) {
  if (tz_env && *tz_env) {
    std::string_view tz = tz_env;
    if (tz.front() == ':') tz.remove_prefix(1);
    if (!tz.empty() && tz.front() == '/') {
      auto data = read_tzif_file(std::filesystem::path(tz), std::string(tz));
      if (!data) return tl::unexpected(data.error());
      return TimeZone::from_tzif(*data, std::string(tz));
    }
    // As glibc: a zone file when there is one, else a POSIX rule ("UTC0", "<+07>-7").
    auto zone = TimeZone::load(tz);
    if (zone) return zone;
    if (zone.error().code() != Errc::not_found && zone.error().code() != Errc::invalid_argument) return zone;
    if (auto rule = TimeZone::from_posix(tz)) return rule;
    return zone;
  }
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(localtime, ec))) return TimeZone();
  std::string name = "localtime";
  if (std::filesystem::is_symlink(std::filesystem::symlink_status(localtime, ec))) {
    const std::string target = std::filesystem::read_symlink(localtime, ec).string();
    if (const auto at = target.find("zoneinfo/"); !ec && at != std::string::npos) {
      name = target.substr(at + 9);
      // "posix/Europe/Berlin" is the same zone as "Europe/Berlin".
      if (name.rfind("posix/", 0) == 0) name = name.substr(6);
    }
  }
  auto data = read_tzif_file(localtime, name);
  if (!data) return tl::unexpected(data.error());
  return TimeZone::from_tzif(*data, name);
}

}  // namespace kho::orchestrate

#include "kho/util/time.hpp"

#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>

#include <fmt/format.h>

namespace kho {

TimeNs now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

void split(TimeNs t, time_t& secs, long& nanos) {
  secs = static_cast<time_t>(t / 1'000'000'000);
  nanos = static_cast<long>(t % 1'000'000'000);
  if (nanos < 0) {
    nanos += 1'000'000'000;
    secs -= 1;
  }
}

bool parse_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

bool valid_fields(const std::tm& tm) {
  return tm.tm_mon >= 0 && tm.tm_mon < 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31 && tm.tm_hour >= 0 &&
         tm.tm_hour < 24 && tm.tm_min >= 0 && tm.tm_min < 60 && tm.tm_sec >= 0 && tm.tm_sec <= 60;
}

}  // namespace

std::string format_rfc3339(TimeNs t) {
  time_t secs;
  long nanos;
  split(t, secs, nanos);
  std::tm tm{};
  localtime_r(&secs, &tm);
  long off = tm.tm_gmtoff;
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (nanos != 0) out += fmt::format(".{:09}", nanos);
  if (off == 0) {
    out += "Z";
  } else {
    char sign = off < 0 ? '-' : '+';
    long a = off < 0 ? -off : off;
    out += fmt::format("{}{:02}:{:02}", sign, a / 3600, a % 3600 / 60);
  }
  return out;
}

std::string format_local(TimeNs t) {
  time_t secs;
  long nanos;
  split(t, secs, nanos);
  std::tm tm{};
  localtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

namespace {
// TimeNs counts nanoseconds in 64 bits (years 1678 to 2261 are safe): a time
// read from a file outside that range would overflow.
bool fits_time_ns(time_t secs) {
  constexpr time_t k_limit = std::numeric_limits<TimeNs>::max() / 1'000'000'000 - 1;
  return secs >= -k_limit && secs <= k_limit;
}
}  // namespace

Result<TimeNs> parse_rfc3339(std::string_view s) {
  auto bad = [&] { return fail(Errc::invalid_argument, "'" + std::string(s) + "' is not an RFC 3339 time"); };
  std::tm tm{};
  int v;
  if (!parse_digits(s, 0, 4, v)) return bad();
  tm.tm_year = v - 1900;
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':')
    return bad();
  if (!parse_digits(s, 5, 2, v)) return bad();
  tm.tm_mon = v - 1;
  if (!parse_digits(s, 8, 2, tm.tm_mday) || !parse_digits(s, 11, 2, tm.tm_hour) ||
      !parse_digits(s, 14, 2, tm.tm_min) || !parse_digits(s, 17, 2, tm.tm_sec))
    return bad();
  if (!valid_fields(tm)) return bad();
  std::size_t pos = 19;
  long nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return bad();
    while (digits < 9) {
      nanos *= 10;
      ++digits;
    }
  }
  long offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int hh, mm;
    if (!parse_digits(s, pos + 1, 2, hh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !parse_digits(s, pos + 4, 2, mm))
      return bad();
    offset = (hh * 3600L + mm * 60L) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  time_t secs = timegm(&tm) - offset;
  if (!fits_time_ns(secs)) return bad();
  return static_cast<TimeNs>(secs) * 1'000'000'000 + nanos;
}

Result<TimeNs> parse_time(std::string_view s) {
  if (auto r = parse_rfc3339(s)) return r;
  auto bad = [&] {
    return fail(Errc::invalid_argument,
                "'" + std::string(s) + "' is not a time: use \"YYYY-MM-DD HH:MM:SS\" (local time) or RFC 3339");
  };
  std::tm tm{};
  int v;
  if (!parse_digits(s, 0, 4, v) || s.size() < 10 || s[4] != '-' || s[7] != '-') return bad();
  tm.tm_year = v - 1900;
  if (!parse_digits(s, 5, 2, v)) return bad();
  tm.tm_mon = v - 1;
  if (!parse_digits(s, 8, 2, tm.tm_mday)) return bad();
  if (s.size() > 10) {
    if ((s[10] != ' ' && s[10] != 'T') || s.size() < 16 || s[13] != ':') return bad();
    if (!parse_digits(s, 11, 2, tm.tm_hour) || !parse_digits(s, 14, 2, tm.tm_min)) return bad();
    if (s.size() > 16) {
      if (s.size() != 19 || s[16] != ':' || !parse_digits(s, 17, 2, tm.tm_sec)) return bad();
    }
  }
  if (!valid_fields(tm)) return bad();
  tm.tm_isdst = -1;
  time_t secs = mktime(&tm);
  if (secs == static_cast<time_t>(-1) || !fits_time_ns(secs)) return bad();
  return static_cast<TimeNs>(secs) * 1'000'000'000;
}

std::string format_duration(double seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 10) return fmt::format("{:.1f}s", seconds);
  auto total = static_cast<long long>(std::llround(seconds));
  long long h = total / 3600, m = total % 3600 / 60, s = total % 60;
  if (h >= 48) return fmt::format("{}d{:02}h", h / 24, h % 24);
  if (h > 0) return fmt::format("{}h{:02}m", h, m);
  if (m > 0) return fmt::format("{}m{:02}s", m, s);
  return fmt::format("{}s", s);
}

Result<double> parse_duration(std::string_view text) {
  auto bad = [&] {
    return fail(Errc::invalid_argument, "'" + std::string(text) + "' is not a duration (examples: 90s, 30m, 24h, 7d, 2w, 1y)");
  };
  if (text.empty()) return bad();
  double total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t start = pos;
    while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) ++pos;
    if (pos == start || pos == text.size()) return bad();
    double n;
    try {
      n = std::stod(std::string(text.substr(start, pos - start)));
    } catch (...) {
      return bad();
    }
    double unit;
    switch (text[pos]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
      case 'y': unit = 365 * 86400; break;
      default: return bad();
    }
    ++pos;
    total += n * unit;
  }
  return total;
}

std::string format_size(std::uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.{}f} {}", v, v < 10 ? 2 : (v < 100 ? 1 : 0), units[u]);
}

}  // namespace kho

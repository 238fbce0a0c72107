// Wall-clock times: nanoseconds since the Unix epoch, RFC 3339 text, durations.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kho/util/error.hpp"

namespace kho {

using TimeNs = std::int64_t;  // nanoseconds since 1970-01-01T00:00:00Z

TimeNs now_ns();

// RFC 3339 in the local time zone with its offset and nanoseconds when non-zero:
// "2026-01-30T10:00:00+07:00", "2026-01-30T10:00:00.123456789+07:00".
std::string format_rfc3339(TimeNs t);
// Local "YYYY-MM-DD HH:MM:SS" for tables.
std::string format_local(TimeNs t);

// Parses RFC 3339 ("Z" or "+hh:mm" offset, optional fraction). Times that TimeNs
// cannot hold (before 1678 or after 2261) are refused.
Result<TimeNs> parse_rfc3339(std::string_view text);
// Parses "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM[:SS]" or "YYYY-MM-DD" as local time,
// or any RFC 3339 time.
Result<TimeNs> parse_time(std::string_view text);

// "1m23s", "2h05m", "0.4s".
std::string format_duration(double seconds);
// Parses "30m", "24h", "7d", "1h30m", "90s", "2w", "1y6m"? (units: s m h d w; y=365d).
Result<double> parse_duration(std::string_view text);

// "1.5 MiB" style sizes.
std::string format_size(std::uint64_t bytes);

}  // namespace kho

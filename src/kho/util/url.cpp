#include "kho/util/url.hpp"

#include "kho/util/secret.hpp"

namespace kho {

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view text, std::string_view what) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int hi = i + 2 < text.size() ? hex_digit_value(text[i + 1]) : -1;
    int lo = i + 2 < text.size() ? hex_digit_value(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      secure_wipe(out.data(), out.size());
      return failf(Errc::invalid_argument,
                   "the {} in the repository location has a '%' that is not followed by two hex digits "
                   "(write %25 for a literal '%')",
                   what);
    }
    if (hi == 0 && lo == 0) {
      secure_wipe(out.data(), out.size());
      return failf(Errc::invalid_argument, "the {} in the repository location contains %00", what);
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::size_t scheme_length(std::string_view location) {
  if (location.empty() || location[0] < 'a' || location[0] > 'z') return 0;
  for (std::size_t i = 1; i < location.size(); ++i) {
    char c = location[i];
    if (c == ':') return i;
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '-';
    if (!ok) return 0;
  }
  return 0;
}

}  // namespace kho

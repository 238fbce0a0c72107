#include "kho/backend/object_names.hpp"

#include <sys/random.h>

#include <array>
#include <random>

namespace kho::backend {

namespace {
constexpr std::size_t k_max_name = 200;

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
}  // namespace

Status check_object_name(const Handle& handle) {
  if (handle.type == ObjectType::config) return {};
  const std::string& name = handle.name;
  auto bad = [&](const char* why) {
    return failf(Errc::invalid_argument, "invalid {} object name '{}': {}", type_dir(handle.type), name, why);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > k_max_name) return bad("longer than 200 bytes");
  if (name[0] == '.') return bad("starts with '.'");
  if (name.find('/') != std::string::npos || name.find('\0') != std::string::npos) return bad("contains '/' or NUL");
  if (name.find(k_temp_marker) != std::string::npos) return bad("contains '.tmp-', reserved for temporary files");
  if (handle.type == ObjectType::data && (name.size() < 2 || !is_lower_hex(name[0]) || !is_lower_hex(name[1])))
    return bad("a data object name must start with two lowercase hex digits");
  return {};
}

std::string data_dir_name(unsigned i) {
  constexpr char digits[] = "0123456789abcdef";
  return {digits[(i >> 4) & 15], digits[i & 15]};
}

bool is_data_dir_name(std::string_view name) {
  return name.size() == 2 && is_lower_hex(name[0]) && is_lower_hex(name[1]);
}

std::string random_temp_suffix() {
  std::array<std::uint8_t, 8> buf{};
  if (::getrandom(buf.data(), buf.size(), 0) != static_cast<ssize_t>(buf.size())) {
    std::random_device rd;  // getrandom cannot fail for 8 bytes once the pool is ready; belt and braces
    for (auto& b : buf) b = static_cast<std::uint8_t>(rd());
  }
  return to_hex(buf);
}

bool is_temporary_name(std::string_view name) {
  return name.starts_with('.') || name.find(k_temp_marker) != std::string_view::npos;
}

}  // namespace kho::backend

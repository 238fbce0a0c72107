// A 32-byte object or blob identifier, written as 64 lowercase hex characters.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "kho/util/bytes.hpp"

namespace kho {

struct Id {
  static constexpr std::size_t k_size = 32;
  std::array<std::uint8_t, k_size> bytes{};

  std::string hex() const { return to_hex(bytes); }
  std::string short_hex() const { return hex().substr(0, 8); }
  bool is_zero() const {
    for (auto b : bytes)
      if (b) return false;
    return true;
  }
  // Parses exactly 64 hex characters.
  static Result<Id> parse(std::string_view hex);
  static Id from_span(ByteSpan span) {
    Id id;
    std::memcpy(id.bytes.data(), span.data(), k_size);
    return id;
  }

  auto operator<=>(const Id&) const = default;
  bool operator==(const Id&) const = default;
};

struct IdHash {
  std::size_t operator()(const Id& id) const {
    std::size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof h);
    return h;
  }
};

inline Result<Id> Id::parse(std::string_view hex) {
  if (hex.size() != 2 * k_size) return fail(Errc::invalid_argument, "'" + std::string(hex) + "' is not a 64-character ID");
  auto bytes = from_hex(hex);
  if (!bytes) return fail(Errc::invalid_argument, "'" + std::string(hex) + "' is not a hex ID");
  return from_span(*bytes);
}

}  // namespace kho

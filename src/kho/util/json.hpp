// Integer fields of the JSON objects kho reads back (config, key files,
// snapshots, locks), which may be damaged or hostile; and JSON text of strings
// that may not be UTF-8.
//
// nlohmann's get<T>() converts by a plain cast: a float outside T's range is
// undefined behaviour, and 4294967297 read as a uint32 becomes 1. These read
// only integers that fit T, and otherwise throw nlohmann::json::type_error (not
// an integer) or nlohmann::json::out_of_range, which the parsers already catch
// and report as a malformed object.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>

namespace kho {

template <class T>
T json_integer(const nlohmann::json& j) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (std::in_range<T>(v)) return static_cast<T>(v);
  } else if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if (std::in_range<T>(v)) return static_cast<T>(v);
  } else {
    throw nlohmann::json::type_error::create(302, std::string("type must be an integer, but is ") + j.type_name(), &j);
  }
  throw nlohmann::json::out_of_range::create(406, "integer " + j.dump() + " is out of range", &j);
}

// JSON text of `j`. Strings that are not valid UTF-8 (file names and paths on
// Linux are bytes; an archive's entry names are anything) are written with each
// invalid byte as U+FFFD instead of failing: nlohmann's own dump() throws on them.
template <class J>
std::string json_dump(const J& j, int indent = -1) {
  return j.dump(indent, ' ', false, J::error_handler_t::replace);
}

// `s` as json_dump() writes it: itself when valid UTF-8, else with U+FFFD for
// each invalid byte. What a string reads back as from JSON kho wrote.
inline std::string as_json_string(const std::string& s) {
  return nlohmann::json::parse(json_dump(nlohmann::json(s))).get<std::string>();
}

// A string field written as JSON null when empty.
inline nlohmann::ordered_json text_or_null(const std::string& text) {
  return text.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text);
}

// object[key] read as above, or `fallback` when the key is absent (as json::value()).
template <class T>
T json_integer(const nlohmann::json& object, const char* key, T fallback) {
  const auto it = object.find(key);
  return it == object.end() ? fallback : json_integer<T>(*it);
}

}  // namespace kho

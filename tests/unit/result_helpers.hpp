// Checking kho::Result values in Catch2 tests.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <utility>

#include "kho/util/error.hpp"

// The value of a Result that must succeed; the test stops with its message otherwise.
template <typename T>
T value_of(kho::Result<T> r) {
  INFO((r ? std::string() : r.error().message()));
  REQUIRE(r.has_value());
  return std::move(*r);
}

// A Status that must be a success; the test stops with its message otherwise.
inline void ok(const kho::Status& s) {
  INFO((s ? std::string() : s.error().message()));
  REQUIRE(s.has_value());
}

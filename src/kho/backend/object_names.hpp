// Object names every backend accepts, and the temporary names backends that
// write in place (local, SFTP) use while an object is being saved.
//
// Names: non-empty, at most 200 bytes (room for a temporary suffix within
// NAME_MAX), no '/', NUL, leading '.', or ".tmp-"; data names start with two
// lowercase hex digits (their directory). The config's name is ignored. The
// rules are the same everywhere so a repository moves between backends.
#pragma once

#include <string>
#include <string_view>

#include "kho/backend/backend.hpp"

namespace kho::backend {

inline constexpr std::string_view k_temp_marker = ".tmp-";

// Errc::invalid_argument naming the object and the rule it breaks.
[[nodiscard]] Status check_object_name(const Handle& handle);

// "00" .. "ff": the data directory for i in [0, 256).
std::string data_dir_name(unsigned i);
// True for "00" .. "ff".
bool is_data_dir_name(std::string_view name);

// A random suffix for a temporary file name (16 hex digits).
std::string random_temp_suffix();

// True for directory entries that are not objects: hidden or temporary files.
bool is_temporary_name(std::string_view name);

}  // namespace kho::backend

// Pieces of URL handling shared by the remote backends' location parsers.
#pragma once

#include <string>
#include <string_view>

#include "kho/util/error.hpp"

namespace kho {

// 0-15 for a hex digit (either case), -1 otherwise.
int hex_digit_value(char c);

// Decodes %XX escapes. Fails with Errc::invalid_argument for a '%' not followed
// by two hex digits and for %00; `what` names the part ("user name", "path").
// The partial result is wiped on failure (it may hold a password).
Result<std::string> percent_decode(std::string_view text, std::string_view what);

// Length of a leading URL scheme ("sftp" in "sftp://h/p", ^[a-z][a-z0-9+.-]*:),
// without the colon; 0 when there is none (a plain path).
std::size_t scheme_length(std::string_view location);

}  // namespace kho

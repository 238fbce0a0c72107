// Error values for every fallible kho operation.
//
// Library code returns kho::Result<T> (tl::expected<T, kho::Error>); only the cli
// layer turns errors into exit codes. A message names the object concerned and,
// where it helps, what to do next. `transient()` tells retry wrappers whether a
// second attempt may succeed.
#pragma once

#include <string>
#include <utility>

#include <fmt/format.h>
#include <tl/expected.hpp>

namespace kho {

enum class Errc {
  not_found,
  already_exists,
  corruption,
  io,
  permission,
  timeout,
  invalid_argument,
  unsupported,
  locked,
  wrong_password,
  no_repository,
  interrupted,
  incomplete,
  verification_failed,
  failed,
};

const char* errc_name(Errc code);

class Error {
public:
  Error(Errc code, std::string message, bool transient = false)
      : m_code(code), m_message(std::move(message)), m_transient(transient) {}

  Errc code() const { return m_code; }
  const std::string& message() const { return m_message; }
  bool transient() const { return m_transient; }

  // Returns a copy whose message is "<context>: <message>".
  Error with_context(const std::string& context) const {
    return Error(m_code, context + ": " + m_message, m_transient);
  }

private:
  Errc m_code;
  std::string m_message;
  bool m_transient;
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(Errc code, std::string message, bool transient = false) {
  return tl::unexpected<Error>(Error(code, std::move(message), transient));
}

template <typename... Args>
tl::unexpected<Error> failf(Errc code, fmt::format_string<Args...> format, Args&&... args) {
  return tl::unexpected<Error>(Error(code, fmt::format(format, std::forward<Args>(args)...)));
}

// Error from errno after a failed system call on `what` (a path or object name).
tl::unexpected<Error> fail_errno(const std::string& what, int err);

// Maps an errno value to an error code (ENOENT -> not_found, EACCES -> permission, ...).
Errc errc_from_errno(int err);

}  // namespace kho

// Evaluates a Result/Status expression; returns its error from the enclosing function.
#define KHO_CONCAT_INNER(a, b) a##b
#define KHO_CONCAT(a, b) KHO_CONCAT_INNER(a, b)
#define KHO_TRY_STATUS(expr)                                        \
  do {                                                              \
    auto&& kho_try_result_ = (expr);                                \
    if (!kho_try_result_) return tl::unexpected(kho_try_result_.error()); \
  } while (0)
// `lhs` may be a declaration ("Type name"), so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define KHO_TRY_ASSIGN_IMPL(tmp, lhs, expr)              \
  auto tmp = (expr);                                     \
  if (!tmp) return tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)
#define KHO_TRY_ASSIGN(lhs, expr) KHO_TRY_ASSIGN_IMPL(KHO_CONCAT(kho_try_, __LINE__), lhs, expr)
// NOLINTEND(bugprone-macro-parentheses)

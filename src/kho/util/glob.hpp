// Glob patterns for excludes and restore filters.
//
//   *    any run of characters except '/'
//   **   any run of characters including '/' (whole components when alone: "a/**/b")
//   ?    one character except '/'
//   [..] a character class ([!..] or [^..] negates); \x escapes x
// A pattern without '/' matches a path when it matches any one component
// ("*.tmp" excludes every .tmp file at any depth). A pattern starting with '/'
// is anchored at the root; other patterns with '/' may match at any depth
// ("cache/**" matches /srv/app/cache/x).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kho {

// Matches `text` against `pattern` as a whole.
bool glob_match(std::string_view pattern, std::string_view text);

// True when the absolute path `path` matches `pattern` under the rules above, or
// lies below a directory that does.
bool path_matches(std::string_view pattern, std::string_view path);

// True when `path` (a directory) could contain something `pattern` matches:
// used by restore to walk into the parents of included paths.
bool path_may_contain_match(std::string_view pattern, std::string_view path);

class PathFilter {
public:
  PathFilter() = default;
  PathFilter(std::vector<std::string> includes, std::vector<std::string> excludes)
      : m_includes(std::move(includes)), m_excludes(std::move(excludes)) {}
  bool excluded(std::string_view path) const;  // by an exclude pattern
  bool included(std::string_view path) const;  // by an include (true when none given)
  bool may_contain_included(std::string_view dir) const;
  bool has_includes() const { return !m_includes.empty(); }

private:
  std::vector<std::string> m_includes;
  std::vector<std::string> m_excludes;
};

}  // namespace kho

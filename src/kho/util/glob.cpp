#include "kho/util/glob.hpp"

namespace kho {

namespace {

// Matches a character class starting at pattern[p] == '['; sets `end` past ']'.
bool match_class(std::string_view pattern, std::size_t p, char c, std::size_t& end, bool& ok) {
  std::size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    if (lo == '\\' && i + 1 < pattern.size()) lo = pattern[++i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) matched = true;
    ++i;
  }
  if (i >= pattern.size()) {
    ok = false;  // unterminated class: treat '[' literally
    return false;
  }
  ok = true;
  end = i + 1;
  return matched != negate;
}

bool match_here(std::string_view pat, std::size_t p, std::string_view text, std::size_t t) {
  while (p < pat.size()) {
    char pc = pat[p];
    if (pc == '*') {
      bool double_star = p + 1 < pat.size() && pat[p + 1] == '*';
      std::size_t next = p + (double_star ? 2 : 1);
      if (double_star && next < pat.size() && pat[next] == '/' && (p == 0 || pat[p - 1] == '/')) {
        // "**/" matches zero or more whole components.
        if (match_here(pat, next + 1, text, t)) return true;
        for (std::size_t i = t; i < text.size(); ++i)
          if (text[i] == '/' && match_here(pat, next + 1, text, i + 1)) return true;
        return false;
      }
      for (std::size_t i = t;; ++i) {
        if (match_here(pat, next, text, i)) return true;
        if (i >= text.size()) return false;
        if (!double_star && text[i] == '/') return false;
      }
    }
    if (t >= text.size()) return false;
    if (pc == '?') {
      if (text[t] == '/') return false;
      ++p;
      ++t;
      continue;
    }
    if (pc == '[') {
      std::size_t end;
      bool ok;
      bool m = match_class(pat, p, text[t], end, ok);
      if (ok) {
        if (!m || text[t] == '/') return false;
        p = end;
        ++t;
        continue;
      }
    }
    if (pc == '\\' && p + 1 < pat.size()) pc = pat[++p];
    if (pc != text[t]) return false;
    ++p;
    ++t;
  }
  return t == text.size();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) { return match_here(pattern, 0, text, 0); }

bool path_matches(std::string_view pattern, std::string_view path) {
  if (pattern.empty()) return false;
  while (pattern.size() > 1 && pattern.back() == '/') pattern.remove_suffix(1);
  // Try the path and each of its parents: matching a directory covers what is below it.
  std::string_view p = path;
  for (;;) {
    if (pattern.find('/') == std::string_view::npos) {
      std::size_t slash = p.rfind('/');
      std::string_view base = slash == std::string_view::npos ? p : p.substr(slash + 1);
      if (!base.empty() && glob_match(pattern, base)) return true;
    } else if (pattern.front() == '/') {
      if (glob_match(pattern, p)) return true;
    } else {
      // Unanchored: match against every suffix that starts a component.
      for (std::size_t i = 0; i < p.size(); ++i)
        if ((i == 0 || p[i - 1] == '/') && p[i] != '/' && glob_match(pattern, p.substr(i))) return true;
    }
    std::size_t slash = p.rfind('/');
    if (slash == std::string_view::npos || slash == 0) break;
    p = p.substr(0, slash);
  }
  return false;
}

bool path_may_contain_match(std::string_view pattern, std::string_view dir) {
  if (pattern.empty()) return false;
  if (pattern.front() != '/') return true;  // may match at any depth
  // Anchored: the directory's components must match the pattern's leading ones.
  std::size_t pi = 1, di = 1;
  while (di <= dir.size()) {
    std::size_t dend = dir.find('/', di);
    if (dend == std::string_view::npos) dend = dir.size();
    std::size_t pend = pattern.find('/', pi);
    if (pend == std::string_view::npos) return true;  // the rest of the pattern is in the last component
    std::string_view pcomp = pattern.substr(pi, pend - pi);
    if (pcomp.find("**") != std::string_view::npos) return true;
    if (di >= dir.size()) return true;
    if (!glob_match(pcomp, dir.substr(di, dend - di))) return false;
    pi = pend + 1;
    di = dend + 1;
  }
  return true;
}

bool PathFilter::excluded(std::string_view path) const {
  for (const auto& p : m_excludes)
    if (path_matches(p, path)) return true;
  return false;
}

bool PathFilter::included(std::string_view path) const {
  if (m_includes.empty()) return true;
  for (const auto& p : m_includes)
    if (path_matches(p, path)) return true;
  return false;
}

bool PathFilter::may_contain_included(std::string_view dir) const {
  if (m_includes.empty()) return true;
  for (const auto& p : m_includes)
    if (path_may_contain_match(p, dir)) return true;
  return false;
}

}  // namespace kho

#include "kho/engine/find.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "kho/engine/progress.hpp"
#include "kho/util/glob.hpp"

namespace kho::engine {

using repo::FileType;

namespace {

enum class PatternKind { name, anchored, suffix };

std::string ascii_lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::size_t component_count(std::string_view path) {
  return static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
}

// The matches below one tree, as a DAG over the memo: each item is an entry that
// matches, or a directory with matches below it, or both. Only what an item needs
// is kept (not the whole tree), and paths are built only when the matches of a
// snapshot are emitted.
struct TreeMatches {
  struct Item {
    std::string name;
    FileType type = FileType::file;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    bool matches = false;
    const TreeMatches* below = nullptr;  // set when the subtree holds matches
  };
  std::vector<Item> items;
};

struct MemoKey {
  Id tree;
  std::string dir;  // the directory's path; empty for name patterns (position does not matter)
  bool operator==(const MemoKey&) const = default;
};

struct MemoKeyHash {
  std::size_t operator()(const MemoKey& k) const { return IdHash{}(k.tree) ^ (std::hash<std::string>{}(k.dir) * 31); }
};

class Finder {
public:
  Finder(const repo::Repository& repo, std::string pattern, const FindOptions& options)
      : m_repo(repo), m_ignore_case(options.ignore_case), m_pattern(std::move(pattern)) {
    if (m_ignore_case) m_pattern = ascii_lower(m_pattern);
    if (m_pattern.find('/') == std::string::npos) m_kind = PatternKind::name;
    else if (m_pattern.front() == '/') m_kind = PatternKind::anchored;
    else m_kind = PatternKind::suffix;
    m_pattern_depth = component_count(m_pattern);
    m_pattern_has_globstar = m_pattern.find("**") != std::string::npos;
  }

  // The matches below the tree `id` of the directory at `dir` ("" for the root).
  Result<const TreeMatches*> matches_in(const Id& id, const std::string& dir) {
    repo::TreeDepth nesting;
    if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error(dir.empty() ? "/" : dir));
    MemoKey key{id, m_kind == PatternKind::name ? std::string() : dir};
    if (auto it = m_memo.find(key); it != m_memo.end()) return it->second.get();
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    auto tree = m_repo.load_tree(id);
    if (!tree)
      return tl::unexpected(tree.error().with_context("find cannot read the directory " + (dir.empty() ? "/" : dir) +
                                                      " (tree " + id.short_hex() + ")"));
    auto result = std::make_unique<TreeMatches>();
    for (const auto& node : tree->nodes) {
      std::string path = dir + "/" + node.name;
      TreeMatches::Item item;
      item.matches = matches(node.name, path);
      if (node.subtree && may_match_below(path)) {
        KHO_TRY_ASSIGN(const TreeMatches* below, matches_in(*node.subtree, path));
        if (!below->items.empty()) item.below = below;
      }
      if (!item.matches && !item.below) continue;
      item.name = node.name;
      item.type = node.type;
      item.size = node.type == FileType::file ? node.size : 0;
      item.mtime_ns = node.mtime_ns;
      result->items.push_back(std::move(item));
    }
    const TreeMatches* raw = result.get();
    m_memo.emplace(std::move(key), std::move(result));
    return raw;
  }

  static void emit(const TreeMatches& m, const std::string& dir, const repo::SnapshotRef& snap,
                   std::vector<FindMatch>& out) {
    for (const auto& item : m.items) {
      std::string path = dir + "/" + item.name;
      if (item.matches) out.push_back(FindMatch{snap.id, snap.snapshot.time, path, item.type, item.size, item.mtime_ns});
      if (item.below) emit(*item.below, path, snap, out);
    }
  }

private:
  bool matches(const std::string& name, const std::string& path) const {
    switch (m_kind) {
      case PatternKind::name: return glob_match(m_pattern, m_ignore_case ? ascii_lower(name) : name);
      case PatternKind::anchored: return glob_match(m_pattern, m_ignore_case ? ascii_lower(path) : path);
      case PatternKind::suffix: {
        std::string p = m_ignore_case ? ascii_lower(path) : path;
        std::string_view v = p;
        for (std::size_t i = 1; i < v.size(); ++i)
          if (v[i - 1] == '/' && v[i] != '/' && glob_match(m_pattern, v.substr(i))) return true;
        return false;
      }
    }
    return false;
  }

  // False when nothing below the directory `dir` can match an anchored pattern.
  bool may_match_below(const std::string& dir) const {
    if (m_kind != PatternKind::anchored) return true;
    if (!m_pattern_has_globstar && component_count(dir) >= m_pattern_depth) return false;
    return path_may_contain_match(m_pattern, m_ignore_case ? ascii_lower(dir) : dir);
  }

  const repo::Repository& m_repo;
  bool m_ignore_case;
  std::string m_pattern;
  PatternKind m_kind = PatternKind::name;
  std::size_t m_pattern_depth = 0;
  bool m_pattern_has_globstar = false;
  std::unordered_map<MemoKey, std::unique_ptr<TreeMatches>, MemoKeyHash> m_memo;
};

}  // namespace

Result<std::vector<FindMatch>> find_in_snapshots(const repo::Repository& repo,
                                                 const std::vector<repo::SnapshotRef>& snapshots,
                                                 const std::string& pattern, const FindOptions& options) {
  std::string p = pattern;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p.empty()) return fail(Errc::invalid_argument, "the find pattern is empty: give a glob such as '*.conf'");
  if (p == "/") return fail(Errc::invalid_argument, "the find pattern '/' matches no entry: give a glob such as '/etc/*'");
  Finder finder(repo, std::move(p), options);
  std::vector<FindMatch> out;
  for (const auto& snap : snapshots) {
    auto root = finder.matches_in(snap.snapshot.tree, "");
    if (!root) return tl::unexpected(root.error().with_context("snapshot " + snap.id.short_hex()));
    Finder::emit(**root, "", snap, out);
  }
  return out;
}

}  // namespace kho::engine

#include "kho/engine/diff.hpp"

#include <optional>

#include "kho/engine/progress.hpp"

namespace kho::engine {

using repo::FileType;
using repo::Node;
using repo::Tree;

const char* change_kind_name(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::added: return "added";
    case ChangeKind::removed: return "removed";
    case ChangeKind::modified: return "modified";
    case ChangeKind::metadata: return "metadata";
  }
  return "unknown";
}

namespace {

std::string child_path(const std::string& prefix, const std::string& name) { return prefix + "/" + name; }

std::uint64_t file_size(const Node& n) { return n.type == FileType::file ? n.size : 0; }

bool same_content(const Node& x, const Node& y) {
  if (x.type != y.type) return false;
  switch (x.type) {
    case FileType::file: return x.content == y.content;
    case FileType::chardev:
    case FileType::blockdev: return x.rdev == y.rdev;
    default: return true;  // directories are compared below, by their subtrees
  }
}

bool same_metadata(const Node& x, const Node& y, bool compare_mtime) {
  return x.mode == y.mode && x.uid == y.uid && x.gid == y.gid && (!compare_mtime || x.mtime_ns == y.mtime_ns) &&
         x.xattrs == y.xattrs && x.link_target == y.link_target;
}

class DiffWalker {
public:
  explicit DiffWalker(const repo::Repository& repo) : m_repo(repo) {}

  // Compares two directories' trees; an absent one counts as empty.
  Status compare(const std::optional<Id>& a, const std::optional<Id>& b, const std::string& prefix) {
    if (a == b) return {};
    repo::TreeDepth nesting;
    if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error(prefix.empty() ? "/" : prefix));
    KHO_TRY_ASSIGN(Tree ta, load(a, prefix));
    KHO_TRY_ASSIGN(Tree tb, load(b, prefix));
    std::size_t i = 0, j = 0;
    while (i < ta.nodes.size() || j < tb.nodes.size()) {
      int order = i == ta.nodes.size()   ? 1
                  : j == tb.nodes.size() ? -1
                                         : ta.nodes[i].name.compare(tb.nodes[j].name);
      if (order < 0) {
        const Node& x = ta.nodes[i++];
        KHO_TRY_STATUS(list_all(x, child_path(prefix, x.name), ChangeKind::removed));
      } else if (order > 0) {
        const Node& y = tb.nodes[j++];
        KHO_TRY_STATUS(list_all(y, child_path(prefix, y.name), ChangeKind::added));
      } else {
        KHO_TRY_STATUS(compare_nodes(ta.nodes[i++], tb.nodes[j++], prefix));
      }
    }
    return {};
  }

  DiffResult take() { return std::move(m_result); }

private:
  Result<Tree> load(const std::optional<Id>& id, const std::string& prefix) const {
    if (!id) return Tree{};
    if (cancelled()) return fail(Errc::interrupted, "interrupted");
    auto tree = m_repo.load_tree(*id);
    if (!tree)
      return tl::unexpected(tree.error().with_context(
          "diff cannot read the directory " + (prefix.empty() ? std::string("/") : prefix) +
          " (tree " + id->short_hex() + "): run 'kho check' to find what is damaged"));
    return tree;
  }

  Status compare_nodes(const Node& x, const Node& y, const std::string& prefix) {
    if (x == y) return {};
    std::string path = child_path(prefix, x.name);
    if (x.type != y.type) {
      record(path, ChangeKind::modified, y.type, file_size(x), file_size(y), &y);
      // What was below the old directory is gone; what is below the new one is new.
      if (x.subtree) KHO_TRY_STATUS(list_below(*x.subtree, path, ChangeKind::removed));
      if (y.subtree) KHO_TRY_STATUS(list_below(*y.subtree, path, ChangeKind::added));
      return {};
    }
    if (x.type == FileType::dir) {
      bool same_subtree = x.subtree == y.subtree;
      if (!same_metadata(x, y, same_subtree)) record(path, ChangeKind::metadata, y.type, 0, 0);
      if (!same_subtree) KHO_TRY_STATUS(compare(x.subtree, y.subtree, path));
      return {};
    }
    if (!same_content(x, y))
      record(path, ChangeKind::modified, y.type, file_size(x), file_size(y), &y);
    else if (!same_metadata(x, y, true))
      record(path, ChangeKind::metadata, y.type, file_size(x), file_size(y));
    return {};
  }

  // Lists `node` at `path` and everything below it as added or removed.
  Status list_all(const Node& node, const std::string& path, ChangeKind kind) {
    std::uint64_t size = file_size(node);
    record(path, kind, node.type, kind == ChangeKind::removed ? size : 0, kind == ChangeKind::added ? size : 0,
           kind == ChangeKind::added ? &node : nullptr);
    if (node.subtree) KHO_TRY_STATUS(list_below(*node.subtree, path, kind));
    return {};
  }

  Status list_below(const Id& tree_id, const std::string& path, ChangeKind kind) {
    repo::TreeDepth nesting;
    if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error(path));
    KHO_TRY_ASSIGN(Tree tree, load(tree_id, path));
    for (const auto& node : tree.nodes) KHO_TRY_STATUS(list_all(node, child_path(path, node.name), kind));
    return {};
  }

  void record(const std::string& path, ChangeKind kind, FileType type, std::uint64_t before, std::uint64_t after,
              const Node* now = nullptr) {
    std::optional<Id> first;
    if (now && now->type == FileType::file && !now->content.empty()) first = now->content.front();
    m_result.changes.push_back(Change{path, kind, type, before, after, first});
    auto& t = m_result.totals;
    switch (kind) {
      case ChangeKind::added: ++t.added; break;
      case ChangeKind::removed: ++t.removed; break;
      case ChangeKind::modified: ++t.modified; break;
      case ChangeKind::metadata: ++t.metadata; break;
    }
    if (after > before) t.bytes_added += after - before;
    else t.bytes_removed += before - after;
  }

  const repo::Repository& m_repo;
  DiffResult m_result;
};

}  // namespace

Result<DiffResult> diff_snapshots(const repo::Repository& repo, const repo::Snapshot& a, const repo::Snapshot& b) {
  DiffWalker walker(repo);
  KHO_TRY_STATUS(walker.compare(a.tree, b.tree, ""));
  return walker.take();
}

}  // namespace kho::engine

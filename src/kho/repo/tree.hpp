// Trees: one directory's entries, stored as a tree blob (a Merkle tree: a
// directory's blob ID changes when anything below it changes).
//
//   tree  := "KHT" || version:u8 (=1) || count:varint || node*       (nodes sorted by name, bytewise, unique)
//   node  := name:str || type:u8 || mode:varint || uid:varint || gid:varint
//            || user:str || group:str || mtime_ns:svarint || ctime_ns:svarint
//            || size:varint || inode:varint || device:varint || nlink:varint || rdev:varint
//            || link_target:str || xattr_count:varint || (name:str || value:str)*
//            || content_count:varint || blob id(32)* || has_subtree:u8 || subtree id(32)?
//   str   := length:varint || bytes
// Names are single path components: non-empty, not "." or "..", no '/' or NUL.
// The decoder rejects anything else, so a crafted tree cannot name a path outside
// the directory it describes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kho/platform/fs.hpp"
#include "kho/util/id.hpp"

namespace kho::repo {

using platform::FileType;

struct Node {
  std::string name;
  FileType type = FileType::file;
  std::uint32_t mode = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string user;
  std::string group;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint64_t size = 0;
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  std::uint64_t nlink = 0;
  std::uint64_t rdev = 0;
  std::string link_target;
  platform::Xattrs xattrs;
  std::vector<Id> content;        // data blobs, in order (files)
  std::optional<Id> subtree;      // directories

  bool operator==(const Node&) const = default;
};

// True for a name that may appear in a tree.
bool valid_node_name(std::string_view name);

// Trees nest at most this deep: a path that deep (two bytes a level at least) is
// longer than the system takes, so no backup makes one and no restore could
// write one; a crafted chain of trees would otherwise take a recursive walk past
// the end of its thread's stack.
constexpr std::size_t k_max_tree_depth = 2048;

// Counts the tree walks open on this thread: each recursive walker holds one
// per level, and refuses to go deeper than k_max_tree_depth.
class TreeDepth {
public:
  TreeDepth() { ++level(); }
  ~TreeDepth() { --level(); }
  TreeDepth(const TreeDepth&) = delete;
  TreeDepth& operator=(const TreeDepth&) = delete;
  bool too_deep() const { return level() > k_max_tree_depth; }
  // The error for a walk that went too deep at `where`.
  static Error error(const std::string& where);

private:
  static std::size_t& level() {
    thread_local std::size_t depth = 0;
    return depth;
  }
};

struct Tree {
  std::vector<Node> nodes;  // sorted by name

  Bytes encode() const;
  static Result<Tree> decode(ByteSpan bytes, const std::string& what);
  const Node* find(std::string_view name) const;
};

nlohmann::ordered_json node_to_json(const Node& node);

}  // namespace kho::repo

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

struct Tree {
  std::vector<Node> nodes;  // sorted by name

  Bytes encode() const;
  static Result<Tree> decode(ByteSpan bytes, const std::string& what);
  const Node* find(std::string_view name) const;
};

nlohmann::ordered_json node_to_json(const Node& node);

}  // namespace kho::repo

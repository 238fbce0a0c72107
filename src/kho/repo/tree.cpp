#include "kho/repo/tree.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace kho::repo {

namespace {
constexpr std::uint8_t k_tree_version = 1;
constexpr std::string_view k_magic = "KHT";
// The smallest encoded node: a one-byte name (2 bytes with its length) and 17
// fields of one byte each (type, mode, owner, names, times, sizes, counts and the
// subtree flag). A count of nodes the remaining bytes cannot hold is refused
// before anything is reserved for it.
constexpr std::size_t k_min_node_size = 2 + 17;
}  // namespace

bool valid_node_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

Bytes Tree::encode() const {
  Bytes out;
  ByteWriter w(out);
  w.raw(as_bytes(k_magic));
  w.u8(k_tree_version);
  w.varint(nodes.size());
  for (const auto& n : nodes) {
    w.str(n.name);
    w.u8(static_cast<std::uint8_t>(n.type));
    w.varint(n.mode);
    w.varint(n.uid);
    w.varint(n.gid);
    w.str(n.user);
    w.str(n.group);
    w.svarint(n.mtime_ns);
    w.svarint(n.ctime_ns);
    w.varint(n.size);
    w.varint(n.inode);
    w.varint(n.device);
    w.varint(n.nlink);
    w.varint(n.rdev);
    w.str(n.link_target);
    w.varint(n.xattrs.size());
    for (const auto& [k, v] : n.xattrs) {
      w.str(k);
      w.str(as_string_view(v));
    }
    w.varint(n.content.size());
    for (const auto& id : n.content) w.raw(id.bytes);
    w.u8(n.subtree ? 1 : 0);
    if (n.subtree) w.raw(n.subtree->bytes);
  }
  return out;
}

Error TreeDepth::error(const std::string& where) {
  return Error(Errc::corruption, fmt::format("{}: trees nested deeper than {} levels (a crafted or damaged snapshot)",
                                             where, k_max_tree_depth));
}

Result<Tree> Tree::decode(ByteSpan bytes, const std::string& what) {
  ByteReader r(bytes, what);
  KHO_TRY_ASSIGN(ByteSpan magic, r.raw(3));
  if (as_string_view(magic) != k_magic) return fail(Errc::corruption, what + " is not a tree");
  KHO_TRY_ASSIGN(std::uint8_t version, r.u8());
  if (version != k_tree_version) return failf(Errc::corruption, "{} has unknown version {}", what, version);
  KHO_TRY_ASSIGN(std::uint64_t count, r.varint());
  if (count > r.remaining() / k_min_node_size) return r.truncated();
  Tree t;
  t.nodes.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    Node n;
    KHO_TRY_ASSIGN(n.name, r.str(4096));
    if (!valid_node_name(n.name)) return failf(Errc::corruption, "{} holds an invalid name {:?}", what, n.name);
    if (!t.nodes.empty() && !(t.nodes.back().name < n.name))
      return failf(Errc::corruption, "{}: entries are not sorted or repeat at {:?}", what, n.name);
    KHO_TRY_ASSIGN(std::uint8_t type, r.u8());
    if (type > static_cast<std::uint8_t>(FileType::socket)) return failf(Errc::corruption, "{}: unknown type {}", what, type);
    n.type = static_cast<FileType>(type);
    KHO_TRY_ASSIGN(std::uint64_t mode, r.varint());
    KHO_TRY_ASSIGN(std::uint64_t uid, r.varint());
    KHO_TRY_ASSIGN(std::uint64_t gid, r.varint());
    if (mode > 07777 || uid > 0xffffffffu || gid > 0xffffffffu) return failf(Errc::corruption, "{}: bad mode or owner", what);
    n.mode = static_cast<std::uint32_t>(mode);
    n.uid = static_cast<std::uint32_t>(uid);
    n.gid = static_cast<std::uint32_t>(gid);
    KHO_TRY_ASSIGN(n.user, r.str(256));
    KHO_TRY_ASSIGN(n.group, r.str(256));
    KHO_TRY_ASSIGN(n.mtime_ns, r.svarint());
    KHO_TRY_ASSIGN(n.ctime_ns, r.svarint());
    KHO_TRY_ASSIGN(n.size, r.varint());
    KHO_TRY_ASSIGN(n.inode, r.varint());
    KHO_TRY_ASSIGN(n.device, r.varint());
    KHO_TRY_ASSIGN(n.nlink, r.varint());
    KHO_TRY_ASSIGN(n.rdev, r.varint());
    KHO_TRY_ASSIGN(n.link_target, r.str(65536));
    KHO_TRY_ASSIGN(std::uint64_t nx, r.varint());
    if (nx > r.remaining() / 2) return r.truncated();
    for (std::uint64_t x = 0; x < nx; ++x) {
      KHO_TRY_ASSIGN(std::string key, r.str(256));
      KHO_TRY_ASSIGN(std::string value, r.str(1 << 20));
      n.xattrs.emplace_back(std::move(key), Bytes(value.begin(), value.end()));
    }
    KHO_TRY_ASSIGN(std::uint64_t nc, r.varint());
    if (nc > r.remaining() / Id::k_size) return r.truncated();
    n.content.reserve(nc);
    for (std::uint64_t c = 0; c < nc; ++c) {
      KHO_TRY_ASSIGN(ByteSpan id, r.raw(Id::k_size));
      n.content.push_back(Id::from_span(id));
    }
    KHO_TRY_ASSIGN(std::uint8_t has_sub, r.u8());
    if (has_sub > 1) return failf(Errc::corruption, "{}: malformed entry {:?}", what, n.name);
    if (has_sub) {
      KHO_TRY_ASSIGN(ByteSpan id, r.raw(Id::k_size));
      n.subtree = Id::from_span(id);
    }
    if ((n.type == FileType::dir) != n.subtree.has_value() || (n.type != FileType::file && !n.content.empty()))
      return failf(Errc::corruption, "{}: entry {:?} is inconsistent with its type", what, n.name);
    t.nodes.push_back(std::move(n));
  }
  if (!r.at_end()) return fail(Errc::corruption, what + " has trailing bytes");
  return t;
}

const Node* Tree::find(std::string_view name) const {
  auto it = std::lower_bound(nodes.begin(), nodes.end(), name,
                             [](const Node& n, std::string_view v) { return n.name < v; });
  if (it != nodes.end() && it->name == name) return &*it;
  return nullptr;
}

nlohmann::ordered_json node_to_json(const Node& n) {
  nlohmann::ordered_json j;
  j["name"] = n.name;
  j["type"] = platform::file_type_name(n.type);
  j["mode"] = fmt::format("{:04o}", n.mode);
  j["uid"] = n.uid;
  j["gid"] = n.gid;
  j["user"] = n.user;
  j["group"] = n.group;
  j["mtime"] = n.mtime_ns;
  j["ctime"] = n.ctime_ns;
  j["size"] = n.size;
  j["inode"] = n.inode;
  j["device"] = n.device;
  j["nlink"] = n.nlink;
  if (n.type == FileType::chardev || n.type == FileType::blockdev) j["rdev"] = n.rdev;
  if (n.type == FileType::symlink) j["link_target"] = n.link_target;
  if (!n.xattrs.empty()) {
    nlohmann::ordered_json x = nlohmann::ordered_json::object();
    for (const auto& [k, v] : n.xattrs) x[k] = to_base64(v);
    j["xattrs"] = x;
  }
  if (n.type == FileType::file) {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& id : n.content) arr.push_back(id.hex());
    j["content"] = arr;
  }
  if (n.subtree) j["subtree"] = n.subtree->hex();
  return j;
}

}  // namespace kho::repo

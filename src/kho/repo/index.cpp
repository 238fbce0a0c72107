#include "kho/repo/index.hpp"

#include <algorithm>
#include <mutex>

namespace kho::repo {

namespace {
constexpr std::size_t k_entry_size = 1 + 1 + 4 + 4 + 4 + Id::k_size;

bool entry_less(const IndexEntry& a, const IndexEntry& b) {
  int c = std::memcmp(a.id.bytes.data(), b.id.bytes.data(), Id::k_size);
  if (c != 0) return c < 0;
  return a.type() < b.type();
}
}  // namespace

Bytes IndexFile::encode() const {
  Bytes out;
  ByteWriter w(out);
  w.u8(1);
  w.varint(superseded.size());
  for (const auto& id : superseded) w.raw(id.bytes);
  w.varint(packs.size());
  for (const auto& p : packs) {
    w.raw(p.pack_id.bytes);
    w.varint(p.blobs.size());
    for (const auto& b : p.blobs) {
      w.u8(static_cast<std::uint8_t>(b.type));
      w.u8(b.compression);
      w.u32(b.offset);
      w.u32(b.stored_length);
      w.u32(b.raw_length);
      w.raw(b.id.bytes);
    }
  }
  return out;
}

Result<IndexFile> IndexFile::decode(ByteSpan content, const std::string& what) {
  ByteReader r(content, what);
  KHO_TRY_ASSIGN(std::uint8_t version, r.u8());
  if (version != 1) return failf(Errc::corruption, "{} has unknown version {}", what, version);
  IndexFile f;
  KHO_TRY_ASSIGN(std::uint64_t nsup, r.varint());
  if (nsup > r.remaining() / Id::k_size) return r.truncated();
  for (std::uint64_t i = 0; i < nsup; ++i) {
    KHO_TRY_ASSIGN(ByteSpan id, r.raw(Id::k_size));
    f.superseded.push_back(Id::from_span(id));
  }
  KHO_TRY_ASSIGN(std::uint64_t npacks, r.varint());
  if (npacks > r.remaining() / (Id::k_size + 1)) return r.truncated();
  f.packs.reserve(npacks);
  for (std::uint64_t i = 0; i < npacks; ++i) {
    IndexPack p;
    KHO_TRY_ASSIGN(ByteSpan pid, r.raw(Id::k_size));
    p.pack_id = Id::from_span(pid);
    KHO_TRY_ASSIGN(std::uint64_t nblobs, r.varint());
    if (nblobs > r.remaining() / k_entry_size) return r.truncated();
    p.blobs.reserve(nblobs);
    for (std::uint64_t j = 0; j < nblobs; ++j) {
      PackedBlob b;
      KHO_TRY_ASSIGN(std::uint8_t type, r.u8());
      KHO_TRY_ASSIGN(b.compression, r.u8());
      KHO_TRY_ASSIGN(b.offset, r.u32());
      KHO_TRY_ASSIGN(b.stored_length, r.u32());
      KHO_TRY_ASSIGN(b.raw_length, r.u32());
      KHO_TRY_ASSIGN(ByteSpan bid, r.raw(Id::k_size));
      if (type > 1 || b.compression > 1 || b.raw_length > k_max_blob_size)
        return failf(Errc::corruption, "{}: malformed entry for blob {}", what, to_hex(bid));
      b.type = static_cast<BlobType>(type);
      b.id = Id::from_span(bid);
      p.blobs.push_back(b);
    }
    f.packs.push_back(std::move(p));
  }
  if (!r.at_end()) return fail(Errc::corruption, what + " has trailing bytes");
  return f;
}

void MasterIndex::add_pack(const Id& pack_id, const std::vector<PackedBlob>& blobs) {
  std::unique_lock lock(m_mutex);
  std::uint32_t pos;
  auto it = m_pack_pos.find(pack_id);
  if (it != m_pack_pos.end()) {
    pos = it->second;
  } else {
    pos = static_cast<std::uint32_t>(m_packs.size());
    m_packs.push_back(pack_id);
    m_pack_pos.emplace(pack_id, pos);
  }
  for (const auto& b : blobs) {
    if (find_locked(b.type, b.id)) continue;
    IndexEntry e;
    e.id = b.id;
    e.pack = pos;
    e.offset = b.offset;
    e.stored_length = b.stored_length;
    e.raw_and_flags = (b.raw_length & k_max_blob_size) | static_cast<std::uint32_t>(b.compression) << 28 |
                      static_cast<std::uint32_t>(b.type) << 31;
    m_fresh_pos.emplace(b.id, static_cast<std::uint32_t>(m_fresh.size()));
    m_fresh.push_back(e);
    (b.type == BlobType::tree ? m_claimed_tree : m_claimed_data).erase(b.id);
  }
  if (m_fresh.size() > 65536) {
    // Keep the unsorted part small so memory stays near 48 bytes a blob.
    m_sorted.insert(m_sorted.end(), m_fresh.begin(), m_fresh.end());
    std::sort(m_sorted.begin(), m_sorted.end(), entry_less);
    m_fresh.clear();
    m_fresh_pos.clear();
  }
}

const IndexEntry* MasterIndex::find_locked(BlobType type, const Id& id) const {
  IndexEntry probe;
  probe.id = id;
  probe.raw_and_flags = static_cast<std::uint32_t>(type) << 31;
  auto it = std::lower_bound(m_sorted.begin(), m_sorted.end(), probe, entry_less);
  if (it != m_sorted.end() && it->id == id && it->type() == type) return &*it;
  // The fresh map holds one position per id; a data and a tree blob with the
  // same id (same bytes) are both possible, so scan the rare collision.
  auto f = m_fresh_pos.find(id);
  if (f != m_fresh_pos.end()) {
    const IndexEntry& e = m_fresh[f->second];
    if (e.type() == type) return &e;
    for (const auto& other : m_fresh)
      if (other.id == id && other.type() == type) return &other;
  }
  return nullptr;
}

PackedBlob MasterIndex::to_blob(const IndexEntry& e) const {
  PackedBlob b;
  b.type = e.type();
  b.compression = e.compression();
  b.offset = e.offset;
  b.stored_length = e.stored_length;
  b.raw_length = e.raw_length();
  b.id = e.id;
  return b;
}

bool MasterIndex::has(BlobType type, const Id& id) const {
  std::shared_lock lock(m_mutex);
  return find_locked(type, id) != nullptr;
}

std::optional<BlobLocation> MasterIndex::find(BlobType type, const Id& id) const {
  std::shared_lock lock(m_mutex);
  const IndexEntry* e = find_locked(type, id);
  if (!e) return std::nullopt;
  return BlobLocation{m_packs[e->pack], to_blob(*e)};
}

bool MasterIndex::claim(BlobType type, const Id& id) {
  std::unique_lock lock(m_mutex);
  if (find_locked(type, id)) return false;
  return (type == BlobType::tree ? m_claimed_tree : m_claimed_data).insert(id).second;
}

void MasterIndex::unclaim(BlobType type, const Id& id) {
  std::unique_lock lock(m_mutex);
  (type == BlobType::tree ? m_claimed_tree : m_claimed_data).erase(id);
}

void MasterIndex::merge() {
  std::unique_lock lock(m_mutex);
  if (m_fresh.empty()) return;
  m_sorted.insert(m_sorted.end(), m_fresh.begin(), m_fresh.end());
  std::sort(m_sorted.begin(), m_sorted.end(), entry_less);
  m_fresh.clear();
  m_fresh_pos.clear();
  m_sorted.shrink_to_fit();
}

std::size_t MasterIndex::blob_count() const {
  std::shared_lock lock(m_mutex);
  return m_sorted.size() + m_fresh.size();
}

bool MasterIndex::has_pack(const Id& pack_id) const {
  std::shared_lock lock(m_mutex);
  return m_pack_pos.count(pack_id) != 0;
}

void MasterIndex::for_each(const std::function<void(const Id&, const PackedBlob&)>& fn) {
  merge();
  std::shared_lock lock(m_mutex);
  for (const auto& e : m_sorted) fn(m_packs[e.pack], to_blob(e));
}

}  // namespace kho::repo

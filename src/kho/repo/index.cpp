#include "kho/repo/index.hpp"

#include <algorithm>
#include <mutex>

namespace kho::repo {

namespace {
constexpr std::size_t k_index_entry_size = 1 + 1 + 4 + 4 + 4 + Id::k_size;

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
    if (nblobs > r.remaining() / k_index_entry_size) return r.truncated();
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

namespace {
IndexEntry make_entry(const PackedBlob& b, std::uint32_t pack) {
  IndexEntry e;
  e.id = b.id;
  e.pack = pack;
  e.offset = b.offset;
  e.stored_length = b.stored_length;
  e.raw_and_flags = (b.raw_length & k_max_blob_size) | static_cast<std::uint32_t>(b.compression) << 28 |
                    static_cast<std::uint32_t>(b.type) << 31;
  return e;
}
}  // namespace

std::uint32_t MasterIndex::add_pack_id(const Id& pack_id) {
  m_packs.push_back(pack_id);
  return static_cast<std::uint32_t>(m_packs.size() - 1);
}

void MasterIndex::add_pack(const Id& pack_id, const std::vector<PackedBlob>& blobs) {
  std::unique_lock lock(m_mutex);
  std::uint32_t pos = add_pack_id(pack_id);
  for (const auto& b : blobs) {
    if (find_locked(b.type, b.id)) continue;
    m_fresh_pos.emplace(b.id, static_cast<std::uint32_t>(m_fresh.size()));
    m_fresh.push_back(make_entry(b, pos));
    (b.type == BlobType::tree ? m_claimed_tree : m_claimed_data).erase(b.id);
  }
  // Keep the unsorted part small so memory stays near 48 bytes a blob.
  if (m_fresh.size() > 65536) fold_fresh();
}

void MasterIndex::bulk_add(const Id& pack_id, const std::vector<PackedBlob>& blobs) {
  std::unique_lock lock(m_mutex);
  std::uint32_t pos = add_pack_id(pack_id);
  for (const auto& b : blobs) m_sorted.push_back(make_entry(b, pos));
  m_sorted_dirty = true;
}

void MasterIndex::fold_fresh(const std::function<bool(const Id& pack)>* usable) {
  if (m_sorted_dirty) {
    std::stable_sort(m_sorted.begin(), m_sorted.end(), entry_less);
    // A blob stored twice keeps one location: the first loaded, or with `usable`
    // the first whose pack it accepts.
    auto same = [](const IndexEntry& a, const IndexEntry& b) { return a.id == b.id && a.type() == b.type(); };
    std::size_t out = 0;
    for (std::size_t i = 0; i < m_sorted.size();) {
      std::size_t end = i + 1;
      while (end < m_sorted.size() && same(m_sorted[i], m_sorted[end])) ++end;
      std::size_t pick = i;
      if (usable && end - i > 1)
        for (std::size_t k = i; k < end; ++k)
          if ((*usable)(m_packs[m_sorted[k].pack])) {
            pick = k;
            break;
          }
      m_sorted[out++] = m_sorted[pick];
      i = end;
    }
    m_sorted.resize(out);
    m_sorted_dirty = false;
  }
  if (m_fresh.empty()) {
    index_buckets();
    return;
  }
  std::sort(m_fresh.begin(), m_fresh.end(), entry_less);
  std::size_t middle = m_sorted.size();
  m_sorted.insert(m_sorted.end(), m_fresh.begin(), m_fresh.end());
  std::inplace_merge(m_sorted.begin(), m_sorted.begin() + static_cast<std::ptrdiff_t>(middle), m_sorted.end(),
                     entry_less);
  m_fresh.clear();
  m_fresh_pos.clear();
  index_buckets();
}

namespace {
// The leading `bits` bits of an ID (IDs sort by their bytes, big end first).
std::size_t bucket_of(const Id& id, unsigned bits) {
  if (bits == 0) return 0;
  std::uint64_t lead = 0;
  for (std::size_t i = 0; i < 8; ++i) lead = lead << 8 | id.bytes[i];
  return static_cast<std::size_t>(lead >> (64 - bits));
}
}  // namespace

void MasterIndex::index_buckets() {
  const std::size_t n = m_sorted.size();
  if (n > UINT32_MAX) {  // positions would not fit: look-ups search the whole array
    m_buckets.clear();
    return;
  }
  unsigned bits = 0;
  while (bits < k_max_bucket_bits && (std::size_t{4} << bits) <= n) ++bits;
  const std::size_t count = std::size_t{1} << bits;
  m_buckets.assign(count + 1, 0);
  std::size_t pos = 0;
  for (std::size_t b = 0; b < count; ++b) {
    while (pos < n && bucket_of(m_sorted[pos].id, bits) < b) ++pos;
    m_buckets[b] = static_cast<std::uint32_t>(pos);
  }
  m_buckets[count] = static_cast<std::uint32_t>(n);
  m_bucket_bits = bits;
  m_bucketed = n;
}

const IndexEntry* MasterIndex::find_locked(BlobType type, const Id& id) const {
  IndexEntry probe;
  probe.id = id;
  probe.raw_and_flags = static_cast<std::uint32_t>(type) << 31;
  auto first = m_sorted.begin(), last = m_sorted.end();
  if (m_bucketed == m_sorted.size() && !m_buckets.empty()) {
    const std::size_t b = bucket_of(id, m_bucket_bits);
    first = m_sorted.begin() + m_buckets[b];
    last = m_sorted.begin() + m_buckets[b + 1];
  }
  auto it = std::lower_bound(first, last, probe, entry_less);
  if (it != last && it->id == id && it->type() == type) return &*it;
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
  if (m_fresh.empty() && !m_sorted_dirty) return;
  fold_fresh();
  m_sorted.shrink_to_fit();
  m_fresh.shrink_to_fit();
  m_packs.shrink_to_fit();
}

void MasterIndex::merge(const std::function<bool(const Id& pack)>& usable) {
  std::unique_lock lock(m_mutex);
  if (m_fresh.empty() && !m_sorted_dirty) return;
  fold_fresh(&usable);
  m_sorted.shrink_to_fit();
  m_fresh.shrink_to_fit();
  m_packs.shrink_to_fit();
}

std::size_t MasterIndex::blob_count() const {
  std::shared_lock lock(m_mutex);
  return m_sorted.size() + m_fresh.size();
}

std::size_t MasterIndex::pack_count() const {
  std::shared_lock lock(m_mutex);
  std::unordered_set<Id, IdHash> distinct(m_packs.begin(), m_packs.end());
  return distinct.size();
}

void MasterIndex::for_each(const std::function<void(const Id&, const PackedBlob&)>& fn) {
  merge();
  std::shared_lock lock(m_mutex);
  for (const auto& e : m_sorted) fn(m_packs[e.pack], to_blob(e));
}

}  // namespace kho::repo

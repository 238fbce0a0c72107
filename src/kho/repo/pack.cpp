#include "kho/repo/pack.hpp"

#include <algorithm>

#include "kho/compress/zstd.hpp"

namespace kho::repo {

namespace {
constexpr std::string_view k_header_ad = "kho:pack-header:v1";
constexpr std::size_t k_entry_size = 1 + 1 + 4 + 4 + 4 + Id::k_size;

Bytes blob_ad(BlobType type, const Id& id) {
  constexpr std::string_view prefix = "kho:blob:v1";
  Bytes ad(prefix.begin(), prefix.end());
  ad.push_back(static_cast<std::uint8_t>(type));
  ad.insert(ad.end(), id.bytes.begin(), id.bytes.end());
  return ad;
}
}  // namespace

const char* blob_type_name(BlobType type) { return type == BlobType::tree ? "tree" : "data"; }

SealedBlob seal_blob(const MasterKeys& keys, const RepoConfig& config, BlobType type, const Id& id, ByteSpan raw) {
  SealedBlob out;
  out.type = type;
  out.id = id;
  out.raw_length = static_cast<std::uint32_t>(raw.size());
  Bytes compressed;
  ByteSpan payload = raw;
  if (config.compression_level > 0 && raw.size() > 64) {
    compress::compress_append(raw, config.compression_level, compressed);
    if (compressed.size() < raw.size()) {
      payload = compressed;
      out.compression = 1;
    }
  }
  Bytes padded;
  if (config.padding == Padding::padme) {
    std::uint64_t target = padme_length(payload.size());
    if (target > payload.size()) {
      padded.assign(payload.begin(), payload.end());
      padded.resize(target, 0);
      payload = padded;
    }
  }
  out.bytes.reserve(payload.size() + crypto::k_seal_overhead);
  crypto::seal_append(keys.encryption, payload, blob_ad(type, id), out.bytes);
  return out;
}

Result<Bytes> open_blob(const MasterKeys& keys, const PackedBlob& blob, ByteSpan stored, const std::string& what) {
  KHO_TRY_ASSIGN(Bytes payload, crypto::open(keys.encryption, stored, blob_ad(blob.type, blob.id), what));
  if (blob.compression == 0) {
    if (payload.size() < blob.raw_length) return fail(Errc::corruption, what + " is shorter than its recorded length");
    payload.resize(blob.raw_length);
    return payload;
  }
  if (blob.compression != 1) return failf(Errc::corruption, "{} has unknown compression {}", what, blob.compression);
  return compress::decompress(payload, blob.raw_length, what);
}

void PackWriter::add(SealedBlob&& blob) {
  PackedBlob p;
  p.type = blob.type;
  p.compression = blob.compression;
  p.offset = static_cast<std::uint32_t>(m_data.size());
  p.stored_length = static_cast<std::uint32_t>(blob.bytes.size());
  p.raw_length = blob.raw_length;
  p.id = blob.id;
  if (m_data.empty()) m_data.reserve(blob.bytes.size() + 17 * 1024 * 1024);
  m_data.insert(m_data.end(), blob.bytes.begin(), blob.bytes.end());
  m_blobs.push_back(p);
}

Bytes PackWriter::finish(const MasterKeys& keys, Id& id) {
  Bytes plain;
  plain.reserve(8 + m_blobs.size() * k_entry_size);
  ByteWriter w(plain);
  w.u8(1);
  w.varint(m_blobs.size());
  for (const auto& b : m_blobs) {
    w.u8(static_cast<std::uint8_t>(b.type));
    w.u8(b.compression);
    w.u32(b.offset);
    w.u32(b.stored_length);
    w.u32(b.raw_length);
    w.raw(b.id.bytes);
  }
  std::size_t before = m_data.size();
  crypto::seal_append(keys.encryption, plain, as_bytes(k_header_ad), m_data);
  ByteWriter(m_data).u32(static_cast<std::uint32_t>(m_data.size() - before));
  id = crypto::sha256(m_data);
  Bytes out = std::move(m_data);
  m_data.clear();
  m_blobs.clear();
  return out;
}

Result<std::vector<PackedBlob>> parse_pack_header(const MasterKeys& keys, ByteSpan tail, std::uint64_t pack_size,
                                                  const std::string& what) {
  if (tail.size() < 4 || tail.size() > pack_size) return fail(Errc::corruption, what + " is too short to be a pack");
  ByteReader len_reader(tail.subspan(tail.size() - 4), what);
  std::uint32_t header_len = *len_reader.u32();
  if (header_len < crypto::k_seal_overhead || header_len + 4ULL > pack_size)
    return fail(Errc::corruption, what + " has an impossible header length");
  if (header_len + 4ULL > tail.size()) return fail(Errc::not_found, what + ": header is longer than the bytes read");
  ByteSpan sealed = tail.subspan(tail.size() - 4 - header_len, header_len);
  KHO_TRY_ASSIGN(Bytes plain, crypto::open(keys.encryption, sealed, as_bytes(k_header_ad), what + " header"));
  ByteReader r(plain, what + " header");
  KHO_TRY_ASSIGN(std::uint8_t version, r.u8());
  if (version != 1) return failf(Errc::corruption, "{} header has unknown version {}", what, version);
  KHO_TRY_ASSIGN(std::uint64_t count, r.varint());
  if (count > r.remaining() / k_entry_size) return r.truncated();
  std::uint64_t blob_area = pack_size - 4 - header_len;
  std::vector<PackedBlob> blobs;
  blobs.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    PackedBlob b;
    KHO_TRY_ASSIGN(std::uint8_t type, r.u8());
    if (type > 1) return failf(Errc::corruption, "{} header: entry {} has unknown type {}", what, i, type);
    b.type = static_cast<BlobType>(type);
    KHO_TRY_ASSIGN(b.compression, r.u8());
    KHO_TRY_ASSIGN(b.offset, r.u32());
    KHO_TRY_ASSIGN(b.stored_length, r.u32());
    KHO_TRY_ASSIGN(b.raw_length, r.u32());
    KHO_TRY_ASSIGN(ByteSpan id, r.raw(Id::k_size));
    b.id = Id::from_span(id);
    if (b.compression > 1 || b.raw_length > k_max_blob_size || b.stored_length < crypto::k_seal_overhead ||
        static_cast<std::uint64_t>(b.offset) + b.stored_length > blob_area)
      return failf(Errc::corruption, "{} header: entry {} ({}) lies outside the pack or is malformed", what, i,
                   b.id.hex());
    blobs.push_back(b);
  }
  if (!r.at_end()) return fail(Errc::corruption, what + " header has trailing bytes");
  return blobs;
}

}  // namespace kho::repo

#include "kho/repo/pack.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include "kho/compress/zstd.hpp"

namespace kho::repo {

namespace {
constexpr std::string_view k_header_ad = "kho:pack-header:v1";
constexpr std::size_t k_entry_size = 1 + 1 + 4 + 4 + 4 + Id::k_size;

// Blobs smaller than this are gathered before they go to the pack's object
// writer, so a pack of small blobs costs few writes; larger ones go straight.
constexpr std::size_t k_pack_buffer = 512 * 1024;

constexpr std::string_view k_blob_ad_prefix = "kho:blob:v1";
using BlobAd = std::array<std::uint8_t, k_blob_ad_prefix.size() + 1 + Id::k_size>;

BlobAd blob_ad(BlobType type, const Id& id) {
  BlobAd ad;
  auto it = std::copy(k_blob_ad_prefix.begin(), k_blob_ad_prefix.end(), ad.begin());
  *it++ = static_cast<std::uint8_t>(type);
  std::copy(id.bytes.begin(), id.bytes.end(), it);
  return ad;
}
}  // namespace

const char* blob_type_name(BlobType type) { return type == BlobType::tree ? "tree" : "data"; }

SealedBlobView seal_blob_scratch(const MasterKeys& keys, const RepoConfig& config, BlobType type, const Id& id,
                                 ByteSpan raw) {
  // nonce || payload (compressed or raw, then padded) || tag, sealed in place.
  thread_local ScratchBuffer scratch;
  SealedBlobView out;
  out.type = type;
  out.id = id;
  out.raw_length = static_cast<std::uint32_t>(raw.size());
  const bool compress = config.compression_level > 0 && raw.size() > 64;
  const bool pad = config.padding == Padding::padme;
  // padme_length is monotonic: no payload pads to more than the raw length would.
  std::size_t room = std::max<std::size_t>(raw.size(), pad ? padme_length(raw.size()) : 0);
  if (compress) room = std::max(room, compress::compress_bound(raw.size()));
  std::uint8_t* buffer = scratch.reserve(crypto::k_nonce_size + room + crypto::k_tag_size);
  std::uint8_t* payload = buffer + crypto::k_nonce_size;
  std::size_t size = 0;
  if (compress) {
    size = compress::compress_into(raw, config.compression_level, payload);
    if (size < raw.size()) out.compression = 1;
  }
  if (out.compression == 0) {
    std::copy(raw.begin(), raw.end(), payload);
    size = raw.size();
  }
  if (pad) {
    const std::uint64_t target = padme_length(size);
    std::fill(payload + size, payload + target, std::uint8_t{0});
    size = target;
  }
  crypto::seal_in_place(keys.encryption, buffer, size, blob_ad(type, id));
  out.bytes = ByteSpan(buffer, size + crypto::k_seal_overhead);
  return out;
}

SealedBlob seal_blob(const MasterKeys& keys, const RepoConfig& config, BlobType type, const Id& id, ByteSpan raw) {
  const SealedBlobView view = seal_blob_scratch(keys, config, type, id, raw);
  SealedBlob out;
  out.type = view.type;
  out.id = view.id;
  out.compression = view.compression;
  out.raw_length = view.raw_length;
  out.bytes.assign(view.bytes.begin(), view.bytes.end());
  return out;
}

namespace {

// The raw content of a blob whose decrypted payload is `payload`: the payload
// itself, or its decompression in this thread's scratch buffer.
Result<ByteSpan> unpack_payload(const PackedBlob& blob, ByteSpan payload, const std::string& what) {
  thread_local ScratchBuffer raw_buffer;
  if (blob.compression == 0) {
    if (payload.size() < blob.raw_length) return fail(Errc::corruption, what + " is shorter than its recorded length");
    return payload.subspan(0, blob.raw_length);
  }
  if (blob.compression != 1) return failf(Errc::corruption, "{} has unknown compression {}", what, blob.compression);
  if (blob.raw_length > k_max_blob_size) return failf(Errc::corruption, "{} declares an impossible length", what);
  std::uint8_t* raw = raw_buffer.reserve(blob.raw_length);
  KHO_TRY_STATUS(compress::decompress_into(payload, blob.raw_length, what, raw));
  return ByteSpan(raw, blob.raw_length);
}

}  // namespace

Result<ByteSpan> open_blob_scratch(const MasterKeys& keys, const PackedBlob& blob, ByteSpan stored,
                                   const std::string& what) {
  thread_local ScratchBuffer payload_buffer;
  // Too short to be sealed: open_into says so, with nothing to write.
  const std::size_t payload_size =
      stored.size() < crypto::k_seal_overhead ? 0 : stored.size() - crypto::k_seal_overhead;
  std::uint8_t* payload = payload_buffer.reserve(payload_size);
  KHO_TRY_STATUS(crypto::open_into(keys.encryption, stored, blob_ad(blob.type, blob.id), what, payload));
  return unpack_payload(blob, ByteSpan(payload, payload_size), what);
}

Result<ByteSpan> open_blob_in_place(const MasterKeys& keys, const PackedBlob& blob, std::span<std::uint8_t> stored,
                                    const std::string& what) {
  // Too short to be sealed: open_into says so before it writes anything.
  const bool sized = stored.size() >= crypto::k_seal_overhead;
  std::uint8_t* payload = sized ? stored.data() + crypto::k_nonce_size : stored.data();
  KHO_TRY_STATUS(crypto::open_into(keys.encryption, stored, blob_ad(blob.type, blob.id), what, payload));
  return unpack_payload(blob, ByteSpan(payload, stored.size() - crypto::k_seal_overhead), what);
}

Result<Bytes> open_blob(const MasterKeys& keys, const PackedBlob& blob, ByteSpan stored, const std::string& what) {
  KHO_TRY_ASSIGN(ByteSpan raw, open_blob_scratch(keys, blob, stored, what));
  return Bytes(raw.begin(), raw.end());
}

PackWriter::PackWriter(std::unique_ptr<backend::ObjectWriter> out) : m_out(std::move(out)) {}

Status PackWriter::write(ByteSpan bytes) {
  m_hash.update(bytes);
  m_size += bytes.size();
  if (m_buffer.size() + bytes.size() <= k_pack_buffer) {
    if (m_buffer.capacity() < k_pack_buffer) m_buffer.reserve(k_pack_buffer);
    m_buffer.insert(m_buffer.end(), bytes.begin(), bytes.end());
    return {};
  }
  KHO_TRY_STATUS(flush());
  if (bytes.size() >= k_pack_buffer / 2) return m_out->append(bytes);
  m_buffer.assign(bytes.begin(), bytes.end());
  return {};
}

Status PackWriter::flush() {
  if (m_buffer.empty()) return {};
  auto status = m_out->append(m_buffer);
  m_buffer.clear();
  return status;
}

Status PackWriter::add(const SealedBlobView& blob) {
  if (m_size + blob.bytes.size() > std::numeric_limits<std::uint32_t>::max())
    return failf(Errc::invalid_argument, "pack would exceed 4 GiB");
  PackedBlob p;
  p.type = blob.type;
  p.compression = blob.compression;
  p.offset = static_cast<std::uint32_t>(m_size);
  p.stored_length = static_cast<std::uint32_t>(blob.bytes.size());
  p.raw_length = blob.raw_length;
  p.id = blob.id;
  KHO_TRY_STATUS(write(blob.bytes));
  m_blobs.push_back(p);
  return {};
}

Status PackWriter::add(const SealedBlob& blob) {
  return add(SealedBlobView{blob.type, blob.id, blob.compression, blob.raw_length, blob.bytes});
}

Result<Id> PackWriter::finish(const MasterKeys& keys) {
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
  Bytes header;
  crypto::seal_append(keys.encryption, plain, as_bytes(k_header_ad), header);
  ByteWriter(header).u32(static_cast<std::uint32_t>(header.size()));
  KHO_TRY_STATUS(write(header));
  KHO_TRY_STATUS(flush());
  Id id = m_hash.finish();
  KHO_TRY_STATUS(m_out->commit(backend::Handle{backend::ObjectType::data, id.hex()}));
  return id;
}

Result<std::vector<PackedBlob>> parse_pack_header_plain(ByteSpan plain, std::uint64_t blob_area,
                                                        const std::string& what) {
  ByteReader r(plain, what + " header");
  KHO_TRY_ASSIGN(std::uint8_t version, r.u8());
  if (version != 1) return failf(Errc::corruption, "{} header has unknown version {}", what, version);
  KHO_TRY_ASSIGN(std::uint64_t count, r.varint());
  if (count > r.remaining() / k_entry_size) return r.truncated();
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
  return parse_pack_header_plain(plain, pack_size - 4 - header_len, what);
}

}  // namespace kho::repo

// Packs: many encrypted blobs followed by an encrypted header listing them.
//
//   pack     := blob* || header || header_length:u32le        (length of `header`)
//   blob     := nonce(24) || XChaCha20-Poly1305(payload || padding) || tag(16)
//               AD = "kho:blob:v1" || type:u8 || blob id(32)
//   payload  := raw content (compression 0) | one zstd frame (compression 1)
//   header   := nonce(24) || XChaCha20-Poly1305(header_plain) || tag(16)
//               AD = "kho:pack-header:v1"
//   header_plain := version:u8 (=1) || count:varint || entry*
//   entry    := type:u8 || compression:u8 || offset:u32le || stored_length:u32le
//               || raw_length:u32le || blob id(32)
// A pack is stored as data/<id[0:2]>/<id> where id = SHA-256 of the whole pack.
// A blob id is the keyed BLAKE2b-256 of the blob's raw content; binding it in the
// AD means a blob moved or swapped inside a pack fails to decrypt.
#pragma once

#include <vector>

#include "kho/repo/config.hpp"
#include "kho/repo/keys.hpp"

namespace kho::repo {

enum class BlobType : std::uint8_t { data = 0, tree = 1 };
const char* blob_type_name(BlobType type);

constexpr std::uint32_t k_max_blob_size = (1U << 28) - 1;  // raw length fits 28 bits

struct PackedBlob {
  BlobType type = BlobType::data;
  std::uint8_t compression = 0;  // 0 none, 1 zstd
  std::uint32_t offset = 0;
  std::uint32_t stored_length = 0;
  std::uint32_t raw_length = 0;
  Id id;
};

// An encrypted blob ready to be put into a pack.
struct SealedBlob {
  BlobType type = BlobType::data;
  Id id;
  std::uint8_t compression = 0;
  std::uint32_t raw_length = 0;
  Bytes bytes;
};

// A sealed blob whose bytes live elsewhere.
struct SealedBlobView {
  BlobType type = BlobType::data;
  Id id;
  std::uint8_t compression = 0;
  std::uint32_t raw_length = 0;
  ByteSpan bytes;
};

// Compresses (when it shrinks), pads and encrypts one blob. Thread-safe.
SealedBlob seal_blob(const MasterKeys& keys, const RepoConfig& config, BlobType type, const Id& id, ByteSpan raw);
// The same into this thread's scratch buffers, which are reused: the view's bytes
// stay valid until this thread seals the next blob. For the backup hot path, where
// a fresh buffer per blob costs more in page faults than the encryption itself.
SealedBlobView seal_blob_scratch(const MasterKeys& keys, const RepoConfig& config, BlobType type, const Id& id,
                                 ByteSpan raw);

// Decrypts and decompresses one stored blob. Fails with Errc::corruption naming
// `what` when the bytes do not authenticate or decompress to raw_length bytes.
Result<Bytes> open_blob(const MasterKeys& keys, const PackedBlob& blob, ByteSpan stored, const std::string& what);
// The same into this thread's scratch buffers: the bytes stay valid until this
// thread opens the next blob. For restore and check, which only pass them on.
Result<ByteSpan> open_blob_scratch(const MasterKeys& keys, const PackedBlob& blob, ByteSpan stored,
                                   const std::string& what);

// Accumulates sealed blobs into one pack in memory. Not thread-safe.
class PackWriter {
public:
  void add(const SealedBlobView& blob);
  void add(const SealedBlob& blob);
  std::size_t size() const { return m_data.size(); }
  std::size_t count() const { return m_blobs.size(); }
  bool empty() const { return m_blobs.empty(); }
  const std::vector<PackedBlob>& blobs() const { return m_blobs; }

  // Appends the header; returns the pack's bytes and sets `id` to their SHA-256.
  Bytes finish(const MasterKeys& keys, Id& id);

private:
  Bytes m_data;
  std::vector<PackedBlob> m_blobs;
};

// Parses the header at the end of a whole pack (or of its tail: `tail` holds the
// last tail.size() bytes of a pack of `pack_size` bytes). Checks that every entry
// lies inside the pack's blob area. Errc::corruption naming `what` otherwise.
Result<std::vector<PackedBlob>> parse_pack_header(const MasterKeys& keys, ByteSpan tail, std::uint64_t pack_size,
                                                  const std::string& what);
// The same for a header already decrypted (`header_plain` above), in a pack whose
// blob area (everything before the sealed header) is `blob_area` bytes long.
Result<std::vector<PackedBlob>> parse_pack_header_plain(ByteSpan plain, std::uint64_t blob_area,
                                                        const std::string& what);

}  // namespace kho::repo

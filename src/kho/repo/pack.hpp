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

#include <memory>
#include <vector>

#include "kho/backend/backend.hpp"
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
// The same, decrypting in place: `stored` is overwritten, and the bytes returned
// lie in it (or, when compressed, in this thread's scratch buffer). For restore,
// whose pack reads land in a buffer of its own: no second buffer per thread.
Result<ByteSpan> open_blob_in_place(const MasterKeys& keys, const PackedBlob& blob, std::span<std::uint8_t> stored,
                                    const std::string& what);

// Writes sealed blobs into one pack through a backend's object writer, hashing
// the bytes as they pass; holds at most 512 KiB of them, so a pack being filled
// costs no more memory than that (with the local backend; remote backends
// gather the pack in memory before they upload it). Not thread-safe.
class PackWriter {
public:
  explicit PackWriter(std::unique_ptr<backend::ObjectWriter> out);
  PackWriter(const PackWriter&) = delete;
  PackWriter& operator=(const PackWriter&) = delete;

  [[nodiscard]] Status add(const SealedBlobView& blob);
  [[nodiscard]] Status add(const SealedBlob& blob);
  std::uint64_t size() const { return m_size; }
  bool empty() const { return m_blobs.empty(); }
  const std::vector<PackedBlob>& blobs() const { return m_blobs; }
  // Whether the pack's bytes are held in memory until finish() (see ObjectWriter).
  bool buffered() const { return m_out->buffered(); }

  // Appends the header and stores the pack as data/<id>, where id is the SHA-256
  // of its bytes; returns the id. The writer is spent afterwards.
  [[nodiscard]] Result<Id> finish(const MasterKeys& keys);

private:
  Status write(ByteSpan bytes);
  Status flush();

  std::unique_ptr<backend::ObjectWriter> m_out;
  crypto::Sha256 m_hash;
  Bytes m_buffer;
  std::uint64_t m_size = 0;
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

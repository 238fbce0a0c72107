// Encryption envelope of the repository files that are not packs: config, index,
// snapshots and locks.
//
//   file      := version:u8 (=1) || compression:u8 || sealed
//   sealed    := nonce(24) || XChaCha20-Poly1305(payload) || tag(16)
//   payload   := content                                    (compression 0)
//              | varint(content length) || zstd frame       (compression 1)
//   AD        := "kho:" || type name || ":" || version || compression
// The type name in the AD ("config", "index", "snapshot", "lock") means a file of
// one type cannot be passed off as another.
#pragma once

#include <string>

#include "kho/backend/backend.hpp"
#include "kho/repo/keys.hpp"

namespace kho::repo {

constexpr std::size_t k_max_object_size = 1ULL << 30;

Bytes seal_object(const MasterKeys& keys, backend::ObjectType type, ByteSpan content, bool compress);

// Fails with Errc::corruption, naming `what`, when the file is not a valid
// envelope for this type and key.
Result<Bytes> open_object(const MasterKeys& keys, backend::ObjectType type, ByteSpan file, const std::string& what);

}  // namespace kho::repo

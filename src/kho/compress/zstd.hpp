// zstd compression of blobs.
//
// Frames carry their content size but no checksum: blobs are compressed and then
// sealed, so the AEAD tag already detects any change to the frame.
#pragma once

#include "kho/util/bytes.hpp"

namespace kho::compress {

// Compresses `data` at `level` into a single zstd frame, appended to `out`.
// Thread-safe (uses a per-thread context).
void compress_append(ByteSpan data, int level, Bytes& out);

// Decompresses one zstd frame at the start of `frame` (trailing bytes after the
// frame, such as padding, are ignored). Fails with Errc::corruption when the frame
// is invalid or its content size differs from `expected_size`; a frame header that
// declares another size is refused before anything is allocated. Thread-safe.
Result<Bytes> decompress(ByteSpan frame, std::size_t expected_size, const std::string& what);

}  // namespace kho::compress

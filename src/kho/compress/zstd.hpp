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
// The most bytes compressing `size` bytes can produce.
std::size_t compress_bound(std::size_t size);
// Compresses into `out`, which has room for compress_bound(data.size()) bytes;
// returns the frame's length.
std::size_t compress_into(ByteSpan data, int level, std::uint8_t* out);

// Decompresses one zstd frame at the start of `frame` (trailing bytes after the
// frame, such as padding, are ignored). Fails with Errc::corruption when the frame
// is invalid or its content size differs from `expected_size`; a frame header that
// declares another size is refused before anything is allocated. Thread-safe.
Result<Bytes> decompress(ByteSpan frame, std::size_t expected_size, const std::string& what);
// The same into `out`, which has room for expected_size bytes.
Status decompress_into(ByteSpan frame, std::size_t expected_size, const std::string& what, std::uint8_t* out);

}  // namespace kho::compress

// zstd compression of blobs.
#pragma once

#include "kho/util/bytes.hpp"

namespace kho::compress {

// Compresses `data` at `level` into a single zstd frame, appended to `out`.
// Thread-safe (uses a per-thread context).
void compress_append(ByteSpan data, int level, Bytes& out);

// Decompresses one zstd frame at the start of `frame` (trailing bytes after the
// frame, such as padding, are ignored). Fails with Errc::corruption when the frame
// is invalid or its content size differs from `expected_size`.
Result<Bytes> decompress(ByteSpan frame, std::size_t expected_size, const std::string& what);

}  // namespace kho::compress

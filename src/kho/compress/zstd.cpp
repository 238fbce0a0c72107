#include "kho/compress/zstd.hpp"

#include <zstd.h>
#include <zstd_errors.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>

namespace kho::compress {

namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Contexts are expensive to create (the compressor's tables are megabytes at high
// levels), so each thread keeps one of each for its lifetime.
ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  if (!ctx) throw std::bad_alloc();
  return ctx.get();
}

ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  if (!ctx) throw std::bad_alloc();
  return ctx.get();
}

bool starts_with_zstd_magic(ByteSpan frame) {
  if (frame.size() < 4) return false;
  const std::uint32_t magic = static_cast<std::uint32_t>(frame[0]) | static_cast<std::uint32_t>(frame[1]) << 8 |
                              static_cast<std::uint32_t>(frame[2]) << 16 | static_cast<std::uint32_t>(frame[3]) << 24;
  return magic == ZSTD_MAGICNUMBER;
}

}  // namespace

void compress_append(ByteSpan data, int level, Bytes& out) {
  ZSTD_CCtx* ctx = thread_cctx();
  const std::size_t start = out.size();
  out.resize(start + ZSTD_compressBound(data.size()));
  // One-shot compression records the content size in the frame header, which
  // decompress() checks before allocating.
  const std::size_t n =
      ZSTD_compressCCtx(ctx, out.data() + start, out.size() - start, data.data(), data.size(), level);
  if (ZSTD_isError(n)) {
    out.resize(start);
    // The output buffer has compressBound() bytes, so only allocation can fail.
    if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation) throw std::bad_alloc();
    std::fprintf(stderr, "kho: zstd compression failed: %s\n", ZSTD_getErrorName(n));
    std::abort();
  }
  out.resize(start + n);
}

Result<Bytes> decompress(ByteSpan frame, std::size_t expected_size, const std::string& what) {
  // Only regular frames: a skippable frame would "decompress" to nothing.
  if (!starts_with_zstd_magic(frame)) return fail(Errc::corruption, what + ": compressed data has no zstd frame header");
  const std::size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size))
    return failf(Errc::corruption, "{}: compressed data is malformed or truncated ({})", what,
                 ZSTD_getErrorName(frame_size));
  // Checked before allocating, so a damaged header cannot demand a huge buffer.
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame_size);
  if (declared == ZSTD_CONTENTSIZE_ERROR)
    return fail(Errc::corruption, what + ": compressed data has a malformed frame header");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected_size)
    return failf(Errc::corruption, "{}: compressed data declares {} bytes but {} were expected", what, declared,
                 expected_size);
  ZSTD_DCtx* ctx = thread_dctx();
  Bytes out(expected_size);
  // With the output capped at expected_size, a frame that inflates further fails.
  const std::size_t n = ZSTD_decompressDCtx(ctx, out.data(), out.size(), frame.data(), frame_size);
  if (ZSTD_isError(n))
    return failf(Errc::corruption, "{}: compressed data is damaged ({})", what, ZSTD_getErrorName(n));
  if (n != expected_size)
    return failf(Errc::corruption, "{}: compressed data holds {} bytes but {} were expected", what, n, expected_size);
  return out;
}

}  // namespace kho::compress

#include "kho/compress/zstd.hpp"

#include <zstd.h>
#include <zstd_errors.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>

namespace kho::compress {

namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Contexts are expensive to create (the compressor's tables are megabytes at high
// levels), so each thread keeps them for its lifetime. zstd sizes a context's
// tables to the input, and frees and reallocates them when an input needs more
// or, after a run of much smaller inputs, far less. Backing up small files
// between large chunks did that all the time: fresh tables, page faults and
// zero-filling for most large chunks. So a thread keeps one compression context
// per class of input size, eight times apart; the largest class holds the
// chunks of large files, whose tables no longer grow with the input.
constexpr std::array<std::size_t, 3> k_context_classes = {4 * 1024, 32 * 1024, 256 * 1024};
constexpr int k_default_level = 3;  // a new repository's

// A thread's context for an input of this size, its parameters set for `level`.
// At the default level, inputs over 256 KiB (the chunks of large files) get match
// tables half the size of zstd's own (hash log 16 and chain log 15, not 17 and 16;
// smaller inputs have about these already): they stay in a core's cache. On the
// benchmark's tree, ~4 % less CPU for the whole first backup and 0.35 % more bytes
// stored. Inputs of 4 KiB or less (small files: 70 % of the tree's pieces, 5 % of its
// bytes) are compressed as at level 1: a quarter less time for them, 0.02 % more
// bytes in the tree's repository. Other levels are zstd's. The parameters are set when the
// level changes, not for every input (they stay across ZSTD_compress2 calls).
ZSTD_CCtx* thread_cctx(std::size_t input_size, int level) {
  struct Context {
    std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx;
    std::optional<int> level;  // the parameters are set for
  };
  thread_local std::array<Context, k_context_classes.size() + 1> contexts;
  std::size_t c = 0;
  while (c < k_context_classes.size() && input_size > k_context_classes[c]) ++c;
  auto& slot = contexts[c];
  if (!slot.ctx) slot.ctx.reset(ZSTD_createCCtx());
  if (!slot.ctx) throw std::bad_alloc();
  if (slot.level != level) {
    const bool tuned = level == k_default_level && c == k_context_classes.size();
    const bool small = level == k_default_level && c == 0;
    ZSTD_CCtx_setParameter(slot.ctx.get(), ZSTD_c_compressionLevel, small ? 1 : level);
    ZSTD_CCtx_setParameter(slot.ctx.get(), ZSTD_c_hashLog, tuned ? 16 : 0);
    ZSTD_CCtx_setParameter(slot.ctx.get(), ZSTD_c_chainLog, tuned ? 15 : 0);
    slot.level = level;
  }
  return slot.ctx.get();
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

std::size_t compress_bound(std::size_t size) { return ZSTD_compressBound(size); }

std::size_t compress_into(ByteSpan data, int level, std::uint8_t* out) {
  ZSTD_CCtx* ctx = thread_cctx(data.size(), level);
  // One-shot compression records the content size in the frame header, which
  // decompress() checks before allocating.
  const std::size_t n = ZSTD_compress2(ctx, out, ZSTD_compressBound(data.size()), data.data(), data.size());
  if (ZSTD_isError(n)) {
    // The output buffer has compressBound() bytes, so only allocation can fail.
    if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation) throw std::bad_alloc();
    std::fprintf(stderr, "kho: zstd compression failed: %s\n", ZSTD_getErrorName(n));
    std::abort();
  }
  return n;
}

void compress_append(ByteSpan data, int level, Bytes& out) {
  const std::size_t start = out.size();
  out.resize(start + ZSTD_compressBound(data.size()));
  out.resize(start + compress_into(data, level, out.data() + start));
}

namespace {
// Checks the frame header against expected_size; returns the frame's length.
// Runs before any output buffer is allocated, so a damaged header cannot demand
// a huge one.
Result<std::size_t> check_frame(ByteSpan frame, std::size_t expected_size, const std::string& what) {
  // Only regular frames: a skippable frame would "decompress" to nothing.
  if (!starts_with_zstd_magic(frame)) return fail(Errc::corruption, what + ": compressed data has no zstd frame header");
  const std::size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size))
    return failf(Errc::corruption, "{}: compressed data is malformed or truncated ({})", what,
                 ZSTD_getErrorName(frame_size));
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame_size);
  if (declared == ZSTD_CONTENTSIZE_ERROR)
    return fail(Errc::corruption, what + ": compressed data has a malformed frame header");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected_size)
    return failf(Errc::corruption, "{}: compressed data declares {} bytes but {} were expected", what, declared,
                 expected_size);
  return frame_size;
}

Status decompress_checked(ByteSpan frame, std::size_t frame_size, std::size_t expected_size, const std::string& what,
                          std::uint8_t* out) {
  ZSTD_DCtx* ctx = thread_dctx();
  // With the output capped at expected_size, a frame that inflates further fails.
  const std::size_t n = ZSTD_decompressDCtx(ctx, out, expected_size, frame.data(), frame_size);
  if (ZSTD_isError(n))
    return failf(Errc::corruption, "{}: compressed data is damaged ({})", what, ZSTD_getErrorName(n));
  if (n != expected_size)
    return failf(Errc::corruption, "{}: compressed data holds {} bytes but {} were expected", what, n, expected_size);
  return {};
}
}  // namespace

Status decompress_into(ByteSpan frame, std::size_t expected_size, const std::string& what, std::uint8_t* out) {
  KHO_TRY_ASSIGN(std::size_t frame_size, check_frame(frame, expected_size, what));
  return decompress_checked(frame, frame_size, expected_size, what, out);
}

Result<Bytes> decompress(ByteSpan frame, std::size_t expected_size, const std::string& what) {
  KHO_TRY_ASSIGN(std::size_t frame_size, check_frame(frame, expected_size, what));
  Bytes out(expected_size);
  KHO_TRY_STATUS(decompress_checked(frame, frame_size, expected_size, what, out.data()));
  return out;
}

}  // namespace kho::compress

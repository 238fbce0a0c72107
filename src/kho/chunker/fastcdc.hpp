// FastCDC content-defined chunking with a secret, seed-derived gear table.
//
// Cut points depend only on content and the gear table, so an insertion changes
// the chunks around it and boundaries re-synchronise afterwards. Normalised
// chunking (level 2): a stricter mask below the average size, a looser one above.
// Every chunk is in [min_size, max_size] except the last of a stream, which may be
// shorter than min_size.
#pragma once

#include <array>
#include <cstdint>

#include "kho/util/bytes.hpp"

namespace kho::chunker {

struct Params {
  std::uint32_t min_size = 512 * 1024;
  std::uint32_t avg_size = 1024 * 1024;  // power of two
  std::uint32_t max_size = 8 * 1024 * 1024;
};

// Fails (Errc::invalid_argument) unless 64 <= min < avg < max <= 64 MiB and avg is a power of two.
Status validate(const Params& params);

using GearTable = std::array<std::uint64_t, 256>;

// Gear table derived from the repository's secret chunker seed (32 bytes):
// entry i = first 8 bytes (little endian) of BLAKE2b-256 keyed with the seed over
// "kho-gear" || u32le(i). REQUIRES: 16 <= seed.size() <= 64 (aborts otherwise).
GearTable derive_gear(ByteSpan seed);

// Finds cut points in a buffer. Stateless between calls: the caller keeps
// unconsumed bytes and calls again with more data appended. A cut depends only on
// the bytes before it, so feeding a stream in pieces gives the same cuts as one
// whole buffer. Immutable after construction: one Chunker may serve many threads.
class Chunker {
public:
  // REQUIRES: validate(params) succeeds. Keeps its own copy of `gear`.
  Chunker(const Params& params, const GearTable& gear);
  Chunker(const Chunker&) = default;
  Chunker& operator=(const Chunker&) = default;
  ~Chunker();  // wipes the gear table

  // Length of the first chunk of `data`. When `at_eof` is false and no cut point
  // is found before the end of `data` (and data.size() < max_size), returns 0:
  // the caller must supply more bytes. When `at_eof` is true, returns a length in
  // (0, data.size()] for non-empty data (0 for empty data). Content-defined cuts
  // are in (min_size, max_size]; a chunk with no cut point is max_size long.
  //
  // `scanned`: when an earlier call for the same chunk start returned 0, the
  // data.size() it was given. Those bytes held no cut point, so the scan picks up
  // after them instead of from the start: feeding a large chunk in small pieces
  // then costs one pass over it, not one per piece. 0 scans from the start.
  std::size_t next_cut(ByteSpan data, bool at_eof, std::size_t scanned = 0) const;

  const Params& params() const { return m_params; }

private:
  Params m_params;
  GearTable m_gear;  // a copy (2 KiB): no lifetime coupling to the caller's table
  std::uint64_t m_mask_small;
  std::uint64_t m_mask_large;
};

// The cuts of one stream that arrives in pieces: remembers how many bytes of the
// current chunk held no cut point, so each call scans only what came since (the
// `scanned` of next_cut()). One per stream; `data` always starts at the chunk start.
class StreamCuts {
public:
  explicit StreamCuts(const Chunker& chunker) : m_chunker(chunker) {}
  // As Chunker::next_cut(data, at_eof).
  std::size_t next(ByteSpan data, bool at_eof) {
    const std::size_t cut = m_chunker.next_cut(data, at_eof, m_scanned);
    m_scanned = cut ? 0 : data.size();
    return cut;
  }

private:
  const Chunker& m_chunker;
  std::size_t m_scanned = 0;
};

}  // namespace kho::chunker

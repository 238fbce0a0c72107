#include "kho/chunker/fastcdc.hpp"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kho::chunker {

namespace {

// `bits` one-bits in the most significant positions. With a left-shifting gear
// hash, bit j of the hash mixes the last j+1 bytes, so the top bits see the whole
// 64-byte window and the low bits only the most recent bytes.
constexpr std::uint64_t high_mask(unsigned bits) {
  if (bits == 0) return 0;
  return bits >= 64 ? ~std::uint64_t{0} : ~std::uint64_t{0} << (64 - bits);
}

// Rolls the gear hash over p[i, end) and returns the offset just past the first
// byte at which (h & mask) == 0, or 0 when there is none. Unrolled by 8: the only
// branches in the loop are the mask tests, which are almost never taken.
//
// Over zero bytes the hash settles on -gear[0] (a fixed point: 2 * -g + g = -g)
// within 64 bytes. Unless that value is a cut point, a run of zeros holds none, and
// the scan passes over it a word at a time (the zeros of a sparse or preallocated
// file: the hash need not be rolled over them).
inline std::size_t scan(const std::uint8_t* p, std::size_t i, std::size_t end, std::uint64_t& hash,
                        std::uint64_t mask, const std::uint64_t* gear) {
  std::uint64_t h = hash;
  const std::uint64_t zero_hash = 0 - gear[0];
  const bool zeros_never_cut = (zero_hash & mask) != 0;
#define KHO_GEAR_STEP(k)                 \
  h = (h << 1) + gear[p[i + (k)]];       \
  if ((h & mask) == 0) [[unlikely]] {    \
    hash = h;                            \
    return i + (k) + 1;                  \
  }
  for (; i + 8 <= end; i += 8) {
    if (h == zero_hash && zeros_never_cut) [[unlikely]] {
      std::uint64_t word;
      while (i + 8 <= end && (std::memcpy(&word, p + i, 8), word == 0)) i += 8;
      if (i + 8 > end) break;
    }
    KHO_GEAR_STEP(0)
    KHO_GEAR_STEP(1)
    KHO_GEAR_STEP(2)
    KHO_GEAR_STEP(3)
    KHO_GEAR_STEP(4)
    KHO_GEAR_STEP(5)
    KHO_GEAR_STEP(6)
    KHO_GEAR_STEP(7)
  }
  for (; i < end; ++i) {
    KHO_GEAR_STEP(0)
  }
#undef KHO_GEAR_STEP
  hash = h;
  return 0;
}

}  // namespace

Status validate(const Params& p) {
  if (p.min_size < 64 || p.min_size >= p.avg_size || p.avg_size >= p.max_size || p.max_size > 64U * 1024 * 1024 ||
      !std::has_single_bit(p.avg_size))
    return failf(Errc::invalid_argument,
                 "chunker sizes min={} avg={} max={} are invalid: need 64 <= min < avg < max <= 64 MiB and avg a "
                 "power of two",
                 p.min_size, p.avg_size, p.max_size);
  return {};
}

GearTable derive_gear(ByteSpan seed) {
  if (sodium_init() < 0 || seed.size() < crypto_generichash_KEYBYTES_MIN || seed.size() > crypto_generichash_KEYBYTES_MAX) {
    std::fputs("kho: chunker seed must be 16 to 64 bytes\n", stderr);
    std::abort();
  }
  GearTable gear{};
  for (std::uint32_t i = 0; i < gear.size(); ++i) {
    const std::uint8_t msg[12] = {'k', 'h', 'o', '-', 'g', 'e', 'a', 'r', static_cast<std::uint8_t>(i),
                                  static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i >> 16),
                                  static_cast<std::uint8_t>(i >> 24)};
    std::uint8_t out[32];
    // Cannot fail with valid sizes (checked above).
    (void)crypto_generichash(out, sizeof out, msg, sizeof msg, seed.data(), seed.size());
    std::uint64_t v = 0;
    for (int b = 7; b >= 0; --b) v = v << 8 | out[b];
    gear[i] = v;
    sodium_memzero(out, sizeof out);
  }
  return gear;
}

Chunker::Chunker(const Params& params, const GearTable& gear) : m_params(params), m_gear(gear) {
  // Normalised chunking, level 2: two more mask bits before the average size
  // (cuts there are 4x rarer), two fewer after it (4x likelier).
  const auto bits = static_cast<unsigned>(std::countr_zero(params.avg_size));
  m_mask_small = high_mask(std::min(bits + 2, 64U));
  m_mask_large = high_mask(bits > 3 ? bits - 2 : 1);
}

// The table is derived from the secret seed: it is key material.
Chunker::~Chunker() { sodium_memzero(m_gear.data(), sizeof m_gear); }

std::size_t Chunker::next_cut(ByteSpan data, bool at_eof, std::size_t scanned) const {
  const std::size_t n = data.size();
  if (n <= m_params.min_size) return at_eof ? n : 0;
  const std::size_t limit = std::min<std::size_t>(n, m_params.max_size);
  const std::size_t normal = std::min<std::size_t>(limit, m_params.avg_size);
  const std::uint8_t* p = data.data();
  const std::uint64_t* gear = m_gear.data();

  // Cut points are not looked for in the first min_size bytes, nor again in bytes
  // an earlier call looked at. The 64 bytes before the first position looked at
  // are hashed so that it sees a full window: whether a position is a cut point
  // depends only on the 64 bytes ending there (and on which side of avg_size it is).
  const std::size_t from = std::clamp<std::size_t>(scanned, m_params.min_size, limit);
  std::uint64_t h = 0;
  for (std::size_t j = from >= 64 ? from - 64 : 0; j < from; ++j) h = (h << 1) + gear[p[j]];

  if (from < normal)
    if (std::size_t cut = scan(p, from, normal, h, m_mask_small, gear)) return cut;
  if (std::size_t cut = scan(p, std::max(from, normal), limit, h, m_mask_large, gear)) return cut;
  if (limit == m_params.max_size) return limit;  // no cut point: a max-sized chunk
  return at_eof ? n : 0;                          // no cut yet: more bytes decide
}

}  // namespace kho::chunker

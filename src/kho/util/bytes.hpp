// Byte buffers, hex encoding and bounds-checked little-endian/varint codecs.
//
// ByteReader never reads past its end: every accessor returns an error (corruption)
// on truncation, so decoders of untrusted bytes built on it reject short input
// cleanly instead of reading out of bounds.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kho/util/error.hpp"

namespace kho {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_string_view(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A reusable buffer that is never zero-filled. For per-thread scratch space in
// hot paths (sealing, compressing), where zeroing fresh memory and faulting its
// pages in cost more than the work done in it. Its address space only grows,
// but after a use beyond `resident` bytes, the next use within that hands the
// pages past it back to the system, so a thread that once sealed an 8 MiB chunk
// does not keep 8 MiB resident for the rest of the run.
class ScratchBuffer {
public:
  explicit ScratchBuffer(std::size_t resident = 2 * 1024 * 1024) : m_resident(resident) {}

  // At least `size` writable bytes; earlier contents are not kept.
  std::uint8_t* reserve(std::size_t size) {
    if (size > m_capacity) {
      const std::size_t grown = std::max(size, m_capacity + m_capacity / 2);
      m_data = std::make_unique_for_overwrite<std::uint8_t[]>(grown);
      m_capacity = grown;
      m_used = 0;
    } else if (m_used > m_resident && size <= m_resident) {
      release_pages(m_data.get() + m_resident, m_used - m_resident);
      m_used = 0;
    }
    m_used = std::max(m_used, size);
    return m_data.get();
  }
  std::uint8_t* data() { return m_data.get(); }
  std::size_t capacity() const { return m_capacity; }

private:
  // Gives the whole pages inside [data, data + size) back (their contents are lost).
  static void release_pages(std::uint8_t* data, std::size_t size);

  std::size_t m_resident;
  std::unique_ptr<std::uint8_t[]> m_data;
  std::size_t m_capacity = 0;
  std::size_t m_used = 0;  // the most requested since the pages were last given back
};

std::string to_hex(ByteSpan bytes);
// Decodes lowercase or uppercase hex; fails on odd length or a non-hex character.
Result<Bytes> from_hex(std::string_view hex);

// Standard base64 with padding. Decoding is strict: it fails (invalid_argument) on
// a bad length or character, misplaced padding, or non-zero bits before padding.
std::string to_base64(ByteSpan bytes);
Result<Bytes> from_base64(std::string_view text);

// Appends encodings to a buffer.
class ByteWriter {
public:
  explicit ByteWriter(Bytes& out) : m_out(out) {}
  void u8(std::uint8_t v) { m_out.push_back(v); }
  void u16(std::uint16_t v);
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void varint(std::uint64_t v);
  void svarint(std::int64_t v);  // zig-zag
  void raw(ByteSpan bytes);
  void str(std::string_view s);  // varint length + bytes

private:
  Bytes& m_out;
};

// Reads encodings from a span; fails with Errc::corruption on truncation.
class ByteReader {
public:
  ByteReader(ByteSpan in, std::string what) : m_in(in), m_what(std::move(what)) {}
  Result<std::uint8_t> u8();
  Result<std::uint16_t> u16();
  Result<std::uint32_t> u32();
  Result<std::uint64_t> u64();
  Result<std::int64_t> i64();
  Result<std::uint64_t> varint();
  Result<std::int64_t> svarint();
  Result<ByteSpan> raw(std::size_t n);
  // A varint-prefixed string of at most `max_len` bytes.
  Result<std::string> str(std::size_t max_len = 1 << 20);
  std::size_t remaining() const { return m_in.size() - m_pos; }
  std::size_t position() const { return m_pos; }
  bool at_end() const { return m_pos == m_in.size(); }
  tl::unexpected<Error> truncated() const;

private:
  ByteSpan m_in;
  std::size_t m_pos = 0;
  std::string m_what;
};

}  // namespace kho

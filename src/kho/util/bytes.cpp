#include "kho/util/bytes.hpp"

#include <sys/mman.h>
#include <unistd.h>

namespace kho {

namespace {
constexpr char k_hex_digits[] = "0123456789abcdef";
constexpr char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

void ScratchBuffer::release_pages(std::uint8_t* data, std::size_t size) {
  static const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + size) & ~(page - 1);
  // Advice only: on failure the pages stay resident, which is merely wasteful.
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

std::string to_hex(ByteSpan bytes) {
  std::string out;
  out.resize(bytes.size() * 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = k_hex_digits[bytes[i] >> 4];
    out[2 * i + 1] = k_hex_digits[bytes[i] & 0xf];
  }
  return out;
}

Result<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return fail(Errc::invalid_argument, "hex string has odd length");
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return fail(Errc::invalid_argument, "not a hex string");
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string to_base64(ByteSpan bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
    out += k_b64[v >> 18 & 63];
    out += k_b64[v >> 12 & 63];
    out += k_b64[v >> 6 & 63];
    out += k_b64[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t v = bytes[i] << 16;
    out += k_b64[v >> 18 & 63];
    out += k_b64[v >> 12 & 63];
    out += "==";
  } else if (rest == 2) {
    std::uint32_t v = bytes[i] << 16 | bytes[i + 1] << 8;
    out += k_b64[v >> 18 & 63];
    out += k_b64[v >> 12 & 63];
    out += k_b64[v >> 6 & 63];
    out += '=';
  }
  return out;
}

Result<Bytes> from_base64(std::string_view text) {
  if (text.size() % 4 != 0) return fail(Errc::invalid_argument, "base64 length is not a multiple of 4");
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return fail(Errc::invalid_argument, "invalid base64 padding");
      v[j] = b64_value(c);
      if (v[j] < 0) return fail(Errc::invalid_argument, "invalid base64 character");
    }
    std::uint32_t n = static_cast<std::uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    // Bits that padding discards must be zero, so each byte string has exactly one encoding.
    if ((pad == 1 && (n & 0xff) != 0) || (pad == 2 && (n & 0xffff) != 0))
      return fail(Errc::invalid_argument, "invalid base64: non-zero bits before the padding");
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    if (pad < 2) out.push_back(static_cast<std::uint8_t>(n >> 8));
    if (pad < 1) out.push_back(static_cast<std::uint8_t>(n));
  }
  return out;
}

void ByteWriter::u16(std::uint16_t v) {
  m_out.push_back(static_cast<std::uint8_t>(v));
  m_out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void ByteWriter::u32(std::uint32_t v) {
  for (int i = 0; i < 4; ++i) m_out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void ByteWriter::u64(std::uint64_t v) {
  for (int i = 0; i < 8; ++i) m_out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void ByteWriter::varint(std::uint64_t v) {
  while (v >= 0x80) {
    m_out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  m_out.push_back(static_cast<std::uint8_t>(v));
}
void ByteWriter::svarint(std::int64_t v) {
  varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}
void ByteWriter::raw(ByteSpan bytes) { m_out.insert(m_out.end(), bytes.begin(), bytes.end()); }
void ByteWriter::str(std::string_view s) {
  varint(s.size());
  raw(as_bytes(s));
}

tl::unexpected<Error> ByteReader::truncated() const {
  return failf(Errc::corruption, "{} is truncated or malformed at byte {}", m_what, m_pos);
}

Result<std::uint8_t> ByteReader::u8() {
  if (remaining() < 1) return truncated();
  return m_in[m_pos++];
}
Result<std::uint16_t> ByteReader::u16() {
  if (remaining() < 2) return truncated();
  std::uint16_t v = static_cast<std::uint16_t>(m_in[m_pos] | m_in[m_pos + 1] << 8);
  m_pos += 2;
  return v;
}
Result<std::uint32_t> ByteReader::u32() {
  if (remaining() < 4) return truncated();
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(m_in[m_pos + i]) << (8 * i);
  m_pos += 4;
  return v;
}
Result<std::uint64_t> ByteReader::u64() {
  if (remaining() < 8) return truncated();
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(m_in[m_pos + i]) << (8 * i);
  m_pos += 8;
  return v;
}
Result<std::int64_t> ByteReader::i64() {
  auto v = u64();
  if (!v) return tl::unexpected(v.error());
  return static_cast<std::int64_t>(*v);
}
Result<std::uint64_t> ByteReader::varint() {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (remaining() < 1) return truncated();
    std::uint8_t b = m_in[m_pos++];
    if (shift == 63 && b > 1) return truncated();
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  return truncated();
}
Result<std::int64_t> ByteReader::svarint() {
  auto v = varint();
  if (!v) return tl::unexpected(v.error());
  return static_cast<std::int64_t>((*v >> 1) ^ (~(*v & 1) + 1));
}
Result<ByteSpan> ByteReader::raw(std::size_t n) {
  if (remaining() < n) return truncated();
  ByteSpan out = m_in.subspan(m_pos, n);
  m_pos += n;
  return out;
}
Result<std::string> ByteReader::str(std::size_t max_len) {
  auto len = varint();
  if (!len) return tl::unexpected(len.error());
  if (*len > max_len || *len > remaining()) return truncated();
  std::string s(reinterpret_cast<const char*>(m_in.data() + m_pos), *len);
  m_pos += *len;
  return s;
}

}  // namespace kho

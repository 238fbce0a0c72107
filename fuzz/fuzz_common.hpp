// Helpers shared by the libFuzzer targets: a fixed test key set, a reader that
// splits the fuzzer's bytes into the arguments of a call, and an in-memory
// backend for targets that need a repository.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "kho/backend/backend.hpp"
#include "kho/repo/keys.hpp"

namespace kho::fuzz {

// A fixed key set (bytes 1..96), so a target can seal inputs the way a writer
// holding the key would and reach the parsers behind the AEAD.
inline const repo::MasterKeys& test_keys() {
  static const repo::MasterKeys keys = [] {
    Bytes all(96);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i + 1);
    ByteSpan s(all);
    return repo::MasterKeys{SecretBytes(s.subspan(0, 32)), SecretBytes(s.subspan(32, 32)),
                            SecretBytes(s.subspan(64, 32))};
  }();
  return keys;
}

// Splits the input: fixed-size integers from the front, the rest as bytes.
// Reading past the end yields zeros.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : m_data(data), m_size(size) {}
  std::uint8_t u8() { return m_pos < m_size ? m_data[m_pos++] : 0; }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t{u8()} << (8 * i);
    return v;
  }
  bool flag() { return (u8() & 1) != 0; }
  // Up to `max` bytes, the length taken from one byte of input.
  ByteSpan bytes_upto(std::size_t max) {
    std::size_t n = std::min<std::size_t>(u8() % (max + 1), m_size - m_pos);
    ByteSpan out(m_data + m_pos, n);
    m_pos += n;
    return out;
  }
  std::string string_upto(std::size_t max) {
    ByteSpan b = bytes_upto(max);
    return std::string(b.begin(), b.end());
  }
  ByteSpan rest() {
    ByteSpan out(m_data + m_pos, m_size - m_pos);
    m_pos = m_size;
    return out;
  }
  bool empty() const { return m_pos >= m_size; }

 private:
  const std::uint8_t* m_data;
  std::size_t m_size;
  std::size_t m_pos = 0;
};

// A backend in memory: objects in a map. `discard_data` drops pack contents (their
// size is kept) so a long fuzzing run does not accumulate them.
class MemBackend final : public backend::Backend {
 public:
  explicit MemBackend(bool discard_data = false) : m_discard_data(discard_data) {}
  Status create() override { return {}; }
  Status save(const backend::Handle& h, ByteSpan data) override {
    std::lock_guard lock(m_mutex);
    Object& o = m_objects[key(h)];
    o.size = data.size();
    if (m_discard_data && h.type == backend::ObjectType::data)
      o.bytes.clear();
    else
      o.bytes.assign(data.begin(), data.end());
    return {};
  }
  Result<Bytes> load(const backend::Handle& h, std::uint64_t offset, std::uint64_t length) override {
    std::lock_guard lock(m_mutex);
    auto it = m_objects.find(key(h));
    if (it == m_objects.end()) return fail(Errc::not_found, backend::describe(h) + " not found");
    const Bytes& b = it->second.bytes;
    if (offset > b.size() || (length && b.size() - offset < length))
      return fail(Errc::corruption, backend::describe(h) + " is shorter than requested");
    std::uint64_t n = length ? length : b.size() - offset;
    return Bytes(b.begin() + static_cast<std::ptrdiff_t>(offset), b.begin() + static_cast<std::ptrdiff_t>(offset + n));
  }
  Result<backend::ObjectInfo> stat(const backend::Handle& h) override {
    std::lock_guard lock(m_mutex);
    auto it = m_objects.find(key(h));
    if (it == m_objects.end()) return fail(Errc::not_found, backend::describe(h) + " not found");
    return backend::ObjectInfo{h.name, it->second.size};
  }
  Result<std::vector<backend::ObjectInfo>> list(backend::ObjectType type) override {
    std::lock_guard lock(m_mutex);
    std::vector<backend::ObjectInfo> out;
    for (const auto& [k, o] : m_objects)
      if (k.first == type) out.push_back({k.second, o.size});
    return out;
  }
  Status remove(const backend::Handle& h) override {
    std::lock_guard lock(m_mutex);
    m_objects.erase(key(h));
    return {};
  }
  backend::Properties properties() const override { return {false, "mem:fuzz"}; }

  // Forgets every object of `type`.
  void clear(backend::ObjectType type) {
    std::lock_guard lock(m_mutex);
    std::erase_if(m_objects, [&](const auto& entry) { return entry.first.first == type; });
  }

 private:
  struct Object {
    std::uint64_t size = 0;
    Bytes bytes;
  };
  static std::pair<backend::ObjectType, std::string> key(const backend::Handle& h) { return {h.type, h.name}; }
  bool m_discard_data;
  std::mutex m_mutex;
  std::map<std::pair<backend::ObjectType, std::string>, Object> m_objects;
};

}  // namespace kho::fuzz

// Buffers for key material and passwords, wiped when destroyed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kho/util/bytes.hpp"

namespace kho {

// Overwrites memory in a way the compiler cannot elide.
void secure_wipe(void* data, std::size_t size);

class SecretBytes {
public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : m_data(size, 0) {}
  explicit SecretBytes(ByteSpan bytes) : m_data(bytes.begin(), bytes.end()) {}
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes& other) {
    if (this != &other) {
      wipe();
      m_data = other.m_data;
    }
    return *this;
  }
  SecretBytes(SecretBytes&& other) noexcept : m_data(std::move(other.m_data)) {}
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      wipe();
      m_data = std::move(other.m_data);
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }

  std::uint8_t* data() { return m_data.data(); }
  const std::uint8_t* data() const { return m_data.data(); }
  std::size_t size() const { return m_data.size(); }
  ByteSpan span() const { return {m_data.data(), m_data.size()}; }

private:
  void wipe() {
    if (!m_data.empty()) secure_wipe(m_data.data(), m_data.size());
  }
  std::vector<std::uint8_t> m_data;
};

// Wipes the whole capacity, not just size(): a moved-from or reassigned short
// string keeps its old characters in the inline (small-string) buffer.
class SecretString {
public:
  SecretString() = default;
  // The moved-from `s` is wiped on purpose: its inline buffer may still hold a short password.
  explicit SecretString(std::string s) : m_value(std::move(s)) {
    secure_wipe(s.data(), s.capacity());  // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move)
  }
  SecretString(const SecretString&) = default;
  SecretString& operator=(const SecretString& other) {
    if (this != &other) {
      wipe();
      m_value = other.m_value;
    }
    return *this;
  }
  SecretString(SecretString&& other) noexcept : m_value(std::move(other.m_value)) { other.wipe(); }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      wipe();
      m_value = std::move(other.m_value);
      other.wipe();
    }
    return *this;
  }
  ~SecretString() { wipe(); }
  const std::string& value() const { return m_value; }
  bool empty() const { return m_value.empty(); }

private:
  void wipe() { secure_wipe(m_value.data(), m_value.capacity()); }
  std::string m_value;
};

}  // namespace kho

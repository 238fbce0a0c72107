// A fresh directory (under /tmp unless told) for one test, removed at the end unless the test
// is unwinding from a failed REQUIRE (then kept for inspection, and its path
// printed). Set KHO_KEEP_TEST_TMP=1 to keep every one.
#pragma once

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>

namespace kho::test {

class ScopedTempDir {
public:
  explicit ScopedTempDir(const std::string& tag = "kho-test", const std::filesystem::path& base = "/tmp") {
    std::string pattern = (base / (tag + "-XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    m_path = pattern;
  }
  ~ScopedTempDir() {
    if (std::uncaught_exceptions() > 0 || std::getenv("KHO_KEEP_TEST_TMP")) {
      std::cerr << "test directory kept: " << m_path << "\n";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  std::string str() const { return m_path.string(); }
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

private:
  std::filesystem::path m_path;
};

}  // namespace kho::test

#pragma once
// Names in archives: libarchive converts entry names between the archive's
// character set (UTF-16 in 7zip, UTF-8 in pax and zip) and the *current
// locale's*. kho runs in the C locale, where every non-ASCII name fails that
// conversion. This switches only the calling thread to C.UTF-8 (glibc's
// built-in locale) for the guard's lifetime; other threads are untouched.
#include <locale.h>

namespace kho::platform {

class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() {
    m_utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    if (m_utf8) m_previous = uselocale(m_utf8);
  }
  ~ScopedUtf8Locale() {
    if (!m_utf8) return;
    uselocale(m_previous);
    freelocale(m_utf8);
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t m_utf8 = nullptr;
  locale_t m_previous = nullptr;
};

}  // namespace kho::platform

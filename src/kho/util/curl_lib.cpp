#include "kho/util/curl_lib.hpp"

#include <dlfcn.h>

#include <atomic>
#include <mutex>
#include <string>

namespace kho::curl {

namespace {

// Set once the library is loaded and set up.
std::atomic<const Api*> g_api{nullptr};

template <typename Fn>
bool bind(void* lib, const char* name, Fn& fn, std::string& missing) {
  fn = reinterpret_cast<Fn>(::dlsym(lib, name));
  if (fn == nullptr) missing = name;
  return fn != nullptr;
}

}  // namespace

const Api* loaded() { return g_api.load(std::memory_order_acquire); }

Status init() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    // Never closed: its handles and global state last until the process ends.
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      error = std::string("cannot load libcurl, which http and https need: ") + (why ? why : "unknown error");
      return;
    }
    static Api api;
    std::string missing;
    const bool complete =
        bind(lib, "curl_global_init", api.global_init, missing) &&
        bind(lib, "curl_easy_init", api.easy_init, missing) &&
        bind(lib, "curl_easy_setopt", api.easy_setopt, missing) &&
        bind(lib, "curl_easy_perform", api.easy_perform, missing) &&
        bind(lib, "curl_easy_getinfo", api.easy_getinfo, missing) &&
        bind(lib, "curl_easy_cleanup", api.easy_cleanup, missing) &&
        bind(lib, "curl_easy_reset", api.easy_reset, missing) &&
        bind(lib, "curl_easy_strerror", api.easy_strerror, missing) &&
        bind(lib, "curl_slist_append", api.slist_append, missing) &&
        bind(lib, "curl_slist_free_all", api.slist_free_all, missing);
    if (!complete) {
      error = "the libcurl found (libcurl.so.4) has no " + missing;
      return;
    }
    if (const CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
      error = std::string("cannot initialise libcurl: ") + api.easy_strerror(rc);
      return;
    }
    g_api.store(&api, std::memory_order_release);
  });
  if (!error.empty()) return fail(Errc::io, error);
  return {};
}

}  // namespace kho::curl

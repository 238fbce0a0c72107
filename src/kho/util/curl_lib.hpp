#pragma once

// libcurl is loaded when it is first needed (http:// and https:// webhooks and
// checks, rest: repositories), not when kho starts: with what it links (TLS,
// LDAP, Kerberos, RTMP, ...) it cost every kho process about 5 MB of memory and
// 10 ms of start-up, most of which never make a request. kho calls libcurl
// through the functions below (curl_easy_setopt is curl::easy_setopt, and so
// on), after init(); <curl/curl.h> gives the types and constants.

#include <type_traits>

#include <curl/curl.h>

#include "kho/util/error.hpp"

namespace kho::curl {

// Loads libcurl and runs curl_global_init(), once; the error says why not.
Status init();

// The libcurl functions kho calls, as the loaded library has them.
struct Api {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

// The library once init() has loaded it, else null. Before that there are no
// handles: easy_init() returns null and the rest fail or do nothing.
const Api* loaded();

inline CURL* easy_init() {
  const Api* api = loaded();
  return api ? api->easy_init() : nullptr;
}
// The argument goes on with the type it is given, as to curl_easy_setopt(): a
// number, a pointer or a function, never an object (a std::string_view would
// pass through the varargs unnoticed and be read as garbage).
template <typename T>
CURLcode easy_setopt(CURL* curl, CURLoption option, T value) {
  static_assert(std::is_scalar_v<T>, "curl::easy_setopt takes a number, a pointer or a function");
  const Api* api = loaded();
  return api ? api->easy_setopt(curl, option, value) : CURLE_FAILED_INIT;
}
inline CURLcode easy_perform(CURL* curl) {
  const Api* api = loaded();
  return api ? api->easy_perform(curl) : CURLE_FAILED_INIT;
}
template <typename T>
CURLcode easy_getinfo(CURL* curl, CURLINFO info, T* out) {
  const Api* api = loaded();
  return api ? api->easy_getinfo(curl, info, out) : CURLE_FAILED_INIT;
}
inline void easy_cleanup(CURL* curl) {
  if (const Api* api = loaded()) api->easy_cleanup(curl);
}
inline void easy_reset(CURL* curl) {
  if (const Api* api = loaded()) api->easy_reset(curl);
}
inline const char* easy_strerror(CURLcode code) {
  const Api* api = loaded();
  return api ? api->easy_strerror(code) : "libcurl is not loaded";
}
inline curl_slist* slist_append(curl_slist* list, const char* text) {
  const Api* api = loaded();
  return api ? api->slist_append(list, text) : nullptr;
}
inline void slist_free_all(curl_slist* list) {
  if (const Api* api = loaded()) api->slist_free_all(list);
}

}  // namespace kho::curl

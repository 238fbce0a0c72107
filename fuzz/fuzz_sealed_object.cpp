// The full open path of sealed objects (repo/sealed_object.hpp) with the test
// key, then the parser of the object's type. The first byte picks the type
// (config, index, snapshot, lock, key, data) and how the rest is used:
//   bit 3 clear: the rest is a stored file as read from a backend (corrupted
//                ciphertext, wrong versions and truncation: all must be refused);
//   bit 3 set:   the rest is a payload the target seals with the test key, as a
//                writer would, with compression byte (bit 4): with compression 1
//                the payload's varint length and zstd frame are fuzzed.
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "kho/crypto/crypto.hpp"
#include "kho/repo/config.hpp"
#include "kho/repo/index.hpp"
#include "kho/repo/lock.hpp"
#include "kho/repo/sealed_object.hpp"
#include "kho/repo/snapshot.hpp"

namespace {
using kho::backend::ObjectType;

constexpr ObjectType k_types[] = {ObjectType::config, ObjectType::index, ObjectType::snapshot,
                                  ObjectType::lock,   ObjectType::key,   ObjectType::data};

const char* ad_name(ObjectType type) {  // as repo/sealed_object.cpp
  switch (type) {
    case ObjectType::config:
      return "config";
    case ObjectType::index:
      return "index";
    case ObjectType::snapshot:
      return "snapshot";
    case ObjectType::lock:
      return "lock";
    case ObjectType::key:
      return "key";
    case ObjectType::data:
      return "data";
  }
  return "";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  fuzz::Input in(data, size);
  const std::uint8_t selector = in.u8();
  const ObjectType type = k_types[(selector & 7) % 6];
  const repo::MasterKeys& keys = fuzz::test_keys();
  Bytes file;
  ByteSpan rest = in.rest();
  if (selector & 8) {
    const std::uint8_t compression = (selector >> 4) & 1;
    std::string ad = std::string("kho:") + ad_name(type) + ":";
    Bytes ad_bytes(ad.begin(), ad.end());
    ad_bytes.push_back(1);
    ad_bytes.push_back(compression);
    file = {1, compression};
    crypto::seal_append(keys.encryption, rest, ad_bytes, file);
  } else {
    file.assign(rest.begin(), rest.end());
  }
  auto content = repo::open_object(keys, type, file, "object fuzz");
  if (!content) return 0;
  switch (type) {
    case ObjectType::config:
      (void)repo::RepoConfig::from_json(*content, "config fuzz");
      break;
    case ObjectType::index:
      (void)repo::IndexFile::decode(*content, "index fuzz");
      break;
    case ObjectType::snapshot:
      (void)repo::Snapshot::from_json(*content, "snapshot fuzz");
      break;
    case ObjectType::lock:
      (void)repo::decode_lock(Id{}, *content);
      break;
    case ObjectType::key:
    case ObjectType::data:
      break;
  }
  return 0;
}

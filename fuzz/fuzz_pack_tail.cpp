// The pack reader's trailer and length handling (repo::parse_pack_header with a
// key) and the blobs it finds (repo::open_blob), for three shapes of input
// chosen by the first byte:
//   0: the bytes are a whole pack (mostly fails authentication: lengths only);
//   1: the bytes are the last bytes of a larger pack (u32le extra size first);
//   2: the bytes are blob area || header_plain: the target seals the header
//      with the test key and appends its length, as a writer would, so the
//      parsed entries then point at fuzzed "blobs" that open_blob must refuse;
//      each blob's bytes are also sealed as a blob payload with the test key, so
//      open_blob's length checks and decompression see fuzzed plaintext.
#include "fuzz_common.hpp"
#include "kho/crypto/crypto.hpp"
#include "kho/repo/pack.hpp"

namespace {
constexpr std::string_view k_header_ad = "kho:pack-header:v1";  // as repo/pack.cpp
constexpr std::string_view k_blob_ad = "kho:blob:v1";           // as repo/pack.cpp

kho::Bytes blob_ad(const kho::repo::PackedBlob& b) {
  kho::Bytes ad(k_blob_ad.begin(), k_blob_ad.end());
  ad.push_back(static_cast<std::uint8_t>(b.type));
  ad.insert(ad.end(), b.id.bytes.begin(), b.id.bytes.end());
  return ad;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  fuzz::Input in(data, size);
  const repo::MasterKeys& keys = fuzz::test_keys();
  const std::uint8_t mode = in.u8() % 3;
  Bytes pack;
  std::uint64_t pack_size = 0;
  Bytes tail;
  if (mode == 0) {
    ByteSpan b = in.rest();
    tail.assign(b.begin(), b.end());
    pack_size = tail.size();
  } else if (mode == 1) {
    const std::uint64_t extra = in.u32();
    ByteSpan b = in.rest();
    tail.assign(b.begin(), b.end());
    pack_size = tail.size() + extra;
  } else {
    const std::uint32_t area = in.u32() % 4096;
    ByteSpan blob_area = in.bytes_upto(255);
    ByteSpan plain = in.rest();
    pack.assign(blob_area.begin(), blob_area.end());
    pack.resize(std::max<std::size_t>(pack.size(), area), 0);
    Bytes sealed = crypto::seal(keys.encryption, plain, as_bytes(k_header_ad));
    pack.insert(pack.end(), sealed.begin(), sealed.end());
    ByteWriter w(pack);
    w.u32(static_cast<std::uint32_t>(sealed.size()));
    tail = pack;
    pack_size = pack.size();
  }
  auto blobs = repo::parse_pack_header(keys, tail, pack_size, "pack fuzz");
  if (!blobs || mode != 2) return 0;
  for (const auto& b : *blobs) {
    ByteSpan stored = ByteSpan(pack).subspan(b.offset, b.stored_length);
    (void)repo::open_blob(keys, b, stored, "blob fuzz");
    Bytes sealed = crypto::seal(keys.encryption, stored, blob_ad(b));
    (void)repo::open_blob(keys, b, sealed, "blob fuzz");
  }
  return 0;
}

#include "kho/repo/sealed_object.hpp"

#include "kho/compress/zstd.hpp"

namespace kho::repo {

namespace {
constexpr std::uint8_t k_version = 1;

Bytes make_ad(backend::ObjectType type, std::uint8_t version, std::uint8_t compression) {
  std::string ad = "kho:";
  switch (type) {
    case backend::ObjectType::config: ad += "config"; break;
    case backend::ObjectType::index: ad += "index"; break;
    case backend::ObjectType::snapshot: ad += "snapshot"; break;
    case backend::ObjectType::lock: ad += "lock"; break;
    case backend::ObjectType::key: ad += "key"; break;
    case backend::ObjectType::data: ad += "data"; break;
  }
  ad += ':';
  Bytes out(ad.begin(), ad.end());
  out.push_back(version);
  out.push_back(compression);
  return out;
}
}  // namespace

Bytes seal_object(const MasterKeys& keys, backend::ObjectType type, ByteSpan content, bool compress) {
  Bytes payload;
  std::uint8_t compression = 0;
  if (compress) {
    ByteWriter w(payload);
    w.varint(content.size());
    compress::compress_append(content, 3, payload);
    compression = 1;
  }
  Bytes out{k_version, compression};
  crypto::seal_append(keys.encryption, compress ? ByteSpan(payload) : content, make_ad(type, k_version, compression),
                      out);
  return out;
}

Result<Bytes> open_object(const MasterKeys& keys, backend::ObjectType type, ByteSpan file, const std::string& what) {
  if (file.size() < 2 + crypto::k_seal_overhead) return fail(Errc::corruption, what + " is truncated");
  std::uint8_t version = file[0];
  std::uint8_t compression = file[1];
  if (version != k_version) return failf(Errc::corruption, "{} has unknown format version {}", what, version);
  if (compression > 1) return failf(Errc::corruption, "{} has unknown compression {}", what, compression);
  KHO_TRY_ASSIGN(Bytes payload, crypto::open(keys.encryption, file.subspan(2), make_ad(type, version, compression), what));
  if (compression == 0) return payload;
  ByteReader r(payload, what);
  KHO_TRY_ASSIGN(std::uint64_t size, r.varint());
  if (size > k_max_object_size) return fail(Errc::corruption, what + " declares an absurd size");
  return compress::decompress(ByteSpan(payload).subspan(r.position()), size, what);
}

}  // namespace kho::repo

// The plaintext pack header parser (repo/pack.hpp, header_plain), as a pack
// whose header decrypted would hand it: entries, varint count, bounds against
// the blob area. Input: blob area length (u32le) || header_plain.
#include <cstdlib>

#include "fuzz_common.hpp"
#include "kho/repo/pack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kho::fuzz::Input in(data, size);
  const std::uint64_t blob_area = in.u32();
  auto blobs = kho::repo::parse_pack_header_plain(in.rest(), blob_area, "pack fuzz");
  if (!blobs) return 0;
  for (const auto& b : *blobs) {
    // The parser's promise: every entry lies inside the blob area.
    if (std::uint64_t{b.offset} + b.stored_length > blob_area || b.raw_length > kho::repo::k_max_blob_size)
      std::abort();
  }
  return 0;
}

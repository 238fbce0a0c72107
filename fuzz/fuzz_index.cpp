// Index file content (repo/index.hpp), as it is after decryption and
// decompression; a decoded index is encoded and decoded again and loaded into a
// MasterIndex, as Repository::load_index does.
#include <cstdlib>

#include "fuzz_common.hpp"
#include "kho/repo/index.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  auto file = repo::IndexFile::decode(ByteSpan(data, size), "index fuzz");
  if (!file) return 0;
  auto again = repo::IndexFile::decode(file->encode(), "index fuzz (re-encoded)");
  if (!again || again->packs.size() != file->packs.size() || again->superseded.size() != file->superseded.size())
    std::abort();
  repo::MasterIndex index;
  for (const auto& pack : file->packs) index.bulk_add(pack.pack_id, pack.blobs);
  index.merge();
  for (const auto& pack : file->packs)
    for (const auto& blob : pack.blobs)
      if (!index.has(blob.type, blob.id)) std::abort();
  return 0;
}

#include "kho/repo/pack_reader.hpp"

#include <algorithm>

namespace kho::repo {

void read_pack_blobs(backend::Backend& backend, const Id& pack_id, const std::vector<PackedBlob>& blobs,
                     const StoredBlobVisitor& visit, const std::function<bool()>& stop) {
  constexpr std::uint64_t k_max_gap = 512 * 1024;
  constexpr std::uint64_t k_max_run = 2 * 1024 * 1024;
  std::size_t i = 0;
  while (i < blobs.size()) {
    if (stop && stop()) return;
    std::size_t j = i + 1;
    std::uint64_t start = blobs[i].offset;
    std::uint64_t end = start + blobs[i].stored_length;
    while (j < blobs.size() && blobs[j].offset <= end + k_max_gap &&
           std::uint64_t{blobs[j].offset} + blobs[j].stored_length - start <= k_max_run) {
      end = std::max<std::uint64_t>(end, blobs[j].offset + blobs[j].stored_length);
      ++j;
    }
    backend::Handle handle{backend::ObjectType::data, pack_id.hex()};
    // This thread's buffer, kept from run to run: a fresh one per run cost a page
    // fault per 4 KiB read. A run longer than k_max_run (one large blob) does not
    // stay resident. The visitor sees each blob's bytes only during its call.
    thread_local ScratchBuffer buffer(k_max_run);
    const std::span<std::uint8_t> bytes(buffer.reserve(end - start), end - start);
    const Status loaded = backend.load_into(handle, start, bytes);
    for (std::size_t k = i; k < j; ++k) {
      if (!loaded)
        visit(k, tl::unexpected<Error>(loaded.error()));
      else
        visit(k, bytes.subspan(blobs[k].offset - start, blobs[k].stored_length));
    }
    i = j;
  }
}

}  // namespace kho::repo

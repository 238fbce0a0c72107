#include "kho/repo/pack_reader.hpp"

#include <algorithm>

namespace kho::repo {

void read_pack_blobs(backend::Backend& backend, const Id& pack_id, const std::vector<PackedBlob>& blobs,
                     const StoredBlobVisitor& visit, const std::function<bool()>& stop) {
  constexpr std::uint64_t k_max_gap = 512 * 1024;
  constexpr std::uint64_t k_max_run = 4 * 1024 * 1024;
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
    auto bytes = backend.load(handle, start, end - start);
    // A backend that breaks its contract must not make us read past the buffer.
    if (bytes && bytes->size() != end - start)
      bytes = failf(Errc::corruption, "{} returned {} bytes instead of {} at offset {}", backend::describe(handle),
                    bytes->size(), end - start, start);
    for (std::size_t k = i; k < j; ++k) {
      if (!bytes) {
        visit(k, tl::unexpected<Error>(bytes.error()));
        continue;
      }
      // A backend returns the range asked for; never trust that with a span.
      if (std::uint64_t{blobs[k].offset} + blobs[k].stored_length - start > bytes->size()) {
        visit(k, tl::unexpected(Error(Errc::corruption,
                                      fmt::format("pack {} returned fewer bytes than asked for", pack_id.hex()))));
        continue;
      }
      visit(k, ByteSpan(bytes->data() + (blobs[k].offset - start), blobs[k].stored_length));
    }
    i = j;
  }
}

}  // namespace kho::repo

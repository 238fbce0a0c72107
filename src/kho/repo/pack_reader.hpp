// Reads chosen blobs out of one pack with few requests: runs of nearby blobs
// (gaps up to 512 KiB, runs up to 2 MiB) come in one ranged load(), so a pack
// is read once, in order, whatever the backend's round-trip time.
#pragma once

#include <functional>
#include <vector>

#include "kho/backend/backend.hpp"
#include "kho/repo/pack.hpp"

namespace kho::repo {

// Called once per blob, in the order of `blobs`, with the blob's stored
// (sealed) bytes or the error that prevented reading them. The bytes are the
// visitor's during the call (it may decrypt them in place), and gone after it.
using StoredBlobVisitor = std::function<void(std::size_t index, const Result<std::span<std::uint8_t>>& stored)>;

// REQUIRES: `blobs` sorted by offset. Stops between runs when `stop` returns true
// (the remaining blobs are not visited).
void read_pack_blobs(backend::Backend& backend, const Id& pack_id, const std::vector<PackedBlob>& blobs,
                     const StoredBlobVisitor& visit, const std::function<bool()>& stop = {});

}  // namespace kho::repo

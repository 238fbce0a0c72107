// The repository config: format version, repository ID and the parameters every
// writer must use. Stored as the sealed object `config` (JSON):
//   {"version": 1, "id": hex(32), "created": RFC3339,
//    "chunker": {"algorithm": "fastcdc", "min_size": n, "avg_size": n, "max_size": n},
//    "compression": {"algorithm": "zstd", "level": n},
//    "pack_size": n, "padding": "none"|"padme"}
#pragma once

#include <string>

#include "kho/chunker/fastcdc.hpp"
#include "kho/util/id.hpp"
#include "kho/util/time.hpp"

namespace kho::repo {

enum class Padding { none, padme };

struct RepoConfig {
  int version = 1;
  Id id;
  TimeNs created = 0;
  chunker::Params chunker;
  int compression_level = 3;  // zstd; 0 stores blobs uncompressed
  std::uint32_t pack_size = 16 * 1024 * 1024;
  Padding padding = Padding::none;

  std::string to_json() const;
  static Result<RepoConfig> from_json(ByteSpan text, const std::string& what);
};

// Padmé: the padded length of a blob of `size` bytes (leaks O(log log n) bits).
std::uint64_t padme_length(std::uint64_t size);

}  // namespace kho::repo

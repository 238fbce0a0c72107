// Snapshot JSON (repo/snapshot.hpp) as it is after decryption, then shown the
// way `kho snapshots --json` shows it.
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "kho/repo/snapshot.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  auto snapshot = repo::Snapshot::from_json(ByteSpan(data, size), "snapshot fuzz");
  if (!snapshot) return 0;
  (void)snapshot->flagged();
  (void)snapshot->has_tag("x");
  std::string text = snapshot->to_json();
  (void)repo::Snapshot::from_json(as_bytes(text), "snapshot fuzz (re-encoded)");
  repo::SnapshotRef ref{Id{}, std::move(*snapshot)};
  (void)repo::snapshot_listing_json(ref).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}

// The repository config JSON (repo/config.hpp) as it is after decryption.
#include "fuzz_common.hpp"
#include "kho/repo/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  auto config = repo::RepoConfig::from_json(ByteSpan(data, size), "config fuzz");
  if (!config) return 0;
  std::string text = config->to_json();
  (void)repo::RepoConfig::from_json(as_bytes(text), "config fuzz (re-encoded)");
  return 0;
}

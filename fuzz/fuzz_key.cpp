// Key files (repo/keys.hpp), stored unencrypted: the public part's parser. The
// KDF itself is not run (its cost is what the parser's limits bound).
#include "fuzz_common.hpp"
#include "kho/repo/keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  (void)repo::parse_key_file(ByteSpan(data, size), "key fuzz");
  return 0;
}

// Lock objects (repo/lock.hpp) as they are after decryption, then described
// and judged stale as `kho unlock` and lock acquisition do.
#include "fuzz_common.hpp"
#include "kho/repo/lock.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  auto lock = repo::decode_lock(Id{}, ByteSpan(data, size));
  if (!lock) return 0;
  (void)lock->describe();
  (void)lock->stale(0);
  return 0;
}

#include "kho/util/secret.hpp"

#include <sodium.h>

namespace kho {

void secure_wipe(void* data, std::size_t size) { sodium_memzero(data, size); }

}  // namespace kho

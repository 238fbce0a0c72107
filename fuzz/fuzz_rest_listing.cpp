// A REST server's answer to a v2 listing (backend/rest/rest_backend.hpp,
// parse_rest_listing), then the checks every listed name meets before kho uses
// it as an object name.
#include "fuzz_common.hpp"
#include "kho/backend/object_names.hpp"
#include "kho/backend/rest/rest_backend.hpp"
#include "kho/util/id.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  const Bytes body(data, data + size);
  auto listing = backend::parse_rest_listing(body, "listing fuzz");
  if (!listing) return 0;
  for (const auto& info : *listing) {
    (void)backend::check_object_name(backend::Handle{backend::ObjectType::data, info.name});
    (void)backend::check_object_name(backend::Handle{backend::ObjectType::snapshot, info.name});
    (void)Id::parse(info.name);
  }
  return 0;
}

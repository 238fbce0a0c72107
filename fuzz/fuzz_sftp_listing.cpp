// An SFTP server's directory listing. libssh parses the SSH_FXP_NAME packets;
// what kho does with each entry (name, type, size) is sftp::listing_entry
// (backend/sftp/sftp_backend.hpp), then the object-name checks and ID parsing
// its callers apply. Input: entries of type:u8 || size:u32le || flags:u8 ||
// name length:u8 || name (bit 0 of flags: objects only; bit 1: null name).
#include <string>

#include "fuzz_common.hpp"
#include "kho/backend/object_names.hpp"
#include "kho/backend/sftp/sftp_backend.hpp"
#include "kho/util/id.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  fuzz::Input in(data, size);
  while (!in.empty()) {
    const std::uint8_t type = in.u8();
    const std::uint64_t object_size = in.u32();
    const std::uint8_t flags = in.u8();
    const std::string name = in.string_upto(255);  // libssh hands over a C string
    const char* c_name = (flags & 2) ? nullptr : name.c_str();
    auto entry = backend::sftp::listing_entry(c_name, type, object_size, (flags & 1) != 0);
    if (!entry) continue;
    (void)backend::check_object_name(backend::Handle{backend::ObjectType::data, entry->name});
    (void)backend::check_object_name(backend::Handle{backend::ObjectType::index, entry->name});
    (void)backend::is_data_dir_name(entry->name);
    (void)Id::parse(entry->name);
  }
  return 0;
}

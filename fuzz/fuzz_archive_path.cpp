// The entry-path check of the archive importer (engine/archive_import.hpp,
// sanitise_entry_path): an accepted path has only safe components.
#include <cstdlib>

#include "fuzz_common.hpp"
#include "kho/engine/archive_import.hpp"
#include "kho/repo/tree.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  std::string_view path(reinterpret_cast<const char*>(data), size);
  // libarchive ends a name at a NUL byte: no path reaches the check with one.
  path = path.substr(0, path.find('\0'));
  std::vector<std::string> components;
  std::vector<std::string> sanitised;
  std::string reason;
  if (!engine::sanitise_entry_path(path, components, reason, sanitised)) return 0;
  for (const auto& c : components)
    if (!repo::valid_node_name(c) || c.size() > 255) std::abort();
  return 0;
}

// Tree blobs (repo/tree.hpp) as they are after decryption: the decoder must
// refuse unsafe names and malformed nodes; a decoded tree is encoded, decoded
// again, shown as JSON (as `kho ls --json` does) and searched.
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "kho/repo/tree.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  auto tree = repo::Tree::decode(ByteSpan(data, size), "tree fuzz");
  if (!tree) return 0;
  for (const auto& node : tree->nodes) {
    if (!repo::valid_node_name(node.name)) std::abort();
    (void)repo::node_to_json(node).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (tree->find(node.name) == nullptr) std::abort();
  }
  auto again = repo::Tree::decode(tree->encode(), "tree fuzz (re-encoded)");
  if (!again || !(again->nodes == tree->nodes)) std::abort();
  return 0;
}

#include "kho/cli/context.hpp"
#include "kho/util/json.hpp"

namespace kho::cli {

namespace {
Status run_cat(Context& ctx, const std::string& what, const std::string& id_text) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(what == "tree" || what == "blob"));
  if (what == "config") {
    fmt::print("{}\n", repo->config().to_json());
    return {};
  }
  if (id_text.empty()) return fail(Errc::invalid_argument, "kho cat " + what + " needs an ID");
  if (what == "snapshot") {
    KHO_TRY_ASSIGN(auto snap, repo->find_snapshot(id_text));
    auto j = nlohmann::ordered_json::parse(snap.snapshot.to_json());
    fmt::print("{}\n", json_dump(j, 2));
    return {};
  }
  KHO_TRY_ASSIGN(Id id, Id::parse(id_text));
  if (what == "tree") {
    KHO_TRY_ASSIGN(repo::Tree tree, repo->load_tree(id));
    auto arr = nlohmann::ordered_json::array();
    for (const auto& n : tree.nodes) arr.push_back(repo::node_to_json(n));
    nlohmann::ordered_json j;
    j["id"] = id.hex();
    j["nodes"] = arr;
    fmt::print("{}\n", json_dump(j, 2));
    return {};
  }
  if (what == "index") {
    KHO_TRY_ASSIGN(Bytes content, repo->load_object(backend::ObjectType::index, id));
    KHO_TRY_ASSIGN(repo::IndexFile file, repo::IndexFile::decode(content, "index " + id.hex()));
    nlohmann::ordered_json j;
    j["id"] = id.hex();
    auto sup = nlohmann::ordered_json::array();
    for (const auto& s : file.superseded) sup.push_back(s.hex());
    j["superseded"] = sup;
    auto packs = nlohmann::ordered_json::array();
    for (const auto& p : file.packs) {
      nlohmann::ordered_json pj;
      pj["id"] = p.pack_id.hex();
      auto blobs = nlohmann::ordered_json::array();
      for (const auto& b : p.blobs)
        blobs.push_back({{"id", b.id.hex()},
                         {"type", repo::blob_type_name(b.type)},
                         {"offset", b.offset},
                         {"stored_length", b.stored_length},
                         {"raw_length", b.raw_length},
                         {"compression", b.compression == 1 ? "zstd" : "none"}});
      pj["blobs"] = blobs;
      packs.push_back(pj);
    }
    j["packs"] = packs;
    fmt::print("{}\n", json_dump(j, 2));
    return {};
  }
  if (what == "key") {
    KHO_TRY_ASSIGN(Bytes file, repo->backend().load(backend::Handle{backend::ObjectType::key, id.hex()}));
    KHO_TRY_ASSIGN(auto info, repo::parse_key_file(file, "keys/" + id.hex()));
    nlohmann::ordered_json j;
    j["id"] = id.hex();
    j["created"] = format_rfc3339(info.created);
    j["host"] = info.host;
    j["username"] = info.username;
    j["kdf"] = {{"algorithm", "argon2id13"}, {"opslimit", info.kdf.opslimit}, {"memlimit", info.kdf.memlimit}};
    fmt::print("{}\n", json_dump(j, 2));
    return {};
  }
  if (what == "pack") {
    KHO_TRY_ASSIGN(Bytes bytes, repo->backend().load(backend::Handle{backend::ObjectType::data, id.hex()}));
    KHO_TRY_ASSIGN(auto blobs, repo::parse_pack_header(repo->keys(), bytes, bytes.size(), "pack " + id.hex()));
    nlohmann::ordered_json j;
    j["id"] = id.hex();
    j["size"] = bytes.size();
    auto arr = nlohmann::ordered_json::array();
    for (const auto& b : blobs)
      arr.push_back({{"id", b.id.hex()}, {"type", repo::blob_type_name(b.type)}, {"offset", b.offset},
                     {"stored_length", b.stored_length}, {"raw_length", b.raw_length}});
    j["blobs"] = arr;
    fmt::print("{}\n", json_dump(j, 2));
    return {};
  }
  return fail(Errc::invalid_argument, "unknown object type '" + what + "': use config, snapshot, tree, index, key or pack");
}
}  // namespace

void register_cat(CLI::App& app, Context& ctx) {
  auto what = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("cat", "Show a repository object as JSON (for debugging)");
  cmd->add_option("type", *what, "config, snapshot, tree, index, key or pack")
      ->required()
      ->check(CLI::IsMember({"config", "snapshot", "tree", "index", "key", "pack"}));
  cmd->add_option("id", *id, "The object's ID (a snapshot also takes a prefix, 'latest' or 'latest-clean')");
  cmd->callback([&ctx, what, id] { ctx.action = [&ctx, what, id] { return run_cat(ctx, *what, *id); }; });
}

}  // namespace kho::cli

#include "kho/cli/context.hpp"
#include "kho/platform/terminal.hpp"

namespace kho::cli {

namespace {
struct KeyArgs {
  std::string new_password_file;
  std::string key_id;
};

Result<SecretString> new_password(const KeyArgs& args) {
  if (!args.new_password_file.empty()) return read_password_file(args.new_password_file, "the new password file");
  if (SecretString env = password_variable("KHO_NEW_PASSWORD"); !env.empty()) return env;
  KHO_TRY_ASSIGN(SecretString pw, platform::read_password("New password: "));
  KHO_TRY_ASSIGN(SecretString again, platform::read_password("Repeat the new password: "));
  if (pw.value() != again.value()) return fail(Errc::invalid_argument, "the passwords do not match");
  if (pw.empty()) return fail(Errc::invalid_argument, "an empty password is not allowed");
  return pw;
}

Result<Id> add_key(repo::Repository& repo, const SecretString& password) {
  KHO_TRY_ASSIGN(Bytes file, repo::make_key_file(repo.keys(), password, crypto::default_kdf_params()));
  Id id = crypto::sha256(file);
  KHO_TRY_STATUS(repo.backend().save(backend::Handle{backend::ObjectType::key, id.hex()}, file));
  return id;
}

Result<std::string> resolve_key(repo::Repository& repo, const std::string& prefix) {
  KHO_TRY_ASSIGN(auto keys, repo.backend().list(backend::ObjectType::key));
  std::vector<std::string> matches;
  for (const auto& k : keys)
    if (!prefix.empty() && k.name.compare(0, prefix.size(), prefix) == 0) matches.push_back(k.name);
  if (matches.empty()) return fail(Errc::not_found, "no key with ID " + prefix);
  if (matches.size() > 1) return fail(Errc::invalid_argument, "key ID prefix " + prefix + " is ambiguous");
  return matches.front();
}

Status run_list(Context& ctx) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto keys, repo->backend().list(backend::ObjectType::key));
  std::sort(keys.begin(), keys.end(), [](auto& a, auto& b) { return a.name < b.name; });
  auto arr = nlohmann::ordered_json::array();
  Table table({" ", "ID", "User", "Host", "Created"});
  for (const auto& k : keys) {
    auto file = repo->backend().load(backend::Handle{backend::ObjectType::key, k.name});
    if (!file) return tl::unexpected(file.error());
    auto info = repo::parse_key_file(*file, "keys/" + k.name);
    bool current = k.name == repo->key_id().hex();
    if (!info) {
      ctx.warn("{}", info.error().message());
      continue;
    }
    arr.push_back({{"id", k.name},
                   {"current", current},
                   {"username", info->username},
                   {"host", info->host},
                   {"created", format_rfc3339(info->created)}});
    table.add({current ? "*" : " ", k.name.substr(0, 8), info->username, info->host, format_local(info->created)});
  }
  if (ctx.global.json) ctx.print_json(arr);
  else fmt::print("{}", table.render());
  return {};
}

Status run_add(Context& ctx, const KeyArgs& args) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(SecretString pw, new_password(args));
  KHO_TRY_ASSIGN(Id id, add_key(*repo, pw));
  if (ctx.global.json) ctx.print_json({{"id", id.hex()}});
  else ctx.print("added key {}\n", id.short_hex());
  return {};
}

Status run_remove(Context& ctx, const KeyArgs& args) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(std::string name, resolve_key(*repo, args.key_id));
  if (name == repo->key_id().hex())
    return fail(Errc::invalid_argument,
                "refusing to remove key " + name.substr(0, 8) + ": it is the key in use (open with another password to remove it)");
  KHO_TRY_ASSIGN(auto keys, repo->backend().list(backend::ObjectType::key));
  if (keys.size() <= 1) return fail(Errc::invalid_argument, "refusing to remove the last key");
  KHO_TRY_STATUS(repo->backend().remove(backend::Handle{backend::ObjectType::key, name}));
  if (ctx.global.json) ctx.print_json({{"removed", name}});
  else ctx.print("removed key {}\n", name.substr(0, 8));
  return {};
}

Status run_passwd(Context& ctx, const KeyArgs& args) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(SecretString pw, new_password(args));
  // Add the new key first: a crash between the two steps leaves both passwords working.
  KHO_TRY_ASSIGN(Id id, add_key(*repo, pw));
  KHO_TRY_STATUS(repo->backend().remove(backend::Handle{backend::ObjectType::key, repo->key_id().hex()}));
  if (ctx.global.json) ctx.print_json({{"id", id.hex()}, {"removed", repo->key_id().hex()}});
  else ctx.print("changed the password: key {} replaces {}\n", id.short_hex(), repo->key_id().short_hex());
  return {};
}
}  // namespace

void register_key(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<KeyArgs>();
  auto* cmd = app.add_subcommand("key", "Manage the repository's keys (one per password)");
  cmd->require_subcommand(1);
  auto* list = cmd->add_subcommand("list", "List the keys; * marks the one the password opened");
  list->callback([&ctx] { ctx.action = [&ctx] { return run_list(ctx); }; });
  auto* add = cmd->add_subcommand("add", "Add a key for a new password");
  add->add_option("--new-password-file", args->new_password_file, "Read the new password from this file");
  add->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_add(ctx, *args); }; });
  auto* remove = cmd->add_subcommand("remove", "Remove a key (not the one in use, nor the last one)");
  remove->add_option("id", args->key_id, "Key ID or unique prefix")->required();
  remove->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_remove(ctx, *args); }; });
  auto* passwd = cmd->add_subcommand("passwd", "Change the password of the key in use");
  passwd->add_option("--new-password-file", args->new_password_file, "Read the new password from this file");
  passwd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_passwd(ctx, *args); }; });
  cmd->footer("The new password comes from --new-password-file, KHO_NEW_PASSWORD, or a prompt.");
}

}  // namespace kho::cli

#include "kho/cli/context.hpp"

namespace kho::cli {

namespace {
struct InitArgs {
  std::uint32_t min_size = 512 * 1024;
  std::uint32_t avg_size = 1024 * 1024;
  std::uint32_t max_size = 8 * 1024 * 1024;
  int compression = 3;
  std::string padding = "none";
  bool copy_chunker_params = false;
  FromRepoOptions from;
};

Status run_init(Context& ctx, const InitArgs& args) {
  repo::InitOptions options;
  options.chunker = {args.min_size, args.avg_size, args.max_size};
  options.compression_level = args.compression;
  if (args.padding == "padme") options.padding = repo::Padding::padme;
  KHO_TRY_ASSIGN(auto backend, ctx.open_backend());
  std::string location = backend->properties().location;
  if (backend->stat(backend::Handle{backend::ObjectType::config, ""}))
    return fail(Errc::already_exists, "a repository already exists at " + location + "; refusing to initialise over it");
  std::unique_ptr<repo::Repository> source;
  if (args.copy_chunker_params) {
    if (args.from.repo.empty())
      return fail(Errc::invalid_argument, "--copy-chunker-params needs --from-repo (the repository to share them with)");
    KHO_TRY_ASSIGN(source, ctx.open_repository(args.from.repo, args.from.password_source(), false));
    options.chunker = source->config().chunker;
    options.id_space = &source->keys();
  } else if (!args.from.repo.empty()) {
    return fail(Errc::invalid_argument, "--from-repo is only used with --copy-chunker-params");
  }
  KHO_TRY_ASSIGN(SecretString pw, ctx.password(true));
  KHO_TRY_ASSIGN(auto repo, repo::Repository::init(std::move(backend), pw, options));
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["id"] = repo->config().id.hex();
    j["repository"] = location;
    j["key_id"] = repo->key_id().hex();
    ctx.print_json(j);
  } else {
    ctx.print("created kho repository {} at {}\n", repo->config().id.short_hex(), location);
    ctx.print("Keep the password safe: without it the data cannot be recovered.\n");
  }
  return {};
}
}  // namespace

void register_init(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<InitArgs>();
  auto* cmd = app.add_subcommand("init", "Create a new repository");
  cmd->add_option("--chunk-min", args->min_size, "Smallest chunk in bytes (default 512 KiB)");
  cmd->add_option("--chunk-avg", args->avg_size, "Average chunk in bytes, a power of two (default 1 MiB)");
  cmd->add_option("--chunk-max", args->max_size, "Largest chunk in bytes (default 8 MiB)");
  cmd->add_option("--compression", args->compression, "zstd level 0-19 (0 stores uncompressed; default 3)")
      ->check(CLI::Range(0, 19));
  cmd->add_option("--padding", args->padding, "Pad stored blob sizes to hide file sizes: none or padme")
      ->check(CLI::IsMember({"none", "padme"}));
  cmd->add_flag("--copy-chunker-params", args->copy_chunker_params,
                "Share the chunker parameters and blob IDs of --from-repo, so 'kho copy' between the two "
                "moves only missing blobs without re-chunking (the encryption key stays separate)");
  args->from.add_to(cmd);
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_init(ctx, *args); }; });
}

}  // namespace kho::cli

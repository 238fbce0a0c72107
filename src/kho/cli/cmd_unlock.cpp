#include "kho/cli/context.hpp"

namespace kho::cli {

namespace {
// On an append-only server the locks of running processes stay: such servers
// protect against a client that deletes what others do.
Status refuse_if_append_only(repo::Repository& repo) {
  auto allowed = backend::check_deletions_allowed(repo.backend());
  if (allowed || allowed.error().code() != Errc::permission) return allowed;
  return fail(Errc::permission, "unlock --remove-all refused: " + allowed.error().message() +
                                    ", so the locks of running processes are kept; 'kho unlock' without "
                                    "--remove-all removes stale locks");
}

Status run_unlock(Context& ctx, bool all) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  if (all) KHO_TRY_STATUS(refuse_if_append_only(*repo));
  KHO_TRY_ASSIGN(std::size_t removed, repo::remove_locks(*repo, all));
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["removed"] = removed;
    ctx.print_json(j);
  } else {
    ctx.print("removed {} {}lock(s)\n", removed, all ? "" : "stale ");
  }
  return {};
}
}  // namespace

void register_unlock(CLI::App& app, Context& ctx) {
  auto all = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("unlock", "Remove stale locks (of dead processes, or not refreshed for 30 minutes)");
  cmd->add_flag("--remove-all", *all, "Remove every lock, also those of running processes (dangerous)");
  cmd->callback([&ctx, all] { ctx.action = [&ctx, all] { return run_unlock(ctx, *all); }; });
}

}  // namespace kho::cli

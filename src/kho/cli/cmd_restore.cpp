#include "kho/cli/context.hpp"
#include "kho/engine/restore.hpp"

namespace kho::cli {

namespace {
struct RestoreArgs {
  std::string snapshot;
  std::string target;
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  bool verify = false;
  FilterOptions filter;
};

Status run_restore(Context& ctx, const RestoreArgs& args) {
  std::string spec = args.snapshot;
  std::string subpath;
  if (auto colon = spec.find(':'); colon != std::string::npos) {
    subpath = spec.substr(colon + 1);
    spec = spec.substr(0, colon);
  }
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto lock, ctx.lock(*repo, false, "restore"));
  KHO_TRY_STATUS(repo->load_index());
  KHO_TRY_ASSIGN(auto snap, repo->find_snapshot(spec, args.filter.filter()));
  engine::RestoreOptions options;
  options.target = args.target;
  options.subpath = subpath;
  options.includes = args.includes;
  options.excludes = args.excludes;
  options.verify = args.verify;
  options.threads = ctx.global.threads;
  ctx.verbose("restoring snapshot {} to {}", snap.id.short_hex(), args.target);
  engine::Progress progress;
  ProgressDisplay display(ctx, progress, "restored");
  auto result = engine::run_restore(*repo, snap.snapshot, options, &progress);
  display.stop();
  if (!result) return tl::unexpected(result.error().with_context("restore failed"));
  for (const auto& e : result->errors) fmt::print(stderr, "error: {}: {}\n", e.path, e.error);
  for (const auto& e : result->verify_failures) fmt::print(stderr, "verify failed: {}: {}\n", e.path, e.error);
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["message_type"] = "summary";
    j["snapshot_id"] = snap.id.hex();
    j["target"] = args.target;
    j["files_restored"] = result->files;
    j["dirs_restored"] = result->dirs;
    j["other_restored"] = result->other;
    j["bytes_restored"] = result->bytes;
    j["duration_s"] = result->duration_s;
    j["verified"] = args.verify;
    auto errs = nlohmann::ordered_json::array();
    for (const auto& e : result->errors) errs.push_back({{"path", e.path}, {"error", e.error}});
    j["errors"] = errs;
    auto vf = nlohmann::ordered_json::array();
    for (const auto& e : result->verify_failures) vf.push_back({{"path", e.path}, {"error", e.error}});
    j["verify_failures"] = vf;
    ctx.print_json(j);
  } else {
    ctx.print("restored snapshot {}: {} files, {} directories, {} other, {} in {}\n", snap.id.short_hex(), result->files,
              result->dirs, result->other, format_size(result->bytes), format_duration(result->duration_s));
    if (args.verify && result->verify_failures.empty() && result->errors.empty())
      ctx.print("verified: every restored file matches the snapshot\n");
  }
  if (!result->errors.empty())
    return failf(Errc::failed, "{} item(s) could not be restored (listed above)", result->errors.size());
  if (!result->verify_failures.empty())
    return failf(Errc::verification_failed, "{} restored file(s) differ from the snapshot", result->verify_failures.size());
  return {};
}
}  // namespace

void register_restore(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RestoreArgs>();
  auto* cmd = app.add_subcommand("restore", "Restore a snapshot, or part of it, to a directory");
  cmd->add_option(
         "snapshot", args->snapshot,
         "SNAPSHOT[:SUBPATH]: an ID, unique ID prefix, 'latest' or 'latest-clean'; with :SUBPATH, that directory's "
         "contents are restored directly into the target")
      ->required();
  cmd->add_option("-t,--target", args->target, "Directory to restore into (absolute snapshot paths are recreated below it)")
      ->required();
  cmd->add_option("-i,--include", args->includes, "Restore only paths matching this glob (repeatable)");
  cmd->add_option("-e,--exclude", args->excludes, "Do not restore paths matching this glob (repeatable)");
  cmd->add_flag("--verify", args->verify, "Read every restored file back and compare it with the snapshot (exit 4 on a difference)");
  args->filter.add_to(cmd);
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_restore(ctx, *args); }; });
}

}  // namespace kho::cli

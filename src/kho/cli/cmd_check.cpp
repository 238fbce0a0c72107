#include "kho/cli/context.hpp"
#include "kho/engine/check.hpp"

namespace kho::cli {

namespace {
struct CheckArgs {
  bool read_data = false;
  std::string subset;
};

Status run_check(Context& ctx, const CheckArgs& args) {
  engine::CheckOptions options;
  options.read_data = args.read_data;
  options.read_data_subset = args.subset;
  options.threads = ctx.global.threads;
  KHO_TRY_STATUS(engine::validate_subset(args.subset));
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto lock, ctx.lock(*repo, false, "check"));
  engine::Progress progress;
  ProgressDisplay display(ctx, progress, "checked");
  auto result = engine::run_check(*repo, options, &progress);
  display.stop();
  if (!result) return tl::unexpected(result.error().with_context("check failed"));
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["ok"] = result->errors.empty();
    j["snapshots"] = result->snapshots;
    j["trees"] = result->trees;
    j["packs"] = result->packs;
    j["packs_read"] = result->packs_read;
    j["bytes_read"] = result->bytes_read;
    j["duration_s"] = result->duration_s;
    auto errs = nlohmann::ordered_json::array();
    for (const auto& e : result->errors) errs.push_back({{"object", e.object}, {"message", e.message}});
    j["errors"] = errs;
    j["hints"] = result->hints;
    ctx.print_json(j);
  } else {
    for (const auto& e : result->errors) fmt::print("error: {}: {}\n", e.object, e.message);
    for (const auto& h : result->hints) ctx.print("note: {}\n", h);
    ctx.print("checked {} snapshot(s), {} tree(s), {} pack(s){}\n", result->snapshots, result->trees, result->packs,
              result->packs_read ? fmt::format(", read {} pack(s) ({})", result->packs_read, format_size(result->bytes_read))
                                 : std::string());
    if (result->errors.empty()) ctx.print("no errors found\n");
  }
  if (!result->errors.empty())
    return failf(Errc::verification_failed, "check found {} problem(s) in the repository at {}", result->errors.size(),
                 repo->location());
  return {};
}
}  // namespace

void register_check(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<CheckArgs>();
  auto* cmd = app.add_subcommand("check", "Verify the repository's structure and, with --read-data, all its data");
  auto* rd = cmd->add_flag("--read-data", args->read_data, "Read and decrypt every pack and verify every blob");
  cmd->add_option("--read-data-subset", args->subset, "Read only a subset of packs: N% (random) or n/m (group n of m)")
      ->excludes(rd);
  cmd->footer("Exit code 4 when any problem is found; each names the object it concerns.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_check(ctx, *args); }; });
}

}  // namespace kho::cli

#include "kho/cli/context.hpp"
#include "kho/engine/prune.hpp"

namespace kho::cli {

Result<double> parse_percent(const std::string& text) {
  std::string t = text;
  if (!t.empty() && t.back() == '%') t.pop_back();
  try {
    std::size_t used = 0;
    double v = std::stod(t, &used);
    if (used != t.size() || v < 0 || v > 100) throw std::invalid_argument("range");
    return v / 100.0;
  } catch (...) {
    return fail(Errc::invalid_argument, "'" + text + "' is not a percentage (e.g. 5%)");
  }
}

// Shared by `prune` and `forget --prune`: runs prune under an exclusive lock the caller holds.
Status prune_and_report(Context& ctx, repo::Repository& repo, const engine::PruneOptions& options) {
  engine::Progress progress;
  ProgressDisplay display(ctx, progress, "repacked");
  auto result = engine::run_prune(repo, options, &progress);
  display.stop();
  if (!result) return tl::unexpected(result.error().with_context("prune failed"));
  const auto& r = *result;
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["message_type"] = "prune";
    j["dry_run"] = r.dry_run;
    j["packs_before"] = r.packs_before;
    j["packs_deleted"] = r.packs_deleted;
    j["packs_repacked"] = r.packs_repacked;
    j["packs_written"] = r.packs_written;
    j["unindexed_packs"] = r.unindexed_packs;
    j["blobs_kept"] = r.blobs_kept;
    j["blobs_removed"] = r.blobs_removed;
    j["bytes_before"] = r.bytes_before;
    j["bytes_freed"] = r.bytes_freed;
    j["bytes_repacked"] = r.bytes_repacked;
    j["index_files_removed"] = r.index_files_removed;
    j["temporaries_removed"] = r.temporaries_removed;
    j["duration_s"] = r.duration_s;
    ctx.print_json(j);
    return {};
  }
  ctx.print("{}{} pack(s) of {} to delete ({} left by interrupted runs), {} to repack\n",
            r.dry_run ? "would prune: " : "", r.packs_deleted, r.packs_before, r.unindexed_packs, r.packs_repacked);
  ctx.print("{} unused blob(s), {} kept\n", r.blobs_removed, r.blobs_kept);
  if (r.temporaries_removed > 0)
    ctx.print("removed {} temporary file(s) left by interrupted saves\n", r.temporaries_removed);
  ctx.print("{} {} of {} ({} copied while repacking)\n", r.dry_run ? "would free" : "freed", format_size(r.bytes_freed),
            format_size(r.bytes_before), format_size(r.bytes_repacked));
  return {};
}

namespace {
struct PruneArgs {
  std::string max_unused = "5%";
  bool dry_run = false;
};

Status run_prune_cmd(Context& ctx, const PruneArgs& args) {
  engine::PruneOptions options;
  KHO_TRY_ASSIGN(options.max_unused, parse_percent(args.max_unused));
  options.dry_run = args.dry_run;
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto lock, ctx.lock(*repo, true, "prune"));
  KHO_TRY_STATUS(repo->load_index());
  return prune_and_report(ctx, *repo, options);
}
}  // namespace

void register_prune(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<PruneArgs>();
  auto* cmd = app.add_subcommand("prune", "Remove data no snapshot needs and repack partly used packs");
  cmd->add_option("--max-unused", args->max_unused,
                  "Repack a pack when more than this share of it is unused (default 5%)");
  cmd->add_flag("-n,--dry-run", args->dry_run, "Only say what would be done");
  cmd->footer("Takes an exclusive lock. Safe to interrupt: run it again to finish.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_prune_cmd(ctx, *args); }; });
}

}  // namespace kho::cli

#include "kho/cli/context.hpp"
#include "kho/engine/prune.hpp"
#include "kho/engine/retention.hpp"

namespace kho::cli {

Result<double> parse_percent(const std::string& text);
Status prune_and_report(Context& ctx, repo::Repository& repo, const engine::PruneOptions& options);

namespace {
struct ForgetArgs {
  engine::RetentionPolicy policy;
  std::string keep_within;
  std::string group_by = "host,paths";
  FilterOptions filter;
  std::vector<std::string> snapshot_ids;
  bool dry_run = false;
  bool prune = false;
  std::string max_unused = "5%";
};

Status run_forget(Context& ctx, const ForgetArgs& args) {
  engine::RetentionPolicy policy = args.policy;
  if (!args.keep_within.empty()) {
    KHO_TRY_ASSIGN(double s, parse_duration(args.keep_within));
    policy.keep_within_s = s;
  }
  KHO_TRY_ASSIGN(engine::GroupBy group_by, engine::GroupBy::parse(args.group_by));
  if (!args.snapshot_ids.empty() && !policy.empty())
    return fail(Errc::invalid_argument, "give either snapshot IDs or --keep-* rules, not both");
  if (args.snapshot_ids.empty()) KHO_TRY_STATUS(policy.validate());
  if (args.snapshot_ids.empty() && policy.empty())
    return fail(Errc::invalid_argument,
                "no retention rule given: use --keep-last/--keep-hourly/--keep-daily/--keep-weekly/--keep-monthly/"
                "--keep-yearly/--keep-within/--keep-tag, or name snapshot IDs to forget");
  engine::PruneOptions prune_options;
  KHO_TRY_ASSIGN(prune_options.max_unused, parse_percent(args.max_unused));
  prune_options.dry_run = args.dry_run;

  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto lock, ctx.lock(*repo, true, "forget"));
  std::vector<repo::SnapshotRef> to_remove;
  auto out = nlohmann::ordered_json::array();
  if (!args.snapshot_ids.empty()) {
    for (const auto& spec : args.snapshot_ids) {
      KHO_TRY_ASSIGN(auto snap, repo->find_snapshot(spec));
      to_remove.push_back(std::move(snap));
    }
  } else {
    KHO_TRY_ASSIGN(auto selected, ctx.select_snapshots(*repo, {}, args.filter.filter(), "kept"));
    KHO_TRY_ASSIGN(auto groups, engine::apply_retention(selected, policy, group_by));
    for (const auto& g : groups) {
      nlohmann::ordered_json gj;
      gj["host"] = g.host;
      gj["paths"] = g.paths;
      gj["tags"] = g.tags;
      auto keep = nlohmann::ordered_json::array();
      auto remove = nlohmann::ordered_json::array();
      if (!ctx.global.json) {
        std::string label = g.label();
        fmt::print("{}{} snapshot(s) kept, {} to remove{}\n", label.empty() ? "" : label + ": ", g.kept(), g.removed(),
                   args.dry_run ? " (dry run)" : "");
      }
      Table table({"ID", "Time", "Host", "Tags", "Decision", "Reasons"});
      for (const auto& d : g.decisions) {
        const auto& s = d.snapshot;
        std::string reasons;
        for (std::size_t i = 0; i < d.reasons.size(); ++i) reasons += (i ? ", " : "") + d.reasons[i];
        std::string tags;
        for (std::size_t i = 0; i < s.snapshot.tags.size(); ++i) tags += (i ? "," : "") + s.snapshot.tags[i];
        table.add({s.id.short_hex(), format_local(s.snapshot.time), s.snapshot.host, tags, d.keep ? "keep" : "remove",
                   reasons});
        auto sj = repo::snapshot_listing_json(s);
        sj["reasons"] = d.reasons;
        (d.keep ? keep : remove).push_back(sj);
        if (!d.keep) to_remove.push_back(s);
      }
      if (!ctx.global.json) fmt::print("{}\n", table.render());
      gj["keep"] = keep;
      gj["remove"] = remove;
      out.push_back(gj);
    }
  }
  std::size_t removed = 0;
  if (!args.dry_run) {
    for (const auto& s : to_remove) {
      if (engine::cancelled()) return fail(Errc::interrupted, "interrupted");
      auto st = repo->backend().remove(backend::Handle{backend::ObjectType::snapshot, s.id.hex()});
      // The backend's message says why (an append-only server names its mode).
      if (!st && st.error().code() == Errc::permission)
        return failf(Errc::permission, "forget refused: {}; {} of {} snapshot(s) removed", st.error().message(),
                     removed, to_remove.size());
      if (!st && st.error().code() != Errc::not_found)
        return tl::unexpected(st.error().with_context("cannot remove snapshot " + s.id.short_hex()));
      removed++;
    }
  }
  if (ctx.global.json) {
    if (args.snapshot_ids.empty()) {
      ctx.print_json(out);
    } else {
      auto arr = nlohmann::ordered_json::array();
      for (const auto& s : to_remove) arr.push_back(s.id.hex());
      ctx.print_json({{"removed", arr}, {"dry_run", args.dry_run}});
    }
  } else if (args.dry_run) {
    ctx.print("would remove {} snapshot(s)\n", to_remove.size());
  } else {
    ctx.print("removed {} snapshot(s)\n", removed);
  }
  if (args.prune && (removed > 0 || args.dry_run)) {
    KHO_TRY_STATUS(repo->load_index());
    return prune_and_report(ctx, *repo, prune_options);
  }
  return {};
}
}  // namespace

void register_forget(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ForgetArgs>();
  auto* cmd = app.add_subcommand("forget", "Remove snapshots by retention rules (or by ID); --prune also frees their data");
  cmd->add_option("snapshots", args->snapshot_ids, "Snapshot IDs to forget (instead of rules)");
  cmd->add_option("-l,--keep-last", args->policy.keep_last, "Keep the newest N snapshots (-1: all)");
  cmd->add_option("-H,--keep-hourly", args->policy.keep_hourly, "Keep the newest snapshot of each of the last N hours");
  cmd->add_option("-d,--keep-daily", args->policy.keep_daily, "Keep the newest snapshot of each of the last N days");
  cmd->add_option("-w,--keep-weekly", args->policy.keep_weekly, "Keep the newest snapshot of each of the last N ISO weeks");
  cmd->add_option("-m,--keep-monthly", args->policy.keep_monthly, "Keep the newest snapshot of each of the last N months");
  cmd->add_option("-y,--keep-yearly", args->policy.keep_yearly, "Keep the newest snapshot of each of the last N years");
  cmd->add_option("--keep-within", args->keep_within,
                  "Keep every snapshot less than this older than the group's newest (units s m h d w y; m = minutes: 7d, 2w, 1y)");
  cmd->add_option("--keep-tag", args->policy.keep_tags, "Keep every snapshot with this tag (repeatable; a,b = both)");
  cmd->add_option("-g,--group-by", args->group_by, "Apply the rules per group of host,paths,tags (default host,paths; '' = one group)");
  args->filter.add_to(cmd);
  cmd->add_flag("-n,--dry-run", args->dry_run, "Only say what would be removed");
  cmd->add_flag("--prune", args->prune, "Run prune afterwards to free the space");
  cmd->add_option("--max-unused", args->max_unused, "With --prune: see 'kho help prune' (default 5%)");
  cmd->footer("Buckets use local time (TZ). Each rule keeps the newest snapshot of each of its N most recent buckets;\n"
              "a snapshot is kept when any rule keeps it. Takes an exclusive lock.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_forget(ctx, *args); }; });
}

}  // namespace kho::cli

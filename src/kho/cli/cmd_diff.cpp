#include "kho/cli/context.hpp"
#include "kho/engine/diff.hpp"

namespace kho::cli {

namespace {
struct DiffArgs {
  std::string snapshot_a;
  std::string snapshot_b;
  FilterOptions filter;
};

const char* change_marker(engine::ChangeKind kind) {
  switch (kind) {
    case engine::ChangeKind::added: return "+";
    case engine::ChangeKind::removed: return "-";
    case engine::ChangeKind::modified: return "M";
    case engine::ChangeKind::metadata: return "U";
  }
  return "?";
}

Status run_diff(Context& ctx, const DiffArgs& args) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository());
  auto filter = args.filter.filter();
  KHO_TRY_ASSIGN(auto a, repo->find_snapshot(args.snapshot_a, filter));
  KHO_TRY_ASSIGN(auto b, repo->find_snapshot(args.snapshot_b, filter));
  auto result = engine::diff_snapshots(*repo, a.snapshot, b.snapshot);
  if (!result)
    return tl::unexpected(
        result.error().with_context("diff of snapshots " + a.id.short_hex() + " and " + b.id.short_hex()));
  const auto& t = result->totals;
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["snapshot_a"] = a.id.hex();
    j["snapshot_b"] = b.id.hex();
    auto changes = nlohmann::ordered_json::array();
    for (const auto& c : result->changes) {
      nlohmann::ordered_json cj;
      cj["path"] = c.path;
      cj["change"] = engine::change_kind_name(c.kind);
      cj["type"] = platform::file_type_name(c.type);
      cj["size_before"] = c.size_before;
      cj["size_after"] = c.size_after;
      changes.push_back(std::move(cj));
    }
    j["changes"] = std::move(changes);
    j["totals"] = {{"added", t.added},
                   {"removed", t.removed},
                   {"modified", t.modified},
                   {"metadata", t.metadata},
                   {"bytes_added", t.bytes_added},
                   {"bytes_removed", t.bytes_removed}};
    ctx.print_json(j);
    return {};
  }
  ctx.print("comparing snapshot {} ({}) to {} ({}):\n\n", a.id.short_hex(), format_local(a.snapshot.time),
            b.id.short_hex(), format_local(b.snapshot.time));
  for (const auto& c : result->changes)
    fmt::print("{:<4} {}{}\n", change_marker(c.kind), c.path, c.type == platform::FileType::dir ? "/" : "");
  if (!result->changes.empty()) ctx.print("\n");
  ctx.print("{} added, {} removed, {} modified, {} metadata only\n", t.added, t.removed, t.modified, t.metadata);
  ctx.print("{} added, {} removed (file sizes)\n", format_size(t.bytes_added), format_size(t.bytes_removed));
  return {};
}
}  // namespace

void register_diff(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<DiffArgs>();
  auto* cmd = app.add_subcommand("diff", "Show what changed between two snapshots");
  cmd->add_option("snapshot1", args->snapshot_a,
                  "The earlier snapshot: ID, unique ID prefix, 'latest' or 'latest-clean'")
      ->required();
  cmd->add_option("snapshot2", args->snapshot_b, "The later snapshot: ID, unique ID prefix, 'latest' or 'latest-clean'")
      ->required();
  args->filter.add_to(cmd);
  cmd->footer(
      "One line per changed path: '+' added, '-' removed, 'M' content modified, 'U' metadata only\n"
      "(mode, owner, mtime, xattrs, symlink target). Directories end in '/'.\n"
      "With --json: {\"snapshot_a\", \"snapshot_b\", \"changes\": [{\"path\", \"change\":\n"
      "\"added|removed|modified|metadata\", \"type\", \"size_before\", \"size_after\"}], \"totals\":\n"
      "{\"added\", \"removed\", \"modified\", \"metadata\", \"bytes_added\", \"bytes_removed\"}}.\n"
      "bytes_added: sizes of added files plus the growth of modified ones; bytes_removed: the reverse.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_diff(ctx, *args); }; });
}

}  // namespace kho::cli

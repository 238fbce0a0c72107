#include "kho/cli/context.hpp"
#include "kho/engine/anomaly.hpp"
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

// Why an added or modified file's content looks like ransomware's work
// (encrypted, not its type any more, a ransom note), or "".
std::string suspicion(const repo::Repository& repo, const engine::Change& c) {
  if (!c.first_blob) return "";
  auto blob = repo.load_blob(repo::BlobType::data, *c.first_blob);
  if (!blob) return "";
  ByteSpan head(blob->data(), std::min<std::size_t>(blob->size(), engine::k_anomaly_head_bytes));
  if (engine::looks_like_ransom_note(c.path, head)) return "ransom note";
  std::string mismatch = engine::type_mismatch(c.path, head);
  if (!mismatch.empty()) return mismatch;
  // report.docx.locked: an encrypted copy of a file of a known type, renamed.
  auto dot = c.path.rfind('.');
  auto slash = c.path.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash + 1)) {
    std::string inner = c.path.substr(0, dot);
    if (!engine::type_mismatch(inner, head).empty() && engine::looks_encrypted(head))
      return "encrypted copy of " + inner.substr(inner.rfind('/') + 1);
  }
  return "";
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
  std::vector<std::string> suspicious(result->changes.size());
  std::size_t n_suspicious = 0;
  for (std::size_t i = 0; i < result->changes.size(); ++i) {
    suspicious[i] = suspicion(*repo, result->changes[i]);
    if (!suspicious[i].empty()) ++n_suspicious;
  }
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["snapshot_a"] = a.id.hex();
    j["snapshot_b"] = b.id.hex();
    auto changes = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < result->changes.size(); ++i) {
      const auto& c = result->changes[i];
      nlohmann::ordered_json cj;
      cj["path"] = c.path;
      cj["change"] = engine::change_kind_name(c.kind);
      cj["type"] = platform::file_type_name(c.type);
      cj["size_before"] = c.size_before;
      cj["size_after"] = c.size_after;
      cj["suspicious"] =
          suspicious[i].empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(suspicious[i]);
      changes.push_back(std::move(cj));
    }
    j["changes"] = std::move(changes);
    j["totals"] = {{"added", t.added},          {"removed", t.removed},         {"modified", t.modified},
                   {"metadata", t.metadata},    {"bytes_added", t.bytes_added}, {"bytes_removed", t.bytes_removed},
                   {"suspicious", n_suspicious}};
    ctx.print_json(j);
    return {};
  }
  ctx.print("comparing snapshot {} ({}) to {} ({}):\n\n", a.id.short_hex(), format_local(a.snapshot.time),
            b.id.short_hex(), format_local(b.snapshot.time));
  for (std::size_t i = 0; i < result->changes.size(); ++i) {
    const auto& c = result->changes[i];
    fmt::print("{:<4} {}{}{}\n", change_marker(c.kind), c.path, c.type == platform::FileType::dir ? "/" : "",
               suspicious[i].empty() ? "" : "   !! " + suspicious[i]);
  }
  if (!result->changes.empty()) ctx.print("\n");
  ctx.print("{} added, {} removed, {} modified, {} metadata only\n", t.added, t.removed, t.modified, t.metadata);
  ctx.print("{} added, {} removed (file sizes)\n", format_size(t.bytes_added), format_size(t.bytes_removed));
  if (n_suspicious > 0)
    fmt::print(
        "{} suspicious file(s) (marked !!): content that looks encrypted, no longer matches its type, or a "
        "ransom note\n",
        n_suspicious);
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
      "(mode, owner, mtime, xattrs, symlink target). Directories end in '/'. '!!' marks an added or\n"
      "modified file whose content looks encrypted, no longer matches its type, or is a ransom note.\n"
      "With --json: {\"snapshot_a\", \"snapshot_b\", \"changes\": [{\"path\", \"change\":\n"
      "\"added|removed|modified|metadata\", \"type\", \"size_before\", \"size_after\", \"suspicious\": reason|null}],\n"
      "\"totals\": {\"added\", \"removed\", \"modified\", \"metadata\", \"bytes_added\", \"bytes_removed\", "
      "\"suspicious\"}}.\n"
      "bytes_added: sizes of added files plus the growth of modified ones; bytes_removed: the reverse.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_diff(ctx, *args); }; });
}

}  // namespace kho::cli

#include "kho/cli/context.hpp"
#include "kho/engine/compare.hpp"

namespace kho::cli {

namespace {
struct CompareArgs {
  std::string snapshot;
  std::string target;
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  FilterOptions filter;
};

// Problems of one kind listed in human output before "... and N more".
constexpr std::size_t k_list_limit = 50;

void print_entries(const char* kind, const std::vector<engine::CompareEntry>& entries) {
  std::size_t shown = std::min(entries.size(), k_list_limit);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& e = entries[i];
    const char* slash = e.type == platform::FileType::dir ? "/" : "";
    if (e.reason.empty())
      fmt::print("{}: {}{}\n", kind, e.path, slash);
    else
      fmt::print("{}: {}{}: {}\n", kind, e.path, slash, e.reason);
  }
  if (entries.size() > shown) fmt::print("... and {} more {}\n", entries.size() - shown, kind);
}

nlohmann::ordered_json entries_json(const std::vector<engine::CompareEntry>& entries, bool with_reason) {
  auto list = nlohmann::ordered_json::array();
  for (const auto& e : entries) {
    nlohmann::ordered_json j;
    j["path"] = e.path;
    if (with_reason)
      j["reason"] = e.reason;
    else
      j["type"] = platform::file_type_name(e.type);
    list.push_back(std::move(j));
  }
  return list;
}

Status run_compare(Context& ctx, const CompareArgs& args) {
  std::string spec = args.snapshot;
  std::string subpath;
  if (auto colon = spec.find(':'); colon != std::string::npos) {
    subpath = spec.substr(colon + 1);
    spec = spec.substr(0, colon);
  }
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto lock, ctx.lock(*repo, false, "compare"));
  KHO_TRY_STATUS(repo->load_index());
  KHO_TRY_ASSIGN(auto snap, repo->find_snapshot(spec, args.filter.filter()));
  engine::CompareOptions options;
  options.target = args.target;
  options.subpath = subpath;
  options.includes = args.includes;
  options.excludes = args.excludes;
  options.threads = ctx.global.threads;
  ctx.verbose("comparing {} with snapshot {}{}", args.target, snap.id.short_hex(),
              subpath.empty() ? "" : ":" + subpath);
  engine::Progress progress;
  ProgressDisplay display(ctx, progress, "compared");
  auto result = engine::compare_tree(*repo, snap.snapshot, options, &progress);
  display.stop();
  if (!result) return tl::unexpected(result.error().with_context("compare failed"));
  const auto& r = *result;
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["snapshot"] = snap.id.hex();
    j["path"] = subpath.empty() ? "/" : subpath;
    j["target"] = args.target;
    j["files"] = r.files;
    j["dirs"] = r.dirs;
    j["bytes"] = r.bytes;
    j["matched"] = r.matched;
    j["differ"] = entries_json(r.differ, true);
    j["missing"] = entries_json(r.missing, false);
    j["extra"] = entries_json(r.extra, false);
    j["ok"] = r.ok();
    ctx.print_json(j);
  } else {
    // The problems are the result: listed even with -q.
    print_entries("differs", r.differ);
    print_entries("missing", r.missing);
    print_entries("extra", r.extra);
    fmt::print("{} files compared, {} differ, {} missing, {} extra\n", r.files, r.differ.size(), r.missing.size(),
               r.extra.size());
    ctx.print("{} directories, {} of file content checked against snapshot {}\n", r.dirs, format_size(r.bytes),
              snap.id.short_hex());
  }
  if (!r.ok())
    return failf(Errc::verification_failed, "{} differs from snapshot {}: {} path(s) differ, {} missing", args.target,
                 snap.id.short_hex(), r.differ.size(), r.missing.size());
  return {};
}
}  // namespace

void register_compare(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand("compare", "Compare a directory on disk with a snapshot, or part of it");
  cmd->add_option("snapshot", args->snapshot,
                  "SNAPSHOT[:SUBPATH]: an ID, unique ID prefix, 'latest' or 'latest-clean'; with :SUBPATH, that "
                  "directory's contents are looked for directly in the directory (as restore writes them)")
      ->required();
  cmd->add_option("dir", args->target,
                  "Directory to compare (absolute snapshot paths are looked for below it, as restore --target writes "
                  "them)")
      ->required();
  cmd->add_option("-i,--include", args->includes, "Compare only paths matching this glob (repeatable)");
  cmd->add_option("-e,--exclude", args->excludes, "Do not compare paths matching this glob (repeatable)");
  args->filter.add_to(cmd);
  cmd->footer(
      "Checks type, permission bits, size and content (hashed against the snapshot's blob IDs, without\n"
      "reading the repository's data), symlink targets and device numbers. Files on disk that the\n"
      "snapshot does not have are listed as extra but do not fail the comparison.\n"
      "Exit 0 when everything matches, 4 when something differs or is missing.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_compare(ctx, *args); }; });
}

}  // namespace kho::cli

#include "kho/cli/context.hpp"
#include "kho/engine/archive_import.hpp"

namespace kho::cli {

namespace {
struct ImportArgs {
  std::string archive;
  std::string host;
  std::vector<std::string> tags;
  std::string path_prefix;
  std::string time;
  bool strict = false;
  double max_ratio = 200;
  std::string max_size;
};

Result<std::uint64_t> parse_size(const std::string& text) {
  std::size_t pos = 0;
  std::uint64_t n = 0;
  try {
    n = std::stoull(text, &pos);
  } catch (...) {
    return fail(Errc::invalid_argument, "--max-size '" + text + "': expected a size such as 500M, 20G or 2T");
  }
  std::string unit = text.substr(pos);
  std::uint64_t mul = 1;
  if (unit.empty() || unit == "B") mul = 1;
  else if (unit == "K" || unit == "KiB") mul = 1ull << 10;
  else if (unit == "M" || unit == "MiB") mul = 1ull << 20;
  else if (unit == "G" || unit == "GiB") mul = 1ull << 30;
  else if (unit == "T" || unit == "TiB") mul = 1ull << 40;
  else return fail(Errc::invalid_argument, "--max-size '" + text + "': expected a size such as 500M, 20G or 2T");
  return n * mul;
}

Status run_import(Context& ctx, const ImportArgs& args) {
  engine::ImportOptions options;
  options.archive = args.archive;
  options.host = args.host;
  options.tags = args.tags;
  options.path_prefix = args.path_prefix;
  options.strict = args.strict;
  if (args.max_ratio < 0) return fail(Errc::invalid_argument, "--max-ratio must be 0 (no limit) or more");
  options.max_ratio = args.max_ratio;
  if (!args.max_size.empty()) {
    KHO_TRY_ASSIGN(options.max_size, parse_size(args.max_size));
  }
  options.threads = ctx.global.threads;
  if (!args.time.empty()) {
    KHO_TRY_ASSIGN(TimeNs t, parse_time(args.time));
    options.time = t;
  }
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto lock, ctx.lock(*repo, false, "import"));
  KHO_TRY_STATUS(repo->load_index());
  engine::Progress progress;
  ProgressDisplay display(ctx, progress, "imported");
  auto result = engine::run_import(*repo, options, &progress);
  display.stop();
  if (!result) return tl::unexpected(result.error().with_context("import failed"));
  for (const auto& p : result->problems) fmt::print(stderr, "{}: {}: {}\n", p.action, p.entry, p.reason);
  const auto& s = result->snapshot;
  const auto& sum = s.summary;
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["message_type"] = "summary";
    j["snapshot_id"] = result->snapshot_id.hex();
    j["short_id"] = result->snapshot_id.short_hex();
    j["path"] = s.paths.empty() ? "" : s.paths.front();
    j["entries"] = result->entries;
    j["files"] = result->files;
    j["dirs"] = result->dirs;
    j["symlinks"] = result->symlinks;
    j["hardlinks"] = result->hardlinks;
    j["other"] = result->other;
    j["total_bytes"] = result->bytes;
    j["data_blobs"] = sum.data_blobs;
    j["tree_blobs"] = sum.tree_blobs;
    j["data_added"] = sum.data_added;
    j["data_added_raw"] = sum.data_added_raw;
    j["duration_s"] = sum.duration_s;
    j["refused"] = result->refused;
    j["sanitised"] = result->sanitised;
    j["incomplete"] = s.incomplete;
    auto problems = nlohmann::ordered_json::array();
    for (const auto& p : result->problems)
      problems.push_back({{"entry", p.entry}, {"action", p.action}, {"reason", p.reason}});
    j["problems"] = problems;
    ctx.print_json(j);
  } else if (!ctx.global.quiet) {
    fmt::print("Imported:    {} entries into {}: {} files ({} hard-linked), {} directories, {} symlinks, {} other\n",
               result->entries, s.paths.empty() ? "" : s.paths.front(), result->files, result->hardlinks, result->dirs,
               result->symlinks, result->other);
    fmt::print("Processed:   {} in {}\n", format_size(result->bytes), format_duration(sum.duration_s));
    fmt::print("Added:       {} stored ({} before compression)\n", format_size(sum.data_added),
               format_size(sum.data_added_raw));
    if (result->refused || result->sanitised)
      fmt::print("Problems:    {} entries refused, {} sanitised (listed above)\n", result->refused, result->sanitised);
    fmt::print("snapshot {} saved{}\n", result->snapshot_id.short_hex(),
               s.incomplete ? fmt::format(", INCOMPLETE: {} entries refused", result->refused) : "");
  } else {
    fmt::print("{}\n", result->snapshot_id.hex());
  }
  if (s.incomplete) ctx.result_code = 3;
  return {};
}
}  // namespace

void register_import(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand("import", "Store an archive (tar, pax, zip, cpio, 7zip, ...; any compression) as a snapshot");
  cmd->add_option("archive", args->archive, "Archive file, or - for standard input")->required();
  cmd->add_option("--host", args->host, "Host name to record (default: this machine's)");
  cmd->add_option("--tag", args->tags, "Tag the snapshot (repeatable)");
  cmd->add_option("--path-prefix", args->path_prefix,
                  "Absolute directory the archive's entries go below (default: /imported/<archive name>)");
  cmd->add_option("--time", args->time, "Snapshot time, \"YYYY-MM-DD HH:MM:SS\" local time (default: now)");
  cmd->add_flag("--strict", args->strict, "Fail (no snapshot) on any entry that would be refused or sanitised");
  cmd->add_option("--max-ratio", args->max_ratio,
                  "Stop when the archive expands more than this many times (after 256 MiB; default 200; 0: no limit)");
  cmd->add_option("--max-size", args->max_size, "Stop when the archive expands to more than this (e.g. 500G)");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_import(ctx, *args); }; });
}

}  // namespace kho::cli

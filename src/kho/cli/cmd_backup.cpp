#include <fstream>
#include <thread>

#include "kho/cli/context.hpp"
#include "kho/engine/backup.hpp"

namespace kho::cli {

namespace {
struct BackupArgs {
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  std::string host;
  std::string policy;
  std::string time;
  std::vector<std::string> excludes;
  std::vector<std::string> exclude_files;
  bool one_file_system = false;
  std::vector<std::string> stdin_from;      // commands, each paired with
  std::vector<std::string> stdin_filename;  // the name of its output in the snapshot
  bool force = false;
  std::string parent;
  bool no_anomaly = false;
  std::optional<double> anomaly_threshold;
  std::optional<double> anomaly_changed_share;
  std::optional<double> anomaly_encrypted_share;
  std::optional<double> anomaly_min_files;
};

Result<std::vector<std::string>> read_exclude_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(Errc::invalid_argument, "cannot read the exclude file " + path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    out.push_back(line.substr(start));
  }
  return out;
}

Status run_backup(Context& ctx, const BackupArgs& args) {
  engine::BackupOptions options;
  options.paths = args.paths;
  options.tags = args.tags;
  options.host = args.host;
  options.policy = args.policy;
  options.excludes = args.excludes;
  for (const auto& f : args.exclude_files) {
    KHO_TRY_ASSIGN(auto patterns, read_exclude_file(f));
    options.excludes.insert(options.excludes.end(), patterns.begin(), patterns.end());
  }
  options.one_file_system = args.one_file_system;
  options.force_read = args.force;
  options.score_anomaly = !args.no_anomaly;
  if (args.anomaly_threshold) options.anomaly.threshold = *args.anomaly_threshold;
  if (args.anomaly_changed_share) options.anomaly.changed_share = *args.anomaly_changed_share;
  if (args.anomaly_encrypted_share) options.anomaly.encrypted_share = *args.anomaly_encrypted_share;
  if (args.anomaly_min_files) options.anomaly.min_files = *args.anomaly_min_files;
  options.threads = ctx.global.threads;
  if (!args.time.empty()) {
    KHO_TRY_ASSIGN(TimeNs t, parse_time(args.time));
    options.time = t;
  }
  if (args.stdin_from.size() != args.stdin_filename.size())
    return failf(Errc::invalid_argument,
                 "each --stdin-from needs its --stdin-filename NAME (the file's name in the snapshot): {} command(s), "
                 "{} name(s)",
                 args.stdin_from.size(), args.stdin_filename.size());
  for (std::size_t i = 0; i < args.stdin_from.size(); ++i)
    options.streams.push_back({args.stdin_from[i], args.stdin_filename[i]});
  if (options.paths.empty() && options.streams.empty())
    return fail(Errc::invalid_argument, "nothing to back up: give one or more paths, or --stdin-from CMD");
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto lock, ctx.lock(*repo, false, "backup"));
  KHO_TRY_STATUS(repo->load_index());
  if (!args.parent.empty()) {
    KHO_TRY_ASSIGN(auto parent, repo->find_snapshot(args.parent));
    options.parent = parent.id;
  }
  engine::Progress progress;
  ProgressDisplay display(ctx, progress, "backed up");
  std::atomic<bool> scan_stop{false};
  std::thread scanner;
  if (ctx.show_progress()) scanner = std::thread([&] { engine::scan_totals(options, progress, scan_stop); });
  auto result = engine::run_backup(*repo, options, &progress);
  scan_stop = true;
  if (scanner.joinable()) scanner.join();
  display.stop();
  if (!result) return tl::unexpected(result.error().with_context("backup failed"));
  const auto& s = result->snapshot;
  const auto& sum = s.summary;
  for (const auto& e : s.errors) fmt::print(stderr, "error: {}: {}\n", e.path, e.error);
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["message_type"] = "summary";
    j["snapshot_id"] = result->snapshot_id.hex();
    j["short_id"] = result->snapshot_id.short_hex();
    j["files_new"] = sum.files_new;
    j["files_changed"] = sum.files_changed;
    j["files_unmodified"] = sum.files_unmodified;
    j["dirs"] = sum.dirs;
    j["dirs_new"] = sum.dirs_new;
    j["dirs_changed"] = sum.dirs_changed;
    j["dirs_unmodified"] = sum.dirs_unmodified;
    j["total_files"] = sum.total_files;
    j["total_bytes"] = sum.total_bytes;
    j["data_blobs"] = sum.data_blobs;
    j["tree_blobs"] = sum.tree_blobs;
    j["data_added"] = sum.data_added;
    j["data_added_raw"] = sum.data_added_raw;
    j["duration_s"] = sum.duration_s;
    j["incomplete"] = s.incomplete;
    auto errs = nlohmann::ordered_json::array();
    for (const auto& e : s.errors) errs.push_back({{"path", e.path}, {"error", e.error}});
    j["errors"] = errs;
    if (s.parent) j["parent"] = s.parent->hex();
    j["anomaly"] = s.anomaly.is_null() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s.anomaly);
    ctx.print_json(j);
  } else if (!ctx.global.quiet) {
    if (s.parent) fmt::print("using parent snapshot {}\n", s.parent->short_hex());
    fmt::print("Files:       {} new, {} changed, {} unmodified\n", sum.files_new, sum.files_changed, sum.files_unmodified);
    fmt::print("Dirs:        {} new, {} changed, {} unmodified\n", sum.dirs_new, sum.dirs_changed, sum.dirs_unmodified);
    fmt::print("Processed:   {} in {} files, {}\n", format_size(sum.total_bytes), sum.total_files,
               format_duration(sum.duration_s));
    fmt::print("Added:       {} stored ({} before compression)\n", format_size(sum.data_added),
               format_size(sum.data_added_raw));
    if (s.flagged()) {
      fmt::print(stderr, "WARNING: this snapshot looks like ransomware's work (score {:.2f}):\n",
                 s.anomaly.value("score", 0.0));
      for (const auto& r : s.anomaly.value("reasons", nlohmann::json::array()))
        fmt::print(stderr, "  - {}\n", r.get<std::string>());
      fmt::print(stderr, "latest-clean passes over it; 'kho snapshot mark-clean ID' if it is not an attack\n");
    }
    fmt::print("snapshot {} saved{}\n", result->snapshot_id.short_hex(),
               s.incomplete ? fmt::format(", INCOMPLETE: {} item(s) could not be read (listed above)", s.errors.size())
                            : "");
  } else {
    fmt::print("{}\n", result->snapshot_id.hex());
  }
  if (s.incomplete) ctx.result_code = 3;
  return {};
}
}  // namespace

void register_backup(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<BackupArgs>();
  auto* cmd = app.add_subcommand("backup", "Back up files, directories and command output into a new snapshot");
  cmd->add_option("paths", args->paths, "Files and directories to back up (stored as absolute paths)");
  cmd->add_option("--tag", args->tags, "Tag the snapshot (repeatable)");
  cmd->add_option("--host", args->host, "Host name to record (default: this machine's)");
  cmd->add_option("--policy", args->policy,
                  "Record the snapshot as made for this policy (kho policy run sets it; the parent is looked up "
                  "among the policy's snapshots)");
  cmd->add_option("--time", args->time, "Snapshot time, \"YYYY-MM-DD HH:MM:SS\" local time (default: now)");
  cmd->add_option("-e,--exclude", args->excludes, "Exclude paths matching this glob (repeatable; see docs/CLI.md)");
  cmd->add_option("--exclude-file", args->exclude_files, "Read exclude globs from this file, one per line");
  cmd->add_flag("-x,--one-file-system", args->one_file_system, "Do not cross filesystem boundaries");
  cmd->add_option("--stdin-from", args->stdin_from,
                  "Run this command (sh -c) and store its output as a file; the backup fails if the command fails "
                  "(repeatable, each with its --stdin-filename)");
  cmd->add_option("--stdin-filename", args->stdin_filename,
                  "Name of the --stdin-from file in the snapshot, e.g. db/app.sql (one per --stdin-from, in order)");
  cmd->add_option("--parent", args->parent, "Compare with this snapshot instead of the latest of the same host and paths");
  cmd->add_flag("--force", args->force, "Read every file, even those unchanged since the parent snapshot");
  cmd->add_flag("--no-anomaly", args->no_anomaly, "Do not score the snapshot for signs of ransomware");
  cmd->add_option("--anomaly-threshold", args->anomaly_threshold,
                  "Flag the snapshot at or above this ransomware score (default 0.6; docs/ANOMALY.md)");
  cmd->add_option("--anomaly-changed-share", args->anomaly_changed_share,
                  "Share of files changed that counts as mass change (default 0.3)");
  cmd->add_option("--anomaly-encrypted-share", args->anomaly_encrypted_share,
                  "Share of read files that look encrypted that counts as an attack signal (default 0.2)");
  cmd->add_option("--anomaly-min-files", args->anomaly_min_files,
                  "Fewer changed files than this never flag on shares alone (default 20)");
  cmd->footer("Exit code 3: the snapshot was saved, but some files could not be read (they are listed).");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_backup(ctx, *args); }; });
}

}  // namespace kho::cli

#include "kho/cli/context.hpp"
#include "kho/engine/stats.hpp"

namespace kho::cli {

namespace {
struct StatsArgs {
  std::vector<std::string> snapshots;
  std::string mode = "restore-size";
  FilterOptions filter;
};

Status run_stats(Context& ctx, const StatsArgs& args) {
  KHO_TRY_ASSIGN(engine::StatsMode mode, engine::parse_stats_mode(args.mode));
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository());
  auto filter = args.filter.filter();
  KHO_TRY_ASSIGN(auto snapshots, ctx.select_snapshots(*repo, args.snapshots, filter, "not counted"));
  KHO_TRY_ASSIGN(engine::Stats s, engine::compute_stats(*repo, snapshots, mode));
  if (s.missing_blobs > 0)
    ctx.warn("{} blob(s) the snapshots reference are not in the index: run 'kho check'", s.missing_blobs);

  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["mode"] = engine::stats_mode_name(s.mode);
    j["snapshots"] = s.snapshots;
    j["total_size"] = s.total_size();
    j["total_files"] = s.total_files;
    j["restore_size"] = s.restore_size;
    j["raw_data_size"] = s.raw_data_size;
    j["referenced_blobs"] = s.referenced_blobs;
    j["referenced_stored_size"] = s.referenced_stored_size;
    j["stored_size"] = s.stored_size;
    j["blob_count"] = s.blob_count;
    j["pack_count"] = s.pack_count;
    j["repository_snapshots"] = s.repository_snapshots;
    j["dedup_ratio"] = s.dedup_ratio;
    j["compression_ratio"] = s.compression_ratio;
    ctx.print_json(j);
    return {};
  }
  auto ratio = [](double r) { return r > 0 ? fmt::format("{:.2f}x", r) : std::string("-"); };
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("Mode", engine::stats_mode_name(s.mode));
  rows.emplace_back("Snapshots", fmt::format("{} (of {} in the repository)", s.snapshots, s.repository_snapshots));
  std::pair<std::string, std::string> restore{
      "Restore size", fmt::format("{} in {} file(s)", format_size(s.restore_size), s.total_files)};
  std::pair<std::string, std::string> raw{
      "Raw data", fmt::format("{} in {} unique blob(s), {} stored", format_size(s.raw_data_size), s.referenced_blobs,
                              format_size(s.referenced_stored_size))};
  if (s.mode == engine::StatsMode::restore_size) {
    rows.push_back(restore);
    rows.push_back(raw);
  } else {
    rows.push_back(raw);
    rows.push_back(restore);
  }
  rows.emplace_back("Dedup ratio", ratio(s.dedup_ratio));
  rows.emplace_back("Compression ratio", ratio(s.compression_ratio));
  rows.emplace_back("Repository",
                    fmt::format("{} blob(s) in {} pack(s), {} stored", s.blob_count, s.pack_count,
                                format_size(s.stored_size)));
  for (const auto& [label, value] : rows) fmt::print("{:>18}:  {}\n", label, value);
  return {};
}
}  // namespace

void register_stats(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<StatsArgs>();
  auto* cmd = app.add_subcommand("stats", "Show sizes, dedup and compression of snapshots and the repository");
  cmd->add_option(
      "snapshot", args->snapshots,
      "Snapshots to count: ID, unique ID prefix, 'latest' or 'latest-clean' (default: all matching the filters)");
  cmd->add_option("--mode", args->mode, "Headline figure: restore-size (sum of file sizes) or raw-data (unique blobs)")
      ->check(CLI::IsMember({"restore-size", "raw-data"}));
  args->filter.add_to(cmd);
  cmd->footer(
      "dedup ratio = restore size / raw size of the unique data blobs; compression ratio = raw /\n"
      "stored size of the unique blobs. Repository figures (blobs, packs, stored size of the pack\n"
      "files) cover the whole repository.\n"
      "With --json: {\"mode\", \"snapshots\", \"total_size\" (the mode's figure), \"total_files\",\n"
      "\"restore_size\", \"raw_data_size\", \"referenced_blobs\", \"referenced_stored_size\", \"stored_size\",\n"
      "\"blob_count\", \"pack_count\", \"repository_snapshots\", \"dedup_ratio\", \"compression_ratio\"}; sizes in bytes.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_stats(ctx, *args); }; });
}

}  // namespace kho::cli

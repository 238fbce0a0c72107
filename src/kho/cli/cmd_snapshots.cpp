#include "kho/cli/context.hpp"

namespace kho::cli {

namespace {
std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

Status run_snapshots(Context& ctx, const FilterOptions& filter_options, bool latest_only) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto shown, ctx.select_snapshots(*repo, {}, filter_options.filter(), "not listed"));
  if (latest_only && shown.size() > 1) shown.erase(shown.begin(), shown.end() - 1);
  if (ctx.global.json) {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& s : shown) arr.push_back(repo::snapshot_listing_json(s));
    ctx.print_json(arr);
    return {};
  }
  Table table({"ID", "Time", "Host", "Tags", "Paths", "Size", "Flags"});
  for (const auto& ref : shown) {
    const auto& s = ref.snapshot;
    std::string flags;
    if (s.incomplete) flags += "incomplete";
    if (s.anomaly.is_object()) {
      std::string mark;
      if (auto m = s.anomaly.find("marked"); m != s.anomaly.end() && m->is_string())
        mark = *m == "suspect" ? "SUSPECT (marked)" : "clean (marked)";
      else if (s.flagged())
        mark = fmt::format("FLAGGED {:.2f}", s.anomaly.value("score", 0.0));
      if (!mark.empty()) flags += (flags.empty() ? "" : ",") + mark;
    }
    table.add({ref.id.short_hex(), format_local(s.time), s.host, join(s.tags, ","), join(s.paths, " "),
               format_size(s.summary.total_bytes), flags});
  }
  fmt::print("{}", table.render());
  fmt::print("{} snapshot(s)\n", shown.size());
  return {};
}
}  // namespace

void register_snapshots(CLI::App& app, Context& ctx) {
  auto filter = std::make_shared<FilterOptions>();
  auto latest = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("snapshots", "List snapshots");
  filter->add_to(cmd);
  cmd->add_flag("--latest", *latest, "Show only the newest matching snapshot");
  cmd->callback([&ctx, filter, latest] { ctx.action = [&ctx, filter, latest] { return run_snapshots(ctx, *filter, *latest); }; });
}

}  // namespace kho::cli

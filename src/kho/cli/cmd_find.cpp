#include "kho/cli/context.hpp"
#include "kho/engine/find.hpp"

namespace kho::cli {

namespace {
struct FindArgs {
  std::string pattern;
  std::vector<std::string> snapshots;
  bool ignore_case = false;
  FilterOptions filter;
};

Status run_find(Context& ctx, const FindArgs& args) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository());
  auto filter = args.filter.filter();
  KHO_TRY_ASSIGN(auto snapshots, ctx.select_snapshots(*repo, args.snapshots, filter, "not searched"));
  engine::FindOptions options;
  options.ignore_case = args.ignore_case;
  KHO_TRY_ASSIGN(auto matches, engine::find_in_snapshots(*repo, snapshots, args.pattern, options));

  if (ctx.global.json) {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& m : matches) {
      nlohmann::ordered_json j;
      j["snapshot_id"] = m.snapshot_id.hex();
      j["short_id"] = m.snapshot_id.short_hex();
      j["time"] = format_rfc3339(m.snapshot_time);
      j["path"] = m.path;
      j["type"] = platform::file_type_name(m.type);
      j["size"] = m.size;
      j["mtime"] = m.mtime_ns;
      arr.push_back(std::move(j));
    }
    ctx.print_json(arr);
    return {};
  }
  std::size_t snapshots_with_matches = 0;
  for (std::size_t i = 0; i < matches.size();) {
    const auto& first = matches[i];
    ++snapshots_with_matches;
    ctx.print("{}snapshot {} of {}:\n", snapshots_with_matches > 1 ? "\n" : "", first.snapshot_id.short_hex(),
              format_local(first.snapshot_time));
    Table table({"Type", "Size", "Modified", "Path"});
    for (; i < matches.size() && matches[i].snapshot_id == first.snapshot_id; ++i) {
      const auto& m = matches[i];
      table.add({platform::file_type_name(m.type), m.type == platform::FileType::file ? format_size(m.size) : "",
                 format_local(m.mtime_ns), m.type == platform::FileType::dir ? m.path + "/" : m.path});
    }
    fmt::print("{}", table.render());
  }
  ctx.print("{}{} match(es) in {} of {} snapshot(s)\n", matches.empty() ? "" : "\n", matches.size(),
            snapshots_with_matches, snapshots.size());
  return {};
}
}  // namespace

void register_find(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<FindArgs>();
  auto* cmd = app.add_subcommand("find", "Find which snapshots hold paths matching a pattern");
  cmd->add_option("pattern", args->pattern, "Glob pattern: '*.conf' (name), '/etc/**/*.conf' (absolute path)")
      ->required();
  cmd->add_option(
         "-s,--snapshot", args->snapshots,
         "Only search this snapshot: ID, unique ID prefix, 'latest' or 'latest-clean' (repeatable; default: all)")
      ->allow_extra_args(false);  // one value per --snapshot, so the pattern may follow it
  cmd->add_flag("-i,--ignore-case", args->ignore_case, "Ignore the case of ASCII letters");
  args->filter.add_to(cmd);
  cmd->footer(
      "A pattern without '/' matches entry names at any depth; one starting with '/' matches\n"
      "whole absolute paths; another with '/' matches the last components of a path\n"
      "('nginx/*.conf' matches /etc/nginx/a.conf). * ? [..] match within one component, **\n"
      "across components. Quote the pattern so the shell does not expand it.\n"
      "With --json: an array of {\"snapshot_id\", \"short_id\", \"time\" (RFC 3339), \"path\", \"type\",\n"
      "\"size\" (bytes, files only), \"mtime\" (nanoseconds since the epoch)}.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_find(ctx, *args); }; });
}

}  // namespace kho::cli

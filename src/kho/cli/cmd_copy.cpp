#include "kho/cli/context.hpp"
#include "kho/engine/copy.hpp"

namespace kho::cli {

namespace {
struct CopyArgs {
  FromRepoOptions from;
  FilterOptions filter;
  std::vector<std::string> snapshots;
};

Status run_copy(Context& ctx, const CopyArgs& args) {
  if (args.from.repo.empty())
    return fail(Errc::invalid_argument, "no source repository: use --from-repo or set KHO_FROM_REPOSITORY");
  KHO_TRY_ASSIGN(auto source, ctx.open_repository(args.from.repo, args.from.password_source(), false));
  KHO_TRY_ASSIGN(auto destination, ctx.open_repository(false));
  if (source->config().id == destination->config().id)
    return fail(Errc::invalid_argument, "the source and destination are the same repository");
  KHO_TRY_ASSIGN(auto source_lock, ctx.lock(*source, false, "copy (source)"));
  KHO_TRY_ASSIGN(auto destination_lock, ctx.lock(*destination, false, "copy"));
  KHO_TRY_STATUS(source->load_index());
  KHO_TRY_STATUS(destination->load_index());
  std::vector<repo::SnapshotRef> selected;
  std::vector<Error> unreadable;  // source snapshots that cannot be read: the copy is incomplete
  if (args.snapshots.empty()) {
    KHO_TRY_ASSIGN(auto all, source->list_snapshots(&unreadable));
    for (const auto& e : unreadable) ctx.warn("{} (not copied)", e.message());
    for (auto& s : all)
      if (args.filter.filter().matches(s.snapshot)) selected.push_back(std::move(s));
  } else {
    KHO_TRY_ASSIGN(selected, ctx.select_snapshots(*source, args.snapshots, args.filter.filter(), "not copied"));
  }
  if (!engine::same_blob_id_space(*source, *destination))
    ctx.verbose("the repositories do not share chunker parameters: file contents are re-chunked");

  engine::CopyOptions options;
  options.threads = ctx.global.threads;
  engine::Progress progress;
  ProgressDisplay display(ctx, progress, "copied");
  auto result = engine::copy_snapshots(*source, *destination, selected, options, &progress);
  display.stop();
  if (!result) return tl::unexpected(result.error().with_context("copy failed"));

  std::size_t copied = 0;
  for (const auto& s : result->snapshots)
    if (!s.skipped) ++copied;
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    auto list = nlohmann::ordered_json::array();
    for (const auto& s : result->snapshots) {
      nlohmann::ordered_json item;
      item["source"] = s.source.hex();
      item["original"] = s.original.hex();
      item["snapshot"] = s.destination ? nlohmann::ordered_json(s.destination->hex()) : nlohmann::ordered_json();
      item["skipped"] = s.skipped;
      list.push_back(item);
    }
    j["snapshots"] = list;
    j["copied"] = copied;
    j["skipped"] = result->snapshots.size() - copied;
    j["rechunked"] = result->rechunked;
    j["blobs_added"] = result->blobs_copied;
    j["bytes_read"] = result->bytes_read;
    j["data_added"] = result->bytes_added;
    j["data_added_raw"] = result->raw_added;
    j["duration_s"] = result->duration_s;
    ctx.print_json(j);
  } else {
    for (const auto& s : result->snapshots) {
      std::string dest = s.destination ? s.destination->short_hex() : "?";
      if (s.skipped)
        ctx.print("snapshot {} is already in {} as {}\n", s.source.short_hex(), destination->location(), dest);
      else
        ctx.print("snapshot {} copied to {} as {}\n", s.source.short_hex(), destination->location(), dest);
    }
    ctx.print("copied {} snapshot(s), skipped {}; added {} blob(s), {} stored ({} raw){}\n", copied,
              result->snapshots.size() - copied, result->blobs_copied, format_size(result->bytes_added),
              format_size(result->raw_added), result->rechunked ? "; contents re-chunked" : "");
  }
  if (!unreadable.empty())
    return failf(Errc::failed,
                 "{} snapshot(s) of {} could not be read and were not copied (see above); run 'kho check' on it",
                 unreadable.size(), source->location());
  return {};
}
}  // namespace

void register_copy(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<CopyArgs>();
  auto* cmd = app.add_subcommand("copy", "Copy snapshots from another repository into this one (-r)");
  args->from.add_to(cmd);
  args->filter.add_to(cmd);
  cmd->add_option("snapshots", args->snapshots, "Snapshots to copy (IDs, prefixes, latest); default: all matching");
  cmd->footer(
      "Only blobs the destination lacks are transferred; a snapshot already copied (same original) is\n"
      "skipped, so running copy twice adds nothing. Each copy keeps its time, host, paths and tags.\n"
      "Repositories made with 'init --copy-chunker-params --from-repo SRC' share blob IDs and copy\n"
      "without re-chunking; others are re-chunked with the destination's chunker.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_copy(ctx, *args); }; });
}

}  // namespace kho::cli

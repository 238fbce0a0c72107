#include <fcntl.h>
#include <unistd.h>

#include "kho/cli/context.hpp"
#include "kho/engine/archive_export.hpp"
#include "kho/util/fd.hpp"
#include "kho/util/json.hpp"

namespace kho::cli {

namespace {
struct ExportArgs {
  std::string snapshot;
  std::string format = "pax";
  std::string compress = "none";
  std::string output = "-";
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  FilterOptions filter;
};

Status run_export(Context& ctx, const ExportArgs& args) {
  engine::ExportOptions options;
  KHO_TRY_ASSIGN(options.format, engine::parse_archive_format(args.format));
  KHO_TRY_ASSIGN(options.compression, engine::parse_archive_compression(args.compress));
  options.includes = args.includes;
  options.excludes = args.excludes;
  options.threads = ctx.global.threads;
  std::string spec = args.snapshot;
  if (auto colon = spec.find(':'); colon != std::string::npos) {
    options.subpath = spec.substr(colon + 1);
    spec = spec.substr(0, colon);
  }
  const bool to_stdout = args.output == "-";
  if (to_stdout && ::isatty(STDOUT_FILENO))
    return fail(Errc::invalid_argument,
                "refusing to write an archive to a terminal: give -o FILE or redirect standard output");
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto lock, ctx.lock(*repo, false, "export"));
  KHO_TRY_STATUS(repo->load_index());
  KHO_TRY_ASSIGN(auto snap, repo->find_snapshot(spec, args.filter.filter()));

  Fd file;
  if (to_stdout) {
    options.fd = STDOUT_FILENO;
  } else {
    // 0600: the archive holds the snapshot's data unencrypted.
    int fd = ::open(args.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail_errno("cannot create the archive " + args.output, errno);
    file = Fd(fd);
    options.fd = fd;
  }
  ctx.verbose("exporting snapshot {} as {} to {}", snap.id.short_hex(), args.format, to_stdout ? "stdout" : args.output);
  engine::Progress progress;
  ProgressDisplay display(ctx, progress, "exported");
  auto result = engine::run_export(*repo, snap.snapshot, options, &progress);
  display.stop();
  if (!result) {
    if (!to_stdout) ::unlink(args.output.c_str());  // never leave a partial archive that looks whole
    return tl::unexpected(result.error().with_context("export failed"));
  }
  if (!to_stdout) {
    // EINVAL: not a regular file (-o /dev/null, a FIFO): nothing to flush.
    if (::fsync(file.get()) != 0 && errno != EINVAL) {
      ::unlink(args.output.c_str());
      return fail_errno("cannot write the archive " + args.output, errno);
    }
  }
  for (const auto& s : result->skipped) ctx.warn("{}: {}", s.path, s.what);
  // The archive may be on stdout: the summary then goes to stderr.
  std::FILE* out = to_stdout ? stderr : stdout;
  if (ctx.global.json) {
    nlohmann::ordered_json j;
    j["message_type"] = "summary";
    j["snapshot_id"] = snap.id.hex();
    j["format"] = args.format;
    j["compression"] = args.compress;
    j["output"] = args.output;
    j["files"] = result->files;
    j["dirs"] = result->dirs;
    j["symlinks"] = result->symlinks;
    j["hardlinks"] = result->hardlinks;
    j["other"] = result->other;
    j["sparse_files"] = result->sparse_files;
    j["bytes"] = result->bytes;
    j["archive_bytes"] = result->archive_bytes;
    j["duration_s"] = result->duration_s;
    auto skipped = nlohmann::ordered_json::array();
    for (const auto& s : result->skipped) skipped.push_back({{"path", s.path}, {"what", s.what}});
    j["skipped"] = skipped;
    fmt::print(out, "{}\n", json_dump(j));
  } else if (!ctx.global.quiet && (!to_stdout || ctx.global.verbose > 0)) {
    fmt::print(out, "exported snapshot {}: {} files ({} hard links), {} directories, {} symlinks, {} other; {} of data, "
                    "{} archive in {}\n",
               snap.id.short_hex(), result->files, result->hardlinks, result->dirs, result->symlinks, result->other,
               format_size(result->bytes), format_size(result->archive_bytes), format_duration(result->duration_s));
  }
  return {};
}
}  // namespace

void register_export(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "Write a snapshot, or part of it, as a tar/pax/zip/cpio/7zip archive");
  cmd->add_option(
         "snapshot", args->snapshot,
         "SNAPSHOT[:PATH]: an ID, unique ID prefix, 'latest' or 'latest-clean'; with :PATH, only that directory (its "
         "contents, stored relative to it) or file")
      ->required();
  cmd->add_option("--format", args->format, "Archive format: pax (default), tar, zip, cpio or 7zip");
  cmd->add_option("--compress", args->compress, "Compression filter for pax, tar and cpio: none (default), gzip, zstd or xz");
  cmd->add_option("-o,--output", args->output, "Archive file to write, or - for standard output (default)");
  cmd->add_option("-i,--include", args->includes, "Export only paths matching this glob (repeatable)");
  cmd->add_option("-e,--exclude", args->excludes, "Leave out paths matching this glob (repeatable)");
  args->filter.add_to(cmd);
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_export(ctx, *args); }; });
}

}  // namespace kho::cli

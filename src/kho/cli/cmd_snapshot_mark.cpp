// kho snapshot mark-clean|mark-suspect ID: a person's decision about a
// snapshot's ransomware flag. The snapshot is rewritten with the decision in
// its anomaly record (who, when, why) and stored under its new ID; the old
// object is removed, as tags are changed by other tools. `latest-clean` skips
// a snapshot marked suspect and takes one marked clean, whatever its score.
#include <unistd.h>

#include "kho/cli/context.hpp"
#include "kho/platform/fs.hpp"

namespace kho::cli {

namespace {
struct MarkArgs {
  std::string snapshot;
  std::string reason;
};

Status run_mark(Context& ctx, const MarkArgs& args, bool clean) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository(false));
  KHO_TRY_ASSIGN(auto lock, ctx.lock(*repo, true, clean ? "snapshot mark-clean" : "snapshot mark-suspect"));
  KHO_TRY_ASSIGN(repo::SnapshotRef ref, repo->find_snapshot(args.snapshot));
  repo::Snapshot snap = ref.snapshot;
  nlohmann::json anomaly = snap.anomaly.is_object() ? snap.anomaly : nlohmann::json::object();
  if (!anomaly.contains("score")) anomaly["score"] = nullptr;  // never scored (older kho, or scoring off)
  const bool was = snap.flagged();
  anomaly["marked"] = clean ? "clean" : "suspect";
  anomaly["marked_by"] = platform::current_user();
  anomaly["marked_at"] = format_rfc3339(now_ns());
  if (!args.reason.empty()) anomaly["marked_reason"] = args.reason;
  anomaly["flagged"] = !clean;
  snap.anomaly = anomaly;
  if (!snap.original) snap.original = ref.id;
  KHO_TRY_ASSIGN(Id id, repo->save_snapshot(snap));
  if (id != ref.id) {
    auto st = repo->backend().remove(backend::Handle{backend::ObjectType::snapshot, ref.id.hex()});
    if (!st) {
      return failf(st.error().code() == Errc::permission ? Errc::permission : Errc::failed,
                   "snapshot {} was saved as {} but the old object could not be removed ({}); both are listed "
                   "until it is",
                   ref.id.short_hex(), id.short_hex(), st.error().message());
    }
  }
  if (ctx.global.json) {
    ctx.print_json({{"old_id", ref.id.hex()},
                    {"id", id.hex()},
                    {"marked", clean ? "clean" : "suspect"},
                    {"was_flagged", was},
                    {"flagged", !clean}});
  } else {
    fmt::print("snapshot {} marked {} (now {}){}\n", ref.id.short_hex(), clean ? "clean" : "suspect", id.short_hex(),
               clean ? ": latest-clean may choose it" : ": latest-clean passes over it");
  }
  return {};
}
}  // namespace

void register_snapshot_mark(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<MarkArgs>();
  auto* cmd = app.add_subcommand("snapshot", "Record a person's decision about a snapshot's ransomware flag");
  cmd->require_subcommand(1);
  auto add = [&](const char* name, const char* help, bool clean) {
    auto* sub = cmd->add_subcommand(name, help);
    sub->add_option("id", args->snapshot, "Snapshot ID or unique prefix")->required();
    sub->add_option("--reason", args->reason, "Why (kept in the snapshot's anomaly record)");
    sub->callback([&ctx, args, clean] { ctx.action = [&ctx, args, clean] { return run_mark(ctx, *args, clean); }; });
  };
  add("mark-clean", "Mark a snapshot clean: latest-clean may choose it even if the score flagged it", true);
  add("mark-suspect", "Mark a snapshot suspect: latest-clean passes over it", false);
  cmd->footer(
      "The snapshot is rewritten with the decision (who, when, --reason) and gets a new ID; the old ID is removed.");
}

}  // namespace kho::cli

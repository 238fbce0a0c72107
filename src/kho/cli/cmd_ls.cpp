#include "kho/cli/context.hpp"
#include "kho/util/path.hpp"

namespace kho::cli {

namespace {
struct LsArgs {
  std::string snapshot;
  std::string path;
  bool recursive = true;
  FilterOptions filter;
};

std::string mode_string(const repo::Node& n) {
  static const char* types = "-dlpcbs";
  std::string s(1, types[static_cast<int>(n.type)]);
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (n.mode & (0400 >> i)) ? rwx[i] : '-';
  if (n.mode & 04000) s[3] = (n.mode & 0100) ? 's' : 'S';
  if (n.mode & 02000) s[6] = (n.mode & 0010) ? 's' : 'S';
  if (n.mode & 01000) s[9] = (n.mode & 0001) ? 't' : 'T';
  return s;
}

Status list_tree(Context& ctx, repo::Repository& repo, const Id& tree_id, const std::string& prefix, bool recursive) {
  repo::TreeDepth nesting;
  if (nesting.too_deep()) return tl::unexpected(repo::TreeDepth::error(prefix.empty() ? "/" : prefix));
  KHO_TRY_ASSIGN(repo::Tree tree, repo.load_tree(tree_id));
  for (const auto& node : tree.nodes) {
    std::string path = join_path(prefix, node.name);
    if (ctx.global.json) {
      auto j = repo::node_to_json(node);
      j["path"] = path;
      ctx.print_json(j);
    } else {
      std::string line = fmt::format("{} {:>8} {:>8} {:>10} {} {}", mode_string(node),
                                     node.user.empty() ? std::to_string(node.uid) : node.user,
                                     node.group.empty() ? std::to_string(node.gid) : node.group, node.size,
                                     format_local(node.mtime_ns), path);
      if (node.type == platform::FileType::symlink) line += " -> " + node.link_target;
      fmt::print("{}\n", line);
    }
    if (recursive && node.subtree) KHO_TRY_STATUS(list_tree(ctx, repo, *node.subtree, path, recursive));
  }
  return {};
}

Status run_ls(Context& ctx, const LsArgs& args) {
  KHO_TRY_ASSIGN(auto repo, ctx.open_repository());
  KHO_TRY_ASSIGN(auto snap, repo->find_snapshot(args.snapshot, args.filter.filter()));
  if (ctx.global.json) {
    auto j = repo::snapshot_listing_json(snap);
    j["message_type"] = "snapshot";
    ctx.print_json(j);
  }
  Id tree_id = snap.snapshot.tree;
  std::string prefix = "/";
  std::string path = args.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (!path.empty() && path != "/") {
    if (path.front() != '/') path = "/" + path;
    std::size_t pos = 1;
    while (pos <= path.size()) {
      std::size_t next = path.find('/', pos);
      if (next == std::string::npos) next = path.size();
      std::string comp = path.substr(pos, next - pos);
      pos = next + 1;
      if (comp.empty()) continue;
      KHO_TRY_ASSIGN(repo::Tree tree, repo->load_tree(tree_id));
      const repo::Node* node = tree.find(comp);
      if (!node) return fail(Errc::not_found, "path " + path + " is not in snapshot " + snap.id.short_hex());
      prefix = join_path(prefix, comp);
      if (!node->subtree) {
        // A single file: show just it.
        if (pos <= path.size()) return fail(Errc::not_found, "path " + path + " is not in snapshot " + snap.id.short_hex());
        if (ctx.global.json) {
          auto j = repo::node_to_json(*node);
          j["path"] = prefix;
          ctx.print_json(j);
        } else {
          fmt::print("{} {} {}\n", mode_string(*node), node->size, prefix);
        }
        return {};
      }
      tree_id = *node->subtree;
    }
  }
  return list_tree(ctx, *repo, tree_id, prefix, args.recursive);
}
}  // namespace

void register_ls(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<LsArgs>();
  auto* cmd = app.add_subcommand("ls", "List the files in a snapshot");
  cmd->add_option("snapshot", args->snapshot, "Snapshot ID, unique ID prefix, 'latest' or 'latest-clean'")->required();
  cmd->add_option("path", args->path, "Only list below this path in the snapshot");
  args->filter.add_to(cmd);
  cmd->footer("With --json: one JSON object per line, first the snapshot, then one per file.");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_ls(ctx, *args); }; });
}

}  // namespace kho::cli

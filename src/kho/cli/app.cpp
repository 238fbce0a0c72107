#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kho/cli/cli.hpp"
#include "kho/cli/context.hpp"
#include "kho/crypto/crypto.hpp"
#include "kho/platform/process.hpp"
#include "kho/util/json.hpp"

namespace kho::cli {

namespace {

void on_signal(int) {
  if (engine::cancel_flag().exchange(true)) _exit(k_exit_interrupted);  // second signal: leave now
  static const char msg[] = "\nkho: interrupted, stopping...\n";
  ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void raise_fd_limit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int exit_code_for(const Error& e) {
  switch (e.code()) {
    case Errc::invalid_argument: return k_exit_usage;
    case Errc::no_repository: return k_exit_no_repository;
    case Errc::locked: return k_exit_locked;
    case Errc::wrong_password: return k_exit_wrong_password;
    case Errc::interrupted: return k_exit_interrupted;
    case Errc::verification_failed: return k_exit_verify;
    case Errc::incomplete: return k_exit_incomplete;
    default: return k_exit_failed;
  }
}

void register_version(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("version", "Print the version of kho");
  cmd->callback([&ctx] {
    ctx.action = [&ctx]() -> Status {
      if (ctx.global.json) {
        nlohmann::ordered_json j;
        j["version"] = KHO_VERSION;
        ctx.print_json(j);
      } else {
        fmt::print("kho {}\n", KHO_VERSION);
      }
      return {};
    };
  });
}

void register_help(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("help", "Show help for kho or for one command");
  auto topic = std::make_shared<std::vector<std::string>>();
  cmd->add_option("command", *topic, "The command to explain");
  cmd->callback([&app, &ctx, topic] {
    ctx.action = [&app, topic]() -> Status {
      if (topic->empty()) {
        // Not app.help(): CLI11 hands that to the selected subcommand (this one).
        fmt::print("{}", app.get_formatter()->make_help(&app, "kho", CLI::AppFormatMode::Normal));
        return {};
      }
      CLI::App* target = &app;
      for (const auto& name : *topic) {
        CLI::App* sub = nullptr;
        try {
          sub = target->get_subcommand(name);
        } catch (const CLI::OptionNotFound&) {
        }
        if (!sub) return fail(Errc::invalid_argument, "unknown command '" + name + "': see 'kho help'");
        target = sub;
      }
      fmt::print("{}", target->help());
      return {};
    };
  });
}

void limit_option_args(CLI::App& app) {
  for (CLI::Option* opt : app.get_options())
    if (!opt->get_positional()) opt->allow_extra_args(false);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) limit_option_args(*sub);
}

}  // namespace

int run(int argc, char** argv) {
  // Before any password or key is read, and before any thread starts.
  platform::protect_secrets_in_memory();
  take_password_variables();
  crypto::init();
  install_signal_handlers();
  raise_fd_limit();
  // Buffers of a MiB and more (chunks, packs) come from mmap and go back to the
  // system when freed. glibc would otherwise raise this threshold after the first
  // large free and keep such buffers in per-thread heaps: measured on a 1 GB
  // backup, peak RSS 207 MB by default, 130 MB with this fixed threshold.
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);

  Context ctx;
  CLI::App app{"kho: encrypted, deduplicated backups and verified rapid recovery", "kho"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.add_option("-r,--repo", ctx.global.repo,
                 "Repository location: PATH, local:PATH, sftp://[user@]host[:port]/path or "
                 "rest:http(s)://[user:pass@]host:port/[path]")
      ->envname("KHO_REPOSITORY");
  app.add_option("-o,--option", ctx.global.options,
                 "Backend option KEY=VALUE (repeatable), e.g. sftp.identity=FILE, sftp.known_hosts=FILE, "
                 "sftp.connections=N, sftp.timeout=SECONDS, sftp.config=FILE, sftp.accept_new_host_key=yes, "
                 "rest.cacert=FILE, rest.connections=N, rest.timeout=SECONDS (see docs/BACKENDS.md)");
  app.add_option("--password-file", ctx.global.password_file, "Read the repository password from this file")
      ->envname("KHO_PASSWORD_FILE");
  app.add_option("--password-command", ctx.global.password_command,
                 "Run this command (sh -c) and use the first line it prints as the password");
  app.add_flag("--json", ctx.global.json, "Machine-readable JSON output");
  app.add_flag("-q,--quiet", ctx.global.quiet, "Print only errors and results");
  app.add_flag("-v,--verbose", ctx.global.verbose, "Say more about what is done (repeat for more)");
  app.add_flag("--no-progress", ctx.global.no_progress, "Do not show progress on the terminal");
  app.add_option("--threads", ctx.global.threads, "Worker threads (default: one per core)");
  app.add_option("--retry-lock", ctx.global.retry_lock,
                 "If the repository is locked, retry for this long (e.g. 5m) before giving up (exit 11)");
  app.footer(
      "Password: KHO_PASSWORD, --password-file/KHO_PASSWORD_FILE, --password-command, or a prompt.\n"
      "Exit codes: 0 ok, 1 failed, 2 bad usage, 3 backup incomplete, 4 verification failed,\n"
      "10 no repository, 11 locked, 12 wrong password, 130 interrupted.\n"
      "Run 'kho help COMMAND' for the options of a command.");

  register_init(app, ctx);
  register_backup(app, ctx);
  register_snapshots(app, ctx);
  register_snapshot_mark(app, ctx);
  register_ls(app, ctx);
  register_cat(app, ctx);
  register_restore(app, ctx);
  register_compare(app, ctx);
  register_check(app, ctx);
  register_forget(app, ctx);
  register_prune(app, ctx);
  register_unlock(app, ctx);
  register_key(app, ctx);
  register_copy(app, ctx);
  register_diff(app, ctx);
  register_find(app, ctx);
  register_stats(app, ctx);
  register_export(app, ctx);
  register_import(app, ctx);
  register_policy(app, ctx);
  register_status(app, ctx);
  register_report(app, ctx);
  register_scheduler(app, ctx);
  register_runbook(app, ctx);
  register_drill(app, ctx);
  register_version(app, ctx);
  register_help(app, ctx);

  // An option given several times takes one value each time; otherwise CLI11's
  // list options would swallow the positional arguments after them.
  limit_option_args(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : k_exit_usage;
  }
  if (!ctx.action) return k_exit_usage;
  Status status;
  try {
    status = ctx.action();
  } catch (const std::exception& e) {
    fmt::print(stderr, "kho: internal error: {}\n", e.what());
    return k_exit_failed;
  }
  if (!status) {
    const Error& e = status.error();
    if (ctx.global.json) {
      nlohmann::ordered_json j;
      j["error"] = e.message();
      j["code"] = errc_name(e.code());
      fmt::print(stderr, "{}\n", json_dump(j));
    } else {
      fmt::print(stderr, "kho: {}\n", e.message());
    }
    return exit_code_for(e);
  }
  return ctx.result_code;
}

}  // namespace kho::cli

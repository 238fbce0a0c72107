#include "kho/cli/context.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "kho/backend/wrap/retry_backend.hpp"
#include "kho/platform/process.hpp"
#include "kho/platform/terminal.hpp"
#include "kho/util/fd.hpp"
#include "kho/util/json.hpp"

namespace kho::cli {

namespace {
// Display width of UTF-8 text: counts code points (good enough for tables).
std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// The length of the first line of `text` without its line ending.
std::size_t first_line_length(std::string_view text) {
  std::size_t n = std::min(text.find('\n'), text.size());
  while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == '\n')) --n;
  return n;
}

// Passwords taken out of the environment by take_password_variables().
std::map<std::string, SecretString>& taken_variables() {
  static std::map<std::string, SecretString> taken;
  return taken;
}
}  // namespace

void take_password_variables() {
  for (const char* name : {"KHO_PASSWORD", "KHO_FROM_PASSWORD", "KHO_NEW_PASSWORD"}) {
    SecretString value = platform::take_environment_secret(name);
    if (!value.empty()) taken_variables()[name] = std::move(value);
  }
}

SecretString password_variable(const std::string& name) {
  if (auto it = taken_variables().find(name); it != taken_variables().end()) return it->second;
  if (const char* env = std::getenv(name.c_str()); env && *env) return SecretString(env);
  return SecretString();
}

Result<SecretString> read_password_file(const std::string& path, const std::string& what) {
  // Read with plain read(2) into a buffer that is wiped: a stream's own buffer
  // would be freed with the password still in it.
  auto fd = open_fd(path, O_RDONLY);
  if (!fd) return fail(Errc::invalid_argument, "cannot read " + what + " " + path);
  SecretBytes buf(64 * 1024);  // a first line longer than this is cut there
  std::size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd->get(), buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Errc::invalid_argument, "cannot read " + what + " " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
    if (std::memchr(buf.data(), '\n', got) != nullptr) break;
  }
  std::string_view text(reinterpret_cast<const char*>(buf.data()), got);
  SecretString pw(std::string(text.substr(0, first_line_length(text))));
  if (pw.empty()) return fail(Errc::invalid_argument, what + " " + path + " is empty");
  return pw;
}

Result<SecretString> get_password(const PasswordSource& source, bool confirm) {
  if (!source.file.empty()) return read_password_file(source.file, "the password file");
  if (!source.command.empty()) {
    auto out = platform::run_capture(source.command);
    if (!out) return tl::unexpected(out.error().with_context(source.command_option));
    std::string& text = *out;
    SecretString pw(text.substr(0, first_line_length(text)));
    secure_wipe(text.data(), text.capacity());
    if (pw.empty()) return fail(Errc::invalid_argument, source.command_option + " printed an empty password");
    return pw;
  }
  if (SecretString env = password_variable(source.env_var); !env.empty()) return env;
  if (!platform::is_terminal(STDIN_FILENO))
    return fail(Errc::invalid_argument, "no password given and no terminal to ask on: " + source.alternatives);
  KHO_TRY_ASSIGN(SecretString pw, platform::read_password(source.prompt));
  if (pw.empty()) return fail(Errc::invalid_argument, "an empty password is not allowed");
  if (confirm) {
    KHO_TRY_ASSIGN(SecretString again, platform::read_password("Repeat the password: "));
    if (again.value() != pw.value()) return fail(Errc::invalid_argument, "the passwords do not match");
  }
  return pw;
}

PasswordSource Context::password_source() const {
  PasswordSource source;
  source.file = global.password_file;
  source.command = global.password_command;
  source.command_option = "--password-command";
  source.env_var = "KHO_PASSWORD";
  source.prompt = "Repository password: ";
  source.alternatives = "set KHO_PASSWORD, KHO_PASSWORD_FILE, --password-file or --password-command";
  return source;
}

Result<SecretString> Context::password(bool confirm) const { return get_password(password_source(), confirm); }

void FromRepoOptions::add_to(CLI::App* cmd) {
  cmd->add_option("--from-repo", repo, "Source repository location (like -r)")->envname("KHO_FROM_REPOSITORY");
  cmd->add_option("--from-password-file", password_file, "Read the source repository's password from this file")
      ->envname("KHO_FROM_PASSWORD_FILE");
  cmd->add_option("--from-password-command", password_command,
                  "Run this command (sh -c) and use the first line it prints as the source password");
}

PasswordSource FromRepoOptions::password_source() const {
  PasswordSource source;
  source.file = password_file;
  source.command = password_command;
  source.command_option = "--from-password-command";
  source.env_var = "KHO_FROM_PASSWORD";
  source.prompt = "Source repository password: ";
  source.alternatives = "set KHO_FROM_PASSWORD, KHO_FROM_PASSWORD_FILE, --from-password-file or --from-password-command";
  return source;
}

Result<backend::BackendOptions> parse_backend_options(const std::vector<std::string>& options) {
  backend::BackendOptions out;
  for (const auto& option : options) {
    auto eq = option.find('=');
    if (eq == std::string::npos || eq == 0)
      return failf(Errc::invalid_argument, "option -o {}: expected KEY=VALUE", option);
    out[option.substr(0, eq)] = option.substr(eq + 1);
  }
  return out;
}

Result<std::unique_ptr<backend::Backend>> Context::open_backend() const {
  if (global.repo.empty())
    return fail(Errc::invalid_argument, "no repository given: use -r/--repo or set KHO_REPOSITORY");
  return open_backend(global.repo);
}

Result<std::unique_ptr<backend::Backend>> Context::open_backend(const std::string& location) const {
  KHO_TRY_ASSIGN(auto options, parse_backend_options(global.options));
  if (global.quiet) backend::set_retry_reporter([](const std::string&) {});
  return backend::open_location(location, options);
}

Result<std::unique_ptr<repo::Repository>> Context::open_repository(bool load_index) const {
  if (global.repo.empty())
    return fail(Errc::invalid_argument, "no repository given: use -r/--repo or set KHO_REPOSITORY");
  return open_repository(global.repo, password_source(), load_index);
}

Result<std::unique_ptr<repo::Repository>> Context::open_repository(const std::string& location,
                                                                   const PasswordSource& source,
                                                                   bool load_index) const {
  KHO_TRY_ASSIGN(auto backend, open_backend(location));
  // Refuse early, before asking for a password, when there is nothing there.
  auto config = backend->stat(backend::Handle{backend::ObjectType::config, ""});
  if (!config && config.error().code() == Errc::not_found)
    return fail(Errc::no_repository, "there is no repository at " + backend->properties().location +
                                         ": create one with 'kho init' or check the repository location");
  KHO_TRY_ASSIGN(SecretString pw, get_password(source));
  verbose("opening repository {}", backend->properties().location);
  KHO_TRY_ASSIGN(auto repo, repo::Repository::open(std::move(backend), pw));
  if (load_index) {
    KHO_TRY_STATUS(repo->load_index());
    verbose("loaded {} index file(s), {} blobs", repo->index_files().size(), repo->index().blob_count());
  }
  return repo;
}

Result<std::unique_ptr<repo::Lock>> Context::lock(repo::Repository& repo, bool exclusive,
                                                  const std::string& command) const {
  double wait = 0;
  if (!global.retry_lock.empty()) {
    KHO_TRY_ASSIGN(wait, parse_duration(global.retry_lock));
  }
  verbose("taking {} lock", exclusive ? "an exclusive" : "a shared");
  return repo::Lock::acquire(repo, exclusive, command, wait);
}

Result<std::vector<repo::SnapshotRef>> Context::select_snapshots(const repo::Repository& repo,
                                                                 const std::vector<std::string>& specs,
                                                                 const repo::SnapshotFilter& filter,
                                                                 const std::string& skipped_note) const {
  std::vector<repo::SnapshotRef> out;
  if (specs.empty()) {
    std::vector<Error> errors;
    KHO_TRY_ASSIGN(auto all, repo.list_snapshots(&errors));
    for (const auto& e : errors) warn("{} ({})", e.message(), skipped_note);
    for (auto& s : all)
      if (filter.matches(s.snapshot)) out.push_back(std::move(s));
    return out;
  }
  for (const auto& spec : specs) {
    KHO_TRY_ASSIGN(auto s, repo.find_snapshot(spec, filter));
    out.push_back(std::move(s));
  }
  return out;
}

void Context::print_json(const nlohmann::ordered_json& j) const { fmt::print("{}\n", json_dump(j)); }

bool Context::show_progress() const {
  return !global.quiet && !global.json && !global.no_progress && platform::is_terminal(STDERR_FILENO);
}

ProgressDisplay::ProgressDisplay(const Context& ctx, engine::Progress& progress, std::string verb)
    : m_progress(progress), m_verb(std::move(verb)), m_enabled(ctx.show_progress()), m_start(now_ns()) {
  if (ctx.global.verbose > 0) {
    // -v lists what is done; the progress line would interleave with it.
    m_enabled = false;
    auto mutex = std::make_shared<std::mutex>();
    progress.log = [mutex](std::string_view what, std::string_view path) {
      std::lock_guard lock(*mutex);
      fmt::print(stderr, "{:<9} {}\n", what, path);
    };
  }
  if (!m_enabled) return;
  m_thread = std::thread([this] {
    while (!m_stop.load()) {
      render(false);
      for (int i = 0; i < 5 && !m_stop.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

ProgressDisplay::~ProgressDisplay() { stop(); }

void ProgressDisplay::stop() {
  if (!m_enabled || m_stop.exchange(true)) return;
  if (m_thread.joinable()) m_thread.join();
  fmt::print(stderr, "\r\033[K");
  std::fflush(stderr);
}

void ProgressDisplay::render(bool) {
  double elapsed = static_cast<double>(now_ns() - m_start) / 1e9;
  std::uint64_t bytes = m_progress.bytes_done, total = m_progress.bytes_total;
  std::uint64_t files = m_progress.files_done, errors = m_progress.errors;
  double rate = elapsed > 0 ? static_cast<double>(bytes) / elapsed : 0;
  std::string line = fmt::format("[{}] {} {} files, {}", format_duration(elapsed), m_verb, files, format_size(bytes));
  if (total > 0) {
    line += fmt::format(" of {} ({:.0f}%)", format_size(total), 100.0 * static_cast<double>(bytes) / static_cast<double>(total));
    if (rate > 0 && total > bytes) line += ", ETA " + format_duration(static_cast<double>(total - bytes) / rate);
  }
  line += fmt::format(", {}/s", format_size(static_cast<std::uint64_t>(rate)));
  if (errors) line += fmt::format(", {} error(s)", errors);
  int width = platform::terminal_width(STDERR_FILENO);
  if (static_cast<int>(line.size()) >= width) line.resize(static_cast<std::size_t>(std::max(width - 1, 10)));
  fmt::print(stderr, "\r\033[K{}", line);
  std::fflush(stderr);
}

void FilterOptions::add_to(CLI::App* cmd) {
  cmd->add_option("--host", hosts, "Only snapshots from this host (repeatable)");
  cmd->add_option("--tag", tags, "Only snapshots with this tag (repeatable: all must match)");
  cmd->add_option("--path", paths, "Only snapshots that include this absolute path (repeatable)");
}

repo::SnapshotFilter FilterOptions::filter() const {
  repo::SnapshotFilter f;
  f.hosts = hosts;
  f.tags = tags;
  f.paths = paths;
  return f;
}

std::string Table::render() const {
  std::vector<std::size_t> widths(m_headers.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  };
  measure(m_headers);
  for (const auto& r : m_rows) measure(r);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(widths[i] - display_width(row[i]) + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(m_headers);
  std::size_t total = 0;
  for (auto w : widths) total += w + 2;
  out += std::string(total > 2 ? total - 2 : total, '-') + "\n";
  for (const auto& r : m_rows) out += line(r);
  return out;
}

}  // namespace kho::cli

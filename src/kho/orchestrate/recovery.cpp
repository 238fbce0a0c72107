#include "kho/orchestrate/recovery.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "kho/backend/backend.hpp"
#include "kho/platform/child.hpp"
#include "kho/util/curl_lib.hpp"
#include "kho/util/json.hpp"

namespace kho::orchestrate {

namespace {
using platform::ChildOptions;
using platform::ChildResult;
namespace fs = std::filesystem;

constexpr std::size_t k_tail_lines = 20;

double seconds_since(TimeNs start) { return static_cast<double>(now_ns() - start) / 1e9; }

std::string kho_program(const RecoveryOptions& o) {
  if (!o.kho_program.empty()) return o.kho_program;
  auto self = platform::self_executable();
  return self ? *self : "kho";
}

// A kho child on the policy's repository (location and password file in the
// environment, a password command as an option, as the policy runner does).
ChildOptions kho_child(const RecoveryOptions& o, const Policy& p, std::vector<std::string> args) {
  ChildOptions c;
  c.argv = {kho_program(o)};
  c.unset_env = platform::k_kho_repository_env;
  c.set_env.emplace_back("KHO_REPOSITORY", p.repository);
  if (!p.password.file.empty()) c.set_env.emplace_back("KHO_PASSWORD_FILE", p.password.file);
  if (p.password.command) c.argv.insert(c.argv.end(), {"--password-command", p.password.command->shell_text()});
  c.argv.insert(c.argv.end(), {"--json", "--no-progress"});
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.interrupt = o.interrupt;
  return c;
}

// The last `n` non-empty lines of a child's output (stdout then stderr).
std::string output_tail(const ChildResult& r, std::size_t n = k_tail_lines) {
  std::string all = r.out;
  if (!all.empty() && all.back() != '\n') all += '\n';
  all += r.err;
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < all.size()) {
    std::size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    if (end > start) lines.push_back(all.substr(start, end - start));
    start = end + 1;
  }
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

std::string child_failure(const ChildResult& r, double timeout_s = 0) {
  std::string why = r.status_text(timeout_s);
  if (auto line = r.last_error_line(); !line.empty()) why += ": " + line;
  return why;
}

// Runs a kho child that prints JSON; its parsed output (the whole stdout).
Result<nlohmann::json> kho_json(const RecoveryOptions& o, const Policy& p, const std::vector<std::string>& args,
                                std::size_t capture = 64u << 20) {
  ChildOptions c = kho_child(o, p, args);
  c.capture_limit = capture;
  KHO_TRY_ASSIGN(auto r, platform::run_child(c));
  const std::string what = args.empty() ? std::string("kho") : "kho " + args[0];
  if (!r.ok()) {
    // kho's own exit codes keep their meaning for the caller (no repository, locked, wrong password).
    Errc code = r.exit_code == 10   ? Errc::no_repository
                : r.exit_code == 11 ? Errc::locked
                : r.exit_code == 12 ? Errc::wrong_password
                                    : Errc::io;
    return failf(code, "{} on the repository of policy {}: {}", what, p.name, child_failure(r));
  }
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return failf(Errc::io, "{}: unexpected output", what);
  return j;
}

// --- snapshot choice ---

struct Candidate {
  std::string id;
  TimeNs time = 0;
  nlohmann::json j;
};

bool flagged(const nlohmann::json& snap) {
  if (!snap.contains("anomaly") || !snap["anomaly"].is_object()) return false;
  const auto& a = snap["anomaly"];
  if (a.contains("marked") && a["marked"].is_string()) return a["marked"] == "suspect";
  return a.value("flagged", false);
}

Result<SnapshotChoice> choose_snapshot(const Policy& policy, const std::string& selector_text,
                                       const RecoveryOptions& o) {
  KHO_TRY_ASSIGN(auto selector, parse_snapshot_selector(selector_text));
  KHO_TRY_ASSIGN(auto list, kho_json(o, policy, {"snapshots", "--tag", policy.name}));
  std::vector<Candidate> snaps;
  if (list.is_array()) {
    for (const auto& s : list) {
      Candidate c;
      c.id = s.value("id", "");
      auto t = parse_rfc3339(s.value("time", ""));
      c.time = t ? *t : 0;
      c.j = s;
      if (!c.id.empty()) snaps.push_back(std::move(c));
    }
  }
  std::sort(snaps.begin(), snaps.end(), [](const Candidate& a, const Candidate& b) { return a.time > b.time; });
  if (snaps.empty())
    return failf(Errc::not_found, "the repository of policy {} holds no snapshot tagged '{}'", policy.name,
                 policy.name);
  const Candidate* chosen = nullptr;
  std::string why;
  switch (selector.kind) {
    case SnapshotSelector::latest:
      chosen = &snaps.front();
      why = fmt::format("the newest of {} snapshots of policy {}", snaps.size(), policy.name);
      break;
    case SnapshotSelector::latest_clean: {
      std::vector<std::string> skipped;
      for (const auto& s : snaps) {
        if (!flagged(s.j)) {
          chosen = &s;
          break;
        }
        skipped.push_back(s.id.substr(0, 8));
      }
      if (!chosen)
        return failf(Errc::not_found,
                     "every one of the {} snapshots of policy {} is flagged as suspicious; choose one by ID "
                     "(--snapshot ID) after checking it",
                     snaps.size(), policy.name);
      why = skipped.empty() ? fmt::format("the newest snapshot of policy {}; it is not flagged", policy.name)
                            : fmt::format("the newest snapshot of policy {} not flagged; skipped {} newer flagged: {}",
                                          policy.name, skipped.size(), fmt::join(skipped, ", "));
      break;
    }
    case SnapshotSelector::before:
      for (const auto& s : snaps) {
        if (s.time < selector.before_ns) {
          chosen = &s;
          break;
        }
      }
      if (!chosen)
        return failf(Errc::not_found, "policy {} has no snapshot taken before {}", policy.name,
                     format_rfc3339(selector.before_ns));
      why = fmt::format("the newest snapshot of policy {} taken before {}", policy.name,
                        format_rfc3339(selector.before_ns));
      break;
    case SnapshotSelector::by_id: {
      std::vector<const Candidate*> matches;
      for (const auto& s : snaps)
        if (s.id.compare(0, selector.id.size(), selector.id) == 0) matches.push_back(&s);
      if (matches.empty())
        return failf(Errc::not_found, "no snapshot of policy {} has an ID starting with {}", policy.name, selector.id);
      if (matches.size() > 1)
        return failf(Errc::invalid_argument, "the ID prefix {} matches {} snapshots; give more digits", selector.id,
                     matches.size());
      chosen = matches.front();
      why = "chosen by ID";
      break;
    }
  }
  SnapshotChoice c;
  c.selector = selector_text;
  c.id = chosen->id;
  c.time = chosen->time;
  c.host = chosen->j.value("host", "");
  if (chosen->j.contains("paths") && chosen->j["paths"].is_array())
    for (const auto& p : chosen->j["paths"]) c.paths.push_back(p.get<std::string>());
  c.flagged = flagged(chosen->j);
  if (chosen->j.contains("anomaly") && chosen->j["anomaly"].is_object()) {
    const auto& a = chosen->j["anomaly"];
    c.score = a.contains("score") && a["score"].is_number() ? a["score"].get<double>() : 0.0;
    if (a.contains("reasons") && a["reasons"].is_array())
      for (const auto& r : a["reasons"]) c.reasons.push_back(r.is_string() ? r.get<std::string>() : r.dump());
  }
  if (c.flagged) why += "; WARNING: it is flagged as suspicious";
  c.why = why;
  return c;
}

// The absolute path a restore path names in the snapshot.
std::string snapshot_path(const std::string& path) { return path.empty() || path[0] != '/' ? "/" + path : path; }

// Joins the sandbox root and an absolute path ("" + "/srv" = "/srv").
std::string under_root(const std::string& root, const std::string& path) {
  if (root.empty()) return path;
  if (path == "/" || path.empty()) return root;
  return root + (path[0] == '/' ? "" : "/") + path;
}

// Bytes of regular files below `path` in the snapshot.
Result<std::uint64_t> restore_size(const RecoveryOptions& o, const Policy& p, const std::string& id,
                                   const std::string& path) {
  ChildOptions c = kho_child(o, p, {"ls", id, snapshot_path(path)});
  c.capture_limit = 256u << 20;
  KHO_TRY_ASSIGN(auto r, platform::run_child(c));
  if (!r.ok()) return failf(Errc::io, "kho ls {} {}: {}", id.substr(0, 8), path, child_failure(r));
  std::uint64_t bytes = 0;
  std::size_t start = 0;
  while (start < r.out.size()) {
    std::size_t end = r.out.find('\n', start);
    if (end == std::string::npos) end = r.out.size();
    auto j = nlohmann::json::parse(std::string_view(r.out).substr(start, end - start), nullptr, false);
    if (j.is_object() && j.value("type", "") == "file" && j.contains("size") && j["size"].is_number_unsigned())
      bytes += j["size"].get<std::uint64_t>();
    start = end + 1;
  }
  return bytes;
}

std::string describe_command(const Command& c) { return c.shell_text(); }

// Recorded speed of earlier restores (bytes per second) and step durations of
// the runbook's earlier runs, for the estimate.
struct History {
  std::optional<double> restore_bytes_per_s;
  std::map<std::string, double> step_seconds;
  std::string basis;
};

History load_history(StateDb* state, const Runbook& rb, const Policy& policy) {
  History h;
  if (!state) return h;
  RunFilter f;
  f.policy = policy.name;
  f.limit = 50;
  auto runs = state->runs(f);
  if (!runs) return h;
  int used = 0;
  for (const auto& r : *runs) {
    if (r.kind != RunKind::restore && r.kind != RunKind::drill) continue;
    if (r.status != RunStatus::success) continue;
    if (!h.restore_bytes_per_s && r.figures.contains("restore_bytes_per_s") &&
        r.figures["restore_bytes_per_s"].is_number() && r.figures["restore_bytes_per_s"].get<double>() > 0)
      h.restore_bytes_per_s = r.figures["restore_bytes_per_s"].get<double>();
    if (r.figures.value("runbook", "") != rb.name || !h.step_seconds.empty()) continue;
    auto steps = state->steps(r.id);
    if (!steps) continue;
    for (const auto& s : *steps)
      if (s.status == StepStatus::success)
        h.step_seconds[s.name] = static_cast<double>(s.finished_at - s.started_at) / 1e9;
    ++used;
  }
  if (h.restore_bytes_per_s)
    h.basis = fmt::format("restore speed {}/s recorded by earlier runs",
                          format_size(static_cast<std::uint64_t>(*h.restore_bytes_per_s)));
  if (used > 0) h.basis += std::string(h.basis.empty() ? "" : "; ") + "step times of the last successful run";
  return h;
}

std::string restore_text(const RestoreAction& r, const TemplateVars& vars) {
  std::vector<std::string> paths;
  for (const auto& p : r.paths) paths.push_back(snapshot_path(p));
  return fmt::format("restore {} to {}", fmt::join(paths, ", "),
                     under_root(vars.root, expand_template(r.target, vars)));
}

std::string wait_text(const WaitFor& w, const TemplateVars& vars) {
  std::string what = !w.tcp.empty()    ? "tcp " + expand_template(w.tcp, vars)
                     : !w.http.empty() ? "http " + expand_template(w.http, vars)
                                       : "file " + expand_template(w.file, vars);
  return fmt::format("wait for {} (up to {})", what, format_duration(w.timeout_s));
}

// The snapshot path files_match_snapshot names ({{root}} and {{sandbox}} mean
// nothing there: the comparison is made under the root anyway).
std::string snapshot_subpath(const VerifyCheck& v, TemplateVars vars) {
  vars.root.clear();
  vars.sandbox.clear();
  return expand_template(v.path, vars);
}

std::string verify_text(const VerifyCheck& v, const TemplateVars& vars) {
  switch (v.kind) {
    case VerifyKind::files_match_snapshot:
      return "files_match_snapshot " + snapshot_subpath(v, vars);
    case VerifyKind::http:
      return fmt::format("http {} -> {}{}", expand_template(v.url, vars), v.status,
                         v.contains.empty() ? "" : fmt::format(" containing \"{}\"", v.contains));
    case VerifyKind::tcp:
      return "tcp " + expand_template(v.tcp, vars);
    case VerifyKind::command:
      return fmt::format("command {} -> exit {}{}", describe_command(expand_template(*v.command, vars)), v.expect_exit,
                         v.expect_contains.empty() ? "" : fmt::format(", output containing \"{}\"", v.expect_contains));
  }
  return "";
}

// The command a step runs in this mode (nullopt: none, e.g. a restore).
std::optional<Command> step_command(const RunbookStep& s, RecoveryMode mode) {
  if (mode == RecoveryMode::drill && s.drill == DrillMode::replace) return s.drill_run;
  return s.run;
}
bool step_background(const RunbookStep& s, RecoveryMode mode) {
  if (mode == RecoveryMode::drill && s.drill == DrillMode::replace) return s.drill_background;
  return s.background;
}

// --- probes ---

Result<std::pair<std::string, std::string>> split_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return failf(Errc::invalid_argument, "'{}' is not host:port", text);
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, text.substr(colon + 1));
}

// One TCP connection attempt; "" when it connected, else why not.
std::string tcp_probe(const std::string& address, double timeout_s) {
  auto hp = split_host_port(address);
  if (!hp) return hp.error().message();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(hp->first.c_str(), hp->second.c_str(), &hints, &res); rc != 0)
    return fmt::format("cannot resolve {}: {}", address, gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  std::string why = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, static_cast<int>(std::max(1.0, timeout_s * 1000))) == 1 ? 0 : -1;
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
        rc = -1;
        errno = err ? err : ETIMEDOUT;
      } else if (rc != 0) {
        errno = ETIMEDOUT;
      }
    }
    int err = errno;
    close(fd);
    if (rc == 0) return "";
    why = fmt::format("cannot connect to {}: {}", address, std::strerror(err));
  }
  return why;
}

struct HttpAnswer {
  long status = 0;
  std::string body;   // the first MiB
  std::string error;  // when no answer
};

std::size_t keep_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const std::size_t n = size * count;
  constexpr std::size_t k_keep = 1 << 20;
  if (body->size() < k_keep) body->append(data, std::min(n, k_keep - body->size()));
  return n;
}

HttpAnswer http_get(const std::string& url, double timeout_s) {
  HttpAnswer a;
  if (auto loaded = curl::init(); !loaded) {
    a.error = loaded.error().message();
    return a;
  }
  std::unique_ptr<CURL, decltype(&curl::easy_cleanup)> curl(curl::easy_init(), curl::easy_cleanup);
  if (!curl) {
    a.error = "cannot create a libcurl handle (out of memory?)";
    return a;
  }
  char error[CURL_ERROR_SIZE] = {};
  const long ms = std::max<long>(1, static_cast<long>(timeout_s * 1000));
  curl::easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl::easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl::easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl::easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl::easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, ms);
  curl::easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, ms);
  curl::easy_setopt(curl.get(), CURLOPT_USERAGENT, "kho-verify");
  curl::easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, keep_body);
  curl::easy_setopt(curl.get(), CURLOPT_WRITEDATA, &a.body);
  CURLcode code = curl::easy_perform(curl.get());
  if (code != CURLE_OK) {
    a.error = error[0] ? error : curl::easy_strerror(code);
    return a;
  }
  curl::easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &a.status);
  return a;
}

std::string user_name() {
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo) return sudo;
  if (passwd* pw = getpwuid(geteuid()); pw && pw->pw_name) return pw->pw_name;
  return std::to_string(geteuid());
}

std::string host_name() {
  char host[256] = {};
  return gethostname(host, sizeof host - 1) == 0 ? std::string(host) : std::string();
}

// --- the run ---

class Recovery {
 public:
  Recovery(RecoveryPlan plan, StateDb* state, const RecoveryOptions& o) : m_state(state), m_opt(o) {
    m_report.plan = std::move(plan);
  }

  Result<RecoveryReport> run() {
    RecoveryPlan& plan = m_report.plan;
    m_report.started_at = now_ns();
    m_rto_start = plan.resumed_started_at ? plan.resumed_started_at : m_report.started_at;
    const bool drill = plan.mode == RecoveryMode::drill;
    if (drill) KHO_TRY_STATUS(make_sandbox());
    plan.vars.root = drill ? m_report.sandbox : "";
    plan.vars.sandbox = drill ? m_report.sandbox : "";
    if (m_state) {
      KHO_TRY_ASSIGN(m_report.run_id,
                     m_state->begin_run(RunStart{plan.policy.name, drill ? RunKind::drill : RunKind::restore,
                                                 RunTrigger::manual, 1, m_report.started_at}));
    }
    log("{} {} of runbook {}: snapshot {} ({}){}", drill ? "drill" : "recovery", "run", plan.runbook.name,
        plan.snapshot.id.substr(0, 8), format_local(plan.snapshot.time),
        drill ? " in sandbox " + m_report.sandbox : "");

    for (std::size_t i = 0; i < plan.runbook.steps.size(); ++i) {
      StepResult sr;
      sr.name = plan.runbook.steps[i].name;
      sr.critical = plan.runbook.steps[i].critical;
      if (static_cast<int>(i) < plan.first_step) {
        sr.outcome = StepOutcome::skipped;
        sr.detail = fmt::format("done by run #{}", plan.resumed_run);
        m_report.steps.push_back(std::move(sr));
        continue;
      }
      if (m_report.failed_step >= 0 || stopped()) {
        m_report.steps.push_back(std::move(sr));  // not run
        continue;
      }
      run_step(i, sr);
      if (sr.outcome == StepOutcome::failed && sr.critical) {
        m_report.failed_step = static_cast<int>(i);
        m_report.error = fmt::format("step {} \"{}\" failed: {}", i + 1, sr.name, sr.detail);
      }
      m_report.steps.push_back(std::move(sr));
    }
    if (m_report.failed_step < 0 && !stopped()) verify();
    if (stopped() && m_report.error.empty()) {
      m_report.interrupted = true;
      m_report.error = "interrupted";
    }
    stop_background();
    return finish();
  }

 private:
  template <typename... Args>
  void log(fmt::format_string<Args...> format, Args&&... args) const {
    if (m_opt.log) m_opt.log(fmt::format(format, std::forward<Args>(args)...));
  }

  bool stopped() const { return m_opt.interrupt && m_opt.interrupt->load(); }

  Status make_sandbox() {
    std::string parent = m_opt.sandbox_parent;
    if (parent.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      parent = tmp && *tmp ? tmp : "/var/tmp";
    }
    std::string name = fmt::format("{}/kho-drill-{}-XXXXXX", parent, m_report.plan.runbook.name);
    std::vector<char> buf(name.begin(), name.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) return fail_errno("cannot create the drill sandbox in " + parent, errno);
    m_report.sandbox = buf.data();
    return {};
  }

  std::vector<std::pair<std::string, std::string>> step_env() const {
    const RecoveryPlan& plan = m_report.plan;
    return {{"KHO_RUNBOOK", plan.runbook.name}, {"KHO_POLICY", plan.policy.name},
            {"KHO_SNAPSHOT", plan.snapshot.id}, {"KHO_ROOT", plan.vars.root},
            {"KHO_SANDBOX", plan.vars.sandbox}, {"KHO_MODE", plan.mode == RecoveryMode::drill ? "drill" : "real"}};
  }

  void record_step(const StepResult& sr, TimeNs t0) {
    if (!m_state || !m_report.run_id) return;
    RunStep s;
    s.name = sr.name;
    s.started_at = t0;
    s.finished_at = now_ns();
    s.status = sr.outcome == StepOutcome::success  ? StepStatus::success
               : sr.outcome == StepOutcome::failed ? StepStatus::failed
                                                   : StepStatus::skipped;
    s.detail = sr.detail;
    if (!sr.output_tail.empty()) s.detail += "\n" + sr.output_tail;
    (void)m_state->add_step(m_report.run_id, s);
  }

  void run_step(std::size_t index, StepResult& sr) {
    const RecoveryPlan& plan = m_report.plan;
    const RunbookStep& step = plan.runbook.steps[index];
    const TimeNs t0 = now_ns();
    const std::string label = fmt::format("[{}/{}] {}", index + 1, plan.runbook.steps.size(), step.name);
    if (plan.mode == RecoveryMode::drill && step.drill == DrillMode::skip) {
      sr.outcome = StepOutcome::skipped;
      sr.detail = "left out of drills (drill: skip)";
      log("{}: skipped (drill: skip)", label);
      record_step(sr, t0);
      return;
    }
    log("{}: started", label);
    const int tries = 1 + step.retries;
    for (int attempt = 1; attempt <= tries; ++attempt) {
      sr.attempts = attempt;
      sr.output_tail.clear();
      bool ok = false;
      switch (step.action) {
        case StepAction::run:
          ok = run_command(index, step, sr);
          break;
        case StepAction::restore:
          ok = run_restore(step, sr);
          break;
        case StepAction::wait_for:
          ok = run_wait(step, sr);
          break;
      }
      if (ok) {
        sr.outcome = StepOutcome::success;
        break;
      }
      sr.outcome = StepOutcome::failed;
      if (attempt < tries && !stopped()) {
        log("{}: try {} of {} failed: {}; retrying in {}", label, attempt, tries, sr.detail,
            format_duration(step.retry_delay_s));
        sleep_for(step.retry_delay_s);
      }
    }
    sr.seconds = seconds_since(t0);
    if (sr.outcome == StepOutcome::success)
      log("{}: done in {}{}", label, format_duration(sr.seconds), sr.detail.empty() ? "" : " (" + sr.detail + ")");
    else
      log("{}: FAILED after {}{}: {}", label, format_duration(sr.seconds),
          sr.attempts > 1 ? fmt::format(" and {} tries", sr.attempts) : "", sr.detail);
    record_step(sr, t0);
  }

  // Where background processes write their output: <state dir>/logs/<run id>
  // (kept after a drill removes its sandbox), else a private temporary folder.
  Result<std::string> log_dir() {
    if (!m_log_dir.empty()) return m_log_dir;
    std::string dir;
    if (m_state) {
      dir = (m_state->file().parent_path() / "logs" / std::to_string(m_report.run_id)).string();
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return failf(Errc::io, "cannot create {}: {}", dir, ec.message());
      ::chmod(fs::path(dir).parent_path().c_str(), 0700);
      ::chmod(dir.c_str(), 0700);
    } else {
      const char* tmp = std::getenv("TMPDIR");
      std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/kho-runbook-logs-XXXXXX";
      std::vector<char> buf(pattern.begin(), pattern.end());
      buf.push_back('\0');
      if (!mkdtemp(buf.data())) return fail_errno("cannot create a folder for step logs", errno);
      dir = buf.data();
    }
    m_log_dir = dir;
    return m_log_dir;
  }

  void sleep_for(double seconds) {
    const TimeNs until = now_ns() + static_cast<TimeNs>(seconds * 1e9);
    while (now_ns() < until && !stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  bool run_command(std::size_t index, const RunbookStep& step, StepResult& sr) {
    const RecoveryPlan& plan = m_report.plan;
    auto cmd = step_command(step, plan.mode);
    if (!cmd) {
      sr.detail = "no command";
      return false;
    }
    Command c = expand_template(*cmd, plan.vars);
    ChildOptions child;
    child.argv = c.exec_argv();
    child.unset_env = {"KHO_*"};
    child.set_env = step_env();
    child.interrupt = m_opt.interrupt;
    if (step_background(step, plan.mode)) {
      auto dir = log_dir();
      if (!dir) {
        sr.detail = dir.error().message();
        return false;
      }
      const std::string log_path = fmt::format("{}/{}-step{}.log", *dir, plan.runbook.name, index + 1);
      auto bg = platform::start_background(child, log_path);
      if (!bg) {
        sr.detail = bg.error().message();
        return false;
      }
      // A service that dies at once (bad arguments, port taken) fails the step.
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      if (!bg->running()) {
        sr.detail =
            fmt::format("the background process ended at once ({}); its output is in {}", bg->ended_with(), log_path);
        return false;
      }
      sr.detail = fmt::format("running in the background (pid {}, output in {})", bg->pid(), log_path);
      m_background.push_back({step.name, std::move(*bg)});
      return true;
    }
    if (step.timeout_s) child.timeout_s = *step.timeout_s;
    auto r = platform::run_child(child);
    if (!r) {
      sr.detail = r.error().message();
      return false;
    }
    if (!r->ok()) {
      sr.detail = child_failure(*r, child.timeout_s);
      sr.output_tail = output_tail(*r);
      return false;
    }
    return true;
  }

  bool run_restore(const RunbookStep& step, StepResult& sr) {
    const RecoveryPlan& plan = m_report.plan;
    const std::string target = under_root(plan.vars.root, expand_template(step.restore.target, plan.vars));
    std::vector<std::string> args = {"restore", plan.snapshot.id, "--target", target};
    for (const auto& p : step.restore.paths) args.insert(args.end(), {"--include", snapshot_path(p)});
    ChildOptions c = kho_child(m_opt, plan.policy, args);
    auto r = platform::run_child(c);
    if (!r) {
      sr.detail = r.error().message();
      return false;
    }
    if (!r->ok()) {
      sr.detail = child_failure(*r);
      sr.output_tail = output_tail(*r);
      return false;
    }
    nlohmann::json summary = nlohmann::json::object();
    for (std::size_t end = r->out.size(); end > 0;) {
      std::size_t start = r->out.rfind('\n', end - 1);
      start = start == std::string::npos ? 0 : start + 1;
      auto j = nlohmann::json::parse(std::string_view(r->out).substr(start, end - start), nullptr, false);
      if (j.is_object()) {
        summary = j;
        break;
      }
      if (start == 0) break;
      end = start - 1;
    }
    const std::uint64_t files = summary.value("files_restored", std::uint64_t{0});
    const std::uint64_t bytes = summary.value("bytes_restored", std::uint64_t{0});
    m_restored_bytes += bytes;
    m_restore_seconds += r->seconds;
    sr.detail = fmt::format("{} files, {} to {}", files, format_size(bytes), target);
    if (files == 0 && summary.value("dirs_restored", std::uint64_t{0}) == 0 &&
        summary.value("other_restored", std::uint64_t{0}) == 0) {
      sr.detail = fmt::format("nothing in snapshot {} matched {}", plan.snapshot.id.substr(0, 8),
                              restore_text(step.restore, plan.vars));
      return false;
    }
    return true;
  }

  bool run_wait(const RunbookStep& step, StepResult& sr) {
    const TemplateVars& vars = m_report.plan.vars;
    const WaitFor& w = step.wait_for;
    const TimeNs t0 = now_ns();
    std::string why;
    while (!stopped()) {
      if (!w.tcp.empty()) {
        why = tcp_probe(expand_template(w.tcp, vars), std::min(5.0, w.timeout_s));
      } else if (!w.http.empty()) {
        auto a = http_get(expand_template(w.http, vars), std::min(10.0, w.timeout_s));
        why = !a.error.empty() ? a.error : a.status >= 500 ? fmt::format("HTTP status {}", a.status) : "";
      } else {
        std::error_code ec;
        why = fs::exists(expand_template(w.file, vars), ec) ? "" : "no file " + expand_template(w.file, vars);
      }
      if (why.empty()) {
        sr.detail = fmt::format("ready after {}", format_duration(seconds_since(t0)));
        return true;
      }
      if (seconds_since(t0) >= w.timeout_s) break;
      sleep_for(w.interval_s);
    }
    sr.detail = fmt::format("not ready after {}: {}", format_duration(w.timeout_s), why);
    return false;
  }

  void verify() {
    const RecoveryPlan& plan = m_report.plan;
    if (plan.runbook.verify.empty()) {
      m_report.verified = true;
      m_report.rto_measured_s = seconds_since(m_rto_start);
      return;
    }
    bool all = true;
    for (std::size_t i = 0; i < plan.runbook.verify.size() && !stopped(); ++i) {
      const VerifyCheck& v = plan.runbook.verify[i];
      VerifyResult vr;
      vr.name = verify_text(v, plan.vars);
      const TimeNs t0 = now_ns();
      check(v, vr);
      vr.seconds = seconds_since(t0);
      log("verify {}: {}{}", vr.name, vr.ok ? "passed" : "FAILED", vr.detail.empty() ? "" : " (" + vr.detail + ")");
      if (m_state && m_report.run_id) {
        RunStep s;
        s.name = "verify: " + vr.name;
        s.started_at = t0;
        s.finished_at = now_ns();
        s.status = vr.ok ? StepStatus::success : StepStatus::failed;
        s.detail = vr.detail;
        (void)m_state->add_step(m_report.run_id, s);
      }
      if (!vr.ok && all) m_report.error = fmt::format("verification failed: {}: {}", vr.name, vr.detail);
      all = all && vr.ok;
      m_report.verify.push_back(std::move(vr));
    }
    m_report.verified = all && !stopped();
    if (m_report.verified) m_report.rto_measured_s = seconds_since(m_rto_start);
  }

  void check(const VerifyCheck& v, VerifyResult& vr) {
    const RecoveryPlan& plan = m_report.plan;
    switch (v.kind) {
      case VerifyKind::files_match_snapshot: {
        const std::string path = snapshot_subpath(v, plan.vars);
        const std::string dir = under_root(plan.vars.root, path);
        ChildOptions c = kho_child(m_opt, plan.policy, {"compare", plan.snapshot.id + ":" + path, dir});
        c.capture_limit = 16u << 20;
        auto r = platform::run_child(c);
        if (!r) {
          vr.detail = r.error().message();
          return;
        }
        auto j = nlohmann::json::parse(r->out.substr(0, r->out.find('\n')), nullptr, false);
        if (r->exit_code == 0 && r->ok()) {
          vr.ok = true;
          if (j.is_object()) {
            vr.detail = fmt::format("{} files identical", j.value("files", std::uint64_t{0}));
            if (j.contains("extra") && j["extra"].is_array() && !j["extra"].empty())
              vr.detail += fmt::format("; {} extra files on disk not in the snapshot", j["extra"].size());
          }
          return;
        }
        if (r->exit_code == 4 && j.is_object()) {
          std::vector<std::string> problems;
          for (const char* kind : {"differ", "missing"}) {
            if (!j.contains(kind) || !j[kind].is_array()) continue;
            for (const auto& e : j[kind]) {
              if (problems.size() >= 3) break;
              problems.push_back(fmt::format("{} {}", kind == std::string("differ") ? "differs:" : "missing:",
                                             e.is_object() ? e.value("path", "") : e.get<std::string>()));
            }
          }
          vr.detail = fmt::format("{} differ, {} missing under {}{}{}", j.contains("differ") ? j["differ"].size() : 0,
                                  j.contains("missing") ? j["missing"].size() : 0, dir, problems.empty() ? "" : ": ",
                                  fmt::join(problems, "; "));
          return;
        }
        vr.detail = child_failure(*r);
        return;
      }
      case VerifyKind::http: {
        const std::string url = expand_template(v.url, plan.vars);
        auto a = http_get(url, v.timeout_s);
        if (!a.error.empty()) {
          vr.detail = a.error;
          return;
        }
        if (a.status != v.status) {
          vr.detail = fmt::format("status {}, expected {}", a.status, v.status);
          return;
        }
        if (!v.contains.empty() && a.body.find(v.contains) == std::string::npos) {
          vr.detail = fmt::format("status {} but the body does not contain \"{}\"", a.status, v.contains);
          return;
        }
        vr.ok = true;
        vr.detail = fmt::format("status {}", a.status);
        return;
      }
      case VerifyKind::tcp: {
        std::string why = tcp_probe(expand_template(v.tcp, plan.vars), v.timeout_s);
        vr.ok = why.empty();
        vr.detail = vr.ok ? "connected" : why;
        return;
      }
      case VerifyKind::command: {
        Command c = expand_template(*v.command, plan.vars);
        ChildOptions child;
        child.argv = c.exec_argv();
        child.unset_env = {"KHO_*"};
        child.set_env = step_env();
        child.timeout_s = v.timeout_s;
        child.interrupt = m_opt.interrupt;
        auto r = platform::run_child(child);
        if (!r) {
          vr.detail = r.error().message();
          return;
        }
        if (r->timed_out || r->interrupted || r->signal != 0) {
          vr.detail = child_failure(*r, v.timeout_s);
          return;
        }
        if (r->exit_code != v.expect_exit) {
          vr.detail = fmt::format("exit status {}, expected {}", r->exit_code, v.expect_exit);
          if (auto line = r->last_error_line(); !line.empty()) vr.detail += ": " + line;
          return;
        }
        if (!v.expect_contains.empty() && r->out.find(v.expect_contains) == std::string::npos) {
          vr.detail = fmt::format("the output does not contain \"{}\"", v.expect_contains);
          return;
        }
        vr.ok = true;
        vr.detail = fmt::format("exit status {}", r->exit_code);
        return;
      }
    }
  }

  void stop_background() {
    for (auto it = m_background.rbegin(); it != m_background.rend(); ++it) {
      std::string ended = it->second.stop();
      log("stopped background process of step \"{}\" ({})", it->first, ended.empty() ? "stopped" : ended);
    }
    m_background.clear();
  }

  Result<RecoveryReport> finish() {
    RecoveryPlan& plan = m_report.plan;
    m_report.finished_at = now_ns();
    m_report.success = m_report.failed_step < 0 && m_report.verified && !m_report.interrupted;
    const bool drill = plan.mode == RecoveryMode::drill;
    if (drill && !m_report.sandbox.empty()) {
      if (m_opt.keep_sandbox) {
        m_report.sandbox_kept = true;
      } else {
        std::error_code ec;
        fs::remove_all(m_report.sandbox, ec);
        if (ec) log("cannot remove the sandbox {}: {}", m_report.sandbox, ec.message());
      }
    }
    if (!drill) write_incident_record();
    if (m_state && m_report.run_id) {
      RunOutcome out;
      out.status = m_report.success       ? RunStatus::success
                   : m_report.interrupted ? RunStatus::interrupted
                                          : RunStatus::failed;
      out.finished_at = m_report.finished_at;
      if (!m_report.success) {
        out.stage = m_report.failed_step >= 0 ? fmt::format("step {}: {}", m_report.failed_step + 1,
                                                            plan.runbook.steps[m_report.failed_step].name)
                                              : std::string("verify");
        out.error = m_report.error;
      }
      out.snapshot_id = plan.snapshot.id;
      out.figures = figures();
      KHO_TRY_STATUS(m_state->finish_run(m_report.run_id, out));
    }
    return std::move(m_report);
  }

  nlohmann::json figures() const {
    const RecoveryPlan& plan = m_report.plan;
    nlohmann::json f = nlohmann::json::object();
    f["runbook"] = plan.runbook.name;
    f["mode"] = plan.mode == RecoveryMode::drill ? "drill" : "real";
    f["snapshot_selector"] = plan.snapshot.selector;
    f["verified"] = m_report.verified;
    if (m_report.rto_measured_s) f["rto_s"] = *m_report.rto_measured_s;
    if (plan.rto_s) f["rto_target_s"] = *plan.rto_s;
    if (m_report.rto_measured_s && plan.rto_s) f["rto_met"] = *m_report.rto_measured_s <= *plan.rto_s;
    f["restored_bytes"] = m_restored_bytes;
    if (m_restored_bytes > 0 && m_restore_seconds > 0)
      f["restore_bytes_per_s"] = static_cast<double>(m_restored_bytes) / m_restore_seconds;
    f["duration_s"] = static_cast<double>(m_report.finished_at - m_report.started_at) / 1e9;
    if (m_report.failed_step >= 0) f["failed_step"] = m_report.failed_step;
    int noncritical = 0;
    for (const auto& s : m_report.steps)
      if (s.outcome == StepOutcome::failed && !s.critical) ++noncritical;
    f["noncritical_failures"] = noncritical;
    int failed_checks = 0;
    for (const auto& v : m_report.verify)
      if (!v.ok) ++failed_checks;
    f["verify_failed"] = failed_checks;
    f["verify_total"] = plan.runbook.verify.size();
    if (plan.resumed_run) f["resumed_from"] = plan.resumed_run;
    f["rto_start_ns"] = m_rto_start;
    if (m_report.sandbox_kept) f["sandbox"] = m_report.sandbox;
    if (!m_report.incident_json.empty()) f["incident_record"] = m_report.incident_json;
    return f;
  }

  void write_incident_record() {
    if (!m_state) return;
    const fs::path dir = m_state->file().parent_path() / "incidents";
    std::error_code ec;
    fs::create_directories(dir, ec);
    ::chmod(dir.c_str(), 0700);
    std::time_t t = static_cast<std::time_t>(m_report.started_at / 1'000'000'000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    const std::string base = (dir / fmt::format("{}-{}", stamp, m_report.plan.runbook.name)).string();
    m_report.incident_json = base + ".json";
    m_report.incident_markdown = base + ".md";
    auto j = to_json(m_report);
    j["who"] = m_opt.operator_name.empty() ? user_name() : m_opt.operator_name;
    j["host"] = host_name();
    write_private(m_report.incident_json, json_dump(j, 2) + "\n");
    write_private(m_report.incident_markdown, markdown(j));
  }

  void write_private(const std::string& path, const std::string& text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      log("cannot write the incident record {}: {}", path, std::strerror(errno));
      return;
    }
    ::fchmod(fd, 0600);  // a file already there keeps its mode through O_TRUNC
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t w = ::write(fd, text.data() + done, text.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      done += static_cast<std::size_t>(w);
    }
    ::close(fd);
  }

  std::string markdown(const nlohmann::ordered_json& j) const {
    const RecoveryPlan& plan = m_report.plan;
    std::string md;
    md += fmt::format("# Incident recovery: {} ({})\n\n", plan.runbook.name, plan.policy.name);
    md += fmt::format("- Result: **{}**\n", m_report.success ? "RECOVERED AND VERIFIED" : "FAILED");
    if (!m_report.error.empty()) md += fmt::format("- Why: {}\n", m_report.error);
    md += fmt::format("- Run by: {} on {}\n", j.value("who", ""), j.value("host", ""));
    md += fmt::format("- Started: {}\n- Finished: {}\n", format_rfc3339(m_report.started_at),
                      format_rfc3339(m_report.finished_at));
    if (plan.resumed_run)
      md += fmt::format("- Resumed run #{} (RTO counted from its start, {})\n", plan.resumed_run,
                        format_rfc3339(plan.resumed_started_at));
    md += fmt::format("- Snapshot: `{}` of {} (selector `{}`: {})\n", plan.snapshot.id,
                      format_rfc3339(plan.snapshot.time), plan.snapshot.selector, plan.snapshot.why);
    if (m_report.rto_measured_s)
      md += fmt::format("- RTO: {} measured{}\n", format_duration(*m_report.rto_measured_s),
                        plan.rto_s ? fmt::format(" against a target of {} ({})", format_duration(*plan.rto_s),
                                                 *m_report.rto_measured_s <= *plan.rto_s ? "met" : "MISSED")
                                   : "");
    md += "\n## Steps\n\n| # | Step | Result | Tries | Time | Detail |\n|---|---|---|---|---|---|\n";
    for (std::size_t i = 0; i < m_report.steps.size(); ++i) {
      const auto& s = m_report.steps[i];
      std::string detail = s.detail;
      std::replace(detail.begin(), detail.end(), '|', '/');
      std::replace(detail.begin(), detail.end(), '\n', ' ');
      md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", i + 1, s.name, to_string(s.outcome), s.attempts,
                        format_duration(s.seconds), detail);
    }
    for (const auto& s : m_report.steps) {
      if (s.output_tail.empty()) continue;
      md += fmt::format("\n### Output of \"{}\" (last lines)\n\n```\n{}```\n", s.name, s.output_tail);
    }
    md += "\n## Verification\n\n";
    if (m_report.verify.empty()) md += "Not run.\n";
    for (const auto& v : m_report.verify)
      md += fmt::format("- {} {}: {}\n", v.ok ? "PASSED" : "FAILED", v.name, v.detail);
    return md;
  }

  StateDb* m_state;
  const RecoveryOptions& m_opt;
  RecoveryReport m_report;
  TimeNs m_rto_start = 0;
  std::uint64_t m_restored_bytes = 0;
  double m_restore_seconds = 0;
  std::vector<std::pair<std::string, platform::BackgroundChild>> m_background;
  std::string m_log_dir;
};

}  // namespace

std::string_view to_string(StepOutcome outcome) {
  switch (outcome) {
    case StepOutcome::success:
      return "success";
    case StepOutcome::failed:
      return "failed";
    case StepOutcome::skipped:
      return "skipped";
    case StepOutcome::not_run:
      return "not run";
  }
  return "?";
}

Result<std::optional<RunRecord>> last_runbook_run(StateDb& state, const Runbook& runbook, RunKind kind) {
  RunFilter f;
  f.policy = runbook.policy;
  f.kind = kind;
  f.limit = 200;
  KHO_TRY_ASSIGN(auto runs, state.runs(f));
  for (auto& r : runs)
    if (r.figures.is_object() && r.figures.value("runbook", "") == runbook.name) return std::optional<RunRecord>(r);
  return std::optional<RunRecord>();
}

Result<RecoveryPlan> plan_recovery(const Runbook& runbook, const Policy& policy, StateDb* state,
                                   const RecoveryOptions& o) {
  RecoveryPlan plan;
  plan.runbook = runbook;
  plan.policy = policy;
  plan.mode = o.mode;
  plan.rto_s = runbook.rto_s ? runbook.rto_s : policy.objectives.rto_s;
  std::string selector = o.snapshot.empty() ? runbook.snapshot : o.snapshot;

  if (o.resume) {
    if (o.mode == RecoveryMode::drill) return fail(Errc::invalid_argument, "--resume applies to runbook runs only");
    if (!state) return fail(Errc::invalid_argument, "--resume needs the state directory");
    KHO_TRY_ASSIGN(auto last, last_runbook_run(*state, runbook, RunKind::restore));
    if (!last || last->status == RunStatus::success || last->status == RunStatus::running)
      return failf(Errc::not_found, "runbook {} has no failed run to resume{}", runbook.name,
                   last ? fmt::format(" (its last run #{} {})", last->id, to_string(last->status)) : "");
    if (!last->snapshot_id) return failf(Errc::not_found, "run #{} recorded no snapshot", last->id);
    int failed = last->figures.value("failed_step", -1);
    // A run that failed in verification resumes at the verification (every step done).
    plan.first_step = failed >= 0 ? failed : static_cast<int>(runbook.steps.size());
    if (plan.first_step > static_cast<int>(runbook.steps.size())) plan.first_step = 0;
    plan.resumed_run = last->id;
    plan.resumed_started_at =
        last->figures.contains("rto_start_ns") ? last->figures["rto_start_ns"].get<TimeNs>() : last->started_at;
    selector = *last->snapshot_id;
  }

  KHO_TRY_ASSIGN(plan.snapshot, choose_snapshot(policy, selector, o));
  plan.vars.snapshot = plan.snapshot.id;
  plan.vars.policy = policy.name;
  plan.vars.extra = runbook.vars;
  if (o.mode == RecoveryMode::drill)
    for (const auto& [name, value] : runbook.drill_vars) plan.vars.extra[name] = value;
  // Shown with {{root}} unexpanded for drills (the sandbox is made when the drill starts).
  TemplateVars shown = plan.vars;
  if (o.mode == RecoveryMode::drill) shown.root = shown.sandbox = "{{sandbox}}";

  History history = load_history(state, runbook, policy);
  double estimate = 0;
  bool estimable = true;
  for (std::size_t i = 0; i < runbook.steps.size(); ++i) {
    const RunbookStep& s = runbook.steps[i];
    PlannedStep ps;
    ps.name = s.name;
    ps.critical = s.critical;
    ps.retries = s.retries;
    ps.timeout_s = s.timeout_s;
    ps.skipped = o.mode == RecoveryMode::drill && s.drill == DrillMode::skip;
    ps.background = step_background(s, o.mode);
    switch (s.action) {
      case StepAction::run: {
        auto c = step_command(s, o.mode);
        ps.action = "run " + (c ? describe_command(expand_template(*c, shown)) : std::string("?"));
        if (ps.background) ps.action += " (in the background)";
        break;
      }
      case StepAction::restore: {
        ps.action = restore_text(s.restore, shown);
        for (const auto& p : s.restore.paths) {
          auto bytes = restore_size(o, policy, plan.snapshot.id, p);
          if (bytes) ps.restore_bytes += *bytes;
        }
        plan.restore_bytes += ps.restore_bytes;
        break;
      }
      case StepAction::wait_for:
        ps.action = wait_text(s.wait_for, shown);
        break;
    }
    if (ps.skipped) ps.action += " — skipped in drills";
    if (static_cast<int>(i) < plan.first_step) ps.action += fmt::format(" — done by run #{}", plan.resumed_run);
    if (!ps.skipped && static_cast<int>(i) >= plan.first_step) {
      if (s.action == StepAction::restore && history.restore_bytes_per_s) {
        ps.estimate_s = static_cast<double>(ps.restore_bytes) / *history.restore_bytes_per_s + 1.0;
      } else if (auto it = history.step_seconds.find(s.name); it != history.step_seconds.end()) {
        ps.estimate_s = it->second;
      } else if (s.action == StepAction::run && ps.background) {
        ps.estimate_s = 0.3;
      }
      if (ps.estimate_s)
        estimate += *ps.estimate_s;
      else
        estimable = false;
    }
    plan.steps.push_back(std::move(ps));
  }
  for (const auto& v : runbook.verify) plan.verify.push_back(verify_text(v, shown));
  if (estimable || estimate > 0) plan.estimate_s = estimate;
  plan.estimate_basis = history.basis.empty() ? "no earlier run recorded: run a drill to measure" : history.basis;
  if (!estimable && estimate > 0) plan.estimate_basis += "; some steps have no recorded time (not counted)";
  return plan;
}

Result<RecoveryReport> run_recovery(RecoveryPlan plan, StateDb* state, const RecoveryOptions& options) {
  Recovery r(std::move(plan), state, options);
  return r.run();
}

Result<DrillStatus> drill_status(StateDb& state, const Runbook& runbook, TimeNs now, double max_age_s) {
  DrillStatus s;
  KHO_TRY_ASSIGN(s.last_drill, last_runbook_run(state, runbook, RunKind::drill));
  if (!s.last_drill) {
    s.text = "NEEDS DRILL (never drilled)";
    return s;
  }
  const RunRecord& d = *s.last_drill;
  const double age = static_cast<double>(now - d.started_at) / 1e9;
  std::string rto;
  if (d.figures.contains("rto_s") && d.figures["rto_s"].is_number()) {
    rto = ", RTO " + format_duration(d.figures["rto_s"].get<double>());
    if (d.figures.contains("rto_target_s") && d.figures["rto_target_s"].is_number())
      rto += " of " + format_duration(d.figures["rto_target_s"].get<double>());
  }
  if (d.status != RunStatus::success) {
    s.text = fmt::format("NEEDS DRILL (last drill {} ago {}{})", format_duration(age), to_string(d.status),
                         d.error ? ": " + *d.error : "");
  } else if (age > max_age_s) {
    s.text = fmt::format("NEEDS DRILL (last drill passed {} ago, more than {})", format_duration(age),
                         format_duration(max_age_s));
  } else {
    s.verified = true;
    s.text = fmt::format("VERIFIED (drill passed {} ago{})", format_duration(age), rto);
  }
  return s;
}

std::string render_plan(const RecoveryPlan& plan) {
  std::string out;
  const bool drill = plan.mode == RecoveryMode::drill;
  out += fmt::format("{} plan for runbook {} (policy {}){}\n", drill ? "Drill" : "Recovery", plan.runbook.name,
                     plan.policy.name, plan.runbook.description.empty() ? "" : ": " + plan.runbook.description);
  const double age = static_cast<double>(now_ns() - plan.snapshot.time) / 1e9;
  out += fmt::format("Snapshot:  {} taken {} ({} ago) on {}\n", plan.snapshot.id.substr(0, 8),
                     format_local(plan.snapshot.time), format_duration(age), plan.snapshot.host);
  out += fmt::format("           {} (selector {})\n", plan.snapshot.why, plan.snapshot.selector);
  out += fmt::format(
      "Anomaly:   {}\n",
      plan.snapshot.flagged
          ? fmt::format(
                "FLAGGED (score {:.2f}){}", plan.snapshot.score,
                plan.snapshot.reasons.empty() ? "" : ": " + fmt::format("{}", fmt::join(plan.snapshot.reasons, "; ")))
          : std::string("not flagged"));
  if (plan.resumed_run) out += fmt::format("Resuming:  run #{} from step {}\n", plan.resumed_run, plan.first_step + 1);
  out += "Steps:\n";
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& s = plan.steps[i];
    std::vector<std::string> notes;
    if (s.restore_bytes) notes.push_back(format_size(s.restore_bytes));
    if (s.timeout_s) notes.push_back("timeout " + format_duration(*s.timeout_s));
    if (s.retries) notes.push_back(fmt::format("{} retr{}", s.retries, s.retries == 1 ? "y" : "ies"));
    if (!s.critical) notes.push_back("not critical");
    if (s.estimate_s) notes.push_back("~" + format_duration(*s.estimate_s));
    out += fmt::format("  {:>2}. {}: {}{}\n", i + 1, s.name, s.action,
                       notes.empty() ? "" : fmt::format(" [{}]", fmt::join(notes, ", ")));
  }
  out += "Verify:\n";
  if (plan.verify.empty()) out += "  (nothing to verify)\n";
  for (const auto& v : plan.verify) out += "  - " + v + "\n";
  out += fmt::format("To restore: {}\n", format_size(plan.restore_bytes));
  out += fmt::format("Estimate:   {} ({})\n", plan.estimate_s ? format_duration(*plan.estimate_s) : "unknown",
                     plan.estimate_basis);
  out += fmt::format("RTO target: {}\n", plan.rto_s ? format_duration(*plan.rto_s) : "none set");
  return out;
}

nlohmann::ordered_json to_json(const RecoveryPlan& plan) {
  nlohmann::ordered_json j;
  j["runbook"] = plan.runbook.name;
  j["policy"] = plan.policy.name;
  j["mode"] = plan.mode == RecoveryMode::drill ? "drill" : "real";
  nlohmann::ordered_json s;
  s["selector"] = plan.snapshot.selector;
  s["id"] = plan.snapshot.id;
  s["time"] = format_rfc3339(plan.snapshot.time);
  s["age_s"] = static_cast<double>(now_ns() - plan.snapshot.time) / 1e9;
  s["host"] = plan.snapshot.host;
  s["flagged"] = plan.snapshot.flagged;
  s["score"] = plan.snapshot.score;
  s["reasons"] = plan.snapshot.reasons;
  s["why"] = plan.snapshot.why;
  j["snapshot"] = s;
  auto steps = nlohmann::ordered_json::array();
  for (const auto& st : plan.steps) {
    nlohmann::ordered_json x;
    x["name"] = st.name;
    x["action"] = st.action;
    x["skipped"] = st.skipped;
    x["background"] = st.background;
    x["timeout_s"] = st.timeout_s ? nlohmann::ordered_json(*st.timeout_s) : nlohmann::ordered_json();
    x["retries"] = st.retries;
    x["critical"] = st.critical;
    x["restore_bytes"] = st.restore_bytes;
    x["estimate_s"] = st.estimate_s ? nlohmann::ordered_json(*st.estimate_s) : nlohmann::ordered_json();
    steps.push_back(std::move(x));
  }
  j["steps"] = std::move(steps);
  j["verify"] = plan.verify;
  j["restore_bytes"] = plan.restore_bytes;
  j["estimate_s"] = plan.estimate_s ? nlohmann::ordered_json(*plan.estimate_s) : nlohmann::ordered_json();
  j["estimate_basis"] = plan.estimate_basis;
  j["rto_target_s"] = plan.rto_s ? nlohmann::ordered_json(*plan.rto_s) : nlohmann::ordered_json();
  if (plan.resumed_run) {
    j["resumed_from"] = plan.resumed_run;
    j["first_step"] = plan.first_step + 1;
  }
  return j;
}

nlohmann::ordered_json to_json(const RecoveryReport& r) {
  nlohmann::ordered_json j;
  j["runbook"] = r.plan.runbook.name;
  j["policy"] = r.plan.policy.name;
  j["mode"] = r.plan.mode == RecoveryMode::drill ? "drill" : "real";
  j["result"] = r.success ? "passed" : r.interrupted ? "interrupted" : r.failed_step >= 0 ? "failed" : "verify_failed";
  j["success"] = r.success;
  j["verified"] = r.verified;
  j["error"] = r.error.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.error);
  j["run_id"] = r.run_id;
  j["started_at"] = format_rfc3339(r.started_at);
  j["finished_at"] = format_rfc3339(r.finished_at);
  j["duration_s"] = static_cast<double>(r.finished_at - r.started_at) / 1e9;
  j["rto_s"] = r.rto_measured_s ? nlohmann::ordered_json(*r.rto_measured_s) : nlohmann::ordered_json();
  j["rto_target_s"] = r.plan.rto_s ? nlohmann::ordered_json(*r.plan.rto_s) : nlohmann::ordered_json();
  j["rto_met"] = r.rto_measured_s && r.plan.rto_s ? nlohmann::ordered_json(*r.rto_measured_s <= *r.plan.rto_s)
                                                  : nlohmann::ordered_json();
  j["snapshot"] = {{"id", r.plan.snapshot.id},
                   {"time", format_rfc3339(r.plan.snapshot.time)},
                   {"selector", r.plan.snapshot.selector},
                   {"flagged", r.plan.snapshot.flagged}};
  if (r.plan.resumed_run) j["resumed_from"] = r.plan.resumed_run;
  auto steps = nlohmann::ordered_json::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"name", s.name},
                     {"result", to_string(s.outcome)},
                     {"critical", s.critical},
                     {"attempts", s.attempts},
                     {"seconds", s.seconds},
                     {"detail", s.detail},
                     {"output_tail", s.output_tail}});
  }
  j["steps"] = std::move(steps);
  auto verify = nlohmann::ordered_json::array();
  for (const auto& v : r.verify)
    verify.push_back({{"check", v.name}, {"ok", v.ok}, {"seconds", v.seconds}, {"detail", v.detail}});
  j["verify"] = std::move(verify);
  if (r.failed_step >= 0) j["failed_step"] = r.failed_step + 1;
  if (!r.sandbox.empty()) {
    j["sandbox"] = r.sandbox;
    j["sandbox_kept"] = r.sandbox_kept;
  }
  if (!r.incident_json.empty()) {
    j["incident_record"] = {{"markdown", r.incident_markdown}, {"json", r.incident_json}};
  }
  return j;
}

}  // namespace kho::orchestrate

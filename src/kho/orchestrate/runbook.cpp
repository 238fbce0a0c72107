#include "kho/orchestrate/runbook.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>

#include "kho/orchestrate/yaml_fields.hpp"
#include "kho/util/json.hpp"

namespace kho::orchestrate {

namespace {

const std::vector<std::string_view> k_template_names = {"root", "sandbox", "snapshot", "policy"};
const char* const k_template_list = "{{root}}, {{sandbox}}, {{snapshot}}, {{policy}}";

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '-'; }

// A template reference found in a text: "{{" blanks NAME blanks "}}". Other
// text between double braces (a Go template such as {{.State.Running}}) is
// not a reference and stays as written.
struct TemplateRef {
  std::size_t begin = 0;  // of "{{"
  std::size_t end = 0;    // past "}}"
  std::string_view name;
};

std::vector<TemplateRef> template_refs(std::string_view text) {
  std::vector<TemplateRef> out;
  std::size_t pos = 0;
  while ((pos = text.find("{{", pos)) != std::string_view::npos) {
    std::size_t i = pos + 2;
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t name_begin = i;
    if (i < text.size() && is_name_start(text[i])) {
      while (i < text.size() && is_name_char(text[i])) ++i;
      std::size_t name_end = i;
      while (i < text.size() && text[i] == ' ') ++i;
      if (text.substr(i, 2) == "}}") {
        out.push_back({pos, i + 2, text.substr(name_begin, name_end - name_begin)});
        pos = i + 2;
        continue;
      }
    }
    pos += 2;
  }
  return out;
}

// Stand-ins for the templates when checking a templated value's shape:
// {{root}} is empty in a real run, so "{{root}}/x" is the absolute path /x.
const TemplateVars k_check_vars = {"", "/sandbox", "0000000000000000", "policy", {}};

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
}

// Why `address` is not "host:port", or "".
std::string tcp_problem(const std::string& address) {
  std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return fmt::format("'{}' is not host:port (e.g. 127.0.0.1:5432)", address);
  std::string host = address.substr(0, colon);
  if (host.front() == '[' ? host.back() != ']' || host.size() < 3 : host.find_first_of(":/ \t[]") != std::string::npos)
    return fmt::format("'{}' is not host:port (e.g. 127.0.0.1:5432, [::1]:5432)", address);
  std::string port = address.substr(colon + 1);
  int n = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n < 1 || n > 65535)
    return fmt::format("'{}': the port must be a number from 1 to 65535", address);
  return "";
}

bool is_http_url(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.size() > scheme.size() && url.substr(0, scheme.size()) == scheme) return true;
  }
  return false;
}

// The fields among `keys` that `fields` has, in the order they are written.
std::vector<Field> in_file_order(const Fields& fields, const std::vector<std::string_view>& keys) {
  std::vector<Field> out;
  for (auto key : keys) {
    if (auto f = fields.get(key)) out.push_back(*f);
  }
  std::sort(out.begin(), out.end(), [](const Field& a, const Field& b) {
    return std::make_pair(a.key.Mark().line, a.key.Mark().column) <
           std::make_pair(b.key.Mark().line, b.key.Mark().column);
  });
  return out;
}

class RunbookParser : public YamlReader {
 public:
  using YamlReader::YamlReader;

  Runbook parse(const YAML::Node& root, std::optional<NameAt>& name_mark);

 private:
  // Reports every {{name}} in `f`'s text that is not a template; true when there is none.
  bool templates(const Field& f, std::string_view text) {
    bool ok = true;
    std::vector<std::string_view> known = k_template_names;
    std::string list = k_template_list;
    for (const auto& [name, value] : m_check.extra) {
      known.push_back(name);
      list += ", {{" + name + "}}";
    }
    for (const auto& ref : template_refs(text)) {
      if (std::find(known.begin(), known.end(), ref.name) != known.end()) continue;
      std::string hint = suggestion(ref.name, known);
      std::string written(text.substr(ref.begin, ref.end - ref.begin));
      issue(f, hint.empty() ? fmt::format("unknown template '{}' (templates: {})", written, list)
                            : fmt::format("unknown template '{}'; did you mean '{{{{{}}}}}'? (templates: {})", written,
                                          hint, list));
      ok = false;
    }
    return ok;
  }

  // vars: {name: value}; drill: {vars: {name: value}} (names declared in vars).
  void parse_vars(const Fields& top, Runbook& r) {
    if (auto f = top.get("vars"); f && !f->value.IsNull()) {
      if (!f->value.IsMap()) {
        issue(*f, fmt::format("expected a map of names to values, e.g. vars: {{web_port: \"58080\"}}, got {}",
                              describe(f->value)));
      } else {
        for (const auto& entry : f->value) {
          YAML::Node key = entry.first, value = entry.second;
          const std::string name = key.IsScalar() ? key.Scalar() : "";
          const std::string path = child(f->path, name);
          bool ok = !name.empty() && is_name_start(name[0]) &&
                    std::all_of(name.begin(), name.end(), [](char c) { return is_name_char(c); });
          if (!ok) {
            issue_at(key, path,
                     fmt::format("'{}' is not a variable name: letters, digits, '_' and '-', starting "
                                 "with a letter or '_'",
                                 name));
            continue;
          }
          if (std::find(k_template_names.begin(), k_template_names.end(), name) != k_template_names.end()) {
            issue_at(key, path, fmt::format("'{}' is set by kho and cannot be a var", name));
            continue;
          }
          if (!value.IsScalar()) {
            issue_at(value, path, fmt::format("expected a value (text or number), got {}", describe(value)));
            continue;
          }
          if (r.vars.count(name)) {
            issue_at(key, path, fmt::format("duplicate var '{}'", name));
            continue;
          }
          r.vars[name] = value.Scalar();
        }
      }
    }
    m_check.extra = r.vars;
    if (auto drill = map(top.get("drill"), {"vars"})) {
      if (auto f = drill->get("vars"); f && !f->value.IsNull()) {
        if (!f->value.IsMap()) {
          issue(*f, fmt::format("expected a map of var names to the values drills use, got {}", describe(f->value)));
          return;
        }
        for (const auto& entry : f->value) {
          YAML::Node key = entry.first, value = entry.second;
          const std::string name = key.IsScalar() ? key.Scalar() : "";
          const std::string path = child(f->path, name);
          if (!r.vars.count(name)) {
            issue_at(key, path, fmt::format("'{}' is not declared in vars (a drill value replaces a real one)", name));
            continue;
          }
          if (!value.IsScalar()) {
            issue_at(value, path, fmt::format("expected a value (text or number), got {}", describe(value)));
            continue;
          }
          r.drill_vars[name] = value.Scalar();
        }
      }
    }
  }

  // The values templates are checked with: k_check_vars plus the runbook's vars.
  TemplateVars m_check = k_check_vars;

  // A command whose texts may use templates.
  std::optional<Command> templated_command(const std::optional<Field>& f) {
    auto c = command(f);
    if (!c) return std::nullopt;
    bool ok = true;
    if (c->shell) {
      ok = templates(*f, c->script);
    } else {
      for (std::size_t i = 0; i < c->argv.size(); ++i)
        ok = templates(Field{f->key, f->value[i], child(f->path, i)}, c->argv[i]) && ok;
    }
    if (!ok) return std::nullopt;
    return c;
  }

  // A string that may use templates.
  std::optional<std::string> templated(const std::optional<Field>& f, bool allow_empty = false) {
    auto text = string(f, allow_empty);
    if (!text || !templates(*f, *text)) return std::nullopt;
    return text;
  }

  // An absolute path once the templates are filled in ({{root}}/x counts).
  std::optional<std::string> absolute_path(const std::optional<Field>& f, std::string_view what) {
    auto text = templated(f);
    if (!text) return std::nullopt;
    std::string expanded = expand_template(*text, m_check);
    if (expanded.empty() || expanded[0] != '/') {
      issue(*f, fmt::format("'{}' is not an absolute path ({})", *text, what));
      return std::nullopt;
    }
    if (has_dot_dot(expanded)) {
      issue(*f, fmt::format("'{}': {} may not contain '..'", *text, what));
      return std::nullopt;
    }
    return text;
  }

  std::optional<std::string> tcp_address(const std::optional<Field>& f) {
    auto text = templated(f);
    if (!text) return std::nullopt;
    if (std::string problem = tcp_problem(expand_template(*text, m_check)); !problem.empty()) {
      issue(*f, problem);
      return std::nullopt;
    }
    return text;
  }

  std::optional<std::string> http_url(const std::optional<Field>& f) {
    auto text = templated(f);
    if (!text) return std::nullopt;
    if (!is_http_url(expand_template(*text, m_check))) {
      issue(*f, fmt::format("'{}' is not an http:// or https:// URL", *text));
      return std::nullopt;
    }
    return text;
  }

  void parse_steps(const Field& f, Runbook& r);
  RunbookStep parse_step(const Field& item, bool& ok);
  void parse_restore(const Field& f, RunbookStep& s);
  void parse_wait_for(const Field& f, RunbookStep& s);
  void parse_drill(const Field& f, RunbookStep& s);
  void parse_verify(const Field& f, Runbook& r);
  std::optional<VerifyCheck> parse_check(const Field& item);
};

const std::vector<std::string_view> k_runbook_keys = {"name", "policy", "description", "snapshot", "rto",
                                                  "vars", "drill",  "steps",       "verify"};
const std::vector<std::string_view> k_step_keys = {"name",    "run",     "restore",     "wait_for", "background",
                                                   "timeout", "retries", "retry_delay", "critical", "drill"};
const std::vector<std::string_view> k_actions = {"run", "restore", "wait_for"};
const std::vector<std::string_view> k_verify_keys = {
    "files_match_snapshot", "http", "tcp", "command", "expect", "timeout"};
const std::vector<std::string_view> k_verify_kinds = {"files_match_snapshot", "http", "tcp", "command"};

Runbook RunbookParser::parse(const YAML::Node& root, std::optional<NameAt>& name_mark) {
  Runbook r;
  r.file = file();
  if (root.IsNull()) {
    issue(YAML::Mark(), "", "the file holds no runbook: expected a map with name, policy and steps");
    return r;
  }
  if (!root.IsMap()) {
    issue_at(
        root, "",
        fmt::format("expected a map with name, policy, steps, ... (one runbook per file), got {}", describe(root)));
    return r;
  }
  Fields top(*this, root, "", k_runbook_keys);

  if (auto f = top.get("name"); f && !f->value.IsNull()) {
    if (auto name = string(f)) {
      if (is_valid_name(*name)) {
        r.name = *name;
        name_mark = NameAt{*name, f->value.Mark()};
      } else {
        issue(*f, fmt::format("'{}' is not a valid runbook name: use at most {} lower-case letters, digits, '-' "
                              "and '_', starting with a letter or digit",
                              *name, k_max_name_length));
      }
    }
  } else {
    missing(top, "name", "the runbook's name, e.g. name: portal-recovery");
  }

  if (auto f = top.get("policy"); f && !f->value.IsNull()) {
    if (auto policy = string(f)) {
      r.policy = *policy;
      r.policy_line = f->value.Mark().line + 1;
      r.policy_column = f->value.Mark().column + 1;
    }
  } else {
    missing(top, "policy", "the policy whose snapshots the runbook restores, e.g. policy: portal");
  }

  if (auto d = string(top.get("description"), true)) r.description = *d;

  if (auto f = top.get("snapshot"); f && !f->value.IsNull()) {
    if (auto text = string(f)) {
      if (auto selector = parse_snapshot_selector(*text); !selector)
        issue(*f, selector.error().message());
      else
        r.snapshot = *text;
    }
  }

  r.rto_s = duration(top.get("rto"));
  parse_vars(top, r);

  if (auto f = top.get("steps"); f && !f->value.IsNull()) {
    parse_steps(*f, r);
  } else {
    missing(top, "steps", "the steps that bring the system back, e.g. - name: ... run: ...");
  }

  if (auto f = top.get("verify"); f && !f->value.IsNull()) parse_verify(*f, r);
  return r;
}

void RunbookParser::parse_steps(const Field& f, Runbook& r) {
  if (!f.value.IsSequence()) {
    issue(f, fmt::format("expected a list of steps (- name: ... run: ...), got {}", describe(f.value)));
    return;
  }
  if (f.value.size() == 0) {
    issue(f, "no steps: give at least one step");
    return;
  }
  std::map<std::string, std::size_t> names;
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    Field item{f.key, f.value[i], child(f.path, i)};
    bool ok = false;
    RunbookStep step = parse_step(item, ok);
    if (!step.name.empty()) {
      if (auto [it, fresh] = names.emplace(step.name, i); !fresh) {
        const YAML::Node node = item.value;  // const: operator[] must not add a key
        issue(Field{node["name"], node["name"], child(item.path, "name")},
              fmt::format("step name '{}' is already used by steps[{}]; names must be unique within a runbook",
                          step.name, it->second));
        continue;
      }
    }
    if (!ok) continue;
    r.steps.push_back(std::move(step));
  }
}

RunbookStep RunbookParser::parse_step(const Field& item, bool& ok) {
  RunbookStep s;
  ok = false;
  if (!item.value.IsMap()) {
    issue(item,
          fmt::format("a step is a map with name and one of run, restore, wait_for; got {}", describe(item.value)));
    return s;
  }
  std::size_t before = issue_count();
  s.line = item.value.Mark().line + 1;
  Fields fields(*this, item.value, item.path, k_step_keys);

  if (fields.has("name")) {
    if (auto name = string(fields.get("name"))) s.name = *name;
  } else {
    missing(fields, "name", "what the step does, e.g. name: Restore the database dump");
  }

  // Exactly one action; the ones after the first (in the file) are reported.
  auto present = in_file_order(fields, k_actions);
  std::optional<Field> action;
  if (!present.empty()) action = present[0];
  for (std::size_t i = 1; i < present.size(); ++i)
    issue(present[i],
          fmt::format("a step has one action and this one already has '{}'; make two steps", action->key.Scalar()));
  if (!action) {
    issue_at(item.value, item.path, "a step needs one of run, restore, wait_for");
    return s;
  }
  const std::string& kind = action->key.Scalar();
  if (kind == "run") {
    s.action = StepAction::run;
    s.run = templated_command(action);
  } else if (kind == "restore") {
    s.action = StepAction::restore;
    parse_restore(*action, s);
  } else {
    s.action = StepAction::wait_for;
    parse_wait_for(*action, s);
  }

  for (std::string_view key : {"background", "timeout"}) {
    if (auto f = fields.get(key); f && kind != "run")
      issue(*f, fmt::format("{} goes with run, not with {}", key, kind));
  }
  if (kind == "run") {
    if (auto b = boolean(fields.get("background"))) s.background = *b;
    s.timeout_s = duration(fields.get("timeout"));
  }
  if (auto n = integer(fields.get("retries"), 0, "a whole number of extra tries, 0 or more")) s.retries = *n;
  if (auto d = duration(fields.get("retry_delay"))) s.retry_delay_s = *d;
  if (auto c = boolean(fields.get("critical"))) s.critical = *c;
  if (auto f = fields.get("drill"); f && !f->value.IsNull()) parse_drill(*f, s);

  ok = issue_count() == before;
  return s;
}

void RunbookParser::parse_restore(const Field& f, RunbookStep& s) {
  if (f.value.IsNull()) {
    issue(f, "expected a map {paths: [...], target: DIR}, got nothing");
    return;
  }
  auto fields = map(f, {"paths", "target"});
  if (!fields) return;
  if (auto p = fields->get("paths"); p && !p->value.IsNull()) {
    if (auto paths = string_list(p, "snapshot paths")) {
      if (paths->empty()) issue(*p, "no paths: give at least one snapshot path, e.g. [/srv/portal/uploads]");
      for (std::size_t i = 0; i < paths->size(); ++i) {
        const std::string& path = (*paths)[i];
        if (path[0] != '/' && (has_dot_dot(path) || path.back() == '/'))
          issue(Field{p->key, p->value[i], child(p->path, i)},
                fmt::format("'{}' is not an absolute path or a relative file path without '..' (a relative path "
                            "names a file a command source stored, e.g. db/portal.dump)",
                            path));
        else if (path[0] == '/' && has_dot_dot(path))
          issue(Field{p->key, p->value[i], child(p->path, i)}, fmt::format("'{}' may not contain '..'", path));
      }
      s.restore.paths = *paths;
    }
  } else {
    missing(*fields, "paths", "the snapshot paths to restore, e.g. paths: [/srv/portal/uploads]");
  }
  if (auto t = absolute_path(fields->get("target"), "the restore target, placed under {{root}}")) s.restore.target = *t;
}

void RunbookParser::parse_wait_for(const Field& f, RunbookStep& s) {
  if (f.value.IsNull()) {
    issue(f, "expected a map {tcp: HOST:PORT | http: URL | file: PATH, timeout: ...}, got nothing");
    return;
  }
  auto fields = map(f, {"tcp", "http", "file", "timeout", "interval"});
  if (!fields) return;
  int given = 0;
  for (auto key : {"tcp", "http", "file"}) {
    auto k = fields->get(key);
    if (!k) continue;
    if (++given > 1) {
      issue(*k, "wait_for waits for one thing: give one of tcp, http, file");
      continue;
    }
    if (std::string_view(key) == "tcp") {
      if (auto a = tcp_address(k)) s.wait_for.tcp = *a;
    } else if (std::string_view(key) == "http") {
      if (auto u = http_url(k)) s.wait_for.http = *u;
    } else {
      if (auto p = absolute_path(k, "the file to wait for")) s.wait_for.file = *p;
    }
  }
  if (given == 0) issue(f, "wait_for needs one of tcp: HOST:PORT, http: URL, file: PATH");
  if (auto d = duration(fields->get("timeout"))) s.wait_for.timeout_s = *d;
  if (auto d = duration(fields->get("interval"))) s.wait_for.interval_s = *d;
}

void RunbookParser::parse_drill(const Field& f, RunbookStep& s) {
  if (f.value.IsScalar()) {
    if (f.value.Scalar() == "skip") {
      s.drill = DrillMode::skip;
      return;
    }
    issue(f, fmt::format("expected skip or a map {{run: ..., background: ...}}, got {}", describe(f.value)));
    return;
  }
  if (!f.value.IsMap()) {
    issue(f, fmt::format("expected skip or a map {{run: ..., background: ...}}, got {}", describe(f.value)));
    return;
  }
  Fields fields(*this, f.value, f.path, {"run", "background"});
  auto run = fields.get("run");
  if (!run) {
    missing(fields, "run", "the command a drill runs instead (or drill: skip to leave the step out of drills)");
    return;
  }
  if (s.action != StepAction::run) {
    issue(*run,
          "a `drill.run` on a step without `run`: restore and wait_for steps run as written in a drill "
          "(restores go under the sandbox); use drill: skip to leave the step out");
    return;
  }
  s.drill = DrillMode::replace;
  s.drill_run = templated_command(run);
  if (auto b = boolean(fields.get("background"))) s.drill_background = *b;
}

void RunbookParser::parse_verify(const Field& f, Runbook& r) {
  if (!f.value.IsSequence()) {
    issue(f, fmt::format("expected a list of checks (- http: ..., - command: ...), got {}", describe(f.value)));
    return;
  }
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    if (auto check = parse_check(Field{f.key, f.value[i], child(f.path, i)})) r.verify.push_back(std::move(*check));
  }
}

std::optional<VerifyCheck> RunbookParser::parse_check(const Field& item) {
  if (!item.value.IsMap()) {
    issue(item, fmt::format("a check is a map with one of {}; got {}", join(k_verify_kinds), describe(item.value)));
    return std::nullopt;
  }
  std::size_t before = issue_count();
  VerifyCheck c;
  c.line = item.value.Mark().line + 1;
  Fields fields(*this, item.value, item.path, k_verify_keys);
  auto present = in_file_order(fields, k_verify_kinds);
  std::optional<Field> kind_field;
  if (!present.empty()) kind_field = present[0];
  for (std::size_t i = 1; i < present.size(); ++i)
    issue(present[i], fmt::format("a check tests one thing and this one already has '{}'; make two checks",
                                  kind_field->key.Scalar()));
  if (!kind_field) {
    issue_at(item.value, item.path, fmt::format("a check needs one of {}", join(k_verify_kinds)));
    return std::nullopt;
  }
  const std::string& kind = kind_field->key.Scalar();
  if (kind != "command") {
    for (std::string_view key : {"expect", "timeout"}) {
      if (auto f = fields.get(key))
        issue(*f, kind == "files_match_snapshot"
                      ? fmt::format("{} goes with command, not with files_match_snapshot", key)
                      : fmt::format("{} goes with command; {} takes its options inside: {}: {{..., timeout: 10s}}", key,
                                    kind, kind));
    }
  }

  if (kind == "files_match_snapshot") {
    c.kind = VerifyKind::files_match_snapshot;
    if (kind_field->value.IsNull())
      issue(*kind_field, "is empty");
    else if (auto p = absolute_path(kind_field, "a path in the snapshot, compared under {{root}}"))
      c.path = *p;
  } else if (kind == "http") {
    c.kind = VerifyKind::http;
    if (kind_field->value.IsScalar()) {
      if (auto u = http_url(kind_field)) c.url = *u;
    } else if (auto http = map(kind_field, {"url", "status", "contains", "timeout"})) {
      if (http->get("url") && !http->get("url")->value.IsNull()) {
        if (auto u = http_url(http->get("url"))) c.url = *u;
      } else {
        missing(*http, "url", "the URL to fetch, e.g. url: http://127.0.0.1:8080/");
      }
      if (auto n = integer(http->get("status"), 100, "an HTTP status from 100 to 599")) {
        if (*n > 599)
          issue(*http->get("status"), fmt::format("expected an HTTP status from 100 to 599, got '{}'", *n));
        else
          c.status = *n;
      }
      if (auto t = templated(http->get("contains"))) c.contains = *t;
      if (auto d = duration(http->get("timeout"))) c.timeout_s = *d;
    } else if (kind_field->value.IsNull()) {
      issue(*kind_field, "expected a URL or a map {url: ..., status: 200, contains: ...}, got nothing");
    }
  } else if (kind == "tcp") {
    c.kind = VerifyKind::tcp;
    if (kind_field->value.IsScalar()) {
      if (auto a = tcp_address(kind_field)) c.tcp = *a;
    } else if (auto tcp = map(kind_field, {"address", "timeout"})) {
      if (tcp->has("address")) {
        if (auto a = tcp_address(tcp->get("address"))) c.tcp = *a;
      } else {
        missing(*tcp, "address", "the host:port to connect to, e.g. address: 127.0.0.1:5432");
      }
      if (auto d = duration(tcp->get("timeout"))) c.timeout_s = *d;
    } else if (kind_field->value.IsNull()) {
      issue(*kind_field, "expected host:port or a map {address: ..., timeout: ...}, got nothing");
    }
  } else {
    c.kind = VerifyKind::command;
    c.command = templated_command(kind_field);
    if (auto expect = map(fields.get("expect"), {"exit", "stdout_contains"})) {
      if (auto n = integer(expect->get("exit"), 0, "an exit status from 0 to 255")) {
        if (*n > 255)
          issue(*expect->get("exit"), fmt::format("expected an exit status from 0 to 255, got '{}'", *n));
        else
          c.expect_exit = *n;
      }
      if (auto t = templated(expect->get("stdout_contains"))) c.expect_contains = *t;
    }
    if (auto d = duration(fields.get("timeout"))) c.timeout_s = *d;
  }
  if (issue_count() != before) return std::nullopt;
  return c;
}

RunbookLoadResult parse_runbook(std::string_view text, const std::string& file, std::optional<NameAt>& name_mark) {
  RunbookLoadResult result;
  RunbookParser parser(file, result.issues);
  try {
    auto doc = parser.load_document(text, "runbook");
    if (!doc) return result;
    Runbook r = parser.parse(*doc, name_mark);
    sort_issues(result.issues);
    if (result.issues.empty())
      result.runbooks.push_back(std::move(r));
    else if (!r.policy.empty())
      result.other_policy_refs.push_back({r.file, r.policy, r.policy_line, r.policy_column});
  } catch (const YAML::Exception& e) {
    // Not expected from a loaded document; reported rather than thrown.
    parser.issue(e.mark, "", "cannot read the runbook: " + e.msg);
    result.runbooks.clear();
  }
  return result;
}

RunbookLoadResult read_runbook_file(const std::filesystem::path& path, std::optional<NameAt>& name_mark) {
  RunbookLoadResult r;
  auto text = read_yaml_file(path, r.issues);
  if (!text) return r;
  return parse_runbook(*text, path.string(), name_mark);
}

const char* action_name(StepAction a) {
  switch (a) {
    case StepAction::run:
      return "run";
    case StepAction::restore:
      return "restore";
    case StepAction::wait_for:
      return "wait_for";
  }
  return "?";
}

const char* drill_name(DrillMode m) {
  switch (m) {
    case DrillMode::same:
      return "same";
    case DrillMode::skip:
      return "skip";
    case DrillMode::replace:
      return "replace";
  }
  return "?";
}

const char* verify_name(VerifyKind k) {
  switch (k) {
    case VerifyKind::files_match_snapshot:
      return "files_match_snapshot";
    case VerifyKind::http:
      return "http";
    case VerifyKind::tcp:
      return "tcp";
    case VerifyKind::command:
      return "command";
  }
  return "?";
}

nlohmann::ordered_json optional_command(const std::optional<Command>& c) {
  return c ? command_json(*c) : nlohmann::ordered_json(nullptr);
}

}  // namespace

RunbookLoadResult load_runbook_text(std::string_view text, const std::string& file) {
  std::optional<NameAt> name_mark;
  return parse_runbook(text, file, name_mark);
}

RunbookLoadResult load_runbook_file(const std::filesystem::path& path) {
  std::optional<NameAt> name_mark;
  return read_runbook_file(path, name_mark);
}

RunbookLoadResult load_runbook_dir(const std::filesystem::path& dir) {
  RunbookLoadResult result;
  auto files = list_yaml_files(dir, "runbook directory", result.issues);
  if (!files) return result;
  return load_runbook_files(*files);
}

RunbookLoadResult load_runbook_files(const std::vector<std::filesystem::path>& files) {
  RunbookLoadResult result;
  UniqueNames names("runbook");
  for (const auto& path : files) {
    std::optional<NameAt> name_mark;
    RunbookLoadResult one = read_runbook_file(path, name_mark);
    // The name is known even when the file has other issues, so a clash is reported too.
    if (name_mark) {
      if (auto dup = names.check(*name_mark, path.string())) {
        one.issues.push_back(std::move(*dup));
        one.runbooks.clear();
      }
    }
    for (auto& r : one.runbooks) result.runbooks.push_back(std::move(r));
    for (auto& i : one.issues) result.issues.push_back(std::move(i));
    for (auto& ref : one.other_policy_refs) result.other_policy_refs.push_back(std::move(ref));
  }
  return result;
}

void check_runbook_policies(RunbookLoadResult& result, const std::vector<Policy>& policies) {
  std::vector<std::string> known;
  known.reserve(policies.size());
  for (const auto& p : policies) known.push_back(p.name);
  std::sort(known.begin(), known.end());
  std::string known_text;
  for (const auto& k : known) known_text += (known_text.empty() ? "" : ", ") + k;
  if (known_text.empty()) known_text = "none";
  std::vector<Runbook> kept;
  for (auto& r : result.runbooks) {
    if (std::binary_search(known.begin(), known.end(), r.policy)) {
      kept.push_back(std::move(r));
      continue;
    }
    result.issues.push_back({r.file, r.policy_line, r.policy_column, "policy",
                             fmt::format("policy '{}' does not exist (known: {})", r.policy, known_text)});
  }
  result.runbooks = std::move(kept);
  for (const auto& ref : result.other_policy_refs) {
    if (std::binary_search(known.begin(), known.end(), ref.policy)) continue;
    result.issues.push_back({ref.file, ref.line, ref.column, "policy",
                             fmt::format("policy '{}' does not exist (known: {})", ref.policy, known_text)});
  }
  // Back in file order, then line order.
  std::vector<std::string> order;
  for (const auto& i : result.issues)
    if (std::find(order.begin(), order.end(), i.file) == order.end()) order.push_back(i.file);
  auto rank = [&](const PolicyIssue& i) {
    return std::make_tuple(std::find(order.begin(), order.end(), i.file) - order.begin(), i.line, i.column);
  };
  std::stable_sort(result.issues.begin(), result.issues.end(),
                   [&](const PolicyIssue& a, const PolicyIssue& b) { return rank(a) < rank(b); });
}

Result<SnapshotSelector> parse_snapshot_selector(std::string_view text) {
  SnapshotSelector s;
  if (text == "latest") {
    s.kind = SnapshotSelector::latest;
    return s;
  }
  if (text == "latest-clean") {
    s.kind = SnapshotSelector::latest_clean;
    return s;
  }
  constexpr std::string_view before = "before:";
  if (text.substr(0, before.size()) == before) {
    auto t = parse_time(text.substr(before.size()));
    if (!t) return fail(Errc::invalid_argument, fmt::format("'{}': {}", text, t.error().message()));
    s.kind = SnapshotSelector::before;
    s.before_ns = *t;
    return s;
  }
  if (text.size() >= 4 && text.size() <= 64 && is_hex(text)) {
    s.kind = SnapshotSelector::by_id;
    s.id = std::string(text);
    std::transform(s.id.begin(), s.id.end(), s.id.begin(), [](char c) { return c >= 'A' && c <= 'F' ? c + 32 : c; });
    return s;
  }
  return fail(Errc::invalid_argument,
              fmt::format("'{}' is not a snapshot selector: use latest, latest-clean, before:<time> (e.g. "
                          "before:2026-02-10T00:00) or a snapshot ID or prefix (4 to 64 hex digits)",
                          text));
}

std::string expand_template(std::string_view text, const TemplateVars& vars) {
  std::string out;
  std::size_t pos = 0;
  for (const auto& ref : template_refs(text)) {
    const std::string* value = nullptr;
    if (ref.name == "root")
      value = &vars.root;
    else if (ref.name == "sandbox")
      value = &vars.sandbox;
    else if (ref.name == "snapshot")
      value = &vars.snapshot;
    else if (ref.name == "policy")
      value = &vars.policy;
    else if (auto it = vars.extra.find(std::string(ref.name)); it != vars.extra.end())
      value = &it->second;
    if (!value) continue;
    out.append(text.substr(pos, ref.begin - pos));
    out += *value;
    pos = ref.end;
  }
  out.append(text.substr(pos));
  return out;
}

Command expand_template(const Command& command, const TemplateVars& vars) {
  Command out = command;
  out.script = expand_template(command.script, vars);
  for (auto& a : out.argv) a = expand_template(a, vars);
  return out;
}

nlohmann::ordered_json to_json(const Runbook& r) {
  nlohmann::ordered_json j;
  j["name"] = r.name;
  j["policy"] = r.policy;
  j["description"] = r.description;
  j["file"] = r.file;
  j["snapshot"] = r.snapshot;
  j["rto_s"] = r.rto_s ? nlohmann::ordered_json(*r.rto_s) : nlohmann::ordered_json(nullptr);
  j["vars"] = r.vars;
  j["drill_vars"] = r.drill_vars;
  auto steps = nlohmann::ordered_json::array();
  for (const auto& s : r.steps) {
    nlohmann::ordered_json e;
    e["name"] = s.name;
    e["line"] = s.line;
    e["action"] = action_name(s.action);
    e["run"] = s.action == StepAction::run ? optional_command(s.run) : nlohmann::ordered_json(nullptr);
    e["restore"] = s.action == StepAction::restore
                       ? nlohmann::ordered_json{{"paths", s.restore.paths}, {"target", s.restore.target}}
                       : nlohmann::ordered_json(nullptr);
    e["wait_for"] = s.action == StepAction::wait_for ? nlohmann::ordered_json{{"tcp", text_or_null(s.wait_for.tcp)},
                                                                              {"http", text_or_null(s.wait_for.http)},
                                                                              {"file", text_or_null(s.wait_for.file)},
                                                                              {"timeout_s", s.wait_for.timeout_s},
                                                                              {"interval_s", s.wait_for.interval_s}}
                                                     : nlohmann::ordered_json(nullptr);
    e["background"] = s.background;
    e["timeout_s"] = s.timeout_s ? nlohmann::ordered_json(*s.timeout_s) : nlohmann::ordered_json(nullptr);
    e["retries"] = s.retries;
    e["retry_delay_s"] = s.retry_delay_s;
    e["critical"] = s.critical;
    e["drill"] = {
        {"mode", drill_name(s.drill)}, {"run", optional_command(s.drill_run)}, {"background", s.drill_background}};
    steps.push_back(e);
  }
  j["steps"] = steps;
  auto verify = nlohmann::ordered_json::array();
  for (const auto& c : r.verify) {
    nlohmann::ordered_json e;
    e["kind"] = verify_name(c.kind);
    e["line"] = c.line;
    switch (c.kind) {
      case VerifyKind::files_match_snapshot:
        e["path"] = c.path;
        break;
      case VerifyKind::http:
        e["url"] = c.url;
        e["status"] = c.status;
        e["contains"] = text_or_null(c.contains);
        e["timeout_s"] = c.timeout_s;
        break;
      case VerifyKind::tcp:
        e["address"] = c.tcp;
        e["timeout_s"] = c.timeout_s;
        break;
      case VerifyKind::command:
        e["command"] = optional_command(c.command);
        e["expect"] = {{"exit", c.expect_exit}, {"stdout_contains", text_or_null(c.expect_contains)}};
        e["timeout_s"] = c.timeout_s;
        break;
    }
    verify.push_back(e);
  }
  j["verify"] = verify;
  return j;
}

}  // namespace kho::orchestrate

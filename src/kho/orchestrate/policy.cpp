#include "kho/orchestrate/policy.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "kho/backend/backend.hpp"
#include "kho/backend/rest/rest_location.hpp"
#include "kho/backend/sftp/sftp_location.hpp"
#include "kho/engine/check.hpp"
#include "kho/orchestrate/cron.hpp"
#include "kho/orchestrate/tz.hpp"
#include "kho/orchestrate/yaml_fields.hpp"
#include "kho/util/json.hpp"
#include "kho/util/time.hpp"
#include "kho/util/url.hpp"

namespace kho::orchestrate {

namespace {

// Why `location` is not a repository location a policy may name, or "".
// Remote locations are parsed by their backends' parsers; nothing is contacted.
std::string location_problem(const std::string& location) {
  if (location.empty()) return "is empty";
  std::size_t n = scheme_length(location);
  std::string scheme = location.substr(0, n);
  if (n == 0 || scheme == "local") {
    std::string path = n == 0 ? location : location.substr(n + 1);
    if (path.empty() || path[0] != '/')
      return fmt::format("'{}': a local repository path must be absolute (the scheduler does not run in your "
                         "working directory)",
                         location);
    return "";
  }
  if (scheme == "sftp") {
    auto parsed = backend::sftp::parse_sftp_location(location);
    return parsed ? "" : parsed.error().message();
  }
  if (scheme == "rest") {
    auto parsed = backend::parse_rest_location(location);
    return parsed ? "" : parsed.error().message();
  }
  return fmt::format("repository location scheme '{}:' is not supported; use an absolute path, local:PATH, "
                     "sftp://[user@]host[:port]/path or rest:http(s)://host:port/path",
                     scheme);
}

class PolicyParser : public YamlReader {
 public:
  using YamlReader::YamlReader;

  std::string unknown_key_note(std::string_view key) const override {
    if (key == "compression") return "compression is a property of the repository, set by `kho init --compression`";
    return "";
  }

  std::optional<std::string> cron(const std::optional<Field>& f) {
    auto text = string(f);
    if (!text) return std::nullopt;
    if (auto parsed = CronSchedule::parse(*text); !parsed) {
      issue(*f, fmt::format("bad cron schedule '{}': {} (five fields: minute hour day-of-month month "
                            "day-of-week, e.g. \"30 1 * * *\")",
                            *text, parsed.error().message()));
      return std::nullopt;
    }
    return text;
  }

  // password_file / password_command of `map`; `required` reports their absence.
  std::optional<PasswordSource> password(const Fields& map, bool required) {
    auto file_field = map.get("password_file");
    auto command_field = map.get("password_command");
    bool has_file = file_field && !file_field->value.IsNull();
    bool has_command = command_field && !command_field->value.IsNull();
    if (has_file && has_command) {
      issue(*command_field, "give password_file or password_command, not both");
      return std::nullopt;
    }
    if (!has_file && !has_command) {
      if (required)
        issue_at(map.node(), child(map.path(), "password_file"),
                 "no password source: set password_file (a file whose first line is the password) or "
                 "password_command (a command that prints it); policies run unattended, so KHO_PASSWORD "
                 "and the prompt are not used");
      return std::nullopt;
    }
    PasswordSource p;
    if (has_file) {
      auto file = string(file_field);
      if (!file) return std::nullopt;
      if ((*file)[0] != '/') {
        issue(*file_field, fmt::format("'{}': the password file must be an absolute path", *file));
        return std::nullopt;
      }
      p.file = *file;
    } else {
      p.command = command(command_field);
      if (!p.command) return std::nullopt;
    }
    return p;
  }

  std::optional<std::string> location(const std::optional<Field>& f) {
    auto text = string(f);
    if (!text) return std::nullopt;
    std::string problem = location_problem(*text);
    if (!problem.empty()) {
      issue(*f, problem);
      return std::nullopt;
    }
    return text;
  }

  Policy parse(const YAML::Node& root, std::optional<NameAt>& name_mark);

private:
  void parse_sources(const Field& f, Policy& p);
  void parse_retention(const Field& f, Policy& p);
  void parse_copy_to(const Field& f, Policy& p);
  void parse_hooks(const Field& f, Policy& p);
  void parse_notify(const Field& f, Policy& p);
};

const std::vector<std::string_view> k_policy_keys = {
    "name",      "description", "repository", "password_file",   "password_command", "sources",
    "exclude",   "tags",        "host",       "one_file_system", "schedule",         "timezone",
    "retention", "prune",       "check",      "copy_to",         "objectives",       "hooks",
    "notify",    "timeout",     "retry",      "anomaly"};

Policy PolicyParser::parse(const YAML::Node& root, std::optional<NameAt>& name_mark) {
  Policy p;
  p.file = file();
  if (root.IsNull()) {
    issue(YAML::Mark(), "", "the file holds no policy: expected a map with name, repository, a password source "
                            "and sources");
    return p;
  }
  if (!root.IsMap()) {
    issue_at(root, "", fmt::format("expected a map with name, repository, sources, ... (one policy per file), got {}",
                                   describe(root)));
    return p;
  }
  Fields top(*this, root, "", k_policy_keys);

  if (auto f = top.get("name"); f && !f->value.IsNull()) {
    if (auto name = string(f)) {
      if (is_valid_name(*name)) {
        p.name = *name;
        name_mark = NameAt{*name, f->value.Mark()};
      } else
        issue(*f, fmt::format("'{}' is not a valid policy name: use at most {} lower-case letters, digits, '-' and "
                              "'_', starting with a letter or digit (the name becomes a snapshot tag and part "
                              "of file names)",
                              *name, k_max_name_length));
    }
  } else {
    missing(top, "name", "the policy's name, e.g. name: portal");
  }

  if (auto d = string(top.get("description"), true)) p.description = *d;

  if (auto f = top.get("repository"); f && !f->value.IsNull()) {
    if (auto loc = location(f)) p.repository = *loc;
  } else {
    missing(top, "repository", "where snapshots are stored: an absolute path, sftp://host/path or rest:https://...");
  }

  if (auto pw = password(top, true)) p.password = *pw;

  if (auto f = top.get("sources"); f && !f->value.IsNull()) {
    parse_sources(*f, p);
  } else {
    missing(top, "sources", "at least one source: - path: /srv/data, or - command: ... with filename: ...");
  }

  if (auto ex = string_list(top.get("exclude"), "glob patterns")) p.exclude = *ex;

  if (auto f = top.get("tags")) {
    if (auto tags = string_list(f, "tags")) {
      for (std::size_t i = 0; i < tags->size(); ++i) {
        const std::string& t = (*tags)[i];
        if (t.find(',') != std::string::npos || t.find_first_of(" \t") != std::string::npos)
          issue(Field{f->key, f->value[i], child(f->path, i)},
                fmt::format("tag '{}' may not contain ',' or blanks", t));
        else
          p.tags.push_back(t);
      }
    }
  }

  if (auto host = string(top.get("host"))) {
    if (host->find_first_of(" \t/") != std::string::npos)
      issue(*top.get("host"), fmt::format("'{}' is not a host name", *host));
    else
      p.host = *host;
  }
  if (auto b = boolean(top.get("one_file_system"))) p.one_file_system = *b;

  if (auto s = cron(top.get("schedule"))) p.schedule = *s;

  if (auto f = top.get("timezone")) {
    if (auto tz = string(f)) {
      if (auto zone = TimeZone::load(*tz); zone) {
        p.timezone = *tz;
      } else {
        issue(*f, fmt::format("cannot load time zone '{}' ({}); use an IANA name such as Asia/Ho_Chi_Minh, or leave "
                              "timezone out for the system's zone",
                              *tz, zone.error().message()));
      }
    }
  }

  if (auto f = top.get("retention"); f && !f->value.IsNull()) parse_retention(*f, p);

  if (auto prune = map(top.get("prune"), {"schedule"})) {
    if (auto f = prune->get("schedule"); f && !f->value.IsNull()) {
      if (auto s = cron(f)) p.prune = PrunePolicy{*s};
    } else {
      missing(*prune, "schedule", "when to prune, in cron syntax, e.g. \"0 4 * * 6\"");
    }
  }

  if (auto check = map(top.get("check"), {"schedule", "read_data_subset"})) {
    CheckPolicy c;
    bool ok = true;
    if (auto f = check->get("schedule"); f && !f->value.IsNull()) {
      auto s = cron(f);
      ok = s.has_value();
      if (s) c.schedule = *s;
    } else {
      missing(*check, "schedule", "when to check, in cron syntax, e.g. \"0 3 * * 0\"");
      ok = false;
    }
    if (auto f = check->get("read_data_subset")) {
      if (auto subset = string(f)) {
        if (auto valid = engine::validate_subset(*subset); !valid) {
          issue(*f, valid.error().message());
          ok = false;
        } else {
          c.read_data_subset = *subset;
        }
      }
    }
    if (ok) p.check = c;
  }

  if (auto f = top.get("copy_to"); f && !f->value.IsNull()) parse_copy_to(*f, p);

  if (auto obj = map(top.get("objectives"), {"rpo", "rto"})) {
    p.objectives.rpo_s = duration(obj->get("rpo"));
    p.objectives.rto_s = duration(obj->get("rto"));
  }

  if (auto a = map(top.get("anomaly"), {"threshold", "changed_share", "encrypted_share", "min_files", "enabled"})) {
    auto share = [&](std::string_view key) -> std::optional<double> {
      auto f = a->get(key);
      auto given = string(f);
      if (!given) return std::nullopt;
      const std::string& text = *given;
      double v = 0;
      const char* last = text.data() + text.size();
      auto [end, ec] = std::from_chars(text.data(), last, v);
      if (ec != std::errc() || end != last || !(v > 0) || v > 10) {
        issue(*f, fmt::format("expected a number above 0 (e.g. 0.6), got '{}'", text));
        return std::nullopt;
      }
      return v;
    };
    p.anomaly.threshold = share("threshold");
    p.anomaly.changed_share = share("changed_share");
    p.anomaly.encrypted_share = share("encrypted_share");
    p.anomaly.min_files = integer(a->get("min_files"), 0, "a whole number of files, 0 or more");
    if (auto b = boolean(a->get("enabled"))) p.anomaly.enabled = *b;
  }

  if (auto f = top.get("hooks"); f && !f->value.IsNull()) parse_hooks(*f, p);
  if (auto f = top.get("notify"); f && !f->value.IsNull()) parse_notify(*f, p);

  p.timeout_s = duration(top.get("timeout"));

  if (auto retry = map(top.get("retry"), {"attempts", "delay"})) {
    if (auto n = integer(retry->get("attempts"), 1, "a whole number of attempts, 1 or more")) p.retry.attempts = *n;
    if (auto d = duration(retry->get("delay"))) p.retry.delay_s = *d;
  }
  return p;
}

void PolicyParser::parse_sources(const Field& f, Policy& p) {
  if (!f.value.IsSequence()) {
    issue(f, fmt::format("expected a list of sources (- path: ... or - command: ...), got {}", describe(f.value)));
    return;
  }
  if (f.value.size() == 0) {
    issue(f, "no sources: give at least one path or command");
    return;
  }
  std::map<std::string, std::size_t> paths, filenames;
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    Field item{f.key, f.value[i], child(f.path, i)};
    if (!item.value.IsMap()) {
      issue(item, fmt::format("a source is a map, {{path: /absolute/path}} or {{command: ..., filename: ...}}; got {}",
                              describe(item.value)));
      continue;
    }
    Fields src(*this, item.value, item.path, {"path", "command", "filename"});
    auto path_field = src.get("path");
    auto command_field = src.get("command");
    auto filename_field = src.get("filename");
    Source s;
    if (path_field && command_field) {
      issue(*command_field, "a source has a path or a command, not both");
      continue;
    }
    if (path_field) {
      if (filename_field) issue(*filename_field, "filename goes with command, not with path");
      auto path = string(path_field);
      if (!path) {
        if (path_field->value.IsNull()) issue(*path_field, "is empty");
        continue;
      }
      if ((*path)[0] != '/') {
        issue(*path_field, fmt::format("'{}' is not an absolute path", *path));
        continue;
      }
      std::string normal = std::filesystem::path(*path).lexically_normal().string();
      if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
      if (auto [it, fresh] = paths.emplace(normal, i); !fresh) {
        issue(*path_field, fmt::format("'{}' is already a source (sources[{}])", *path, it->second));
        continue;
      }
      s.path = *path;
    } else if (command_field) {
      s.command = command(command_field);
      if (!filename_field || filename_field->value.IsNull()) {
        missing(src, "filename", "the name of the command's output inside the snapshot, e.g. db/portal.dump");
        continue;
      }
      auto name = string(filename_field);
      if (!name) continue;
      if ((*name)[0] == '/' || has_dot_dot(*name) || name->back() == '/') {
        issue(*filename_field,
              fmt::format("'{}' is not a relative file path inside the snapshot (e.g. db/portal.dump)", *name));
        continue;
      }
      if (auto [it, fresh] = filenames.emplace(*name, i); !fresh) {
        issue(*filename_field, fmt::format("'{}' is already the filename of sources[{}]", *name, it->second));
        continue;
      }
      if (!s.command) continue;
      s.filename = *name;
    } else {
      issue_at(item.value, item.path, "a source needs path (a directory or file) or command (with filename)");
      continue;
    }
    p.sources.push_back(std::move(s));
  }
}

void PolicyParser::parse_retention(const Field& f, Policy& p) {
  static const std::vector<std::string_view> counts = {"keep_last",    "keep_hourly",  "keep_daily",
                                                       "keep_weekly",  "keep_monthly", "keep_yearly"};
  std::vector<std::string_view> known = counts;
  known.push_back("keep_within");
  known.push_back("keep_tags");
  auto fields = map(f, known);
  if (!fields) return;
  engine::RetentionPolicy r;
  int* targets[] = {&r.keep_last, &r.keep_hourly, &r.keep_daily, &r.keep_weekly, &r.keep_monthly, &r.keep_yearly};
  std::size_t before = issue_count();
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (auto n = integer(fields->get(counts[i]), -1, "a whole number of snapshots (or -1 for no limit)"))
      *targets[i] = *n;
  }
  r.keep_within_s = duration(fields->get("keep_within"));
  if (auto tags = string_list(fields->get("keep_tags"), "tags")) r.keep_tags = *tags;
  if (issue_count() != before) return;
  if (r.empty()) {
    issue(f, fmt::format("retention keeps nothing: set at least one of {}", join(known)));
    return;
  }
  if (auto valid = r.validate(); !valid) {
    issue(f, valid.error().message());
    return;
  }
  p.retention = r;
}

void PolicyParser::parse_copy_to(const Field& f, Policy& p) {
  if (!f.value.IsSequence()) {
    issue(f, fmt::format("expected a list of repositories, got {}", describe(f.value)));
    return;
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    Field item{f.key, f.value[i], child(f.path, i)};
    CopyTarget target;
    std::optional<Field> location_field;
    if (item.value.IsScalar()) {
      location_field = item;
    } else if (item.value.IsMap()) {
      Fields fields(*this, item.value, item.path,
                    {"repository", "password_file", "password_command", "kind", "append_only"});
      location_field = fields.get("repository");
      if (!location_field || location_field->value.IsNull()) {
        missing(fields, "repository", "the location of the copy");
        continue;
      }
      std::size_t before = issue_count();
      target.password = password(fields, false);
      if (auto kind = string(fields.get("kind"))) {
        if (*kind == "offline" || *kind == "offsite")
          target.kind = *kind;
        else
          issue(*fields.get("kind"), fmt::format("'{}': a copy's kind is offline or offsite", *kind));
      }
      if (auto b = boolean(fields.get("append_only"))) target.append_only = *b;
      if (issue_count() != before) continue;
    } else {
      issue(item, fmt::format("expected a repository location or a map {{repository: ..., password_file: ...}}, got {}",
                              describe(item.value)));
      continue;
    }
    auto loc = location(location_field);
    if (!loc) continue;
    if (*loc == p.repository) {
      issue(*location_field, "is the policy's own repository");
      continue;
    }
    if (!seen.insert(*loc).second) {
      issue(*location_field, fmt::format("'{}' is already in copy_to", backend::redact_location(*loc)));
      continue;
    }
    target.repository = *loc;
    p.copy_to.push_back(std::move(target));
  }
}

void PolicyParser::parse_hooks(const Field& f, Policy& p) {
  auto hooks = map(f, {"before", "after", "on_failure"});
  if (!hooks) return;
  auto read = [&](std::string_view key, std::vector<Command>& out) {
    auto list = hooks->get(key);
    if (!list || list->value.IsNull()) return;
    if (!list->value.IsSequence()) {
      issue(*list, fmt::format("expected a list of commands (e.g. [\"systemctl is-active postgresql\"]), got {}",
                               describe(list->value)));
      return;
    }
    for (std::size_t i = 0; i < list->value.size(); ++i) {
      if (auto c = command(Field{list->key, list->value[i], child(list->path, i)})) out.push_back(*c);
    }
  };
  read("before", p.hooks.before);
  read("after", p.hooks.after);
  read("on_failure", p.hooks.on_failure);
}

void PolicyParser::parse_notify(const Field& f, Policy& p) {
  auto fields = map(f, {"webhook", "command", "on"});
  if (!fields) return;
  Notify n;
  std::size_t before = issue_count();
  if (auto url = string(fields->get("webhook"))) {
    if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0)
      issue(*fields->get("webhook"), fmt::format("'{}' is not an http:// or https:// URL",
                                                 backend::redact_location(*url)));
    else
      n.webhook = *url;
  }
  if (auto c = fields->get("command"); c && !c->value.IsNull()) n.command = command(c);
  if (auto on = fields->get("on"); on && !on->value.IsNull()) {
    static const std::vector<std::string_view> names = {"failure", "success", "anomaly", "late"};
    if (auto events = string_list(on, "events")) {
      n.on.clear();
      if (events->empty()) issue(*on, fmt::format("no events: nothing would be sent (events: {})", join(names)));
      for (std::size_t i = 0; i < events->size(); ++i) {
        auto it = std::find(names.begin(), names.end(), (*events)[i]);
        if (it == names.end()) {
          std::string hint = suggestion((*events)[i], names);
          issue(Field{on->key, on->value[i], child(on->path, i)},
                hint.empty() ? fmt::format("unknown event '{}' (events: {})", (*events)[i], join(names))
                             : fmt::format("unknown event '{}'; did you mean '{}'? (events: {})", (*events)[i], hint,
                                           join(names)));
          continue;
        }
        auto event = static_cast<NotifyEvent>(it - names.begin());
        if (std::find(n.on.begin(), n.on.end(), event) == n.on.end()) n.on.push_back(event);
        if (event == NotifyEvent::late && p.schedule.empty() && !p.objectives.rpo_s)
          issue(Field{on->key, on->value[i], child(on->path, i)},
                "'late' needs objectives.rpo or a schedule to know when a backup is late");
      }
    }
  }
  if (issue_count() != before) return;
  if (n.webhook.empty() && !n.command) {
    issue(f, "notify needs a webhook, a command, or both");
    return;
  }
  p.notify = n;
}

LoadResult parse_policy(std::string_view text, const std::string& file, std::optional<NameAt>& name_mark) {
  LoadResult result;
  PolicyParser parser(file, result.issues);
  auto doc = parser.load_document(text, "policy");
  if (!doc) return result;
  Policy p = parser.parse(*doc, name_mark);
  sort_issues(result.issues);
  if (result.issues.empty()) result.policies.push_back(std::move(p));
  return result;
}

LoadResult read_policy_file(const std::filesystem::path& path, std::optional<NameAt>& name_mark) {
  LoadResult r;
  auto text = read_yaml_file(path, r.issues);
  if (!text) return r;
  return parse_policy(*text, path.string(), name_mark);
}

std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                            "@%+=:,./_-") == std::string::npos)
    return arg;
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

nlohmann::ordered_json password_json(const PasswordSource& p) {
  nlohmann::ordered_json j;
  if (p.command) j["command"] = command_json(*p.command);
  else j["file"] = p.file;
  return j;
}

template <typename T>
nlohmann::ordered_json optional_json(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::vector<std::string> Command::exec_argv() const {
  if (shell) return {"sh", "-c", script};
  return argv;
}

std::string Command::shell_text() const {
  if (shell) return script;
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += shell_quote(a);
  }
  return out;
}

const char* notify_event_name(NotifyEvent event) {
  switch (event) {
    case NotifyEvent::failure: return "failure";
    case NotifyEvent::success: return "success";
    case NotifyEvent::anomaly: return "anomaly";
    case NotifyEvent::late: return "late";
  }
  return "?";
}

std::vector<std::string> Policy::snapshot_tags() const {
  std::vector<std::string> out{name};
  for (const auto& t : tags) {
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

LoadResult load_policy_text(std::string_view text, const std::string& file) {
  std::optional<NameAt> name_mark;
  return parse_policy(text, file, name_mark);
}

LoadResult load_policy_file(const std::filesystem::path& path) {
  std::optional<NameAt> name_mark;
  return read_policy_file(path, name_mark);
}

LoadResult load_policy_dir(const std::filesystem::path& dir) {
  LoadResult result;
  auto files = list_yaml_files(dir, "policy directory", result.issues);
  if (!files) return result;
  return load_policy_files(*files);
}

LoadResult load_policy_files(const std::vector<std::filesystem::path>& files) {
  LoadResult result;
  UniqueNames names("policy");
  for (const auto& path : files) {
    std::optional<NameAt> name_mark;
    LoadResult one = read_policy_file(path, name_mark);
    // The name is known even when the file has other issues, so a clash is reported too.
    if (name_mark) {
      if (auto dup = names.check(*name_mark, path.string())) {
        one.issues.push_back(std::move(*dup));
        one.policies.clear();
      }
    }
    for (auto& p : one.policies) result.policies.push_back(std::move(p));
    for (auto& i : one.issues) result.issues.push_back(std::move(i));
  }
  return result;
}

Result<TimeZone> policy_time_zone(const std::string& timezone) {
  return timezone.empty() ? local_time_zone() : TimeZone::load(timezone);
}

std::string format_issue(const PolicyIssue& issue) {
  std::string out = issue.file;
  if (issue.line > 0) out += fmt::format(":{}:{}", issue.line, issue.column);
  out += ": ";
  if (!issue.field.empty()) out += issue.field + ": ";
  return out + issue.message;
}

nlohmann::ordered_json to_json(const Policy& p) {
  nlohmann::ordered_json j;
  j["name"] = p.name;
  j["description"] = p.description;
  j["file"] = p.file;
  j["repository"] = backend::redact_location(p.repository);
  j["password"] = password_json(p.password);
  auto sources = nlohmann::ordered_json::array();
  for (const auto& s : p.sources) {
    nlohmann::ordered_json e;
    if (s.command) {
      e["command"] = command_json(*s.command);
      e["filename"] = s.filename;
    } else {
      e["path"] = s.path;
    }
    sources.push_back(e);
  }
  j["sources"] = sources;
  j["exclude"] = p.exclude;
  j["tags"] = p.snapshot_tags();
  j["host"] = text_or_null(p.host);
  j["one_file_system"] = p.one_file_system;
  j["schedule"] = text_or_null(p.schedule);
  j["timezone"] = text_or_null(p.timezone);
  if (p.retention) {
    const auto& r = *p.retention;
    nlohmann::ordered_json rj;
    auto count = [&](const char* key, int n) {
      if (n != 0) rj[key] = n;
    };
    count("keep_last", r.keep_last);
    count("keep_hourly", r.keep_hourly);
    count("keep_daily", r.keep_daily);
    count("keep_weekly", r.keep_weekly);
    count("keep_monthly", r.keep_monthly);
    count("keep_yearly", r.keep_yearly);
    if (r.keep_within_s) rj["keep_within_s"] = *r.keep_within_s;
    if (!r.keep_tags.empty()) rj["keep_tags"] = r.keep_tags;
    j["retention"] = rj;
  } else {
    j["retention"] = nullptr;
  }
  j["prune"] = p.prune ? nlohmann::ordered_json{{"schedule", p.prune->schedule}} : nlohmann::ordered_json(nullptr);
  j["check"] = p.check ? nlohmann::ordered_json{{"schedule", p.check->schedule},
                                                {"read_data_subset", text_or_null(p.check->read_data_subset)}}
                       : nlohmann::ordered_json(nullptr);
  auto copies = nlohmann::ordered_json::array();
  for (const auto& c : p.copy_to) {
    copies.push_back({{"repository", backend::redact_location(c.repository)},
                      {"password", c.password ? password_json(*c.password) : nlohmann::ordered_json(nullptr)},
                      {"kind", text_or_null(c.kind)},
                      {"append_only", c.append_only}});
  }
  j["copy_to"] = copies;
  j["objectives"] = {{"rpo_s", optional_json(p.objectives.rpo_s)}, {"rto_s", optional_json(p.objectives.rto_s)}};
  auto commands = [](const std::vector<Command>& list) {
    auto a = nlohmann::ordered_json::array();
    for (const auto& c : list) a.push_back(command_json(c));
    return a;
  };
  j["hooks"] = {{"before", commands(p.hooks.before)},
                {"after", commands(p.hooks.after)},
                {"on_failure", commands(p.hooks.on_failure)}};
  if (p.notify) {
    nlohmann::ordered_json n;
    n["webhook"] = text_or_null(backend::redact_location(p.notify->webhook));
    n["command"] = p.notify->command ? command_json(*p.notify->command) : nlohmann::ordered_json(nullptr);
    auto on = nlohmann::ordered_json::array();
    for (auto e : p.notify->on) on.push_back(notify_event_name(e));
    n["on"] = on;
    j["notify"] = n;
  } else {
    j["notify"] = nullptr;
  }
  j["anomaly"] = {{"enabled", p.anomaly.enabled},
                  {"threshold", optional_json(p.anomaly.threshold)},
                  {"changed_share", optional_json(p.anomaly.changed_share)},
                  {"encrypted_share", optional_json(p.anomaly.encrypted_share)},
                  {"min_files", optional_json(p.anomaly.min_files)}};
  j["timeout_s"] = optional_json(p.timeout_s);
  j["retry"] = {{"attempts", p.retry.attempts}, {"delay_s", p.retry.delay_s}};
  return j;
}

}  // namespace kho::orchestrate

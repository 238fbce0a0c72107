// Reading orchestration YAML files (policies, runbooks) field by field: every
// problem becomes a PolicyIssue with file, line, column and the field's path
// ("retention.keep_daily", "steps[2].run"), unknown keys get a "did you mean",
// and the typed readers report a wrong type and return nothing, so a loader
// goes on and reports every issue in a file. Internal to the orchestrate
// loaders; the models and their field rules live in policy.cpp and runbook.cpp.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kho/orchestrate/policy.hpp"

namespace kho::orchestrate {

// Names of policies and runbooks: [a-z0-9][a-z0-9_-]*, at most this long.
constexpr std::size_t k_max_name_length = 64;
bool is_valid_name(std::string_view name);

// The closest of `candidates` to `word`, when close enough to be a typo; "" otherwise.
std::string suggestion(std::string_view word, const std::vector<std::string_view>& candidates);
// "a, b, c".
std::string join(const std::vector<std::string_view>& words);
// "a map", "a list", "'text'" or "nothing", for "expected ..., got ..." messages.
std::string describe(const YAML::Node& node);
// A scalar that is not quoted with a "!" tag (plain or quoted text).
bool is_plain_scalar(const YAML::Node& node);
// Field paths: child("retention", "keep_daily"), child("sources", 2) -> "sources[2]".
std::string child(const std::string& path, std::string_view key);
std::string child(const std::string& path, std::size_t index);
// Whether `text` has a path component "..".
bool has_dot_dot(std::string_view text);

// A command as JSON: {"shell": TEXT} or {"argv": [...]}.
nlohmann::ordered_json command_json(const Command& command);

// One field of a map: its key node, its value node and its path.
struct Field {
  YAML::Node key;
  YAML::Node value;
  std::string path;  // "retention.keep_daily"
};

class YamlReader;

// One map's fields: duplicate and unknown keys are reported when it is built;
// get() hands out the known ones.
class Fields {
 public:
  Fields(YamlReader& reader, const YAML::Node& map, std::string path, std::vector<std::string_view> known);
  std::optional<Field> get(std::string_view key) const;
  // Whether `key` is given with a value other than null.
  bool has(std::string_view key) const;
  const YAML::Node& node() const { return m_map; }
  const std::string& path() const { return m_path; }

 private:
  YAML::Node m_map;
  std::string m_path;
  std::map<std::string, Field, std::less<>> m_fields;
};

// A valid name (of a policy or runbook) and where it is written.
struct NameAt {
  std::string name;
  YAML::Mark mark;
};

class YamlReader {
 public:
  YamlReader(std::string file, std::vector<PolicyIssue>& issues) : m_file(std::move(file)), m_issues(issues) {}
  virtual ~YamlReader() = default;
  YamlReader(const YamlReader&) = delete;
  YamlReader& operator=(const YamlReader&) = delete;

  const std::string& file() const { return m_file; }
  std::size_t issue_count() const { return m_count; }

  void issue(const YAML::Mark& mark, std::string field, std::string message);
  // At a field's value; at its key when the value is null (yaml-cpp gives a
  // null value no useful position).
  void issue(const Field& f, std::string message);
  void issue_at(const YAML::Node& at, std::string field, std::string message);
  void missing(const Fields& map, std::string_view key, std::string_view what);

  // An extra explanation for an unknown key (e.g. a key that belongs
  // elsewhere), or "" for the usual "did you mean" / "known keys" message.
  virtual std::string unknown_key_note(std::string_view /*key*/) const { return ""; }

  // The one YAML document of `text` (null for an empty text); a syntax error
  // or a second document is an issue and gives nothing. `what` names the
  // file's content in "one policy per file".
  std::optional<YAML::Node> load_document(std::string_view text, std::string_view what);

  // --- typed readers: each reports a wrong type and returns nothing; null counts as absent ---

  // A field that must be a map.
  std::optional<Fields> map(const std::optional<Field>& f, std::vector<std::string_view> known);
  std::optional<std::string> string(const std::optional<Field>& f, bool allow_empty = false);
  std::optional<std::vector<std::string>> string_list(const std::optional<Field>& f, std::string_view what);
  std::optional<bool> boolean(const std::optional<Field>& f);
  // A whole number >= min; `expected` describes it ("a whole number of attempts, 1 or more").
  std::optional<int> integer(const std::optional<Field>& f, int min, std::string_view expected);
  // A positive duration ("24h", "1h30m"), in seconds.
  std::optional<double> duration(const std::optional<Field>& f);
  // A command: a string (sh -c) or a list of strings (argv). Unlike the other
  // readers, a null value is reported (a command key given without a command).
  std::optional<Command> command(const std::optional<Field>& f);

 private:
  std::string m_file;
  std::vector<PolicyIssue>& m_issues;
  std::size_t m_count = 0;
};

// Sorts one file's issues by line, then column (stable).
void sort_issues(std::vector<PolicyIssue>& issues);

// The contents of `path`; "no such file" or "cannot read the file" as an issue otherwise.
std::optional<std::string> read_yaml_file(const std::filesystem::path& path, std::vector<PolicyIssue>& issues);

// Every *.yaml and *.yml file directly in `dir` (hidden files skipped), in
// name order; an unreadable directory is an issue ("cannot read the
// <what>: ...") and gives nothing.
std::optional<std::vector<std::filesystem::path>> list_yaml_files(const std::filesystem::path& dir,
                                                                  std::string_view what,
                                                                  std::vector<PolicyIssue>& issues);

// The check of names across files: the first file to use a name keeps it;
// a later one gets an issue at its `name` naming the first.
class UniqueNames {
 public:
  explicit UniqueNames(std::string kind) : m_kind(std::move(kind)) {}
  // The issue when `name` is already taken, else records it and gives nothing.
  std::optional<PolicyIssue> check(const NameAt& name, const std::string& file);

 private:
  struct First {
    std::string file;
    int line;
  };
  std::string m_kind;  // "policy", "runbook"
  std::map<std::string, First> m_names;
};

}  // namespace kho::orchestrate

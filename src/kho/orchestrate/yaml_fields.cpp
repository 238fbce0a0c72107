#include "kho/orchestrate/yaml_fields.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <tuple>

#include <yaml-cpp/eventhandler.h>

#include "kho/util/time.hpp"

namespace kho::orchestrate {

namespace {

// Notes where each document of a YAML stream starts and where its first node is.
class DocumentMarks : public YAML::EventHandler {
public:
  YAML::Mark start;       // of the last document
  YAML::Mark first_node;  // of the last document
  void OnDocumentStart(const YAML::Mark& mark) override {
    start = mark;
    m_seen_node = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override { node(mark); }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

private:
  void node(const YAML::Mark& mark) {
    if (!m_seen_node) first_node = mark;
    m_seen_node = true;
  }
  bool m_seen_node = false;
};

// Optimal string alignment distance (Levenshtein plus adjacent swaps), for
// "did you mean" on misspelt keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > k_max_name_length) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'))) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

std::string suggestion(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (auto c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(c);
    }
  }
  return best;
}

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (auto w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "nothing";
  }
}

bool is_plain_scalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string child(const std::string& path, std::size_t index) { return fmt::format("{}[{}]", path, index); }

bool has_dot_dot(std::string_view text) {
  for (const auto& part : std::filesystem::path(text)) {
    if (part == "..") return true;
  }
  return false;
}

nlohmann::ordered_json command_json(const Command& c) {
  nlohmann::ordered_json j;
  if (c.shell)
    j["shell"] = c.script;
  else
    j["argv"] = c.argv;
  return j;
}

Fields::Fields(YamlReader& reader, const YAML::Node& map, std::string path, std::vector<std::string_view> known)
    : m_map(map), m_path(std::move(path)) {
  for (const auto& entry : map) {
    // By value: the iterator hands out a temporary pair.
    YAML::Node key = entry.first;
    if (!key.IsScalar()) {
      reader.issue_at(key, m_path, fmt::format("a key must be a plain name, got {}", describe(key)));
      continue;
    }
    const std::string& name = key.Scalar();
    std::string field = child(m_path, name);
    if (auto seen = m_fields.find(name); seen != m_fields.end()) {
      reader.issue_at(key, field,
                      fmt::format("duplicate key '{}' (first at line {})", name, seen->second.key.Mark().line + 1));
      continue;
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string note = reader.unknown_key_note(name);
      std::string hint = suggestion(name, known);
      if (!note.empty())
        reader.issue_at(key, field, fmt::format("unknown key '{}': {}", name, note));
      else if (!hint.empty())
        reader.issue_at(key, field, fmt::format("unknown key '{}'; did you mean '{}'?", name, hint));
      else
        reader.issue_at(key, field, fmt::format("unknown key '{}' (known keys: {})", name, join(known)));
      continue;
    }
    m_fields.emplace(name, Field{key, entry.second, field});
  }
}

std::optional<Field> Fields::get(std::string_view key) const {
  auto it = m_fields.find(key);
  if (it == m_fields.end()) return std::nullopt;
  return it->second;
}

bool Fields::has(std::string_view key) const {
  auto it = m_fields.find(key);
  return it != m_fields.end() && !it->second.value.IsNull();
}

void YamlReader::issue(const YAML::Mark& mark, std::string field, std::string message) {
  PolicyIssue i;
  i.file = m_file;
  i.line = mark.line < 0 ? 1 : mark.line + 1;
  i.column = mark.column < 0 ? 1 : mark.column + 1;
  i.field = std::move(field);
  i.message = std::move(message);
  m_issues.push_back(std::move(i));
  ++m_count;
}

void YamlReader::issue(const Field& f, std::string message) {
  issue(f.value.IsNull() || !f.value.IsDefined() ? f.key.Mark() : f.value.Mark(), f.path, std::move(message));
}

void YamlReader::issue_at(const YAML::Node& at, std::string field, std::string message) {
  issue(at.Mark(), std::move(field), std::move(message));
}

void YamlReader::missing(const Fields& map, std::string_view key, std::string_view what) {
  issue_at(map.node(), child(map.path(), key), fmt::format("missing: {}", what));
}

std::optional<YAML::Node> YamlReader::load_document(std::string_view text, std::string_view what) {
  // Documents are counted from the parser's events rather than with
  // YAML::LoadAll: on some malformed input (",x") yaml-cpp 0.7 returns the same
  // empty document forever without reading on, and LoadAll never returns.
  const std::string input(text);
  std::size_t count = 0;
  std::optional<YAML::Mark> second;
  try {
    std::istringstream in(input);
    YAML::Parser parser(in);
    DocumentMarks marks;
    std::optional<int> previous_start;
    while (parser.HandleNextDocument(marks)) {
      if (previous_start && marks.start.pos <= *previous_start) {
        issue(marks.start, "", "YAML syntax error: the parser cannot read past this point");
        return std::nullopt;
      }
      previous_start = marks.start.pos;
      if (++count == 2) second = marks.first_node;
    }
  } catch (const YAML::Exception& e) {
    issue(e.mark, "", "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  if (second) {
    issue(*second, "", fmt::format("one {} per file: this file holds more than one YAML document", what));
    return std::nullopt;
  }
  if (count == 0) return YAML::Node();
  try {
    return YAML::Load(input);
  } catch (const YAML::Exception& e) {
    issue(e.mark, "", "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
}

std::optional<Fields> YamlReader::map(const std::optional<Field>& f, std::vector<std::string_view> known) {
  if (!f || f->value.IsNull()) return std::nullopt;
  if (!f->value.IsMap()) {
    issue(*f, fmt::format("expected a map with {}, got {}", join(known), describe(f->value)));
    return std::nullopt;
  }
  return Fields(*this, f->value, f->path, std::move(known));
}

std::optional<std::string> YamlReader::string(const std::optional<Field>& f, bool allow_empty) {
  if (!f || f->value.IsNull()) return std::nullopt;
  if (!f->value.IsScalar()) {
    issue(*f, fmt::format("expected a string, got {}", describe(f->value)));
    return std::nullopt;
  }
  if (!allow_empty && f->value.Scalar().empty()) {
    issue(*f, "is empty");
    return std::nullopt;
  }
  return f->value.Scalar();
}

std::optional<std::vector<std::string>> YamlReader::string_list(const std::optional<Field>& f, std::string_view what) {
  if (!f || f->value.IsNull()) return std::nullopt;
  if (!f->value.IsSequence()) {
    issue(*f, fmt::format("expected a list of {}, got {}", what, describe(f->value)));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < f->value.size(); ++i) {
    auto s = string(Field{f->key, f->value[i], child(f->path, i)});
    if (s)
      out.push_back(*s);
    else
      ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<bool> YamlReader::boolean(const std::optional<Field>& f) {
  if (!f || f->value.IsNull()) return std::nullopt;
  bool value = false;
  if (!is_plain_scalar(f->value) || !YAML::convert<bool>::decode(f->value, value)) {
    issue(*f, fmt::format("expected true or false, got {}", describe(f->value)));
    return std::nullopt;
  }
  return value;
}

std::optional<int> YamlReader::integer(const std::optional<Field>& f, int min, std::string_view expected) {
  if (!f || f->value.IsNull()) return std::nullopt;
  int value = 0;
  bool ok = is_plain_scalar(f->value);
  if (ok) {
    const std::string& s = f->value.Scalar();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    ok = ec == std::errc() && end == s.data() + s.size() && value >= min;
  }
  if (!ok) {
    issue(*f, fmt::format("expected {}, got {}", expected, describe(f->value)));
    return std::nullopt;
  }
  return value;
}

std::optional<double> YamlReader::duration(const std::optional<Field>& f) {
  auto text = string(f);
  if (!text) return std::nullopt;
  auto seconds = parse_duration(*text);
  if (!seconds) {
    issue(*f, seconds.error().message());
    return std::nullopt;
  }
  if (!(*seconds > 0) || !std::isfinite(*seconds)) {
    issue(*f, fmt::format("'{}' is not longer than zero", *text));
    return std::nullopt;
  }
  return *seconds;
}

std::optional<Command> YamlReader::command(const std::optional<Field>& f) {
  if (!f) return std::nullopt;
  const YAML::Node& v = f->value;
  Command c;
  if (v.IsScalar()) {
    c.shell = true;
    c.script = v.Scalar();
    if (c.script.find_first_not_of(" \t\r\n") == std::string::npos) {
      issue(*f, "the command is empty");
      return std::nullopt;
    }
    return c;
  }
  if (v.IsSequence()) {
    bool ok = true;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].IsScalar()) {
        issue(Field{f->key, v[i], child(f->path, i)},
              fmt::format("expected a string (one argument), got {}", describe(v[i])));
        ok = false;
      } else {
        c.argv.push_back(v[i].Scalar());
      }
    }
    if (!ok) return std::nullopt;
    if (c.argv.empty() || c.argv[0].empty()) {
      issue(*f, "the command is empty: a list command starts with the program to run");
      return std::nullopt;
    }
    return c;
  }
  issue(*f, fmt::format("expected a command: a string (run with sh -c) or a list of strings (program and "
                        "arguments, run without a shell), got {}",
                        describe(v)));
  return std::nullopt;
}

void sort_issues(std::vector<PolicyIssue>& issues) {
  std::stable_sort(issues.begin(), issues.end(), [](const PolicyIssue& a, const PolicyIssue& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
}

std::optional<std::string> read_yaml_file(const std::filesystem::path& path, std::vector<PolicyIssue>& issues) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    std::error_code ec;
    bool exists = std::filesystem::exists(path, ec);
    issues.push_back({path.string(), 0, 0, "", exists ? "cannot read the file" : "no such file"});
    return std::nullopt;
  }
  return text.str();
}

std::optional<std::vector<std::filesystem::path>> list_yaml_files(const std::filesystem::path& dir,
                                                                  std::string_view what,
                                                                  std::vector<PolicyIssue>& issues) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  std::filesystem::directory_iterator it(dir, ec), end;
  auto unreadable = [&] {
    issues.push_back({dir.string(), 0, 0, "", fmt::format("cannot read the {}: {}", what, ec.message())});
  };
  if (ec) {
    unreadable();
    return std::nullopt;
  }
  for (; it != end; it.increment(ec)) {
    const auto& path = it->path();
    std::string name = path.filename().string();
    std::string ext = path.extension().string();
    if (name.empty() || name[0] == '.' || (ext != ".yaml" && ext != ".yml")) continue;
    if (!it->is_regular_file(ec)) continue;
    files.push_back(path);
  }
  if (ec) {
    unreadable();
    return std::nullopt;
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::optional<PolicyIssue> UniqueNames::check(const NameAt& name, const std::string& file) {
  auto [seen, fresh] = m_names.emplace(name.name, First{file, name.mark.line + 1});
  if (fresh) return std::nullopt;
  PolicyIssue dup;
  dup.file = file;
  dup.line = name.mark.line + 1;
  dup.column = name.mark.column + 1;
  dup.field = "name";
  dup.message = fmt::format("{} name '{}' is already used by {} (line {}); names must be unique", m_kind, name.name,
                            seen->second.file, seen->second.line);
  return dup;
}

}  // namespace kho::orchestrate

#include "kho/repo/snapshot.hpp"

#include <algorithm>

#include "kho/util/json.hpp"

namespace kho::repo {

nlohmann::ordered_json SnapshotSummary::to_json() const {
  nlohmann::ordered_json j;
  j["files_new"] = files_new;
  j["files_changed"] = files_changed;
  j["files_unmodified"] = files_unmodified;
  j["dirs_new"] = dirs_new;
  j["dirs_changed"] = dirs_changed;
  j["dirs_unmodified"] = dirs_unmodified;
  j["dirs"] = dirs;
  j["total_files"] = total_files;
  j["total_bytes"] = total_bytes;
  j["data_blobs"] = data_blobs;
  j["tree_blobs"] = tree_blobs;
  j["data_added"] = data_added;
  j["data_added_raw"] = data_added_raw;
  j["errors"] = errors;
  j["backup_start"] = format_rfc3339(backup_start);
  j["backup_end"] = format_rfc3339(backup_end);
  j["duration_s"] = duration_s;
  return j;
}

SnapshotSummary SnapshotSummary::from_json(const nlohmann::json& j) {
  SnapshotSummary s;
  if (!j.is_object()) return s;
  s.files_new = json_integer(j, "files_new", std::uint64_t{0});
  s.files_changed = json_integer(j, "files_changed", std::uint64_t{0});
  s.files_unmodified = json_integer(j, "files_unmodified", std::uint64_t{0});
  s.dirs_new = json_integer(j, "dirs_new", std::uint64_t{0});
  s.dirs_changed = json_integer(j, "dirs_changed", std::uint64_t{0});
  s.dirs_unmodified = json_integer(j, "dirs_unmodified", std::uint64_t{0});
  s.dirs = json_integer(j, "dirs", std::uint64_t{0});
  s.total_files = json_integer(j, "total_files", std::uint64_t{0});
  s.total_bytes = json_integer(j, "total_bytes", std::uint64_t{0});
  s.data_blobs = json_integer(j, "data_blobs", std::uint64_t{0});
  s.tree_blobs = json_integer(j, "tree_blobs", std::uint64_t{0});
  s.data_added = json_integer(j, "data_added", std::uint64_t{0});
  s.data_added_raw = json_integer(j, "data_added_raw", std::uint64_t{0});
  s.errors = json_integer(j, "errors", std::uint64_t{0});
  if (auto t = parse_rfc3339(j.value("backup_start", ""))) s.backup_start = *t;
  if (auto t = parse_rfc3339(j.value("backup_end", ""))) s.backup_end = *t;
  s.duration_s = j.value("duration_s", 0.0);
  return s;
}

std::string Snapshot::to_json() const {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["time"] = format_rfc3339(time);
  j["tree"] = tree.hex();
  j["paths"] = paths;
  j["host"] = host;
  j["username"] = username;
  j["uid"] = uid;
  j["gid"] = gid;
  j["tags"] = tags;
  if (parent) j["parent"] = parent->hex();
  j["excludes"] = excludes;
  if (!policy.empty()) j["policy"] = policy;
  j["program_version"] = program_version;
  j["incomplete"] = incomplete;
  auto errs = nlohmann::ordered_json::array();
  for (const auto& e : errors) errs.push_back({{"path", e.path}, {"error", e.error}});
  j["errors"] = errs;
  if (original) j["original"] = original->hex();
  j["summary"] = summary.to_json();
  if (!anomaly.is_null()) j["anomaly"] = anomaly;
  return json_dump(j);
}

Result<Snapshot> Snapshot::from_json(ByteSpan text, const std::string& what) {
  auto bad = [&](const std::string& why) { return fail(Errc::corruption, what + " is malformed: " + why); };
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not JSON");
  Snapshot s;
  try {
    if (json_integer<int>(j.at("version")) != 1) return bad("unknown version");
    auto t = parse_rfc3339(j.at("time").get<std::string>());
    if (!t) return bad("bad time");
    s.time = *t;
    auto tree = Id::parse(j.at("tree").get<std::string>());
    if (!tree) return bad("bad tree id");
    s.tree = *tree;
    s.paths = j.at("paths").get<std::vector<std::string>>();
    s.host = j.value("host", "");
    s.username = j.value("username", "");
    s.uid = json_integer(j, "uid", std::uint32_t{0});
    s.gid = json_integer(j, "gid", std::uint32_t{0});
    s.tags = j.value("tags", std::vector<std::string>{});
    if (j.contains("parent")) {
      auto p = Id::parse(j["parent"].get<std::string>());
      if (!p) return bad("bad parent id");
      s.parent = *p;
    }
    s.excludes = j.value("excludes", std::vector<std::string>{});
    s.policy = j.value("policy", "");
    s.program_version = j.value("program_version", "");
    s.incomplete = j.value("incomplete", false);
    if (j.contains("errors"))
      for (const auto& e : j["errors"]) s.errors.push_back({e.value("path", ""), e.value("error", "")});
    if (j.contains("original")) {
      auto o = Id::parse(j["original"].get<std::string>());
      if (!o) return bad("bad original id");
      s.original = *o;
    }
    s.summary = SnapshotSummary::from_json(j.value("summary", nlohmann::json::object()));
    if (j.contains("anomaly")) s.anomaly = j["anomaly"];
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  return s;
}

bool Snapshot::has_tag(const std::string& tag) const {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

bool Snapshot::flagged() const {
  if (!anomaly.is_object()) return false;
  // A person's decision overrides the score.
  if (auto m = anomaly.find("marked"); m != anomaly.end() && m->is_string()) return *m == "suspect";
  auto f = anomaly.find("flagged");
  return f != anomaly.end() && f->is_boolean() && f->get<bool>();
}

nlohmann::ordered_json snapshot_listing_json(const SnapshotRef& ref) {
  const Snapshot& s = ref.snapshot;
  nlohmann::ordered_json j;
  j["id"] = ref.id.hex();
  j["short_id"] = ref.id.short_hex();
  j["time"] = format_rfc3339(s.time);
  j["host"] = s.host;
  j["username"] = s.username;
  j["paths"] = s.paths;
  j["tags"] = s.tags;
  j["tree"] = s.tree.hex();
  if (s.parent) j["parent"] = s.parent->hex();
  if (!s.policy.empty()) j["policy"] = s.policy;
  if (s.original) j["original"] = s.original->hex();
  j["incomplete"] = s.incomplete;
  if (!s.errors.empty()) {
    auto errs = nlohmann::ordered_json::array();
    for (const auto& e : s.errors) errs.push_back({{"path", e.path}, {"error", e.error}});
    j["errors"] = errs;
  }
  j["summary"] = s.summary.to_json();
  if (!s.anomaly.is_null()) j["anomaly"] = s.anomaly;
  return j;
}

}  // namespace kho::repo

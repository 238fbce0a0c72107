// Archive import: how entry paths are checked (engine/archive_import.hpp).
#include <catch2/catch.hpp>

#include "kho/engine/archive_import.hpp"

using kho::engine::sanitise_entry_path;

namespace {
struct Case {
  std::string path;
  bool accepted;
  std::vector<std::string> components;
  std::size_t notes;
};
}  // namespace

TEST_CASE("archive entry paths are refused or sanitised as the table says", "[archive]") {
  const std::string fffd = "\xEF\xBF\xBD";
  const std::vector<Case> cases = {
      {"a/b/c.txt", true, {"a", "b", "c.txt"}, 0},
      {"./a//b/./c", true, {"a", "b", "c"}, 0},
      {"dir/", true, {"dir"}, 0},
      {".", true, {}, 0},
      {"./", true, {}, 0},
      {"/etc/passwd", true, {"etc", "passwd"}, 1},
      {"//abs//x", true, {"abs", "x"}, 1},
      {"../x", false, {}, 0},
      {"a/../../x", false, {}, 0},
      {"a/..", false, {}, 0},
      {"/../x", false, {}, 1},
      {"..foo/bar..", true, {"..foo", "bar.."}, 0},
      {"", false, {}, 0},
      {"bad\xff.txt", true, {"bad" + fffd + ".txt"}, 1},
      {"\xc3\x28/\xe2\x82", true, {fffd + "(", fffd + fffd}, 1},
      {"T\xe1\xba\xbft.txt", true, {"T\xe1\xba\xbft.txt"}, 0},
      {"\xed\xa0\x80", true, {fffd + fffd + fffd}, 1},  // a UTF-16 surrogate is not UTF-8
      {std::string(255, 'n'), true, {std::string(255, 'n')}, 0},
      {std::string(256, 'n'), false, {}, 0},
      {std::string(254, 'n') + "\xff", false, {}, 1},  // 257 bytes once made valid
  };
  for (const auto& c : cases) {
    INFO("path: " << c.path);
    std::vector<std::string> comps;
    std::string reason;
    std::vector<std::string> notes;
    bool ok = sanitise_entry_path(c.path, comps, reason, notes);
    CHECK(ok == c.accepted);
    if (ok) {
      CHECK(comps == c.components);
    } else {
      CHECK(!reason.empty());
      CHECK(comps.empty());
    }
    CHECK(notes.size() == c.notes);
  }
}

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_suite.hpp"
#include "kho/backend/local/local_backend.hpp"
#include "scoped_temp_dir.hpp"
#include "file_helpers.hpp"

using namespace kho;
using namespace kho::backend;
namespace fs = std::filesystem;
using kho::test::ScopedTempDir;

using kho::test::mode_of;
using kho::test::write_file;

namespace {

ino_t inode_of(const fs::path& p) {
  struct stat st;
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_ino;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

const std::string k_name = std::string(62, 'c') + "ab";  // a data name under data/cc/

// Changes the working directory for one scope (tests run on one thread).
class ChangeDir {
public:
  explicit ChangeDir(const fs::path& dir) : m_old(fs::current_path()) { fs::current_path(dir); }
  ~ChangeDir() { fs::current_path(m_old); }

private:
  fs::path m_old;
};

}  // namespace

TEST_CASE("LocalBackend passes the shared backend conformance suite", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  int counter = 0;
  kho::test::run_backend_conformance_suite(
      [&] { return std::make_unique<LocalBackend>(tmp / ("repo-" + std::to_string(counter++))); });
}

TEST_CASE("LocalBackend create makes the whole layout with private permissions", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  const fs::path root = tmp / "nested" / "repo";  // parents are created too
  LocalBackend b(root);
  REQUIRE(b.create());
  CHECK(mode_of(root) == 0700);
  for (const char* dir : {"keys", "data", "index", "snapshots", "locks"}) {
    INFO(dir);
    CHECK(mode_of(root / dir) == 0700);
  }
  auto prefixes = names_in(root / "data");
  REQUIRE(prefixes.size() == 256);
  CHECK(prefixes.front() == "00");
  CHECK(prefixes.back() == "ff");
  CHECK(mode_of(root / "data" / "7e") == 0700);

  REQUIRE(b.save({ObjectType::data, k_name}, as_bytes("hello")));
  REQUIRE(b.save({ObjectType::config, ""}, as_bytes("config")));
  REQUIRE(b.save({ObjectType::key, "k1"}, as_bytes("key")));
  CHECK(b.path_of({ObjectType::data, k_name}) == root / "data" / "cc" / k_name);
  CHECK(mode_of(root / "data" / "cc" / k_name) == 0600);
  CHECK(mode_of(root / "config") == 0600);
  CHECK(mode_of(root / "keys" / "k1") == 0600);
  CHECK(names_in(root / "data" / "cc") == std::vector<std::string>{k_name});  // no temp file left
  CHECK(b.properties().location == root.string());
  CHECK_FALSE(b.properties().append_only);
}

TEST_CASE("LocalBackend create refuses to initialise over existing data", "[backend][local]") {
  ScopedTempDir tmp("kho-local");

  SECTION("a directory with other files") {
    fs::create_directory(tmp / "photos");
    write_file(tmp / "photos" / "cat.jpg", "meow");
    auto r = LocalBackend(tmp / "photos").create();
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::already_exists);
    CHECK_THAT(r.error().message(), Catch::Contains("photos") && Catch::Contains("not empty"));
    CHECK(names_in(tmp / "photos") == std::vector<std::string>{"cat.jpg"});
  }
  SECTION("a layout with an object in it but no config") {
    LocalBackend b(tmp / "repo");
    REQUIRE(b.create());
    REQUIRE(b.save({ObjectType::key, "k"}, as_bytes("x")));
    auto r = b.create();
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::already_exists);
  }
  SECTION("a plain file") {
    write_file(tmp / "file", "x");
    auto r = LocalBackend(tmp / "file").create();
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Errc::already_exists);
  }
  SECTION("an empty directory or an interrupted create is fine") {
    fs::create_directory(tmp / "empty");
    CHECK(LocalBackend(tmp / "empty").create());
    LocalBackend half(tmp / "half");
    REQUIRE(half.create());
    fs::remove(tmp / "half" / "locks");
    fs::remove(tmp / "half" / "data" / "ff");
    CHECK(half.create());
    CHECK(fs::is_directory(tmp / "half" / "data" / "ff"));
  }
}

namespace {

// A repository at tmp/repo holding data k_name ("abc") and index i1 ("abcd").
LocalBackend repo_with_two_objects(const ScopedTempDir& tmp) {
  LocalBackend b(tmp / "repo");
  REQUIRE(b.create());
  REQUIRE(b.save({ObjectType::data, k_name}, as_bytes("abc")));
  REQUIRE(b.save({ObjectType::index, "i1"}, as_bytes("abcd")));
  return b;
}

}  // namespace

TEST_CASE("LocalBackend ignores temporary files and foreign entries when listing", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  LocalBackend b = repo_with_two_objects(tmp);
  write_file(tmp / "repo" / "data" / "cc" / (k_name + ".tmp-0123456789abcdef"), "partial");
  write_file(tmp / "repo" / "index" / "i2.tmp-00", "partial");
  write_file(tmp / "repo" / "index" / ".DS_Store", "junk");
  fs::create_directory(tmp / "repo" / "index" / "subdir");

  auto data = b.list(ObjectType::data);
  REQUIRE(data);
  REQUIRE(data->size() == 1);
  CHECK((*data)[0].name == k_name);
  CHECK((*data)[0].size == 3);
  auto index = b.list(ObjectType::index);
  REQUIRE(index);
  REQUIRE(index->size() == 1);
  CHECK((*index)[0].name == "i1");

  auto config = b.list(ObjectType::config);
  REQUIRE(config);
  CHECK(config->empty());
  REQUIRE(b.save({ObjectType::config, ""}, as_bytes("cfg")));
  config = b.list(ObjectType::config);
  REQUIRE(config);
  REQUIRE(config->size() == 1);
  CHECK((*config)[0].size == 3);
}

TEST_CASE("LocalBackend removes the temporary files of interrupted saves and nothing else", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  LocalBackend b = repo_with_two_objects(tmp);
  // A process killed while it wrote a pack in pieces leaves data/data.tmp-...
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto writer = b.begin_save(ObjectType::data, 0);
    bool ok = writer && (*writer)->append(as_bytes("half a pack"));
    ::_exit(ok ? 0 : 1);  // no destructors: as if killed
  }
  int wstatus = 0;
  REQUIRE(::waitpid(child, &wstatus, 0) == child);
  REQUIRE((WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0));
  std::vector<fs::path> pack_temps;
  for (const auto& e : fs::directory_iterator(tmp / "repo" / "data"))
    if (e.is_regular_file()) pack_temps.push_back(e.path());
  REQUIRE(pack_temps.size() == 1);
  CHECK(pack_temps[0].filename().string().rfind("data.tmp-", 0) == 0);
  CHECK(b.list(ObjectType::data).value().size() == 1);
  const fs::path data_temp = tmp / "repo" / "data" / "cc" / (k_name + ".tmp-0123456789abcdef");
  const fs::path index_temp = tmp / "repo" / "index" / "i2.tmp-0123456789abcdef";
  write_file(data_temp, "partial");
  write_file(index_temp, "partial");
  write_file(tmp / "repo" / "index" / ".DS_Store", "junk");
  write_file(tmp / "repo" / "index" / ".hidden.tmp-0123456789abcdef", "not ours");

  auto removed = b.remove_temporaries(ObjectType::data);
  REQUIRE(removed);
  CHECK(*removed == 2);
  CHECK_FALSE(fs::exists(data_temp));
  CHECK_FALSE(fs::exists(pack_temps[0]));
  CHECK(fs::exists(index_temp));  // only the type asked for
  removed = b.remove_temporaries(ObjectType::index);
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK_FALSE(fs::exists(index_temp));
  CHECK(fs::exists(tmp / "repo" / "index" / ".DS_Store"));
  CHECK(fs::exists(tmp / "repo" / "index" / ".hidden.tmp-0123456789abcdef"));
  CHECK(b.load({ObjectType::data, k_name}, 0, 0).value() == Bytes{'a', 'b', 'c'});
  CHECK(b.list(ObjectType::index).value().size() == 1);
  removed = b.remove_temporaries(ObjectType::snapshot);
  REQUIRE(removed);
  CHECK(*removed == 0);
}

TEST_CASE("LocalBackend reports a short object as corruption naming it", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  LocalBackend b(tmp / "repo");
  REQUIRE(b.create());
  const Handle h{ObjectType::data, k_name};
  REQUIRE(b.save(h, Bytes(1000, 7)));
  REQUIRE(::truncate(b.path_of(h).c_str(), 500) == 0);

  auto whole = b.load(h, 0, 1000);
  REQUIRE_FALSE(whole);
  CHECK(whole.error().code() == Errc::corruption);
  CHECK_THAT(whole.error().message(), Catch::Contains("data/cc/" + k_name) && Catch::Contains("500 bytes"));
  auto tail = b.load(h, 400, 0);  // length 0 = to the end, which is now shorter
  REQUIRE(tail);
  CHECK(tail->size() == 100);
}

TEST_CASE("LocalBackend on a missing directory reports not_found naming it", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  const fs::path root = tmp / "nowhere";
  LocalBackend b(root);
  const Handle h{ObjectType::index, "i1"};
  auto loaded = b.load(h, 0, 0);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().code() == Errc::not_found);
  CHECK_THAT(loaded.error().message(), Catch::Contains(root.string()) && Catch::Contains("no repository"));
  auto info = b.stat(h);
  REQUIRE_FALSE(info);
  CHECK(info.error().code() == Errc::not_found);
  auto listed = b.list(ObjectType::index);
  REQUIRE_FALSE(listed);
  CHECK(listed.error().code() == Errc::not_found);
  auto saved = b.save(h, as_bytes("x"));
  REQUIRE_FALSE(saved);
  CHECK(saved.error().code() == Errc::not_found);
  CHECK_FALSE(fs::exists(root));  // save does not create a repository
}

TEST_CASE("LocalBackend refuses names that could escape or hide", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  LocalBackend b(tmp / "repo");
  REQUIRE(b.create());
  const std::vector<Handle> bad = {
      {ObjectType::key, ""},           {ObjectType::key, "../config"},   {ObjectType::index, "a/b"},
      {ObjectType::lock, ".hidden"},   {ObjectType::snapshot, "x.tmp-1"}, {ObjectType::data, "zz00"},
      {ObjectType::data, "A100"},      {ObjectType::data, "a"},          {ObjectType::key, std::string(201, 'a')},
      {ObjectType::key, std::string("a\0b", 3)},
  };
  for (const auto& h : bad) {
    INFO(describe(h));
    auto saved = b.save(h, as_bytes("x"));
    REQUIRE_FALSE(saved);
    CHECK(saved.error().code() == Errc::invalid_argument);
    auto loaded = b.load(h, 0, 0);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().code() == Errc::invalid_argument);
  }
  CHECK(names_in(tmp / "repo" / "keys").empty());
}

TEST_CASE("LocalBackend re-save keeps identical objects and replaces damaged ones", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  LocalBackend b(tmp / "repo");
  REQUIRE(b.create());
  const Handle h{ObjectType::data, k_name};
  const Bytes bytes(4096, 0x42);
  REQUIRE(b.save(h, bytes));
  const fs::path path = b.path_of(h);
  const ino_t first = inode_of(path);
  REQUIRE(b.save(h, bytes));
  CHECK(inode_of(path) == first);  // not rewritten

  {  // bit rot: same size, other bytes; saving the right bytes repairs it
    int fd = ::open(path.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, "X", 1, 100) == 1);
    ::close(fd);
  }
  CHECK(b.load(h, 96, 8).value()[4] == 'X');  // a ranged read keeps the damaged copy open
  REQUIRE(b.save(h, bytes));
  CHECK(inode_of(path) != first);
  CHECK(b.load(h, 0, 0).value() == bytes);
  CHECK(b.load(h, 96, 8).value() == Bytes(8, 0x42));  // the replacement, not the copy kept open
  CHECK(mode_of(path) == 0600);
}

TEST_CASE("LocalBackend ranged reads see an object removed or committed again under its name", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  LocalBackend b(tmp / "repo");
  REQUIRE(b.create());
  const Handle h{ObjectType::data, k_name};
  REQUIRE(b.save(h, Bytes(100, 1)));
  CHECK(b.load(h, 10, 10).value() == Bytes(10, 1));
  REQUIRE(b.remove(h));
  auto gone = b.load(h, 10, 10);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code() == Errc::not_found);

  REQUIRE(b.save(h, Bytes(100, 2)));
  CHECK(b.load(h, 10, 10).value() == Bytes(10, 2));
  auto writer = b.begin_save(ObjectType::data, 100);
  REQUIRE(writer);
  REQUIRE((*writer)->append(Bytes(100, 3)));
  REQUIRE((*writer)->commit(h));
  CHECK(b.load(h, 10, 10).value() == Bytes(10, 3));

  // Many objects read by range: the least recently used are closed, all stay readable.
  std::vector<Handle> many;
  for (int i = 0; i < 40; ++i) {
    many.push_back({ObjectType::data, fmt::format("{:02x}{:062x}", i, i)});
    REQUIRE(b.save(many.back(), Bytes(64, static_cast<std::uint8_t>(i))));
  }
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 40; ++i) CHECK(b.load(many[i], 8, 8).value() == Bytes(8, static_cast<std::uint8_t>(i)));
}

TEST_CASE("LocalBackend save re-creates a missing layout directory", "[backend][local]") {
  ScopedTempDir tmp("kho-local");
  LocalBackend b(tmp / "repo");
  REQUIRE(b.create());
  fs::remove(tmp / "repo" / "data" / "cc");
  fs::remove(tmp / "repo" / "snapshots");
  REQUIRE(b.save({ObjectType::data, k_name}, as_bytes("d")));
  REQUIRE(b.save({ObjectType::snapshot, "s1"}, as_bytes("s")));
  CHECK(mode_of(tmp / "repo" / "data" / "cc") == 0700);
  CHECK(b.load({ObjectType::snapshot, "s1"}, 0, 0).value() == Bytes{'s'});
  // The same for an object written in pieces (a pack): its data/xx is made at commit.
  fs::remove_all(tmp / "repo" / "data" / "cc");
  auto writer = b.begin_save(ObjectType::data, 0);
  REQUIRE(writer);
  REQUIRE((*writer)->append(as_bytes("p")));
  auto committed = (*writer)->commit({ObjectType::data, k_name});
  INFO((committed ? std::string() : committed.error().message()));
  REQUIRE(committed);
  CHECK(mode_of(tmp / "repo" / "data" / "cc") == 0700);
  CHECK(b.load({ObjectType::data, k_name}, 0, 0).value() == Bytes{'p'});
}

TEST_CASE("Object handles describe themselves in the repository layout", "[backend]") {
  CHECK(std::string(type_dir(ObjectType::config)) == "config");
  CHECK(std::string(type_dir(ObjectType::key)) == "keys");
  CHECK(std::string(type_dir(ObjectType::data)) == "data");
  CHECK(std::string(type_dir(ObjectType::index)) == "index");
  CHECK(std::string(type_dir(ObjectType::snapshot)) == "snapshots");
  CHECK(std::string(type_dir(ObjectType::lock)) == "locks");
  CHECK(describe({ObjectType::config, ""}) == "config");
  CHECK(describe({ObjectType::data, "abcdef"}) == "data/ab/abcdef");
  CHECK(describe({ObjectType::lock, "abcdef"}) == "locks/abcdef");
}

TEST_CASE("open_location opens local paths and remote schemes and refuses unknown ones", "[backend]") {
  ScopedTempDir tmp("kho-loc");
  struct Case {
    std::string location;
    std::string expected_path;  // empty: an error is expected
    Errc error = Errc::failed;
  };
  const std::string abs = (tmp / "repo").string();
  const std::vector<Case> cases = {
      {abs, abs},
      {"local:" + abs, abs},
      {"local:rel/repo", "rel/repo"},
      {"local:host:odd", "host:odd"},
      {"rel/repo", "rel/repo"},
      {"./x:y", "./x:y"},
      {"Repo:x", "Repo:x"},  // not a scheme: upper case
      {"", "", Errc::invalid_argument},
      {"local:", "", Errc::invalid_argument},
      // Remote locations open without contacting the server; passwords never show.
      {"rest:https://user:hunter2@host:8000/", "rest:https://user:***@host:8000/"},
      {"sftp://user:hunter2@host/srv/repo", "", Errc::invalid_argument},  // SFTP takes keys, not passwords
      {"s3:bucket/x", "", Errc::unsupported},
  };
  for (const auto& c : cases) {
    INFO(c.location);
    auto opened = open_location(c.location);
    if (c.expected_path.empty()) {
      REQUIRE_FALSE(opened);
      CHECK(opened.error().code() == c.error);
      CHECK_THAT(opened.error().message(), !Catch::Contains("hunter2"));
    } else {
      REQUIRE(opened);
      CHECK((*opened)->properties().location == c.expected_path);
    }
  }
  auto s3 = open_location("s3:bucket/x");
  REQUIRE_FALSE(s3);
  CHECK_THAT(s3.error().message(), Catch::Contains("'s3:'"));

  // A relative path with a colon that exists locally is a path, not a scheme.
  ChangeDir in(tmp.path());
  fs::create_directories("backup:2024/repo");
  auto existing = open_location("backup:2024/repo");
  REQUIRE(existing);
  CHECK((*existing)->properties().location == "backup:2024/repo");
  auto new_inside = open_location("backup:2024/new-repo");  // first component exists
  REQUIRE(new_inside);
}

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <unistd.h>

#include "backend_suite.hpp"
#include "kho/backend/rest/rest_backend.hpp"
#include "kho/backend/rest/rest_location.hpp"
#include "scoped_temp_dir.hpp"
#include "file_helpers.hpp"

using namespace kho;
using namespace kho::backend;
using kho::test::ScopedTempDir;

using kho::test::read_file;

namespace {

// One `rclone serve restic` on 127.0.0.1 (tests/servers/rclone.sh), stopped
// when the test program exits. A server that cannot start fails the test.
class RcloneServer {
public:
  explicit RcloneServer(const std::string& args) : m_dir("kho-rest-server") {
    m_script = std::string(KHO_SOURCE_DIR) + "/tests/servers/rclone.sh";
    std::string command = "bash '" + m_script + "' start '" + m_dir.str() + "' " + args + " >'" + m_dir.str() +
                          "/start.out' 2>&1";
    int rc = std::system(command.c_str());
    std::string output = read_file(m_dir / "start.out");
    INFO(output);
    REQUIRE(rc == 0);
    m_port = std::stoi(read_file(m_dir / "port"));
  }
  ~RcloneServer() {
    std::string command = "bash '" + m_script + "' stop '" + m_dir.str() + "' >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) std::fprintf(stderr, "could not stop rclone in %s\n", m_dir.str().c_str());
  }
  RcloneServer(const RcloneServer&) = delete;
  RcloneServer& operator=(const RcloneServer&) = delete;

  // A location for a repository path no test used before.
  std::string fresh_location(const std::string& credentials = "") {
    static std::atomic<int> counter{0};
    return fmt::format("rest:http://{}127.0.0.1:{}/t{}-{}/", credentials, m_port, ::getpid(), ++counter);
  }
  const std::filesystem::path& dir() const { return m_dir.path(); }

private:
  ScopedTempDir m_dir;
  std::string m_script;
  int m_port = 0;
};

// Servers live until the program exits (each test case runs in its own process under CTest).
RcloneServer& server(const std::string& args = "") {
  static std::map<std::string, std::unique_ptr<RcloneServer>> servers;
  auto& s = servers[args];
  if (!s) s = std::make_unique<RcloneServer>(args);
  return *s;
}

std::unique_ptr<Backend> open_rest_or_fail(const std::string& location, const BackendOptions& options = {}) {
  auto b = open_rest(location, options);
  INFO((b ? std::string() : b.error().message()));
  REQUIRE(b);
  return std::move(*b);
}

const std::string k_data_name = std::string(62, 'c') + "ab";

}  // namespace

TEST_CASE("the rest backend passes the shared backend conformance suite against rclone serve restic", "[backend][rest]") {
  RcloneServer& s = server();
  kho::test::run_backend_conformance_suite([&] { return open_rest_or_fail(s.fresh_location()); });
}

TEST_CASE("the rest backend passes the conformance suite over a single connection", "[backend][rest]") {
  RcloneServer& s = server();
  kho::test::run_backend_conformance_suite(
      [&] { return open_rest_or_fail(s.fresh_location(), {{"rest.connections", "1"}}); });
}

TEST_CASE("rest locations are parsed into URL, credentials and path", "[backend][rest]") {
  struct Case {
    std::string location, base_url, host_port, user, password;
    bool https;
  };
  const Case cases[] = {
      {"rest:http://127.0.0.1:8000/", "http://127.0.0.1:8000/", "127.0.0.1:8000", "", "", false},
      {"rest:http://127.0.0.1:8000", "http://127.0.0.1:8000/", "127.0.0.1:8000", "", "", false},
      {"rest:http://backup.example:8000/host1", "http://backup.example:8000/host1/", "backup.example:8000", "", "",
       false},
      {"rest:https://alice:s3cret@h:8443/repo/", "https://h:8443/repo/", "h:8443", "alice", "s3cret", true},
      {"rest:https://h/", "https://h:443/", "h:443", "", "", true},
      {"rest:http://h/a/b", "http://h:80/a/b/", "h:80", "", "", false},
      {"rest:http://u%3Ax:p%40ss%3Aw%2Frd%25@h:1/", "http://h:1/", "h:1", "u:x", "p@ss:w/rd%", false},
      {"rest:http://u:pa:ss@h:1/", "http://h:1/", "h:1", "u", "pa:ss", false},
      {"rest:http://u:p@ss@h:1/", "http://h:1/", "h:1", "u", "p@ss", false},
      {"rest:http://u@h:1/", "http://h:1/", "h:1", "u", "", false},
      {"rest:http://[::1]:8000/r", "http://[::1]:8000/r/", "[::1]:8000", "", "", false},
      {"rest:http://h:1/my repo/Tết", "http://h:1/my%20repo/T%E1%BA%BFt/", "h:1", "", "", false},
      {"rest:http://h:1/a%20b/", "http://h:1/a%20b/", "h:1", "", "", false},
  };
  for (const auto& c : cases) {
    INFO(c.location);
    auto loc = parse_rest_location(c.location);
    REQUIRE(loc);
    CHECK(loc->base_url == c.base_url);
    CHECK(loc->host_port == c.host_port);
    CHECK(loc->user == c.user);
    CHECK(loc->password.value() == c.password);
    CHECK(loc->https == c.https);
    if (!c.password.empty()) CHECK(loc->redacted.find(c.password) == std::string::npos);
  }
}

TEST_CASE("malformed rest locations are refused without showing the password", "[backend][rest]") {
  const char* bad[] = {
      "rest:ftp://h:1/",          "rest:h:1/",          "rest:http://:80/",           "rest:http://h:0/",
      "rest:http://h:99999/",     "rest:http://h:x/",   "rest:http://h:/",            "rest:http://h/a?b",
      "rest:http://h/a#b",        "rest:http://h/../x", "rest:http://h/a/./b",        "rest:http://[::1/",
      "rest:http://u:pw%zzsecret@h:1/", "rest:http://:pwsecret@h:1/", "rest:http://u:pwsecret@/x",
      "rest:http://u:pwsecret@h:1/a?b",
  };
  for (const char* location : bad) {
    INFO(location);
    auto loc = parse_rest_location(location);
    REQUIRE_FALSE(loc);
    CHECK(loc.error().code() == Errc::invalid_argument);
    CHECK(loc.error().message().find("secret") == std::string::npos);
    auto opened = open_location(location);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().message().find("secret") == std::string::npos);
  }
}

TEST_CASE("rest options are checked and unknown rest.* keys are refused", "[backend][rest]") {
  ScopedTempDir tmp("kho-rest-opt");
  const std::string ca = (tmp / "ca.pem").string();
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n";

  auto ok = parse_rest_options({{"rest.connections", "8"}, {"rest.timeout", "90"}, {"rest.cacert", ca},
                                {"sftp.identity", "/nonexistent"}});
  REQUIRE(ok);
  CHECK(ok->connections == 8);
  CHECK(ok->timeout == std::chrono::seconds(90));
  CHECK(ok->cacert == ca);
  CHECK(parse_rest_options({{"rest.timeout", "2m"}}).value().timeout == std::chrono::seconds(120));
  auto defaults = parse_rest_options({});
  REQUIRE(defaults);
  CHECK(defaults->connections == 5);
  CHECK(defaults->cacert.empty());

  const std::map<std::string, std::string> bad[] = {
      {{"rest.connection", "2"}}, {{"rest.connections", "0"}}, {{"rest.connections", "65"}},
      {{"rest.connections", "2x"}}, {{"rest.connections", ""}}, {{"rest.timeout", "0"}},
      {{"rest.timeout", "soon"}}, {{"rest.cacert", (tmp / "missing.pem").string()}}, {{"rest.", "x"}},
  };
  for (const auto& options : bad) {
    INFO(options.begin()->first << "=" << options.begin()->second);
    auto parsed = parse_rest_options(options);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code() == Errc::invalid_argument);
    CHECK_THAT(parsed.error().message(), Catch::Contains(options.begin()->first));
    auto opened = open_location("rest:http://127.0.0.1:1/", options);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code() == Errc::invalid_argument);
  }
}

TEST_CASE("a rest backend's location is redacted", "[backend][rest]") {
  auto b = open_rest_or_fail("rest:http://alice:pw%2Fsecret@127.0.0.1:1/repo/");
  CHECK(b->properties().location == "rest:http://alice:***@127.0.0.1:1/repo/");
  CHECK_FALSE(b->properties().append_only);
  CHECK(redact_location("rest:https://u:p@h:1/") == "rest:https://u:***@h:1/");
}

TEST_CASE("an unreachable rest server is a transient error that names no password", "[backend][rest]") {
  // A port nobody listens on: bind one, note it, close it.
  ScopedTempDir tmp("kho-rest-refused");
  std::string command = "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
                        "print(s.getsockname()[1])' >'" + (tmp / "port").string() + "'";
  REQUIRE(std::system(command.c_str()) == 0);
  int port = std::stoi(read_file(tmp / "port"));
  auto b = open_rest_or_fail(fmt::format("rest:http://u:pwsecret@127.0.0.1:{}/r/", port), {{"rest.timeout", "5"}});
  auto loaded = b->load({ObjectType::snapshot, k_data_name}, 0, 0);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().transient());
  CHECK(loaded.error().message().find("pwsecret") == std::string::npos);
  CHECK_THAT(loaded.error().message(), Catch::Contains(fmt::format("127.0.0.1:{}", port)));
  auto listed = b->list(ObjectType::data);
  REQUIRE_FALSE(listed);
  CHECK(listed.error().transient());
}

TEST_CASE("rest create refuses a location that already holds a repository", "[backend][rest]") {
  RcloneServer& s = server();
  const std::string location = s.fresh_location();
  auto first = open_rest_or_fail(location);
  REQUIRE(first->create());
  REQUIRE(first->save({ObjectType::config, ""}, Bytes{1, 2, 3}));
  auto second = open_rest_or_fail(location);
  auto again = second->create();
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Errc::already_exists);
  CHECK(second->load({ObjectType::config, ""}, 0, 0).value() == Bytes{1, 2, 3});
  // A config overwritten with other bytes (no append-only server) is replaced whole.
  REQUIRE(first->save({ObjectType::config, ""}, Bytes{4, 5, 6}));
  CHECK(second->load({ObjectType::config, ""}, 0, 0).value() == Bytes{4, 5, 6});
}

TEST_CASE("rest names that are not plain file names are refused", "[backend][rest]") {
  auto b = open_rest_or_fail("rest:http://127.0.0.1:1/r/");
  for (const char* name : {"", ".hidden", "a/b", "a b", "x%2F", "a?b"}) {
    INFO(name);
    auto saved = b->save({ObjectType::key, name}, Bytes{1});
    REQUIRE_FALSE(saved);
    CHECK(saved.error().code() == Errc::invalid_argument);
  }
  auto data = b->save({ObjectType::data, "zz" + k_data_name}, Bytes{1});
  REQUIRE_FALSE(data);
  CHECK(data.error().code() == Errc::invalid_argument);
}

TEST_CASE("rest basic authentication: right credentials work, wrong ones are refused clearly", "[backend][rest]") {
  RcloneServer& s = server("--user kho --pass 'c0rrect p@ss'");
  auto good = open_rest_or_fail(s.fresh_location("kho:c0rrect%20p%40ss@"));
  REQUIRE(good->create());
  REQUIRE(good->save({ObjectType::key, k_data_name}, Bytes{9, 9}));
  CHECK(good->load({ObjectType::key, k_data_name}, 0, 0).value() == Bytes{9, 9});

  auto wrong = open_rest_or_fail(s.fresh_location("kho:wrongsecret@"));
  auto created = wrong->create();
  REQUIRE_FALSE(created);
  CHECK(created.error().code() == Errc::permission);
  CHECK_FALSE(created.error().transient());
  CHECK_THAT(created.error().message(), Catch::Contains("refused the credentials (HTTP 401)"));
  CHECK(created.error().message().find("wrongsecret") == std::string::npos);

  auto anonymous = open_rest_or_fail(s.fresh_location());
  auto listed = anonymous->list(ObjectType::snapshot);
  REQUIRE_FALSE(listed);
  CHECK(listed.error().code() == Errc::permission);
  CHECK_THAT(listed.error().message(), Catch::Contains("HTTP 401"));
}

TEST_CASE("rest append-only servers: saves are idempotent, deletes refused except for locks", "[backend][rest]") {
  RcloneServer& s = server("--append-only");
  auto b = open_rest_or_fail(s.fresh_location());
  REQUIRE(b->create());
  const Bytes config{1, 2, 3, 4};
  REQUIRE(b->save({ObjectType::config, ""}, config));
  REQUIRE(b->save({ObjectType::config, ""}, config));  // the server answers 403: same bytes, so done
  CHECK(b->properties().append_only);
  auto other = b->save({ObjectType::config, ""}, Bytes{4, 3, 2, 1});
  REQUIRE_FALSE(other);
  CHECK(other.error().code() == Errc::permission);
  CHECK(b->load({ObjectType::config, ""}, 0, 0).value() == config);

  const Handle snap{ObjectType::snapshot, k_data_name};
  REQUIRE(b->save(snap, Bytes{7, 7, 7}));
  REQUIRE(b->save(snap, Bytes{7, 7, 7}));
  auto removed = b->remove(snap);
  REQUIRE_FALSE(removed);
  CHECK(removed.error().code() == Errc::permission);
  CHECK_FALSE(removed.error().transient());
  CHECK_THAT(removed.error().message(), Catch::Contains("refused to delete snapshots/" + k_data_name));
  CHECK_THAT(removed.error().message(), Catch::Contains("append-only"));
  CHECK(b->load(snap, 0, 0).value() == Bytes{7, 7, 7});

  // Probing with a name that cannot exist tells an append-only server apart.
  auto probe = b->remove({ObjectType::data, std::string(64, '0')});
  REQUIRE_FALSE(probe);
  CHECK(probe.error().code() == Errc::permission);

  const Handle lock{ObjectType::lock, k_data_name};
  REQUIRE(b->save(lock, Bytes{1}));
  REQUIRE(b->remove(lock));
  CHECK(b->list(ObjectType::lock).value().empty());
}

// SftpBackend against a real OpenSSH server on 127.0.0.1 (tests/servers/sshd.sh),
// plus the parsing of sftp:// locations and sftp.* options.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <pwd.h>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include "backend_suite.hpp"
#include "kho/backend/sftp/sftp_backend.hpp"
#include "kho/backend/sftp/sftp_location.hpp"
#include "scoped_temp_dir.hpp"
#include "file_helpers.hpp"

using namespace kho;
using namespace kho::backend;
using kho::backend::sftp::parse_sftp_location;
using kho::backend::sftp::parse_sftp_options;
namespace fs = std::filesystem;

using kho::test::read_file;
using kho::test::write_file;
using kho::test::mode_of;

namespace {

// An sshd of our own, started by tests/servers/sshd.sh; stopped when the object goes.
class TestServer {
public:
  explicit TestServer(const fs::path& dir) : m_dir(dir) {
    if (run("start") != 0) throw std::runtime_error("tests/servers/sshd.sh could not start sshd in " + dir.string());
    m_port = std::stoi(read_file(m_dir / "port"));
  }
  ~TestServer() { (void)run("stop"); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int run(const std::string& command) const {
    std::string cmd = "bash '" KHO_SOURCE_DIR "/tests/servers/sshd.sh' " + command + " '" + m_dir.string() + "'";
    return std::system(cmd.c_str());
  }
  const fs::path& dir() const { return m_dir; }
  int port() const { return m_port; }
  std::string url(const fs::path& path) const {
    return "sftp://127.0.0.1:" + std::to_string(m_port) + path.string();
  }
  BackendOptions options() const {
    return {{"sftp.identity", (m_dir / "id_ed25519").string()}, {"sftp.known_hosts", (m_dir / "known_hosts").string()}};
  }

private:
  fs::path m_dir;
  int m_port = 0;
};

// One server for every test of this process, stopped at exit.
struct SharedServer {
  kho::test::ScopedTempDir tmp{"kho-sftp"};
  TestServer server{tmp / "sshd"};
};

SharedServer& shared() {
  static SharedServer s;
  return s;
}

std::unique_ptr<Backend> open_sftp_or_fail(const std::string& url, const BackendOptions& options) {
  auto b = open_sftp(url, options);
  INFO((b ? std::string() : b.error().message()));
  REQUIRE(b);
  return std::move(*b);
}

}  // namespace

TEST_CASE("sftp backend passes the shared backend conformance suite", "[backend][sftp]") {
  auto& s = shared();
  static int counter = 0;
  kho::test::run_backend_conformance_suite([&] {
    return open_sftp_or_fail(s.server.url(s.tmp / ("repo-" + std::to_string(counter++))), s.server.options());
  });
}

TEST_CASE("sftp backend create makes the layout with private permissions and refuses existing files", "[backend][sftp]") {
  auto& s = shared();
  const fs::path root = s.tmp / "perm" / "nested" / "repo";
  auto b = open_sftp_or_fail(s.server.url(root), s.server.options());
  REQUIRE(b->create());
  CHECK(mode_of(root) == 0700);
  for (const char* dir : {"keys", "data", "index", "snapshots", "locks", "data/00", "data/7e", "data/ff"}) {
    INFO(dir);
    CHECK(mode_of(root / dir) == 0700);
  }
  const std::string name = std::string(62, 'c') + "ab";
  REQUIRE(b->save({ObjectType::data, name}, Bytes{1, 2, 3}));
  CHECK(mode_of(root / "data" / "cc" / name) == 0600);

  // A temporary file left by an interrupted save is not an object, and prune's
  // remove_temporaries takes it (and only it).
  const fs::path partial = root / "data" / "cc" / (name + ".tmp-0123");
  write_file(partial, "partial");
  write_file(root / "data" / "cc" / ".hidden.tmp-0123", "not ours");
  write_file(root / "index" / "i1.tmp-0123", "partial");
  auto listed = b->list(ObjectType::data);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].name == name);
  auto removed = b->remove_temporaries(ObjectType::data);
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK_FALSE(fs::exists(partial));
  CHECK(fs::exists(root / "data" / "cc" / ".hidden.tmp-0123"));
  CHECK(fs::exists(root / "index" / "i1.tmp-0123"));  // only the type asked for
  CHECK(b->load({ObjectType::data, name}, 0, 0).value() == Bytes{1, 2, 3});
  removed = b->remove_temporaries(ObjectType::index);
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK_FALSE(fs::exists(root / "index" / "i1.tmp-0123"));

  REQUIRE(b->save({ObjectType::config, ""}, Bytes{9}));
  auto again = b->create();
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Errc::already_exists);

  // A directory with someone's files is refused too.
  fs::create_directories(s.tmp / "occupied");
  write_file(s.tmp / "occupied" / "notes.txt", "mine");
  auto occupied = open_sftp_or_fail(s.server.url(s.tmp / "occupied"), s.server.options())->create();
  REQUIRE_FALSE(occupied);
  CHECK(occupied.error().code() == Errc::already_exists);
}

TEST_CASE("sftp backend reports a missing repository and names the server", "[backend][sftp]") {
  auto& s = shared();
  auto b = open_sftp_or_fail(s.server.url(s.tmp / "nothing-here"), s.server.options());
  auto listed = b->list(ObjectType::snapshot);
  REQUIRE_FALSE(listed);
  CHECK(listed.error().code() == Errc::not_found);
  CHECK_THAT(listed.error().message(), Catch::Contains("no repository") && Catch::Contains("127.0.0.1"));
  auto config = b->stat({ObjectType::config, ""});
  REQUIRE_FALSE(config);
  CHECK(config.error().code() == Errc::not_found);
  CHECK(b->properties().location == s.server.url(s.tmp / "nothing-here"));
}

TEST_CASE("sftp backend takes HostName Port User IdentityFile and UserKnownHostsFile from the ssh config",
          "[backend][sftp]") {
  auto& s = shared();
  // sshd.sh writes a config with Host kho-test-sshd.
  auto b = open_sftp_or_fail("sftp://kho-test-sshd" + (s.tmp / "via-config").string(),
                        {{"sftp.config", (s.server.dir() / "ssh_config").string()}});
  REQUIRE(b->create());
  REQUIRE(b->save({ObjectType::key, "k1"}, Bytes{1}));
  CHECK(fs::exists(s.tmp / "via-config" / "keys" / "k1"));
}

TEST_CASE("sftp backend refuses unknown and changed host keys and shows the fingerprint", "[backend][sftp]") {
  auto& s = shared();
  kho::test::ScopedTempDir tmp("kho-sftp-hostkey");
  const std::string known_hosts = (tmp / "known_hosts").string();
  BackendOptions options = {{"sftp.identity", (s.server.dir() / "id_ed25519").string()},
                            {"sftp.known_hosts", known_hosts}};
  const std::string url = s.server.url(s.tmp / "hostkey-repo");

  SECTION("an unknown key is refused, then accepted explicitly and remembered") {
    auto refused = open_sftp_or_fail(url, options)->create();
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == Errc::permission);
    CHECK_FALSE(refused.error().transient());
    CHECK_THAT(refused.error().message(), Catch::Contains("SHA256:") && Catch::Contains("not known") &&
                                              Catch::Contains("sftp.accept_new_host_key=yes"));
    CHECK_FALSE(fs::exists(known_hosts));

    BackendOptions accept = options;
    accept["sftp.accept_new_host_key"] = "yes";
    auto accepted = open_sftp_or_fail(url, accept)->list(ObjectType::key);
    REQUIRE_FALSE(accepted);  // the key is accepted; the repository does not exist yet
    CHECK(accepted.error().code() == Errc::not_found);
    CHECK_THAT(read_file(known_hosts), Catch::Contains("[127.0.0.1]:" + std::to_string(s.server.port())));
    // Now known: no option needed.
    auto known = open_sftp_or_fail(url, options)->create();
    INFO((known ? std::string() : known.error().message()));
    CHECK(known);
  }

  SECTION("a changed key is refused even with accept_new_host_key") {
    // The client key plays the part of another server's host key.
    const std::string other_key = read_file(s.server.dir() / "id_ed25519.pub");
    write_file(known_hosts, "[127.0.0.1]:" + std::to_string(s.server.port()) + " " +
                                other_key.substr(0, other_key.rfind(' ')) + "\n");
    for (const char* accept : {"no", "yes"}) {
      INFO("accept_new_host_key=" << accept);
      BackendOptions o = options;
      o["sftp.accept_new_host_key"] = accept;
      auto refused = open_sftp_or_fail(url, o)->create();
      REQUIRE_FALSE(refused);
      CHECK(refused.error().code() == Errc::permission);
      CHECK_THAT(refused.error().message(),
                 Catch::Contains("CHANGED") && Catch::Contains("SHA256:") && Catch::Contains("ssh-keygen -R"));
    }
    CHECK(read_file(known_hosts).find('\n') == read_file(known_hosts).size() - 1);  // still one line
  }
}

TEST_CASE("sftp backend fails clearly without an authorized key", "[backend][sftp]") {
  auto& s = shared();
  kho::test::ScopedTempDir tmp("kho-sftp-auth");
  REQUIRE(std::system(("ssh-keygen -q -t ed25519 -N '' -f '" + (tmp / "stranger").string() + "'").c_str()) == 0);
  auto b = open_sftp_or_fail(s.server.url(s.tmp / "auth-repo"),
                        {{"sftp.identity", (tmp / "stranger").string()},
                         {"sftp.known_hosts", (s.server.dir() / "known_hosts").string()}});
  auto st = b->create();
  REQUIRE_FALSE(st);
  CHECK_FALSE(st.error().transient());
  // The default keys of the user running the tests may be authorized elsewhere,
  // never on this server.
  CHECK(st.error().code() == Errc::permission);
  CHECK_THAT(st.error().message(), Catch::Contains("refused public-key authentication"));

  auto missing = open_sftp_or_fail(s.server.url(s.tmp / "auth-repo"), {{"sftp.identity", (tmp / "absent").string()}});
  auto st2 = missing->create();
  REQUIRE_FALSE(st2);
  CHECK(st2.error().code() == Errc::invalid_argument);
  CHECK_THAT(st2.error().message(), Catch::Contains("sftp.identity"));
}

TEST_CASE("sftp backend reconnects after a server restart and times out on a hung server", "[backend][sftp]") {
  kho::test::ScopedTempDir tmp("kho-sftp-restart");
  TestServer server(tmp / "sshd");
  BackendOptions options = server.options();
  options["sftp.timeout"] = "2";
  auto b = open_sftp_or_fail(server.url(tmp / "repo"), options);
  REQUIRE(b->create());
  const Handle h{ObjectType::snapshot, "s1"};
  REQUIRE(b->save(h, Bytes{1, 2, 3}));

  // Every connection dies with the server; the next call connects again.
  REQUIRE(server.run("restart") == 0);
  auto loaded = b->load(h, 0, 0);
  INFO((loaded ? std::string() : loaded.error().message()));
  REQUIRE(loaded);
  CHECK(*loaded == Bytes{1, 2, 3});

  // Down: a transient error that names the server.
  REQUIRE(server.run("stop") == 0);
  auto down = b->stat(h);
  REQUIRE_FALSE(down);
  CHECK(down.error().transient());
  CHECK_THAT(down.error().message(), Catch::Contains("127.0.0.1"));

  // Hung: an answer that never comes ends with a transient time-out.
  REQUIRE(server.run("restart") == 0);
  REQUIRE(b->stat(h));
  REQUIRE(server.run("suspend") == 0);
  auto started = std::chrono::steady_clock::now();
  auto hung = b->load(h, 0, 0);
  auto waited = std::chrono::steady_clock::now() - started;
  REQUIRE(server.run("resume") == 0);
  REQUIRE_FALSE(hung);
  CHECK(hung.error().transient());
  CHECK(waited < std::chrono::seconds(10));
  REQUIRE(b->load(h, 0, 0));
}

TEST_CASE("sftp locations are parsed into user and host and port and path", "[backend][sftp]") {
  struct Case {
    const char* location;
    const char* user;
    const char* host;
    int port;  // 0: none
    const char* path;
  };
  const Case cases[] = {
      {"sftp://nas/srv/kho", "", "nas", 0, "/srv/kho"},
      {"sftp://backup@nas.example.org:2222/srv/kho/", "backup", "nas.example.org", 2222, "/srv/kho"},
      {"sftp://u@10.0.0.5/data", "u", "10.0.0.5", 0, "/data"},
      {"sftp://u@[::1]:22/srv/kho", "u", "::1", 22, "/srv/kho"},
      {"sftp://[fe80::1]/r", "", "fe80::1", 0, "/r"},
      {"sftp://nas/~/kho", "", "nas", 0, "kho"},
      {"sftp://nas/~", "", "nas", 0, "."},
      {"sftp://nas//srv/kho", "", "nas", 0, "/srv/kho"},
      {"sftp://b%40ck@nas/my%20repo", "b@ck", "nas", 0, "/my repo"},
  };
  for (const auto& c : cases) {
    INFO(c.location);
    auto parsed = parse_sftp_location(c.location);
    REQUIRE(parsed);
    CHECK(parsed->user == c.user);
    CHECK(parsed->host == c.host);
    CHECK(parsed->port.value_or(0) == c.port);
    CHECK(parsed->path == c.path);
  }
  CHECK(parse_sftp_location("sftp://u@[::1]:22/srv/kho")->display() == "sftp://u@[::1]:22/srv/kho");
  CHECK(parse_sftp_location("sftp://nas/~/kho")->display() == "sftp://nas/~/kho");

  const char* bad[] = {"sftp://nas",         "sftp:///srv",     "sftp://nas:/x",    "sftp://nas:0/x",
                       "sftp://nas:99999/x", "sftp://nas:ab/x", "sftp://[::1/x",    "sftp://nas/",
                       "sftp://@nas/x",      "sftp://n as/x",   "sftp://nas/a%zz",  "sftp://nas/a%00b"};
  for (const char* location : bad) {
    INFO(location);
    auto parsed = parse_sftp_location(location);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code() == Errc::invalid_argument);
  }
  // A password is refused and never repeated.
  auto secret = parse_sftp_location("sftp://user:hunter2@nas/x");
  REQUIRE_FALSE(secret);
  CHECK(secret.error().message().find("hunter2") == std::string::npos);
}

TEST_CASE("sftp options are checked and unknown keys are named", "[backend][sftp]") {
  auto ok = parse_sftp_options({{"sftp.connections", "8"},
                                {"sftp.timeout", "5"},
                                {"sftp.accept_new_host_key", "yes"},
                                {"sftp.identity", "/k"},
                                {"sftp.known_hosts", "/kh"},
                                {"rest.cacert", "/ignored"}});
  REQUIRE(ok);
  CHECK(ok->connections == 8);
  CHECK(ok->timeout == std::chrono::seconds(5));
  CHECK(ok->accept_new_host_key);
  CHECK(ok->identity == "/k");
  CHECK(ok->known_hosts == "/kh");
  auto defaults = parse_sftp_options({});
  REQUIRE(defaults);
  CHECK(defaults->connections == 4);
  CHECK_FALSE(defaults->accept_new_host_key);

  const std::pair<const char*, const char*> bad[] = {
      {"sftp.connections", "0"},   {"sftp.connections", "many"}, {"sftp.connections", "65"},
      {"sftp.timeout", "-1"},      {"sftp.timeout", "1s"},       {"sftp.accept_new_host_key", "maybe"},
      {"sftp.identity", ""},       {"sftp.bogus", "1"}};
  for (const auto& [key, value] : bad) {
    INFO(key << "=" << value);
    auto parsed = parse_sftp_options({{key, value}});
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code() == Errc::invalid_argument);
    CHECK_THAT(parsed.error().message(), Catch::Contains(key));
  }
  // Through open_location, as the CLI does.
  auto opened = open_location("sftp://nas/srv/kho", {{"sftp.identiy", "/k"}});
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code() == Errc::invalid_argument);
  CHECK_THAT(opened.error().message(), Catch::Contains("sftp.identiy"));
}

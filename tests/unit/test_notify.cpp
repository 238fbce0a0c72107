#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "kho/orchestrate/notify.hpp"
#include "scoped_temp_dir.hpp"
#include "file_helpers.hpp"

using namespace kho;
using namespace kho::orchestrate;
using Clock = std::chrono::steady_clock;

using kho::test::read_file;

namespace {

// A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1 answering each
// request with the next status of a script (the last one repeats); status 0
// means "never answer" (the client times out). Records every request.
class TestHttpServer {
public:
  struct Request {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // names in lower case
  };

  explicit TestHttpServer(std::vector<int> statuses) : m_statuses(std::move(statuses)) {
    m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(m_listen >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(m_listen, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(m_listen, 8) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(m_listen, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    m_port = ntohs(addr.sin_port);
    m_thread = std::thread([this] { serve(); });
  }
  ~TestHttpServer() {
    m_stop = true;
    m_thread.join();
    ::close(m_listen);
  }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::string url(const std::string& userinfo = "") const {
    return "http://" + userinfo + "127.0.0.1:" + std::to_string(m_port) + "/hook";
  }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_requests;
  }

private:
  bool readable(int fd) const {
    pollfd p{fd, POLLIN, 0};
    while (!m_stop)
      if (::poll(&p, 1, 10) > 0) return true;
    return false;
  }

  void serve() {
    while (readable(m_listen)) {
      int conn = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      handle(conn);
      ::close(conn);
    }
  }

  void handle(int conn) {
    std::string data;
    char buf[4096];
    auto fill = [&] {
      if (!readable(conn)) return false;
      ssize_t n = ::read(conn, buf, sizeof buf);
      if (n <= 0) return false;
      data.append(buf, static_cast<std::size_t>(n));
      return true;
    };
    std::size_t head_end;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return;
    Request r;
    std::istringstream head(data.substr(0, head_end));
    std::string line;
    std::getline(head, line);
    std::istringstream(line) >> r.method >> r.target;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    std::size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (data.size() < head_end + 4 + length)
      if (!fill()) return;
    r.body = data.substr(head_end + 4, length);

    int status;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      status = m_statuses[std::min(m_requests.size(), m_statuses.size() - 1)];
      m_requests.push_back(r);
    }
    if (status == 0) {  // hang until the client gives up
      while (fill()) {
      }
      return;
    }
    std::string body = status == 200 ? "ok" : "no such hook\nmore";
    std::string answer = "HTTP/1.1 " + std::to_string(status) + " Scripted\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)!::write(conn, answer.data(), answer.size());
  }

  std::vector<int> m_statuses;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  mutable std::mutex m_mutex;
  std::vector<Request> m_requests;
  std::thread m_thread;
};

// A port on 127.0.0.1 where nothing listens.
int closed_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(s);
  return ntohs(addr.sin_port);
}

WebhookOptions fast_webhook(int attempts = 4) {
  WebhookOptions o;
  o.attempts = attempts;
  o.first_delay = std::chrono::milliseconds(1);
  o.timeout = std::chrono::milliseconds(2000);
  return o;
}

NotifyMessage sample_message(NotifyEvent event = NotifyEvent::failure) {
  NotifyMessage m;
  m.event = event;
  m.policy = "portal";
  m.host = "web1";
  m.time = 1'769'742'000'000'000'000;
  m.kind = "backup";
  m.stage = "upload";
  m.error = "connection reset";
  m.figures = {{"files", 12}, {"bytes_added", 3456}};
  m.summary = "kho: backup of portal failed: connection reset";
  return m;
}

Command shell(std::string script) { return Command{true, std::move(script), {}}; }

}  // namespace

TEST_CASE("a notify message becomes JSON with stable fields, nulls for absent values", "[notify]") {
  auto j = to_json(sample_message());
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"version", "event", "policy", "host", "time", "kind", "stage", "error",
                                         "snapshot_id", "figures", "summary", "text"});
  CHECK(j["event"] == "failure");
  CHECK(j["policy"] == "portal");
  CHECK(j["host"] == "web1");
  CHECK(parse_rfc3339(j["time"].get<std::string>()) == 1'769'742'000'000'000'000);
  CHECK(j["snapshot_id"].is_null());
  CHECK(j["figures"]["bytes_added"] == 3456);
  CHECK(j["text"] == j["summary"]);

  NotifyMessage bare;
  bare.event = NotifyEvent::late;
  bare.policy = "mail";
  auto b = to_json(bare);
  CHECK(b["error"].is_null());
  CHECK(b["figures"].is_null());
  CHECK(b["summary"] == "kho: run of policy mail: late");
}

TEST_CASE("a webhook receives the message as a JSON POST", "[notify]") {
  TestHttpServer server({200});
  auto body = to_json(sample_message());
  REQUIRE(send_webhook(server.url(), body, fast_webhook()));
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].target == "/hook");
  CHECK(reqs[0].headers["content-type"] == "application/json");
  CHECK(reqs[0].headers["user-agent"].rfind("kho", 0) == 0);
  auto got = nlohmann::ordered_json::parse(reqs[0].body);
  CHECK(got == body);
  CHECK(got["event"] == "failure");
  CHECK(got["summary"] == "kho: backup of portal failed: connection reset");
}

TEST_CASE("a webhook answering 500 twice then 200 succeeds on the third attempt", "[notify]") {
  TestHttpServer server({500, 500, 200});
  REQUIRE(send_webhook(server.url(), to_json(sample_message()), fast_webhook()));
  CHECK(server.requests().size() == 3);
}

TEST_CASE("a webhook answering 429 or 503 throughout fails after all attempts with the status", "[notify]") {
  int status = GENERATE(429, 503);
  TestHttpServer server({status});
  auto r = send_webhook(server.url(), to_json(sample_message()), fast_webhook(3));
  REQUIRE(!r);
  CHECK(server.requests().size() == 3);
  CHECK(r.error().transient());
  CHECK_THAT(r.error().message(), Catch::Contains("after 3 attempts") &&
                                      Catch::Contains("HTTP status " + std::to_string(status)) &&
                                      Catch::Contains("127.0.0.1"));
}

TEST_CASE("a webhook answering 404 fails at once, naming the URL and the status", "[notify]") {
  TestHttpServer server({404, 200});
  auto r = send_webhook(server.url(), to_json(sample_message()), fast_webhook());
  REQUIRE(!r);
  CHECK(server.requests().size() == 1);
  CHECK(r.error().code() == Errc::failed);
  CHECK_THAT(r.error().message(), Catch::Contains(server.url()) && Catch::Contains("HTTP status 404 (no such hook)") &&
                                      !Catch::Contains("more"));
}

TEST_CASE("a webhook on a closed port fails after every attempt with a clear message", "[notify]") {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/hook";
  auto r = send_webhook(url, to_json(sample_message()), fast_webhook(3));
  REQUIRE(!r);
  CHECK(r.error().code() == Errc::io);
  CHECK(r.error().transient());
  CHECK_THAT(r.error().message(), Catch::Contains("webhook " + url + " failed after 3 attempts") &&
                                      Catch::Contains("onnect"));
}

TEST_CASE("a webhook that never answers times out", "[notify]") {
  TestHttpServer server({0});
  auto o = fast_webhook(2);
  o.timeout = std::chrono::milliseconds(200);
  auto start = Clock::now();
  auto r = send_webhook(server.url(), to_json(sample_message()), o);
  REQUIRE(!r);
  CHECK(Clock::now() - start < std::chrono::seconds(3));
  CHECK(r.error().code() == Errc::timeout);
  CHECK_THAT(r.error().message(), Catch::Contains("after 2 attempts") && Catch::Contains("no answer within"));
}

TEST_CASE("webhook errors never show the password or query of the URL", "[notify]") {
  TestHttpServer server({401});
  auto r = send_webhook(server.url("alice:s3cr%40t@") + "?token=tok123", to_json(sample_message()), fast_webhook());
  REQUIRE(!r);
  CHECK(server.requests().at(0).headers.count("authorization") == 1);
  CHECK_THAT(r.error().message(), Catch::Contains("alice:***@127.0.0.1") && Catch::Contains("401") &&
                                      !Catch::Contains("s3cr") && !Catch::Contains("tok123"));

  const std::string closed = "http://bob:hunter2@127.0.0.1:" + std::to_string(closed_port()) + "/";
  auto c = send_webhook(closed, to_json(sample_message()), fast_webhook(2));
  REQUIRE(!c);
  CHECK_THAT(c.error().message(), Catch::Contains("bob:***@") && !Catch::Contains("hunter2"));

  auto bad = send_webhook("ftp://carol:pw9@example.org/", {}, fast_webhook());
  REQUIRE(!bad);
  CHECK(bad.error().code() == Errc::invalid_argument);
  CHECK_THAT(bad.error().message(), !Catch::Contains("pw9"));
}

TEST_CASE("a notify command gets the message on stdin and the event in its environment", "[notify]") {
  kho::test::ScopedTempDir dir("kho-notify");
  ::setenv("KHO_PASSWORD", "hunter2", 1);
  auto body = to_json(sample_message());
  auto r = run_notify_command(shell("cat > '" + dir.str() + "/in.json'; env > '" + dir.str() + "/env'"), body);
  ::unsetenv("KHO_PASSWORD");
  REQUIRE(r);
  CHECK(nlohmann::ordered_json::parse(read_file(dir / "in.json")) == body);
  std::string env = read_file(dir / "env");
  CHECK_THAT(env, Catch::Contains("KHO_EVENT=failure\n") && Catch::Contains("KHO_POLICY=portal\n") &&
                      Catch::Contains("KHO_SUMMARY=kho: backup of portal failed: connection reset\n") &&
                      !Catch::Contains("hunter2"));

  // A list runs without a shell.
  REQUIRE(run_notify_command(Command{false, "", {"tee", (dir / "tee.json").string()}}, body));
  CHECK(nlohmann::ordered_json::parse(read_file(dir / "tee.json")) == body);
}

TEST_CASE("a failing notify command reports its status and the first line of its stderr", "[notify]") {
  auto r = run_notify_command(shell("echo; echo 'first problem' >&2; echo second >&2; exit 3"), {});
  REQUIRE(!r);
  CHECK(r.error().code() == Errc::failed);
  CHECK_THAT(r.error().message(), Catch::Contains("notify command 'echo ...' exited with status 3: first problem") &&
                                      !Catch::Contains("second"));

  auto missing = run_notify_command(Command{false, "", {"/nonexistent/kho-notifier", "--token=abc"}}, {});
  REQUIRE(!missing);
  CHECK_THAT(missing.error().message(),
             Catch::Contains("'/nonexistent/kho-notifier ...'") && !Catch::Contains("abc"));
}

TEST_CASE("a notify command that runs too long is killed with its whole process group", "[notify]") {
  kho::test::ScopedTempDir dir("kho-notify");
  CommandOptions o;
  o.timeout = std::chrono::milliseconds(200);
  o.kill_grace = std::chrono::milliseconds(100);
  // The group ignores SIGTERM, so only the SIGKILL after the grace ends it.
  auto start = Clock::now();
  auto r = run_notify_command(
      shell("trap '' TERM; sleep 30 & echo $! > '" + dir.str() + "/pid'; echo started >&2; wait"), {}, o);
  CHECK(Clock::now() - start < std::chrono::seconds(3));
  REQUIRE(!r);
  CHECK(r.error().code() == Errc::timeout);
  CHECK_THAT(r.error().message(), Catch::Contains("did not finish within") && Catch::Contains("started"));

  const std::string pid = read_file(dir / "pid");
  REQUIRE(!pid.empty());
  bool gone = false;  // the orphaned sleep is reaped by init, or left a zombie
  for (int i = 0; i < 200 && !gone; ++i) {
    std::string stat = read_file("/proc/" + pid.substr(0, pid.find('\n')) + "/stat");
    gone = stat.empty() || stat.find(") Z") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(gone);
}

TEST_CASE("notify sends only the events listed in `on` and tries every channel", "[notify]") {
  kho::test::ScopedTempDir dir("kho-notify");
  TestHttpServer server({200});
  Notify n;
  n.webhook = server.url();
  n.command = shell("cat >> '" + dir.str() + "/log'");
  n.on = {NotifyEvent::failure, NotifyEvent::late};

  REQUIRE(notify(n, sample_message(NotifyEvent::success), fast_webhook()));
  CHECK(server.requests().empty());
  CHECK(!std::filesystem::exists(dir / "log"));

  REQUIRE(notify(n, sample_message(NotifyEvent::failure), fast_webhook()));
  CHECK(server.requests().size() == 1);
  CHECK_THAT(read_file(dir / "log"), Catch::Contains("\"event\":\"failure\""));

  // A failing webhook does not stop the command, and the error names both.
  n.webhook = "http://127.0.0.1:" + std::to_string(closed_port()) + "/hook";
  n.command = shell("cat >> '" + dir.str() + "/log'; echo 'relay down' >&2; exit 1");
  auto r = notify(n, sample_message(NotifyEvent::late), fast_webhook(2));
  REQUIRE(!r);
  CHECK_THAT(read_file(dir / "log"), Catch::Contains("\"event\":\"late\""));
  CHECK_THAT(r.error().message(), Catch::StartsWith("notifying late of policy portal failed: webhook ") &&
                                      Catch::Contains("; notify command 'cat ...' exited with status 1: relay down"));
}

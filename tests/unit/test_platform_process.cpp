#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>

#include "kho/platform/child.hpp"
#include "kho/platform/process.hpp"

using namespace kho;
using namespace kho::platform;
using Clock = std::chrono::steady_clock;

namespace {

// Reads a child's whole output in small chunks, as a streaming consumer would.
std::string read_all(ShellCommand& child, std::size_t chunk = 4096) {
  std::string out;
  std::vector<std::uint8_t> buf(chunk);
  for (;;) {
    auto n = child.read(buf.data(), buf.size());
    REQUIRE(n);
    if (*n == 0) return out;
    out.append(reinterpret_cast<const char*>(buf.data()), *n);
  }
}

// Reads up to and including the first newline.
std::string read_line(ShellCommand& child) {
  std::string line;
  std::uint8_t c = 0;
  while (c != '\n') {
    auto n = child.read(&c, 1);
    REQUIRE(n);
    REQUIRE(*n == 1);
    line += static_cast<char>(c);
  }
  return line;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

TEST_CASE("a command's output of several MB is streamed back whole", "[platform][process]") {
  auto child = ShellCommand::start("seq 1 400000");
  REQUIRE(child);
  std::string expected;
  for (int i = 1; i <= 400000; ++i) expected += std::to_string(i) + "\n";
  REQUIRE(expected.size() > 2'000'000);
  std::string out = read_all(*child, 1000);
  CHECK(out.size() == expected.size());
  CHECK(out == expected);
  CHECK(child->wait());
}

TEST_CASE("output arrives while the command is still running", "[platform][process]") {
  auto start = Clock::now();
  {
    auto child = ShellCommand::start("echo first; exec sleep 30");
    REQUIRE(child);
    CHECK(read_line(*child) == "first\n");
    CHECK(Clock::now() - start < std::chrono::seconds(10));
  }  // the destructor stops the sleeping shell
  CHECK(Clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("a failing command is reported with its exit status", "[platform][process]") {
  auto child = ShellCommand::start("echo partial; exit 3");
  REQUIRE(child);
  CHECK(read_all(*child) == "partial\n");
  auto waited = child->wait();
  REQUIRE_FALSE(waited);
  CHECK(waited.error().code() == Errc::failed);
  CHECK_THAT(waited.error().message(), Catch::Contains("'echo partial; exit 3'") && Catch::Contains("status 3"));

  auto again = child->wait();
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Errc::invalid_argument);

  auto missing = ShellCommand::start("/nonexistent/kho-tool --flag 2>/dev/null");
  REQUIRE(missing);  // the shell starts; it is the shell that fails
  auto status = missing->wait();
  REQUIRE_FALSE(status);
  CHECK_THAT(status.error().message(), Catch::Contains("status 127") && Catch::Contains("not found"));
}

TEST_CASE("a killed command is reported with its signal", "[platform][process]") {
  auto child = ShellCommand::start("kill -KILL $$");
  REQUIRE(child);
  CHECK(read_all(*child).empty());
  auto waited = child->wait();
  REQUIRE_FALSE(waited);
  CHECK(waited.error().code() == Errc::failed);
  CHECK_THAT(waited.error().message(), Catch::Contains("signal 9") && Catch::Contains("SIGKILL"));
}

TEST_CASE("the child reads /dev/null and gets no descriptor of ours", "[platform][process]") {
  auto child = ShellCommand::start("readlink /proc/self/fd/0; cat; ls -l /proc/$$/fd");
  REQUIRE(child);
  struct stat pipe_st;
  REQUIRE(::fstat(child->stdout_fd(), &pipe_st) == 0);
  const std::string our_pipe = "pipe:[" + std::to_string(pipe_st.st_ino) + "]";
  std::string out = read_all(*child);
  CHECK(child->wait());
  CHECK(out.rfind("/dev/null\n", 0) == 0);  // and cat ended at once
  // The pipe appears once in the shell: as its stdout (both ends are O_CLOEXEC).
  std::size_t count = 0;
  for (std::size_t pos = out.find(our_pipe); pos != std::string::npos; pos = out.find(our_pipe, pos + 1)) ++count;
  INFO(out);
  CHECK(count == 1);
  CHECK(out.find(" 1 -> " + our_pipe) != std::string::npos);
}

TEST_CASE("the child gets default SIGPIPE handling even when we ignore it", "[platform][process]") {
  struct sigaction ignore {}, old{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGPIPE, &ignore, &old) == 0);
  auto out = run_capture("grep SigIgn /proc/self/status");
  ::sigaction(SIGPIPE, &old, nullptr);
  REQUIRE(out);
  INFO(*out);
  auto mask = std::stoull(out->substr(out->find(':') + 1), nullptr, 16);
  CHECK((mask & (1ull << (SIGPIPE - 1))) == 0);
}

TEST_CASE("waiting without reading does not hang on a chatty command", "[platform][process]") {
  auto start = Clock::now();
  auto child = ShellCommand::start("head -c 100000000 /dev/zero");
  REQUIRE(child);
  std::uint8_t buf[10];
  REQUIRE(child->read(buf, sizeof buf));
  auto waited = child->wait();  // closes the pipe: the writer gets SIGPIPE
  REQUIRE_FALSE(waited);
  CHECK(waited.error().code() == Errc::failed);
  CHECK(Clock::now() - start < std::chrono::seconds(10));
  auto read_after = child->read(buf, sizeof buf);
  REQUIRE_FALSE(read_after);
  CHECK(read_after.error().code() == Errc::invalid_argument);
}

TEST_CASE("the destructor terminates and reaps a running command", "[platform][process]") {
  SECTION("one that exits on SIGTERM") {
    pid_t pid = 0;
    auto start = Clock::now();
    {
      auto child = ShellCommand::start("echo $$; exec sleep 1000");
      REQUIRE(child);
      pid = std::stoi(read_line(*child));
    }
    CHECK_FALSE(process_exists(pid));  // killed and reaped, not a zombie
    CHECK(Clock::now() - start < std::chrono::seconds(2));
  }
  SECTION("one that ignores SIGTERM is killed") {
    pid_t pid = 0;
    auto start = Clock::now();
    {
      auto child = ShellCommand::start("trap '' TERM; echo $$; exec sleep 1000");
      REQUIRE(child);
      pid = std::stoi(read_line(*child));
    }
    CHECK_FALSE(process_exists(pid));
    auto took = Clock::now() - start;
    CHECK(took >= std::chrono::milliseconds(1500));
    CHECK(took < std::chrono::seconds(10));
  }
}

TEST_CASE("a ShellCommand can be moved", "[platform][process]") {
  auto first = ShellCommand::start("echo one");
  auto second = ShellCommand::start("echo two");
  REQUIRE(first);
  REQUIRE(second);
  ShellCommand moved(std::move(*first));
  CHECK(read_all(moved) == "one\n");
  moved = std::move(*second);  // the finished first child is reaped
  CHECK(read_all(moved) == "two\n");
  CHECK(moved.wait());
}

TEST_CASE("run_capture returns the whole output or the failure", "[platform][process]") {
  CHECK(run_capture("printf 'hunter2\\n'").value() == "hunter2\n");
  CHECK(run_capture("true").value().empty());
  auto failed = run_capture("echo oops; exit 2");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code() == Errc::failed);
  CHECK_THAT(failed.error().message(), Catch::Contains("status 2"));
}

TEST_CASE("run_capture keeps output larger than its first buffer", "[platform][process]") {
  auto out = run_capture("head -c 20000 /dev/zero | tr '\\0' x; echo; echo second");
  REQUIRE(out);
  CHECK(out->size() == 20000 + 1 + 7);
  CHECK(out->substr(20001) == "second\n");
}

TEST_CASE("a secret taken from the environment is gone from it and from children", "[platform][process]") {
  ::setenv("KHO_TEST_SECRET_VAR", "s3cret-in-env", 1);
  const char* before = std::getenv("KHO_TEST_SECRET_VAR");
  REQUIRE(before != nullptr);
  const char* storage = before;  // setenv's copy: overwritten in place, not just unlinked
  SecretString value = take_environment_secret("KHO_TEST_SECRET_VAR");
  CHECK(value.value() == "s3cret-in-env");
  CHECK(std::getenv("KHO_TEST_SECRET_VAR") == nullptr);
  CHECK(std::string(storage, 13).find_first_not_of('\0') == std::string::npos);
  auto out = run_capture("echo \"[${KHO_TEST_SECRET_VAR-unset}]\"");
  REQUIRE(out);
  CHECK(*out == "[unset]\n");
  CHECK(take_environment_secret("KHO_TEST_SECRET_VAR").empty());
}

TEST_CASE("protecting secrets disables core files and ptrace; children get the core limit back",
          "[platform][process]") {
  struct rlimit before {};
  REQUIRE(::getrlimit(RLIMIT_CORE, &before) == 0);
  protect_secrets_in_memory();
  struct rlimit now {};
  REQUIRE(::getrlimit(RLIMIT_CORE, &now) == 0);
  CHECK(now.rlim_cur == 0);
  CHECK(now.rlim_max == before.rlim_max);
  CHECK(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
  ChildOptions child;
  child.argv = {"sh", "-c", "ulimit -S -c"};
  auto r = run_child(child);
  REQUIRE(r);
  const std::string expected = before.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(before.rlim_cur / 1024);
  CHECK(r->out == expected + "\n");
  // Leave the test process as it was for the other tests.
  restore_core_limit();
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  REQUIRE(::getrlimit(RLIMIT_CORE, &now) == 0);
  CHECK(now.rlim_cur == before.rlim_cur);
}

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "kho/platform/child.hpp"

using kho::platform::ChildOptions;
using kho::platform::run_child;

namespace {
kho::platform::ChildResult run(const ChildOptions& o) {
  auto r = run_child(o);
  REQUIRE(r);
  return *r;
}

ChildOptions cmd(std::vector<std::string> argv) {
  ChildOptions o;
  o.argv = std::move(argv);
  return o;
}
}  // namespace

TEST_CASE("a child gets stdin, and its stdout, stderr and exit status come back", "[child]") {
  std::string big(300000, 'x');  // more than a pipe holds: written while read
  for (std::size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  auto o = cmd({"cat"});
  o.stdin_data = big;
  auto r = run(o);
  CHECK(r.ok());
  CHECK(r.out == big);
  r = run(cmd({"sh", "-c", "echo one >&2; echo; echo 'last words' >&2; exit 3"}));
  CHECK_FALSE(r.ok());
  CHECK(r.exit_code == 3);
  CHECK(r.status_text() == "exit status 3");
  CHECK(r.last_error_line() == "last words");
}

TEST_CASE("a child's environment is changed as asked", "[child]") {
  setenv("KHO_TEST_SECRET", "do not pass", 1);
  auto o = cmd({"sh", "-c", "echo \"[$KHO_TEST_SECRET][$KHO_POLICY]\""});
  o.set_env = {{"KHO_POLICY", "portal"}};
  o.unset_env = {"KHO_TEST_SECRET"};
  auto r = run(o);
  unsetenv("KHO_TEST_SECRET");
  CHECK(r.out == "[][portal]\n");
}

TEST_CASE("a time-out stops the child's whole process group", "[child]") {
  auto start = std::chrono::steady_clock::now();
  // The background sleep keeps stdout open: only a group kill ends it.
  auto o = cmd({"sh", "-c", "sleep 30 & sleep 30"});
  o.timeout_s = 0.5;
  o.kill_grace_s = 1;
  auto r = run(o);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(r.timed_out);
  CHECK_FALSE(r.ok());
  CHECK(r.status_text(0.5) == "timed out after 0.5 s");
  CHECK(took < 5);
}

TEST_CASE("an interrupt stops the child, a program that is not there exits 127", "[child]") {
  std::atomic<bool> stop{false};
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  auto o = cmd({"sleep", "30"});
  o.interrupt = &stop;
  auto r = run(o);
  t.join();
  CHECK(r.interrupted);
  CHECK(r.signal == SIGTERM);
  r = run(cmd({"/nonexistent/kho-hook"}));
  CHECK(r.exit_code == 127);
  CHECK(r.last_error_line() == "kho: cannot run the program: /nonexistent/kho-hook");
}

TEST_CASE("a background process left holding the output is not waited for, and KHO_* can be dropped", "[child]") {
  auto start = std::chrono::steady_clock::now();
  auto r = run(cmd({"sh", "-c", "sleep 20 & echo done"}));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(r.ok());
  CHECK(r.out == "done\n");
  CHECK(took < 10);
  setenv("KHO_PASSWORD", "hunter2", 1);
  auto o = cmd({"sh", "-c", "env | grep -c '^KHO_' || true"});
  o.unset_env = {"KHO_*"};
  o.set_env = {{"KHO_EVENT", "failure"}};
  r = run(o);
  unsetenv("KHO_PASSWORD");
  CHECK(r.out == "1\n");
}

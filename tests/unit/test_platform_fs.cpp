#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <thread>
#include <unistd.h>

#include "kho/platform/fs.hpp"
#include "kho/util/fd.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho;
using namespace kho::platform;
namespace fs = std::filesystem;
using kho::test::ScopedTempDir;

namespace {

void make_file(const fs::path& p, std::string_view content = "", mode_t mode = 0644) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
  REQUIRE(::chmod(p.c_str(), mode) == 0);  // regardless of umask
}

FileInfo info_of(const fs::path& p) {
  auto info = lstat_path(p.string());
  INFO(p.string());
  REQUIRE(info);
  return *info;
}

}  // namespace

TEST_CASE("lstat_path reports every file type without following symlinks", "[platform][fs]") {
  ScopedTempDir tmp("kho-fs");
  make_file(tmp / "file", "hello", 0640);
  REQUIRE(::mkdir((tmp / "dir").c_str(), 0750) == 0);
  REQUIRE(::symlink("dir", (tmp / "link").c_str()) == 0);
  REQUIRE(::mkfifo((tmp / "fifo").c_str(), 0600) == 0);
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = (tmp / "sock").string();
  REQUIRE(sock_path.size() < sizeof addr.sun_path);
  std::copy(sock_path.begin(), sock_path.end(), addr.sun_path);
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(sock);

  auto file = info_of(tmp / "file");
  CHECK(file.type == FileType::file);
  CHECK(file.mode == 0640);
  CHECK(file.size == 5);
  CHECK(file.uid == ::getuid());
  CHECK(file.nlink == 1);

  auto dir = info_of(tmp / "dir");
  CHECK(dir.type == FileType::dir);
  CHECK(dir.mode == 0750);

  auto link = info_of(tmp / "link");
  CHECK(link.type == FileType::symlink);
  CHECK(link.size == 3);  // length of the target "dir"
  CHECK(read_link((tmp / "link").string()).value() == "dir");

  CHECK(info_of(tmp / "fifo").type == FileType::fifo);
  CHECK(info_of(tmp / "sock").type == FileType::socket);

  auto null = info_of("/dev/null");
  CHECK(null.type == FileType::chardev);
  CHECK(null.rdev == makedev(1, 3));
  CHECK(null.device != 0);

  auto missing = lstat_path((tmp / "missing").string());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Errc::not_found);
  CHECK_THAT(missing.error().message(), Catch::Contains((tmp / "missing").string()));
}

TEST_CASE("lstat_path keeps special mode bits, nanosecond times, links and holes", "[platform][fs]") {
  ScopedTempDir tmp("kho-fs");
  make_file(tmp / "setuid", "x", 04755);
  CHECK(info_of(tmp / "setuid").mode == 04755);
  REQUIRE(::mkdir((tmp / "sticky").c_str(), 0700) == 0);
  REQUIRE(::chmod((tmp / "sticky").c_str(), 01777) == 0);
  CHECK(info_of(tmp / "sticky").mode == 01777);

  make_file(tmp / "timed", "t");
  const struct timespec times[2] = {{1600000000, 987654321}, {1700000000, 123456789}};  // atime, mtime
  REQUIRE(::utimensat(AT_FDCWD, (tmp / "timed").c_str(), times, 0) == 0);
  auto timed = info_of(tmp / "timed");
  CHECK(timed.atime_ns == 1600000000987654321LL);
  CHECK(timed.mtime_ns == 1700000000123456789LL);
  CHECK(timed.ctime_ns > 1700000000000000000LL);

  REQUIRE(::symlink("timed", (tmp / "link").c_str()) == 0);
  const struct timespec link_times[2] = {{1500000000, 1}, {1500000001, 999999999}};
  REQUIRE(::utimensat(AT_FDCWD, (tmp / "link").c_str(), link_times, AT_SYMLINK_NOFOLLOW) == 0);
  CHECK(info_of(tmp / "link").mtime_ns == 1500000001999999999LL);
  CHECK(info_of(tmp / "timed").mtime_ns == 1700000000123456789LL);  // the target is untouched

  REQUIRE(::link((tmp / "timed").c_str(), (tmp / "hard").c_str()) == 0);
  auto hard = info_of(tmp / "hard");
  CHECK(hard.inode == info_of(tmp / "timed").inode);
  CHECK(hard.device == info_of(tmp / "timed").device);
  CHECK(hard.nlink == 2);

  make_file(tmp / "sparse");
  REQUIRE(::truncate((tmp / "sparse").c_str(), 64 << 20) == 0);
  auto sparse = info_of(tmp / "sparse");
  CHECK(sparse.size == (64u << 20));
  CHECK(sparse.blocks * 512 < sparse.size / 2);
}

TEST_CASE("list_dir returns names sorted bytewise, without . and ..", "[platform][fs]") {
  ScopedTempDir tmp("kho-fs");
  for (const char* name : {"b", "a", "B", "\xc3\xa9t\xc3\xa9", "a.b", "_", "a b", "\x7f"}) make_file(tmp / name);
  REQUIRE(::mkdir((tmp / "sub").c_str(), 0700) == 0);
  const std::vector<std::string> expected = {"B", "_", "a", "a b", "a.b", "b", "sub", "\x7f", "\xc3\xa9t\xc3\xa9"};
  CHECK(list_dir(tmp.str()).value() == expected);
  CHECK(list_dir((tmp / "sub").string()).value().empty());

  auto missing = list_dir((tmp / "missing").string());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Errc::not_found);
  REQUIRE(::symlink("sub", (tmp / "link").c_str()) == 0);
  auto through_link = list_dir((tmp / "link").string());
  REQUIRE_FALSE(through_link);
  CHECK(through_link.error().code() == Errc::invalid_argument);
  CHECK_FALSE(list_dir((tmp / "b").string()));
}

TEST_CASE("read_link returns long targets whole", "[platform][fs]") {
  ScopedTempDir tmp("kho-fs");
  std::string target;
  for (int i = 0; i < 60; ++i) target += "component-" + std::to_string(i) + "/";
  REQUIRE(target.size() > 700);
  REQUIRE(::symlink(target.c_str(), (tmp / "long").c_str()) == 0);
  CHECK(read_link((tmp / "long").string()).value() == target);
  auto not_link = read_link(tmp.str());
  REQUIRE_FALSE(not_link);
  CHECK(not_link.error().code() == Errc::invalid_argument);
}

namespace {

// Whether user.* xattrs can be set in `dir` (probed with a scratch file).
bool supports_user_xattrs(const fs::path& dir) {
  const fs::path probe = dir / ".kho-xattr-probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::fsetxattr(fd, "user.kho.probe", "1", 1, 0) == 0;
  ::close(fd);
  ::unlink(probe.c_str());
  return ok;
}

}  // namespace

TEST_CASE("xattrs set on a descriptor are read back sorted by name", "[platform][fs]") {
  // /tmp first, then the working (build) directory; if neither supports user
  // xattrs, check the promised empty-list behaviour instead.
  auto tmp = std::make_unique<ScopedTempDir>("kho-fs");
  if (!supports_user_xattrs(tmp->path())) tmp = std::make_unique<ScopedTempDir>("kho-fs", fs::current_path());
  const fs::path dir = tmp->path();
  const fs::path file = dir / "with-xattrs";
  make_file(file, "data", 0600);
  auto fd = open_fd(file.string(), O_RDONLY);
  REQUIRE(fd);

  if (!supports_user_xattrs(dir)) {
    WARN("no user xattr support under /tmp or the build directory: checking the empty-list behaviour");
    CHECK(get_xattrs(file.string()).value().empty());
    CHECK(get_xattrs_fd(fd->get(), file.string()).value().empty());
    auto set = set_xattr_fd(fd->get(), "user.a", as_bytes("1"));
    REQUIRE_FALSE(set);
    CHECK(set.error().code() == Errc::unsupported);
    return;
  }

  CHECK(get_xattrs(file.string()).value().empty());
  const Bytes binary = {0, 1, 2, 0xff, 0, 'x'};
  const Bytes big(3000, 'v');
  REQUIRE(set_xattr_fd(fd->get(), "user.zeta", as_bytes("last")));
  REQUIRE(set_xattr_fd(fd->get(), "user.alpha", binary));
  REQUIRE(set_xattr_fd(fd->get(), "user.empty", {}));
  REQUIRE(set_xattr_fd(fd->get(), "user.big", big));

  auto xattrs = get_xattrs(file.string());
  REQUIRE(xattrs);
  Xattrs user;
  for (const auto& x : *xattrs)
    if (x.first.rfind("user.", 0) == 0) user.push_back(x);  // other namespaces (e.g. security.*) may exist
  const Xattrs expected = {{"user.alpha", binary},
                           {"user.big", big},
                           {"user.empty", {}},
                           {"user.zeta", Bytes{'l', 'a', 's', 't'}}};
  CHECK(user == expected);
  CHECK(std::is_sorted(xattrs->begin(), xattrs->end(), [](auto& a, auto& b) { return a.first < b.first; }));
  // Through a descriptor, the same list: the backup reads a file's xattrs so.
  auto by_fd = get_xattrs_fd(fd->get(), file.string());
  REQUIRE(by_fd);
  CHECK(*by_fd == *xattrs);

  // A symlink's own xattrs are read, not its target's.
  REQUIRE(::symlink(file.c_str(), (dir / "link").c_str()) == 0);
  auto of_link = get_xattrs((dir / "link").string());
  REQUIRE(of_link);
  for (const auto& x : *of_link) CHECK(x.first.rfind("user.", 0) != 0);

  auto bad_name = set_xattr_fd(fd->get(), "nonamespace", as_bytes("x"));
  REQUIRE_FALSE(bad_name);
  CHECK_THAT(bad_name.error().message(), Catch::Contains("nonamespace"));
  auto missing = get_xattrs((dir / "missing").string());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Errc::not_found);
}

TEST_CASE("a filesystem without xattr support yields an empty list", "[platform][fs]") {
  // procfs lists no xattrs and refuses to set them (ENOTSUP).
  CHECK(get_xattrs("/proc/self/status").value().empty());
  auto fd = open_fd("/proc/self/status", O_RDONLY);
  REQUIRE(fd);
  auto set = set_xattr_fd(fd->get(), "user.a", as_bytes("1"));
  REQUIRE_FALSE(set);
  CHECK(set.error().code() == Errc::unsupported);
}

TEST_CASE("user and group names are looked up and cached", "[platform][fs]") {
  CHECK(user_name(0) == "root");
  CHECK(group_name(0) == "root");
  std::uint32_t id = 12345;
  CHECK(user_id("root", id));
  CHECK(id == 0);
  id = 12345;
  CHECK(group_id("root", id));
  CHECK(id == 0);
  CHECK_FALSE(user_id("no-such-user-kho", id));
  CHECK_FALSE(group_id("no-such-group-kho", id));
  CHECK(user_name(3999999999u).empty());
  CHECK(group_name(3999999999u).empty());
  CHECK_FALSE(current_user().empty());
  CHECK(current_user() == (user_name(::getuid()).empty() ? "uid" + std::to_string(::getuid()) : user_name(::getuid())));
  CHECK_FALSE(host_name().empty());

  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (std::uint32_t i = 0; i < 200; ++i)
        if (user_name(0) != "root" || group_name(i % 3 == 0 ? 0 : 4000000000u + i + t).size() > 4) ++wrong;
    });
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
}

TEST_CASE("absolute_path normalises lexically", "[platform][fs]") {
  const std::string cwd = fs::current_path().string();
  const std::string parent = fs::current_path().parent_path().string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/", "/"},
      {"/a/b/../c", "/a/c"},
      {"/..", "/"},
      {"/../a", "/a"},
      {"//a//b/", "/a/b"},
      {"/a/./b/.", "/a/b"},
      {"/a/b/c/../../d", "/a/d"},
      {"x/y", cwd + "/x/y"},
      {"", cwd},
      {".", cwd},
      {"../", parent == "/" ? "/" : parent},
      {"a/../b", cwd + "/b"},
  };
  for (const auto& [in, out] : cases) {
    INFO("'" << in << "'");
    CHECK(absolute_path(in) == out);
  }
}

TEST_CASE("file type names", "[platform][fs]") {
  const std::vector<std::pair<FileType, std::string>> cases = {
      {FileType::file, "file"},       {FileType::dir, "dir"},         {FileType::symlink, "symlink"},
      {FileType::fifo, "fifo"},       {FileType::chardev, "chardev"}, {FileType::blockdev, "blockdev"},
      {FileType::socket, "socket"},
  };
  for (const auto& [type, name] : cases) CHECK(file_type_name(type) == name);
}

TEST_CASE("SparseReader reads a file with holes as read(2) does and skips the holes", "[platform][fs]") {
  ScopedTempDir tmp("kho-fs");
  const std::size_t MiB = 1 << 20;
  // Data at the start, inside, and as the last byte; holes between. And the same
  // with a hole at the end, a file without holes, and an empty file.
  struct Piece {
    std::size_t at;
    std::string bytes;
  };
  std::string first(100'000, 'a'), middle(5000, 'b');
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = static_cast<char>('a' + i % 26);
  const std::vector<std::pair<std::string, std::pair<std::size_t, std::vector<Piece>>>> files = {
      {"sparse", {20 * MiB, {{0, first}, {7 * MiB + 123, middle}, {20 * MiB - 1, "z"}}}},
      {"hole-at-end", {12 * MiB, {{3 * MiB, middle}}}},
      {"dense", {3 * MiB + 7, {{0, std::string(3 * MiB + 7, 'd')}}}},
      {"empty", {0, {}}},
  };
  for (const auto& [name, spec] : files) {
    const auto& [size, pieces] = spec;
    INFO(name);
    const fs::path p = tmp / name;
    std::string expected(size, '\0');
    make_file(p);
    REQUIRE(::truncate(p.c_str(), static_cast<off_t>(size)) == 0);
    Fd w(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
    REQUIRE(w.valid());
    for (const auto& piece : pieces) {
      REQUIRE(::pwrite(w.get(), piece.bytes.data(), piece.bytes.size(), static_cast<off_t>(piece.at)) ==
              static_cast<ssize_t>(piece.bytes.size()));
      expected.replace(piece.at, piece.bytes.size(), piece.bytes);
    }
    REQUIRE(::fsync(w.get()) == 0);
    for (std::size_t block : {std::size_t{1} << 12, std::size_t{3} << 20, std::size_t{1000}}) {
      Fd r(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
      REQUIRE(r.valid());
      SparseReader reader(r.get(), p.string());
      std::string got;
      std::vector<std::uint8_t> buffer(block, 0xee);
      for (;;) {
        auto n = reader.read(buffer.data(), buffer.size());
        REQUIRE(n);
        if (*n == 0) break;
        got.append(reinterpret_cast<const char*>(buffer.data()), *n);
      }
      // The offset of the first difference (not the strings: megabytes to print).
      CHECK(got.size() == expected.size());
      const auto diff = std::mismatch(got.begin(), got.end(), expected.begin(), expected.end());
      CHECK(static_cast<std::size_t>(diff.first - got.begin()) == got.size());
      CHECK(reader.position() == size);
      if (name == "sparse") CHECK(reader.hole_bytes() >= 18 * MiB);
      if (name == "hole-at-end") CHECK(reader.hole_bytes() >= 8 * MiB);
      if (name == "dense" || name == "empty") CHECK(reader.hole_bytes() == 0);
    }
  }
}

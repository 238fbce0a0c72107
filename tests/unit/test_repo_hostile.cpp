// Repositories crafted by someone who holds the key: trees naming paths outside
// their directory, trees that contain themselves, declared sizes and lengths far
// beyond the data. Readers must refuse them with an error naming the object,
// never write outside a restore target, and never allocate what a length claims.
#include <catch2/catch.hpp>
#include <filesystem>

#include "kho/backend/local/local_backend.hpp"
#include "kho/crypto/crypto.hpp"
#include "kho/engine/check.hpp"
#include "kho/engine/diff.hpp"
#include "kho/engine/restore.hpp"
#include "kho/repo/blob_writer.hpp"
#include "kho/repo/repository.hpp"
#include "kho/repo/sealed_object.hpp"
#include "file_helpers.hpp"
#include "result_helpers.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho;
using namespace kho::repo;
namespace fs = std::filesystem;

namespace {

// A repository in `dir`/repo, with a writer for crafted blobs.
struct CraftedRepo {
  explicit CraftedRepo(const fs::path& dir) : root(dir / "repo") {
    ::setenv("KHO_KDF_FAST", "1", 1);
    InitOptions options;
    options.chunker = {64 * 1024, 128 * 1024, 256 * 1024};
    repo = value_of(Repository::init(std::make_unique<backend::LocalBackend>(root), SecretString("pw"), options));
  }

  Id data(const std::string& text) {
    Id id = repo->hash_blob(as_bytes(text));
    REQUIRE(writer().save(BlobType::data, id, as_bytes(text)));
    return id;
  }
  // Stores a tree under its true ID, however its nodes are named (encode()
  // does not validate: only readers do).
  Id tree(const Tree& t) {
    Bytes raw = t.encode();
    Id id = repo->hash_blob(raw);
    REQUIRE(writer().save(BlobType::tree, id, raw));
    return id;
  }
  // Writes the blobs, a snapshot of `root_tree`, and reopens the repository
  // as a reader would.
  Snapshot snapshot(const Id& root_tree) {
    ok(writer().flush());
    Snapshot s;
    s.time = now_ns();
    s.tree = root_tree;
    s.paths = {"/"};
    s.host = "crafted";
    value_of(repo->save_snapshot(s));
    reopen();
    return s;
  }
  void reopen() {
    m_writer.reset();
    repo = value_of(Repository::open(std::make_unique<backend::LocalBackend>(root), SecretString("pw")));
    value_of(repo->load_index());
  }
  BlobWriter& writer() {
    if (!m_writer) m_writer = std::make_unique<BlobWriter>(*repo);
    return *m_writer;
  }

  fs::path root;
  std::unique_ptr<Repository> repo;

 private:
  std::unique_ptr<BlobWriter> m_writer;
};

Node file_node(const std::string& name, const Id& content, std::uint64_t size) {
  Node n;
  n.name = name;
  n.type = FileType::file;
  n.mode = 0644;
  n.size = size;
  n.nlink = 1;
  n.content = {content};
  return n;
}

Node dir_node(const std::string& name, const Id& subtree) {
  Node n;
  n.name = name;
  n.type = FileType::dir;
  n.mode = 0755;
  n.subtree = subtree;
  return n;
}

// Every path below `dir`, relative to it.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

bool mentions(const std::vector<engine::RestoreProblem>& problems, const std::string& text) {
  for (const auto& p : problems)
    if (p.path.find(text) != std::string::npos || p.error.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("Restore refuses crafted tree names and writes nothing outside the target") {
  const std::vector<std::string> bad_names = {
      "..", ".", "", "../x", "/abs", "a/../../b", "a/b", std::string("nul\0x", 5), "../../../../../../tmp/kho-escape"};
  for (const auto& bad : bad_names) {
    CAPTURE(bad);
    kho::test::ScopedTempDir dir("kho-hostile");
    CraftedRepo r(dir.path());
    Id content = r.data("must stay inside the target\n");
    Tree evil;
    evil.nodes = {file_node(bad, content, 28)};
    Id evil_id = r.tree(evil);
    Tree root;
    root.nodes = {dir_node("d", evil_id), file_node("good.txt", content, 28)};
    Snapshot s = r.snapshot(r.tree(root));

    fs::create_directories(dir / "area" / "target");
    engine::RestoreOptions options;
    options.target = (dir / "area" / "target").string();
    options.threads = 1;
    auto result = value_of(engine::run_restore(*r.repo, s, options));
    // The good file is restored; the directory holding the bad name is refused,
    // with an error naming the tree and the name.
    REQUIRE(fs::is_regular_file(dir / "area" / "target" / "good.txt"));
    REQUIRE(mentions(result.errors, evil_id.hex()));
    REQUIRE(mentions(result.errors, "invalid name"));
    REQUIRE(listing(dir / "area") == std::vector<std::string>{"target", "target/d", "target/good.txt"});
    REQUIRE(fs::is_empty(dir / "area" / "target" / "d"));
    REQUIRE_FALSE(fs::exists("/tmp/kho-escape"));

    // check names the tree too.
    engine::CheckOptions check_options;
    auto checked = value_of(engine::run_check(*r.repo, check_options, nullptr));
    REQUIRE_FALSE(checked.errors.empty());
    bool named = false;
    for (const auto& e : checked.errors) named = named || e.message.find(evil_id.hex()) != std::string::npos;
    REQUIRE(named);
  }
}

TEST_CASE("A crafted root tree with a bad name fails the whole restore and creates nothing") {
  kho::test::ScopedTempDir dir("kho-hostile");
  CraftedRepo r(dir.path());
  Id content = r.data("x");
  Tree root;
  root.nodes = {file_node("..", content, 1)};
  Id root_id = r.tree(root);
  Snapshot s = r.snapshot(root_id);
  engine::RestoreOptions options;
  options.target = (dir / "target").string();
  auto result = engine::run_restore(*r.repo, s, options);
  REQUIRE_FALSE(result);
  REQUIRE(result.error().message().find(root_id.hex()) != std::string::npos);
  REQUIRE(listing(dir / "target").empty());
}

TEST_CASE("A tree stored under another tree's ID is refused, so no tree contains itself") {
  kho::test::ScopedTempDir dir("kho-hostile");
  CraftedRepo r(dir.path());
  // A directory whose subtree is its own ID: sealed under that ID with the key,
  // though its content hashes to something else. Walking it would never end.
  Id loop_id = r.repo->hash_blob(as_bytes(std::string("any ID")));
  Tree loop;
  loop.nodes = {dir_node("again", loop_id)};
  REQUIRE(r.writer().save(BlobType::tree, loop_id, loop.encode()));
  Tree root;
  root.nodes = {dir_node("loop", loop_id)};
  Snapshot s = r.snapshot(r.tree(root));

  auto tree = r.repo->load_tree(loop_id);
  REQUIRE_FALSE(tree);
  REQUIRE(tree.error().message().find(loop_id.hex()) != std::string::npos);
  REQUIRE(tree.error().message().find("does not match its ID") != std::string::npos);

  engine::RestoreOptions options;
  options.target = (dir / "target").string();
  auto result = value_of(engine::run_restore(*r.repo, s, options));
  REQUIRE(mentions(result.errors, loop_id.hex()));
  REQUIRE(listing(dir / "target") == std::vector<std::string>{"loop"});
}

TEST_CASE("A chain of trees nested deeper than any path is refused by every walk, without a crash") {
  kho::test::ScopedTempDir dir("kho-hostile");
  CraftedRepo r(dir.path());
  Tree t;
  t.nodes = {file_node("leaf", r.data("deep"), 4)};
  Id id = r.tree(t);
  for (std::size_t i = 0; i < k_max_tree_depth + 50; ++i) {
    t.nodes = {dir_node("d", id)};
    id = r.tree(t);
  }
  Tree root;
  root.nodes = {file_node("beside.txt", r.data("beside"), 6), dir_node("top", id)};
  Snapshot s = r.snapshot(r.tree(root));
  const std::string deeper = "nested deeper than " + std::to_string(k_max_tree_depth) + " levels";

  engine::RestoreOptions options;
  options.target = (dir / "target").string();
  auto restored = value_of(engine::run_restore(*r.repo, s, options));
  REQUIRE(mentions(restored.errors, deeper));
  REQUIRE(fs::is_regular_file(dir / "target" / "beside.txt"));  // the rest is restored

  engine::CheckOptions check_options;
  auto checked = value_of(engine::run_check(*r.repo, check_options, nullptr));
  bool reported = false;
  for (const auto& e : checked.errors) reported = reported || e.message.find(deeper) != std::string::npos;
  REQUIRE(reported);

  Snapshot empty = r.snapshot(r.tree(Tree{}));
  auto diff = engine::diff_snapshots(*r.repo, empty, s);
  REQUIRE_FALSE(diff);
  REQUIRE(diff.error().code() == Errc::corruption);
  REQUIRE(diff.error().message().find(deeper) != std::string::npos);
}

TEST_CASE("A file whose declared size disagrees with its content is not restored") {
  kho::test::ScopedTempDir dir("kho-hostile");
  CraftedRepo r(dir.path());
  Id content = r.data("twelve bytes");
  Tree root;
  root.nodes = {file_node("huge", content, std::uint64_t{1} << 62), file_node("short", content, 5)};
  Snapshot s = r.snapshot(r.tree(root));
  engine::RestoreOptions options;
  options.target = (dir / "target").string();
  auto result = value_of(engine::run_restore(*r.repo, s, options));
  REQUIRE(result.errors.size() == 2);
  REQUIRE(mentions(result.errors, "/huge"));
  REQUIRE(mentions(result.errors, "/short"));
  REQUIRE(mentions(result.errors, "hold 12 bytes but the snapshot records 4611686018427387904"));
  REQUIRE(listing(dir / "target").empty());
}

TEST_CASE("Restore writes the files it can and removes those missing a blob or not created") {
  kho::test::ScopedTempDir dir("kho-hostile");
  CraftedRepo r(dir.path());
  Id shared = r.data("shared bytes");  // 12 bytes
  Id absent = r.repo->hash_blob(as_bytes(std::string("never stored")));
  Node partial = file_node("partial", shared, 24);
  partial.content.push_back(absent);
  // "short" cannot be created (its size is wrong) but shares its blob with the
  // two others: the blob is written to "good" only.
  Tree root;
  root.nodes = {file_node("good", shared, 12), partial, file_node("short", shared, 5)};
  Snapshot s = r.snapshot(r.tree(root));
  engine::RestoreOptions options;
  options.target = (dir / "target").string();
  auto result = value_of(engine::run_restore(*r.repo, s, options));
  REQUIRE(result.errors.size() == 2);
  REQUIRE(mentions(result.errors, "data blob " + absent.hex() + " is missing from the repository"));
  REQUIRE(mentions(result.errors, "/short"));
  REQUIRE(result.files == 1);
  REQUIRE(listing(dir / "target") == std::vector<std::string>{"good"});
  REQUIRE(kho::test::read_file(dir / "target" / "good") == "shared bytes");
}

TEST_CASE("A directory that cannot be made is reported once and nothing below it is tried") {
  kho::test::ScopedTempDir dir("kho-hostile");
  CraftedRepo r(dir.path());
  Id a = r.data("in a"), c = r.data("in c"), x = r.data("below");
  const std::string too_long(300, 'b');  // past NAME_MAX: mkdir fails
  Tree in_a, in_long, deeper, in_c, root;
  in_a.nodes = {file_node("in_a", a, 4)};
  deeper.nodes = {file_node("y", x, 5)};
  in_long.nodes = {dir_node("deeper", r.tree(deeper)), file_node("x", x, 5)};
  in_c.nodes = {file_node("in_c", c, 4)};
  root.nodes = {dir_node("a", r.tree(in_a)), dir_node(too_long, r.tree(in_long)), dir_node("c", r.tree(in_c))};
  Snapshot s = r.snapshot(r.tree(root));
  engine::RestoreOptions options;
  // Made while the walk goes on, and (with include patterns) after it.
  SECTION("everything") {}
  SECTION("with include patterns") { options.includes = {"/a", "/" + too_long, "/c"}; }
  options.target = (dir / "target").string();
  auto result = value_of(engine::run_restore(*r.repo, s, options));
  REQUIRE(result.errors.size() == 1);
  REQUIRE(mentions(result.errors, "cannot create directory " + too_long));
  REQUIRE(result.files == 2);
  REQUIRE(listing(dir / "target") == std::vector<std::string>{"a", "a/in_a", "c", "c/in_c"});
  REQUIRE(kho::test::read_file(dir / "target" / "c" / "in_c") == "in c");
}

TEST_CASE("Index entries past the end of their pack are refused without reading them") {
  kho::test::ScopedTempDir dir("kho-hostile");
  CraftedRepo r(dir.path());
  Id content = r.data("real content");
  r.snapshot(r.tree(Tree{}));
  auto loc = r.repo->index().find(BlobType::data, content);
  REQUIRE(loc);
  // A second index file placing a blob at the very end of the 32-bit range.
  Id ghost = r.repo->hash_blob(as_bytes(std::string("ghost")));
  PackedBlob far = loc->blob;
  far.id = ghost;
  far.offset = 0xFFFFFF00U;
  far.stored_length = 0xFFFFFFFFU;
  IndexFile crafted;
  crafted.packs = {IndexPack{loc->pack_id, {far}}};
  value_of(r.repo->save_index(crafted));
  r.reopen();

  auto blob = r.repo->load_blob(BlobType::data, ghost);
  REQUIRE_FALSE(blob);
  REQUIRE(blob.error().message().find(loc->pack_id.hex()) != std::string::npos);
  REQUIRE(blob.error().message().find(ghost.hex()) != std::string::npos);

  engine::CheckOptions options;
  options.read_data = true;
  auto checked = value_of(engine::run_check(*r.repo, options, nullptr));
  bool named = false;
  for (const auto& e : checked.errors)
    named = named || (e.object.find(loc->pack_id.hex()) != std::string::npos &&
                      e.message.find("too short for the blobs the index places in it") != std::string::npos);
  REQUIRE(named);
}

TEST_CASE("Huge lengths in pack headers, trees, index files and sealed objects are refused") {
  crypto::init();
  MasterKeys keys = MasterKeys::generate();
  auto sealed_header = [&](const Bytes& plain) {
    Bytes out;
    crypto::seal_append(keys.encryption, plain, as_bytes(std::string_view("kho:pack-header:v1")), out);
    return out;
  };

  SECTION("a pack whose trailer claims a 4 GiB header") {
    Bytes pack(100, 0);
    ByteWriter(pack).u32(0xFFFFFFFFU);
    auto r = parse_pack_header(keys, pack, pack.size(), "pack data/ab/abcd");
    REQUIRE_FALSE(r);
    REQUIRE(r.error().message().find("data/ab/abcd") != std::string::npos);
  }
  SECTION("a pack header entry far past the end of the pack") {
    Bytes plain;
    ByteWriter w(plain);
    w.u8(1);
    w.varint(1);
    w.u8(0);
    w.u8(0);
    w.u32(0xFFFFFF00U);
    w.u32(0xFFFFFFFFU);
    w.u32(100);
    w.raw(Id{}.bytes);
    Bytes pack(64, 0);
    Bytes header = sealed_header(plain);
    pack.insert(pack.end(), header.begin(), header.end());
    ByteWriter(pack).u32(static_cast<std::uint32_t>(header.size()));
    auto r = parse_pack_header(keys, pack, pack.size(), "pack P");
    REQUIRE_FALSE(r);
    REQUIRE(r.error().message().find("lies outside the pack") != std::string::npos);
  }
  SECTION("a pack header claiming 2^63 entries") {
    Bytes plain;
    ByteWriter w(plain);
    w.u8(1);
    w.varint(std::uint64_t{1} << 63);
    Bytes pack = sealed_header(plain);
    ByteWriter(pack).u32(static_cast<std::uint32_t>(pack.size()));
    REQUIRE_FALSE(parse_pack_header(keys, pack, pack.size(), "pack P"));
  }
  SECTION("a tree claiming 2^63 entries, content blobs or xattrs") {
    Bytes raw;
    ByteWriter w(raw);
    w.raw(as_bytes(std::string_view("KHT")));
    w.u8(1);
    w.varint(std::uint64_t{1} << 63);
    REQUIRE_FALSE(Tree::decode(raw, "tree T"));

    Tree t;
    t.nodes = {file_node("f", Id{}, 1)};
    Bytes good = t.encode();
    // The content count sits just before the single 32-byte ID and has_subtree.
    Bytes huge_content(good.begin(), good.end() - 1 - 32 - 1);
    ByteWriter(huge_content).varint(std::uint64_t{1} << 63);
    auto r = Tree::decode(huge_content, "tree T");
    REQUIRE_FALSE(r);
    REQUIRE(r.error().message().find("tree T") != std::string::npos);
  }
  SECTION("an index file claiming 2^63 packs or blobs") {
    Bytes raw;
    ByteWriter w(raw);
    w.u8(1);
    w.varint(0);
    w.varint(std::uint64_t{1} << 63);
    REQUIRE_FALSE(IndexFile::decode(raw, "index/I"));
    Bytes one;
    ByteWriter w1(one);
    w1.u8(1);
    w1.varint(0);
    w1.varint(1);
    w1.raw(Id{}.bytes);
    w1.varint(std::uint64_t{1} << 63);
    REQUIRE_FALSE(IndexFile::decode(one, "index/I"));
  }
  SECTION("a sealed object declaring 2^62 bytes of content") {
    Bytes payload;
    ByteWriter(payload).varint(std::uint64_t{1} << 62);
    Bytes file{1, 1};
    std::string ad = "kho:index:";
    ad += static_cast<char>(1);
    ad += static_cast<char>(1);
    crypto::seal_append(keys.encryption, payload, as_bytes(ad), file);
    auto r = open_object(keys, backend::ObjectType::index, file, "index/I");
    REQUIRE_FALSE(r);
    REQUIRE(r.error().message().find("index/I") != std::string::npos);
  }
}

// Round trips and truncation handling of the repository's encodings.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>

#include "kho/backend/local/local_backend.hpp"
#include "kho/crypto/crypto.hpp"
#include "kho/repo/config.hpp"
#include "kho/repo/index.hpp"
#include "kho/repo/keys.hpp"
#include "kho/repo/pack.hpp"
#include "kho/repo/sealed_object.hpp"
#include "kho/repo/snapshot.hpp"
#include "kho/repo/tree.hpp"
#include "scoped_temp_dir.hpp"

using namespace kho;
using namespace kho::repo;

namespace {

Id make_id(std::uint8_t seed) {
  Id id;
  for (std::size_t i = 0; i < Id::k_size; ++i) id.bytes[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return id;
}

Bytes random_bytes(std::size_t n) {
  Bytes b(n);
  crypto::random_bytes(b);
  return b;
}

Tree sample_tree() {
  Tree t;
  Node dir;
  dir.name = "docs";
  dir.type = FileType::dir;
  dir.mode = 0755;
  dir.subtree = make_id(1);
  dir.mtime_ns = 1700000000123456789;
  Node file;
  file.name = "hồ sơ Tết.txt";
  file.type = FileType::file;
  file.mode = 04755;
  file.uid = 1000;
  file.gid = 1000;
  file.user = "kho";
  file.group = "kho";
  file.size = 3 * 1024 * 1024;
  file.mtime_ns = -5;  // before 1970
  file.ctime_ns = 1700000000000000001;
  file.inode = 1234567;
  file.device = 2049;
  file.nlink = 3;
  file.content = {make_id(2), make_id(3), make_id(2)};
  file.xattrs = {{"user.kho", Bytes{'v', 0, 'x'}}};
  Node link;
  link.name = "link";
  link.type = FileType::symlink;
  link.mode = 0777;
  link.link_target = "../nowhere";
  t.nodes = {dir, file, link};
  std::sort(t.nodes.begin(), t.nodes.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return t;
}

}  // namespace

TEST_CASE("A tree survives encoding and decoding unchanged") {
  Tree t = sample_tree();
  Bytes enc = t.encode();
  auto dec = Tree::decode(enc, "tree");
  REQUIRE(dec);
  REQUIRE(dec->nodes == t.nodes);
  REQUIRE(dec->encode() == enc);  // deterministic
}

TEST_CASE("A tree of nodes as small as they encode survives encoding and decoding") {
  // One-byte names and every field zero or empty: an archive made reproducibly
  // (owner 0 without names, times 0) imports as such empty files.
  Tree t;
  for (char c : std::string("abcde")) {
    Node n;
    n.name = std::string(1, c);
    t.nodes.push_back(n);
  }
  Bytes enc = t.encode();
  REQUIRE(enc.size() == 3 + 1 + 1 + 5 * 19);
  auto dec = Tree::decode(enc, "tree");
  REQUIRE(dec);
  CHECK(dec->nodes == t.nodes);
  // One node fewer than the count says is still refused.
  enc[4] = 6;
  CHECK_FALSE(Tree::decode(enc, "tree"));
}

TEST_CASE("Every truncation of a tree is rejected cleanly") {
  Bytes enc = sample_tree().encode();
  for (std::size_t n = 0; n < enc.size(); ++n) {
    auto dec = Tree::decode(ByteSpan(enc.data(), n), "tree");
    REQUIRE_FALSE(dec);
    REQUIRE(dec.error().code() == Errc::corruption);
  }
}

TEST_CASE("Trees naming paths outside their directory are rejected") {
  const std::vector<std::string> bad_names = {"..", ".", "a/b", "/etc", std::string("a\0b", 3), ""};
  for (const auto& bad : bad_names) {
    Tree t;
    Node n;
    n.name = bad;
    n.type = FileType::file;
    t.nodes = {n};
    auto dec = Tree::decode(t.encode(), "tree");
    REQUIRE_FALSE(dec);
  }
  // Duplicate and unsorted names too.
  Tree t;
  Node a;
  a.name = "b";
  Node b;
  b.name = "a";
  t.nodes = {a, b};
  REQUIRE_FALSE(Tree::decode(t.encode(), "tree"));
  t.nodes = {b, b};
  REQUIRE_FALSE(Tree::decode(t.encode(), "tree"));
}

TEST_CASE("A pack's header lists its blobs and authenticates them") {
  crypto::init();
  MasterKeys keys = MasterKeys::generate();
  RepoConfig config;
  kho::test::ScopedTempDir tmp("kho-pack");
  backend::LocalBackend repo(tmp / "repo");
  REQUIRE(repo.create());
  auto out = repo.begin_save(backend::ObjectType::data, 0);
  REQUIRE(out);
  PackWriter w(std::move(*out));
  // Small blobs gather in the writer's buffer; the 600 KiB one goes straight to the file.
  std::vector<Bytes> raws = {random_bytes(1000), Bytes(50000, 'a'), random_bytes(10), random_bytes(600 * 1024),
                             random_bytes(300)};
  for (std::size_t i = 0; i < raws.size(); ++i) {
    Id id = crypto::keyed_hash(keys.id, raws[i]);
    REQUIRE(w.add(seal_blob(keys, config, i == 2 ? BlobType::tree : BlobType::data, id, raws[i])));
  }
  auto pack_id = w.finish(keys);
  REQUIRE(pack_id);
  auto stored = repo.load(backend::Handle{backend::ObjectType::data, pack_id->hex()}, 0, 0);
  REQUIRE(stored);
  const Bytes pack = std::move(*stored);
  REQUIRE(*pack_id == crypto::sha256(pack));
  auto blobs = parse_pack_header(keys, pack, pack.size(), "pack");
  REQUIRE(blobs);
  REQUIRE(blobs->size() == raws.size());
  REQUIRE((*blobs)[1].compression == 1);  // the compressible one
  REQUIRE((*blobs)[1].stored_length < 50000);
  REQUIRE((*blobs)[0].compression == 0);  // random data does not shrink
  for (std::size_t i = 0; i < raws.size(); ++i) {
    const auto& b = (*blobs)[i];
    auto raw = open_blob(keys, b, ByteSpan(pack.data() + b.offset, b.stored_length), "blob");
    REQUIRE(raw);
    REQUIRE(*raw == raws[i]);
  }
  SECTION("blobs open in place, compressed or not, to the same content") {
    Bytes copy = pack;
    for (std::size_t i = 0; i < raws.size(); ++i) {
      const auto& b = (*blobs)[i];
      auto raw = open_blob_in_place(keys, b, std::span<std::uint8_t>(copy.data() + b.offset, b.stored_length), "blob");
      REQUIRE(raw);
      CHECK(Bytes(raw->begin(), raw->end()) == raws[i]);
    }
  }
  SECTION("a flipped byte in a blob is detected") {
    const auto& b = (*blobs)[1];
    Bytes copy = pack;
    copy[b.offset + 30] ^= 1;
    REQUIRE_FALSE(open_blob(keys, b, ByteSpan(copy.data() + b.offset, b.stored_length), "blob"));
    auto in_place =
        open_blob_in_place(keys, b, std::span<std::uint8_t>(copy.data() + b.offset, b.stored_length), "blob");
    REQUIRE_FALSE(in_place);
    CHECK(in_place.error().code() == Errc::corruption);
  }
  SECTION("a blob recorded shorter than its seal is refused, not read past") {
    PackedBlob b = (*blobs)[2];
    Bytes copy = pack;
    for (std::uint32_t length : {0u, 1u, static_cast<std::uint32_t>(crypto::k_seal_overhead - 1)}) {
      b.stored_length = length;
      auto scratch = open_blob(keys, b, ByteSpan(copy.data() + b.offset, length), "blob");
      auto in_place = open_blob_in_place(keys, b, std::span<std::uint8_t>(copy.data() + b.offset, length), "blob");
      REQUIRE_FALSE(scratch);
      REQUIRE_FALSE(in_place);
      CHECK(scratch.error().message().find("too short") != std::string::npos);
      CHECK(in_place.error().code() == Errc::corruption);
    }
    CHECK(copy == pack);
  }
  SECTION("a blob passed off under another ID is detected") {
    PackedBlob b = (*blobs)[0];
    b.id = make_id(9);
    REQUIRE_FALSE(open_blob(keys, b, ByteSpan(pack.data() + b.offset, b.stored_length), "blob"));
  }
  SECTION("every truncation of the pack is rejected") {
    for (std::size_t n = 0; n < pack.size(); n += 97) {
      ByteSpan tail(pack.data(), n);
      REQUIRE_FALSE(parse_pack_header(keys, tail, n, "pack"));
    }
  }
  SECTION("another key cannot read the header") {
    MasterKeys other = MasterKeys::generate();
    REQUIRE_FALSE(parse_pack_header(other, pack, pack.size(), "pack"));
  }
}

TEST_CASE("Padmé padding hides exact sizes and still round-trips") {
  crypto::init();
  REQUIRE(padme_length(0) == 0);
  REQUIRE(padme_length(1000) >= 1000);
  REQUIRE(padme_length(1000000) - 1000000 < 1000000 / 10);
  MasterKeys keys = MasterKeys::generate();
  RepoConfig config;
  config.padding = Padding::padme;
  config.compression_level = 0;
  Bytes raw = random_bytes(100003);
  Id id = crypto::keyed_hash(keys.id, raw);
  SealedBlob s = seal_blob(keys, config, BlobType::data, id, raw);
  REQUIRE(s.bytes.size() - crypto::k_seal_overhead == padme_length(raw.size()));
  PackedBlob b{BlobType::data, s.compression, 0, static_cast<std::uint32_t>(s.bytes.size()), s.raw_length, id};
  auto back = open_blob(keys, b, s.bytes, "blob");
  REQUIRE(back);
  REQUIRE(*back == raw);
}

TEST_CASE("Index files round-trip and reject every truncation") {
  IndexFile f;
  f.superseded = {make_id(7)};
  IndexPack p;
  p.pack_id = make_id(4);
  p.blobs = {{BlobType::data, 1, 0, 100, 200, make_id(5)}, {BlobType::tree, 0, 100, 60, 20, make_id(6)}};
  f.packs = {p};
  Bytes enc = f.encode();
  auto dec = IndexFile::decode(enc, "index");
  REQUIRE(dec);
  REQUIRE(dec->superseded == f.superseded);
  REQUIRE(dec->packs.size() == 1);
  REQUIRE(dec->packs[0].blobs.size() == 2);
  REQUIRE(dec->packs[0].blobs[1].id == make_id(6));
  REQUIRE(dec->packs[0].blobs[1].type == BlobType::tree);
  for (std::size_t n = 0; n < enc.size(); ++n) REQUIRE_FALSE(IndexFile::decode(ByteSpan(enc.data(), n), "index"));
}

TEST_CASE("The master index finds blobs by type and ID and dedups claims") {
  MasterIndex idx;
  std::vector<PackedBlob> blobs;
  for (std::uint8_t i = 0; i < 200; ++i) blobs.push_back({BlobType::data, 0, i * 100u, 100, 90, make_id(i)});
  idx.add_pack(make_id(250), blobs);
  REQUIRE(idx.has(BlobType::data, make_id(17)));
  REQUIRE_FALSE(idx.has(BlobType::tree, make_id(17)));
  idx.merge();
  auto loc = idx.find(BlobType::data, make_id(42));
  REQUIRE(loc);
  REQUIRE(loc->pack_id == make_id(250));
  REQUIRE(loc->blob.offset == 4200);
  REQUIRE(loc->blob.raw_length == 90);
  REQUIRE_FALSE(idx.claim(BlobType::data, make_id(42)));  // already stored
  REQUIRE(idx.claim(BlobType::data, make_id(201)));
  REQUIRE_FALSE(idx.claim(BlobType::data, make_id(201)));  // claimed once only
  REQUIRE(idx.claim(BlobType::tree, make_id(201)));        // other type, other blob
  REQUIRE(idx.blob_count() == 200);
}

TEST_CASE("The master index finds every blob of a large index, loaded in bulk or added, and no other") {
  // Random IDs spread over the look-up table; the skewed ones share their first
  // eight bytes, so they all fall in one run of it.
  std::mt19937_64 rng(7);
  auto random_id = [&rng] {
    Id id;
    for (auto& b : id.bytes) b = static_cast<std::uint8_t>(rng());
    return id;
  };
  std::vector<Id> ids;
  for (int i = 0; i < 20000; ++i) ids.push_back(random_id());
  for (int i = 0; i < 300; ++i) {
    Id id = random_id();
    std::fill(id.bytes.begin(), id.bytes.begin() + 8, 0xab);
    ids.push_back(id);
  }
  ids.push_back(Id{});  // all zeros: the first run
  Id ones;
  ones.bytes.fill(0xff);  // the last run
  ids.push_back(ones);

  MasterIndex idx;
  for (std::size_t p = 0; p < ids.size(); p += 100) {
    std::vector<PackedBlob> blobs;
    for (std::size_t i = p; i < std::min(ids.size(), p + 100); ++i)
      blobs.push_back({BlobType::data, 0, static_cast<std::uint32_t>(i), 10, 10, ids[i]});
    idx.bulk_add(random_id(), blobs);
  }
  idx.merge();
  // Added after loading: a tree blob with a data blob's ID, and new data blobs.
  idx.add_pack(random_id(), {{BlobType::tree, 0, 7, 10, 10, ids[5]}});
  std::vector<Id> added;
  for (int i = 0; i < 500; ++i) added.push_back(random_id());
  std::vector<PackedBlob> blobs;
  for (const Id& id : added) blobs.push_back({BlobType::data, 0, 1, 10, 10, id});
  idx.add_pack(random_id(), blobs);

  for (int round = 0; round < 2; ++round) {  // before and after the additions are merged
    for (std::size_t i = 0; i < ids.size(); ++i) {
      auto loc = idx.find(BlobType::data, ids[i]);
      REQUIRE(loc);
      REQUIRE(loc->blob.offset == i);
    }
    for (const Id& id : added) REQUIRE(idx.has(BlobType::data, id));
    REQUIRE(idx.find(BlobType::tree, ids[5])->blob.offset == 7);
    REQUIRE_FALSE(idx.has(BlobType::tree, ids[6]));
    for (int i = 0; i < 2000; ++i) REQUIRE_FALSE(idx.has(BlobType::data, random_id()));
    Id near = ids[20000];  // a skewed ID with its last byte changed
    near.bytes[31] ^= 1;
    REQUIRE_FALSE(idx.has(BlobType::data, near));
    idx.merge();
  }
  REQUIRE(idx.blob_count() == ids.size() + added.size() + 1);
}

TEST_CASE("Sealed objects are bound to their type and key") {
  crypto::init();
  MasterKeys keys = MasterKeys::generate();
  std::string text = R"({"hello": "xin chào"})";
  Bytes sealed = seal_object(keys, backend::ObjectType::snapshot, as_bytes(text), true);
  auto back = open_object(keys, backend::ObjectType::snapshot, sealed, "snapshot");
  REQUIRE(back);
  REQUIRE(as_string_view(*back) == text);
  REQUIRE_FALSE(open_object(keys, backend::ObjectType::index, sealed, "x"));
  REQUIRE_FALSE(open_object(MasterKeys::generate(), backend::ObjectType::snapshot, sealed, "x"));
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    Bytes copy = sealed;
    copy[i] ^= 0x40;
    REQUIRE_FALSE(open_object(keys, backend::ObjectType::snapshot, copy, "x"));
  }
  for (std::size_t n = 0; n < sealed.size(); ++n)
    REQUIRE_FALSE(open_object(keys, backend::ObjectType::snapshot, ByteSpan(sealed.data(), n), "x"));
}

TEST_CASE("Key files open with the right password only") {
  crypto::init();
  setenv("KHO_KDF_FAST", "1", 1);
  MasterKeys keys = MasterKeys::generate();
  auto file = make_key_file(keys, SecretString("correct horse"), crypto::default_kdf_params());
  REQUIRE(file);
  auto opened = open_key_file(*file, SecretString("correct horse"), "key");
  REQUIRE(opened);
  REQUIRE(opened->encryption.span().size() == 32);
  REQUIRE(std::equal(opened->id.span().begin(), opened->id.span().end(), keys.id.span().begin()));
  auto wrong = open_key_file(*file, SecretString("wrong"), "key");
  REQUIRE_FALSE(wrong);
  REQUIRE(wrong.error().code() == Errc::wrong_password);
  std::string text(file->begin(), file->end());
  auto pos = text.find("\"memlimit\": ");
  REQUIRE(pos != std::string::npos);
  text.replace(pos, 12, "\"memlimit\": 99999999999");  // a hostile KDF cost is refused, not attempted
  auto hostile = open_key_file(as_bytes(text), SecretString("correct horse"), "key");
  REQUIRE_FALSE(hostile);
  REQUIRE(hostile.error().code() == Errc::corruption);
}

TEST_CASE("Snapshots round-trip through JSON") {
  Snapshot s;
  s.time = 1767225600123456789;
  s.tree = make_id(3);
  s.paths = {"/srv/portal", "/etc/nginx"};
  s.host = "portal-01";
  s.tags = {"nightly", "tết"};
  s.parent = make_id(4);
  s.incomplete = true;
  s.errors = {{"/srv/portal/locked.txt", "permission denied"}};
  s.summary.files_new = 3;
  s.summary.data_added = 12345;
  auto back = Snapshot::from_json(as_bytes(s.to_json()), "snapshot");
  REQUIRE(back);
  REQUIRE(back->time == s.time);
  REQUIRE(back->tree == s.tree);
  REQUIRE(back->paths == s.paths);
  REQUIRE(back->tags == s.tags);
  REQUIRE(back->parent == s.parent);
  REQUIRE(back->incomplete);
  REQUIRE(back->errors.size() == 1);
  REQUIRE(back->summary.data_added == 12345);
  REQUIRE_FALSE(Snapshot::from_json(as_bytes(std::string("{\"version\":1}")), "snapshot"));
}

TEST_CASE("Integer fields that are floats or out of range make an object malformed") {
  Snapshot s;
  s.tree = make_id(3);
  const std::string good = s.to_json();
  REQUIRE(Snapshot::from_json(as_bytes(good), "snapshot"));
  for (const char* uid : {"1e300", "-1", "4294967296", "1.5"}) {
    std::string bad = good;
    bad.replace(bad.find("\"uid\":0"), 7, std::string("\"uid\":") + uid);
    CAPTURE(uid);
    REQUIRE_FALSE(Snapshot::from_json(as_bytes(bad), "snapshot"));
  }
  RepoConfig c;
  c.id = make_id(1);
  std::string bad = c.to_json();
  bad.replace(bad.find("\"pack_size\": 16777216"), 22, "\"pack_size\": 4311744512");  // 4 GiB + 16 MiB
  REQUIRE_FALSE(RepoConfig::from_json(as_bytes(bad), "config"));
}

TEST_CASE("The config round-trips and rejects out-of-range parameters") {
  RepoConfig c;
  c.id = make_id(1);
  auto back = RepoConfig::from_json(as_bytes(c.to_json()), "config");
  REQUIRE(back);
  REQUIRE(back->id == c.id);
  REQUIRE(back->chunker.avg_size == c.chunker.avg_size);
  std::string bad = c.to_json();
  bad.replace(bad.find("\"avg_size\": 1048576"), 19, "\"avg_size\": 1000000");
  REQUIRE_FALSE(RepoConfig::from_json(as_bytes(bad), "config"));
}

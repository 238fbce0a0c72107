#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kho/engine/anomaly.hpp"

using namespace kho;
using namespace kho::engine;
using namespace std::string_view_literals;

namespace {

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// `prefix` followed by random bytes up to `n`: the head of a signed
// compressed format (its body is high entropy) or of an encrypted file.
Bytes signed_head(std::string_view prefix, std::uint64_t seed, std::size_t n = k_anomaly_head_bytes) {
  Bytes out = bytes_of(prefix);
  Bytes rest = random_bytes(n > out.size() ? n - out.size() : 0, seed);
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

Bytes salted_head(std::uint64_t seed) { return signed_head("Salted__", seed); }
Bytes jpeg_head(std::uint64_t seed) {
  return signed_head("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01"sv, seed);
}
Bytes zip_head(std::uint64_t seed) {
  return signed_head("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\x13\x00[Content_Types].xml"sv, seed);
}
Bytes pdf_head(std::uint64_t seed) {
  return signed_head("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 3012 /Filter /FlateDecode >>\nstream\n"sv, seed);
}
Bytes pgdump_head(std::uint64_t seed) { return signed_head("PGDMP\x01\x0e\x00\x04\x08\x08\x01\x01"sv, seed); }

// The first bytes of a file on this machine, or nothing when there is none.
Bytes read_head(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  Bytes out(k_anomaly_head_bytes);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return out;
}

// The first file below `root` whose name passes `match` and whose head has at least `min_size` bytes.
Bytes find_head(const std::filesystem::path& root, const std::function<bool(const std::string&)>& match,
                std::size_t min_size) {
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(root, std::filesystem::directory_options::skip_permission_denied,
                                                   ec);
  int visited = 0;
  for (; !ec && it != std::filesystem::recursive_directory_iterator() && visited < 20000; it.increment(ec), ++visited) {
    if (!it->is_regular_file(ec) || !match(it->path().filename().string())) continue;
    Bytes head = read_head(it->path());
    if (head.size() >= min_size) return head;
  }
  return {};
}

bool ends_with(const std::string& s, std::string_view suffix) { return s.ends_with(suffix); }

const std::string k_lorem =
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated\n"
    "documentation files (the \"Software\"), to deal in the Software without restriction, including without\n"
    "limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies.\n";

Bytes text_head() {
  static const Bytes head = [] {
    Bytes h = find_head(
        "/usr/share/doc", [](const std::string& n) { return n == "copyright"; }, 2048);
    if (h.empty()) {
      std::string s;
      while (s.size() < k_anomaly_head_bytes) s += k_lorem;
      h = bytes_of(s.substr(0, k_anomaly_head_bytes));
    }
    return h;
  }();
  return head;
}

Bytes vietnamese_head() {
  std::string s;
  while (s.size() < 3000)
    s += "Báo cáo tài chính quý 3: doanh thu tăng 12%, chi phí vận hành giảm nhờ tối ưu kho hàng.\r\n"
         "Tất cả hồ sơ được lưu trữ tại máy chủ ở Hà Nội và Đà Nẵng; người phụ trách: Nguyễn Thị Hương.\r\n";
  return bytes_of(s);
}

Bytes elf_head() {
  static const Bytes head = [] {
    Bytes h = read_head("/proc/self/exe");
    if (h.size() < 512)
      h = find_head(
          "/usr/lib", [](const std::string& n) { return n.find(".so") != std::string::npos; }, 4096);
    return h;
  }();
  return head;
}

std::string ransom_text() {
  return "!!! YOUR FILES HAVE BEEN ENCRYPTED !!!\r\n"
         "All your documents, photos and databases were encrypted with a strong algorithm and a unique key.\r\n"
         "To decrypt them you need our private key. Send 0.5 BTC to the bitcoin wallet below and write to us\r\n"
         "through the Tor Browser: http://lockbitsupp2xqk3gf.onion/chat  Your ID: 7f3a9c.\r\n"
         "Do not rename the files or try third-party tools: they will be lost forever.\r\n";
}

std::string vietnamese_ransom_text() {
  return "TẤT CẢ DỮ LIỆU CỦA BẠN ĐÃ BỊ MÃ HÓA!\r\n"
         "Mọi tệp tin của công ty đã bị mã hóa. Để giải mã, hãy thanh toán 0.3 bitcoin vào ví sau đây.\r\n"
         "Liên hệ qua Tor Browser. Không tự ý đổi tên tệp.\r\n";
}

// A history of `n` quiet snapshots: the same size, `changed` files changed each.
std::vector<SnapshotHistory> quiet_history(std::uint64_t files, std::uint64_t bytes, std::uint64_t changed, int n = 7) {
  return std::vector<SnapshotHistory>(n, SnapshotHistory{files, bytes, changed / 4, changed});
}

// Builds an AnomalyInput the way the backup does: files read (new or
// modified) with their heads, parent entries gone, and the totals.
struct Scenario {
  AnomalyInput in;
  std::uint64_t parent_files = 0;

  explicit Scenario(std::uint64_t parent, bool has_parent = true) : parent_files(parent) { in.has_parent = has_parent; }
  Scenario& modified(std::string path, Bytes head, std::uint64_t size = 0) {
    const auto n = head.size();
    in.seen.push_back({std::move(path), true, size ? size : n * 30, std::move(head)});
    return *this;
  }
  Scenario& added(std::string path, Bytes head, std::uint64_t size = 0) {
    const auto n = head.size();
    in.seen.push_back({std::move(path), false, size ? size : n * 30, std::move(head)});
    return *this;
  }
  Scenario& removed(std::string path) {
    in.gone.push_back({std::move(path), false});
    return *this;
  }
  AnomalyInput done(std::uint64_t avg_file_bytes = 500'000) {
    std::uint64_t n_new = 0, n_modified = 0, n_gone = 0;
    for (const auto& f : in.seen) (f.modified ? n_modified : n_new) += 1;
    for (const auto& g : in.gone) n_gone += g.is_dir ? 0 : 1;
    in.total_files = parent_files - n_gone + n_new;
    in.files_unmodified = in.total_files - n_new - n_modified;
    in.total_bytes = in.total_files * avg_file_bytes;
    for (const auto& f : in.seen) in.new_raw_bytes += f.size;
    in.new_stored_bytes = in.new_raw_bytes * 6 / 10;
    return in;
  }
};

std::string folder(int i) { return "/srv/share/dept" + std::to_string(i % 10) + "/"; }

const char* doc_ext(int i) {
  static const char* exts[] = {"docx", "pdf", "xlsx", "txt", "jpg", "csv"};
  return exts[i % 6];
}

Bytes head_for(const std::string& ext, std::uint64_t seed) {
  if (ext == "docx" || ext == "xlsx") return zip_head(seed);
  if (ext == "pdf") return pdf_head(seed);
  if (ext == "jpg") return jpeg_head(seed);
  return text_head();
}

bool has_reason(const AnomalyResult& r, std::string_view words) {
  for (const auto& reason : r.reasons)
    if (reason.find(words) != std::string::npos) return true;
  return false;
}

std::string describe(const AnomalyResult& r) { return r.to_json().dump(2); }

}  // namespace

TEST_CASE("entropy_bits measures bits per byte", "[engine][anomaly]") {
  CHECK(entropy_bits({}) == 0.0);
  CHECK(entropy_bits(bytes_of(std::string(1000, 'a'))) == 0.0);
  Bytes all;
  for (int r = 0; r < 16; ++r)
    for (int b = 0; b < 256; ++b) all.push_back(static_cast<std::uint8_t>(b));
  CHECK(entropy_bits(all) == Approx(8.0));
  CHECK(entropy_bits(bytes_of("abababab")) == Approx(1.0));
  CHECK(entropy_bits(random_bytes(4096, 1)) > 7.9);
  CHECK(entropy_bits(random_bytes(1 << 20, 2)) > 7.99);  // longer than a head
  CHECK(entropy_bits(text_head()) < 6.0);
  CHECK(entropy_bits(vietnamese_head()) < 6.5);
}

TEST_CASE("looks_encrypted: random and openssl output yes, formats and text no", "[engine][anomaly]") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    INFO("seed " << seed);
    for (std::size_t n : {256u, 300u, 512u, 1000u, 2048u, 4096u}) {
      INFO("size " << n);
      CHECK(looks_encrypted(random_bytes(n, seed * 1000 + n)));
    }
    CHECK(looks_encrypted(salted_head(seed)));
    CHECK(looks_encrypted(signed_head("Salted__", seed, 40)));  // a tiny openssl file
  }
  // Too short to tell.
  CHECK_FALSE(looks_encrypted(random_bytes(100, 7)));
  CHECK_FALSE(looks_encrypted({}));

  // Text, UTF-8 Vietnamese, executables and signed high-entropy formats.
  CHECK_FALSE(looks_encrypted(text_head()));
  CHECK_FALSE(looks_encrypted(vietnamese_head()));
  CHECK_FALSE(looks_encrypted(elf_head()));
  CHECK_FALSE(looks_encrypted(jpeg_head(3)));
  CHECK_FALSE(looks_encrypted(zip_head(3)));
  CHECK_FALSE(looks_encrypted(pdf_head(3)));
  CHECK_FALSE(looks_encrypted(pgdump_head(3)));
  static const std::string_view signatures[] = {"\x1f\x8b\x08\x00"sv,
                                                "\x28\xb5\x2f\xfd"sv,
                                                "\xfd\x37\x7a\x58\x5a\x00"sv,
                                                "BZh91AY&SY"sv,
                                                "7z\xbc\xaf\x27\x1c"sv,
                                                "Rar!\x1a\x07"sv,
                                                "\x89PNG\r\n\x1a\n"sv,
                                                "GIF89a"sv,
                                                "RIFF\x10\x00\x00\x00WEBPVP8 "sv,
                                                "ID3\x04"sv,
                                                "\xff\xfb\x90\x64"sv,
                                                "\x00\x00\x00\x20"
                                                "ftypisom"sv,
                                                "OggS"sv,
                                                "fLaC"sv,
                                                "MSCF"sv,
                                                "!<arch>\n"sv,
                                                "\xed\xab\xee\xdb"sv,
                                                "SQLite format 3\x00"sv,
                                                "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"sv,
                                                "wOFF"sv,
                                                "wOF2"sv};
  for (auto sig : signatures) {
    INFO(sig);
    CHECK_FALSE(looks_encrypted(signed_head(sig, 11)));
  }
  // Text encodings of random data are not encrypted files.
  Bytes hex;
  for (auto b : random_bytes(2048, 5)) {
    static const char digits[] = "0123456789abcdef";
    hex.push_back(static_cast<std::uint8_t>(digits[b >> 4]));
    hex.push_back(static_cast<std::uint8_t>(digits[b & 15]));
  }
  CHECK_FALSE(looks_encrypted(hex));
  Bytes b64;
  for (auto b : random_bytes(4096, 6)) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    b64.push_back(static_cast<std::uint8_t>(alphabet[b & 63]));
  }
  CHECK_FALSE(looks_encrypted(b64));
}

TEST_CASE("looks_encrypted on files of this machine", "[engine][anomaly]") {
  // Every Debian system has gzip changelogs under /usr/share/doc and shared
  // libraries under /usr/lib: not finding them is a failure, not a skip.
  Bytes gz = find_head(
      "/usr/share/doc", [](const std::string& n) { return ends_with(n, ".gz"); }, 1024);
  Bytes so = find_head(
      "/usr/lib", [](const std::string& n) { return n.find(".so") != std::string::npos; }, 4096);
  REQUIRE_FALSE(gz.empty());
  REQUIRE_FALSE(so.empty());
  CHECK(entropy_bits(gz) > 7.0);  // compressed: high entropy, but signed
  CHECK_FALSE(looks_encrypted(gz));
  CHECK(type_mismatch("/var/log/syslog.2.gz", gz).empty());
  CHECK_FALSE(looks_encrypted(so));
  // A complete 1x1 PNG image (icons are not on every machine).
  const Bytes png = {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48,
                     0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
                     0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78,
                     0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00,
                     0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};
  CHECK_FALSE(looks_encrypted(png));
  CHECK(type_mismatch("/home/a/icon.png", png).empty());
  CHECK_FALSE(type_mismatch("/home/a/icon.pdf", png).empty());
  CHECK_FALSE(looks_encrypted(text_head()));
  CHECK(type_mismatch("/usr/share/doc/x/copyright.txt", text_head()).empty());
}

TEST_CASE("type_mismatch: known extensions must match their content", "[engine][anomaly]") {
  // Each verdict from the head itself, and from the facts a backup keeps of it
  // (worked out as the file is read): both must agree.
  auto type_mismatch = [](std::string_view path, ByteSpan head) {
    const std::string direct = kho::engine::type_mismatch(path, head);
    const FileSeen seen(std::string(path), true, head.size(), head);
    CHECK(facts_type_mismatch(path, seen.head) == direct);
    return direct;
  };
  // Matching content.
  CHECK(type_mismatch("/d/report.pdf", pdf_head(1)).empty());
  CHECK(type_mismatch("/d/report.docx", zip_head(1)).empty());
  CHECK(type_mismatch("/d/budget.xlsx", zip_head(2)).empty());
  CHECK(type_mismatch("/d/slides.odp", zip_head(2)).empty());
  CHECK(type_mismatch("/d/protected.docx", signed_head("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"sv, 2)).empty());
  CHECK(type_mismatch("/d/old.doc", signed_head("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"sv, 2)).empty());
  CHECK(type_mismatch("/d/photo.JPG", jpeg_head(1)).empty());
  CHECK(type_mismatch("/d/photo.jpg", signed_head("\x89PNG\r\n\x1a\n"sv, 1)).empty());  // an image all the same
  CHECK(type_mismatch("/d/a.tar.gz", signed_head("\x1f\x8b\x08\x00"sv, 1)).empty());
  CHECK(type_mismatch("/d/a.zst", signed_head("\x28\xb5\x2f\xfd"sv, 1)).empty());
  CHECK(type_mismatch("/d/a.xz", signed_head("\xfd\x37\x7a\x58\x5a\x00"sv, 1)).empty());
  CHECK(type_mismatch("/d/a.bz2", signed_head("BZh91AY&SY"sv, 1)).empty());
  CHECK(type_mismatch("/d/a.7z", signed_head("7z\xbc\xaf\x27\x1c"sv, 1)).empty());
  CHECK(type_mismatch("/d/a.rar", signed_head("Rar!\x1a\x07"sv, 1)).empty());
  CHECK(type_mismatch("/d/app.sqlite", signed_head("SQLite format 3\x00"sv, 1)).empty());
  CHECK(type_mismatch("/d/app.db", signed_head("SQLite format 3\x00"sv, 1)).empty());
  CHECK(type_mismatch("/backup/crm.dump", pgdump_head(1)).empty());
  CHECK(type_mismatch("/backup/crm.dump", text_head()).empty());
  CHECK(type_mismatch("/d/notes.txt", text_head()).empty());
  CHECK(type_mismatch("/d/bao-cao.txt", vietnamese_head()).empty());
  CHECK(type_mismatch("/d/bao-cao.csv", vietnamese_head()).empty());
  CHECK(type_mismatch("/d/utf16.txt", signed_head("\xff\xfeH\x00i\x00"sv, 1, 64)).empty());
  CHECK(type_mismatch("/etc/app.conf", bytes_of("key = value\n\tother = 1\r\n")).empty());
  CHECK(type_mismatch("/d/sheet.csv", zip_head(4)).empty());            // really an .xlsx: a mistake, not an attack
  CHECK(type_mismatch("/var/lib/kafka/0000.log", elf_head()).empty());  // binary logs are fine
  Bytes zeros(4096, 0);
  CHECK(type_mismatch("/d/preallocated.txt", zeros).empty());

  // Mismatches name the type.
  CHECK(type_mismatch("/d/report.pdf", salted_head(1)) == ".pdf without the %PDF header");
  CHECK(type_mismatch("/d/report.docx", random_bytes(4096, 1)) == ".docx without the zip header");
  CHECK(type_mismatch("/d/old.doc", random_bytes(4096, 2)) == ".doc without the OLE header");
  CHECK(type_mismatch("/d/photo.jpeg", random_bytes(4096, 3)) == ".jpeg that is not an image");
  CHECK(type_mismatch("/d/notes.txt", salted_head(4)) == ".txt that is not text");
  CHECK(type_mismatch("/d/a.gz", random_bytes(4096, 5)) == ".gz without the gzip header");
  CHECK(type_mismatch("/d/app.sqlite", random_bytes(4096, 6)) == ".sqlite without the SQLite header");
  CHECK(type_mismatch("/d/app.db", random_bytes(4096, 6)) == ".db that looks encrypted");
  CHECK(type_mismatch("/backup/crm.dump", salted_head(7)) == ".dump that looks encrypted");
  CHECK(type_mismatch("/var/log/app.log", salted_head(8)) == ".log that looks encrypted");

  // No opinion: unknown extensions, empty and tiny files.
  CHECK(type_mismatch("/d/data.bin", random_bytes(4096, 9)).empty());
  CHECK(type_mismatch("/d/report.docx.locked", random_bytes(4096, 9)).empty());
  CHECK(type_mismatch("/d/Makefile", random_bytes(4096, 9)).empty());
  CHECK(type_mismatch("/d/empty.pdf", {}).empty());
  CHECK(type_mismatch("/d/.bashrc", random_bytes(4096, 9)).empty());
}

TEST_CASE("looks_like_ransom_note: note names and ransom demands, not ordinary readmes", "[engine][anomaly]") {
  const Bytes note = bytes_of(ransom_text());
  for (auto name : {"README_TO_DECRYPT.txt", "HOW_TO_RESTORE_FILES.html", "DECRYPT-FILES.txt", "_readme.txt",
                    "RESTORE_MY_FILES.hta", "Restore-My-Files.txt", "RANSOM_NOTE.txt", "!!!_HOW_TO_DECRYPT_!!!.txt",
                    "READ_ME_TO_RESTORE_FILES.txt", "your_files_are_encrypted.html", "HOW_TO_BACK_FILES.html",
                    "DECRYPT_INSTRUCTIONS.url"}) {
    INFO(name);
    CHECK(looks_like_ransom_note(std::string("/srv/share/") + name, note));
    CHECK(looks_like_ransom_note(std::string("/srv/share/") + name, bytes_of("contact us")));
  }
  // Weak names need the demand in the text.
  for (auto name : {"HOW_TO_INSTALL.txt", "INSTRUCTIONS.txt", "READ_ME.txt", "!!!IMPORTANT.txt", "recovery.txt"}) {
    INFO(name);
    CHECK(looks_like_ransom_note(std::string("/srv/") + name, note));
    CHECK_FALSE(looks_like_ransom_note(std::string("/srv/") + name, text_head()));
  }
  // Any name, when the text is a demand; in Vietnamese too.
  CHECK(looks_like_ransom_note("/srv/share/README.txt", note));
  CHECK(looks_like_ransom_note("/srv/share/info.txt", bytes_of(vietnamese_ransom_text())));
  CHECK(looks_like_ransom_note("/srv/share/THONG_BAO.txt", bytes_of(vietnamese_ransom_text())));
  // Ordinary files.
  CHECK_FALSE(looks_like_ransom_note("/srv/share/README.txt", text_head()));
  CHECK_FALSE(looks_like_ransom_note("/srv/share/README.md", note));    // not a note's extension
  CHECK_FALSE(looks_like_ransom_note("/src/crypto/decrypt.py", note));  // code
  CHECK_FALSE(looks_like_ransom_note("/srv/share/bao-cao.txt", vietnamese_head()));
  CHECK_FALSE(looks_like_ransom_note("/srv/share/report.txt", salted_head(1)));
  CHECK_FALSE(looks_like_ransom_note(
      "/srv/share/security.txt",
      bytes_of("Backups are encrypted with AES-256; the key is kept in the vault. Ask IT to decrypt a file.\n")));
}

TEST_CASE("normal change is not flagged", "[engine][anomaly]") {
  struct Case {
    const char* name;
    AnomalyInput in;
  };
  std::vector<Case> cases;

  {  // A few documents edited on a 400-file share.
    Scenario s(400);
    s.modified("/srv/share/dept1/offer.docx", zip_head(1))
        .modified("/srv/share/dept1/budget.xlsx", zip_head(2))
        .modified("/srv/share/dept2/minutes.docx", zip_head(3))
        .modified("/srv/share/dept3/contract.pdf", pdf_head(4))
        .modified("/srv/share/dept4/notes.txt", text_head());
    s.in.history = quiet_history(400, 200'000'000, 8);
    cases.push_back({"edits to a few documents", s.done()});
  }
  {  // Logs grow.
    Scenario s(400);
    s.modified("/var/log/app/app.log", text_head()).modified("/var/log/app/access.log", vietnamese_head());
    s.in.history = quiet_history(400, 200'000'000, 2);
    cases.push_back({"log growth", s.done()});
  }
  {  // New photos and archives: high entropy, but signed formats.
    Scenario s(400);
    for (int i = 0; i < 50; ++i)
      s.added(fmt::format("/srv/share/photos/2024/IMG_{:04}.jpg", i), jpeg_head(i), 4'000'000);
    for (int i = 0; i < 5; ++i) s.added(fmt::format("/srv/share/archive/project-{}.zip", i), zip_head(100 + i));
    s.in.history = quiet_history(400, 200'000'000, 8);
    auto in = s.done();
    in.new_stored_bytes = in.new_raw_bytes * 99 / 100;  // media does not compress
    cases.push_back({"new photos and zip files", in});
  }
  {  // A package upgrade rewrites 200 of 2000 binaries, and bumps library versions.
    Scenario s(2000);
    for (int i = 0; i < 200; ++i) s.modified(fmt::format("/usr/lib/x86_64-linux-gnu/libpkg{}.so.1", i), elf_head());
    for (int i = 0; i < 10; ++i) {
      s.removed(fmt::format("/usr/lib/x86_64-linux-gnu/libold{}.so.3", i));
      s.added(fmt::format("/usr/lib/x86_64-linux-gnu/libold{}.so.4", i), elf_head());
    }
    s.in.history = quiet_history(2000, 900'000'000, 20);
    cases.push_back({"package upgrade of binaries", s.done()});
  }
  {  // The nightly database dumps.
    Scenario s(400);
    s.modified("/var/backups/crm.dump", pgdump_head(9), 800'000'000)
        .modified("/var/backups/shop.sql", text_head(), 300'000'000);
    s.in.history = quiet_history(400, 2'000'000'000, 2);
    cases.push_back({"daily database dumps", s.done(5'000'000)});
  }
  {  // First backup: everything new, no parent, no history.
    Scenario s(0, false);
    for (int i = 0; i < 400; ++i) {
      std::string ext = doc_ext(i);
      s.added(folder(i) + fmt::format("file{}.{}", i, ext), head_for(ext, i));
    }
    for (int i = 0; i < 20; ++i) s.added(fmt::format("/srv/share/bin/tool{}", i), elf_head());
    // A few legitimately encrypted files: keys and a password safe export.
    for (int i = 0; i < 3; ++i) s.added(fmt::format("/srv/share/keys/secret{}.gpg", i), random_bytes(4096, 500 + i));
    auto in = s.done();
    in.new_stored_bytes = in.new_raw_bytes * 8 / 10;
    cases.push_back({"first backup", in});
  }
  {  // A folder of 100 of 1000 files deleted.
    Scenario s(1000);
    for (int i = 0; i < 100; ++i) s.removed(fmt::format("/srv/share/old-project/doc{}.docx", i));
    s.in.history = quiet_history(1000, 10'000'000'000, 20);
    cases.push_back({"large cleanup", s.done(10'000'000)});
  }
  {  // A folder moved: 300 of 1000 files gone and back under a new name.
    Scenario s(1000);
    for (int i = 0; i < 300; ++i) {
      std::string ext = doc_ext(i);
      s.removed(fmt::format("/srv/share/Projects 2023/f{}.{}", i, ext));
      s.added(fmt::format("/srv/share/archive/Projects 2023/f{}.{}", i, ext), head_for(ext, i));
    }
    s.in.history = quiet_history(1000, 5'000'000'000, 20);
    cases.push_back({"folder moved", s.done(5'000'000)});
  }
  {  // Old logs compressed: x.log -> x.log.gz.
    Scenario s(400);
    for (int i = 0; i < 50; ++i) {
      s.removed(fmt::format("/var/log/app/app-{}.log", i));
      s.added(fmt::format("/var/log/app/app-{}.log.gz", i), signed_head("\x1f\x8b\x08\x00"sv, i));
    }
    s.in.history = quiet_history(400, 200'000'000, 4);
    cases.push_back({"old logs compressed", s.done()});
  }
  {  // One encrypted container changes while a tidy-up deletes a quarter of a small share.
    Scenario s(100);
    s.modified("/home/an/vault.hc", random_bytes(4096, 77), 2'000'000'000);
    for (int i = 0; i < 25; ++i) s.removed(fmt::format("/home/an/tmp/t{}.txt", i));
    s.in.history = quiet_history(100, 3'000'000'000, 1);
    cases.push_back({"an encrypted container and a tidy-up", s.done(30'000'000)});
  }
  {  // A three-file folder where one file changed: a third of it, but no attack.
    Scenario s(3);
    s.modified("/home/an/todo.txt", random_bytes(4096, 3));
    cases.push_back({"tiny folder", s.done()});
  }

  for (const auto& c : cases) {
    INFO(c.name);
    AnomalyResult r = score_anomaly(c.in, AnomalyThresholds{});
    INFO(describe(r));
    CHECK_FALSE(r.flagged);
    CHECK(r.score < 0.4);  // well below the threshold
    CHECK(r.threshold == 0.6);
  }
}

namespace {

// 400 files in 10 folders; the first `n` of them (every folder) hit.
AnomalyInput encrypted_share(int n, bool rename, bool notes) {
  Scenario s(400);
  for (int i = 0; i < n; ++i) {
    std::string path = folder(i) + fmt::format("file{}.{}", i, doc_ext(i));
    if (rename) {
      s.removed(path);
      s.added(path + ".locked", salted_head(i));
    } else {
      s.modified(path, salted_head(i));
    }
  }
  if (notes)
    for (int d = 0; d < 10; ++d) s.added(folder(d) + "READ_ME_TO_RESTORE_FILES.txt", bytes_of(ransom_text()), 1200);
  // Two new documents in the same night.
  s.added("/srv/share/dept1/offer-v2.docx", zip_head(1)).added("/srv/share/dept2/plan-v2.txt", text_head());
  s.in.history = quiet_history(400, 200'000'000, 8);
  auto in = s.done();
  in.new_stored_bytes = in.new_raw_bytes * 1001 / 1000;  // ciphertext does not compress
  return in;
}

}  // namespace

TEST_CASE("an attack that encrypts, renames and leaves notes is flagged", "[engine][anomaly]") {
  AnomalyResult r = score_anomaly(encrypted_share(140, true, true), AnomalyThresholds{});
  INFO(describe(r));
  CHECK(r.flagged);
  CHECK(r.score >= 1.5);
  CHECK(has_reason(r, "140 files renamed to the new extension .locked"));
  CHECK(has_reason(r, "a ransom note in 10 folders (READ_ME_TO_RESTORE_FILES.txt)"));
  CHECK(has_reason(r, "look encrypted"));
  CHECK(has_reason(r, "35% of files (140 of 400) were modified, deleted or renamed (earlier snapshots: 2% typical)"));
  CHECK(has_reason(r, "the new data does not compress"));
  // Strongest first.
  REQUIRE(r.reasons.size() >= 4);
  CHECK((r.reasons[0].find("ransom note") != std::string::npos || r.reasons[0].find("renamed") != std::string::npos));
  // The worst paths first: notes, then the renamed files.
  REQUIRE(r.examples.size() == 20);
  CHECK(r.examples[0].ends_with("READ_ME_TO_RESTORE_FILES.txt"));
  CHECK(r.examples[3].ends_with(".locked"));
  for (const auto& reason : r.reasons) UNSCOPED_INFO(reason);
  CHECK(r.flagged);  // shows the reasons in verbose runs
}

TEST_CASE("in-place encryption of 35% of the files is flagged", "[engine][anomaly]") {
  AnomalyResult r = score_anomaly(encrypted_share(140, false, false), AnomalyThresholds{});
  INFO(describe(r));
  CHECK(r.flagged);
  CHECK(has_reason(r, "35% of files (140 of 400) were modified, deleted or renamed"));
  CHECK(has_reason(r, "look encrypted"));
  CHECK(has_reason(r, "no longer match their type"));
  CHECK(has_reason(r, ".pdf without the %PDF header"));
  CHECK_FALSE(has_reason(r, "ransom note"));
  CHECK_FALSE(has_reason(r, "renamed to"));
  CHECK_FALSE(r.examples.empty());
  CHECK(r.examples.size() <= 20);

  // Caught early too: a tenth of a 1000-file share, in place.
  Scenario s(1000);
  for (int i = 0; i < 100; ++i) s.modified(folder(i) + fmt::format("f{}.{}", i, doc_ext(i)), salted_head(i));
  s.in.history = quiet_history(1000, 500'000'000, 20);
  AnomalyResult early = score_anomaly(s.done(), AnomalyThresholds{});
  INFO(describe(early));
  CHECK(early.flagged);
}

TEST_CASE("ransom notes in many folders with a few encrypted files are flagged", "[engine][anomaly]") {
  Scenario s(400);
  for (int d = 0; d < 12; ++d)
    s.added(fmt::format("/srv/share/d{}/HOW_TO_DECRYPT_FILES.html", d), bytes_of(ransom_text()), 3000);
  for (int i = 0; i < 3; ++i) s.modified(fmt::format("/srv/share/d0/report{}.docx", i), salted_head(i));
  s.in.history = quiet_history(400, 200'000'000, 8);
  AnomalyResult r = score_anomaly(s.done(), AnomalyThresholds{});
  INFO(describe(r));
  CHECK(r.flagged);
  CHECK(has_reason(r, "a ransom note in 12 folders (HOW_TO_DECRYPT_FILES.html)"));
  CHECK(r.examples.front().ends_with("HOW_TO_DECRYPT_FILES.html"));

  // A single note and encrypted files in a tiny folder: still an attack.
  Scenario tiny(3);
  tiny.added("/home/an/DECRYPT_README.txt", bytes_of(ransom_text()), 900)
      .modified("/home/an/cv.docx", salted_head(1))
      .modified("/home/an/photo.jpg", salted_head(2));
  AnomalyResult t = score_anomaly(tiny.done(), AnomalyThresholds{});
  INFO(describe(t));
  CHECK(t.flagged);
  CHECK(has_reason(t, "a ransom note (/home/an/DECRYPT_README.txt)"));

  // A single note-like file alone is not enough.
  Scenario lone(400);
  lone.added("/srv/share/tools/HOW_TO_DECRYPT.txt", bytes_of("Use gpg --decrypt file.gpg with your key.\n"), 60);
  AnomalyResult l = score_anomaly(lone.done(), AnomalyThresholds{});
  INFO(describe(l));
  CHECK_FALSE(l.flagged);
}

TEST_CASE("renames to per-file random extensions and a wiped share are flagged", "[engine][anomaly]") {
  Scenario s(400);
  std::mt19937 rng(3);
  for (int i = 0; i < 60; ++i) {
    std::string path = folder(i) + fmt::format("file{}.{}", i, doc_ext(i));
    s.removed(path);
    s.added(path + fmt::format(".id-{:08x}", rng()), salted_head(i));
  }
  AnomalyResult r = score_anomaly(s.done(), AnomalyThresholds{});
  INFO(describe(r));
  CHECK(r.flagged);
  CHECK(has_reason(r, "60 files renamed to 60 new extensions"));

  // Everything deleted: mass change and a snapshot far smaller than the history.
  Scenario wiped(400);
  for (int i = 0; i < 400; ++i) wiped.removed(folder(i) + fmt::format("file{}.{}", i, doc_ext(i)));
  wiped.in.history = quiet_history(400, 200'000'000, 8, 3);
  AnomalyResult w = score_anomaly(wiped.done(), AnomalyThresholds{});
  INFO(describe(w));
  CHECK(w.flagged);
  CHECK(has_reason(w, "the snapshot is empty"));
  // A higher threshold lets it pass.
  AnomalyThresholds lenient;
  lenient.threshold = 0.8;
  CHECK_FALSE(score_anomaly(wiped.done(), lenient).flagged);
}

TEST_CASE("a data set that changes a lot every night needs more to count as mass change", "[engine][anomaly]") {
  Scenario s(1000);
  for (int i = 0; i < 350; ++i) s.modified(fmt::format("/var/cache/build/obj{}.o", i), elf_head());
  s.in.history = quiet_history(1000, 1'000'000'000, 400);  // 40% every night
  AnomalyResult r = score_anomaly(s.done(), AnomalyThresholds{});
  INFO(describe(r));
  CHECK(r.signals["mass_change"]["contribution"].get<double>() < 0.2);
  CHECK(has_reason(r, "(earlier snapshots: 40% typical)"));
}

TEST_CASE("AnomalyResult::to_json has the fields stored in the snapshot", "[engine][anomaly]") {
  AnomalyResult r = score_anomaly(encrypted_share(140, true, true), AnomalyThresholds{});
  auto j = r.to_json();
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"score", "flagged", "threshold", "reasons", "examples", "signals"});
  CHECK(j["score"].get<double>() == r.score);
  CHECK(j["flagged"].get<bool>());
  CHECK(j["threshold"].get<double>() == 0.6);
  CHECK(j["reasons"].size() == r.reasons.size());
  CHECK(j["examples"].size() == r.examples.size());
  for (auto name :
       {"mass_change", "encrypted", "incompressible", "type_mismatch", "renamed", "ransom_notes", "size_change"}) {
    INFO(name);
    REQUIRE(j["signals"].contains(name));
    auto sig = j["signals"][name];
    CHECK(sig.contains("value"));
    CHECK(sig["weight"].get<double>() > 0);
    CHECK(sig["contribution"].get<double>() >= 0);
  }
  CHECK(j["signals"]["renamed"]["value"].get<double>() == 140);
  CHECK(j["signals"]["ransom_notes"]["value"].get<double>() == 10);
  CHECK(j["signals"]["mass_change"]["value"].get<double>() == Approx(0.35));

  // Not measurable: no parent, no history.
  AnomalyInput first;
  first.seen.push_back({"/a.txt", false, 10, bytes_of("hello")});
  first.total_files = 1;
  auto empty = score_anomaly(first, AnomalyThresholds{}).to_json();
  CHECK(empty["score"].get<double>() == 0);
  CHECK_FALSE(empty["flagged"].get<bool>());
  CHECK(empty["reasons"].empty());
  CHECK(empty["examples"].empty());
  CHECK(empty["signals"]["mass_change"]["value"].is_null());
  CHECK(empty["signals"]["size_change"]["value"].is_null());

  // A default result (never scored) still has every field.
  auto none = AnomalyResult{}.to_json();
  CHECK(none["signals"].is_object());
  CHECK(none.size() == 6);
}

// Scores 100k files in one input (no quadratic rename matching: its speed is
// measured by hand, not asserted here; see docs/ANOMALY.md).
TEST_CASE("score_anomaly handles 100k files", "[engine][anomaly]") {
  AnomalyInput in;
  in.has_parent = true;
  Bytes text = text_head();
  text.resize(std::min<std::size_t>(text.size(), 512));
  std::mt19937_64 rng(9);
  for (int i = 0; i < 100'000; ++i) {
    std::string path = fmt::format("/srv/big/d{}/f{}.{}", i % 1000, i, doc_ext(i));
    if (i % 4 == 0) {  // a quarter renamed and encrypted
      in.gone.push_back({path, false});
      in.seen.push_back({path + ".locked", false, 100'000, random_bytes(1024, rng())});
    } else {
      in.seen.push_back({path, true, 100'000, text});
    }
  }
  in.total_files = 400'000;
  in.history = quiet_history(400'000, 40'000'000'000, 8'000);
  AnomalyResult r = score_anomaly(in, AnomalyThresholds{});
  CHECK(r.flagged);
  CHECK(r.examples.size() <= 20);
}

TEST_CASE("The collector keeps a bounded sample and counts the rest", "[anomaly]") {
  AnomalyCollector collector(5, 3);
  std::mt19937 rng(11);
  for (int i = 0; i < 200; ++i) {
    Bytes head(4096);
    for (auto& b : head) b = static_cast<std::uint8_t>(rng());
    collector.file_read("/share/f" + std::to_string(i) + ".docx", true, 4096, head);
  }
  for (int i = 0; i < 50; ++i) collector.gone("/share/g" + std::to_string(i), false);
  AnomalyInput in = collector.take();
  CHECK(in.seen.size() == 5);
  CHECK(in.gone.size() == 3);
  CHECK(in.unkept.modified_files == 195);
  CHECK(in.unkept.encrypted == 195);
  CHECK(in.unkept.mismatched == 195);
  CHECK(in.unkept.gone == 47);
  in.total_files = 400;
  in.has_parent = true;
  auto r = score_anomaly(in, AnomalyThresholds{});
  CHECK(r.flagged);
}

TEST_CASE("a note's text may hold tabs and escapes but not more than 2 percent of other control bytes", "[engine][anomaly]") {
  // 100 bytes of demand: control bytes at 1 in 50 still read as text, more do not.
  const std::string demand = "Your files are encrypted. Pay 1 BTC to this wallet to decrypt them, or lose them.....\n";
  auto with = [&](char control, std::size_t count) {
    std::string text = demand + demand;  // 172 bytes
    for (std::size_t i = 0; i < count; ++i) text[10 + i * 7] = control;
    return bytes_of(text);
  };
  for (char allowed : {'\t', '\n', '\r', '\f', '\v', '\x1b'}) {
    INFO(int(allowed));
    CHECK(looks_like_ransom_note("/srv/share/info.txt", with(allowed, 20)));
  }
  for (char control : {'\0', '\x01', '\x08', '\x1f', '\x7f'}) {
    INFO(int(control));
    CHECK(looks_like_ransom_note("/srv/share/info.txt", with(control, 3)));  // 3 of 172: under 2 %
    CHECK_FALSE(looks_like_ransom_note("/srv/share/info.txt", with(control, 4)));
  }
}

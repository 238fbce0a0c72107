#include "kho/engine/anomaly.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numbers>
#include <unordered_map>
#include <unordered_set>

namespace kho::engine {

using namespace std::string_view_literals;
using namespace std::string_literals;

namespace {

// --- weights of the signals (see docs/ANOMALY.md) ---
constexpr double k_weight_change = 0.35;
constexpr double k_weight_encrypted = 0.45;
constexpr double k_weight_incompressible = 0.10;
constexpr double k_weight_mismatch = 0.30;
constexpr double k_weight_renamed = 0.70;
constexpr double k_weight_notes = 0.70;
constexpr double k_weight_size = 0.25;

// Heads shorter than this are not judged by entropy (too few bytes to tell).
constexpr std::size_t k_min_entropy_bytes = 256;
// Ransom notes are small; bigger files with a note-like name are something else.
constexpr std::uint64_t k_max_note_size = 256 * 1024;
// Below this much new data the compression ratio says nothing.
constexpr std::uint64_t k_min_incompressible_bytes = 16ull << 20;
constexpr std::size_t k_max_examples = 20;

bool has_at(ByteSpan h, std::string_view sig, std::size_t at = 0) {
  return h.size() >= at + sig.size() && std::memcmp(h.data() + at, sig.data(), sig.size()) == 0;
}

// The name of the known (signed) format `head` starts with, or nullptr.
// High-entropy formats are what matters: compressed archives, media, and
// containers whose header says what they are.
const char* known_format(ByteSpan h) {
  if (h.size() < 2) return nullptr;
  static constexpr std::pair<std::string_view, const char*> prefixes[] = {
      {"PK\x03\x04"sv, "zip"},
      {"PK\x05\x06"sv, "zip"},
      {"PK\x07\x08"sv, "zip"},
      {"\x1f\x8b"sv, "gzip"},
      {"\x28\xb5\x2f\xfd"sv, "zstd"},
      {"\xfd\x37\x7a\x58\x5a\x00"sv, "xz"},
      {"BZh"sv, "bzip2"},
      {"7z\xbc\xaf\x27\x1c"sv, "7z"},
      {"Rar!"sv, "rar"},
      {"\x04\x22\x4d\x18"sv, "lz4"},
      {"LZIP"sv, "lzip"},
      {"\x1f\x9d"sv, "compress"},
      {"\xff\xd8\xff"sv, "jpeg"},
      {"\x89PNG"sv, "png"},
      {"GIF8"sv, "gif"},
      {"RIFF"sv, "riff"},  // webp, avi, wav
      {"ID3"sv, "mp3"},
      {"%PDF"sv, "pdf"},
      {"OggS"sv, "ogg"},
      {"fLaC"sv, "flac"},
      {"\x1a\x45\xdf\xa3"sv, "matroska"},
      {"\x30\x26\xb2\x75"sv, "asf"},
      {"FLV"sv, "flv"},
      {"II*\x00"sv, "tiff"},
      {"MM\x00*"sv, "tiff"},
      {"8BPS"sv, "psd"},
      {"\x00\x00\x00\x0cjP  "sv, "jpeg2000"},
      {"\xff\x0a"sv, "jpegxl"},
      {"MSCF"sv, "cab"},
      {"!<arch>"sv, "ar"},
      {"\xed\xab\xee\xdb"sv, "rpm"},
      {"SQLite format 3\x00"sv, "sqlite"},
      {"PGDMP"sv, "pgdump"},
      {"\xd0\xcf\x11\xe0"sv, "ole"},
      {"\x7f"
       "ELF"sv,
       "elf"},
      {"wOFF"sv, "woff"},
      {"wOF2"sv, "woff2"},
      {"OTTO"sv, "otf"},
      {"\x00\x01\x00\x00\x00"sv, "ttf"},
      {"PACK"sv, "gitpack"},
      {"QFI\xfb"sv, "qcow2"},
      {"KDMV"sv, "vmdk"},
      {"vhdxfile"sv, "vhdx"},
      {"hsqs"sv, "squashfs"},
      {"\x03\xd9\xa2\x9a"sv, "kdbx"},
      {"\xca\xfe\xba\xbe"sv, "java"},
      {"PAR1"sv, "parquet"},
      {"CWS"sv, "swf"},
      {"ZWS"sv, "swf"},
      {"xar!"sv, "xar"},
      {"ITSF"sv, "chm"},
      {"MSWIM"sv, "wim"},
      {"AT&TFORM"sv, "djvu"},
      {"\x89HDF"sv, "hdf5"},
  };
  for (const auto& [sig, name] : prefixes)
    if (has_at(h, sig)) return name;
  if (has_at(h, "ftyp", 4)) return "mp4";  // mp4, mov, m4a, heic, avif, 3gp
  // MPEG audio frame sync (mp3 without tags, aac adts).
  if (h[0] == 0xff && (h[1] & 0xe0) == 0xe0) return "mpeg-audio";
  // zlib stream (git objects, raw deflate containers): CMF 0x78 and a valid check.
  if (h[0] == 0x78 && (h[0] * 256 + h[1]) % 31 == 0) return "zlib";
  return nullptr;
}

// c * log2(c) for the counts of a head, so entropy over many heads costs no log calls.
const std::array<double, k_anomaly_head_bytes + 1>& clog2_table() {
  static const auto table = [] {
    std::array<double, k_anomaly_head_bytes + 1> t{};
    for (std::size_t c = 1; c < t.size(); ++c) t[c] = static_cast<double>(c) * std::log2(static_cast<double>(c));
    return t;
  }();
  return table;
}

// Whether the bytes read as text: UTF-16 with a byte order mark, or (UTF-8,
// ASCII or a legacy 8-bit code page such as Windows-1258) with almost no
// control characters besides TAB, CR, LF, FF, VT and ESC.
bool is_text(ByteSpan h) {
  if (h.empty()) return true;
  if (has_at(h, "\xff\xfe"sv) || has_at(h, "\xfe\xff"sv)) return true;
  // One table look-up a byte, no branch: every file's head passes here.
  static constexpr auto k_control = [] {
    std::array<std::uint8_t, 256> t{};
    for (unsigned b = 0; b < 0x20; ++b) t[b] = 1;
    for (unsigned b : {'\t', '\n', '\r', '\f', '\v', '\x1b'}) t[b] = 0;
    t[0x7f] = 1;
    return t;
  }();
  std::size_t bad = 0;
  for (std::uint8_t b : h) bad += k_control[b];
  return bad * 50 <= h.size();  // at most 2%: random bytes have about 11%
}

std::string_view basename(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view dirname(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The extension of the last path element, lower case, without the dot ("" for
// none and for dot files like ".bashrc").
std::string extension(std::string_view path) {
  auto name = basename(path);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return {};
  return lower(name.substr(dot + 1));
}

// The path without the extension of its last element (the path itself when it has none).
std::string_view strip_extension(std::string_view path) {
  auto name = basename(path);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return path;
  return path.substr(0, path.size() - (name.size() - dot));
}

enum class TypeKind {
  none,
  pdf,
  zip,
  office_zip,
  ole,
  image,
  gzip,
  zstd,
  xz,
  bzip2,
  sevenzip,
  rar,
  sqlite,
  text,
  weak
};

TypeKind kind_of(std::string_view ext) {
  static const std::unordered_map<std::string_view, TypeKind> kinds = [] {
    std::unordered_map<std::string_view, TypeKind> m;
    m["pdf"] = TypeKind::pdf;
    for (auto e : {"zip", "jar", "apk", "epub", "whl"}) m[e] = TypeKind::zip;
    for (auto e : {"docx", "xlsx", "pptx", "docm", "xlsm", "pptm", "odt", "ods", "odp", "odg"})
      m[e] = TypeKind::office_zip;
    for (auto e : {"doc", "xls", "ppt", "msg"}) m[e] = TypeKind::ole;
    for (auto e : {"jpg", "jpeg", "png", "gif", "webp", "tif", "tiff", "heic"}) m[e] = TypeKind::image;
    for (auto e : {"gz", "tgz"}) m[e] = TypeKind::gzip;
    m["zst"] = TypeKind::zstd;
    for (auto e : {"xz", "txz"}) m[e] = TypeKind::xz;
    for (auto e : {"bz2", "tbz2"}) m[e] = TypeKind::bzip2;
    m["7z"] = TypeKind::sevenzip;
    m["rar"] = TypeKind::rar;
    for (auto e : {"sqlite", "sqlite3"}) m[e] = TypeKind::sqlite;
    for (auto e :
         {"txt", "md", "csv", "tsv", "json", "xml", "html", "htm", "sql", "conf", "cfg",  "ini", "yaml", "yml",
          "sh",  "py", "c",   "h",   "cpp",  "hpp", "cc",   "js",  "ts",  "css",  "java", "go",  "rs",   "rtf"})
      m[e] = TypeKind::text;
    // Types whose content varies too much to demand a header (.log can be a
    // binary write-ahead log, .db a Berkeley or LMDB file, .dump any dump):
    // only encrypted-looking content is a mismatch.
    for (auto e : {"log", "db", "dump"}) m[e] = TypeKind::weak;
    return m;
  }();
  auto it = kinds.find(ext);
  return it == kinds.end() ? TypeKind::none : it->second;
}

bool is_image(ByteSpan h) {
  if (has_at(h, "\xff\xd8\xff"sv) || has_at(h, "\x89PNG"sv) || has_at(h, "GIF8"sv) || has_at(h, "II*\x00"sv) ||
      has_at(h, "MM\x00*"sv) || has_at(h, "ftyp", 4) || has_at(h, "BM"sv))
    return true;
  return has_at(h, "RIFF"sv) && has_at(h, "WEBP"sv, 8);
}

bool is_pdf(ByteSpan h) {
  // The header may follow some junk within the first 1024 bytes.
  auto text = as_string_view(h.first(std::min<std::size_t>(h.size(), 1024)));
  return text.find("%PDF") != std::string_view::npos;
}

// What a file of each kind starts with, and how a head that does not fails it.
struct KindCheck {
  TypeKind kind;
  bool (*fits)(ByteSpan h);
  const char* misfit;
};

const KindCheck& check_of(TypeKind kind) {
  static const KindCheck checks[] = {
      {TypeKind::none, [](ByteSpan) { return true; }, ""},
      {TypeKind::pdf, is_pdf, "without the %PDF header"},
      {TypeKind::zip, [](ByteSpan h) { return has_at(h, "PK"sv); }, "without the zip header"},
      // Password-protected Office files are OLE containers.
      {TypeKind::office_zip, [](ByteSpan h) { return has_at(h, "PK"sv) || has_at(h, "\xd0\xcf\x11\xe0"sv); },
       "without the zip header"},
      // Old Office: OLE, or a newer file, RTF or HTML under the old name.
      {TypeKind::ole, [](ByteSpan h) { return has_at(h, "\xd0\xcf\x11\xe0"sv) || has_at(h, "PK"sv) || is_text(h); },
       "without the OLE header"},
      {TypeKind::image, is_image, "that is not an image"},
      {TypeKind::gzip, [](ByteSpan h) { return has_at(h, "\x1f\x8b"sv); }, "without the gzip header"},
      {TypeKind::zstd, [](ByteSpan h) { return has_at(h, "\x28\xb5\x2f\xfd"sv); }, "without the zstd header"},
      {TypeKind::xz, [](ByteSpan h) { return has_at(h, "\xfd\x37\x7a\x58\x5a\x00"sv); }, "without the xz header"},
      {TypeKind::bzip2, [](ByteSpan h) { return has_at(h, "BZh"sv); }, "without the bzip2 header"},
      {TypeKind::sevenzip, [](ByteSpan h) { return has_at(h, "7z\xbc\xaf\x27\x1c"sv); }, "without the 7z header"},
      {TypeKind::rar, [](ByteSpan h) { return has_at(h, "Rar!"sv); }, "without the rar header"},
      {TypeKind::sqlite, [](ByteSpan h) { return has_at(h, "SQLite format 3\x00"sv); }, "without the SQLite header"},
      // Not text, not another known format (a mislabeled .csv that is really
      // .xlsx is a mistake, not an attack) and not mostly zeros.
      {TypeKind::text,
       [](ByteSpan h) { return is_text(h) || known_format(h) != nullptr || entropy_bits(h) < 6.0; },
       "that is not text"},
      {TypeKind::weak, [](ByteSpan h) { return !looks_encrypted(h); }, "that looks encrypted"},
  };
  for (const auto& c : checks)
    if (c.kind == kind) return c;
  return checks[0];
}

// Whether `h` is what a file of `kind` starts with.
bool head_fits(TypeKind kind, ByteSpan h) { return check_of(kind).fits(h); }

// How a head that does not fit `kind` fails it.
const char* misfit(TypeKind kind) { return check_of(kind).misfit; }

// Whether the extension has a type we check, and if so, the mismatch ("" when
// the content matches). `fits(kind)` says whether the head fits a kind.
template <typename Fits>
std::string check_type(std::string_view path, std::size_t head_size, bool& known, Fits&& fits) {
  auto ext = extension(path);
  auto kind = kind_of(ext);
  known = kind != TypeKind::none;
  // Empty and tiny files never mismatch: no ransomware output is that small.
  if (!known || head_size < 8 || fits(kind)) return {};
  return fmt::format(".{} {}", ext, misfit(kind));
}

std::string check_type(std::string_view path, ByteSpan h, bool& known) {
  return check_type(path, h.size(), known, [h](TypeKind kind) { return head_fits(kind, h); });
}

// The same from what was worked out when the file was read.
std::string check_type(std::string_view path, const HeadFacts& f, bool& known) {
  return check_type(path, f.head_size, known, [&f](TypeKind) { return f.type_fits; });
}

// --- ransom notes ---

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// Names only ransom notes have.
bool strong_note_name(std::string_view name) {
  if (name == "_readme.txt") return true;  // STOP/Djvu
  if (contains(name, "decrypt") || contains(name, "ransom") || contains(name, "encrypted")) return true;
  if (contains(name, "back_files") || contains(name, "back-files") || contains(name, "back files") ||
      contains(name, "get_back") || contains(name, "getback"))
    return true;
  const bool files = contains(name, "file") || contains(name, "data");
  return files && (contains(name, "restore") || contains(name, "recover") || contains(name, "unlock") ||
                   contains(name, "return"));
}

// Names ransom notes often have, but ordinary files too (HOW_TO_INSTALL.txt):
// they need ransom words in the text.
bool weak_note_name(std::string_view name) {
  return name.starts_with("how_to") || name.starts_with("how-to") || name.starts_with("how to") ||
         contains(name, "_how_to_") || contains(name, "recover") || name.starts_with("!!!") ||
         contains(name, "read_me") || contains(name, "read-me") || contains(name, "instruction") ||
         contains(name, "restore") || contains(name, "attention") || contains(name, "warning") ||
         contains(name, "important");
}

bool note_extension(std::string_view ext) {
  static constexpr std::string_view exts[] = {"", "txt", "html", "htm", "hta", "url", "rtf"};
  return std::find(std::begin(exts), std::end(exts), ext) != std::end(exts);
}

struct RansomWords {
  int lock = 0;  // distinct words about locked files
  int pay = 0;   // distinct words about paying
};

RansomWords ransom_words(std::string_view text_lower) {
  static constexpr std::string_view lock_words[] = {
      "encrypted",    "decrypt",      "your files",   "your data",       "private key",  "unique key",
      "recover your", "restore your", "unlock",       "đã bị mã hóa",    "đã bị mã hoá", "bị mã hóa",
      "bị mã hoá",    "giải mã",      "da bi ma hoa", "dữ liệu của bạn", "tệp của bạn"};
  static constexpr std::string_view pay_words[] = {
      "bitcoin", "btc",     "monero", "xmr",     "wallet", ".onion",     "tor browser", "torproject",
      "ransom",  "payment", "pay us", "pay the", "tox id", "tiền chuộc", "thanh toán",  "chuộc lại"};
  RansomWords w;
  for (auto word : lock_words) w.lock += contains(text_lower, word) ? 1 : 0;
  for (auto word : pay_words) w.pay += contains(text_lower, word) ? 1 : 0;
  return w;
}

// --- helpers for scoring ---

double ramp(double x, double lo, double hi) {
  if (!(hi > lo)) return x >= hi ? 1.0 : 0.0;
  return std::clamp((x - lo) / (hi - lo), 0.0, 1.0);
}

double percent(double share) { return std::round(share * 100.0); }

std::string human_bytes(std::uint64_t n) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) v /= 1024.0, ++u;
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

// Rounded to 1/scale, so that JSON shows 0.355 and not 0.35500000000000004.
double round_to(double v, double scale) { return std::round(v * scale) / scale; }

struct Signal {
  Signal(const char* signal_name, double signal_weight) : name(signal_name), weight(signal_weight) {}
  const char* name;
  double weight = 0;
  double sub = 0;  // sub-score in [0, 1]
  bool measured = false;
  double value = 0;  // the measured share, count or factor
  std::uint64_t files = 0;
  bool share_based = true;  // capped while too few files are behind the score
  std::string reason;
  std::vector<std::string_view> examples;
  double contribution() const { return measured ? weight * sub : 0.0; }
};

struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace

double entropy_bits(ByteSpan data) {
  const std::size_t n = data.size();
  if (n == 0) return 0.0;
  // Four tables so that runs of one byte value do not serialize on one counter.
  std::array<std::array<std::uint32_t, 256>, 4> counts{};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    ++counts[0][data[i]];
    ++counts[1][data[i + 1]];
    ++counts[2][data[i + 2]];
    ++counts[3][data[i + 3]];
  }
  for (; i < n; ++i) ++counts[0][data[i]];
  const auto& table = clog2_table();
  double sum = 0;
  for (std::size_t b = 0; b < 256; ++b) {
    const std::uint64_t c = std::uint64_t{counts[0][b]} + counts[1][b] + counts[2][b] + counts[3][b];
    if (c == 0) continue;
    sum += c < table.size() ? table[c] : static_cast<double>(c) * std::log2(static_cast<double>(c));
  }
  const double nd = static_cast<double>(n);
  return std::clamp(std::log2(nd) - sum / nd, 0.0, 8.0);
}

bool looks_encrypted(ByteSpan head) {
  // openssl enc: "Salted__", 8 bytes of salt, then ciphertext.
  if (has_at(head, "Salted__"sv) && head.size() >= 32) return true;
  if (head.size() < k_min_entropy_bytes) return false;
  if (known_format(head) != nullptr) return false;
  // Random bytes without one byte >= 0x80 do not happen; ASCII is at most 7 bits.
  if (std::none_of(head.begin(), head.end(), [](std::uint8_t b) { return b >= 0x80; })) return false;
  // The entropy of n random bytes falls short of 8 by about 255 / (2 n ln 2)
  // (7.64 for 512 bytes, 7.96 for 4096): the bar sits well below that, at
  // most 7.5. Text, code and most binaries stay under 6.5.
  const double n = static_cast<double>(head.size());
  const double expected = 8.0 - 255.0 / (2.0 * n * std::numbers::ln2);
  const double bar = std::min(7.5, expected - 0.35);
  return entropy_bits(head) >= bar;
}

std::string type_mismatch(std::string_view path, ByteSpan head) {
  bool known = false;
  return check_type(path, head, known);
}

std::string facts_type_mismatch(std::string_view path, const HeadFacts& head) {
  bool known = false;
  return check_type(path, head, known);
}

bool looks_like_ransom_note(std::string_view path, ByteSpan head) {
  auto name = lower(basename(path));
  auto ext = extension(path);
  if (!note_extension(ext)) return false;
  if (!head.empty() && !is_text(head)) return false;
  if (strong_note_name(name)) return true;
  auto words = ransom_words(lower(as_string_view(head)));
  // A note-like name with words about locked files and about paying; any
  // name with three such words at least.
  if (weak_note_name(name) && words.lock >= 1 && words.pay >= 1) return true;
  return words.lock >= 1 && words.pay >= 1 && words.lock + words.pay >= 3;
}

FileSeen::FileSeen(std::string path_, bool modified_, std::uint64_t size_, ByteSpan head_)
    : path(std::move(path_)), modified(modified_), size(size_) {
  if (head_.size() > k_anomaly_head_bytes) head_ = head_.first(k_anomaly_head_bytes);
  head.head_size = static_cast<std::uint32_t>(head_.size());
  head.encrypted = looks_encrypted(head_);
  head.note = !modified && size <= k_max_note_size && looks_like_ransom_note(path, head_);
  // Only the type the extension promises is checked; the entropy is the dear
  // part, and the weak kind's check is `encrypted` again.
  const TypeKind kind = kind_of(extension(path));
  head.type_fits = kind == TypeKind::none || (kind == TypeKind::weak ? !head.encrypted : head_fits(kind, head_));
}

AnomalyResult score_anomaly(const AnomalyInput& in, const AnomalyThresholds& th) {
  AnomalyResult result;
  result.threshold = th.threshold;
  const double min_files = std::max(0.0, th.min_files);
  auto enough = [&](double n) { return min_files <= 1 ? 1.0 : std::min(1.0, n / min_files); };

  // --- the parent's names: gone files and their stems, extensions seen before ---
  std::unordered_set<std::string_view, TransparentHash, std::equal_to<>> gone_paths;
  std::unordered_map<std::string_view, std::string_view, TransparentHash, std::equal_to<>> gone_stems;
  std::unordered_set<std::string, TransparentHash, std::equal_to<>> parent_exts;
  std::uint64_t n_gone = 0;
  std::vector<std::string_view> gone_examples;
  for (const auto& g : in.gone) {
    if (g.is_dir) continue;
    ++n_gone;
    gone_paths.insert(g.path);
    auto stem = strip_extension(g.path);
    if (stem.size() != g.path.size()) gone_stems.emplace(stem, g.path);
    parent_exts.insert(extension(g.path));
    if (gone_examples.size() < k_max_examples) gone_examples.push_back(g.path);
  }
  std::uint64_t n_modified = 0, n_new = 0;
  for (const auto& f : in.seen) {
    if (f.modified) {
      ++n_modified;
      parent_exts.insert(extension(f.path));
    } else {
      ++n_new;
    }
  }

  // --- per file: encrypted, type mismatch, rename, ransom note ---
  std::uint64_t judged_all = 0, enc_all = 0, judged_replacing = 0, enc_replacing = 0;
  std::uint64_t mismatch_judged = 0, n_mismatch = 0;
  std::uint64_t n_renamed = 0, n_renamed_bad = 0;
  std::unordered_map<std::string, std::uint64_t> rename_exts;
  std::unordered_map<std::string, std::uint64_t> mismatch_reasons;
  std::unordered_map<std::string, std::uint64_t> note_names;
  std::unordered_set<std::string_view> note_dirs;
  std::vector<std::string_view> enc_examples, mismatch_examples, rename_examples, note_examples;
  for (const auto& f : in.seen) {
    const HeadFacts& head = f.head;
    const bool encrypted = head.encrypted;
    const bool judged = encrypted || head.head_size >= k_min_entropy_bytes;

    // A new file whose name is a gone file's plus an extension, or a gone
    // file's stem with another extension.
    std::string_view original;
    std::string new_ext;
    if (!f.modified && !gone_paths.empty()) {
      auto name = basename(f.path);
      const std::size_t dir_len = f.path.size() - name.size();
      for (std::size_t dot = name.rfind('.'); dot != std::string_view::npos && dot > 0;
           dot = name.rfind('.', dot - 1)) {
        auto prefix = std::string_view(f.path).substr(0, dir_len + dot);
        if (gone_paths.contains(prefix)) {
          original = *gone_paths.find(prefix);
          break;
        }
      }
      new_ext = extension(f.path);
      if (original.empty()) {
        auto stem = strip_extension(f.path);
        if (stem.size() != f.path.size())
          if (auto it = gone_stems.find(stem); it != gone_stems.end() && extension(it->second) != new_ext)
            original = it->second;
      }
    }

    bool type_known = false;
    std::string mismatch;
    bool legit_conversion = false;
    if (!original.empty()) {
      // report.csv -> report.csv.gz that is gzip: a conversion, not an attack.
      bool new_known = false;
      auto new_mismatch = check_type(f.path, head, new_known);
      legit_conversion = new_known && new_mismatch.empty();
      if (!legit_conversion) mismatch = check_type(original, head, type_known);
    } else if (f.modified || kind_of(extension(f.path)) != TypeKind::none) {
      mismatch = check_type(f.path, head, type_known);
    }
    if (type_known && head.head_size > 0) {
      ++mismatch_judged;
      if (!mismatch.empty()) {
        ++n_mismatch;
        ++mismatch_reasons[mismatch];
        if (mismatch_examples.size() < k_max_examples) mismatch_examples.push_back(f.path);
      }
    }

    if (judged) {
      ++judged_all;
      enc_all += encrypted ? 1 : 0;
      if (f.modified || !original.empty()) {
        ++judged_replacing;
        enc_replacing += encrypted ? 1 : 0;
      }
      if (encrypted && enc_examples.size() < k_max_examples) enc_examples.push_back(f.path);
    }

    if (!original.empty() && !legit_conversion && !new_ext.empty() &&
        !std::all_of(new_ext.begin(), new_ext.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        !parent_exts.contains(new_ext)) {
      ++n_renamed;
      ++rename_exts[new_ext];
      if (encrypted || !mismatch.empty()) ++n_renamed_bad;
      if (rename_examples.size() < k_max_examples) rename_examples.push_back(f.path);
    }

    if (head.note) {
      note_dirs.insert(dirname(f.path));
      ++note_names[std::string(basename(f.path))];
      if (note_examples.size() < k_max_examples) note_examples.push_back(f.path);
    }
  }
  // Files the collector only counted (huge backups): their checks were made
  // when they were read; which of them were renames is not known.
  {
    const auto& u = in.unkept;
    const std::uint64_t unkept_files = u.new_files + u.modified_files;
    n_gone += u.gone;
    n_modified += u.modified_files;
    n_new += u.new_files;
    judged_all += unkept_files;
    enc_all += u.encrypted;
    if (!in.seen.empty() && mismatch_judged > 0) mismatch_judged += unkept_files * mismatch_judged / in.seen.size();
    mismatch_judged += u.mismatched;
    n_mismatch += u.mismatched;
  }
  const bool notes_found = !note_dirs.empty() || in.unkept.notes > 0;

  std::vector<Signal> signals;

  // 1. Mass change against the parent.
  {
    Signal s{"mass_change", k_weight_change};
    const std::uint64_t changed = n_modified + n_gone;
    const std::uint64_t parent_files =
        in.total_files >= n_new ? in.total_files - n_new + n_gone : std::max<std::uint64_t>(changed, 1);
    if (in.has_parent && parent_files > 0) {
      std::vector<double> rates;
      for (const auto& h : in.history)
        if (h.total_files > 0)
          rates.push_back(static_cast<double>(h.files_changed) / static_cast<double>(h.total_files));
      double typical = -1;
      if (!rates.empty()) {
        std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
        typical = rates[rates.size() / 2];
      }
      // A data set that changes a lot every night needs more to count as mass change.
      const double hi = std::max(th.changed_share, std::min(0.9, 2.0 * std::max(typical, 0.0)));
      const double share = std::min(1.0, static_cast<double>(changed) / static_cast<double>(parent_files));
      s.measured = true;
      s.value = share;
      s.files = changed;
      s.sub = ramp(share, hi / 3.0, hi) * enough(static_cast<double>(changed));
      s.reason = fmt::format("{}% of files ({} of {}) were modified, deleted or renamed", percent(share), changed,
                             parent_files);
      if (typical >= 0) s.reason += fmt::format(" (earlier snapshots: {}% typical)", percent(typical));
      s.examples = gone_examples;
    }
    signals.push_back(std::move(s));
  }

  // 2. Encrypted-looking content, and new data that does not compress.
  double encrypted_sub = 0;
  {
    Signal s{"encrypted", k_weight_encrypted};
    if (judged_all > 0) {
      const double share_all = static_cast<double>(enc_all) / static_cast<double>(judged_all);
      const double share_replacing =
          judged_replacing > 0 ? static_cast<double>(enc_replacing) / static_cast<double>(judged_replacing) : 0.0;
      const bool replacing = share_replacing > share_all;
      const double share = std::max(share_all, share_replacing);
      s.measured = true;
      s.value = share;
      s.files = enc_all;
      // A ransom note vouches for a few encrypted files; without one it takes min_files.
      s.sub = ramp(share, th.encrypted_share / 2.0, th.encrypted_share) *
              (notes_found ? 1.0 : enough(static_cast<double>(enc_all)));
      s.reason = fmt::format("{}% of the files {} look encrypted ({} of {}: high entropy, no known format)",
                             percent(share), replacing ? "modified or replaced" : "read",
                             replacing ? enc_replacing : enc_all, replacing ? judged_replacing : judged_all);
      s.examples = enc_examples;
      encrypted_sub = s.sub;
    }
    signals.push_back(std::move(s));
  }
  {
    Signal s{"incompressible", k_weight_incompressible};
    if (in.new_raw_bytes >= k_min_incompressible_bytes) {
      const double ratio = static_cast<double>(in.new_stored_bytes) / static_cast<double>(in.new_raw_bytes);
      s.measured = true;
      s.value = ratio;
      // Media and archives do not compress either: this only supports encrypted content.
      s.sub = encrypted_sub > 0 ? ramp(ratio, 0.90, 0.98) : 0.0;
      s.reason = fmt::format("the new data does not compress ({} stored for {} read, {}%)",
                             human_bytes(in.new_stored_bytes), human_bytes(in.new_raw_bytes), percent(ratio));
    }
    signals.push_back(std::move(s));
  }

  // 3. Content that no longer matches its type.
  {
    Signal s{"type_mismatch", k_weight_mismatch};
    if (mismatch_judged > 0) {
      const double share = static_cast<double>(n_mismatch) / static_cast<double>(mismatch_judged);
      s.measured = true;
      s.value = share;
      s.files = n_mismatch;
      s.sub = ramp(share, th.mismatch_share / 2.0, th.mismatch_share) *
              (notes_found ? 1.0 : enough(static_cast<double>(n_mismatch)));
      std::vector<std::pair<std::string, std::uint64_t>> top(mismatch_reasons.begin(), mismatch_reasons.end());
      std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      std::string list;
      for (std::size_t i = 0; i < top.size() && i < 3; ++i) list += (i ? ", " : "") + top[i].first;
      if (top.size() > 3) list += ", ...";
      s.reason =
          fmt::format("{} no longer match{} {} type ({}% of {} checked: {})",
                      n_mismatch == 1 ? "1 file"s : fmt::format("{} files", n_mismatch), n_mismatch == 1 ? "es" : "",
                      n_mismatch == 1 ? "its" : "their", percent(share), mismatch_judged, list);
      s.examples = mismatch_examples;
    }
    signals.push_back(std::move(s));
  }

  // 4. Mass rename to a new extension.
  {
    Signal s{"renamed", k_weight_renamed};
    s.share_based = false;
    if (n_renamed > 0) {
      std::string top_ext;
      std::uint64_t top = 0;
      for (const auto& [ext, count] : rename_exts)
        if (count > top || (count == top && ext < top_ext)) top_ext = ext, top = count;
      // Per-file random extensions share none: count the encrypted renames too.
      const double count = std::max<double>(static_cast<double>(top), static_cast<double>(n_renamed_bad));
      const bool bad = n_renamed_bad * 2 >= n_renamed;
      s.measured = true;
      s.value = count;
      s.files = n_renamed;
      // Renames whose content still reads fine (a workflow adding .done) count half.
      s.sub = enough(count) * (bad ? 1.0 : 0.5);
      if (rename_exts.size() == 1 || top * 2 >= n_renamed)
        s.reason = fmt::format("{} file{} renamed to the new extension .{}", top, top == 1 ? "" : "s", top_ext);
      else
        s.reason = fmt::format("{} files renamed to {} new extensions (most: .{}, {} files)", n_renamed,
                               rename_exts.size(), top_ext, top);
      if (n_renamed_bad > 0) s.reason += fmt::format(" ({} look encrypted or damaged)", n_renamed_bad);
      s.examples = rename_examples;
    }
    signals.push_back(std::move(s));
  }

  // 5. Ransom notes.
  {
    Signal s{"ransom_notes", k_weight_notes};
    s.share_based = false;
    s.measured = true;
    if (notes_found) {
      const std::size_t dirs = note_dirs.size();
      s.value = static_cast<double>(dirs);
      for (const auto& [name, count] : note_names) s.files += count;
      s.sub = dirs >= 3 ? 1.0 : dirs == 2 ? 0.75 : 0.5;
      std::vector<std::pair<std::string, std::uint64_t>> names(note_names.begin(), note_names.end());
      std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      std::string list;
      for (std::size_t i = 0; i < names.size() && i < 2; ++i) list += (i ? ", " : "") + names[i].first;
      if (names.size() > 2) list += ", ...";
      s.reason = dirs == 1 ? fmt::format("a ransom note ({})", note_examples.front())
                           : fmt::format("a ransom note in {} folders ({})", dirs, list);
      s.examples = note_examples;
    }
    signals.push_back(std::move(s));
  }

  // 6. Sudden growth or shrinkage against the history.
  {
    Signal s{"size_change", k_weight_size};
    double avg_bytes = 0, avg_files = 0;
    for (const auto& h : in.history) {
      avg_bytes += static_cast<double>(h.total_bytes);
      avg_files += static_cast<double>(h.total_files);
    }
    if (!in.history.empty()) {
      avg_bytes /= static_cast<double>(in.history.size());
      avg_files /= static_cast<double>(in.history.size());
    }
    if (!in.history.empty() && avg_files >= std::max(1.0, min_files) && avg_bytes > 0) {
      auto factor = [](double now, double before) {
        if (now <= 0 || before <= 0) return now == before ? 1.0 : 1e9;
        return std::max(now / before, before / now);
      };
      const double fb = factor(static_cast<double>(in.total_bytes), avg_bytes);
      const double ff = factor(static_cast<double>(in.total_files), avg_files);
      const bool by_bytes = fb >= ff;
      const double f = std::max(fb, ff);
      const double g = std::max(th.growth_factor, 1.01);
      s.measured = true;
      s.value = std::min(f, 1e6);
      s.sub = ramp(f, std::sqrt(g), g);
      const auto last =
          in.history.size() == 1 ? std::string("the parent") : fmt::format("the last {}", in.history.size());
      if (in.total_files == 0 || in.total_bytes == 0) {
        s.reason = fmt::format("the snapshot is empty, against {} in {:.0f} files on average in {}",
                               human_bytes(static_cast<std::uint64_t>(avg_bytes)), avg_files, last);
      } else if (by_bytes) {
        const bool smaller = static_cast<double>(in.total_bytes) < avg_bytes;
        s.reason = fmt::format("the snapshot is {:.1f}x {} than {} ({} against {} on average)", s.value,
                               smaller ? "smaller" : "larger", last, human_bytes(in.total_bytes),
                               human_bytes(static_cast<std::uint64_t>(avg_bytes)));
      } else {
        const bool fewer = static_cast<double>(in.total_files) < avg_files;
        s.reason = fmt::format("the snapshot has {:.1f}x {} files than {} ({} against {:.0f} on average)", s.value,
                               fewer ? "fewer" : "more", last, in.total_files, avg_files);
      }
    }
    signals.push_back(std::move(s));
  }

  // --- combine ---
  double share_part = 0, strong_part = 0;
  std::uint64_t most_files = 0;
  for (const auto& s : signals) {
    (s.share_based ? share_part : strong_part) += s.contribution();
    most_files = std::max(most_files, s.files);
  }
  // Too few files behind every signal: shares alone never flag.
  const double cap = 0.9 * th.threshold;
  if (!notes_found && static_cast<double>(most_files) < min_files && share_part > cap) share_part = cap;
  const double score = round_to(share_part + strong_part, 1000);
  result.score = score;
  result.flagged = score >= th.threshold - 1e-9;

  std::vector<const Signal*> order;
  order.reserve(signals.size());
  for (const auto& s : signals) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(),
                   [](const Signal* a, const Signal* b) { return a->contribution() > b->contribution(); });
  for (const Signal* s : order)
    if (s->contribution() >= 0.01 && !s->reason.empty()) result.reasons.push_back(s->reason);

  // Examples: notes, renames, encrypted, mismatched, then deleted; a few of each first.
  {
    std::vector<const Signal*> sources;
    for (const char* name : {"ransom_notes", "renamed", "encrypted", "type_mismatch", "mass_change"})
      for (const auto& s : signals)
        if (s.name == std::string_view(name) && s.contribution() >= 0.005 && !s.examples.empty()) sources.push_back(&s);
    std::unordered_set<std::string_view> taken;
    auto take = [&](const Signal* s, std::size_t limit) {
      std::size_t added = 0;
      for (auto p : s->examples) {
        if (result.examples.size() >= k_max_examples || added >= limit) break;
        if (taken.insert(p).second) result.examples.emplace_back(p), ++added;
      }
    };
    for (const Signal* s : sources) take(s, s->name == std::string_view("ransom_notes") ? 3 : 5);
    for (const Signal* s : sources) take(s, k_max_examples);
  }

  result.signals = nlohmann::ordered_json::object();
  for (const auto& s : signals) {
    nlohmann::ordered_json j;
    j["value"] = s.measured ? nlohmann::ordered_json(round_to(s.value, 10000)) : nlohmann::ordered_json(nullptr);
    j["weight"] = s.weight;
    j["contribution"] = round_to(s.contribution(), 1000);
    if (s.measured && s.files > 0) j["files"] = s.files;
    result.signals[s.name] = std::move(j);
  }
  return result;
}

nlohmann::ordered_json AnomalyResult::to_json() const {
  nlohmann::ordered_json j;
  j["score"] = score;
  j["flagged"] = flagged;
  j["threshold"] = threshold;
  j["reasons"] = reasons;
  j["examples"] = examples;
  j["signals"] = signals.is_null() ? nlohmann::ordered_json::object() : signals;
  return j;
}

}  // namespace kho::engine

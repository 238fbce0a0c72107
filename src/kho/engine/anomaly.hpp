// Ransomware anomaly score of a snapshot, from what the backup sees anyway
// (no second pass over the data): which files were added, modified, deleted
// and renamed against the parent snapshot, the first bytes of every file it
// reads (their type and entropy), the names and first bytes of new files
// (ransom notes), how well the new data compressed, and the size of the
// snapshot against the recent history of the same policy (or host + paths).
//
// The score is a sum of weighted signals in [0, 1+]; a snapshot is flagged when
// the score reaches the threshold. Each signal that contributes gives a reason
// (one sentence a person understands) and the worst examples (paths).
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kho/util/bytes.hpp"

namespace kho::engine {

// Bytes of a file's start kept for the checks (type, entropy, ransom note text).
constexpr std::size_t k_anomaly_head_bytes = 4096;

struct AnomalyThresholds {
  double threshold = 0.6;        // flag at or above this score
  double min_files = 20;         // fewer changed files than this: the score is capped below the threshold
  double changed_share = 0.3;    // share of files modified+deleted+renamed that counts as mass change
  double encrypted_share = 0.2;  // share of changed/new files that look encrypted
  double mismatch_share = 0.1;   // share of changed files whose content no longer matches their extension
  double growth_factor = 3.0;    // size change against the history (either way) that counts as sudden
};

// What the checks need to know of a file's first bytes, worked out when the
// file is read, so that the bytes need not be kept until the backup ends.
struct HeadFacts {
  std::uint32_t head_size = 0;  // bytes looked at (at most k_anomaly_head_bytes)
  bool encrypted = false;       // looks_encrypted
  bool note = false;            // a new file of at most note size that looks_like_ransom_note
  bool type_fits = true;        // the head fits the type the file's extension promises (or it promises none)
};

// One regular file the backup read (new or modified; unchanged files are not read).
struct FileSeen {
  // `head`: the file's first k_anomaly_head_bytes bytes (fewer for small files).
  FileSeen(std::string path, bool modified, std::uint64_t size, ByteSpan head);

  std::string path;       // in the snapshot
  bool modified = false;  // false: new
  std::uint64_t size = 0;
  HeadFacts head;
};

// One entry of the parent snapshot that is not in this one.
struct FileGone {
  std::string path;
  bool is_dir = false;
};

// What earlier snapshots of the same policy looked like (newest first).
struct SnapshotHistory {
  std::uint64_t total_files = 0;
  std::uint64_t total_bytes = 0;
  std::uint64_t files_new = 0;
  std::uint64_t files_changed = 0;
};

struct AnomalyInput {
  std::vector<FileSeen> seen;
  std::vector<FileGone> gone;
  std::uint64_t total_files = 0;  // regular files in this snapshot
  std::uint64_t total_bytes = 0;
  std::uint64_t files_unmodified = 0;
  std::uint64_t new_raw_bytes = 0;     // raw bytes of new blobs
  std::uint64_t new_stored_bytes = 0;  // their size after compression
  bool has_parent = false;
  std::vector<SnapshotHistory> history;  // parent first; may be empty
  // Files beyond what AnomalyCollector keeps (memory stays bounded on huge
  // backups): only counted, each check already applied.
  struct Unkept {
    std::uint64_t new_files = 0;
    std::uint64_t modified_files = 0;
    std::uint64_t encrypted = 0;   // looks_encrypted
    std::uint64_t mismatched = 0;  // type_mismatch non-empty
    std::uint64_t notes = 0;       // looks_like_ransom_note (new files)
    std::uint64_t gone = 0;
  } unkept;
};

struct AnomalyResult {
  double score = 0;
  bool flagged = false;
  double threshold = 0;
  std::vector<std::string> reasons;   // one per contributing signal, strongest first
  std::vector<std::string> examples;  // worst paths, at most 20
  nlohmann::ordered_json signals;     // each signal's measured value and weight

  // {score, flagged, threshold, reasons, examples, signals}: stored in the
  // snapshot as "anomaly" and shown by `kho snapshots --json`.
  nlohmann::ordered_json to_json() const;
};

AnomalyResult score_anomaly(const AnomalyInput& input, const AnomalyThresholds& thresholds);

// Gathers an AnomalyInput while a backup runs, from its worker threads: every
// file read and every parent entry gone. Keeps at most `max_files` files (with
// their heads) and `max_gone` gone entries; the rest are counted (Unkept), so
// memory stays bounded whatever the size of the backup.
class AnomalyCollector {
 public:
  explicit AnomalyCollector(std::size_t max_files = 10000, std::size_t max_gone = 200000)
      : m_max_files(max_files), m_max_gone(max_gone) {}
  void file_read(const std::string& path, bool modified, std::uint64_t size, ByteSpan head);
  void gone(const std::string& path, bool is_dir);
  // The gathered input (seen, gone, unkept); the caller fills in the totals and history.
  AnomalyInput take();

 private:
  std::mutex m_mutex;
  std::size_t m_max_files;
  std::size_t m_max_gone;
  AnomalyInput m_input;
};

// --- the checks, exposed for tests and for `kho diff` ---

// Shannon entropy of the bytes in bits per byte (0..8).
double entropy_bits(ByteSpan data);

// Whether `head` looks like encrypted or random data: high entropy and no
// known compressed format's signature (zip, gzip, zstd, xz, bzip2, 7z, rar,
// jpeg, png, gif, webp, mp3/mp4, pdf streams are high-entropy but signed).
bool looks_encrypted(ByteSpan head);

// The type a file's extension promises and whether `head` matches it: "" when
// the extension is not one we know (no opinion), else a short reason when the
// content does not match (".pdf without the %PDF header").
std::string type_mismatch(std::string_view path, ByteSpan head);
// The same from the facts worked out of the head of the file at `path`.
std::string facts_type_mismatch(std::string_view path, const HeadFacts& head);

// Whether a new file is a ransom note: a known note name (README_TO_DECRYPT,
// HOW_TO_RESTORE_FILES, ...) or a small text file whose words are a ransom
// demand (decrypt, bitcoin, .onion, "your files have been encrypted", ...).
bool looks_like_ransom_note(std::string_view path, ByteSpan head);

}  // namespace kho::engine

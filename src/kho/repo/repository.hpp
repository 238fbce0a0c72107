// The repository facade: opens a backend with a password, and reads and writes
// the format's objects (config, keys, index, trees, blobs, snapshots).
//
// Thread-safety: after open() and load_index(), the const readers (load_blob,
// load_tree, load_object, index lookups) may be called from many threads.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kho/backend/backend.hpp"
#include "kho/chunker/fastcdc.hpp"
#include "kho/repo/config.hpp"
#include "kho/repo/index.hpp"
#include "kho/repo/keys.hpp"
#include "kho/repo/snapshot.hpp"
#include "kho/repo/tree.hpp"

namespace kho::repo {

struct InitOptions {
  chunker::Params chunker;
  int compression_level = 3;
  Padding padding = Padding::none;
  std::uint32_t pack_size = 16 * 1024 * 1024;
  // When set, the new repository shares this one's blob-ID space: its blob-ID
  // key and chunker seed (with `chunker` set to its parameters), so copies
  // between the two move blobs without re-chunking. The encryption key is new.
  const MasterKeys* id_space = nullptr;
};

struct SnapshotFilter {
  std::vector<std::string> hosts;
  std::vector<std::string> tags;   // a snapshot matches when it has every tag
  std::vector<std::string> paths;  // ... and every path
  std::string policy;

  bool matches(const Snapshot& s) const;
};

class Repository {
public:
  // Creates a repository: layout, config and the first key. Fails with
  // Errc::already_exists when one is there.
  static Result<std::unique_ptr<Repository>> init(std::unique_ptr<backend::Backend> backend,
                                                  const SecretString& password, const InitOptions& options);
  // Opens a repository: Errc::no_repository when there is none at the location,
  // Errc::wrong_password when no key opens with the password.
  static Result<std::unique_ptr<Repository>> open(std::unique_ptr<backend::Backend> backend,
                                                  const SecretString& password);

  backend::Backend& backend() const { return *m_backend; }
  const RepoConfig& config() const { return m_config; }
  const MasterKeys& keys() const { return m_keys; }
  const Id& key_id() const { return m_key_id; }
  const chunker::GearTable& gear() const { return m_gear; }
  std::string location() const { return m_backend->properties().location; }

  // Loads every index file not superseded by another. Unreadable index files
  // fail the load unless `tolerate_errors`, in which case they are returned.
  Result<std::vector<Error>> load_index(bool tolerate_errors = false);
  MasterIndex& index() { return m_index; }
  const MasterIndex& index() const { return m_index; }
  // IDs of the index files loaded (superseded ones excluded).
  const std::vector<Id>& index_files() const { return m_index_files; }
  // The loaded index files that list `pack`, for messages about a missing or
  // damaged pack (a stale index file put back names packs that are gone).
  std::vector<Id> index_files_listing(const Id& pack) const;

  Id hash_blob(ByteSpan raw) const { return crypto::keyed_hash(m_keys.id, raw); }

  Result<Bytes> load_blob(BlobType type, const Id& id) const;
  Result<Tree> load_tree(const Id& id) const;

  // Sealed objects (config, index, snapshot, lock): stored as <type>/<sha256>.
  Result<Bytes> load_object(backend::ObjectType type, const Id& id) const;
  Result<Id> save_object(backend::ObjectType type, ByteSpan content);

  Result<Id> save_snapshot(const Snapshot& snapshot);
  Result<Snapshot> load_snapshot(const Id& id) const;
  // Every snapshot that decrypts, oldest first; unreadable ones are returned in `errors`.
  Result<std::vector<SnapshotRef>> list_snapshots(std::vector<Error>* errors = nullptr) const;

  // Resolves "latest" (newest matching `filter`), "latest-clean" (newest matching
  // and not flagged as suspect), an ID or a unique ID prefix.
  Result<SnapshotRef> find_snapshot(const std::string& spec, const SnapshotFilter& filter = {}) const;

  ~Repository();  // wipes the gear table (the keys wipe themselves)
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;

  // Writes an index file covering `packs`; returns its ID.
  Result<Id> save_index(const IndexFile& file);

private:
  Repository(std::unique_ptr<backend::Backend> backend, MasterKeys keys, Id key_id, RepoConfig config);
  // load_object() for an object whose stored size is known from a listing.
  Result<Bytes> load_listed_object(backend::ObjectType type, const Id& id, std::uint64_t size) const;
  Result<Snapshot> load_listed_snapshot(const Id& id, std::uint64_t size) const;

  std::unique_ptr<backend::Backend> m_backend;
  MasterKeys m_keys;
  Id m_key_id;
  RepoConfig m_config;
  chunker::GearTable m_gear;
  MasterIndex m_index;
  std::vector<Id> m_index_files;
  std::unordered_map<Id, std::vector<Id>, IdHash> m_pack_sources;  // pack -> index files listing it
};

// "data/ab/abcd…" style name for messages about a pack.
std::string pack_name(const Id& id);

}  // namespace kho::repo

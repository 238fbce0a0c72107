#include "kho/repo/repository.hpp"

#include <algorithm>
#include <future>
#include <set>

#include "kho/repo/sealed_object.hpp"

namespace kho::repo {

using backend::Handle;
using backend::ObjectType;

namespace {
bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
// Sealed content is at most k_max_object_size; zstd and the envelope add little.
constexpr std::uint64_t k_max_sealed_object_file = k_max_object_size + 16 * 1024 * 1024;

std::string object_what(ObjectType type, const Id& id) {
  return backend::describe(Handle{type, id.hex()});
}
}  // namespace

std::string pack_name(const Id& id) { return object_what(ObjectType::data, id); }

bool SnapshotFilter::matches(const Snapshot& s) const {
  if (!hosts.empty() && !contains(hosts, s.host)) return false;
  for (const auto& t : tags)
    if (!s.has_tag(t)) return false;
  for (const auto& p : paths)
    if (!contains(s.paths, p)) return false;
  if (!policy.empty() && s.policy != policy) return false;
  return true;
}

Repository::Repository(std::unique_ptr<backend::Backend> backend, MasterKeys keys, Id key_id, RepoConfig config)
    : m_backend(std::move(backend)), m_keys(std::move(keys)), m_key_id(key_id), m_config(config) {
  m_gear = chunker::derive_gear(m_keys.chunker_seed.span());
}

Repository::~Repository() { secure_wipe(m_gear.data(), sizeof m_gear); }

Result<std::unique_ptr<Repository>> Repository::init(std::unique_ptr<backend::Backend> backend,
                                                     const SecretString& password, const InitOptions& options) {
  crypto::init();
  KHO_TRY_STATUS(chunker::validate(options.chunker));
  if (auto st = backend->stat(Handle{ObjectType::config, ""}); st)
    return fail(Errc::already_exists, "a repository already exists at " + backend->properties().location);
  KHO_TRY_STATUS(backend->create());
  RepoConfig config;
  crypto::random_bytes(config.id.bytes);
  config.created = now_ns();
  config.chunker = options.chunker;
  config.compression_level = options.compression_level;
  config.padding = options.padding;
  config.pack_size = options.pack_size;
  MasterKeys keys = MasterKeys::generate();
  if (options.id_space != nullptr) {
    keys.id = options.id_space->id;
    keys.chunker_seed = options.id_space->chunker_seed;
  }
  KHO_TRY_ASSIGN(Bytes key_file, make_key_file(keys, password, crypto::default_kdf_params()));
  Id key_id = crypto::sha256(key_file);
  KHO_TRY_STATUS(backend->save(Handle{ObjectType::key, key_id.hex()}, key_file));
  std::string json = config.to_json();
  Bytes sealed = seal_object(keys, ObjectType::config, as_bytes(json), false);
  // The config is written last: a repository without it does not exist yet.
  KHO_TRY_STATUS(backend->save(Handle{ObjectType::config, ""}, sealed));
  return std::unique_ptr<Repository>(new Repository(std::move(backend), std::move(keys), key_id, config));
}

Result<std::unique_ptr<Repository>> Repository::open(std::unique_ptr<backend::Backend> backend,
                                                     const SecretString& password) {
  crypto::init();
  std::string location = backend->properties().location;
  if (auto info = backend->stat(Handle{ObjectType::config, ""}); info && info->size > 1024 * 1024)
    return failf(Errc::corruption, "the config of the repository at {} is {} bytes, too large to be a config", location,
                 info->size);
  auto config_file = backend->load(Handle{ObjectType::config, ""});
  if (!config_file) {
    if (config_file.error().code() == Errc::not_found)
      return fail(Errc::no_repository, "there is no repository at " + location +
                                           " (no config file); create one with 'kho init' or check -r/KHO_REPOSITORY");
    return tl::unexpected(config_file.error().with_context("cannot read the repository config at " + location));
  }
  KHO_TRY_ASSIGN(auto key_infos, backend->list(ObjectType::key));
  if (key_infos.empty()) return fail(Errc::corruption, "the repository at " + location + " has no key files");
  // Keys that were used most recently are not known; try them in name order.
  std::sort(key_infos.begin(), key_infos.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::optional<Error> last_error;
  for (const auto& info : key_infos) {
    auto file = load_key_file(*backend, info);
    if (!file) {
      // The backend names the file in its own errors; the size check does not.
      last_error =
          file.error().code() == Errc::corruption ? file.error().with_context("keys/" + info.name) : file.error();
      continue;
    }
    // A damaged key file would otherwise look like a wrong password. A key file
    // moved under another name still opens (the AEAD vouches for its content);
    // check reports the name.
    std::optional<Error> mismatch;
    if (Id::parse(info.name) && !key_file_matches_name(*file, info.name))
      mismatch = Error(Errc::corruption, fmt::format("keys/{} in repository {} does not match its name (SHA-256): "
                                                     "it was modified or damaged",
                                                     info.name, location));
    auto keys = open_key_file(*file, password, "keys/" + info.name);
    if (!keys) {
      if (mismatch)
        last_error = std::move(mismatch);
      else if (keys.error().code() != Errc::wrong_password)
        last_error = keys.error();
      continue;
    }
    auto content = open_object(*keys, ObjectType::config, *config_file, "config");
    if (!content) return tl::unexpected(content.error());
    KHO_TRY_ASSIGN(RepoConfig config, RepoConfig::from_json(*content, "config"));
    auto key_id = Id::parse(info.name);
    return std::unique_ptr<Repository>(
        new Repository(std::move(backend), std::move(*keys), key_id ? *key_id : Id{}, config));
  }
  if (last_error && last_error->code() != Errc::wrong_password && key_infos.size() == 1)
    return tl::unexpected(*last_error);
  // A damaged key file may be the one this password belongs to: say so.
  return fail(
      Errc::wrong_password,
      fmt::format("wrong password: none of the {} key(s) of the repository at {} opens with it{}", key_infos.size(),
                  location, last_error ? " (a key file is damaged: " + last_error->message() + ")" : std::string()));
}

Result<std::vector<Error>> Repository::load_index(bool tolerate_errors) {
  KHO_TRY_ASSIGN(auto infos, m_backend->list(ObjectType::index));
  std::vector<Error> errors;
  std::vector<std::pair<Id, IndexFile>> files;
  std::set<Id> superseded;
  // Decrypting index files is independent work: do it on a few threads.
  std::vector<std::future<Result<std::pair<Id, IndexFile>>>> futures;
  for (const auto& info : infos) {
    auto id = Id::parse(info.name);
    if (!id) continue;
    futures.push_back(
        std::async(std::launch::async, [this, id = *id, size = info.size]() -> Result<std::pair<Id, IndexFile>> {
          std::string what = object_what(ObjectType::index, id);
          KHO_TRY_ASSIGN(Bytes content, load_listed_object(ObjectType::index, id, size));
          KHO_TRY_ASSIGN(IndexFile f, IndexFile::decode(content, what));
          return std::pair<Id, IndexFile>{id, std::move(f)};
        }));
    if (futures.size() >= 8) {
      for (auto& f : futures) {
        auto r = f.get();
        if (r) files.push_back(std::move(*r));
        else errors.push_back(r.error());
      }
      futures.clear();
    }
  }
  for (auto& f : futures) {
    auto r = f.get();
    if (r) files.push_back(std::move(*r));
    else errors.push_back(r.error());
  }
  if (!errors.empty() && !tolerate_errors) return tl::unexpected(errors.front());
  for (const auto& [id, f] : files)
    for (const auto& s : f.superseded) superseded.insert(s);
  m_index_files.clear();
  m_pack_sources.clear();
  for (const auto& [id, f] : files) {
    if (superseded.count(id)) continue;
    m_index_files.push_back(id);
    for (const auto& p : f.packs) {
      m_index.bulk_add(p.pack_id, p.blobs);
      m_pack_sources[p.pack_id].push_back(id);
    }
  }
  // A blob listed in two packs (a race of two writers, or an old index file put
  // back after prune moved the blob) keeps a location whose pack exists.
  std::unordered_map<Id, bool, IdHash> exists;
  m_index.merge([&](const Id& pack) {
    auto [it, inserted] = exists.emplace(pack, false);
    if (inserted) it->second = m_backend->stat(Handle{ObjectType::data, pack.hex()}).has_value();
    return it->second;
  });
  return errors;
}

std::vector<Id> Repository::index_files_listing(const Id& pack) const {
  auto it = m_pack_sources.find(pack);
  return it == m_pack_sources.end() ? std::vector<Id>{} : it->second;
}

Result<Bytes> Repository::load_blob(BlobType type, const Id& id) const {
  auto loc = m_index.find(type, id);
  if (!loc) return failf(Errc::not_found, "{} blob {} is not in the index", blob_type_name(type), id.hex());
  std::string what = fmt::format("{} blob {} in pack {}", blob_type_name(type), id.hex(), loc->pack_id.hex());
  auto stored = m_backend->load(Handle{ObjectType::data, loc->pack_id.hex()}, loc->blob.offset, loc->blob.stored_length);
  if (!stored) return tl::unexpected(stored.error().with_context("cannot read " + what));
  return open_blob(m_keys, loc->blob, *stored, what);
}

Result<Tree> Repository::load_tree(const Id& id) const {
  KHO_TRY_ASSIGN(Bytes raw, load_blob(BlobType::tree, id));
  // A tree is named by its content's keyed hash: checking it makes the snapshot
  // a Merkle tree, so no tree can (directly or not) contain itself.
  if (hash_blob(raw) != id) return failf(Errc::corruption, "tree {} does not match its ID", id.hex());
  return Tree::decode(raw, "tree " + id.hex());
}

Result<Bytes> Repository::load_object(ObjectType type, const Id& id) const {
  KHO_TRY_ASSIGN(backend::ObjectInfo info, m_backend->stat(Handle{type, id.hex()}));
  return load_listed_object(type, id, info.size);
}

Result<Bytes> Repository::load_listed_object(ObjectType type, const Id& id, std::uint64_t size) const {
  std::string what = object_what(type, id);
  // Bound the allocation before reading: anyone holding the storage can put a
  // huge file under a valid name.
  if (size > k_max_sealed_object_file)
    return failf(Errc::corruption, "{} is {} bytes, larger than any valid object of its kind", what, size);
  KHO_TRY_ASSIGN(Bytes file, m_backend->load(Handle{type, id.hex()}));
  if (crypto::sha256(file) != id) return fail(Errc::corruption, what + " does not match its name (SHA-256): it was modified");
  return open_object(m_keys, type, file, what);
}

Result<Id> Repository::save_object(ObjectType type, ByteSpan content) {
  Bytes sealed = seal_object(m_keys, type, content, type == ObjectType::index);
  Id id = crypto::sha256(sealed);
  KHO_TRY_STATUS(m_backend->save(Handle{type, id.hex()}, sealed));
  return id;
}

Result<Id> Repository::save_snapshot(const Snapshot& snapshot) {
  std::string json = snapshot.to_json();
  return save_object(ObjectType::snapshot, as_bytes(json));
}

Result<Snapshot> Repository::load_snapshot(const Id& id) const {
  KHO_TRY_ASSIGN(Bytes content, load_object(ObjectType::snapshot, id));
  return Snapshot::from_json(content, object_what(ObjectType::snapshot, id));
}

Result<Snapshot> Repository::load_listed_snapshot(const Id& id, std::uint64_t size) const {
  KHO_TRY_ASSIGN(Bytes content, load_listed_object(ObjectType::snapshot, id, size));
  return Snapshot::from_json(content, object_what(ObjectType::snapshot, id));
}

Result<std::vector<SnapshotRef>> Repository::list_snapshots(std::vector<Error>* errors) const {
  KHO_TRY_ASSIGN(auto infos, m_backend->list(ObjectType::snapshot));
  std::vector<SnapshotRef> out;
  for (const auto& info : infos) {
    auto id = Id::parse(info.name);
    if (!id) continue;
    auto s = load_listed_snapshot(*id, info.size);
    if (!s) {
      if (errors) errors->push_back(s.error());
      continue;
    }
    out.push_back({*id, std::move(*s)});
  }
  std::sort(out.begin(), out.end(), [](const SnapshotRef& a, const SnapshotRef& b) {
    if (a.snapshot.time != b.snapshot.time) return a.snapshot.time < b.snapshot.time;
    return a.id < b.id;
  });
  return out;
}

Result<SnapshotRef> Repository::find_snapshot(const std::string& spec, const SnapshotFilter& filter) const {
  if (spec == "latest" || spec == "latest-clean") {
    const bool clean = spec == "latest-clean";
    std::vector<Error> unreadable;
    KHO_TRY_ASSIGN(auto all, list_snapshots(&unreadable));
    // An unreadable snapshot may be the newest: picking another would be a silent substitution.
    if (!unreadable.empty())
      return tl::unexpected(unreadable.front().with_context(
          fmt::format("cannot tell which snapshot is '{}' while {} snapshot(s) cannot be read (name a snapshot ID, "
                      "or run 'kho check')",
                      spec, unreadable.size())));
    std::size_t flagged = 0;
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (!filter.matches(it->snapshot)) continue;
      if (clean && it->snapshot.flagged()) {
        ++flagged;
        continue;
      }
      return std::move(*it);
    }
    if (flagged > 0)
      return failf(Errc::not_found,
                   "no snapshot matches 'latest-clean': all {} matching snapshots are flagged as suspect", flagged);
    return fail(Errc::not_found, "no snapshot matches '" + spec + "'" +
                                     std::string(filter.hosts.empty() && filter.tags.empty() && filter.paths.empty()
                                                     ? " (the repository has no snapshots)"
                                                     : " with the given --host/--tag/--path filters"));
  }
  if (spec.empty() || spec.size() > 64 || !from_hex(spec.size() % 2 ? spec + "0" : spec))
    return fail(Errc::invalid_argument, "'" + spec + "' is not a snapshot ID, ID prefix, 'latest' or 'latest-clean'");
  KHO_TRY_ASSIGN(auto infos, m_backend->list(ObjectType::snapshot));
  std::vector<std::string> matches;
  for (const auto& info : infos)
    if (info.name.compare(0, spec.size(), spec) == 0) matches.push_back(info.name);
  if (matches.empty()) return fail(Errc::not_found, "no snapshot with ID " + spec);
  if (matches.size() > 1)
    return failf(Errc::invalid_argument, "snapshot ID prefix '{}' is ambiguous ({} snapshots match): give more characters",
                 spec, matches.size());
  KHO_TRY_ASSIGN(Id id, Id::parse(matches.front()));
  KHO_TRY_ASSIGN(Snapshot s, load_snapshot(id));
  return SnapshotRef{id, std::move(s)};
}

Result<Id> Repository::save_index(const IndexFile& file) {
  Bytes content = file.encode();
  return save_object(ObjectType::index, content);
}

}  // namespace kho::repo

// A repository in a directory on a local filesystem.
//
// save() writes to a temporary file in the object's directory ("<name>.tmp-<random>"),
// fsyncs it, renames it into place and fsyncs the directory. Objects are created 0600,
// directories 0700. list() ignores temporary files. begin_save() writes into
// "<type dir>/<type dir>.tmp-<random>" (data/data.tmp-...) and renames that into
// place at commit, so a pack never has to be held in memory whole.
//
// Layout: ROOT/config, ROOT/{keys,index,snapshots,locks}/<name>,
// ROOT/data/<name[0:2]>/<name>. create() makes every directory, including all 256
// data/xx subdirectories, so save() needs no mkdir; it refuses (already_exists) a
// directory that has a config or holds anything but that empty layout, so a
// repository is never created over someone's files.
//
// Names: non-empty, at most 200 bytes, no '/', NUL, leading '.', or ".tmp-"
// (reserved for temporary files); data names start with two lowercase hex
// digits. Others fail with Errc::invalid_argument. The config's name is ignored.
//
// save() of an existing name compares the stored bytes: equal bytes succeed
// without a write; different bytes (or a damaged copy) are replaced atomically.
// list(ObjectType::config) yields one entry with an empty name when a config exists.
// A missing repository directory makes load/stat/list/remove/save fail with
// Errc::not_found naming the directory. Thread-safe. A few data objects read
// by range stay open for further reads (tree blobs are read a few hundred bytes
// at a time from the same packs): an object is immutable under its name, and
// save(), commit and remove() of a name close what was kept for it.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include "kho/backend/backend.hpp"

namespace kho::backend {

class OpenObjects;

class LocalBackend final : public Backend {
public:
  explicit LocalBackend(std::filesystem::path root);
  LocalBackend(LocalBackend&&) noexcept;
  ~LocalBackend() override;

  Status create() override;
  Status save(const Handle& handle, ByteSpan data) override;
  Result<Bytes> load(const Handle& handle, std::uint64_t offset, std::uint64_t length) override;
  Status load_into(const Handle& handle, std::uint64_t offset, std::span<std::uint8_t> out) override;
  Result<std::unique_ptr<ObjectWriter>> begin_save(ObjectType type, std::uint64_t size_hint) override;
  Result<ObjectInfo> stat(const Handle& handle) override;
  Result<std::vector<ObjectInfo>> list(ObjectType type) override;
  Status remove(const Handle& handle) override;
  Result<std::uint64_t> remove_temporaries(ObjectType type) override;
  Properties properties() const override;

  std::filesystem::path path_of(const Handle& handle) const;
  // Closes what is kept open for `handle`, a data object being replaced or removed.
  void forget_open(const Handle& handle) const;

private:
  // The directories that hold objects of `type` (the 256 data/xx ones for data).
  std::vector<std::filesystem::path> object_dirs(ObjectType type) const;
  // Reads [offset, offset + length) (length 0: to the end) into the buffer that
  // `buffer_for(size)` returns.
  Status read_range(const Handle& handle, std::uint64_t offset, std::uint64_t length,
                    const std::function<std::uint8_t*(std::uint64_t)>& buffer_for);

  std::filesystem::path m_root;
  std::unique_ptr<OpenObjects> m_open;
};

}  // namespace kho::backend

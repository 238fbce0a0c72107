#include "kho/backend/sftp/sftp_backend.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fcntl.h>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <sys/random.h>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kho/backend/object_names.hpp"
#include "kho/backend/sftp/sftp_connection.hpp"
#include "kho/backend/sftp/sftp_location.hpp"

namespace kho::backend {

namespace sftp {

std::optional<ObjectInfo> listing_entry(const char* name, std::uint8_t type, std::uint64_t size, bool objects_only) {
  const std::string_view n = name ? name : "";
  if (n == "." || n == "..") return std::nullopt;
  if (objects_only && (is_temporary_name(n) || type != SSH_FILEXFER_TYPE_REGULAR)) return std::nullopt;
  return ObjectInfo{std::string(n), size};
}

namespace {

constexpr std::array<ObjectType, 5> k_dir_types = {ObjectType::key, ObjectType::data, ObjectType::index,
                                                   ObjectType::snapshot, ObjectType::lock};
// OpenSSH's sftp-server takes messages up to 256 KiB and answers reads with at
// most 255 KiB: the largest request that any OpenSSH server accepts.
constexpr std::uint32_t k_io_chunk = 255 * 1024;
// Read requests kept in flight on one connection.
constexpr std::size_t k_reads_in_flight = 16;

bool is_regular(const sftp_attributes_struct* a) { return a->type == SSH_FILEXFER_TYPE_REGULAR; }
bool is_directory(const sftp_attributes_struct* a) { return a->type == SSH_FILEXFER_TYPE_DIRECTORY; }

// Hands out connections, at most `limit` open at once; opens them on demand.
class ConnectionPool {
public:
  ConnectionPool(SftpLocation location, SftpOptions options, std::string server)
      : m_location(std::move(location)), m_options(std::move(options)), m_server(std::move(server)) {}
  ~ConnectionPool() {
    std::vector<std::unique_ptr<SftpConnection>> idle;
    {
      std::lock_guard lock(m_mutex);
      idle.swap(m_idle);
    }
  }

  // A connection for one thread; returned to the pool (or dropped when it
  // broke) when the lease ends.
  class Lease {
  public:
    Lease(ConnectionPool* pool, std::unique_ptr<SftpConnection> c, bool fresh)
        : m_pool(pool), m_connection(std::move(c)), m_fresh(fresh) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (m_connection) m_pool->release(std::move(m_connection));
    }
    SftpConnection& operator*() const { return *m_connection; }
    SftpConnection* operator->() const { return m_connection.get(); }
    bool fresh() const { return m_fresh; }

  private:
    ConnectionPool* m_pool;
    std::unique_ptr<SftpConnection> m_connection;
    bool m_fresh;
  };

  Result<Lease> acquire() {
    {
      std::unique_lock lock(m_mutex);
      for (;;) {
        if (!m_idle.empty()) {
          auto c = std::move(m_idle.back());
          m_idle.pop_back();
          return Lease(this, std::move(c), false);
        }
        if (m_open < m_options.connections) break;
        m_available.wait(lock);
      }
      ++m_open;
    }
    auto c = SftpConnection::open(m_location, m_options, m_server, m_watchdog);
    if (!c) {
      {
        std::lock_guard lock(m_mutex);
        --m_open;
      }
      m_available.notify_one();
      return tl::unexpected(c.error());
    }
    return Lease(this, std::move(*c), true);
  }

  int connections() const { return m_options.connections; }

private:
  void release(std::unique_ptr<SftpConnection> c) {
    c->disarm();
    std::vector<std::unique_ptr<SftpConnection>> dropped;
    {
      std::lock_guard lock(m_mutex);
      if (c->broken()) {
        // The others most likely share its fate (a restarted server, a
        // dropped network path): open new ones rather than find out one by one.
        m_open -= 1 + static_cast<int>(m_idle.size());
        dropped.swap(m_idle);
        dropped.push_back(std::move(c));
      } else {
        m_idle.push_back(std::move(c));
      }
    }
    m_available.notify_all();
  }

  SftpLocation m_location;
  SftpOptions m_options;
  std::string m_server;
  Watchdog m_watchdog;  // outlives every connection (declared before them)
  std::mutex m_mutex;
  std::condition_variable m_available;
  std::vector<std::unique_ptr<SftpConnection>> m_idle;
  int m_open = 0;
};

class SftpBackend final : public Backend {
public:
  SftpBackend(SftpLocation location, SftpOptions options)
      : m_root(location.path), m_display(location.display()), m_pool(std::move(location), std::move(options), m_display) {}

  Status create() override;
  Status save(const Handle& handle, ByteSpan data) override;
  Result<Bytes> load(const Handle& handle, std::uint64_t offset, std::uint64_t length) override;
  Result<ObjectInfo> stat(const Handle& handle) override;
  Result<std::vector<ObjectInfo>> list(ObjectType type) override;
  Status remove(const Handle& handle) override;
  Result<std::uint64_t> remove_temporaries(ObjectType type) override;
  Properties properties() const override {
    Properties p;
    p.location = m_display;
    return p;
  }

private:
  // Runs fn(connection) on a pooled connection; a transient failure on a
  // connection that sat idle is retried once on a new one.
  template <typename Fn>
  auto with_connection(Fn&& fn) -> decltype(fn(std::declval<SftpConnection&>()));
  // Runs fn(connection, i) for i in 0..255 on up to sftp.connections threads.
  Status for_each_prefix(const std::function<Status(SftpConnection&, unsigned)>& fn);

  std::string path_of(const Handle& handle) const;
  std::string dir_of(ObjectType type) const { return m_root + "/" + type_dir(type); }
  std::string what(const char* action, const Handle& handle) const {
    return fmt::format("{} {} in repository {}", action, describe(handle), m_display);
  }
  // The error of a failed call on an object; "not found" tells a missing
  // object from a missing repository.
  tl::unexpected<Error> object_error(SftpConnection& c, const char* action, const Handle& handle);
  tl::unexpected<Error> repo_missing() const {
    return failf(Errc::not_found, "no repository at {}: the directory does not exist", m_display);
  }
  Result<bool> exists(SftpConnection& c, const std::string& path, bool* is_dir = nullptr);
  Status make_dir(SftpConnection& c, const std::string& path);
  // Calls fn(entry) for each entry of `dir` but "." and "..".
  Status for_each_entry(SftpConnection& c, const std::string& dir, const std::function<void(sftp_attributes)>& fn);
  Status list_dir(SftpConnection& c, const std::string& dir, std::vector<ObjectInfo>& out, bool objects_only = true);
  // Removes the temporary files of killed saves in `dir`; adds their number to `removed`.
  Status remove_temporaries_in(SftpConnection& c, const std::string& dir, std::atomic<std::uint64_t>& removed);
  Status read_range(SftpConnection& c, sftp_file file, std::uint64_t offset, Bytes& out, const Handle& handle);
  Status check_empty_layout(SftpConnection& c);

  std::string m_root;
  std::string m_display;
  ConnectionPool m_pool;
};

template <typename Fn>
auto SftpBackend::with_connection(Fn&& fn) -> decltype(fn(std::declval<SftpConnection&>())) {
  for (int attempt = 0;; ++attempt) {
    auto lease = m_pool.acquire();
    if (!lease) return tl::unexpected(lease.error());
    (*lease)->arm();
    auto result = fn(**lease);
    if (result || !result.error().transient() || lease->fresh() || attempt > 0) return result;
  }
}

Status SftpBackend::for_each_prefix(const std::function<Status(SftpConnection&, unsigned)>& fn) {
  std::atomic<unsigned> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::optional<Error> first_error;
  auto worker = [&] {
    while (!failed) {
      unsigned i = next++;
      if (i >= 256) return;
      Status st = with_connection([&](SftpConnection& c) { return fn(c, i); });
      if (!st) {
        std::lock_guard lock(mutex);
        if (!first_error) first_error = st.error();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < m_pool.connections(); ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) return tl::unexpected(*first_error);
  return {};
}

std::string SftpBackend::path_of(const Handle& handle) const {
  switch (handle.type) {
    case ObjectType::config: return m_root + "/config";
    case ObjectType::data: return m_root + "/data/" + handle.name.substr(0, 2) + "/" + handle.name;
    default: return dir_of(handle.type) + "/" + handle.name;
  }
}

Result<bool> SftpBackend::exists(SftpConnection& c, const std::string& path, bool* is_dir) {
  c.arm();
  SftpAttributesPtr attrs(sftp_stat(c.sftp(), path.c_str()));
  if (attrs) {
    if (is_dir) *is_dir = is_directory(attrs.get());
    return true;
  }
  Error e = c.error("examining " + path + " in repository " + m_display);
  if (e.code() == Errc::not_found) return false;
  return tl::unexpected(e);
}

tl::unexpected<Error> SftpBackend::object_error(SftpConnection& c, const char* action, const Handle& handle) {
  Error e = c.error(what(action, handle));
  if (e.code() != Errc::not_found) return tl::unexpected(e);
  bool root_is_dir = false;
  auto root = exists(c, m_root, &root_is_dir);
  if (root && (!*root || !root_is_dir)) return repo_missing();
  return failf(Errc::not_found, "{} not found in repository {}", describe(handle), m_display);
}

Status SftpBackend::make_dir(SftpConnection& c, const std::string& path) {
  c.arm();
  if (sftp_mkdir(c.sftp(), path.c_str(), 0700) == 0) return {};
  Error e = c.error("creating directory " + path + " for repository " + m_display);
  if (e.transient()) return tl::unexpected(e);
  bool is_dir = false;
  auto there = exists(c, path, &is_dir);
  if (there && *there && is_dir) return {};  // made earlier, or by an interrupted create()
  return tl::unexpected(e);
}

Status SftpBackend::for_each_entry(SftpConnection& c, const std::string& dir,
                                   const std::function<void(sftp_attributes)>& fn) {
  c.arm();
  SftpDirPtr d(sftp_opendir(c.sftp(), dir.c_str()));
  if (!d) return tl::unexpected(c.error("listing " + dir + " in repository " + m_display));
  for (;;) {
    c.arm();
    SftpAttributesPtr entry(sftp_readdir(c.sftp(), d.get()));
    if (!entry) {
      if (sftp_dir_eof(d.get())) break;
      return tl::unexpected(c.error("listing " + dir + " in repository " + m_display));
    }
    const std::string_view name = entry->name ? entry->name : "";
    if (name != "." && name != "..") fn(entry.get());
  }
  c.arm();
  if (sftp_closedir(d.release()) != 0) return tl::unexpected(c.error("listing " + dir + " in repository " + m_display));
  return {};
}

Status SftpBackend::list_dir(SftpConnection& c, const std::string& dir, std::vector<ObjectInfo>& out,
                             bool objects_only) {
  return for_each_entry(c, dir, [&](sftp_attributes entry) {
    if (auto object = listing_entry(entry->name, entry->type, entry->size, objects_only))
      out.push_back(std::move(*object));
  });
}

Status SftpBackend::remove_temporaries_in(SftpConnection& c, const std::string& dir,
                                          std::atomic<std::uint64_t>& removed) {
  std::vector<std::string> temporaries;
  auto listed = for_each_entry(c, dir, [&](sftp_attributes entry) {
    // Only what save() names so (OBJECT.tmp-SUFFIX), never another hidden file.
    const std::string_view name = entry->name ? entry->name : "";
    if (entry->type == SSH_FILEXFER_TYPE_REGULAR && name.find(k_temp_marker) != std::string_view::npos &&
        name.front() != '.')
      temporaries.emplace_back(name);
  });
  if (!listed) return listed.error().code() == Errc::not_found ? Status{} : listed;
  for (const auto& name : temporaries) {
    const std::string path = dir + "/" + name;
    c.arm();
    if (sftp_unlink(c.sftp(), path.c_str()) == 0)
      ++removed;
    else if (c.status() != SSH_FX_NO_SUCH_FILE)
      return tl::unexpected(c.error("removing " + path + " in repository " + m_display));
  }
  return {};
}

Status SftpBackend::check_empty_layout(SftpConnection& c) {
  auto refuse = [&] {
    return failf(Errc::already_exists,
                 "{} is not empty and holds no repository config; refusing to create a repository over existing "
                 "files (choose a new or empty directory)",
                 m_display);
  };
  std::vector<ObjectInfo> entries;
  KHO_TRY_STATUS(list_dir(c, m_root, entries, false));
  for (const auto& e : entries) {
    bool layout = false;
    for (ObjectType type : k_dir_types) layout = layout || e.name == type_dir(type);
    if (!layout) return refuse();
    std::vector<ObjectInfo> inside;
    auto listed = list_dir(c, m_root + "/" + e.name, inside, false);
    if (!listed) return listed.error().code() == Errc::not_found ? refuse() : listed;  // not a directory
    for (const auto& sub : inside) {
      // data/ may hold the empty 00..ff directories of an interrupted create().
      bool prefix = e.name == "data" && is_data_dir_name(sub.name);
      if (!prefix) return refuse();
    }
  }
  return {};
}

Status SftpBackend::create() {
  KHO_TRY_STATUS(with_connection([&](SftpConnection& c) -> Status {
    KHO_TRY_ASSIGN(bool has_config, exists(c, m_root + "/config"));
    if (has_config) return failf(Errc::already_exists, "a repository already exists at {} (it has a config)", m_display);
    bool is_dir = false;
    KHO_TRY_ASSIGN(bool root_exists, exists(c, m_root, &is_dir));
    if (root_exists) {
      if (!is_dir) return failf(Errc::already_exists, "{} exists and is not a directory", m_display);
      KHO_TRY_STATUS(check_empty_layout(c));
    } else {
      // The parents too, like mkdir -p.
      for (std::size_t slash = m_root.find('/', 1); slash != std::string::npos; slash = m_root.find('/', slash + 1))
        KHO_TRY_STATUS(make_dir(c, m_root.substr(0, slash)));
      KHO_TRY_STATUS(make_dir(c, m_root));
    }
    for (ObjectType type : k_dir_types) KHO_TRY_STATUS(make_dir(c, dir_of(type)));
    return {};
  }));
  return for_each_prefix(
      [&](SftpConnection& c, unsigned i) { return make_dir(c, dir_of(ObjectType::data) + "/" + data_dir_name(i)); });
}

Status SftpBackend::save(const Handle& handle, ByteSpan data) {
  KHO_TRY_STATUS(check_object_name(handle));
  const std::string path = path_of(handle);
  return with_connection([&](SftpConnection& c) -> Status {
    const std::string temp = path + std::string(k_temp_marker) + random_temp_suffix();
    SftpFilePtr file(sftp_open(c.sftp(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600));
    if (!file && c.status() == SSH_FX_NO_SUCH_FILE && handle.type != ObjectType::config) {
      // A directory of the layout is missing (a hand-copied repository).
      KHO_TRY_ASSIGN(bool root_exists, exists(c, m_root));
      if (!root_exists) return repo_missing();
      KHO_TRY_STATUS(make_dir(c, dir_of(handle.type)));
      if (handle.type == ObjectType::data) KHO_TRY_STATUS(make_dir(c, path.substr(0, path.rfind('/'))));
      c.arm();
      file.reset(sftp_open(c.sftp(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600));
    }
    if (!file) return object_error(c, "saving", handle);

    // Removes the temporary file unless it was renamed into place.
    bool placed = false;
    struct TempCleanup {
      SftpConnection& c;
      const std::string& temp;
      bool& placed;
      ~TempCleanup() {
        if (placed || c.broken()) return;
        c.arm();
        sftp_unlink(c.sftp(), temp.c_str());
      }
    } cleanup{c, temp, placed};

    for (std::size_t offset = 0; offset < data.size();) {
      std::size_t n = std::min<std::size_t>(k_io_chunk, data.size() - offset);
      c.arm();
      ssize_t written = sftp_write(file.get(), data.data() + offset, n);
      if (written != static_cast<ssize_t>(n)) return object_error(c, "saving", handle);
      offset += n;
    }
    c.arm();
    if (c.has_fsync() && sftp_fsync(file.get()) != 0) return object_error(c, "saving", handle);
    c.arm();
    if (sftp_close(file.release()) != 0) return object_error(c, "saving", handle);

    c.arm();
    if (sftp_rename(c.sftp(), temp.c_str(), path.c_str()) == 0) {
      placed = true;
      return {};
    }
    Error rename_error = c.error(what("saving", handle));
    if (rename_error.transient()) return tl::unexpected(rename_error);
    // SFTPv3 renames refuse an existing target.
    c.arm();
    SftpAttributesPtr existing(sftp_stat(c.sftp(), path.c_str()));
    if (!existing) return tl::unexpected(rename_error);
    if (is_regular(existing.get()) && existing->size == data.size()) return {};  // the same content-named object
    c.arm();
    if (sftp_unlink(c.sftp(), path.c_str()) != 0 && c.status() != SSH_FX_NO_SUCH_FILE)
      return object_error(c, "replacing", handle);
    c.arm();
    if (sftp_rename(c.sftp(), temp.c_str(), path.c_str()) != 0) return object_error(c, "saving", handle);
    placed = true;
    return {};
  });
}

Status SftpBackend::read_range(SftpConnection& c, sftp_file file, std::uint64_t offset, Bytes& out,
                               const Handle& handle) {
  struct Request {
    std::uint32_t id;
    std::uint64_t at;  // position in `out`
    std::uint32_t length;
  };
  std::deque<Request> in_flight;
  std::uint64_t next = 0;
  std::uint32_t chunk = k_io_chunk;
  auto request = [&](std::uint64_t at, std::uint32_t length) -> Status {
    c.arm();
    if (sftp_seek64(file, offset + at) != 0) return object_error(c, "loading", handle);
    int id = sftp_async_read_begin(file, length);
    if (id < 0) return object_error(c, "loading", handle);
    in_flight.push_back({static_cast<std::uint32_t>(id), at, length});
    return {};
  };
  auto fail_with = [&](Status st) {
    // Answers still on their way would confuse the next call on this connection.
    if (!in_flight.empty()) c.mark_broken();
    return st;
  };
  while (!in_flight.empty() || next < out.size()) {
    while (in_flight.size() < k_reads_in_flight && next < out.size()) {
      auto length = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunk, out.size() - next));
      if (auto st = request(next, length); !st) return fail_with(st);
      next += length;
    }
    Request r = in_flight.front();
    in_flight.pop_front();
    c.arm();
    int got = sftp_async_read(file, out.data() + r.at, r.length, r.id);
    if (got < 0) return fail_with(object_error(c, "loading", handle));
    if (got == 0)
      return fail_with(failf(Errc::corruption, "{} in repository {} ended after {} bytes while reading {}+{}",
                             describe(handle), m_display, offset + r.at, offset, out.size()));
    if (static_cast<std::uint32_t>(got) < r.length) {
      // The server answers with less than asked (its own limit): ask for the
      // rest, and ask for no more than that from now on.
      chunk = static_cast<std::uint32_t>(got);
      if (auto st = request(r.at + static_cast<std::uint32_t>(got), r.length - static_cast<std::uint32_t>(got)); !st)
        return fail_with(st);
    }
  }
  return {};
}

Result<Bytes> SftpBackend::load(const Handle& handle, std::uint64_t offset, std::uint64_t length) {
  KHO_TRY_STATUS(check_object_name(handle));
  const std::string path = path_of(handle);
  return with_connection([&](SftpConnection& c) -> Result<Bytes> {
    SftpFilePtr file(sftp_open(c.sftp(), path.c_str(), O_RDONLY, 0));
    if (!file) return object_error(c, "loading", handle);
    c.arm();
    SftpAttributesPtr attrs(sftp_fstat(file.get()));
    if (!attrs) return object_error(c, "loading", handle);
    if (!is_regular(attrs.get()))
      return failf(Errc::corruption, "{} in repository {} is not a regular file", describe(handle), m_display);
    const std::uint64_t size = attrs->size;
    const bool too_short = length == 0 ? offset > size : (offset > size || length > size - offset);
    if (too_short)
      return failf(Errc::corruption, "{} in repository {} is {} bytes, shorter than the requested range {}+{}",
                   describe(handle), m_display, size, offset, length);
    Bytes out(length == 0 ? size - offset : length);
    KHO_TRY_STATUS(read_range(c, file.get(), offset, out, handle));
    return out;
  });
}

Result<ObjectInfo> SftpBackend::stat(const Handle& handle) {
  KHO_TRY_STATUS(check_object_name(handle));
  const std::string path = path_of(handle);
  return with_connection([&](SftpConnection& c) -> Result<ObjectInfo> {
    SftpAttributesPtr attrs(sftp_stat(c.sftp(), path.c_str()));
    if (!attrs) return object_error(c, "examining", handle);
    if (!is_regular(attrs.get()))
      return failf(Errc::corruption, "{} in repository {} is not a regular file", describe(handle), m_display);
    return ObjectInfo{handle.name, attrs->size};
  });
}

Result<std::vector<ObjectInfo>> SftpBackend::list(ObjectType type) {
  auto root_or_empty = [&](SftpConnection& c, const Error& e) -> Result<std::vector<ObjectInfo>> {
    if (e.code() != Errc::not_found) return tl::unexpected(e);
    bool is_dir = false;
    KHO_TRY_ASSIGN(bool root_exists, exists(c, m_root, &is_dir));
    if (!root_exists || !is_dir) return repo_missing();
    return std::vector<ObjectInfo>{};  // no such type directory: nothing stored
  };
  if (type == ObjectType::config) {
    return with_connection([&](SftpConnection& c) -> Result<std::vector<ObjectInfo>> {
      const std::string path = m_root + "/config";
      SftpAttributesPtr attrs(sftp_stat(c.sftp(), path.c_str()));
      if (!attrs) return root_or_empty(c, c.error("examining config in repository " + m_display));
      std::vector<ObjectInfo> out;
      if (is_regular(attrs.get())) out.push_back({"", attrs->size});
      return out;
    });
  }
  if (type != ObjectType::data) {
    return with_connection([&](SftpConnection& c) -> Result<std::vector<ObjectInfo>> {
      std::vector<ObjectInfo> out;
      auto listed = list_dir(c, dir_of(type), out);
      if (!listed) return root_or_empty(c, listed.error());
      return out;
    });
  }
  KHO_TRY_STATUS(with_connection([&](SftpConnection& c) -> Status {
    bool is_dir = false;
    KHO_TRY_ASSIGN(bool root_exists, exists(c, m_root, &is_dir));
    if (!root_exists || !is_dir) return repo_missing();
    return {};
  }));
  std::mutex mutex;
  std::vector<ObjectInfo> out;
  KHO_TRY_STATUS(for_each_prefix([&](SftpConnection& c, unsigned i) -> Status {
    std::vector<ObjectInfo> part;
    auto listed = list_dir(c, dir_of(ObjectType::data) + "/" + data_dir_name(i), part);
    if (!listed && listed.error().code() != Errc::not_found) return listed;
    std::lock_guard lock(mutex);
    out.insert(out.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    return {};
  }));
  return out;
}

Status SftpBackend::remove(const Handle& handle) {
  KHO_TRY_STATUS(check_object_name(handle));
  const std::string path = path_of(handle);
  bool lost_once = false;
  return with_connection([&](SftpConnection& c) -> Status {
    if (sftp_unlink(c.sftp(), path.c_str()) == 0) return {};
    auto e = object_error(c, "removing", handle);
    // A second attempt that finds the object gone: the first one removed it.
    if (lost_once && e.value().code() == Errc::not_found) return {};
    lost_once = lost_once || e.value().transient();
    return e;
  });
}

Result<std::uint64_t> SftpBackend::remove_temporaries(ObjectType type) {
  if (type == ObjectType::config) return 0;
  std::atomic<std::uint64_t> removed{0};
  if (type == ObjectType::data) {
    KHO_TRY_STATUS(for_each_prefix([&](SftpConnection& c, unsigned i) {
      return remove_temporaries_in(c, dir_of(type) + "/" + data_dir_name(i), removed);
    }));
  } else {
    KHO_TRY_STATUS(with_connection([&](SftpConnection& c) { return remove_temporaries_in(c, dir_of(type), removed); }));
  }
  return removed.load();
}

}  // namespace

}  // namespace sftp

Result<std::unique_ptr<Backend>> open_sftp(const std::string& location, const BackendOptions& options) {
  KHO_TRY_ASSIGN(sftp::SftpLocation parsed, sftp::parse_sftp_location(location));
  KHO_TRY_ASSIGN(sftp::SftpOptions opts, sftp::parse_sftp_options(options));
  return std::unique_ptr<Backend>(std::make_unique<sftp::SftpBackend>(std::move(parsed), std::move(opts)));
}

}  // namespace kho::backend

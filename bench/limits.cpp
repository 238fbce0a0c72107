// Per-core throughput of the primitives in kho's backup and restore pipelines,
// measured on one thread over a sample of the benchmark tree held in memory.
//
//   limits SAMPLE_FILE [SECONDS_PER_PRIMITIVE [TREE_DIR]]
//
// With TREE_DIR, also the rate of reading every regular file below it from the
// page cache as a backup does: open, fstat, read in 2 MiB blocks, close, one file
// after another ("read_tree"); of all the system calls a backup makes for the
// tree: list each directory, lstat each entry, and open, fstat, flistxattr, read
// and close each regular file relative to its directory ("walk_read_tree", which
// the backup bound uses as its read stage when it is there); and of zstd -3 over
// the tree's files held in memory, each file a frame of its own, larger ones in
// 1 MiB pieces, as a backup compresses them ("zstd3_compress_tree": a tree of
// many small files compresses slower than the sample's large chunks). Always:
// writing 16 MiB blocks into a file beside the sample, as packs are written,
// without fsync ("write_page_cache").
//
// Prints one JSON object: {"sample_bytes": n, "mb_per_s": {name: MB/s, ...},
// "zstd3_ratio": r}. MB = 10^6 bytes. The primitives and their parameters are the
// ones kho uses: zstd level 3 per ~1 MiB chunk (compress_append), BLAKE2b-256
// keyed (blob IDs; OpenSSL's BLAKE2BMAC, and libsodium's generichash beside it), XChaCha20-Poly1305 IETF (seal/open as kho does them; libsodium's beside), SHA-256
// (OpenSSL EVP, pack names), FastCDC with kho's own chunker (default 512 KiB /
// 1 MiB / 8 MiB) compiled from src/kho/chunker/fastcdc.cpp.
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <dirent.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "kho/chunker/fastcdc.hpp"
#include "kho/crypto/crypto.hpp"

namespace {

using Clock = std::chrono::steady_clock;
std::uint64_t g_sink = 0;  // printed at the end so no pass is optimised away

// Runs `pass` (which processes the whole sample once) until `seconds` have
// elapsed (at least twice), and returns MB/s over the bytes processed.
double measure(double seconds, std::size_t bytes_per_pass, const std::function<void()>& pass) {
  pass();  // warm-up: page faults, table set-up
  auto start = Clock::now();
  std::size_t passes = 0;
  double elapsed = 0;
  do {
    pass();
    ++passes;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds || passes < 2);
  return static_cast<double>(bytes_per_pass) * static_cast<double>(passes) / elapsed / 1e6;
}

// Reads an open file to its end in `buffer`-sized blocks; returns the bytes read.
std::size_t read_to_end(int fd, std::vector<std::uint8_t>& buffer) {
  std::size_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) return total;
    total += static_cast<std::size_t>(n);
    g_sink += buffer[0];
  }
}

// Reads every file of `paths` once; returns the bytes read.
std::size_t read_files(const std::vector<std::string>& paths, std::vector<std::uint8_t>& buffer) {
  std::size_t total = 0;
  for (const auto& path : paths) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOATIME | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    struct stat st;
    if (::fstat(fd, &st) == 0) total += read_to_end(fd, buffer);
    ::close(fd);
  }
  return total;
}

// The system calls a backup makes for the tree below `name`: list each directory,
// lstat each entry, and open, fstat, list the xattrs of, read (in `buffer`-sized
// blocks) and close each regular file, relative to its directory's descriptor as
// kho does. Returns the bytes read.
std::size_t walk_dir(int parent, const char* name, std::vector<std::uint8_t>& buffer) {
  const int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return 0;
  }
  std::vector<std::string> subdirs;
  std::size_t total = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      subdirs.emplace_back(e->d_name);
    } else if (S_ISREG(st.st_mode)) {
      const int f = ::openat(fd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_NONBLOCK);
      if (f < 0) continue;
      struct stat fst;
      char names[256];
      if (::fstat(f, &fst) == 0) {
        g_sink += static_cast<std::uint64_t>(::flistxattr(f, names, sizeof names) + 1);
        total += read_to_end(f, buffer);
      }
      ::close(f);
    }
  }
  for (const auto& sub : subdirs) total += walk_dir(fd, sub.c_str(), buffer);
  ::closedir(dir);
  return total;
}

// Writes `bytes` into a new file below `dir`, 16 MiB at a time as packs are
// written, then removes it: the copy into the page cache a backup makes of what
// it stores (no fsync: waiting for the disk is not CPU time).
void write_file_once(const std::string& dir, const std::vector<std::uint8_t>& block, std::size_t bytes) {
  const std::string path = dir + "/limits-write.tmp";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  for (std::size_t done = 0; done < bytes;) {
    const std::size_t n = std::min(block.size(), bytes - done);
    const ssize_t w = ::write(fd, block.data(), n);
    if (w <= 0) std::abort();
    done += static_cast<std::size_t>(w);
  }
  ::close(fd);
  ::unlink(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SAMPLE_FILE [SECONDS]\n", argv[0]);
    return 2;
  }
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  if (sodium_init() < 0) return 1;

  std::ifstream in(argv[1], std::ios::binary);
  std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < (1U << 20)) {
    std::fprintf(stderr, "sample too small (%zu bytes)\n", data.size());
    return 1;
  }

  // Cut the sample into chunks with kho's chunker, as a backup does.
  kho::chunker::Params params;
  std::uint8_t seed[32];
  randombytes_buf(seed, sizeof seed);
  kho::chunker::Chunker chunker(params, kho::chunker::derive_gear({seed, sizeof seed}));
  std::vector<std::pair<std::size_t, std::size_t>> chunks;  // offset, length
  for (std::size_t off = 0; off < data.size();) {
    std::size_t n = chunker.next_cut({data.data() + off, data.size() - off}, true);
    chunks.emplace_back(off, n);
    off += n;
  }
  const std::size_t total = data.size();

  std::vector<std::pair<std::string, double>> results;

  results.emplace_back("fastcdc", measure(seconds, total, [&] {
                         std::size_t cuts = 0;
                         for (std::size_t off = 0; off < total;) {
                           off += chunker.next_cut({data.data() + off, total - off}, true);
                           ++cuts;
                         }
                         g_sink += cuts;
                       }));

  std::uint8_t hkey[32];
  randombytes_buf(hkey, sizeof hkey);
  // kho computes blob IDs with OpenSSL's BLAKE2BMAC (libsodium's generichash
  // gives the same digest, slower); both are measured.
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "BLAKE2BMAC", nullptr);
  EVP_MAC_CTX* mac_ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  if (mac_ctx) {
    results.emplace_back("blake2b_256_keyed", measure(seconds, total, [&] {
                           std::uint8_t out[32];
                           std::size_t size = sizeof out, written = 0;
                           const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                                                        OSSL_PARAM_construct_end()};
                           for (auto [off, n] : chunks) {
                             EVP_MAC_init(mac_ctx, hkey, sizeof hkey, params);
                             EVP_MAC_update(mac_ctx, data.data() + off, n);
                             EVP_MAC_final(mac_ctx, out, &written, sizeof out);
                             g_sink += out[0];
                           }
                         }));
  }
  results.emplace_back(mac_ctx ? "blake2b_256_keyed_libsodium" : "blake2b_256_keyed", measure(seconds, total, [&] {
                         std::uint8_t out[32];
                         for (auto [off, n] : chunks) {
                           crypto_generichash(out, sizeof out, data.data() + off, n, hkey, sizeof hkey);
                           g_sink += out[0];
                         }
                       }));
  EVP_MAC_CTX_free(mac_ctx);
  EVP_MAC_free(mac);

  results.emplace_back("sha256", measure(seconds, total, [&] {
                         unsigned char out[32];
                         unsigned int len = 0;
                         for (auto [off, n] : chunks) {
                           EVP_Digest(data.data() + off, n, out, &len, EVP_sha256(), nullptr);
                           g_sink += out[0];
                         }
                       }));

  // XChaCha20-Poly1305 as kho seals and opens (kho::crypto: OpenSSL's
  // ChaCha20-Poly1305 under an HChaCha20 subkey for 4 KiB and more), then
  // libsodium's alone (the same bytes) on second lines.
  std::uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  std::uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  randombytes_buf(key, sizeof key);
  randombytes_buf(nonce, sizeof nonce);
  const kho::SecretBytes kho_key(kho::ByteSpan(key, sizeof key));
  std::vector<std::uint8_t> sealed(params.max_size + kho::crypto::k_seal_overhead);
  results.emplace_back("xchacha20poly1305_seal", measure(seconds, total, [&] {
                         for (auto [off, n] : chunks) {
                           std::uint8_t* buffer = sealed.data();
                           std::memcpy(buffer + kho::crypto::k_nonce_size, data.data() + off, n);
                           kho::crypto::seal_in_place(kho_key, buffer, n, {});
                           g_sink += sealed[0];
                         }
                       }));
  results.emplace_back("xchacha20poly1305_seal_libsodium", measure(seconds, total, [&] {
                         for (auto [off, n] : chunks) {
                           unsigned long long clen = 0;
                           crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data(), &clen, data.data() + off, n,
                                                                      nullptr, 0, nullptr, nonce, key);
                           g_sink += sealed[0];
                         }
                       }));

  // Open: decrypt one sealed chunk of average size repeatedly (the cost per byte
  // does not depend on content).
  {
    std::size_t n = std::min<std::size_t>(total, params.avg_size);
    const kho::Bytes one = kho::crypto::seal(kho_key, kho::ByteSpan(data.data(), n), {});
    std::vector<std::uint8_t> plain(n);
    std::size_t reps = total / n;
    results.emplace_back("xchacha20poly1305_open", measure(seconds, reps * n, [&] {
                           for (std::size_t r = 0; r < reps; ++r) {
                             if (!kho::crypto::open_into(kho_key, one, {}, "chunk", plain.data())) std::abort();
                             g_sink += plain[0];
                           }
                         }));
    results.emplace_back("xchacha20poly1305_open_libsodium", measure(seconds, reps * n, [&] {
                           for (std::size_t r = 0; r < reps; ++r) {
                             unsigned long long plen = 0;
                             if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plen, nullptr,
                                                                            one.data() + kho::crypto::k_nonce_size,
                                                                            one.size() - kho::crypto::k_nonce_size,
                                                                            nullptr, 0, one.data(), key) != 0)
                               std::abort();
                             g_sink += plain[0];
                           }
                         }));
  }

  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::vector<std::uint8_t> comp(ZSTD_compressBound(params.max_size));
  std::size_t compressed_total = 0;
  results.emplace_back("zstd3_compress", measure(seconds, total, [&] {
                         std::size_t sum = 0;
                         for (auto [off, n] : chunks) {
                           std::size_t c = ZSTD_compressCCtx(cctx, comp.data(), comp.size(), data.data() + off, n, 3);
                           if (ZSTD_isError(c)) std::abort();
                           sum += c;
                         }
                         compressed_total = sum;
                       }));

  // Decompress: all chunks compressed once up front, then decompressed.
  {
    std::vector<std::vector<std::uint8_t>> frames;
    for (auto [off, n] : chunks) {
      std::vector<std::uint8_t> f(ZSTD_compressBound(n));
      f.resize(ZSTD_compressCCtx(cctx, f.data(), f.size(), data.data() + off, n, 3));
      frames.push_back(std::move(f));
    }
    std::vector<std::uint8_t> out(params.max_size);
    results.emplace_back("zstd_decompress", measure(seconds, total, [&] {
                           for (const auto& f : frames) {
                             std::size_t d = ZSTD_decompressDCtx(dctx, out.data(), out.size(), f.data(), f.size());
                             if (ZSTD_isError(d)) std::abort();
                             g_sink += d;
                           }
                         }));
  }
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);

  if (argc > 3) {
    std::vector<std::string> paths;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(argv[3], ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec) && !it->is_symlink(ec)) paths.push_back(it->path().string());
    std::vector<std::uint8_t> buffer(2 << 20);
    const std::size_t tree_bytes = read_files(paths, buffer);
    if (tree_bytes > 0) {
      results.emplace_back("read_tree", measure(seconds, tree_bytes, [&] { read_files(paths, buffer); }));
      results.emplace_back("walk_read_tree",
                           measure(seconds, tree_bytes, [&] { g_sink += walk_dir(AT_FDCWD, argv[3], buffer); }));
    }
    {
      // Into the directory of the sample (the benchmark's own), 64 MiB a pass.
      const std::string dir = std::filesystem::path(argv[1]).parent_path().string();
      std::vector<std::uint8_t> block(16 << 20, 0x5a);
      constexpr std::size_t k_write_bytes = std::size_t{64} << 20;
      results.emplace_back("write_page_cache", measure(seconds, k_write_bytes, [&] {
                             write_file_once(dir.empty() ? "." : dir, block, k_write_bytes);
                           }));
    }
    std::vector<std::vector<std::uint8_t>> files;
    std::size_t held = 0;
    for (const auto& path : paths) {
      std::ifstream f(path, std::ios::binary);
      files.emplace_back((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      held += files.back().size();
      if (held > (std::size_t{4} << 30)) break;  // enough for a rate
    }
    ZSTD_CCtx* tree_cctx = ZSTD_createCCtx();
    std::vector<std::uint8_t> out(ZSTD_compressBound(1 << 20));
    if (held > 0)
      results.emplace_back("zstd3_compress_tree", measure(seconds, held, [&] {
                             for (const auto& f : files)
                               for (std::size_t off = 0; off < f.size() || off == 0; off += 1 << 20) {
                                 std::size_t n = std::min<std::size_t>(f.size() - off, 1 << 20);
                                 std::size_t c = ZSTD_compressCCtx(tree_cctx, out.data(), out.size(), f.data() + off, n, 3);
                                 if (ZSTD_isError(c)) std::abort();
                                 g_sink += c;
                                 if (f.empty()) break;
                               }
                           }));
    ZSTD_freeCCtx(tree_cctx);
  }

  std::printf("{\"sample_bytes\": %zu, \"chunks\": %zu, \"zstd3_ratio\": %.4f, \"mb_per_s\": {", total, chunks.size(),
              compressed_total ? static_cast<double>(total) / static_cast<double>(compressed_total) : 0.0);
  for (std::size_t i = 0; i < results.size(); ++i)
    std::printf("%s\"%s\": %.1f", i ? ", " : "", results[i].first.c_str(), results[i].second);
  std::printf("}}\n");
  std::fprintf(stderr, "(checksum %llu)\n", static_cast<unsigned long long>(g_sink));
  return 0;
}

#include "kho/repo/keys.hpp"

#include <nlohmann/json.hpp>

#include "kho/platform/fs.hpp"
#include "kho/util/json.hpp"

namespace kho::repo {

namespace {
constexpr std::string_view k_key_ad = "kho:key:v1";
constexpr std::size_t k_master_size = 3 * crypto::k_key_size;
// Refuse key files that ask for absurd KDF work (a hostile file could make us
// allocate or spin without bound).
constexpr std::uint64_t k_max_memlimit = 4ULL << 30;
constexpr std::uint64_t k_max_opslimit = 64;
}  // namespace

MasterKeys MasterKeys::generate() {
  MasterKeys keys{SecretBytes(crypto::k_key_size), SecretBytes(crypto::k_key_size), SecretBytes(crypto::k_key_size)};
  crypto::random_bytes({keys.encryption.data(), keys.encryption.size()});
  crypto::random_bytes({keys.id.data(), keys.id.size()});
  crypto::random_bytes({keys.chunker_seed.data(), keys.chunker_seed.size()});
  return keys;
}

Result<Bytes> make_key_file(const MasterKeys& keys, const SecretString& password, const crypto::KdfParams& kdf) {
  KHO_TRY_ASSIGN(SecretBytes wrap, crypto::derive_key(password, kdf));
  SecretBytes master(k_master_size);
  std::memcpy(master.data(), keys.encryption.data(), crypto::k_key_size);
  std::memcpy(master.data() + crypto::k_key_size, keys.id.data(), crypto::k_key_size);
  std::memcpy(master.data() + 2 * crypto::k_key_size, keys.chunker_seed.data(), crypto::k_key_size);
  Bytes sealed = crypto::seal(wrap, master.span(), as_bytes(k_key_ad));
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["created"] = format_rfc3339(now_ns());
  j["host"] = platform::host_name();
  j["username"] = platform::current_user();
  j["kdf"] = {{"algorithm", "argon2id13"},
              {"opslimit", kdf.opslimit},
              {"memlimit", kdf.memlimit},
              {"salt", to_base64(kdf.salt)}};
  j["data"] = to_base64(sealed);
  std::string text = json_dump(j, 2) + "\n";
  return Bytes(text.begin(), text.end());
}

Result<KeyFileInfo> parse_key_file(ByteSpan file, const std::string& what) {
  auto bad = [&](const std::string& why) { return fail(Errc::corruption, "key file " + what + " is malformed: " + why); };
  nlohmann::json j = nlohmann::json::parse(file.begin(), file.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not JSON");
  try {
    KeyFileInfo info;
    info.version = json_integer<int>(j.at("version"));
    if (info.version != 1) return bad("unsupported version " + std::to_string(info.version));
    if (auto t = parse_rfc3339(j.value("created", ""))) info.created = *t;
    info.host = j.value("host", "");
    info.username = j.value("username", "");
    const auto& kdf = j.at("kdf");
    if (kdf.at("algorithm").get<std::string>() != "argon2id13") return bad("unknown KDF");
    info.kdf.opslimit = json_integer<std::uint64_t>(kdf.at("opslimit"));
    info.kdf.memlimit = json_integer<std::uint64_t>(kdf.at("memlimit"));
    if (info.kdf.memlimit > k_max_memlimit || info.kdf.opslimit > k_max_opslimit) return bad("KDF parameters out of range");
    auto salt = from_base64(kdf.at("salt").get<std::string>());
    if (!salt || salt->size() != 16) return bad("bad salt");
    info.kdf.salt = std::move(*salt);
    return info;
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
}

Result<MasterKeys> open_key_file(ByteSpan file, const SecretString& password, const std::string& what) {
  KHO_TRY_ASSIGN(KeyFileInfo info, parse_key_file(file, what));
  nlohmann::json j = nlohmann::json::parse(file.begin(), file.end(), nullptr, false);
  Bytes sealed;
  try {
    auto data = from_base64(j.at("data").get<std::string>());
    if (!data) return fail(Errc::corruption, "key file " + what + " is malformed: bad data");
    sealed = std::move(*data);
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::corruption, "key file " + what + " is malformed: " + e.what());
  }
  KHO_TRY_ASSIGN(SecretBytes wrap, crypto::derive_key(password, info.kdf));
  auto plain = crypto::open(wrap, sealed, as_bytes(k_key_ad), "key " + what);
  if (!plain) return fail(Errc::wrong_password, "the password does not open key " + what);
  SecretBytes master(*plain);
  secure_wipe(plain->data(), plain->size());
  if (master.size() != k_master_size) return fail(Errc::corruption, "key file " + what + " holds a key set of the wrong size");
  MasterKeys keys{SecretBytes(master.span().subspan(0, 32)), SecretBytes(master.span().subspan(32, 32)),
                  SecretBytes(master.span().subspan(64, 32))};
  return keys;
}

Result<Bytes> load_key_file(backend::Backend& backend, const backend::ObjectInfo& info) {
  if (info.size > k_max_key_file_size)
    return failf(Errc::corruption, "is {} bytes, too large to be a key file", info.size);
  return backend.load(backend::Handle{backend::ObjectType::key, info.name});
}

bool key_file_matches_name(ByteSpan file, std::string_view name) {
  auto id = Id::parse(name);
  return id && crypto::sha256(file) == *id;
}

}  // namespace kho::repo

#include "kho/repo/config.hpp"

#include <bit>

#include <nlohmann/json.hpp>

#include "kho/util/json.hpp"

namespace kho::repo {

std::string RepoConfig::to_json() const {
  nlohmann::ordered_json j;
  j["version"] = version;
  j["id"] = id.hex();
  j["created"] = format_rfc3339(created);
  j["chunker"] = {{"algorithm", "fastcdc"},
                  {"min_size", chunker.min_size},
                  {"avg_size", chunker.avg_size},
                  {"max_size", chunker.max_size}};
  j["compression"] = {{"algorithm", "zstd"}, {"level", compression_level}};
  j["pack_size"] = pack_size;
  j["padding"] = padding == Padding::padme ? "padme" : "none";
  return json_dump(j, 2);
}

Result<RepoConfig> RepoConfig::from_json(ByteSpan text, const std::string& what) {
  auto bad = [&](const std::string& why) { return fail(Errc::corruption, what + " is malformed: " + why); };
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not JSON");
  RepoConfig c;
  try {
    c.version = json_integer<int>(j.at("version"));
    if (c.version != 1)
      return fail(Errc::unsupported, what + " has format version " + std::to_string(c.version) +
                                         "; this kho reads version 1: upgrade kho");
    auto id = Id::parse(j.at("id").get<std::string>());
    if (!id) return bad("bad id");
    c.id = *id;
    if (auto t = parse_rfc3339(j.value("created", ""))) c.created = *t;
    const auto& ch = j.at("chunker");
    if (ch.at("algorithm").get<std::string>() != "fastcdc") return bad("unknown chunker");
    c.chunker.min_size = json_integer<std::uint32_t>(ch.at("min_size"));
    c.chunker.avg_size = json_integer<std::uint32_t>(ch.at("avg_size"));
    c.chunker.max_size = json_integer<std::uint32_t>(ch.at("max_size"));
    if (!chunker::validate(c.chunker)) return bad("chunker parameters out of range");
    const auto& co = j.at("compression");
    if (co.at("algorithm").get<std::string>() != "zstd") return bad("unknown compression");
    c.compression_level = json_integer<int>(co.at("level"));
    if (c.compression_level < 0 || c.compression_level > 22) return bad("compression level out of range");
    c.pack_size = json_integer<std::uint32_t>(j.at("pack_size"));
    if (c.pack_size < 1024 * 1024 || c.pack_size > 1024U * 1024 * 1024) return bad("pack size out of range");
    std::string padding = j.value("padding", "none");
    if (padding == "padme") c.padding = Padding::padme;
    else if (padding != "none") return bad("unknown padding '" + padding + "'");
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  return c;
}

std::uint64_t padme_length(std::uint64_t size) {
  if (size < 2) return size;
  unsigned e = 63 - static_cast<unsigned>(std::countl_zero(size));  // floor(log2 size)
  unsigned s = 64 - static_cast<unsigned>(std::countl_zero(static_cast<std::uint64_t>(e)));  // floor(log2 e) + 1
  unsigned last_bits = e - s;
  std::uint64_t mask = (1ULL << last_bits) - 1;
  return (size + mask) & ~mask;
}

}  // namespace kho::repo

#include "kho/backend/wrap/fault_backend.hpp"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <thread>

namespace kho::backend {

namespace {

constexpr std::array<const char*, k_fault_op_count> k_op_names = {"load", "save", "list", "stat", "remove"};

// Salts that keep the draws of different fault kinds independent.
enum Salt : std::uint64_t { salt_fail = 1, salt_corrupt, salt_short, salt_torn, salt_lost, salt_delay, salt_detail };

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

tl::unexpected<Error> bad_spec(const std::string& what) {
  return failf(Errc::invalid_argument, "KHO_FAULTS: {} (expected e.g. seed=7,rate=0.05,ops=load+save,fail_at=save:12)",
               what);
}

Result<std::uint64_t> parse_uint(const std::string& key, const std::string& value) {
  std::uint64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size())
    return bad_spec(fmt::format("{}={} is not a whole number", key, value));
  return out;
}

Result<double> parse_probability(const std::string& key, const std::string& value) {
  double out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || !(out >= 0 && out <= 1))
    return bad_spec(fmt::format("{}={} is not a probability between 0 and 1", key, value));
  return out;
}

Result<FaultOp> parse_op(const std::string& name) {
  for (std::size_t i = 0; i < k_fault_op_count; ++i)
    if (name == k_op_names[i]) return static_cast<FaultOp>(i);
  return bad_spec(fmt::format("unknown operation '{}' (use load, save, list, stat, remove)", name));
}

}  // namespace

Result<FaultSpec> parse_fault_spec(const std::string& text) {
  FaultSpec spec;
  if (text.empty()) return spec;
  for (const std::string& item : split(text, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) return bad_spec(fmt::format("'{}' is not KEY=VALUE", item));
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "seed") {
      KHO_TRY_ASSIGN(spec.seed, parse_uint(key, value));
    } else if (key == "rate") {
      KHO_TRY_ASSIGN(spec.rate, parse_probability(key, value));
    } else if (key == "corrupt") {
      KHO_TRY_ASSIGN(spec.corrupt, parse_probability(key, value));
    } else if (key == "short") {
      KHO_TRY_ASSIGN(spec.short_read, parse_probability(key, value));
    } else if (key == "torn") {
      KHO_TRY_ASSIGN(spec.torn, parse_probability(key, value));
    } else if (key == "lost") {
      KHO_TRY_ASSIGN(spec.lost, parse_probability(key, value));
    } else if (key == "delay_ms" || key == "retry_delay_ms") {
      KHO_TRY_ASSIGN(std::uint64_t ms, parse_uint(key, value));
      if (ms > 60000) return bad_spec(fmt::format("{}={} is more than a minute", key, value));
      (key == "delay_ms" ? spec.delay_ms : spec.retry_delay_ms) = static_cast<unsigned>(ms);
    } else if (key == "transient") {
      if (value != "yes" && value != "no") return bad_spec(fmt::format("transient={} must be yes or no", value));
      spec.transient = value == "yes";
    } else if (key == "ops") {
      spec.ops.fill(value == "all");
      if (value != "all") {
        for (const std::string& name : split(value, '+')) {
          KHO_TRY_ASSIGN(FaultOp op, parse_op(name));
          spec.ops[static_cast<std::size_t>(op)] = true;
        }
      }
    } else if (key == "types") {
      spec.types.fill(value == "all");
      if (value != "all") {
        for (const std::string& name : split(value, '+')) {
          bool known = false;
          for (auto type : {ObjectType::config, ObjectType::key, ObjectType::data, ObjectType::index,
                            ObjectType::snapshot, ObjectType::lock}) {
            if (name != type_dir(type)) continue;
            spec.types[static_cast<std::size_t>(type)] = true;
            known = true;
          }
          if (!known)
            return bad_spec(
                fmt::format("unknown object type '{}' (use config, keys, data, index, snapshots, locks)", name));
        }
      }
    } else if (key == "fail_at") {
      for (const std::string& at : split(value, '+')) {
        auto colon = at.find(':');
        if (colon == std::string::npos) return bad_spec(fmt::format("fail_at={} is not OP:N", at));
        KHO_TRY_ASSIGN(FaultOp op, parse_op(at.substr(0, colon)));
        KHO_TRY_ASSIGN(std::uint64_t n, parse_uint("fail_at", at.substr(colon + 1)));
        if (n == 0) return bad_spec("fail_at counts calls from 1");
        spec.fail_at.emplace_back(op, n);
      }
    } else {
      return bad_spec(fmt::format("unknown key '{}'", key));
    }
  }
  return spec;
}

FaultBackend::FaultBackend(std::unique_ptr<Backend> inner, FaultSpec spec)
    : m_inner(std::move(inner)), m_spec(std::move(spec)) {}

double FaultBackend::draw(FaultOp op, std::uint64_t call, std::uint64_t salt) const {
  std::uint64_t h =
      splitmix64(m_spec.seed ^ splitmix64(call ^ splitmix64((static_cast<std::uint64_t>(op) << 8) | salt)));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

std::uint64_t FaultBackend::begin(FaultOp op) {
  std::uint64_t call = ++m_calls[static_cast<std::size_t>(op)];
  if (m_spec.delay_ms > 0) {
    auto ms = static_cast<long>(draw(op, call, salt_delay) * (m_spec.delay_ms + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  return call;
}

bool FaultBackend::fails(FaultOp op, std::uint64_t call) const {
  for (const auto& [at_op, at_call] : m_spec.fail_at)
    if (at_op == op && at_call == call) return true;
  return m_spec.ops[static_cast<std::size_t>(op)] && m_spec.rate > 0 && draw(op, call, salt_fail) < m_spec.rate;
}

tl::unexpected<Error> FaultBackend::injected(const std::string& what) const {
  return fail(Errc::io, fmt::format("{} in repository {}: injected fault (KHO_FAULTS)", what, properties().location),
              m_spec.transient);
}

Status FaultBackend::save(const Handle& handle, ByteSpan data) {
  if (!targets(handle.type)) return m_inner->save(handle, data);
  std::uint64_t call = begin(FaultOp::save);
  if (fails(FaultOp::save, call)) return injected("saving " + describe(handle));
  if (m_spec.torn > 0 && draw(FaultOp::save, call, salt_torn) < m_spec.torn && !data.empty()) {
    auto keep = static_cast<std::size_t>(draw(FaultOp::save, call, salt_detail) * static_cast<double>(data.size()));
    KHO_TRY_STATUS(m_inner->save(handle, data.subspan(0, keep)));
    return injected(fmt::format("saving {} (cut off after {} of {} bytes)", describe(handle), keep, data.size()));
  }
  KHO_TRY_STATUS(m_inner->save(handle, data));
  if (m_spec.lost > 0 && draw(FaultOp::save, call, salt_lost) < m_spec.lost)
    return injected("saving " + describe(handle) + " (stored, but the answer was lost)");
  return {};
}

Result<Bytes> FaultBackend::load(const Handle& handle, std::uint64_t offset, std::uint64_t length) {
  if (!targets(handle.type)) return m_inner->load(handle, offset, length);
  std::uint64_t call = begin(FaultOp::load);
  if (fails(FaultOp::load, call)) return injected("loading " + describe(handle));
  KHO_TRY_ASSIGN(Bytes bytes, m_inner->load(handle, offset, length));
  if (bytes.empty()) return bytes;
  auto pick = [&] {
    return static_cast<std::size_t>(draw(FaultOp::load, call, salt_detail) * static_cast<double>(bytes.size()));
  };
  if (m_spec.short_read > 0 && draw(FaultOp::load, call, salt_short) < m_spec.short_read) {
    bytes.resize(pick());
  } else if (m_spec.corrupt > 0 && draw(FaultOp::load, call, salt_corrupt) < m_spec.corrupt) {
    bytes[pick()] ^= 0xff;
  }
  return bytes;
}

Result<ObjectInfo> FaultBackend::stat(const Handle& handle) {
  if (!targets(handle.type)) return m_inner->stat(handle);
  std::uint64_t call = begin(FaultOp::stat);
  if (fails(FaultOp::stat, call)) return injected("reading the size of " + describe(handle));
  return m_inner->stat(handle);
}

Result<std::vector<ObjectInfo>> FaultBackend::list(ObjectType type) {
  if (!targets(type)) return m_inner->list(type);
  std::uint64_t call = begin(FaultOp::list);
  if (fails(FaultOp::list, call)) return injected(std::string("listing ") + type_dir(type));
  return m_inner->list(type);
}

Status FaultBackend::remove(const Handle& handle) {
  if (!targets(handle.type)) return m_inner->remove(handle);
  std::uint64_t call = begin(FaultOp::remove);
  if (fails(FaultOp::remove, call)) return injected("removing " + describe(handle));
  KHO_TRY_STATUS(m_inner->remove(handle));
  if (m_spec.lost > 0 && draw(FaultOp::remove, call, salt_lost) < m_spec.lost)
    return injected("removing " + describe(handle) + " (removed, but the answer was lost)");
  return {};
}

}  // namespace kho::backend

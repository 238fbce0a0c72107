// Injects storage faults into another backend, for tests: failed calls, short
// and corrupted reads, torn saves and delays, chosen at random from a seed or at
// given call numbers.
//
// Spec (the KHO_FAULTS environment variable; comma-separated KEY=VALUE):
//   seed=N            random seed (default 1)
//   rate=P            probability (0..1) that a call of one of `ops` fails before reaching storage
//   ops=OP[+OP...]    operations `rate` applies to: load save list stat remove, or all (default all)
//   types=T[+T...]    object types faults apply to: config keys data index snapshots locks, or all
//                     (default all); calls on other types pass through and are not counted
//   transient=yes|no  whether injected errors are marked transient (retried) (default yes)
//   corrupt=P         probability that a load returns its bytes with one byte inverted
//   short=P           probability that a load returns fewer bytes than asked (at least one less)
//   torn=P            probability that a save stores a truncated object under its name, then fails
//   lost=P            probability that a save or remove is done, then fails (the answer was lost)
//   delay_ms=N        each call first waits a random 0..N ms
//   fail_at=OP:N[+OP:N...]   the Nth call (from 1) of OP fails; repeatable
//   retry_delay_ms=N  first pause of the RetryBackend around this one (default 250), to keep tests fast
//
// Whether call number n of an operation is hit is a function of (seed, operation,
// n, fault kind) only, so a single-threaded sequence of calls sees the same faults
// on every run; with parallel calls the numbers are the same, the objects they hit
// may differ. Counters are per operation and count every call, retries included.
//
// Torn saves leave what a server that writes in place (rclone serve restic) leaves
// when an upload is cut off; local and SFTP saves are atomic and never do. Short
// and corrupted reads are storage faults: kho must detect them (AEAD, SHA-256 of
// names, length checks) and never use the bytes. Injected errors are Errc::io and
// say "injected fault". Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kho/backend/backend.hpp"

namespace kho::backend {

enum class FaultOp { load, save, list, stat, remove };
inline constexpr std::size_t k_fault_op_count = 5;

struct FaultSpec {
  std::uint64_t seed = 1;
  double rate = 0;
  std::array<bool, k_fault_op_count> ops{true, true, true, true, true};
  std::array<bool, 6> types{true, true, true, true, true, true};  // indexed by ObjectType
  bool transient = true;
  double corrupt = 0;
  double short_read = 0;
  double torn = 0;
  double lost = 0;
  unsigned delay_ms = 0;
  std::vector<std::pair<FaultOp, std::uint64_t>> fail_at;
  unsigned retry_delay_ms = 250;
};

// Parses a spec as described above; fails with Errc::invalid_argument naming the
// bad key or value. An empty spec is valid and injects nothing.
[[nodiscard]] Result<FaultSpec> parse_fault_spec(const std::string& spec);

class FaultBackend final : public Backend {
 public:
  FaultBackend(std::unique_ptr<Backend> inner, FaultSpec spec);

  Status create() override { return m_inner->create(); }
  Status save(const Handle& handle, ByteSpan data) override;
  Result<Bytes> load(const Handle& handle, std::uint64_t offset, std::uint64_t length) override;
  Result<ObjectInfo> stat(const Handle& handle) override;
  Result<std::vector<ObjectInfo>> list(ObjectType type) override;
  Status remove(const Handle& handle) override;
  Result<std::uint64_t> remove_temporaries(ObjectType type) override { return m_inner->remove_temporaries(type); }
  Properties properties() const override { return m_inner->properties(); }

  // Calls made so far of one operation.
  std::uint64_t calls(FaultOp op) const { return m_calls[static_cast<std::size_t>(op)].load(); }

 private:
  bool targets(ObjectType type) const { return m_spec.types[static_cast<std::size_t>(type)]; }
  // Counts the call; waits the delay; returns its number (from 1).
  std::uint64_t begin(FaultOp op);
  // A value in [0, 1) for (op, call, salt), from the seed.
  double draw(FaultOp op, std::uint64_t call, std::uint64_t salt) const;
  bool fails(FaultOp op, std::uint64_t call) const;
  tl::unexpected<Error> injected(const std::string& what) const;

  std::unique_ptr<Backend> m_inner;
  FaultSpec m_spec;
  std::array<std::atomic<std::uint64_t>, k_fault_op_count> m_calls{};
};

}  // namespace kho::backend

// Counters a long-running engine operation updates and the CLI reads to show
// progress. All fields are atomics: written by workers, read by a display thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>

namespace kho::engine {

struct Progress {
  std::atomic<std::uint64_t> files_done{0};
  std::atomic<std::uint64_t> bytes_done{0};
  std::atomic<std::uint64_t> files_total{0};  // 0 when unknown
  std::atomic<std::uint64_t> bytes_total{0};  // 0 when unknown
  std::atomic<std::uint64_t> errors{0};
  // When set (kho -v), called for each item acted on: ("new", path),
  // ("modified", path), ("restored", path). May be called from several threads.
  std::function<void(std::string_view what, std::string_view path)> log;
};

// Set by the CLI's SIGINT/SIGTERM handler; engines check it between units of work
// and stop with Errc::interrupted.
std::atomic<bool>& cancel_flag();
inline bool cancelled() { return cancel_flag().load(std::memory_order_relaxed); }

}  // namespace kho::engine

// Policy YAML (orchestrate/policy.cpp and yaml_fields.cpp): load_policy_text as
// `kho policy check` runs it, then what the CLI does with the result: format
// every issue, show every policy as JSON, resolve its time zone.
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "kho/orchestrate/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  auto result = orchestrate::load_policy_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  for (const auto& issue : result.issues) (void)orchestrate::format_issue(issue);
  for (const auto& policy : result.policies) {
    (void)orchestrate::to_json(policy).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)policy.snapshot_tags();
    (void)orchestrate::policy_time_zone(policy.timezone);
  }
  return 0;
}

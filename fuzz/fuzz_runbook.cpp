// Runbook YAML (orchestrate/runbook.cpp): load_runbook_text as `kho runbook
// check` runs it, the policy cross-check, JSON output, the snapshot selector
// and template expansion a run performs.
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "kho/orchestrate/runbook.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kho;
  auto result =
      orchestrate::load_runbook_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  orchestrate::check_runbook_policies(result, {});
  for (const auto& issue : result.issues) (void)orchestrate::format_issue(issue);
  auto again = orchestrate::load_runbook_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  for (const auto& runbook : again.runbooks) {
    (void)orchestrate::to_json(runbook).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)orchestrate::parse_snapshot_selector(runbook.snapshot);
    orchestrate::TemplateVars vars{"/root", "/sandbox", "0123abcd", runbook.policy, runbook.vars};
    for (const auto& step : runbook.steps) {
      (void)orchestrate::expand_template(step.name, vars);
      if (step.run) (void)orchestrate::expand_template(*step.run, vars);
    }
    vars.extra = runbook.drill_vars;
    (void)orchestrate::expand_template(runbook.description, vars);
  }
  return 0;
}

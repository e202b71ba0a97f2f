// harness/src/handoff_stats_json.hpp: the JSON of a HandoffRecord (the
// `handoff` object of a repetition, harness/SCHEMA.md "Handoff statistics,
// per-role counters, placement").
#pragma once

#include "handoff_stats.hpp"
#include "results.hpp"

namespace spill::bench {

[[nodiscard]] json handoff_json(const HandoffRecord& h);

}  // namespace spill::bench

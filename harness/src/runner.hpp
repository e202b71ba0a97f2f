// harness/src/runner.hpp: runs a plan: one point at a time (warm-up and
// measured repetitions, checks, cost), each point's record written to the
// result file atomically as soon as it is done, a watchdog against hung
// points, SIGINT after the current point, and the summary table at the end.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "cli.hpp"
#include "metadata.hpp"
#include "plan.hpp"
#include "record.hpp"

namespace spill::bench {

/// What every point of a run shares: options, counters, pinning (per swept
/// placement class too) and floors.
struct RunContext {
    const RunOptions* options = nullptr;
    Papi* papi = nullptr;
    const Pinner* pinner = nullptr;
    std::map<std::string, std::unique_ptr<Pinner>> placed;  // one per swept class: its CPU pair
    FloorTable floors;

    [[nodiscard]] const Pinner& pinner_for(const std::string& placement) const;
};

/// Runs one point: warm-up, then the measured repetitions, each checked.
/// Never throws for a failed repetition: the record says what failed.
PointRecord run_point(const PlannedPoint& pl, RunContext& ctx);

/// Runs every point of `plan` (resuming `o.out` when asked) and returns the
/// exit code: 0, exit_check, exit_interrupted. Throws InputError for bad
/// input found before the first point (a resume file that does not match).
int run_plan(const RunOptions& o, const Plan& plan);

}  // namespace spill::bench

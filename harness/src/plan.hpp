// harness/src/plan.hpp: what a run will run, decided before anything runs
// or is written: the grids expanded into points, each point once per swept
// placement class, this shard's share of them, in the (possibly shuffled)
// run order; and, when resuming, which of them the file already holds.
//
// A plan is a value: printing it is a dry run. A new swept dimension that
// is a parameter of the point (a grid key) needs nothing here; one resolved
// against the machine, like placement, is one more step in make_plan().
#pragma once

#include <string>
#include <vector>

#include "cli.hpp"
#include "placement.hpp"
#include "results.hpp"
#include "scenario.hpp"

namespace spill::bench {

/// One point to run, and the scenario that runs it.
struct PlannedPoint {
    PointSpec spec;
    const Scenario* scenario = nullptr;
};

struct Plan {
    std::vector<PlannedPoint> points;          // this shard's, in run order
    std::size_t grid_points = 0;               // every shard's
    spill::measure::PlacementReport placements;  // the machine's classes
    std::vector<std::string> swept;            // placement classes some point runs on, closest first
    json skipped = json::array();              // placement classes named but absent, per grid
};

/// Expands, validates and orders every point of `o`'s grids. Throws
/// InputError for bad input (an unknown scenario, a scenario that is not
/// built named on the command line, an absent placement class...); prints a
/// note for each sweep section it skips.
Plan make_plan(const RunOptions& o);
/// The same, with the placement classes of `topology` (--topology: a plan
/// for another machine, which only --dry-run prints).
Plan make_plan(const RunOptions& o, const spill::measure::Topology& topology);

/// One thread of a point: its role and index, its pinning slot, and the CPU
/// (OS index) the slot is bound to, -1 if unbound.
struct PlannedThread {
    std::string role;
    std::uint64_t index = 0;
    std::size_t slot = 0;
    int cpu = -1;
};
/// The threads of point `p` in slot order (from its scenario's roles:
/// producers P, mergers and stage-2 workers M, every other role one) and the
/// CPUs `pinner` binds them to: what --dry-run prints, and what a run's
/// `threads` records say (planned_cpu).
std::vector<PlannedThread> planned_threads(const PlannedPoint& p, const Pinner& pinner);

/// The planned points that `done` (a resumed file) does not hold yet.
std::vector<PlannedPoint> still_to_run(const Plan& plan, const ResultDoc& done);

}  // namespace spill::bench

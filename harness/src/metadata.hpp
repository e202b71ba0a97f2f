// harness/src/metadata.hpp: what a result file says about the run as a
// whole: provenance (which commit, with uncommitted changes or not, when,
// where, by which command), the machine and build, the counters, the
// placement classes, and the floors measured before the first point.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "calibrate.hpp"
#include "cli.hpp"
#include "placement.hpp"
#include "platform.hpp"
#include "record.hpp"
#include "results.hpp"

namespace spill::bench {

/// metadata.provenance: every result file names the commit it was built
/// from (and whether the tree had uncommitted changes), how it was built
/// (compiler, flags, build type), when and on which host it was written, and
/// the command line that wrote it.
json provenance(const std::string& command_line);

/// The metadata of a new run (without the floors).
json metadata_for(const RunOptions& o, const Pinner& pinner, const Papi& papi);

/// The floor figures each point is divided by: the run's, and per swept
/// placement class when several were calibrated.
struct FloorTable {
    FloorFigures run;
    std::map<std::string, FloorFigures> by_class;
    /// The floors of placement class `cls`, or the run's when it has none of its own.
    [[nodiscard]] const FloorFigures& for_class(const std::string& cls) const;
};

/// Measures the floors (unless --no-calibrate) on the CPUs the points run
/// on and records them, with the placement classification, in `md`
/// (metadata.placement, metadata.floors, metadata.floors_by_placement).
/// `swept`: the classes the points run on; `skipped`: the classes left out.
FloorTable calibrate_floors_into(json& md, const RunOptions& o, const Pinner& pinner, const spill::measure::PlacementReport& pr,
                                 const std::vector<std::string>& swept, const json& skipped);

/// The floors a resumed file was started with, read from its metadata (so a
/// resumed run divides by the same floors as the points already in it).
FloorTable floors_from_metadata(const json& md);

}  // namespace spill::bench

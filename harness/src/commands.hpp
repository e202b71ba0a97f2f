// harness/src/commands.hpp: the commands of spill-bench, each returning the
// process exit code (bad input throws InputError; main turns it into one
// line on stderr and exit 2).
#pragma once

#include <string>
#include <vector>

#include "cli.hpp"

namespace spill::bench {

/// Every scenario: its description and facts (and, with `as_json`, the grid
/// parameters), as text or as one JSON document on stdout.
int cmd_list(bool as_json);
/// The hwloc topology, the pinning plans, the readable counters and the placement classes.
int cmd_topology(PinPolicy pin, const std::string& counters);
/// Joins shard files `args[1..]` into `args[0]` (and its CSV with `csv`).
int cmd_merge(const std::vector<std::string>& args, bool csv, const std::string& command_line);
/// run and sweep: plan, then run the plan.
int cmd_run(const RunOptions& o);

}  // namespace spill::bench

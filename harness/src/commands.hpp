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
/// The hwloc topology, the pinning plans, the placement classes and the
/// readable counters; with `topology` (--topology FILE.xml|synthetic:DESC)
/// those of another machine (without the counters, which are this one's).
int cmd_topology(PinPolicy pin, const std::string& counters, const std::string& topology);
/// Joins shard files `args[1..]` into `args[0]` (and its CSV with `csv`),
/// recording each shard's host, commit, build and points. Shards of
/// different commits or build flags are bad input unless `force` (then the
/// differences are recorded in metadata.merge).
int cmd_merge(const std::vector<std::string>& args, bool csv, bool force, const std::string& command_line);
/// run and sweep: plan, then run the plan, or with --dry-run print it. A
/// real run refuses a --topology that is not this machine's.
int cmd_run(const RunOptions& o);

}  // namespace spill::bench

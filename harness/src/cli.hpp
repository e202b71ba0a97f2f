// harness/src/cli.hpp: spill-bench's command line: the options, their
// parsing and validation into a Command, and the usage text.
//
// Every bad value is an InputError naming it (main prints one line, exit 2),
// raised before any output file is touched.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "grid.hpp"
#include "scenario.hpp"

namespace spill::bench {

inline constexpr int exit_input = 2;
inline constexpr int exit_check = 3;
inline constexpr int exit_hung = 4;
inline constexpr int exit_interrupted = 130;

/// What `run` and `sweep` run with.
struct RunOptions {
    std::vector<Grid> grids;
    std::uint64_t repetitions = 3;
    std::uint64_t warmup = 1;
    PinPolicy pin = PinPolicy::compact;
    std::string counters = "default";
    std::string out;
    bool csv = false;             // --csv: write FILE.csv beside --out
    std::uint64_t seed = 0;
    bool resume = false;
    Shard shard;
    std::uint64_t slowdown_pct = 0;
    Fault fault = Fault::none;
    std::uint64_t stall_ns = 0;   // hidden --inject-stall-ns (latency scenarios)
    int lockstep_in = -1;         // hidden --lockstep IN,OUT: one byte in before each repetition,
    int lockstep_out = -1;        // one byte out after it (analysis/ab_run.py interleaves two builds)
    std::string command_line;
    std::string sweep_file;
    bool quiet = false;
    std::uint64_t point_timeout_s = 900;
    bool calibrate = true;        // measure the floors before the run (--no-calibrate: skip)
    std::string placement;        // --placement as given: classes from placement.hpp and/or "all", or empty
    std::string topology;         // --topology FILE.xml|synthetic:DESC as given; empty: this machine's
    bool dry_run = false;         // --dry-run: print each point's threads and CPUs; run and write nothing
};

/// A parsed command line.
struct Command {
    enum class Kind { help, list, topology, merge, run } kind = Kind::help;
    bool usage_error = false;       // no command given: usage on stderr, exit 2
    bool json = false;              // list --json
    bool csv = false;               // merge --csv
    std::vector<std::string> args;  // merge: OUT.json SHARD.json...
    PinPolicy pin = PinPolicy::compact;  // topology
    std::string counters = "default";    // topology
    std::string topology;                // topology --topology: another machine's (empty: this one)
    bool force = false;                  // merge --force: merge shards of different builds (recorded)
    RunOptions run;                 // run, sweep
};

/// Parses argv; throws InputError (one line naming the bad value).
Command parse_command_line(int argc, char** argv);
void usage(std::ostream& o);

/// argv as one shell-quoted line (recorded as the command line of a result).
std::string join_args(int argc, char** argv);

}  // namespace spill::bench

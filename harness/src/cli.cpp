// harness/src/cli.cpp: see cli.hpp.
#include "cli.hpp"

#include <fcntl.h>

#include <ostream>

// GCC 12 reports a -Wnull-dereference false positive inside libstdc++'s
// vector copy when instantiated by Boost.Program_options' typed_value<vector>
// (the "args" positional); silenced for this translation unit only.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/program_options.hpp>

#include "results.hpp"

namespace spill::bench {

namespace po = boost::program_options;

namespace {

po::options_description grid_options() {
    po::options_description d("Grid (each a list: 1,2,4 | range 1-8 | geometric 1-64:x2 | arithmetic 0-1000:+250)");
    // The numeric parameters come from the one table of grid.hpp.
    for (const GridParameter& row : grid_parameters()) d.add_options()(row.option, po::value<std::string>(), row.help);
    d.add_options()(delay_mode_option, po::value<std::string>(), "busy_item|busy_batch|block_item|block_batch (list allowed) [busy_item]");
    return d;
}

po::options_description run_options() {
    po::options_description d("Run");
    d.add_options()("repetitions", po::value<std::string>(), "measured repetitions per point [3]")(
        "warmup", po::value<std::string>(), "unmeasured repetitions before them [1]")("pin", po::value<std::string>(), "compact|scatter|none [compact]")(
        "counters", po::value<std::string>(), "PAPI events: default, none, sde (the library's own events, any machine), or names (PAPI_TOT_CYC,sde:::spill::takes,...) [default]")(
        "out", po::value<std::string>(), "result file FILE.json")("csv", po::bool_switch(), "also write FILE.csv beside --out (one row per repetition)")(
        "seed", po::value<std::string>(), "shuffle the order points run in with this seed (0: grid order) [0]")(
        "resume", po::bool_switch(), "skip points already in --out and append the rest")(
        "shard", po::value<std::string>(), "run only shard i of n (i/n, 0-based): points p with p % n == i")(
        "quiet", po::bool_switch(), "no progress lines on stderr")(
        "no-calibrate", po::bool_switch(), "do not measure the floors (ping-pong, line transfer, masked store) before the run")(
        placement_option, po::value<std::string>(),
        "run the threads (and measure the floors) on the CPU pair of a placement class; a list sweeps them: same_core|same_l2|same_l3|other_l3|other_numa|other_package|all [threads follow --pin]")(
        "point-timeout", po::value<std::string>(), "seconds one point may take before the run is aborted as hung (0: never) [900]")(
        "topology", po::value<std::string>(),
        "plan on another machine's topology: FILE.xml (as `lstopo FILE.xml` writes it) or synthetic:DESC (hwloc's synthetic syntax); run and sweep need --dry-run unless it is this machine's")(
        "dry-run", po::bool_switch(), "run and sweep: print every point's threads, the CPU each would get and the placement classes; run nothing, write nothing")(
        "force", po::bool_switch(), "merge: join shards of different commits or build flags (recorded in the merged file)")(
        "json", po::bool_switch(), "list: print the scenarios and their facts as JSON")("help,h", po::bool_switch(), "this help");
    return d;
}

po::options_description hidden_options() {
    po::options_description d("Hidden");
    d.add_options()("inject-slowdown", po::value<std::string>(), "add busy work per item: PCT percent of the calibrated time per item")(
        "inject-fault", po::value<std::string>(), "drop|reorder: break the run on purpose so the checks must catch it")(
        "inject-stall-ns", po::value<std::string>(), "latency scenarios: the consumer sleeps this long once, at half of the items")(
        "lockstep", po::value<std::string>(), "IN,OUT file descriptors: read a byte from IN before each repetition, write one to OUT after it")(
        "command", po::value<std::string>(), "")("args", po::value<std::vector<std::string>>(), "");
    return d;
}

std::string opt(const po::variables_map& vm, const char* name) { return vm.count(name) ? vm[name].as<std::string>() : std::string(); }

/// --topology's value; an empty one is bad input (an absent option means this machine).
std::string topology_value(const po::variables_map& vm) {
    std::string v = opt(vm, "topology");
    if (v.empty()) throw InputError("--topology: empty value (expected FILE.xml or synthetic:DESCRIPTION)");
    return v;
}

/// Options common to run and sweep, applied over what a sweep file set
/// (grid options override every grid).
void apply_options(const po::variables_map& vm, RunOptions& o) {
    for (const GridParameter& row : grid_parameters())
        if (vm.count(row.option))
            for (Grid& g : o.grids) (void)set_grid_param(g, row.option, vm[row.option].as<std::string>());
    if (vm.count(delay_mode_option))
        for (Grid& g : o.grids) (void)set_grid_param(g, delay_mode_option, opt(vm, delay_mode_option));
    if (vm.count("repetitions")) o.repetitions = parse_uint(opt(vm, "repetitions"), "--repetitions");
    if (vm.count("warmup")) o.warmup = parse_uint(opt(vm, "warmup"), "--warmup");
    if (o.repetitions == 0) throw InputError("--repetitions: 0 (need at least 1)");
    if (o.repetitions > 1000) throw InputError("--repetitions: " + std::to_string(o.repetitions) + " is above the limit of 1000");
    if (vm.count("pin")) o.pin = parse_pin(opt(vm, "pin"));
    if (vm.count("counters")) o.counters = opt(vm, "counters");
    if (vm.count("seed")) o.seed = parse_uint(opt(vm, "seed"), "--seed");
    if (vm.count("out")) o.out = opt(vm, "out");
    o.csv = vm["csv"].as<bool>();
    o.resume = vm["resume"].as<bool>();
    o.quiet = vm["quiet"].as<bool>();
    o.calibrate = !vm["no-calibrate"].as<bool>();
    if (vm.count(placement_option)) {
        o.placement = opt(vm, placement_option);
        const std::vector<std::string> classes = parse_placements(o.placement);  // names each unknown class
        for (Grid& g : o.grids) g.placement = classes;
    }
    if (vm.count("shard")) o.shard = parse_shard(opt(vm, "shard"));
    if (vm.count("point-timeout")) o.point_timeout_s = parse_uint(opt(vm, "point-timeout"), "--point-timeout");
    if (vm.count("topology")) o.topology = topology_value(vm);
    o.dry_run = vm["dry-run"].as<bool>();
    if (vm.count("inject-slowdown")) {
        o.slowdown_pct = parse_uint(opt(vm, "inject-slowdown"), "--inject-slowdown");
        if (o.slowdown_pct > 10000) throw InputError("--inject-slowdown: " + std::to_string(o.slowdown_pct) + " is above the limit of 10000 percent");
    }
    if (vm.count("lockstep")) {
        const std::string v = opt(vm, "lockstep");
        const auto comma = v.find(',');
        if (comma == std::string::npos) throw InputError("--lockstep: " + v + " is not IN,OUT (two file descriptors)");
        const std::uint64_t in = parse_uint(v.substr(0, comma), "--lockstep");
        const std::uint64_t out = parse_uint(v.substr(comma + 1), "--lockstep");
        for (const std::uint64_t fd : {in, out}) {
            if (fd > 1024 || ::fcntl(static_cast<int>(fd), F_GETFD) == -1)
                throw InputError("--lockstep: file descriptor " + std::to_string(fd) + " is not open");
        }
        o.lockstep_in = static_cast<int>(in);
        o.lockstep_out = static_cast<int>(out);
    }
    if (vm.count("inject-stall-ns")) {
        o.stall_ns = parse_uint(opt(vm, "inject-stall-ns"), "--inject-stall-ns");
        if (o.stall_ns > 10000000000ull) throw InputError("--inject-stall-ns: " + std::to_string(o.stall_ns) + " is above the limit of 10 s");
    }
    if (vm.count("inject-fault")) {
        const std::string f = opt(vm, "inject-fault");
        if (f == "drop") o.fault = Fault::drop;
        else if (f == "reorder") o.fault = Fault::reorder;
        else if (f == "none") o.fault = Fault::none;
        else throw InputError("--inject-fault: unknown fault '" + f + "' (expected drop or reorder)");
    }
    if (o.resume && o.out.empty()) throw InputError("--resume: needs --out FILE.json (the file to resume)");
    if (o.csv && o.out.empty()) throw InputError("--csv: needs --out FILE.json (the CSV is written beside it)");
    if (!o.out.empty()) check_output_path(o.out);
}

}  // namespace

void usage(std::ostream& o) {
    o << "usage:\n"
         "  spill-bench list [--json]                 scenarios, their facts and the parameters they sweep\n"
         "  spill-bench run SCENARIO [options]        run the cartesian grid of one scenario\n"
         "  spill-bench sweep FILE [options]          run every section of a sweep file (scenarios/...)\n"
         "  spill-bench merge OUT.json SHARD.json... [--csv] [--force]  join shard result files (of one commit and build)\n"
         "  spill-bench topology [--pin P] [--counters C] [--topology FILE.xml|synthetic:DESC]\n"
         "                                            hwloc topology, pinning plans, placement classes, readable counters\n"
         "  spill-bench run|sweep ... --dry-run [--topology FILE.xml|synthetic:DESC]  the plan: each thread's CPU, per point\n\n"
      << grid_options() << "\n"
      << run_options() << "\nSee harness/README.md.\n";
}

std::string join_args(int argc, char** argv) {
    std::string s;
    for (int i = 0; i < argc; ++i) {
        if (i) s += ' ';
        std::string a = argv[i];
        if (a.find_first_of(" \t'\"") != std::string::npos) a = "'" + a + "'";
        s += a;
    }
    return s;
}

Command parse_command_line(int argc, char** argv) {
    po::options_description all;
    all.add(grid_options()).add(run_options()).add(hidden_options());
    po::positional_options_description pos;
    pos.add("command", 1).add("args", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw InputError(e.what());
    }
    Command c;
    if (vm["help"].as<bool>()) return c;
    if (!vm.count("command")) {
        c.usage_error = true;
        return c;
    }
    const std::string cmd = vm["command"].as<std::string>();
    c.args = vm.count("args") ? vm["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
    if (cmd == "help" || cmd == "--help" || cmd == "-h") return c;
    if (cmd == "list") {
        c.kind = Command::Kind::list;
        c.json = vm["json"].as<bool>();
        if (!c.args.empty()) throw InputError("list: unexpected argument '" + c.args.front() + "'");
        return c;
    }
    if (cmd == "topology") {
        c.kind = Command::Kind::topology;
        if (vm.count("pin")) c.pin = parse_pin(opt(vm, "pin"));
        if (vm.count("counters")) c.counters = opt(vm, "counters");
        if (vm.count("topology")) c.topology = topology_value(vm);
        return c;
    }
    if (cmd == "merge") {
        c.kind = Command::Kind::merge;
        c.csv = vm["csv"].as<bool>();
        c.force = vm["force"].as<bool>();
        return c;
    }
    c.kind = Command::Kind::run;
    RunOptions& o = c.run;
    o.command_line = join_args(argc, argv);
    if (cmd == "run") {
        if (c.args.size() != 1) throw InputError("run: expected exactly one SCENARIO (got " + std::to_string(c.args.size()) + ")");
        Grid g;
        g.scenario = c.args[0];
        g.origin = "command line";
        if (!find_scenario(g.scenario)) throw InputError("run: unknown scenario '" + g.scenario + "' (see spill-bench list)");
        o.grids.push_back(g);
    } else if (cmd == "sweep") {
        if (c.args.size() != 1) throw InputError("sweep: expected exactly one FILE (got " + std::to_string(c.args.size()) + ")");
        SweepFile f = load_sweep(c.args[0]);
        o.sweep_file = c.args[0];
        o.grids = f.grids;
        if (f.settings.repetitions) o.repetitions = *f.settings.repetitions;
        if (f.settings.warmup) o.warmup = *f.settings.warmup;
        if (f.settings.pin) o.pin = parse_pin(*f.settings.pin);
        if (f.settings.counters) o.counters = *f.settings.counters;
        if (f.settings.seed) o.seed = *f.settings.seed;
    } else {
        throw InputError("unknown command '" + cmd + "' (expected list, run, sweep, merge or topology)");
    }
    apply_options(vm, o);
    return c;
}

}  // namespace spill::bench

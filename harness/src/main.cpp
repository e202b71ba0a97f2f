// harness/src/main.cpp: the spill-bench command line.
//
//   spill-bench list
//   spill-bench run SCENARIO [options]
//   spill-bench sweep FILE [options]
//   spill-bench merge OUT.json SHARD.json...
//   spill-bench topology [--pin POLICY] [--counters LIST]
//
// See harness/README.md. Bad input ends with one line on stderr naming the
// value, exit code 2, and no output file.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>

// GCC 12 reports a -Wnull-dereference false positive inside libstdc++'s
// vector copy when instantiated by Boost.Program_options' typed_value<vector>
// (the "args" positional); silenced for this translation unit only.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/program_options.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "calibrate.hpp"
#include "cost.hpp"
#include "grid.hpp"
#include "handoff_stats_json.hpp"
#include "histogram.hpp"
#include "latency.hpp"
#include "manifest.hpp"
#include "placement.hpp"
#include "platform.hpp"
#include "results.hpp"
#include "scenario.hpp"

namespace po = boost::program_options;
using namespace spill::bench;

namespace {

constexpr int exit_input = 2;
constexpr int exit_check = 3;
constexpr int exit_interrupted = 130;

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) {
    g_interrupted = 1;
    std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
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

std::string fmt_seconds(double s) {
    std::ostringstream o;
    if (s < 60) o << std::fixed << std::setprecision(1) << s << "s";
    else o << static_cast<long>(s) / 60 << "m" << std::setw(2) << std::setfill('0') << static_cast<long>(s) % 60 << "s";
    return o.str();
}

std::string fmt_rate(double r) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(2);
    if (r >= 1e9) o << r / 1e9 << "G";
    else if (r >= 1e6) o << r / 1e6 << "M";
    else if (r >= 1e3) o << r / 1e3 << "k";
    else o << r;
    return o.str();
}

// ----------------------------------------------------------- options ----

struct RunOptions {
    std::vector<Grid> grids;
    std::uint64_t repetitions = 3;
    std::uint64_t warmup = 1;
    PinPolicy pin = PinPolicy::compact;
    std::string counters = "default";
    std::string out;
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
};

po::options_description grid_options() {
    po::options_description d("Grid (each a list: 1,2,4 | range 1-8 | geometric 1-64:x2 | arithmetic 0-1000:+250)");
    d.add_options()("producers", po::value<std::string>(), "producer threads (pool workers) [2]")(
        "mergers", po::value<std::string>(), "merger threads (mpsm) or stage-2 workers (pipeline) [1]")(
        "ring-size", po::value<std::string>(), "ring capacity, power of two 64..65536 [1024]")(
        "consumer-delay-ns", po::value<std::string>(), "consumer slowdown in ns [0]")(
        "delay-mode", po::value<std::string>(), "busy_item|busy_batch|block_item|block_batch (list allowed) [busy_item]")(
        "items", po::value<std::string>(), "items per repetition, over all producers [100000]")(
        "rounds", po::value<std::string>(), "rounds per repetition [100]")(
        "rate-items-per-s", po::value<std::string>(), "open-loop target rate over all producers (latency_open) [100000]");
    return d;
}

po::options_description run_options() {
    po::options_description d("Run");
    d.add_options()("repetitions", po::value<std::string>(), "measured repetitions per point [3]")(
        "warmup", po::value<std::string>(), "unmeasured repetitions before them [1]")("pin", po::value<std::string>(), "compact|scatter|none [compact]")(
        "counters", po::value<std::string>(), "PAPI events: default, none, or names (PAPI_TOT_CYC,...) [default]")(
        "out", po::value<std::string>(), "result file FILE.json (FILE.csv is written beside it)")(
        "seed", po::value<std::string>(), "shuffle the order points run in with this seed (0: grid order) [0]")(
        "resume", po::bool_switch(), "skip points already in --out and append the rest")(
        "shard", po::value<std::string>(), "run only shard i of n (i/n, 0-based): points p with p % n == i")(
        "quiet", po::bool_switch(), "no progress lines on stderr")(
        "no-calibrate", po::bool_switch(), "do not measure the floors (ping-pong, line transfer, masked store) before the run")(
        "placement", po::value<std::string>(), "run the threads (and measure the floors) on the CPU pair of a placement class; a list sweeps them: same_core|same_l2|same_l3|other_l3|other_numa|other_package|all [threads follow --pin]")(
        "point-timeout", po::value<std::string>(), "seconds one point may take before the run is aborted as hung (0: never) [900]")("help,h", po::bool_switch(), "this help");
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

void usage(std::ostream& o) {
    o << "usage:\n"
         "  spill-bench list                          scenarios and the parameters they sweep\n"
         "  spill-bench run SCENARIO [options]        run the cartesian grid of one scenario\n"
         "  spill-bench sweep FILE [options]          run every section of a sweep file (scenarios/...)\n"
         "  spill-bench merge OUT.json SHARD.json...  join shard result files\n"
         "  spill-bench topology [--pin P] [--counters C]  hwloc topology, pinning plan, readable counters\n\n"
      << grid_options() << "\n"
      << run_options() << "\nSee harness/README.md.\n";
}

std::string opt(const po::variables_map& vm, const char* name) {
    return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

/// Parses options common to run and sweep into `o` (grid overrides applied to every grid).
void apply_options(const po::variables_map& vm, RunOptions& o) {
    for (const char* key : {"producers", "mergers", "ring-size", "consumer-delay-ns", "delay-mode", "items", "rounds", "rate-items-per-s"})
        if (vm.count(key))
            for (Grid& g : o.grids) (void)set_grid_param(g, key, vm[key].as<std::string>());
    if (vm.count("repetitions")) o.repetitions = parse_uint(opt(vm, "repetitions"), "--repetitions");
    if (vm.count("warmup")) o.warmup = parse_uint(opt(vm, "warmup"), "--warmup");
    if (o.repetitions == 0) throw InputError("--repetitions: 0 (need at least 1)");
    if (o.repetitions > 1000) throw InputError("--repetitions: " + std::to_string(o.repetitions) + " is above the limit of 1000");
    if (vm.count("pin")) o.pin = parse_pin(opt(vm, "pin"));
    if (vm.count("counters")) o.counters = opt(vm, "counters");
    if (vm.count("seed")) o.seed = parse_uint(opt(vm, "seed"), "--seed");
    if (vm.count("out")) o.out = opt(vm, "out");
    o.resume = vm["resume"].as<bool>();
    o.quiet = vm["quiet"].as<bool>();
    o.calibrate = !vm["no-calibrate"].as<bool>();
    if (vm.count("placement")) {
        o.placement = opt(vm, "placement");
        const std::vector<std::string> classes = parse_placements(o.placement);  // names each unknown class
        for (Grid& g : o.grids) g.placement = classes;
    }
    if (vm.count("shard")) o.shard = parse_shard(opt(vm, "shard"));
    if (vm.count("point-timeout")) o.point_timeout_s = parse_uint(opt(vm, "point-timeout"), "--point-timeout");
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
    if (!o.out.empty()) check_output_path(o.out);
}

// ------------------------------------------------------------ running ----

/// Aborts the process if one point runs longer than the timeout: a hung
/// point (a deadlock in the code under test) must not hang a CI job or a
/// cluster allocation forever. Every finished point is already on disk, so
/// the run can be resumed without the culprit (or with a longer timeout).
class Watchdog {
public:
    explicit Watchdog(std::uint64_t timeout_s) : timeout_s_(timeout_s) {
        if (timeout_s_ != 0) thread_ = std::thread([this] { loop(); });
    }
    ~Watchdog() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    void start(const std::string& id) {
        std::lock_guard lock(mu_);
        id_ = id;
        ++generation_;
        armed_ = true;
        cv_.notify_one();
    }
    void finish() {
        std::lock_guard lock(mu_);
        armed_ = false;
        cv_.notify_one();
    }

private:
    void loop() {
        std::unique_lock lock(mu_);
        while (!stop_) {
            if (!armed_) {
                cv_.wait(lock);
                continue;
            }
            const std::uint64_t gen = generation_;
            const bool done = cv_.wait_for(lock, std::chrono::seconds(timeout_s_), [&] { return stop_ || !armed_ || generation_ != gen; });
            if (!done) {
                std::fprintf(stderr, "\nspill-bench: point %s still running after %llu s (--point-timeout): aborting as hung; finished points are saved, resume with --resume\n",
                             id_.c_str(), static_cast<unsigned long long>(timeout_s_));
                std::fflush(stderr);
                std::_Exit(4);
            }
        }
    }

    std::uint64_t timeout_s_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::string id_;
    std::uint64_t generation_ = 0;
    bool armed_ = false;
    bool stop_ = false;
    std::thread thread_;
};

struct Planned {
    PointSpec spec;
    const Scenario* scenario;
};

// ------------------------------------------------------ floors, cost ----

/// The measure blocks serialize to nlohmann::json; result files keep key
/// order (ordered_json): convert.
template <class T>
json as_ordered(const T& v) {
    const nlohmann::json j = v;
    return json(j);
}

/// The two floor figures each point is divided by, read back from
/// metadata.floors (so a resumed file uses the floors it was started with).
struct FloorFigures {
    double line_ns = std::numeric_limits<double>::quiet_NaN();   // one-way line transfer
    double store_ns = std::numeric_limits<double>::quiet_NaN();  // masked store, median ns per store
};

double ok_number(const json& part, const char* key, const char* sub = nullptr) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (!part.is_object() || !part.contains("status") || !part["status"].value("ok", false)) return nan;
    const json* v = part.contains(key) ? &part[key] : nullptr;
    if (v && sub) v = v->is_object() && v->contains(sub) ? &(*v)[sub] : nullptr;
    return v && v->is_number() ? v->get<double>() : nan;
}

FloorFigures floor_figures(const json& md) {
    FloorFigures f;
    if (!md.contains("floors") || !md["floors"].is_object()) return f;
    const json& fl = md["floors"];
    if (fl.contains("line_transfer")) f.line_ns = ok_number(fl["line_transfer"], "one_way_ns");
    if (fl.contains("masked_store")) f.store_ns = ok_number(fl["masked_store"], "ns_per_store", "median");
    return f;
}

/// The CPUs a run's threads are pinned to (the first two distinct PUs of the
/// plan), or the first usable CPUs when the run does not pin.
std::vector<int> calibration_cpus(const Pinner& pinner, const spill::measure::PlacementReport& pr) {
    std::vector<int> cpus;
    for (int c : pinner.plan())
        if (c >= 0 && std::find(cpus.begin(), cpus.end(), c) == cpus.end() && cpus.size() < 2) cpus.push_back(c);
    for (int c : pr.cpus)
        if (cpus.size() < 2 && std::find(cpus.begin(), cpus.end(), c) == cpus.end()) cpus.push_back(c);
    return cpus;
}

/// metadata.floors (and metadata.floors_by_placement when --placement sweeps
/// several classes, or says all). `swept`: the classes the points run on.
void add_floors(json& md, const RunOptions& o, const Pinner& pinner, const spill::measure::PlacementReport& pr,
                const std::vector<std::string>& swept, const json& skipped) {
    namespace m = spill::measure;
    json pl = as_ordered(pr);
    if (!o.placement.empty()) pl["selected"] = o.placement;
    pl["swept"] = swept;
    if (!skipped.empty()) pl["skipped"] = skipped;
    if (!swept.empty() && pr.single_class())
        pl["note"] = "one placement class on this machine (" + std::string(m::to_string(pr.classes.front().cls)) +
                     "): the placement sweep has one value, so it shows no placement effect here";
    md["placement"] = pl;
    if (!o.calibrate) {
        md["floors"] = {{"skipped", "--no-calibrate"}};
        return;
    }
    auto note = [&](const std::vector<int>& cpus) {
        if (o.quiet) return;
        std::cerr << "spill-bench: calibrating floors on cpus";
        for (int c : cpus) std::cerr << " " << c;
        std::cerr << " (--no-calibrate skips)\n";
    };
    std::vector<int> cpus;
    const bool all = std::find(swept.begin(), swept.end(), "all") != swept.end() || o.placement.find("all") != std::string::npos;
    if (swept.empty()) {
        cpus = calibration_cpus(pinner, pr);
    } else if (all || swept.size() > 1) {
        json by = json::object();
        for (const m::PlacementExample& e : pr.classes) {
            if (e.cpu_a < 0 || e.cpu_b < 0) continue;
            if (std::find(swept.begin(), swept.end(), std::string(m::to_string(e.cls))) == swept.end()) continue;
            const std::vector<int> pair{e.cpu_a, e.cpu_b};
            note(pair);
            json f = as_ordered(m::calibrate_floors(pair));
            f["placement"] = std::string(m::to_string(e.cls));
            by[std::string(m::to_string(e.cls))] = std::move(f);
        }
        md["floors_by_placement"] = by;
        const m::PlacementExample& closest = pr.classes.front();
        cpus = closest.cpu_a >= 0 ? std::vector<int>{closest.cpu_a, closest.cpu_b} : calibration_cpus(pinner, pr);
    } else {
        const auto cls = m::placement_from_string(swept.front());
        const m::PlacementExample* e = cls ? pr.find(*cls) : nullptr;
        if (!e || e->cpu_a < 0) throw InputError("--placement: class '" + swept.front() + "' is not present on this machine (" + pr.summary() + ")");
        cpus = {e->cpu_a, e->cpu_b};
    }
    if (md.contains("floors_by_placement")) {
        // The closest swept class's floors are the run's floors.
        for (const m::PlacementExample& e : pr.classes) {
            const std::string c(m::to_string(e.cls));
            if (md["floors_by_placement"].contains(c)) {
                md["floors"] = md["floors_by_placement"][c];
                return;
            }
        }
    }
    note(cpus);
    json f = as_ordered(m::calibrate_floors(cpus));
    if (swept.size() == 1) f["placement"] = swept.front();
    md["floors"] = std::move(f);
}

/// The classes a grid's --placement list names on this machine: "all" is
/// every class present; a class the machine lacks is an input error when it
/// is the only one asked for, else skipped with a notice (and recorded).
std::vector<std::string> resolve_placements(const Grid& g, const spill::measure::PlacementReport& pr, json& skipped) {
    namespace m = spill::measure;
    std::vector<std::string> present;
    for (const m::PlacementExample& e : pr.classes)
        if (e.cls != m::PlacementClass::unknown && e.cpu_a >= 0 && e.cpu_b >= 0) present.push_back(std::string(m::to_string(e.cls)));
    std::string listed;
    for (const std::string& c : present) listed += (listed.empty() ? "" : ", ") + c;
    if (listed.empty()) listed = "none (" + (pr.reason.empty() ? pr.summary() : pr.reason) + ")";
    std::vector<std::string> out;
    std::vector<std::string> absent;
    for (const std::string& c : g.placement) {
        if (c == "all") {
            for (const std::string& p : present)
                if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
        } else if (std::find(present.begin(), present.end(), c) != present.end()) {
            if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
        } else {
            absent.push_back(c);
        }
    }
    const std::string where = g.origin.empty() || g.origin == "command line" ? "" : " (" + g.origin + ")";
    if (!absent.empty() && (g.placement.size() == 1 || out.empty()))
        throw InputError("--placement: class '" + absent.front() + "'" + where + " is not present on this machine (present: " + listed + ")");
    for (const std::string& c : absent) {
        std::cerr << "spill-bench: note: --placement" << where << ": skipping class '" << c << "', not present on this machine (present: " << listed
                      << ")\n";
        skipped.push_back({{"class", c}, {"scenario", g.scenario}, {"reason", "not present on this machine (present: " + listed + ")"}});
    }
    // Closest first, as the classes are listed.
    std::vector<std::string> ordered;
    for (const std::string& p : present)
        if (std::find(out.begin(), out.end(), p) != out.end()) ordered.push_back(p);
    return ordered;
}

/// The floor figures of a placement class (metadata.floors_by_placement), or
/// the run's floors when the class has none of its own.
FloorFigures floor_figures_for(const json& md, const std::string& cls, const FloorFigures& fallback) {
    if (cls.empty() || !md.contains("floors_by_placement") || !md["floors_by_placement"].contains(cls)) return fallback;
    json one;
    one["floors"] = md["floors_by_placement"][cls];
    return floor_figures(one);
}

/// Where a point's threads ran: its swept class and pair, or the class of the
/// first two distinct CPUs its threads were pinned to.
json placement_json(const Planned& pl, const std::vector<ThreadRecord>& threads, const Pinner& pinner) {
    namespace m = spill::measure;
    json j;
    std::vector<int> cpus;
    for (const ThreadRecord& t : threads)
        if (t.planned_cpu >= 0 && std::find(cpus.begin(), cpus.end(), t.planned_cpu) == cpus.end()) cpus.push_back(t.planned_cpu);
    j["swept"] = !pl.spec.params.placement.empty();
    j["cpus"] = cpus;
    if (!pl.spec.params.placement.empty()) {
        j["class"] = pl.spec.params.placement;
    } else if (cpus.size() >= 2) {
        std::string why;
        const m::PlacementClass c = m::classify_pair(cpus[0], cpus[1], &why);
        j["class"] = std::string(m::to_string(c));
        if (c == m::PlacementClass::unknown) j["reason"] = why;
    } else {
        j["class"] = nullptr;
        j["reason"] = cpus.empty() ? "threads not pinned (" + (pinner.reason().empty() ? std::string("no pinning") : pinner.reason()) + ")"
                                   : "every thread ran on one CPU";
    }
    return j;
}

/// The latency scenarios: their time per item is set by the clock reads
/// (closed loop) or by the pacing (open loop), so no floor multiple is given.
bool is_latency(const std::string& scenario) { return scenario == "latency" || scenario == "latency_open"; }

/// The spill scenarios whose producers hand whole rings to a consumer.
bool hands_off_rings(const std::string& scenario) {
    for (const char* s : {"pool", "stream", "fan_in", "sequenced", "backpressure", "pipeline", "mpsm"})
        if (scenario == s) return true;
    return is_latency(scenario);
}

/// Handoffs of one repetition: in the ring-handing scenarios every
/// producer's ring is handed on once per round; the single-thread ring
/// scenario has none; the baselines move items one at a time (a handoff per
/// item).
std::uint64_t handoffs_per_rep(const Planned& pl) {
    if (pl.spec.scenario == "ring") return 0;
    if (!hands_off_rings(pl.spec.scenario)) return pl.spec.params.items;
    return pl.spec.params.rounds * std::max<std::uint64_t>(pl.spec.params.producers, 1);
}

/// summary.floor_multiples: null for scenarios without a floor (baselines).
json floor_multiples(const Planned& pl, const FloorFigures& ff, double items_per_second) {
    namespace m = spill::measure;
    const double ns_per_item = items_per_second > 0 ? 1e9 / items_per_second : std::numeric_limits<double>::quiet_NaN();
    json fm;
    fm["ns_per_item"] = ns_per_item;
    if (pl.spec.scenario == "ring") {
        fm["masked_store_ns"] = ff.store_ns;
        fm["push_over_masked_store"] = m::multiple_of_floor(ns_per_item, ff.store_ns);
        return fm;
    }
    if (!hands_off_rings(pl.spec.scenario) || is_latency(pl.spec.scenario)) return json();
    const std::uint64_t h = handoffs_per_rep(pl);
    const double per_handoff = h ? static_cast<double>(pl.spec.params.items) / static_cast<double>(h) : 0.0;
    const double floor_ns = m::handoff_floor_per_item_ns(ff.line_ns, per_handoff);
    fm["items_per_handoff"] = per_handoff;
    fm["handoff_floor_per_item_ns"] = floor_ns;
    fm["item_over_handoff_floor"] = m::multiple_of_floor(ns_per_item, floor_ns);
    return fm;
}

std::optional<spill::measure::Role> role_of(const std::string& r) {
    using spill::measure::Role;
    if (r == "producer" || r == "worker") return Role::producer;
    if (r == "merger" || r == "stage2") return Role::merger;
    if (r == "consumer" || r == "owner") return Role::consumer;
    return std::nullopt;
}

/// Cost per role of the last measured repetition (the one the per-thread
/// records are from), and allocations per round over all repetitions.
json cost_json(const Planned& pl, const std::vector<ThreadRecord>& threads, std::uint64_t last_items, std::optional<double> allocs_per_round) {
    namespace m = spill::measure;
    std::vector<m::RoleSample> samples;
    for (const ThreadRecord& t : threads) {
        const auto r = role_of(t.role);
        if (!r || !t.finished) continue;
        m::ThreadCost c;
        c.cpu_seconds = t.cpu_seconds;
        c.voluntary_switches = t.voluntary_cs;
        c.involuntary_switches = t.involuntary_cs;
        samples.push_back(m::RoleSample{*r, c});
    }
    json roles = json::object();
    for (const m::RoleCost& rc : m::summarize_costs(samples, last_items, handoffs_per_rep(pl))) {
        json j = as_ordered(rc);
        j.erase("on_cpu_fraction");  // the records hold no per-thread wall time
        j["total"].erase("wall_seconds");
        roles[std::string(m::to_string(rc.role))] = std::move(j);
    }
    json c;
    c["roles"] = roles;
    c["items"] = last_items;
    c["handoffs"] = handoffs_per_rep(pl);
    c["allocations_per_round"] = allocs_per_round ? json(*allocs_per_round) : json();
    return c;
}

/// cost.counters_by_role: the PAPI events of the last measured repetition,
/// summed over each role's threads, per item and per handoff. An event that
/// cannot be counted (here, or on one of the role's threads) is null with
/// the reason, never 0.
json role_counters_json(const Planned& pl, const std::vector<ThreadRecord>& threads, const std::vector<Papi::ThreadValues>& values, const Papi& papi,
                        std::uint64_t items) {
    namespace m = spill::measure;
    const std::vector<std::string>& names = papi.requested();
    std::map<m::Role, std::vector<const Papi::ThreadValues*>> by_role;  // PAPI values, in thread-exit order
    for (const Papi::ThreadValues& v : values)
        if (const auto r = role_of(v.role)) by_role[*r].push_back(&v);
    std::vector<m::ThreadCounters> in;
    for (const ThreadRecord& t : threads) {
        const auto r = role_of(t.role);
        if (!r) continue;
        m::ThreadCounters tc;
        tc.role = *r;
        const Papi::ThreadValues* mine = nullptr;
        if (auto& q = by_role[*r]; !q.empty()) {
            mine = q.back();
            q.pop_back();
        }
        for (const std::string& n : names) {
            const auto un = papi.unavailable().find(n);
            const auto it = std::find(papi.usable().begin(), papi.usable().end(), n);
            if (un != papi.unavailable().end() || it == papi.usable().end()) {
                tc.values.emplace_back(std::nullopt);
                tc.reasons.push_back(un != papi.unavailable().end() ? un->second : "not counted");
            } else if (mine == nullptr || !mine->error.empty()) {
                tc.values.emplace_back(std::nullopt);
                tc.reasons.push_back(mine ? mine->error : "no PAPI values were recorded for this thread");
            } else {
                const auto k = static_cast<std::size_t>(it - papi.usable().begin());
                tc.values.emplace_back(k < mine->values.size() ? std::optional<double>(static_cast<double>(mine->values[k])) : std::nullopt);
                tc.reasons.emplace_back(k < mine->values.size() ? "" : "no value recorded for this thread");
            }
        }
        in.push_back(std::move(tc));
    }
    json roles = json::object();
    for (const m::RoleCounters& rc : m::summarize_role_counters(in, names.size(), items, handoffs_per_rep(pl))) {
        nlohmann::json j;
        m::role_counters_to_json(j, rc, names);
        roles[std::string(m::to_string(rc.role))] = json(j);
    }
    return roles;
}

json metadata_for(const RunOptions& o, const Pinner& pinner, const Papi& papi) {
    const BuildInfo b = build_info();
    const MachineInfo m = machine_info();
    json md;
    md["tool"] = "spill-bench";
    md["commit"] = b.commit;
    md["dirty"] = b.dirty;
    md["compiler"] = b.compiler;
    md["flags"] = b.flags;
    md["build_type"] = b.build_type;
    md["cpu_model"] = m.cpu_model;
    md["logical_cpus"] = pinner.logical_cpus();
    md["topology"] = pinner.topology_summary();
    md["kernel"] = m.kernel;
    md["hostname"] = m.hostname;
    md["date_utc"] = utc_now_iso();
    md["command_line"] = o.command_line;
    md["seed"] = o.seed;
    md["pin_policy"] = to_string(o.pin);
    md["pinning_available"] = pinner.available();
    md["pinning_reason"] = pinner.reason();
    json c;
    c["requested"] = papi.requested();
    json avail = json::array({"cpu_seconds", "voluntary_context_switches", "involuntary_context_switches", "page_faults"});
    if (allocations_so_far()) avail.push_back("allocations");
    for (const auto& n : papi.usable()) avail.push_back(n);
    c["available"] = avail;
    json un = json::object();
    for (const auto& [k, v] : papi.unavailable()) un[k] = v;
    if (!allocations_so_far()) un["allocations"] = "no counting operator new in this binary";
    c["unavailable"] = un;
    c["papi"] = papi.describe();
    c["scope"] =
        "cpu_seconds, context switches and page faults are getrusage(RUSAGE_SELF) deltas over the measured phase, i.e. the sum over the "
        "point's threads; allocations count global operator new calls of all threads in the measured phase; PAPI events are summed over "
        "the point's threads for the whole repetition";
    md["counters"] = c;
    md["shard"] = {{"index", o.shard.index}, {"count", o.shard.count}};
    md["repetitions"] = o.repetitions;
    md["warmup"] = o.warmup;
    if (!o.sweep_file.empty()) md["sweep_file"] = o.sweep_file;
    {
        spill::measure::ManifestOptions mo;
        mo.topology_xml_path = o.out.empty() ? std::string() : o.out + ".topology.xml";
        if (b.commit != "unknown" && !b.commit.empty()) {
            mo.git_commit = b.commit;
            mo.git_dirty = b.dirty;
        }
        md["manifest"] = as_ordered(spill::measure::collect_manifest(mo));
    }
    if (o.slowdown_pct != 0 || o.fault != Fault::none || o.stall_ns != 0) {
        md["injected"] = {{"slowdown_pct", o.slowdown_pct},
                          {"fault", o.fault == Fault::drop ? "drop" : o.fault == Fault::reorder ? "reorder" : "none"}};
        if (o.stall_ns != 0) md["injected"]["stall_ns"] = o.stall_ns;
    }
    return md;
}

json params_json(const Params& p) {
    json j{{"producers", p.producers},       {"mergers", p.mergers},
           {"ring_size", p.ring_size},       {"consumer_delay_ns", p.consumer_delay_ns},
           {"delay_mode", to_string(p.delay_mode)}, {"items", p.items},
           {"rounds", p.rounds}};
    if (p.rate_items_per_s != 0) j["rate_items_per_s"] = p.rate_items_per_s;  // paced scenarios only (as in the id)
    if (!p.placement.empty()) j["placement"] = p.placement;                    // swept placement class only (as in the id)
    return j;
}

// ------------------------------------------------------------ latency ----

/// A latency histogram as SCHEMA.md "Latency distributions" describes it.
json histogram_json(const LatencyHistogram& h) { return as_ordered(h); }

/// The latency block of one repetition.
json latency_json(const LatencyResult& l) {
    json j;
    j["loop"] = l.open_loop ? "open" : "closed";
    j["clock"] = "CLOCK_MONOTONIC";
    j["target_items_per_second"] = l.open_loop ? json(l.target_items_per_second) : json();
    j["achieved_items_per_second"] = l.achieved_items_per_second ? json(*l.achieved_items_per_second) : json();
    j["item_ns"] = histogram_json(l.item);
    j["handoff_ns"] = histogram_json(l.handoff);
    j["send_lag_ns"] = l.open_loop ? histogram_json(l.send_lag) : json();
    return j;
}

/// The latency histograms of every measured repetition of a point, merged.
struct LatencyTotals {
    bool any = false;
    bool open_loop = false;
    std::uint64_t target = 0;
    std::vector<double> achieved;
    std::unique_ptr<LatencyHistogram> item = std::make_unique<LatencyHistogram>();
    std::unique_ptr<LatencyHistogram> handoff = std::make_unique<LatencyHistogram>();
    std::unique_ptr<LatencyHistogram> send_lag = std::make_unique<LatencyHistogram>();

    void add(const LatencyResult& l) {
        any = true;
        open_loop = l.open_loop;
        target = l.target_items_per_second;
        if (l.achieved_items_per_second) achieved.push_back(*l.achieved_items_per_second);
        item->merge(l.item);
        handoff->merge(l.handoff);
        send_lag->merge(l.send_lag);
    }
    [[nodiscard]] json summary() const {
        json j;
        j["loop"] = open_loop ? "open" : "closed";
        j["target_items_per_second"] = open_loop ? json(target) : json();
        j["achieved_items_per_second"] = summarize(achieved);
        j["item_ns"] = histogram_json(*item);
        j["handoff_ns"] = histogram_json(*handoff);
        j["send_lag_ns"] = open_loop ? histogram_json(*send_lag) : json();
        return j;
    }
};

/// --lockstep: block until the controller lets the next repetition run.
void lockstep_wait(const RunOptions& o) {
    if (o.lockstep_in < 0) return;
    char c = 0;
    ssize_t n;
    do n = ::read(o.lockstep_in, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) throw std::runtime_error("--lockstep: the controller closed its pipe");
}
/// --lockstep: tell the controller the repetition is over.
void lockstep_done(const RunOptions& o) {
    if (o.lockstep_out < 0) return;
    const char c = 'd';
    ssize_t n;
    do n = ::write(o.lockstep_out, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) throw std::runtime_error("--lockstep: cannot write to the controller's pipe");
}

/// Runs one point (warm-up + repetitions) and returns its JSON.
json run_point(const Planned& pl, const RunOptions& o, const Pinner& pinner, Papi& papi, const FloorFigures& ff, bool& passed, std::string& failure) {
    const Scenario& sc = *pl.scenario;
    std::uint64_t slowdown_ns_per_64 = 0;
    std::vector<ThreadRecord> threads;
    json reps = json::array();
    std::vector<double> rates, secs;
    json totals = {{"produced", 0}, {"delivered", 0}, {"overflowed", 0}, {"merged_back", 0}, {"dropped", 0}};
    bool fifo = true;
    std::optional<bool> order = sc.ordered() ? std::optional<bool>(true) : std::nullopt;
    std::string message;
    bool errored = false;
    std::uint64_t last_items = 0;
    std::uint64_t alloc_total = 0;
    bool alloc_known = true;
    LatencyTotals latency;
    std::vector<Papi::ThreadValues> papi_threads;  // of the last repetition, for the per-role counters

    auto one = [&](std::uint64_t slow) {
        RunEnv env(pl.spec.params, pinner, papi, o.fault, slow);
        env.stall_ns = o.stall_ns;
        papi.reset_totals();
        RepResult r = sc.run(env);
        papi_threads = papi.thread_values();
        r.usage = env.usage();
        r.allocations = env.allocations();
        threads = env.book().records();
        return r;
    };
    const std::uint64_t warm = std::max<std::uint64_t>(o.warmup, o.slowdown_pct != 0 ? 1 : 0);
    double fastest_warm_ns_per_item = 0;
    for (std::uint64_t k = 0; k < warm + o.repetitions; ++k) {
        RepResult r;
        try {
            lockstep_wait(o);
            r = one(slowdown_ns_per_64);
            lockstep_done(o);
        } catch (const std::exception& e) {
            errored = true;
            message = std::string("repetition threw: ") + e.what();
            break;
        }
        if (k < warm && o.slowdown_pct != 0 && r.delivered != 0) {
            // Calibrate: the busy work runs in the consumer, every 64 delivered
            // items, and adds up to PCT percent of the time per item of the
            // fastest warm-up (a warm-up that shared its core with another
            // process would otherwise inflate the slowdown).
            const double ns_per_item = r.seconds * 1e9 / static_cast<double>(r.delivered);
            if (fastest_warm_ns_per_item == 0 || ns_per_item < fastest_warm_ns_per_item) fastest_warm_ns_per_item = ns_per_item;
            if (k + 1 == warm)
                slowdown_ns_per_64 =
                    static_cast<std::uint64_t>(fastest_warm_ns_per_item * static_cast<double>(o.slowdown_pct) / 100.0 * 64.0);
        }
        if (k < warm) continue;
        const bool conserved = r.produced == r.delivered + r.overflowed + r.dropped;
        const bool ok = conserved && r.fifo && r.order.value_or(true);
        std::string why = r.message;
        if (!conserved && why.empty())
            why = "conservation broken: produced " + std::to_string(r.produced) + " != delivered " + std::to_string(r.delivered) + " + overflowed " +
                  std::to_string(r.overflowed) + " + dropped " + std::to_string(r.dropped);
        else if (!conserved)
            why += "; conservation broken: produced " + std::to_string(r.produced) + " != delivered " + std::to_string(r.delivered) +
                   " + overflowed " + std::to_string(r.overflowed) + " + dropped " + std::to_string(r.dropped);
        if (!ok && message.empty()) message = "repetition " + std::to_string(k - warm) + ": " + why;
        fifo = fifo && r.fifo;
        if (order && r.order) order = *order && *r.order;
        json rep;
        rep["seconds"] = r.seconds;
        rep["items"] = r.produced;
        rep["items_per_second"] = r.seconds > 0 ? static_cast<double>(r.produced) / r.seconds : 0.0;
        json c;
        c["cpu_seconds"] = r.usage.cpu_seconds;
        c["voluntary_context_switches"] = r.usage.voluntary_cs;
        c["involuntary_context_switches"] = r.usage.involuntary_cs;
        c["page_faults"] = r.usage.page_faults;
        c["allocations"] = r.allocations ? json(*r.allocations) : json();
        const std::vector<long long> hw = papi.totals();
        for (const std::string& n : papi.requested()) {
            const auto it = std::find(papi.usable().begin(), papi.usable().end(), n);
            if (it == papi.usable().end()) c[n] = nullptr;
            else c[n] = hw[static_cast<std::size_t>(it - papi.usable().begin())];
        }
        rep["counters"] = c;
        rep["checks"] = {{"produced", r.produced}, {"delivered", r.delivered}, {"overflowed", r.overflowed},
                         {"merged_back", r.merged_back}, {"dropped", r.dropped}, {"passed", ok}};
        if (!ok) rep["checks"]["message"] = why;
        if (r.latency) {
            rep["latency"] = latency_json(*r.latency);
            latency.add(*r.latency);
        }
        if (r.handoff) rep["handoff"] = handoff_json(*r.handoff);
        for (const char* f : {"produced", "delivered", "overflowed", "merged_back", "dropped"})
            totals[f] = totals[f].get<std::uint64_t>() + rep["checks"][f].get<std::uint64_t>();
        last_items = r.produced;
        if (r.allocations) alloc_total += *r.allocations;
        else alloc_known = false;
        rates.push_back(rep["items_per_second"].get<double>());
        secs.push_back(r.seconds);
        reps.push_back(std::move(rep));
    }
    json pt;
    pt["id"] = pl.spec.id();
    pt["scenario"] = pl.spec.scenario;
    pt["params"] = params_json(pl.spec.params);
    json th = json::array();
    for (const ThreadRecord& t : threads)
    {
        json rec = {{"role", t.role}, {"index", t.index}, {"core", t.core}, {"planned_cpu", t.planned_cpu}};
        if (t.finished) {
            rec["cpu_seconds"] = t.cpu_seconds;
            rec["voluntary_context_switches"] = t.voluntary_cs;
            rec["involuntary_context_switches"] = t.involuntary_cs;
            rec["page_faults"] = t.page_faults;
        }
        th.push_back(std::move(rec));
    }
    pt["threads"] = th;
    pt["oversubscribed"] = threads.size() > pinner.logical_cpus();
    pt["placement"] = placement_json(pl, threads, pinner);
    pt["repetitions"] = reps;
    pt["summary"] = {{"items_per_second", summarize(rates)}, {"seconds", summarize(secs)}};
    if (latency.any) pt["summary"]["latency"] = latency.summary();
    {
        const json& med = pt["summary"]["items_per_second"]["median"];
        pt["summary"]["floor_multiples"] = floor_multiples(pl, ff, med.is_number() ? med.get<double>() : 0.0);
        const std::uint64_t rounds_run = pl.spec.params.rounds * static_cast<std::uint64_t>(reps.size());
        std::optional<double> apr;
        if (alloc_known && rounds_run != 0) apr = static_cast<double>(alloc_total) / static_cast<double>(rounds_run);
        pt["cost"] = cost_json(pl, threads, last_items, apr);
        pt["cost"]["counters_by_role"] = role_counters_json(pl, threads, papi_threads, papi, last_items);
    }
    const bool conserved_total = totals["produced"].get<std::uint64_t>() ==
                                 totals["delivered"].get<std::uint64_t>() + totals["overflowed"].get<std::uint64_t>() + totals["dropped"].get<std::uint64_t>();
    bool all_reps = true;
    for (const json& r : reps) all_reps = all_reps && r["checks"]["passed"].get<bool>();
    passed = !errored && conserved_total && all_reps && fifo && order.value_or(true) && reps.size() == o.repetitions;
    json ck = totals;
    ck["fifo"] = fifo;
    ck["order"] = order ? json(*order) : json();
    ck["passed"] = passed;
    ck["message"] = passed ? "" : (message.empty() ? "check failed" : message);
    pt["checks"] = ck;
    failure = passed ? "" : ck["message"].get<std::string>();
    return pt;
}

void print_summary(const ResultDoc& doc, const std::set<std::string>& ran) {
    std::cout << std::left << std::setw(20) << "scenario" << std::right << std::setw(4) << "P" << std::setw(4) << "M" << std::setw(7) << "ring"
              << std::setw(9) << "delay" << std::setw(12) << "mode" << std::setw(9) << "items" << std::setw(7) << "rounds" << std::setw(12)
              << "items/s" << std::setw(7) << "cv%" << std::setw(9) << "overflow" << "  check\n";
    for (const json& p : doc.doc()["points"]) {
        if (!ran.empty() && ran.count(p["id"].get<std::string>()) == 0) continue;
        const json& q = p["params"];
        const json& s = p["summary"]["items_per_second"];
        std::ostringstream cv;
        cv << std::fixed << std::setprecision(1) << (s["cv"].is_number() ? s["cv"].get<double>() * 100 : 0.0);
        std::cout << std::left << std::setw(20) << p["scenario"].get<std::string>() << std::right << std::setw(4) << q["producers"].get<std::uint64_t>()
                  << std::setw(4) << q["mergers"].get<std::uint64_t>() << std::setw(7) << q["ring_size"].get<std::uint64_t>() << std::setw(9)
                  << q["consumer_delay_ns"].get<std::uint64_t>() << std::setw(12) << q["delay_mode"].get<std::string>() << std::setw(9)
                  << q["items"].get<std::uint64_t>() << std::setw(7) << q["rounds"].get<std::uint64_t>() << std::setw(12)
                  << (s["median"].is_number() ? fmt_rate(s["median"].get<double>()) : "-") << std::setw(7) << cv.str() << std::setw(9)
                  << p["checks"]["overflowed"].get<std::uint64_t>() << "  " << (p["checks"]["passed"].get<bool>() ? "ok" : "FAILED") << "\n";
    }
}

int run_grids(RunOptions& o) {
    // Everything is validated before any output exists.
    std::vector<Planned> all;
    std::set<std::string> ids;
    const spill::measure::PlacementReport placements = spill::measure::classify_placements();
    std::vector<std::string> swept;  // placement classes some point runs on, closest first
    json skipped = json::array();
    for (const Grid& g : o.grids) {
        const Scenario* sc = find_scenario(g.scenario);
        if (!sc) throw InputError((g.origin.empty() || g.origin == "command line" ? "" : g.origin + ": ") + "unknown scenario '" + g.scenario +
                                  "' (see spill-bench list)");
        if (const std::string why = sc->unavailable(); !why.empty()) {
            if (g.origin == "command line") throw InputError("run: scenario '" + g.scenario + "' is not available in this build: " + why);
            std::cerr << "spill-bench: note: skipping [" << g.scenario << "] (" << g.origin << "): " << why << "\n";
            continue;
        }
        std::vector<std::string> classes = g.placement.empty() ? std::vector<std::string>{""} : resolve_placements(g, placements, skipped);
        for (const std::string& c : classes)
            if (!c.empty() && std::find(swept.begin(), swept.end(), c) == swept.end()) swept.push_back(c);
        for (PointSpec& p : expand(g, sc->uses())) {
            for (const std::string& c : classes) {
                PointSpec q = p;
                q.params.placement = c;
                if (ids.insert(q.id()).second) all.push_back(Planned{std::move(q), sc});
            }
        }
    }
    {
        std::vector<std::string> ordered;  // closest first
        for (const auto& e : placements.classes) {
            const std::string c(spill::measure::to_string(e.cls));
            if (std::find(swept.begin(), swept.end(), c) != swept.end()) ordered.push_back(c);
        }
        swept = ordered;
    }
    if (!swept.empty() && placements.single_class())
        std::cerr << "spill-bench: note: " << placements.summary() << ": the placement sweep has one value here\n";
    std::vector<PointSpec> specs;
    for (auto& p : all) specs.push_back(p.spec);
    std::vector<Planned> mine;
    {
        const std::vector<PointSpec> sel = select_shard(specs, o.shard);
        std::set<std::string> keep;
        for (auto& s : sel) keep.insert(s.id());
        for (auto& p : all)
            if (keep.count(p.spec.id())) mine.push_back(p);
    }
    if (o.seed != 0) {
        std::mt19937_64 rng(o.seed);
        std::shuffle(mine.begin(), mine.end(), rng);
    }
    Papi papi(o.counters);
    Pinner pinner(o.pin);
    std::map<std::string, std::unique_ptr<Pinner>> placed;  // one per swept class: its CPU pair
    for (const std::string& c : swept) {
        const auto cls = spill::measure::placement_from_string(c);
        const spill::measure::PlacementExample* e = cls ? placements.find(*cls) : nullptr;
        if (e && e->cpu_a >= 0 && e->cpu_b >= 0) placed[c] = std::make_unique<Pinner>(o.pin, std::vector<int>{e->cpu_a, e->cpu_b});
    }
    ResultDoc doc;
    std::error_code ec;
    const bool resuming = o.resume && std::filesystem::exists(o.out, ec);
    if (o.resume && !resuming) std::cerr << "spill-bench: --resume: '" << o.out << "' does not exist yet; starting a new file\n";
    if (resuming) {
        doc = ResultDoc::load(o.out, "--resume");
        const json& md = doc.metadata();
        if (md.value("pin_policy", "") != to_string(o.pin))
            throw InputError("--resume: '" + o.out + "' was run with --pin " + md.value("pin_policy", std::string("?")) + ", this run uses " + to_string(o.pin));
        if (md.contains("counters") && md["counters"].value("requested", json::array()) != json(papi.requested()))
            throw InputError("--resume: '" + o.out + "' was run with other --counters (" + md["counters"].value("requested", json::array()).dump() + ")");
        if (md.contains("shard") && (md["shard"].value("index", 0u) != o.shard.index || md["shard"].value("count", 1u) != o.shard.count))
            throw InputError("--resume: '" + o.out + "' holds shard " + std::to_string(md["shard"].value("index", 0u)) + "/" +
                             std::to_string(md["shard"].value("count", 1u)) + ", this run is shard " + std::to_string(o.shard.index) + "/" +
                             std::to_string(o.shard.count));
        json& again = doc.metadata()["resumed"];
        if (!again.is_array()) again = json::array();
        again.push_back({{"date_utc", utc_now_iso()}, {"command_line", o.command_line}});
    } else {
        // Floors first: a --placement absent on this machine is bad input,
        // reported before anything (the topology XML) is written.
        json floors;
        add_floors(floors, o, pinner, placements, swept, skipped);
        json md = metadata_for(o, pinner, papi);
        for (auto& [k, v] : floors.items()) md[k] = v;
        doc = ResultDoc(std::move(md));
    }
    const FloorFigures ff = floor_figures(doc.metadata());
    std::vector<Planned> todo;
    for (auto& p : mine)
        if (!doc.has(p.spec.id())) todo.push_back(p);
    if (resuming)
        std::cerr << "spill-bench: resuming '" << o.out << "': " << (mine.size() - todo.size()) << " of " << mine.size() << " points already done\n";

    std::signal(SIGINT, on_sigint);
    Watchdog watchdog(o.point_timeout_s);
    const std::uint64_t t0 = now_ns();
    std::set<std::string> ran;
    int failed = 0;
    std::size_t i = 0;
    for (; i < todo.size(); ++i) {
        if (g_interrupted) break;
        const Planned& pl = todo[i];
        if (!o.quiet) std::cerr << "[" << (i + 1) << "/" << todo.size() << "] " << pl.spec.id() << std::flush;
        bool passed = false;
        std::string failure;
        const std::uint64_t p0 = now_ns();
        watchdog.start(pl.spec.id());
        const auto where = placed.find(pl.spec.params.placement);
        const Pinner& pin_for = where != placed.end() ? *where->second : pinner;
        json pt = run_point(pl, o, pin_for, papi, floor_figures_for(doc.metadata(), pl.spec.params.placement, ff), passed, failure);
        watchdog.finish();
        const double took = static_cast<double>(now_ns() - p0) * 1e-9;
        const double elapsed = static_cast<double>(now_ns() - t0) * 1e-9;
        const double left = elapsed / static_cast<double>(i + 1) * static_cast<double>(todo.size() - i - 1);
        if (!o.quiet)
            std::cerr << "  " << fmt_seconds(took) << " (elapsed " << fmt_seconds(elapsed) << ", ~" << fmt_seconds(left) << " left)\n";
        if (!passed) {
            ++failed;
            std::cerr << "spill-bench: CHECK FAILED: " << pl.spec.id() << ": " << failure << "\n";
        }
        ran.insert(pt["id"].get<std::string>());
        doc.add_point(std::move(pt));
        if (!o.out.empty()) doc.write(o.out);
    }
    print_summary(doc, ran);
    if (i < todo.size()) {
        std::cerr << "spill-bench: interrupted after " << i << " of " << todo.size() << " points";
        if (!o.out.empty())
            std::cerr << "; finished points are in '" << o.out << "'. Resume with: " << o.command_line << (o.resume ? "" : " --resume") << "\n";
        else
            std::cerr << " (no --out given, nothing was saved)\n";
        return exit_interrupted;
    }
    if (failed != 0) {
        std::cerr << "spill-bench: " << failed << " point(s) FAILED their checks (see checks.message in the results)\n";
        return exit_check;
    }
    return 0;
}

// ----------------------------------------------------------- commands ----

int cmd_list() {
    std::cout << "scenarios (grid parameters each one sweeps; the others are fixed at a neutral value):\n";
    for (const auto& s : registry()) {
        const ParamUse u = s->uses();
        std::string params;
        auto add = [&](bool on, const char* n) {
            if (!on) return;
            if (!params.empty()) params += ", ";
            params += n;
        };
        add(u.producers, "producers");
        add(u.mergers, "mergers");
        add(u.ring_size, "ring-size");
        add(u.consumer_delay, "consumer-delay-ns, delay-mode");
        params += params.empty() ? "items" : ", items";
        add(u.rounds, "rounds");
        add(u.rate, "rate-items-per-s");
        std::cout << "  " << std::left << std::setw(22) << s->name() << s->description() << "\n" << std::setw(24) << "" << "sweeps: " << params << "\n";
    }
    return 0;
}

int cmd_topology(const po::variables_map& vm) {
    const PinPolicy pol = vm.count("pin") ? parse_pin(opt(vm, "pin")) : PinPolicy::compact;
    Papi papi(vm.count("counters") ? opt(vm, "counters") : "default");
    Pinner pinner(pol);
    std::cout << "topology: " << pinner.topology_summary() << "\n" << pinner.topology_tree();
    std::cout << "\npinning (--pin " << to_string(pol) << "): " << (pinner.available() ? "available" : "not applied: " + pinner.reason()) << "\n";
    for (PinPolicy p : {PinPolicy::compact, PinPolicy::scatter}) {
        Pinner q(p);
        std::cout << "  plan " << std::left << std::setw(8) << to_string(p) << "thread slot -> OS cpu:";
        for (std::size_t k = 0; k < q.plan().size(); ++k) std::cout << " " << k << "->" << q.plan()[k];
        std::cout << "\n";
    }
    std::cout << "  slots: producers (pool workers) take 0..P-1, then the consumer/owner, then mergers or stage-2 workers;\n"
                 "  slot k runs on plan[k % "
              << pinner.plan().size() << "]; more threads than " << pinner.logical_cpus() << " logical CPUs is allowed and flagged 'oversubscribed'.\n";
    std::cout << "\ncounters:\n  always: seconds (wall), cpu_seconds, voluntary/involuntary context switches, page faults (getrusage),\n"
                 "          allocations (counting operator new in spill-bench)\n";
    std::cout << "  PAPI: " << papi.describe() << "\n";
    for (const auto& n : papi.usable()) std::cout << "    " << n << ": readable\n";
    for (const auto& [n, why] : papi.unavailable()) std::cout << "    " << n << ": NOT readable: " << why << "\n";
    {
        const spill::measure::PlacementReport pr = spill::measure::classify_placements();
        std::cout << "\nplacement classes (--placement): " << pr.summary() << "\n";
        for (const auto& e : pr.classes)
            std::cout << "  " << std::left << std::setw(14) << spill::measure::to_string(e.cls) << " e.g. cpus " << e.cpu_a << "," << e.cpu_b << " ("
                      << e.pairs << " pairs)\n";
    }
    std::ifstream par("/proc/sys/kernel/perf_event_paranoid");
    std::string v;
    if (par >> v) std::cout << "  kernel.perf_event_paranoid = " << v << "\n";
    return 0;
}

int cmd_merge(const std::vector<std::string>& args) {
    if (args.size() < 2) throw InputError("merge: expected OUT.json SHARD.json... (got " + std::to_string(args.size()) + " file names)");
    const std::string out = args[0];
    check_output_path(out);
    std::vector<ResultDoc> ins;
    for (std::size_t k = 1; k < args.size(); ++k) {
        if (args[k] == out) throw InputError("merge: output '" + out + "' is also an input");
        ins.push_back(ResultDoc::load(args[k], "merge"));
    }
    json md = ins.front().doc()["metadata"];
    md["shard"] = {{"index", 0}, {"count", 1}};
    md["merged_from"] = json::array();
    for (std::size_t k = 1; k < args.size(); ++k) md["merged_from"].push_back(args[k]);
    ResultDoc doc(md);
    std::map<std::string, std::string> origin;
    for (std::size_t k = 0; k < ins.size(); ++k) {
        const json& d = ins[k].doc();
        if (d["metadata"].value("pin_policy", "") != md.value("pin_policy", ""))
            throw InputError("merge: '" + args[k + 1] + "' was run with --pin " + d["metadata"].value("pin_policy", std::string("?")) + ", '" + args[1] +
                             "' with " + md.value("pin_policy", std::string("?")));
        for (const json& p : d["points"]) {
            const std::string id = p["id"].get<std::string>();
            if (auto it = origin.find(id); it != origin.end())
                throw InputError("merge: point '" + id + "' is in both '" + it->second + "' and '" + args[k + 1] + "'");
            origin[id] = args[k + 1];
            doc.add_point(p);
        }
    }
    doc.write(out);
    std::cerr << "spill-bench: merged " << doc.size() << " points from " << ins.size() << " files into '" << out << "'\n";
    return 0;
}

int real_main(int argc, char** argv) {
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
    if (vm["help"].as<bool>()) {
        usage(std::cout);
        return 0;
    }
    if (!vm.count("command")) {
        usage(std::cerr);
        return exit_input;
    }
    const std::string cmd = vm["command"].as<std::string>();
    const std::vector<std::string> args = vm.count("args") ? vm["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
        usage(std::cout);
        return 0;
    }
    if (cmd == "list") return cmd_list();
    if (cmd == "topology") return cmd_topology(vm);
    if (cmd == "merge") return cmd_merge(args);
    RunOptions o;
    o.command_line = join_args(argc, argv);
    if (cmd == "run") {
        if (args.size() != 1) throw InputError("run: expected exactly one SCENARIO (got " + std::to_string(args.size()) + ")");
        Grid g;
        g.scenario = args[0];
        g.origin = "command line";
        if (!find_scenario(g.scenario)) throw InputError("run: unknown scenario '" + g.scenario + "' (see spill-bench list)");
        o.grids.push_back(g);
    } else if (cmd == "sweep") {
        if (args.size() != 1) throw InputError("sweep: expected exactly one FILE (got " + std::to_string(args.size()) + ")");
        SweepFile f = load_sweep(args[0]);
        o.sweep_file = args[0];
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
    return run_grids(o);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return real_main(argc, argv);
    } catch (const InputError& e) {
        std::cerr << "spill-bench: error: " << e.what() << "\n";
        return exit_input;
    } catch (const std::exception& e) {
        std::cerr << "spill-bench: fatal: " << e.what() << "\n";
        return 1;
    }
}

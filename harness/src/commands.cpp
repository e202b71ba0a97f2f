// harness/src/commands.cpp: see commands.hpp.
#include "commands.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>

#include "metadata.hpp"
#include "placement.hpp"
#include "plan.hpp"
#include "platform.hpp"
#include "record.hpp"
#include "results.hpp"
#include "runner.hpp"

namespace spill::bench {

namespace m = spill::measure;

int cmd_list(bool as_json) {
    if (as_json) {
        json out;
        out["schema_version"] = schema_version;
        json scenarios = json::array();
        for (const auto& s : registry()) {
            json j;
            j["name"] = s->name();
            j["description"] = s->facts().description;
            const std::string why = s->unavailable();
            j["available"] = why.empty();
            if (!why.empty()) j["unavailable"] = why;
            j["facts"] = facts_json(s->facts());
            scenarios.push_back(std::move(j));
        }
        out["scenarios"] = std::move(scenarios);
        json params = json::array();
        for (const GridParameter& row : grid_parameters()) params.push_back({{"key", row.key}, {"option", "--" + std::string(row.option)}, {"help", row.help}});
        params.push_back({{"key", "delay_mode"}, {"option", "--" + std::string(delay_mode_option)}, {"help", "how the consumer delay is spent"}});
        params.push_back({{"key", "placement"}, {"option", "--" + std::string(placement_option)}, {"help", "placement class the threads run on"}});
        out["parameters"] = std::move(params);
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << "scenarios (grid parameters each one sweeps; the others are fixed at a neutral value):\n";
    for (const auto& s : registry()) {
        const ScenarioFacts& f = s->facts();
        const json fj = facts_json(f);
        std::string params;
        for (const auto& key : fj["sweeps"]) params += (params.empty() ? "" : ", ") + key.get<std::string>();
        std::cout << "  " << std::left << std::setw(22) << s->name() + " " << f.description << "\n"
                  << std::setw(24) << "" << "contender " << f.contender << ", job " << f.job << (f.hands_rings ? ", hands over rings" : "")
                  << ", handoffs per round: " << to_string(f.handoffs) << "\n"
                  << std::setw(24) << "" << "sweeps: " << params << "\n";
    }
    return 0;
}

namespace {

/// The topology a command plans on: --topology's, or this machine's.
std::shared_ptr<const m::Topology> topology_for(const std::string& option) {
    if (option.empty()) return std::make_shared<const m::Topology>(m::Topology::machine());
    return load_topology_option(option);
}

void print_placements(std::ostream& out, const m::PlacementReport& pr) {
    out << "placement classes (--placement): " << pr.summary() << "\n";
    for (const auto& e : pr.classes)
        out << "  " << std::left << std::setw(14) << m::to_string(e.cls) << " e.g. cpus " << e.cpu_a << "," << e.cpu_b << " (" << e.pairs << " pairs)\n";
}

std::string thread_cpu(int cpu) { return cpu >= 0 ? "cpu " + std::to_string(cpu) : std::string("unbound"); }

}  // namespace

int cmd_topology(PinPolicy pol, const std::string& counters, const std::string& topology) {
    const std::shared_ptr<const m::Topology> topo = topology_for(topology);
    const bool here = topology.empty();
    Papi papi(here ? counters : std::string("none"));
    Pinner pinner(pol, topo);
    std::cout << "topology" << (here ? "" : " of " + topo->source().describe()) << ": " << pinner.topology_summary() << "\n" << pinner.topology_tree();
    std::cout << "\npinning (--pin " << to_string(pol) << "): " << (pinner.available() ? "available" : "not applied: " + pinner.reason()) << "\n";
    for (PinPolicy p : {PinPolicy::compact, PinPolicy::scatter}) {
        Pinner q(p, topo);
        std::cout << "  plan " << std::left << std::setw(8) << to_string(p) << "thread slot -> OS cpu:";
        for (std::size_t k = 0; k < q.plan().size(); ++k) std::cout << " " << k << "->" << q.plan()[k];
        std::cout << "\n";
    }
    std::cout << "  slots: producers (pool workers) take 0..P-1, then the consumer/owner, then mergers or stage-2 workers;\n"
                 "  slot k runs on plan[k % "
              << pinner.plan().size() << "]; more threads than " << pinner.logical_cpus() << " logical CPUs is allowed and flagged 'oversubscribed'.\n";
    std::cout << "\n";
    print_placements(std::cout, m::classify_placements(*topo));
    if (!here) {
        std::cout << "\ncounters: not shown (what can be counted is a property of the machine spill-bench runs on, not of "
                  << topo->source().describe() << ")\n";
        return 0;
    }
    std::cout << "\ncounters:\n  always: seconds (wall), cpu_seconds, voluntary/involuntary context switches, page faults (getrusage),\n"
                 "          allocations (counting operator new in spill-bench)\n";
    std::cout << "  PAPI: " << papi.describe() << "\n";
    for (const auto& n : papi.usable()) std::cout << "    " << n << ": readable\n";
    for (const auto& [n, why] : papi.unavailable()) std::cout << "    " << n << ": NOT readable: " << why << "\n";
    std::ifstream par("/proc/sys/kernel/perf_event_paranoid");
    std::string v;
    if (par >> v) std::cout << "  kernel.perf_event_paranoid = " << v << "\n";
    return 0;
}

namespace {

/// What a shard was built from and run on, as merge compares it: one per
/// session that wrote points into the file (the one that started it, and
/// each --resume).
struct Build {
    std::string session;  // "started" or "resumed #k"
    std::string host;
    std::string commit;   // with "-dirty" when the tree had uncommitted changes
    bool dirty = false;
    std::string compiler, flags, build_type;  // empty: not recorded (a resume by an older spill-bench)
};

std::string str_or(const json& j, const char* key, const std::string& fallback) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}

Build build_of(const json& prov, const json& md, std::string session) {
    Build b;
    b.session = std::move(session);
    b.host = str_or(prov, "host", str_or(md, "hostname", "unknown"));
    b.dirty = prov.is_object() && prov.value("dirty", false) == true;
    b.commit = str_or(prov, "commit", "unknown") + (b.dirty ? "-dirty" : "");
    const json& build = prov.is_object() && prov.contains("build") ? prov["build"] : json();
    // A file's own session also has the build at the top of its metadata.
    const json& fallback = b.session == "started" ? md : json();
    b.compiler = str_or(build, "compiler", str_or(fallback, "compiler", ""));
    b.flags = str_or(build, "flags", str_or(fallback, "flags", ""));
    b.build_type = str_or(build, "build_type", str_or(fallback, "build_type", ""));
    return b;
}

std::vector<Build> builds_of(const json& md) {
    std::vector<Build> out{build_of(md.contains("provenance") ? md["provenance"] : json(), md, "started")};
    if (md.contains("resumed") && md["resumed"].is_array())
        for (std::size_t k = 0; k < md["resumed"].size(); ++k) out.push_back(build_of(md["resumed"][k], md, "resumed #" + std::to_string(k + 1)));
    return out;
}

}  // namespace

int cmd_merge(const std::vector<std::string>& args, bool csv, bool force, const std::string& command_line) {
    if (args.size() < 2) throw InputError("merge: expected OUT.json SHARD.json... (got " + std::to_string(args.size()) + " file names)");
    const std::string out = args[0];
    check_output_path(out);
    std::vector<ResultDoc> ins;
    for (std::size_t k = 1; k < args.size(); ++k) {
        if (args[k] == out) throw InputError("merge: output '" + out + "' is also an input");
        ins.push_back(ResultDoc::load(args[k], "merge"));
    }
    // Shards of different commits or build flags measure different code:
    // refused, unless --force (then every difference is recorded).
    const std::vector<Build> first = builds_of(ins.front().doc()["metadata"]);
    const Build& ref = first.front();
    json differences = json::array();
    json notes = json::array();
    bool unverifiable = false;
    for (std::size_t k = 0; k < ins.size(); ++k) {
        for (const Build& b : builds_of(ins[k].doc()["metadata"])) {
            const std::string where = "'" + args[k + 1] + "'" + (b.session == "started" ? "" : " (" + b.session + ")");
            unverifiable = unverifiable || b.dirty || b.commit == "unknown";
            const std::pair<const char*, std::pair<std::string, std::string>> fields[] = {{"commit", {b.commit, ref.commit}},
                                                                                          {"compiler", {b.compiler, ref.compiler}},
                                                                                          {"flags", {b.flags, ref.flags}},
                                                                                          {"build_type", {b.build_type, ref.build_type}}};
            for (const auto& [field, values] : fields) {
                const auto& [mine, theirs] = values;
                if (mine == theirs || (std::string(field) != "commit" && mine.empty())) continue;  // a field a resume did not record
                if (!force)
                    throw InputError("merge: " + where + " was built with " + field + " '" + mine + "', '" + args[1] + "' with '" + theirs +
                                     "' (shards of different builds are not merged; --force merges them and records it)");
                differences.push_back({{"field", field}, {"file", args[k + 1]}, {"session", b.session}, {"value", mine},
                                       {"reference_file", args[1]}, {"reference_value", theirs}});
            }
        }
    }
    if (unverifiable) {
        notes.push_back("a shard was built from uncommitted changes (dirty) or outside git: the commit alone cannot tell whether the shards' sources match");
        std::cerr << "spill-bench: note: merge: " << notes.back().get<std::string>() << "\n";
    }
    if (!differences.empty())
        std::cerr << "spill-bench: note: merge --force: " << differences.size() << " build difference(s) between the shards, recorded in metadata.merge\n";

    json md = ins.front().doc()["metadata"];
    md["shard"] = {{"index", 0}, {"count", 1}};
    // The merged file's provenance is the merge; each input keeps its own,
    // with the host, commit and build it ran with and the points it brought.
    md["provenance"] = provenance(command_line);
    md.erase("resumed");
    md["merged_from"] = json::array();
    ResultDoc doc(md);
    std::map<std::string, std::string> origin;
    json merged_from = json::array();
    json points_by_host = json::object();
    for (std::size_t k = 0; k < ins.size(); ++k) {
        const json& d = ins[k].doc();
        const json& in_md = d["metadata"];
        if (in_md.value("pin_policy", "") != md.value("pin_policy", ""))
            throw InputError("merge: '" + args[k + 1] + "' was run with --pin " + in_md.value("pin_policy", std::string("?")) + ", '" + args[1] +
                             "' with " + md.value("pin_policy", std::string("?")));
        const std::vector<Build> builds = builds_of(in_md);
        json ids = json::array();
        for (const json& p : d["points"]) {
            const std::string id = p["id"].get<std::string>();
            if (auto it = origin.find(id); it != origin.end())
                throw InputError("merge: point '" + id + "' is in both '" + it->second + "' and '" + args[k + 1] + "'");
            origin[id] = args[k + 1];
            ids.push_back(id);
            doc.add_point(p);
        }
        json hosts = json::array();
        for (const Build& b : builds)
            if (std::find(hosts.begin(), hosts.end(), b.host) == hosts.end()) hosts.push_back(b.host);
        const Build& b = builds.front();
        json entry = {{"file", args[k + 1]},
                      {"host", b.host},
                      {"commit", b.commit},
                      {"dirty", b.dirty},
                      {"build", {{"compiler", b.compiler}, {"flags", b.flags}, {"build_type", b.build_type}}},
                      {"shard", in_md.contains("shard") ? in_md["shard"] : json()},
                      {"points", ids},
                      {"provenance", in_md.contains("provenance") ? in_md["provenance"] : json()}};
        if (hosts.size() > 1) entry["hosts"] = hosts;  // resumed on another host: its points came from these
        if (in_md.contains("resumed")) entry["resumed"] = in_md["resumed"];
        merged_from.push_back(std::move(entry));
        json& n = points_by_host[b.host];
        n = (n.is_number() ? n.get<std::size_t>() : 0) + ids.size();
    }
    doc.metadata()["merged_from"] = std::move(merged_from);
    doc.metadata()["merge"] = {{"forced", force}, {"differences", differences}, {"points_by_host", points_by_host}, {"notes", notes}};
    doc.write(out, csv);
    std::cerr << "spill-bench: merged " << doc.size() << " points from " << ins.size() << " files into '" << out << "'\n";
    return 0;
}

namespace {

/// --dry-run: for every point of the plan, its threads in slot order and
/// the CPU each would get, and the placement classes; nothing runs and
/// nothing is written.
int print_dry_run(const RunOptions& o, const Plan& plan, const std::shared_ptr<const m::Topology>& topo) {
    std::vector<PlannedPoint> points = plan.points;
    std::size_t done = 0;
    if (o.resume && !o.out.empty() && std::filesystem::exists(o.out)) {
        points = still_to_run(plan, ResultDoc::load(o.out, "--resume"));
        done = plan.points.size() - points.size();
    }
    Pinner run_pinner(o.pin, topo);
    std::map<std::string, std::unique_ptr<Pinner>> placed;  // as the runner makes them: one per swept class
    for (const std::string& c : plan.swept) {
        const auto cls = m::placement_from_string(c);
        const m::PlacementExample* e = cls ? plan.placements.find(*cls) : nullptr;
        if (e && e->cpu_a >= 0 && e->cpu_b >= 0) placed[c] = std::make_unique<Pinner>(o.pin, topo, std::vector<int>{e->cpu_a, e->cpu_b});
    }
    std::ostream& out = std::cout;
    out << "dry run on " << topo->source().describe() << " (" << run_pinner.topology_summary() << "): nothing runs, nothing is written\n";
    out << "pin policy " << to_string(o.pin) << ": plan";
    for (int c : run_pinner.plan()) out << " " << c;
    out << (run_pinner.available() ? "" : " (" + run_pinner.reason() + ")") << "\n";
    print_placements(out, plan.placements);
    out << "points: " << points.size() << " (shard " << o.shard.index << "/" << o.shard.count << " of a grid of " << plan.grid_points << ")";
    if (o.resume) out << ", " << done << " already in '" << o.out << "'";
    out << "\n";
    std::size_t i = 0;
    for (const PlannedPoint& p : points) {
        const std::string& cls = p.spec.params.placement;
        const auto it = placed.find(cls);
        const Pinner& pinner = cls.empty() || it == placed.end() ? run_pinner : *it->second;
        const std::vector<PlannedThread> threads = planned_threads(p, pinner);
        out << "[" << ++i << "/" << points.size() << "] " << p.spec.id() << "\n";
        if (!cls.empty()) out << "  placement " << cls << ": cpus " << pinner.plan().at(0) << "," << pinner.plan().at(1) << "\n";
        for (const PlannedThread& t : threads) out << "  slot " << t.slot << ": " << t.role << " " << t.index << " -> " << thread_cpu(t.cpu) << "\n";
        if (threads.size() > pinner.logical_cpus())
            out << "  oversubscribed: " << threads.size() << " threads on " << pinner.logical_cpus() << " logical CPUs\n";
    }
    return 0;
}

}  // namespace

int cmd_run(const RunOptions& o) {
    // Everything is validated before any output exists.
    std::shared_ptr<const m::Topology> topo = topology_for(o.topology);
    if (!o.topology.empty() && !o.dry_run) {
        // A run pins threads here: only this machine's own topology will do.
        const m::Topology here = m::Topology::machine();
        if (!here.loaded()) throw InputError("--topology: cannot compare " + topo->source().describe() + " with this machine: " + here.error());
        if (const std::string diff = here.difference(*topo); !diff.empty())
            throw InputError("--topology: " + topo->source().describe() + " (" + topo->summary() + ") is not this machine's topology (" +
                             here.summary() + "; " + diff + "): plan with --dry-run, run on the machine it describes");
        topo = std::make_shared<const m::Topology>(m::Topology::machine());  // it describes this machine: pin on the real one
    }
    const Plan plan = make_plan(o, *topo);
    if (o.dry_run) {
        if (topo->is_this_machine()) {
            const Papi papi(o.counters);  // validates the counter names, as the run would
        }
        return print_dry_run(o, plan, topo);
    }
    return run_plan(o, plan);
}

}  // namespace spill::bench

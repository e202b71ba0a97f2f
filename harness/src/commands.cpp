// harness/src/commands.cpp: see commands.hpp.
#include "commands.hpp"

#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>

#include "metadata.hpp"
#include "placement.hpp"
#include "plan.hpp"
#include "platform.hpp"
#include "record.hpp"
#include "results.hpp"
#include "runner.hpp"

namespace spill::bench {

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
        std::cout << "  " << std::left << std::setw(22) << s->name() << f.description << "\n"
                  << std::setw(24) << "" << "contender " << f.contender << ", job " << f.job << (f.hands_rings ? ", hands over rings" : "")
                  << ", handoffs per round: " << to_string(f.handoffs) << "\n"
                  << std::setw(24) << "" << "sweeps: " << params << "\n";
    }
    return 0;
}

int cmd_topology(PinPolicy pol, const std::string& counters) {
    Papi papi(counters);
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

int cmd_merge(const std::vector<std::string>& args, bool csv, const std::string& command_line) {
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
    // The merged file's provenance is the merge; each input keeps its own.
    md["provenance"] = provenance(command_line);
    md["merged_from"] = json::array();
    for (std::size_t k = 1; k < args.size(); ++k) {
        const json& in_md = ins[k - 1].doc()["metadata"];
        md["merged_from"].push_back({{"file", args[k]}, {"provenance", in_md.contains("provenance") ? in_md["provenance"] : json()}});
    }
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
    doc.write(out, csv);
    std::cerr << "spill-bench: merged " << doc.size() << " points from " << ins.size() << " files into '" << out << "'\n";
    return 0;
}

int cmd_run(const RunOptions& o) {
    // Everything is validated before any output exists.
    const Plan plan = make_plan(o);
    return run_plan(o, plan);
}

}  // namespace spill::bench

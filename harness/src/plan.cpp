// harness/src/plan.cpp: see plan.hpp.
#include "plan.hpp"

#include <algorithm>
#include <iostream>
#include <random>
#include <set>

namespace spill::bench {

namespace m = spill::measure;

namespace {

/// The classes a grid's placement list names on this machine: "all" is
/// every class present; a class the machine lacks is an input error when it
/// is the only one asked for, else skipped with a notice (and recorded).
std::vector<std::string> resolve_placements(const Grid& g, const m::PlacementReport& pr, json& skipped) {
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
        throw InputError("--placement: class '" + absent.front() + "'" + where + " is not present on " + pr.where + " (present: " + listed + ")");
    for (const std::string& c : absent) {
        std::cerr << "spill-bench: note: --placement" << where << ": skipping class '" << c << "', not present on " << pr.where << " (present: " << listed
                  << ")\n";
        skipped.push_back({{"class", c}, {"scenario", g.scenario}, {"reason", "not present on " + pr.where + " (present: " + listed + ")"}});
    }
    // Closest first, as the classes are listed.
    std::vector<std::string> ordered;
    for (const std::string& p : present)
        if (std::find(out.begin(), out.end(), p) != out.end()) ordered.push_back(p);
    return ordered;
}

}  // namespace

Plan make_plan(const RunOptions& o) { return make_plan(o, m::Topology::machine()); }

Plan make_plan(const RunOptions& o, const m::Topology& topology) {
    Plan plan;
    plan.placements = m::classify_placements(topology);
    std::vector<PlannedPoint> all;
    std::set<std::string> ids;
    for (const Grid& g : o.grids) {
        const Scenario* sc = find_scenario(g.scenario);
        if (!sc)
            throw InputError((g.origin.empty() || g.origin == "command line" ? "" : g.origin + ": ") + "unknown scenario '" + g.scenario +
                             "' (see spill-bench list)");
        if (const std::string why = sc->unavailable(); !why.empty()) {
            if (g.origin == "command line") throw InputError("run: scenario '" + g.scenario + "' is not available in this build: " + why);
            std::cerr << "spill-bench: note: skipping [" << g.scenario << "] (" << g.origin << "): " << why << "\n";
            continue;
        }
        // One CPU for the point's threads means nothing unpinned.
        if (o.pin == PinPolicy::none && std::find(g.one_cpu.begin(), g.one_cpu.end(), 1) != g.one_cpu.end())
            throw InputError("--one-cpu: 1" + (g.origin.empty() ? std::string() : " (" + g.origin + ")") +
                             " with --pin none (nothing would be pinned to that CPU)");
        // A CPU of its own for the consumer means a pin plan of two CPUs or
        // more (a placement class always gives a pair).
        if (sc->facts().sweeps.consumer_alone && std::find(g.consumer_alone.begin(), g.consumer_alone.end(), 1) != g.consumer_alone.end()) {
            const std::string where = g.origin.empty() ? std::string() : " (" + g.origin + ")";
            if (o.pin == PinPolicy::none)
                throw InputError("--consumer-alone: 1" + where + " with --pin none (nothing would keep the other threads off the consumer's CPU)");
            if (const int pus = topology.counts().pus; g.placement.empty() && pus < 2)
                throw InputError("--consumer-alone: 1" + where + " on " + std::to_string(pus) +
                                 " CPU (the consumer needs a CPU of its own and the other threads at least one more)");
        }
        // Dimension resolved against the machine: the placement class.
        const std::vector<std::string> classes =
            g.placement.empty() ? std::vector<std::string>{""} : resolve_placements(g, plan.placements, plan.skipped);
        for (const std::string& c : classes)
            if (!c.empty() && std::find(plan.swept.begin(), plan.swept.end(), c) == plan.swept.end()) plan.swept.push_back(c);
        // Points the scenario cannot run (a queue refusing a batch, a round
        // larger than the ring): skipped with one note per grid; a command
        // line whose every point is refused is bad input.
        const std::vector<PointSpec> expanded = expand(g, sc->facts().sweeps);
        std::vector<PointSpec> runnable;
        std::string first_refusal;
        for (const PointSpec& p : expanded) {
            if (std::string why = sc->refusal(p.params); !why.empty()) {
                if (first_refusal.empty()) first_refusal = std::move(why);
            } else {
                runnable.push_back(p);
            }
        }
        if (!first_refusal.empty()) {
            const bool command_line = g.origin.empty() || g.origin == "command line";
            if (runnable.empty() && command_line) throw InputError(g.scenario + ": " + first_refusal);
            const std::size_t refused = expanded.size() - runnable.size();
            std::cerr << "spill-bench: note: [" << g.scenario << "]" << (command_line ? "" : " (" + g.origin + ")") << ": skipping " << refused
                      << " of " << expanded.size() << " point(s) it refuses, e.g. " << first_refusal << "\n";
        }
        for (const PointSpec& p : runnable) {
            for (const std::string& c : classes) {
                PointSpec q = p;
                q.params.placement = c;
                if (ids.insert(q.id()).second) all.push_back(PlannedPoint{std::move(q), sc});
            }
        }
    }
    {
        std::vector<std::string> ordered;  // closest first
        for (const auto& e : plan.placements.classes) {
            const std::string c(m::to_string(e.cls));
            if (std::find(plan.swept.begin(), plan.swept.end(), c) != plan.swept.end()) ordered.push_back(c);
        }
        plan.swept = ordered;
    }
    if (!plan.swept.empty() && plan.placements.single_class())
        std::cerr << "spill-bench: note: " << plan.placements.summary() << ": the placement sweep has one value here\n";
    plan.grid_points = all.size();
    // This shard's share: every shard expands the same full grid.
    std::vector<PointSpec> specs;
    for (const PlannedPoint& p : all) specs.push_back(p.spec);
    std::set<std::string> mine;
    for (const PointSpec& s : select_shard(specs, o.shard)) mine.insert(s.id());
    for (PlannedPoint& p : all)
        if (mine.count(p.spec.id())) plan.points.push_back(std::move(p));
    if (o.seed != 0) {
        std::mt19937_64 rng(o.seed);
        std::shuffle(plan.points.begin(), plan.points.end(), rng);
    }
    return plan;
}

std::vector<PlannedThread> planned_threads(const PlannedPoint& p, const Pinner& pinner) {
    // Slots as the scenarios take them: the roles in the declared order,
    // producers P threads, mergers and stage-2 workers M, every other role one.
    std::vector<PlannedThread> out;
    for (const std::string& role : p.scenario->facts().roles) {
        const std::uint64_t n = role == "producer" ? p.spec.params.producers : role == "merger" || role == "stage2" ? p.spec.params.mergers : 1;
        for (std::uint64_t k = 0; k < n; ++k) {
            const std::size_t slot = pinning_slot(p.spec.params, role, k, out.size(), pinner.plan().size());
            out.push_back(PlannedThread{role, k, slot, pinner.planned_cpu(slot)});
        }
    }
    return out;
}

std::vector<PlannedPoint> still_to_run(const Plan& plan, const ResultDoc& done) {
    std::vector<PlannedPoint> todo;
    for (const PlannedPoint& p : plan.points)
        if (!done.has(p.spec.id())) todo.push_back(p);
    return todo;
}

}  // namespace spill::bench

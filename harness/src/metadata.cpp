// harness/src/metadata.cpp: see metadata.hpp.
#include "metadata.hpp"

#include <algorithm>
#include <iostream>

#include <spill/spill.hpp>

#include "manifest.hpp"

namespace spill::bench {

namespace m = spill::measure;

namespace {

/// The measure blocks serialize to nlohmann::json; result files keep key
/// order (ordered_json): convert.
template <class T>
json as_ordered(const T& v) {
    const nlohmann::json j = v;
    return json(j);
}

Figure ok_or_why(const m::FloorStatus& st, double v, const char* what) {
    if (!st.ok) return Figure::undefined(std::string(what) + " floor failed: " + (st.reason.empty() ? "no reason given" : st.reason));
    return Figure::of(v);
}

FloorFigures figures_of(const m::Floors& f) {
    FloorFigures ff;
    ff.line_ns = ok_or_why(f.line_transfer.status, f.line_transfer.one_way_ns, "the line-transfer");
    ff.store_ns = ok_or_why(f.masked_store.status, f.masked_store.ns_per_store.median, "the masked-store");
    return ff;
}

/// A floor figure as a resumed file holds it: usable only if its status is ok.
Figure figure_in(const json& part, const char* key, const char* sub, const char* what) {
    if (!part.is_object()) return Figure::undefined(std::string(what) + " floor is not in the file");
    const json& st = part.contains("status") ? part["status"] : json();
    if (!st.is_object() || !st.value("ok", false))
        return Figure::undefined(std::string(what) + " floor failed: " + (st.is_object() ? st.value("reason", std::string("no reason given")) : "no status"));
    const json* v = part.contains(key) ? &part[key] : nullptr;
    if (v && sub) v = v->is_object() && v->contains(sub) ? &(*v)[sub] : nullptr;
    if (!v || !v->is_number()) return Figure::undefined(std::string(what) + " floor has no number in the file");
    return Figure::of(v->get<double>());
}

FloorFigures figures_in(const json& floors) {
    FloorFigures ff;
    if (floors.is_object() && floors.contains("skipped")) {
        const std::string why = "the floors were not measured (" + floors["skipped"].get<std::string>() + ")";
        ff.line_ns = ff.store_ns = Figure::undefined(why);
        return ff;
    }
    if (!floors.is_object()) return ff;
    ff.line_ns = figure_in(floors.contains("line_transfer") ? floors["line_transfer"] : json(), "one_way_ns", nullptr, "the line-transfer");
    ff.store_ns = figure_in(floors.contains("masked_store") ? floors["masked_store"] : json(), "ns_per_store", "median", "the masked-store");
    return ff;
}

/// The CPUs a run's threads are pinned to (the first two distinct PUs of the
/// plan), or the first usable CPUs when the run does not pin.
std::vector<int> calibration_cpus(const Pinner& pinner, const m::PlacementReport& pr) {
    std::vector<int> cpus;
    for (int c : pinner.plan())
        if (c >= 0 && std::find(cpus.begin(), cpus.end(), c) == cpus.end() && cpus.size() < 2) cpus.push_back(c);
    for (int c : pr.cpus)
        if (cpus.size() < 2 && std::find(cpus.begin(), cpus.end(), c) == cpus.end()) cpus.push_back(c);
    return cpus;
}

}  // namespace

json provenance(const std::string& command_line) {
    const BuildInfo b = build_info();
    json p;
    p["tool"] = "spill-bench";
    p["commit"] = b.commit;
    p["dirty"] = b.dirty;
    p["date_utc"] = utc_now_iso();
    p["host"] = machine_info().hostname;
    p["command_line"] = command_line;
    // What merge compares across shards (with the commit): the same sources
    // built another way measure something else.
    p["build"] = {{"compiler", b.compiler}, {"flags", b.flags}, {"build_type", b.build_type}};
    return p;
}

json metadata_for(const RunOptions& o, const Pinner& pinner, const Papi& papi) {
    const BuildInfo b = build_info();
    const MachineInfo mi = machine_info();
    json md;
    md["tool"] = "spill-bench";
    md["provenance"] = provenance(o.command_line);
    md["commit"] = b.commit;
    md["dirty"] = b.dirty;
    md["compiler"] = b.compiler;
    md["flags"] = b.flags;
    md["build_type"] = b.build_type;
    md["cpu_model"] = mi.cpu_model;
    md["logical_cpus"] = pinner.logical_cpus();
    md["topology"] = pinner.topology_summary();
    md["kernel"] = mi.kernel;
    md["hostname"] = mi.hostname;
    md["date_utc"] = md["provenance"]["date_utc"];
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
    {
        // What parking a waiting thread costs here, and so how long the
        // pool's waits spin before they park (spill/detail/wait.hpp).
        const spill::WaitCalibration& w = spill::wait_calibration();
        md["wait_calibration"] = {{"park_ns", w.park_ns}, {"spin_floor_ns", w.floor_ns}, {"spin_ceiling_ns", w.ceiling_ns},
                                  {"samples", w.samples}, {"one_cpu", w.one_cpu}};
    }
    md["shard"] = {{"index", o.shard.index}, {"count", o.shard.count}};
    md["repetitions"] = o.repetitions;
    md["warmup"] = o.warmup;
    if (!o.sweep_file.empty()) md["sweep_file"] = o.sweep_file;
    // --topology on a real run: checked to describe this machine (cmd_run), which the run then pins on.
    if (!o.topology.empty()) md["topology_checked"] = {{"option", o.topology}, {"describes_this_machine", true}};
    {
        m::ManifestOptions mo;
        mo.topology_xml_path = o.out.empty() ? std::string() : o.out + ".topology.xml";
        if (b.commit != "unknown" && !b.commit.empty()) {
            mo.git_commit = b.commit;
            mo.git_dirty = b.dirty;
        }
        md["manifest"] = as_ordered(m::collect_manifest(mo));
    }
    if (o.slowdown_pct != 0 || o.fault != Fault::none || o.stall_ns != 0) {
        md["injected"] = {{"slowdown_pct", o.slowdown_pct}, {"fault", o.fault == Fault::drop ? "drop" : o.fault == Fault::reorder ? "reorder" : "none"}};
        if (o.stall_ns != 0) md["injected"]["stall_ns"] = o.stall_ns;
    }
    return md;
}

const FloorFigures& FloorTable::for_class(const std::string& cls) const {
    if (cls.empty()) return run;
    const auto it = by_class.find(cls);
    return it != by_class.end() ? it->second : run;
}

FloorTable calibrate_floors_into(json& md, const RunOptions& o, const Pinner& pinner, const m::PlacementReport& pr,
                                 const std::vector<std::string>& swept, const json& skipped) {
    json pl = as_ordered(pr);
    if (!o.placement.empty()) pl["selected"] = o.placement;
    pl["swept"] = swept;
    if (!skipped.empty()) pl["skipped"] = skipped;
    if (!swept.empty() && pr.single_class())
        pl["note"] = "one placement class on this machine (" + std::string(m::to_string(pr.classes.front().cls)) +
                     "): the placement sweep has one value, so it shows no placement effect here";
    md["placement"] = pl;
    FloorTable table;
    if (!o.calibrate) {
        md["floors"] = {{"skipped", "--no-calibrate"}};
        table.run.line_ns = table.run.store_ns = Figure::undefined("the floors were not measured (--no-calibrate)");
        return table;
    }
    auto note = [&](const std::vector<int>& cpus) {
        if (o.quiet) return;
        std::cerr << "spill-bench: calibrating floors on cpus";
        for (int c : cpus) std::cerr << " " << c;
        std::cerr << " (--no-calibrate skips)\n";
    };
    const bool all = std::find(swept.begin(), swept.end(), "all") != swept.end() || o.placement.find("all") != std::string::npos;
    if (!swept.empty() && (all || swept.size() > 1)) {
        // Every swept class gets its own floors; the closest one's are the run's.
        json by = json::object();
        for (const m::PlacementExample& e : pr.classes) {
            const std::string cls(m::to_string(e.cls));
            if (e.cpu_a < 0 || e.cpu_b < 0 || std::find(swept.begin(), swept.end(), cls) == swept.end()) continue;
            const std::vector<int> pair{e.cpu_a, e.cpu_b};
            note(pair);
            const m::Floors f = m::calibrate_floors(pair);
            json fj = as_ordered(f);
            fj["placement"] = cls;
            if (by.empty()) {
                md["floors"] = fj;
                table.run = figures_of(f);
            }
            by[cls] = std::move(fj);
            table.by_class[cls] = figures_of(f);
        }
        md["floors_by_placement"] = by;
        if (!by.empty()) return table;
    }
    std::vector<int> cpus;
    if (swept.size() == 1) {
        const auto cls = m::placement_from_string(swept.front());
        const m::PlacementExample* e = cls ? pr.find(*cls) : nullptr;
        if (!e || e->cpu_a < 0) throw InputError("--placement: class '" + swept.front() + "' is not present on this machine (" + pr.summary() + ")");
        cpus = {e->cpu_a, e->cpu_b};
    } else {
        cpus = calibration_cpus(pinner, pr);
    }
    note(cpus);
    const m::Floors f = m::calibrate_floors(cpus);
    json fj = as_ordered(f);
    if (swept.size() == 1) fj["placement"] = swept.front();
    md["floors"] = std::move(fj);
    table.run = figures_of(f);
    return table;
}

FloorTable floors_from_metadata(const json& md) {
    FloorTable t;
    t.run = figures_in(md.contains("floors") ? md["floors"] : json());
    if (md.contains("floors_by_placement") && md["floors_by_placement"].is_object())
        for (const auto& [cls, f] : md["floors_by_placement"].items()) t.by_class[cls] = figures_in(f);
    return t;
}

}  // namespace spill::bench

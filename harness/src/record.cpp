// harness/src/record.cpp: see record.hpp.
#include "record.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "handoff_stats_json.hpp"

namespace spill::bench {

namespace m = spill::measure;

// ------------------------------------------------------------- counts ----

CheckCounts& CheckCounts::operator+=(const CheckCounts& o) noexcept {
    produced += o.produced;
    delivered += o.delivered;
    overflowed += o.overflowed;
    merged_items += o.merged_items;
    dropped += o.dropped;
    return *this;
}

Figure RepRecord::items_per_second() const {
    return Figure::ratio(static_cast<double>(checks.delivered), seconds, "the repetition took no measurable time");
}

Figure RepRecord::produced_items_per_second() const {
    return Figure::ratio(static_cast<double>(checks.produced), seconds, "the repetition took no measurable time");
}

void LatencyTotals::add(const LatencyResult& l) {
    open_loop = l.open_loop;
    target = l.target_items_per_second;
    if (l.achieved_items_per_second) achieved.push_back(*l.achieved_items_per_second);
    item->merge(l.item);
    handoff->merge(l.handoff);
    send_lag->merge(l.send_lag);
}

// -------------------------------------------------------------- point ----

std::uint64_t PointRecord::handoffs_per_repetition() const noexcept {
    return facts ? handoffs_per_round(facts->handoffs, spec.params) * spec.params.rounds : 0;
}

CheckCounts PointRecord::totals() const noexcept {
    CheckCounts t;
    for (const RepRecord& r : reps) t += r.checks;
    return t;
}

bool PointRecord::fifo() const noexcept {
    return std::all_of(reps.begin(), reps.end(), [](const RepRecord& r) { return r.fifo; });
}

std::optional<bool> PointRecord::order() const noexcept {
    if (!facts || !facts->ordered) return std::nullopt;
    bool all = true;
    for (const RepRecord& r : reps)
        if (r.order) all = all && *r.order;
    return all;
}

bool PointRecord::passed() const noexcept { return failure().empty(); }

std::string PointRecord::failure() const {
    if (!error.empty()) return error;
    for (std::size_t k = 0; k < reps.size(); ++k)
        if (!reps[k].passed()) return "repetition " + std::to_string(k) + ": " + reps[k].failure;
    const CheckCounts t = totals();
    if (!t.conserved()) return "conservation broken over the repetitions";
    if (!fifo()) return "per-producer FIFO broken";
    if (order() == false) return "exact order broken";
    if (reps.size() != planned_repetitions)
        return std::to_string(reps.size()) + " of " + std::to_string(planned_repetitions) + " repetitions measured";
    return {};
}

Stat PointRecord::items_per_second() const {
    std::vector<double> v;
    for (const RepRecord& r : reps)
        if (const Figure f = r.items_per_second(); f.value) v.push_back(*f.value);
    return summarize(v);
}

Stat PointRecord::produced_items_per_second() const {
    std::vector<double> v;
    for (const RepRecord& r : reps)
        if (const Figure f = r.produced_items_per_second(); f.value) v.push_back(*f.value);
    return summarize(v);
}

Stat PointRecord::seconds() const {
    std::vector<double> v;
    for (const RepRecord& r : reps) v.push_back(r.seconds);
    return summarize(v);
}

// -------------------------------------------------------------- facts ----

namespace {

json sweeps_json(const ParamUse& u) {
    json a = json::array();
    for (const GridParameter& row : grid_parameters())
        if (row.swept == nullptr || u.*row.swept) a.push_back(row.key);
    if (u.consumer_delay) a.push_back("delay_mode");
    return a;
}

}  // namespace

json facts_json(const ScenarioFacts& f) {
    json j;
    j["contender"] = f.contender;
    j["job"] = f.job;
    j["hands_rings"] = f.hands_rings;
    j["handoff_stats"] = f.handoff_stats;
    j["roles"] = f.roles;
    j["sweeps"] = sweeps_json(f.sweeps);
    j["ordered"] = f.ordered;
    j["handoff_rule"] = to_string(f.handoffs);
    j["floor"] = to_string(f.floor);
    if (f.floor == FloorKind::none) j["floor_note"] = f.floor_note;
    json c = json::array();
    for (ConfigValue v : f.config) c.push_back(to_string(v));
    j["config"] = c;
    return j;
}

json point_facts_json(const ScenarioFacts& f, const Params& p, unsigned logical_cpus) {
    json j = facts_json(f);
    j["job"] = job_of(f, p);
    j["handoffs_per_round"] = handoffs_per_round(f.handoffs, p);
    j["busy_neighbours"] = p.contend;
    j["producers_exceed_cpus"] = f.sweeps.producers && p.producers > logical_cpus;
    return j;
}

json config_json(const ScenarioFacts& f, const Params& p) {
    json j = json::object();
    for (ConfigValue v : f.config) j[to_string(v)] = config_value(v, p);
    return j;
}

json params_json(const Params& p) {
    json j = json::object();
    for (const ParamValue& v : param_values(p)) j[v.key] = v.number ? json(*v.number) : json(v.text);
    return j;
}

// ---------------------------------------------------------- repetition ----

namespace {

/// Moves obj["undefined"] to the end (after every figure it explains).
void undefined_last(json& obj) {
    if (!obj.is_object() || !obj.contains("undefined")) return;
    json why = obj["undefined"];
    obj.erase("undefined");
    obj["undefined"] = std::move(why);
}

/// A latency histogram; an empty one has no min, mean, percentiles or max
/// (null, with the reason), not zeros.
json histogram_json(const LatencyHistogram& h) {
    const nlohmann::json plain = h;
    json j(plain);
    if (h.count() == 0)
        for (const char* k : {"min", "mean", "p50", "p99", "p99_9", "max"}) put(j, k, Figure::undefined("no samples"));
    return j;
}

json latency_json(const LatencyResult& l) {
    json j;
    j["loop"] = l.open_loop ? "open" : "closed";
    j["clock"] = "CLOCK_MONOTONIC";
    j["target_items_per_second"] = l.open_loop ? json(l.target_items_per_second) : json();  // closed loop: no target (not a statistic)
    put(j, "achieved_items_per_second",
        l.achieved_items_per_second ? Figure::of(*l.achieved_items_per_second)
                                    : Figure::undefined(l.open_loop ? "fewer than 2 items, or none pushed after the first intended send time"
                                                                    : "the repetition took no measurable time"));
    j["item_ns"] = histogram_json(l.item);
    j["handoff_ns"] = histogram_json(l.handoff);
    j["send_lag_ns"] = l.open_loop ? histogram_json(l.send_lag) : json();  // closed loop: nothing is paced
    undefined_last(j);
    return j;
}

json latency_summary_json(const LatencyTotals& t) {
    json j;
    j["loop"] = t.open_loop ? "open" : "closed";
    j["target_items_per_second"] = t.open_loop ? json(t.target) : json();
    j["achieved_items_per_second"] = to_json(summarize(t.achieved));
    j["item_ns"] = histogram_json(*t.item);
    j["handoff_ns"] = histogram_json(*t.handoff);
    j["send_lag_ns"] = t.open_loop ? histogram_json(*t.send_lag) : json();
    return j;
}

json checks_json(const CheckCounts& c) {
    return json{{"produced", c.produced},
                {"delivered", c.delivered},
                {"overflowed", c.overflowed},
                {"merged_items", c.merged_items},
                {"dropped", c.dropped}};
}

}  // namespace

json to_json(const RepRecord& r, const std::vector<std::string>& counter_names) {
    json rep;
    rep["seconds"] = r.seconds;
    rep["items"] = r.checks.produced;
    put(rep, "items_per_second", r.items_per_second());
    put(rep, "produced_items_per_second", r.produced_items_per_second());
    json c;
    c["cpu_seconds"] = r.usage.cpu_seconds;
    c["voluntary_context_switches"] = r.usage.voluntary_cs;
    c["involuntary_context_switches"] = r.usage.involuntary_cs;
    c["page_faults"] = r.usage.page_faults;
    c["allocations"] = r.allocations ? json(*r.allocations) : json();  // reason: metadata.counters.unavailable
    for (std::size_t k = 0; k < counter_names.size(); ++k)
        c[counter_names[k]] = k < r.papi.size() && r.papi[k] ? json(*r.papi[k]) : json();  // reason: metadata.counters.unavailable
    rep["counters"] = c;
    json ck = checks_json(r.checks);
    ck["passed"] = r.passed();
    if (!r.passed()) ck["message"] = r.failure;
    rep["checks"] = ck;
    if (r.latency) rep["latency"] = latency_json(*r.latency);
    if (r.handoff) rep["handoff"] = handoff_json(*r.handoff);
    undefined_last(rep);
    return rep;
}

// --------------------------------------------------------------- point ----

namespace {

json threads_json(const std::vector<ThreadRecord>& threads) {
    json th = json::array();
    for (const ThreadRecord& t : threads) {
        json rec = {{"role", t.role}, {"index", t.index}, {"core", t.core}, {"planned_cpu", t.planned_cpu}};
        if (t.finished) {
            rec["cpu_seconds"] = t.cpu_seconds;
            rec["voluntary_context_switches"] = t.voluntary_cs;
            rec["involuntary_context_switches"] = t.involuntary_cs;
            rec["page_faults"] = t.page_faults;
        }
        th.push_back(std::move(rec));
    }
    return th;
}

json placement_json(const PlacementRecord& p) {
    json j;
    j["swept"] = p.swept;
    j["cpus"] = p.cpus;
    j["class"] = p.cls ? json(*p.cls) : json();
    if (!p.reason.empty()) j["reason"] = p.reason;
    return j;
}

/// summary.floor_multiples, or null (with the reason) for a scenario without a floor.
Figure ns_per_item(const Stat& ips) {
    if (!ips.median.value) return ips.median;
    return Figure::ratio(1e9, *ips.median.value, "the median rate is 0");
}

json floor_multiples_json(const PointRecord& p, const Stat& delivered, const Stat& produced) {
    // A push costs the same whether its item is later drained or evicted:
    // the masked-store floor divides the time per push; a handoff floor, the
    // time per item handed over.
    const bool per_push = p.facts->floor == FloorKind::masked_store;
    const Figure ns = ns_per_item(per_push ? produced : delivered);
    json fm;
    put(fm, "ns_per_item", ns);
    if (per_push) {
        put(fm, "masked_store_ns", p.floors.store_ns);
        put(fm, "push_over_masked_store", ns.over(p.floors.store_ns, "the masked-store floor is 0"));
    } else {
        const std::uint64_t h = p.handoffs_per_repetition();
        const Figure per_handoff = Figure::ratio(static_cast<double>(p.spec.params.items), static_cast<double>(h), "the point makes no handoffs");
        const Figure two_lines = p.floors.line_ns.value ? Figure::of(2.0 * *p.floors.line_ns.value) : p.floors.line_ns;
        const Figure floor_ns = two_lines.over(per_handoff, "no items per handoff");
        put(fm, "items_per_handoff", per_handoff);
        put(fm, "handoff_floor_per_item_ns", floor_ns);
        put(fm, "item_over_handoff_floor", ns.over(floor_ns, "the handoff floor is 0"));
    }
    undefined_last(fm);
    return fm;
}

json cost_json(const PointRecord& p) {
    const std::uint64_t handoffs = p.handoffs_per_repetition();
    const std::string no_handoffs = "the scenario makes no handoffs (" + std::string(to_string(p.facts->handoffs)) + ")";
    json roles = json::object();
    for (const m::RoleCost& rc : p.role_costs) {
        const nlohmann::json plain = rc;
        json j(plain);
        j.erase("on_cpu_fraction");  // the records hold no per-thread wall time
        j["total"].erase("wall_seconds");
        for (const char* k : {"voluntary_switches_per_handoff", "involuntary_switches_per_handoff", "switches_per_handoff"})
            if (j[k].is_null()) j["undefined"][k] = handoffs == 0 ? no_handoffs : "not a finite number";
        if (j["cpu_seconds_per_million_items"].is_null())
            j["undefined"]["cpu_seconds_per_million_items"] = p.cost_items == 0 ? "no items" : "not a finite number";
        roles[std::string(m::to_string(rc.role))] = std::move(j);
    }
    json c;
    c["roles"] = roles;
    c["items"] = p.cost_items;
    c["handoffs"] = handoffs;
    put(c, "allocations_per_round", p.allocations_per_round);
    json by_role = json::object();
    for (const m::RoleCounters& rc : p.role_counters) {
        nlohmann::json plain;
        m::role_counters_to_json(plain, rc, p.counter_names);
        json j(plain);
        for (auto& [name, fig] : j["counters"].items())
            if (!fig["total"].is_null() && fig["per_handoff"].is_null()) fig["undefined"]["per_handoff"] = no_handoffs;
        by_role[std::string(m::to_string(rc.role))] = std::move(j);
    }
    c["counters_by_role"] = by_role;
    undefined_last(c);
    return c;
}

}  // namespace

json to_json(const PointRecord& p) {
    json pt;
    pt["id"] = p.spec.id();
    pt["scenario"] = p.spec.scenario;
    pt["facts"] = point_facts_json(*p.facts, p.spec.params, p.logical_cpus);
    pt["config"] = config_json(*p.facts, p.spec.params);
    pt["params"] = params_json(p.spec.params);
    pt["threads"] = threads_json(p.threads);
    pt["oversubscribed"] = p.threads.size() > p.logical_cpus;
    pt["placement"] = placement_json(p.placement);
    json reps = json::array();
    for (const RepRecord& r : p.reps) reps.push_back(to_json(r, p.counter_names));
    pt["repetitions"] = std::move(reps);
    const Stat ips = p.items_per_second();
    const Stat produced = p.produced_items_per_second();
    json summary;
    summary["items_per_second"] = to_json(ips);
    summary["produced_items_per_second"] = to_json(produced);
    summary["seconds"] = to_json(p.seconds());
    if (p.latency) summary["latency"] = latency_summary_json(*p.latency);
    if (p.facts->floor == FloorKind::none) put(summary, "floor_multiples", Figure::undefined(p.facts->floor_note));
    else summary["floor_multiples"] = floor_multiples_json(p, ips, produced);
    undefined_last(summary);
    pt["summary"] = std::move(summary);
    pt["cost"] = cost_json(p);
    json ck = checks_json(p.totals());
    const std::optional<bool> order = p.order();
    ck["fifo"] = p.fifo();
    ck["order"] = order ? json(*order) : json();  // null: the scenario does not check global order
    const std::string why = p.failure();
    ck["passed"] = why.empty();
    ck["message"] = why;
    pt["checks"] = std::move(ck);
    return pt;
}

// -------------------------------------------------------------- table ----

TableRow table_row(const PointRecord& p) {
    return TableRow{p.spec.scenario, p.spec.params, p.items_per_second(), p.totals().overflowed, p.passed()};
}

namespace {

std::string fmt_rate(double r) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(2);
    if (r >= 1e9) o << r / 1e9 << "G";
    else if (r >= 1e6) o << r / 1e6 << "M";
    else if (r >= 1e3) o << r / 1e3 << "k";
    else o << r;
    return o.str();
}

}  // namespace

std::string format_table(const std::vector<TableRow>& rows) {
    std::ostringstream o;
    // items/s: delivered items per second; batch "-": the scenario has no bulk call; nb: busy neighbours;
    // place: "-" the pin plan's slots, "one" every thread of the point on one CPU (--one-cpu), "alone" the
    // consumer on a CPU of its own (--consumer-alone).
    o << std::left << std::setw(32) << "scenario" << std::right << std::setw(4) << "P" << std::setw(4) << "M" << std::setw(7) << "ring"
      << std::setw(7) << "batch" << std::setw(9) << "delay" << std::setw(12) << "mode" << std::setw(9) << "items" << std::setw(7) << "rounds"
      << std::setw(4) << "nb" << std::setw(7) << "place" << std::setw(12) << "items/s" << std::setw(7) << "cv%" << std::setw(9) << "overflow" << "  check\n";
    for (const TableRow& r : rows) {
        std::ostringstream cv;  // "-": undefined (one repetition), never a made-up 0
        if (r.items_per_second.cv.value) cv << std::fixed << std::setprecision(1) << *r.items_per_second.cv.value * 100;
        else cv << "-";
        const Params& q = r.params;
        o << std::left << std::setw(32) << r.scenario << std::right << std::setw(4) << q.producers << std::setw(4) << q.mergers << std::setw(7)
          << q.ring_size << std::setw(7) << (q.batch != 0 ? std::to_string(q.batch) : std::string("-")) << std::setw(9) << q.consumer_delay_ns
          << std::setw(12) << to_string(q.delay_mode) << std::setw(9) << q.items << std::setw(7) << q.rounds << std::setw(4) << q.contend
          << std::setw(7) << (q.one_cpu != 0 ? "one" : q.consumer_alone != 0 ? "alone" : "-") << std::setw(12) << (r.items_per_second.median.value ? fmt_rate(*r.items_per_second.median.value) : "-")
          << std::setw(7) << cv.str() << std::setw(9) << r.overflowed << "  " << (r.passed ? "ok" : "FAILED") << "\n";
    }
    return o.str();
}

}  // namespace spill::bench

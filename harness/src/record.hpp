// harness/src/record.hpp: the typed record of one measured point (and of its
// repetitions), as harness/SCHEMA.md describes it. The runner fills a
// PointRecord; to_json() writes it once into the result file; the console
// table, the check totals and the verdict are computed from the record,
// never read back from the JSON.
//
// Undefined is never zero: a figure that cannot be computed (a coefficient
// of variation of one repetition, a rate over no handoffs...) is a Figure
// without a value, written as null with its reason in the enclosing
// object's "undefined" map.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cost.hpp"
#include "figure.hpp"
#include "grid.hpp"
#include "handoff_stats.hpp"
#include "latency.hpp"
#include "platform.hpp"
#include "results.hpp"
#include "scenario.hpp"

namespace spill::bench {

/// The item counts of a repetition (or summed over a point's repetitions).
struct CheckCounts {
    std::uint64_t produced = 0;
    std::uint64_t delivered = 0;
    std::uint64_t overflowed = 0;
    std::uint64_t merged_items = 0;  // items moved by merge backs (not merge-back events)
    std::uint64_t dropped = 0;
    [[nodiscard]] bool conserved() const noexcept { return produced == delivered + overflowed + dropped; }
    CheckCounts& operator+=(const CheckCounts& o) noexcept;
};

/// The floors a point is measured against (SCHEMA.md, floor_multiples); a
/// floor that was not measured, or whose measurement failed, is undefined.
struct FloorFigures {
    Figure line_ns = Figure::undefined("the floors were not measured");   // one-way cache-line transfer
    Figure store_ns = Figure::undefined("the floors were not measured");  // masked store, median ns per store
};

/// One measured repetition.
struct RepRecord {
    double seconds = 0;
    CheckCounts checks;
    bool fifo = true;
    std::optional<bool> order;
    std::string failure;  // why its checks failed; empty when they passed
    Usage usage;
    std::optional<std::uint64_t> allocations;
    std::vector<std::optional<long long>> papi;  // one per requested event; nullopt: not countable here
    std::shared_ptr<const LatencyResult> latency;
    std::shared_ptr<const HandoffRecord> handoff;

    [[nodiscard]] bool passed() const noexcept { return failure.empty(); }
    /// Delivered items per second: the throughput (an overflowed item is not).
    [[nodiscard]] Figure items_per_second() const;
    /// Produced items per second (pushes, delivered or overflowed).
    [[nodiscard]] Figure produced_items_per_second() const;
};

/// Where a point's threads ran (SCHEMA.md, placement).
struct PlacementRecord {
    bool swept = false;
    std::vector<int> cpus;
    std::optional<std::string> cls;
    std::string reason;  // when cls is empty, or "unknown"
};

/// The latency histograms of every measured repetition of a point, merged.
struct LatencyTotals {
    bool open_loop = false;
    std::uint64_t target = 0;
    std::vector<double> achieved;
    std::unique_ptr<LatencyHistogram> item = std::make_unique<LatencyHistogram>();
    std::unique_ptr<LatencyHistogram> handoff = std::make_unique<LatencyHistogram>();
    std::unique_ptr<LatencyHistogram> send_lag = std::make_unique<LatencyHistogram>();
    void add(const LatencyResult& l);
};

/// One point: its spec and facts, every measured repetition, and what was
/// measured once per point (threads, cost, counters of the last repetition).
struct PointRecord {
    PointSpec spec;
    const ScenarioFacts* facts = nullptr;
    std::uint64_t planned_repetitions = 0;
    std::vector<RepRecord> reps;
    std::string error;  // a repetition threw: what, and the point failed
    std::vector<ThreadRecord> threads;  // of the last measured repetition
    unsigned logical_cpus = 1;
    PlacementRecord placement;
    FloorFigures floors;
    std::unique_ptr<LatencyTotals> latency;  // latency scenarios only
    // Cost of the last measured repetition, by role.
    std::vector<spill::measure::RoleCost> role_costs;
    std::vector<spill::measure::RoleCounters> role_counters;
    std::vector<std::string> counter_names;  // requested PAPI events, in order
    std::uint64_t cost_items = 0;            // items of the repetition the costs are from
    Figure allocations_per_round = Figure::undefined("no repetition was measured");

    /// Handoffs of one repetition (facts.handoffs x rounds).
    [[nodiscard]] std::uint64_t handoffs_per_repetition() const noexcept;
    [[nodiscard]] CheckCounts totals() const noexcept;
    [[nodiscard]] bool fifo() const noexcept;
    [[nodiscard]] std::optional<bool> order() const noexcept;
    [[nodiscard]] bool passed() const noexcept;
    /// Why the point failed (the first failure met); empty when it passed.
    [[nodiscard]] std::string failure() const;
    [[nodiscard]] Stat items_per_second() const;  // delivered
    [[nodiscard]] Stat produced_items_per_second() const;
    [[nodiscard]] Stat seconds() const;
};

/// The `facts` and `config` objects of a point (also what `list --json`
/// prints per scenario, without the per-point values).
json facts_json(const ScenarioFacts& f);
/// A point's facts: the scenario's, with its job, handoffs per round, busy
/// neighbours and whether its producers outnumber `logical_cpus`.
json point_facts_json(const ScenarioFacts& f, const Params& p, unsigned logical_cpus);
json config_json(const ScenarioFacts& f, const Params& p);
/// A point's `params` object: param_values() as JSON.
json params_json(const Params& p);

/// The point as SCHEMA.md writes it. `counter_names` are the requested PAPI
/// events (every repetition has one value or null per name).
json to_json(const PointRecord& p);
json to_json(const RepRecord& r, const std::vector<std::string>& counter_names);

/// One line of the console table that ends a run.
struct TableRow {
    std::string scenario;
    Params params;
    Stat items_per_second;
    std::uint64_t overflowed = 0;
    bool passed = false;
};
TableRow table_row(const PointRecord& p);
/// The table (header and one line per row) as printed on stdout.
std::string format_table(const std::vector<TableRow>& rows);

}  // namespace spill::bench

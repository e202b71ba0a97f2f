// Per-thread cost: CPU time and context switches of the calling thread, and
// the per-role ratios the report prints (CPU-seconds per million items,
// context switches per handoff, fraction of wall time on a CPU).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spill::measure {

/// A snapshot (or a difference of two) for one thread.
struct ThreadCost {
    double cpu_seconds = 0.0;        ///< CLOCK_THREAD_CPUTIME_ID
    double wall_seconds = 0.0;       ///< CLOCK_MONOTONIC
    std::int64_t voluntary_switches = 0;    ///< RUSAGE_THREAD ru_nvcsw (blocked / yielded)
    std::int64_t involuntary_switches = 0;  ///< ru_nivcsw (preempted)
    bool ok = true;                  ///< false if a clock or getrusage failed

    [[nodiscard]] std::int64_t switches() const noexcept { return voluntary_switches + involuntary_switches; }
    ThreadCost& operator+=(const ThreadCost& o) noexcept;
};
/// Later minus earlier snapshot of the same thread.
[[nodiscard]] ThreadCost operator-(const ThreadCost& later, const ThreadCost& earlier) noexcept;

/// Snapshot of the calling thread (no allocation; two clock reads, one getrusage).
[[nodiscard]] ThreadCost sample_thread_cost() noexcept;

/// Measures the calling thread between construction and stop().
class ThreadCostMeter {
public:
    ThreadCostMeter() noexcept : start_(sample_thread_cost()) {}
    [[nodiscard]] ThreadCost stop() const noexcept { return sample_thread_cost() - start_; }

private:
    ThreadCost start_;
};

enum class Role { producer, merger, consumer };
[[nodiscard]] std::string_view to_string(Role r) noexcept;

/// CPU-seconds per million items (NaN when items == 0).
[[nodiscard]] double cpu_seconds_per_million_items(double cpu_seconds, std::uint64_t items) noexcept;
/// Context switches (both kinds) per handoff (NaN when handoffs == 0).
[[nodiscard]] double switches_per_handoff(std::int64_t switches, std::uint64_t handoffs) noexcept;

/// One measured thread.
struct RoleSample {
    Role role = Role::producer;
    ThreadCost cost;  ///< a difference (ThreadCostMeter::stop)
};

/// Sum over the threads of one role, and its ratios.
struct RoleCost {
    Role role = Role::producer;
    std::uint32_t threads = 0;
    ThreadCost total;                    ///< summed over the role's threads
    double cpu_seconds_per_million_items = 0.0;
    double voluntary_switches_per_handoff = 0.0;
    double involuntary_switches_per_handoff = 0.0;
    double switches_per_handoff = 0.0;
    /// cpu / wall summed over threads: 1 = always on a CPU (spinning or
    /// working), lower = blocked or preempted for the rest.
    double on_cpu_fraction = 0.0;
};

/// Groups samples by role (roles with no thread are omitted); items and
/// handoffs are the totals of the run (every role handles every item).
[[nodiscard]] std::vector<RoleCost> summarize_costs(std::span<const RoleSample> samples, std::uint64_t items,
                                                    std::uint64_t handoffs);

void to_json(nlohmann::json& j, const ThreadCost& c);
void to_json(nlohmann::json& j, const RoleCost& c);

// ---- per-role hardware counters ----

/// One thread's hardware counter values, one entry per counter name (in the
/// caller's order). A value that could not be read is nullopt and its entry
/// in `reasons` says why; it is never 0.
struct ThreadCounters {
    Role role = Role::producer;
    std::vector<std::optional<double>> values;
    std::vector<std::string> reasons;  ///< same length as values; empty string where a value exists
};

/// One counter of one role: the sum over the role's threads and its ratios,
/// or (when any thread of the role lacks the value) nullopt everywhere and
/// why in `unavailable`.
struct CounterFigure {
    std::optional<double> total;
    std::optional<double> per_item;     ///< total / items (every role handles every item)
    std::optional<double> per_handoff;  ///< total / handoffs; nullopt without handoffs
    std::string unavailable;            ///< empty when total is set
};

struct RoleCounters {
    Role role = Role::producer;
    std::uint32_t threads = 0;
    std::vector<CounterFigure> counters;  ///< one per counter name
};

/// Groups per-thread values by role (roles with no thread are omitted;
/// `counters` of each entry has `n_counters` figures). A figure is known only
/// if every thread of its role has the value; otherwise it is unavailable
/// with the first reason met, prefixed with how many threads lacked it.
[[nodiscard]] std::vector<RoleCounters> summarize_role_counters(std::span<const ThreadCounters> threads, std::size_t n_counters,
                                                                std::uint64_t items, std::uint64_t handoffs);

/// {"threads": n, "counters": {name: {"total", "per_item", "per_handoff"} or
/// {"total": null, "per_item": null, "per_handoff": null, "unavailable": why}}}
void role_counters_to_json(nlohmann::json& j, const RoleCounters& c, std::span<const std::string> names);

}  // namespace spill::measure

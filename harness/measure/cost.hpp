// Per-thread cost: CPU time and context switches of the calling thread, and
// the per-role ratios the report prints (CPU-seconds per million items,
// context switches per handoff, fraction of wall time on a CPU).
#pragma once

#include <cstdint>
#include <span>
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

}  // namespace spill::measure

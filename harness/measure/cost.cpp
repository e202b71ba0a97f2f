// Per-thread cost sampling; see cost.hpp.
#include "cost.hpp"

#include <sys/resource.h>
#include <time.h>

#include <cmath>
#include <limits>

namespace spill::measure {

namespace {

double seconds(const timespec& ts) noexcept {
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// JSON has no NaN: undefined ratios are written as null.
nlohmann::json number_or_null(double x) {
    return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
}

}  // namespace

ThreadCost& ThreadCost::operator+=(const ThreadCost& o) noexcept {
    cpu_seconds += o.cpu_seconds;
    wall_seconds += o.wall_seconds;
    voluntary_switches += o.voluntary_switches;
    involuntary_switches += o.involuntary_switches;
    ok = ok && o.ok;
    return *this;
}

ThreadCost operator-(const ThreadCost& later, const ThreadCost& earlier) noexcept {
    ThreadCost d;
    d.cpu_seconds = later.cpu_seconds - earlier.cpu_seconds;
    d.wall_seconds = later.wall_seconds - earlier.wall_seconds;
    d.voluntary_switches = later.voluntary_switches - earlier.voluntary_switches;
    d.involuntary_switches = later.involuntary_switches - earlier.involuntary_switches;
    d.ok = later.ok && earlier.ok;
    return d;
}

ThreadCost sample_thread_cost() noexcept {
    ThreadCost c;
    timespec ts{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) {
        c.cpu_seconds = seconds(ts);
    } else {
        c.ok = false;
    }
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
        c.wall_seconds = seconds(ts);
    } else {
        c.ok = false;
    }
    rusage ru{};
    if (getrusage(RUSAGE_THREAD, &ru) == 0) {
        c.voluntary_switches = ru.ru_nvcsw;
        c.involuntary_switches = ru.ru_nivcsw;
    } else {
        c.ok = false;
    }
    return c;
}

std::string_view to_string(Role r) noexcept {
    switch (r) {
        case Role::producer: return "producer";
        case Role::merger: return "merger";
        case Role::consumer: return "consumer";
    }
    return "unknown";
}

double cpu_seconds_per_million_items(double cpu_seconds, std::uint64_t items) noexcept {
    if (items == 0) return std::numeric_limits<double>::quiet_NaN();
    return cpu_seconds * 1e6 / static_cast<double>(items);
}

double switches_per_handoff(std::int64_t switches, std::uint64_t handoffs) noexcept {
    if (handoffs == 0) return std::numeric_limits<double>::quiet_NaN();
    return static_cast<double>(switches) / static_cast<double>(handoffs);
}

std::vector<RoleCost> summarize_costs(std::span<const RoleSample> samples, std::uint64_t items,
                                      std::uint64_t handoffs) {
    std::vector<RoleCost> out;
    for (Role r : {Role::producer, Role::merger, Role::consumer}) {
        RoleCost rc;
        rc.role = r;
        for (const auto& s : samples) {
            if (s.role != r) continue;
            ++rc.threads;
            rc.total += s.cost;
        }
        if (rc.threads == 0) continue;
        rc.cpu_seconds_per_million_items = cpu_seconds_per_million_items(rc.total.cpu_seconds, items);
        rc.voluntary_switches_per_handoff = switches_per_handoff(rc.total.voluntary_switches, handoffs);
        rc.involuntary_switches_per_handoff = switches_per_handoff(rc.total.involuntary_switches, handoffs);
        rc.switches_per_handoff = switches_per_handoff(rc.total.switches(), handoffs);
        rc.on_cpu_fraction = rc.total.wall_seconds > 0.0 ? rc.total.cpu_seconds / rc.total.wall_seconds
                                                         : std::numeric_limits<double>::quiet_NaN();
        out.push_back(rc);
    }
    return out;
}

void to_json(nlohmann::json& j, const ThreadCost& c) {
    j = nlohmann::json{{"cpu_seconds", c.cpu_seconds},
                       {"wall_seconds", c.wall_seconds},
                       {"voluntary_switches", c.voluntary_switches},
                       {"involuntary_switches", c.involuntary_switches},
                       {"ok", c.ok}};
}

void to_json(nlohmann::json& j, const RoleCost& c) {
    j = nlohmann::json{{"role", std::string(to_string(c.role))},
                       {"threads", c.threads},
                       {"total", c.total},
                       {"cpu_seconds_per_million_items", number_or_null(c.cpu_seconds_per_million_items)},
                       {"voluntary_switches_per_handoff", number_or_null(c.voluntary_switches_per_handoff)},
                       {"involuntary_switches_per_handoff", number_or_null(c.involuntary_switches_per_handoff)},
                       {"switches_per_handoff", number_or_null(c.switches_per_handoff)},
                       {"on_cpu_fraction", number_or_null(c.on_cpu_fraction)}};
}

std::vector<RoleCounters> summarize_role_counters(std::span<const ThreadCounters> threads, std::size_t n_counters,
                                                std::uint64_t items, std::uint64_t handoffs) {
    std::vector<RoleCounters> out;
    for (Role role : {Role::producer, Role::merger, Role::consumer}) {
        RoleCounters rc;
        rc.role = role;
        std::vector<double> sum(n_counters, 0.0);
        std::vector<std::uint32_t> missing(n_counters, 0);
        std::vector<std::string> first_reason(n_counters);
        for (const ThreadCounters& t : threads) {
            if (t.role != role) continue;
            ++rc.threads;
            for (std::size_t i = 0; i < n_counters; ++i) {
                const bool has = i < t.values.size() && t.values[i].has_value() && std::isfinite(*t.values[i]);
                if (has) {
                    sum[i] += *t.values[i];
                    continue;
                }
                ++missing[i];
                if (first_reason[i].empty()) {
                    first_reason[i] = i < t.reasons.size() && !t.reasons[i].empty() ? t.reasons[i] : "no value recorded for this thread";
                }
            }
        }
        if (rc.threads == 0) continue;
        for (std::size_t i = 0; i < n_counters; ++i) {
            CounterFigure f;
            if (missing[i] == 0) {
                f.total = sum[i];
                if (items != 0) f.per_item = sum[i] / static_cast<double>(items);
                if (handoffs != 0) f.per_handoff = sum[i] / static_cast<double>(handoffs);
            } else if (missing[i] == rc.threads) {
                f.unavailable = first_reason[i];
            } else {
                f.unavailable = "not read on " + std::to_string(missing[i]) + " of " + std::to_string(rc.threads) + " " +
                                std::string(to_string(role)) + " threads: " + first_reason[i];
            }
            rc.counters.push_back(std::move(f));
        }
        out.push_back(std::move(rc));
    }
    return out;
}

void role_counters_to_json(nlohmann::json& j, const RoleCounters& c, std::span<const std::string> names) {
    auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    nlohmann::json counters = nlohmann::json::object();
    for (std::size_t i = 0; i < names.size() && i < c.counters.size(); ++i) {
        const CounterFigure& f = c.counters[i];
        nlohmann::json x{{"total", opt(f.total)}, {"per_item", opt(f.per_item)}, {"per_handoff", opt(f.per_handoff)}};
        if (!f.total) x["unavailable"] = f.unavailable;
        counters[names[i]] = std::move(x);
    }
    j = nlohmann::json{{"role", std::string(to_string(c.role))}, {"threads", c.threads}, {"counters", std::move(counters)}};
}

}  // namespace spill::measure

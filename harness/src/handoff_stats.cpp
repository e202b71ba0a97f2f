// harness/src/handoff_stats.cpp: see handoff_stats.hpp and handoff_stats_json.hpp.
#include "handoff_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "figure.hpp"
#include "handoff_stats_json.hpp"

namespace spill::bench {

void OccupancyProbe::prepare(std::size_t workers, std::uint64_t rounds) {
    cells_.assign(workers, Cell{});
    per_worker_ = std::max<std::size_t>(1, max_points / std::max<std::size_t>(workers, 1));
    const std::uint64_t candidates = rounds > 1 ? rounds - 1 : 1;  // rounds 2..R sample round r-1's publish
    stride_ = std::max<std::uint64_t>(1, (candidates + per_worker_ - 1) / per_worker_);
}

std::vector<OccupancyProbe::Point> OccupancyProbe::points() const {
    std::vector<Point> out;
    for (std::size_t w = 0; w < cells_.size(); ++w)
        for (std::size_t i = 0; i < cells_[w].n; ++i) out.push_back(Point{w, cells_[w].samples[i]});
    std::stable_sort(out.begin(), out.end(), [](const Point& a, const Point& b) { return a.s.t_ns < b.s.t_ns; });
    return out;
}

namespace {

constexpr const char* role_names[3] = {"producer", "merger", "consumer"};

/// Nearest-rank percentile of a power-of-two histogram: the upper bound of
/// the bucket holding the rank, clamped to the exact maximum.
std::uint64_t log2_percentile(const std::array<std::uint64_t, 65>& by, std::uint64_t count, std::uint64_t max, double q) {
    if (count == 0) return 0;
    const auto rank = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count))), 1, count);
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < by.size(); ++b) {
        seen += by[b];
        if (seen >= rank) {
            const std::uint64_t upper = b == 0 ? 0 : b >= 64 ? std::numeric_limits<std::uint64_t>::max() : (std::uint64_t{1} << b) - 1;
            return std::min(upper, max);
        }
    }
    return max;
}

std::uint64_t exact_percentile(std::vector<std::uint64_t> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto rank = std::clamp<std::size_t>(static_cast<std::size_t>(std::ceil(q / 100.0 * static_cast<double>(v.size()))), 1, v.size());
    return v[rank - 1];
}

}  // namespace

json handoff_json(const HandoffRecord& h) {
    json j;
    j["handoffs"] = h.takes;
    j["items"] = h.taken_items;
    j["streamed_handoffs"] = h.streamed_takes;
    const std::string no_takes = "no batch was taken from the slots";
    const std::string no_publishes = "no ring was published";
    {
        json d;
        put(d, "mean", Figure::ratio(static_cast<double>(h.taken_items), static_cast<double>(h.takes), no_takes));
        const auto pct = [&](double q) {
            return h.takes ? Figure::of(static_cast<double>(log2_percentile(h.take_by_log2, h.takes, h.max_take, q))) : Figure::undefined(no_takes);
        };
        put(d, "p50_upper", pct(50.0));
        put(d, "p99_upper", pct(99.0));
        d["max"] = h.max_take;
        json buckets = json::array();
        for (std::size_t b = 0; b < h.take_by_log2.size(); ++b) {
            if (h.take_by_log2[b] == 0) continue;
            const std::uint64_t lo = b == 0 ? 0 : std::uint64_t{1} << (b - 1);
            const std::uint64_t hi = b == 0 ? 0 : b >= 64 ? std::numeric_limits<std::uint64_t>::max() : (std::uint64_t{1} << b) - 1;
            buckets.push_back({lo, hi, h.take_by_log2[b]});
        }
        d["buckets"] = buckets;  // [lowest, highest items, batches], power-of-two buckets
        j["items_per_handoff"] = d;
    }
    j["publishes"] = h.publishes;
    j["recycle_hits"] = h.recycle_hits;
    j["merge_backs"] = h.merge_backs;
    if (h.rounds_ahead != 0) j["rounds_ahead"] = h.rounds_ahead;
    put(j, "recycle_hit_rate", Figure::ratio(static_cast<double>(h.recycle_hits), static_cast<double>(h.publishes), no_publishes));
    {
        json o;
        o["capacity_items"] = h.ring_capacity;
        put(o, "mean_items", Figure::ratio(static_cast<double>(h.occupancy_sum_items), static_cast<double>(h.publishes), no_publishes));
        o["max_items"] = h.occupancy_max_items;
        std::vector<std::uint64_t> items;
        json t = json::array(), w = json::array(), n = json::array();
        for (const auto& p : h.occupancy) {
            t.push_back(static_cast<double>(p.s.t_ns) * 1e-9);
            w.push_back(p.worker);
            n.push_back(p.s.items);
            items.push_back(p.s.items);
        }
        o["samples"] = items.size();
        const auto sampled = [&](double q) {
            return items.empty() ? Figure::undefined("no occupancy sample (a sample is taken from the second round on)")
                                 : Figure::of(static_cast<double>(exact_percentile(items, q)));
        };
        put(o, "sampled_p50_items", sampled(50.0));
        put(o, "sampled_p99_items", sampled(99.0));
        o["series"] = {{"t_seconds", t}, {"worker", w}, {"items", n}};
        j["occupancy"] = o;
    }
    {
        json roles = json::object();
        for (std::size_t r = 0; r < h.wait.size(); ++r) {
            const RoleWait& rw = h.wait[r];
            if (rw.threads == 0) continue;
            const double thread_seconds = h.wall_seconds * rw.threads;
            json x;
            x["threads"] = rw.threads;
            x["waits"] = rw.w.waits;
            x["polls"] = rw.w.polls;
            x["blocks"] = rw.w.blocks;
            x["spin_seconds"] = static_cast<double>(rw.w.spin_ns) * 1e-9;
            x["blocked_seconds"] = static_cast<double>(rw.w.block_ns) * 1e-9;
            x["wakes"] = rw.w.wakes;
            x["wake_seconds"] = static_cast<double>(rw.w.wake_ns) * 1e-9;
            put(x, "mean_wake_us",
                Figure::ratio(static_cast<double>(rw.w.wake_ns) * 1e-3, static_cast<double>(rw.w.wakes),
                              "no wake-up was timed (no wait parked, or its publisher's stamp came too late)"));
            const std::string no_time = "the repetition took no measurable time";
            put(x, "spin_fraction", Figure::ratio(static_cast<double>(rw.w.spin_ns) * 1e-9, thread_seconds, no_time));
            put(x, "blocked_fraction", Figure::ratio(static_cast<double>(rw.w.block_ns) * 1e-9, thread_seconds, no_time));
            if (rw.poll_modes[0] + rw.poll_modes[1] + rw.poll_modes[2] != 0)
                x["poll_modes"] = {{"pause", rw.poll_modes[0]}, {"pause_then_yield", rw.poll_modes[1]}, {"yield", rw.poll_modes[2]}};
            roles[role_names[r]] = x;
        }
        j["wait_by_role"] = roles;
    }
    j["wall_seconds"] = h.wall_seconds;
    return j;
}

}  // namespace spill::bench

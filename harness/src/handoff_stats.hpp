// harness/src/handoff_stats.hpp: handoff statistics of one repetition of a
// ring-handing scenario: items per handoff, recycle-slot
// hit rate, ring occupancy over time, and the time each role spent spinning
// or blocked while waiting.
//
// Sources: the pool's own counters (spill::WorkerStats, spill::HandoffStats,
// spill::WaitStats, read after the round is joined), an OccupancyProbe the
// producer task samples at the start of each round, and IdlePoll for the
// harness threads that poll collect() (they never block on a futex).
//
// Hot path: OccupancyProbe::sample runs once per round per worker (one
// branch, and on sampled rounds one clock read and two stores into memory
// reserved before the measured phase); nothing here allocates in the phase.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <spill/spill.hpp>

#include "platform.hpp"

namespace spill::bench {

/// Bounded time series of "items in the slot's batch right after the
/// worker's last publish", sampled by each worker at the start of its rounds.
/// At most max_points samples per repetition over all workers.
class OccupancyProbe {
public:
    static constexpr std::size_t max_points = 256;

    struct Sample {
        std::uint64_t t_ns = 0;   // since start()
        std::uint64_t items = 0;  // WorkerStats::occupancy_last_items of the previous round
    };

    /// Before the pool runs: room for `workers` workers over `rounds` rounds.
    void prepare(std::size_t workers, std::uint64_t rounds);
    /// Before the first round: where worker w's counters are (pool.stats(w)).
    void attach(std::size_t w, const spill::WorkerStats* s) noexcept { cells_[w].stats = s; }
    /// Before the first round (after env.begin()): the series' time origin.
    void start(std::uint64_t t0_ns) noexcept { t0_ = t0_ns; }

    /// Called by worker w at the start of each of its rounds (its own thread:
    /// the stats it reads are its own, written in its previous round).
    void sample(std::size_t w) noexcept {
        if (w >= cells_.size()) return;
        Cell& c = cells_[w];
        const std::uint64_t call = ++c.calls;
        if (call < 2 || c.stats == nullptr || (call - 2) % stride_ != 0 || c.n >= per_worker_) return;
        c.samples[c.n++] = Sample{now_ns() - t0_, c.stats->occupancy_last_items};
    }

    /// After the pool is joined: every sample, as (worker, sample), by time.
    struct Point {
        std::size_t worker;
        Sample s;
    };
    [[nodiscard]] std::vector<Point> points() const;

private:
    struct alignas(spill::cache_line) Cell {  // one worker's: its own line(s)
        const spill::WorkerStats* stats = nullptr;
        std::uint64_t calls = 0;
        std::size_t n = 0;
        std::array<Sample, max_points> samples{};
    };
    std::vector<Cell> cells_;
    std::size_t per_worker_ = max_points;
    std::uint64_t stride_ = 1;
    std::uint64_t t0_ = 0;
};

/// Times the empty polls of a thread that loops `if (collect() == 0) yield()`:
/// one streak of empty polls is one wait, its duration spin time (such a
/// thread never blocks on a futex: blocks and block_ns stay 0).
/// Loop: start_poll(); collect() moved items ? busy() : empty(); and close()
/// after the loop. A streak runs from the start of its first empty poll to
/// the start of the poll that found items.
struct alignas(spill::cache_line) IdlePoll {  // one polling thread's: its own line
    spill::WaitStats st;
    std::uint64_t since = 0;   // start of the current streak of empty polls (0: none)
    std::uint64_t poll_t = 0;  // start of the current poll
    void start_poll() noexcept { poll_t = now_ns(); }
    void empty() noexcept {
        ++st.polls;
        if (since == 0) {
            since = poll_t;
            ++st.waits;
        }
    }
    void busy() noexcept {
        if (since != 0) st.spin_ns += poll_t - since;
        since = 0;
    }
    void close() noexcept {
        if (since != 0) st.spin_ns += now_ns() - since;
        since = 0;
    }
};

static_assert(static_cast<int>(spill::PollMode::pause) == 0 && static_cast<int>(spill::PollMode::pause_then_yield) == 1 &&
                  static_cast<int>(spill::PollMode::yield) == 2,
              "RoleWait::poll_modes is indexed by PollMode");

/// Wait counters of one role, summed over its threads.
struct RoleWait {
    std::uint32_t threads = 0;
    spill::WaitStats w;
    /// The role's pool threads by how their waits poll (spill::PollMode:
    /// pause, pause_then_yield, yield), as their pool decided at its first
    /// dispatch. Threads that are not a pool's (harness pollers) are not in it.
    std::array<std::uint32_t, 3> poll_modes{};
    void place(const spill::WaitPlacement& p) noexcept { ++poll_modes[static_cast<std::size_t>(p.poll)]; }
    void add(const spill::WaitStats& s, std::uint32_t n_threads = 1) noexcept {
        threads += n_threads;
        w.waits += s.waits;
        w.polls += s.polls;
        w.blocks += s.blocks;
        w.spin_ns += s.spin_ns;
        w.block_ns += s.block_ns;
        w.wakes += s.wakes;
        w.wake_ns += s.wake_ns;
    }
};

/// What one repetition of a ring-handing scenario measured.
struct HandoffRecord {
    std::uint64_t ring_capacity = 0;
    /// How many rounds the pool's dispatch let run ahead (WorkerPool::rounds_ahead();
    /// the last pool added: a pipeline's stage 2, which the same owner paces alike).
    std::uint64_t rounds_ahead = 0;
    // Collector side (spill::HandoffStats summed over the slots).
    std::uint64_t takes = 0;
    std::uint64_t taken_items = 0;
    std::uint64_t max_take = 0;
    std::uint64_t streamed_takes = 0;  // batches their worker wrote streamed to memory (spill::HandoffStats::streamed)
    std::array<std::uint64_t, 65> take_by_log2{};
    // Worker side (spill::WorkerStats summed over the workers).
    std::uint64_t publishes = 0;
    std::uint64_t recycle_hits = 0;
    std::uint64_t merge_backs = 0;
    std::uint64_t occupancy_sum_items = 0;
    std::uint64_t occupancy_max_items = 0;
    std::vector<OccupancyProbe::Point> occupancy;
    // Waits by role: producer, merger, consumer (index of spill::measure::Role).
    std::array<RoleWait, 3> wait{};
    double wall_seconds = 0;

    /// Adds a pool's worker and collector counters (the pool is joined and
    /// its collectors have stopped).
    template <class Pool>
    void add_pool(const Pool& pool) {
        ring_capacity = Pool::ring_capacity();
        rounds_ahead = pool.rounds_ahead();
        for (std::size_t w = 0; w < pool.workers(); ++w) {
            const spill::WorkerStats& s = pool.stats(w);
            publishes += s.publishes;
            recycle_hits += s.recycle_hits;
            merge_backs += s.merge_backs;
            occupancy_sum_items += s.occupancy_sum_items;
            occupancy_max_items = std::max(occupancy_max_items, s.occupancy_max_items);
            const spill::HandoffStats& h = pool.handoff_stats(w);
            takes += h.takes;
            taken_items += h.items;
            max_take = std::max(max_take, h.max_items);
            streamed_takes += h.streamed;
            for (std::size_t b = 0; b < h.by_log2.size(); ++b) take_by_log2[b] += h.by_log2[b];
        }
    }
    /// Adds the waits of a pool's workers to `role` (0 producer, 1 merger, 2 consumer).
    template <class Pool>
    void add_worker_waits(const Pool& pool, std::size_t role) {
        for (std::size_t w = 0; w < pool.workers(); ++w) {
            wait[role].add(pool.stats(w).wait);
            wait[role].place(pool.placement(w));
        }
    }
};

}  // namespace spill::bench

// harness/src/latency.hpp: what the latency scenarios (scenarios_latency.cpp)
// measure with: the clock, the timestamped item, the consumer-side spout that
// records per-item and per-handoff latency before handing each item to the
// checking Verifier, and the per-repetition result.
//
// Hot path: latency_clock_ns, LatencySink::send and LatencyHistogram::record
// are inline and allocation-free; every histogram and table is allocated
// before the measured phase.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "histogram.hpp"
#include "scenario.hpp"

namespace spill::bench {

/// The clock of every latency stamp: clock_gettime(CLOCK_MONOTONIC).
///
/// Why not rdtsc: a stamp taken on a producer's CPU is subtracted from one
/// read on the consumer's CPU, so the clock must agree across CPUs.
/// CLOCK_MONOTONIC does by contract, counts nanoseconds (no calibration), and
/// stays correct when the kernel stops trusting the TSC (VM migration,
/// unsynchronised sockets: it switches clocksource) where a raw rdtsc would
/// silently add cross-CPU skew. With clocksource tsc it is a vDSO call, no
/// syscall: about 20 ns on the 2-vCPU development VM (the floors' `clock_read_ns`),
/// small next to the microseconds measured, and paid alike by closed and
/// open loop.
[[nodiscard]] inline std::uint64_t latency_clock_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

/// Waits until `due_ns` (latency_clock_ns time) and returns the time read
/// then. Sleeps while the due time is more than 200 us away (a paced producer
/// leaves its core to the others), then spins the last stretch.
inline std::uint64_t wait_until_ns(std::uint64_t due_ns) noexcept {
    std::uint64_t now = latency_clock_ns();
    if (now >= due_ns) return now;
    if (due_ns - now > 200000) block_ns(due_ns - now - 100000);
    while ((now = latency_clock_ns()) < due_ns) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    return now;
}

/// An Item plus the time its latency is measured from: the push time in the
/// closed loop, the intended send time in the open loop.
struct TimedItem {
    std::uint32_t producer = 0;
    std::uint32_t round = 0;  // 1-based
    std::uint64_t seq = 0;    // dense per producer across rounds
    std::uint64_t stamp_ns = 0;
};
static_assert(sizeof(TimedItem) == 24);

using LatencyHistogram = spill::measure::LatencyHistogram;

/// One repetition's latencies (merged over threads after the measured phase).
struct LatencyResult {
    bool open_loop = false;
    std::uint64_t target_items_per_second = 0;            // open loop only
    std::optional<double> achieved_items_per_second;      // see SCHEMA.md
    LatencyHistogram item;      // consumer receipt - stamp, every delivered item
    LatencyHistogram handoff;   // consumer receipt of a (worker, round) batch's first item - end of that task
    LatencyHistogram send_lag;  // open loop: actual push - intended send time (the pacer's own lateness)
};

/// The consumer end of the latency scenarios: a spout of TimedItem. Reads
/// the clock once per item, records its latency, records a handoff latency
/// for the first item of each (worker, round) batch, applies the injected
/// stall, then passes the Item to the Verifier (consumer delay, checks,
/// injected faults). Written by the one consumer thread only.
class LatencySink {
public:
    struct Config {
        std::size_t producers = 1;
        std::uint64_t rounds = 1;
        const std::uint64_t* task_end_ns = nullptr;  // [producer * rounds + round - 1], written by the worker before it publishes
        std::uint64_t stall_at = 0;                  // stall once on receiving this many items (0: never)
        std::uint64_t stall_ns = 0;
    };
    LatencySink(Verifier& v, LatencyResult& out, const Config& cfg)
        : v_(&v), out_(&out), cfg_(cfg), last_round_(cfg.producers, 0) {}

    void send(TimedItem&& x) { deliver(x); }
    void send(const TimedItem& x) { deliver(x); }
    void flush() noexcept {}

    [[nodiscard]] std::uint64_t received() const noexcept { return received_; }

private:
    void deliver(const TimedItem& x) {
        const std::uint64_t now = latency_clock_ns();
        out_->item.record(now > x.stamp_ns ? now - x.stamp_ns : 0);
        // Items of one producer arrive in round order (FIFO), so a new round
        // number is the first item of that round's batch. The worker wrote
        // its task-end time before publishing the batch, and the collector
        // took the batch (release/acquire in the pool's handoff) before this
        // item reached us: the read is ordered after the write.
        if (x.producer < last_round_.size() && x.round != last_round_[x.producer] && x.round >= 1 && x.round <= cfg_.rounds) {
            last_round_[x.producer] = x.round;
            const std::uint64_t end = cfg_.task_end_ns[static_cast<std::size_t>(x.producer * cfg_.rounds + (x.round - 1))];
            out_->handoff.record(now > end ? now - end : 0);
        }
        if (++received_ == cfg_.stall_at) [[unlikely]]
            block_ns(cfg_.stall_ns);
        v_->send(Item{x.producer, x.round, x.seq});
    }

    Verifier* v_;
    LatencyResult* out_;
    Config cfg_;
    std::vector<std::uint32_t> last_round_;
    std::uint64_t received_ = 0;
};

/// Counts what a ring of TimedItem evicted (the OverflowSpout of Item, for TimedItem).
class TimedOverflowSpout {
public:
    explicit TimedOverflowSpout(OverflowCount& c) noexcept : c_(&c) {}
    void send(TimedItem&&) noexcept { ++c_->n; }
    void send(const TimedItem&) noexcept { ++c_->n; }
    void flush() noexcept {}

private:
    OverflowCount* c_;
};

}  // namespace spill::bench

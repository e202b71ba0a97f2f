// harness/micro/common.hpp: what every spill-micro translation unit shares:
// items, the checking sink every fan-in contender delivers into, counters,
// padded words for the reference loops, a busy neighbour thread, and the
// consumer-alone placement of the fan-ins.
//
// Every benchmark checks its own result and calls state.SkipWithError when a
// check fails, so a fast wrong answer never counts. "Better" is stated at
// each registration: items_per_second higher; real_time (a round trip)
// lower; the counters allocs_per_round and cpu_fraction lower.
#pragma once

#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <thread>
#include <utility>

#include <sched.h>

#include <spill/detail/config.hpp>

#include "alloc_counter.hpp"

namespace spill::micro {

using benchmark::State;

/// Heap allocations so far (the project's counting operator new, linked in).
inline std::uint64_t allocations() noexcept { return spill::test::allocations_total(); }

inline double as_double(std::uint64_t v) noexcept { return static_cast<double>(v); }

inline void set_items(State& state, std::uint64_t per_iteration) {
    state.SetItemsProcessed(static_cast<std::int64_t>(static_cast<std::uint64_t>(state.iterations()) * per_iteration));
}

/// `n` events over `rounds` rounds, as a per-round counter value (0 without rounds).
inline double events_per_round(std::uint64_t n, std::uint64_t rounds) noexcept {
    return rounds == 0 ? 0.0 : as_double(n) / as_double(rounds);
}

/// Allocations per round over the timed loop, reported as a counter
/// (lower is better; the target is 0).
inline void report_allocs(State& state, std::uint64_t before, std::uint64_t rounds) {
    state.counters["allocs_per_round"] = events_per_round(allocations() - before, rounds);
}

/// Waits that ended parked on the futex, per round, of the owner and of
/// worker 0 since the counts `owner_before` and `worker_before` (lower is
/// better: a wake-up costs microseconds, a busy round far less).
template <class Pool>
void report_parks(State& state, const Pool& pool, std::uint64_t owner_before, std::uint64_t worker_before, std::uint64_t rounds) {
    state.counters["owner_parks_per_round"] = events_per_round(pool.owner_wait().blocks - owner_before, rounds);
    state.counters["worker_parks_per_round"] = events_per_round(pool.stats(0).wait.blocks - worker_before, rounds);
}

/// sum of first .. first+n-1, exact in unsigned wrap-around arithmetic.
inline std::uint64_t range_sum(std::uint64_t first, std::uint64_t n) noexcept {
    return n % 2 == 0 ? (n / 2) * (2 * first + n - 1) : n * ((2 * first + n - 1) / 2);
}

/// A trivially copyable item of B bytes; word 0 carries the sequence number,
/// the other words a copy of it so that the whole item is written.
template <std::size_t B>
struct Item {
    static_assert(B % 8 == 0 && B >= 8);
    std::array<std::uint64_t, B / 8> w;
    static Item make(std::uint64_t x) noexcept {
        Item it;
        it.w.fill(x);
        return it;
    }
    [[nodiscard]] std::uint64_t key() const noexcept { return w[0]; }
};

/// Items pushed per benchmark iteration in the single-thread loops: large
/// enough that the benchmark loop's own overhead is negligible.
inline constexpr std::size_t kBatch = 1024;
/// A key no benchmark produces (marks "nothing popped").
inline constexpr std::uint64_t kNone = ~std::uint64_t{0};

// ---- fan-in keys and the checking sink --------------------------------------------

/// A fan-in key: producer p's i-th item is (p << 48) | i, so a key says who
/// made it and where it sits in that producer's stream.
inline constexpr unsigned kProducerShift = 48;
inline constexpr std::size_t kMaxProducers = 64;
inline constexpr std::uint64_t key_of(std::uint64_t producer, std::uint64_t i) noexcept { return (producer << kProducerShift) | i; }

/// Sum of producer p's first n keys.
inline std::uint64_t key_sum(std::uint64_t producer, std::uint64_t n) noexcept { return range_sum(key_of(producer, 0), n); }

/// The consumer of every fan-in contender, spill's and the queues': checks
/// that every key arrives once (count and sum) and that each producer's keys
/// arrive in increasing order. It reads spans in place (`send_all`), the way
/// a consumer of a ring or a bulk dequeue reads them; a run of keys from one
/// producer, which is what a ring or an SPSC queue hands over, is checked in
/// one branch-free pass; keys of several producers mixed in one span (an
/// MPSC queue's bulk dequeue) one by one.
class CheckSink {
public:
    void send(std::uint64_t&& key) noexcept { check_one(key); }
    std::size_t send_all(std::span<std::uint64_t> keys) noexcept {
        const std::size_t n = keys.size();
        if (n == 0) return 0;
        const std::uint64_t* k = keys.data();
        // One pass, branch-free and vectorisable with plain SSE2: `differ`
        // collects bits in which a key differs from the first (a producer
        // change shows in the top 16 bits); `wrong` collects k[i] - k[i-1] - 1,
        // whose top bit is set iff some key did not exceed the one before
        // (keys stay below 2^54, so a difference never reaches 2^63).
        std::uint64_t differ = 0, wrong = 0, sum = k[0];
        for (std::size_t i = 1; i < n; ++i) {
            differ |= k[i] ^ k[0];
            wrong |= k[i] - k[i - 1] - 1;
            sum += k[i];
        }
        const std::uint64_t p = k[0] >> kProducerShift;
        if ((differ >> kProducerShift) == 0 && p < kMaxProducers) [[likely]] {
            ordered_ &= (wrong >> 63) == 0 && k[0] + 1 > last_[p] + 1;  // last_ starts at ~0: ~0 + 1 == 0
            last_[p] = k[n - 1];
            sum_ += sum;
            count_ += n;
        } else {
            for (std::uint64_t key : keys) check_one(key);  // keys of several producers (an MPSC queue's bulk dequeue)
        }
        return n;
    }
    void flush() noexcept {}
    /// Starts producer p's stream over (its next key may be anything): lets a
    /// reference loop feed the same keys again.
    void restart(std::uint64_t p) noexcept { last_[p] = ~std::uint64_t{0}; }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t sum() const noexcept { return sum_; }
    [[nodiscard]] bool ordered() const noexcept { return ordered_; }
    /// Whether exactly `per_producer` keys of each of `producers` producers arrived (sum, count, order).
    [[nodiscard]] bool complete(std::uint64_t producers, std::uint64_t per_producer) const noexcept {
        std::uint64_t want = 0;
        for (std::uint64_t p = 0; p < producers; ++p) want += key_sum(p, per_producer);
        return ordered_ && count_ == producers * per_producer && sum_ == want;
    }

private:
    void check_one(std::uint64_t k) noexcept {
        const std::uint64_t p = k >> kProducerShift;
        if (p >= kMaxProducers) {
            ordered_ = false;
            return;
        }
        ordered_ &= k + 1 > last_[p] + 1;  // ~0 + 1 == 0: nothing seen yet
        last_[p] = k;
        sum_ += k;
        ++count_;
    }
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    bool ordered_ = true;
    std::array<std::uint64_t, kMaxProducers> last_ = filled();
    static constexpr std::array<std::uint64_t, kMaxProducers> filled() {
        std::array<std::uint64_t, kMaxProducers> a{};
        a.fill(~std::uint64_t{0});
        return a;
    }
};

/// Counts and sums what a pool's rings evict (an overflow spout).
struct OverflowSum {
    std::uint64_t count = 0;
    std::uint64_t sum = 0;
    void send(std::uint64_t&& x) noexcept {
        sum += x;
        ++count;
    }
    std::size_t send_all(std::span<std::uint64_t> xs) noexcept {
        for (std::uint64_t x : xs) sum += x;
        count += xs.size();
        return xs.size();
    }
    void flush() noexcept {}
};

// ---- the reference loops' padded words ------------------------------------------

struct alignas(spill::cache_line) PaddedWord {
    std::atomic<std::uint64_t> v{0};
};
struct alignas(spill::cache_line) PaddedWord32 {
    std::atomic<std::uint32_t> v{0};
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
};
inline constexpr std::uint64_t kStop = ~std::uint64_t{0};

// ---- a busy neighbour -------------------------------------------------------------

/// Another CPU-bound thread on the machine (what a shared host has), for the
/// contended benchmarks: it spins on arithmetic until destroyed, unpinned,
/// like another process would.
class BusyNeighbour {
public:
    BusyNeighbour() : thread_([this] {
        std::uint64_t x = 1;
        // relaxed: a stop flag only; nothing is published through it
        while (!stop_.load(std::memory_order_relaxed)) {
            for (int i = 0; i < 1024; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
            benchmark::DoNotOptimize(x);
        }
    }) {}
    ~BusyNeighbour() {
        stop_.store(true, std::memory_order_relaxed);
        thread_.join();
    }
    BusyNeighbour(const BusyNeighbour&) = delete;
    BusyNeighbour& operator=(const BusyNeighbour&) = delete;

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// ---- placement ---------------------------------------------------------------------

/// Where a fan-in's threads run. `free`: wherever the scheduler puts them
/// (the benchmark's name says nothing). `consumer_alone`, for fan-ins of two
/// or more producers (`/consumer=alone` in the name): the consumer is
/// pinned to one CPU of the process's affinity mask and every producer to
/// the others, the placement a thread-per-core deployment gives its one
/// serial stage. `consumer_with_producer`, for the 1 -> 1 fan-in beside a
/// busy neighbour (`/consumer=with_producer`): the consumer and the
/// producer pinned to one CPU, which they take turns on, and the
/// neighbour left to the scheduler, which then tends to run it on another
/// CPU; a pipeline that hands work over in large rounds pays a thread
/// switch per round there instead of sharing both CPUs with the neighbour.
/// Unpinned, the scheduler decides which threads share a CPU. Every
/// contender runs each placement its shape has, and each is compared at
/// its best.
enum class Placement { free, consumer_alone, consumer_with_producer };

/// A placement other than `free`, for the thread that consumes:
/// construction pins it to the first CPU of its mask, and each producer
/// calls pin_producer() to take the other CPUs (consumer_alone) or the
/// consumer's one (consumer_with_producer); destruction restores the
/// consumer's mask. Absent (active() false) for `free`. A placement asked
/// for and not obtained (a mask of one CPU, a pin refused) is a failure():
/// the run must not pass for one it did not make.
class Pinning {
public:
    explicit Pinning(Placement p) noexcept : wanted_(p != Placement::free) {
        if (!wanted_ || sched_getaffinity(0, sizeof before_, &before_) != 0) return;
        CPU_ZERO(&own_);
        CPU_ZERO(&producers_);
        int others = 0;
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (!CPU_ISSET(c, &before_)) continue;
            if (CPU_COUNT(&own_) == 0) {
                CPU_SET(c, &own_);  // the first CPU for the consumer
            } else {
                ++others;
                if (p == Placement::consumer_alone) CPU_SET(c, &producers_);
            }
        }
        if (p == Placement::consumer_with_producer) producers_ = own_;
        // With one CPU in the mask neither placement differs from `free`.
        active_ = others != 0 && sched_setaffinity(0, sizeof own_, &own_) == 0;
    }
    ~Pinning() {
        if (active_) (void)sched_setaffinity(0, sizeof before_, &before_);
    }
    Pinning(const Pinning&) = delete;
    Pinning& operator=(const Pinning&) = delete;

    [[nodiscard]] bool active() const noexcept { return active_; }
    /// Pins the calling thread (a producer) to its CPUs; nothing for `free`.
    /// A refused pin is remembered for failure().
    void pin_producer() noexcept {
        // relaxed: failure() reads it after the producers' pins are ordered
        // before it (a join, or the pool's await_ready())
        if (active_ && sched_setaffinity(0, sizeof producers_, &producers_) != 0)
            producer_unpinned_.store(true, std::memory_order_relaxed);
    }
    /// Why the placement asked for does not hold, or nullptr. Call it after
    /// construction, and again once every producer has pinned itself.
    [[nodiscard]] const char* failure() const noexcept {
        if (wanted_ && !active_) return "fanin: cannot pin the consumer to one CPU of two or more";
        if (producer_unpinned_.load(std::memory_order_relaxed)) return "fanin: cannot pin a producer to the CPUs its placement gives it";
        return nullptr;
    }

    /// Whether this process can run a placement other than `free` (two CPUs or more in its mask).
    [[nodiscard]] static bool possible() noexcept {
        cpu_set_t s;
        return sched_getaffinity(0, sizeof s, &s) == 0 && CPU_COUNT(&s) >= 2;
    }

private:
    cpu_set_t before_{};
    cpu_set_t own_{};
    cpu_set_t producers_{};
    bool wanted_ = false;
    bool active_ = false;
    std::atomic<bool> producer_unpinned_{false};
};

/// The name suffix of a placement ("" for free).
inline std::string placement_suffix(Placement p) {
    switch (p) {
        case Placement::consumer_alone: return "/consumer=alone";
        case Placement::consumer_with_producer: return "/consumer=with_producer";
        case Placement::free: break;
    }
    return "";
}

/// The pinned placement a fan-in shape runs once more, besides `free`
/// (`free` when none, or when the process has a single CPU): the consumer
/// alone for two producers or more, consumer and producer together beside
/// a busy neighbour.
inline Placement pinned_placement(std::size_t producers, int neighbours) noexcept {
    if (!Pinning::possible()) return Placement::free;
    if (producers >= 2 && neighbours == 0) return Placement::consumer_alone;
    if (producers == 1 && neighbours == 1) return Placement::consumer_with_producer;
    return Placement::free;
}

// ---- registration -----------------------------------------------------------------

/// Single-thread loops are stable (CPU time); 0.1 s per repetition is plenty.
inline constexpr double kRingMinTime = 0.1;

/// Seconds per repetition of a threaded benchmark (real time): 0.25, or
/// SPILL_MICRO_THREAD_MIN_TIME (the tuning pass of `./bench perf`, which
/// runs every configuration once to find each contender's candidates, sets 0.1).
inline double thread_min_time() {
    if (const char* s = std::getenv("SPILL_MICRO_THREAD_MIN_TIME")) {
        char* end = nullptr;
        const double v = std::strtod(s, &end);
        if (end != s && *end == '\0' && v > 0 && v < 3600) return v;
        std::fprintf(stderr, "spill-micro: SPILL_MICRO_THREAD_MIN_TIME='%s' is not a number of seconds in (0, 3600)\n", s);
        std::exit(2);
    }
    return 0.25;
}

template <class Fn>
benchmark::internal::Benchmark* threaded(const std::string& name, Fn&& fn) {
    static const double min_time = thread_min_time();
    return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))->UseRealTime()->MinTime(min_time);
}

// One per translation unit; main.cpp calls them all.
void register_ring();
void register_round_trips();
void register_fanin();
void register_baselines();

}  // namespace spill::micro

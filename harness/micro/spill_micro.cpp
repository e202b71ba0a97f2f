// harness/micro/spill_micro.cpp: Google Benchmark micro-benchmarks of the
// spill primitives, the reference loops they are judged against, and the
// baseline queues (issue 7).
//
// Every benchmark checks its own result (checksums, conservation, order) and
// calls state.SkipWithError when a check fails, so a fast wrong answer never
// counts. analysis/perf_targets.py turns a JSON run of this binary into the
// targets T1..T9 as ratios of medians measured in the same run.
//
// Names are stable: perf_targets.py looks them up. "Better" is stated in each
// registration comment: items_per_second higher is better; real_time (a round
// trip) lower is better; the counters allocs_per_round and cpu_fraction lower
// is better.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spill/spill.hpp>

#include "alloc_counter.hpp"

#if SPILL_MICRO_HAVE_BOOST_LOCKFREE
#include <boost/lockfree/spsc_queue.hpp>
#endif
#if SPILL_MICRO_HAVE_MOODYCAMEL
// The baseline's own header trips -Wnull-dereference after inlining; it is not our code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <concurrentqueue/concurrentqueue.h>
#pragma GCC diagnostic pop
#endif
#if SPILL_MICRO_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif

// ---- allocation counting ------------------------------------------------------
// The counting global operator new is the project's shared one
// (tests/support/alloc_counter.cpp, linked into this binary).
namespace {
std::uint64_t allocations() noexcept { return spill::test::allocations_total(); }
}  // namespace

namespace {

using benchmark::State;

// ---- items -------------------------------------------------------------------
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
constexpr std::size_t kBatch = 1024;
/// A key no benchmark produces (marks "nothing popped").
constexpr std::uint64_t kNone = ~std::uint64_t{0};

double as_double(std::uint64_t v) noexcept { return static_cast<double>(v); }

void set_items(State& state, std::uint64_t per_iteration) {
    state.SetItemsProcessed(static_cast<std::int64_t>(static_cast<std::uint64_t>(state.iterations()) * per_iteration));
}

/// Allocations per round over the timed loop, reported as a counter
/// (T6: lower is better; the target is 0).
void report_allocs(State& state, std::uint64_t before, std::uint64_t rounds) {
    const std::uint64_t n = allocations() - before;
    state.counters["allocs_per_round"] = rounds == 0 ? 0.0 : as_double(n) / as_double(rounds);
}

// ---- ring push, and its references ------------------------------------------

// ring push into a full ring: every push evicts into a DropSpout. Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_push_drop(State& state) {
    using It = Item<B>;
    auto ring = std::make_unique<spill::SpillRing<It, N, spill::DropSpout>>();
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < N; ++i) ring->push(It::make(x++));
    for (auto _ : state) {
        for (std::size_t k = 0; k < kBatch; ++k) ring->push(It::make(x++));
        benchmark::ClobberMemory();
    }
    if (!ring->full() || ring->back().key() != x - 1 || ring->front().key() != x - N)
        state.SkipWithError("push_drop: ring does not hold the newest N items");
    set_items(state, kBatch);
}

// Reference (floor for push): store into a power-of-two array at pos & mask. Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_ref_masked_store(State& state) {
    using It = Item<B>;
    auto arr = std::make_unique<It[]>(N);
    std::uint64_t pos = 0;
    for (auto _ : state) {
        for (std::size_t k = 0; k < kBatch; ++k) {
            arr[pos & (N - 1)] = It::make(pos);
            ++pos;
        }
        benchmark::ClobberMemory();
    }
    if (pos != 0 && arr[(pos - 1) & (N - 1)].key() != pos - 1) state.SkipWithError("masked_store: last slot holds the wrong item");
    set_items(state, kBatch);
}

/// Sums what it receives and checks the keys arrive in increasing order.
template <class T>
struct CheckSumSpout {
    std::uint64_t count = 0;
    std::uint64_t sum = 0;
    std::uint64_t last = 0;
    bool ordered = true;
    void send(T&& item) noexcept {
        const std::uint64_t k = key_of(item);
        ordered &= count == 0 || k > last;
        last = k;
        sum += k;
        ++count;
    }
    void flush() noexcept {}
    static std::uint64_t key_of(const T& item) noexcept {
        if constexpr (std::is_same_v<T, std::uint64_t>) {
            return item;
        } else {
            return item.key();
        }
    }
};

// ring push evicting into a collecting spout (a vector). Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_push_collect(State& state) {
    using It = Item<B>;
    auto ring = std::make_unique<spill::SpillRing<It, N, spill::CollectSpout<It>>>(spill::CollectSpout<It>(kBatch));
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < N; ++i) ring->push(It::make(x++));
    bool ok = true;
    for (auto _ : state) {
        const std::uint64_t first = x - N;  // the oldest item, evicted first
        for (std::size_t k = 0; k < kBatch; ++k) ring->push(It::make(x++));
        auto& out = ring->spout().items();
        ok &= out.size() == kBatch && out.front().key() == first && out.back().key() == first + kBatch - 1;
        out.clear();  // keeps capacity
    }
    if (!ok) state.SkipWithError("push_collect: the spout did not receive the evicted items in order");
    set_items(state, kBatch);
}

// Reference: std::deque with manual eviction into a vector. Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_ref_deque_evict(State& state) {
    using It = Item<B>;
    std::deque<It> dq;
    std::vector<It> out;
    out.reserve(kBatch);
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < N; ++i) dq.push_back(It::make(x++));
    bool ok = true;
    for (auto _ : state) {
        const std::uint64_t first = x - N;
        for (std::size_t k = 0; k < kBatch; ++k) {
            if (dq.size() == N) {
                out.push_back(std::move(dq.front()));
                dq.pop_front();
            }
            dq.push_back(It::make(x++));
        }
        ok &= out.size() == kBatch && out.front().key() == first && out.back().key() == first + kBatch - 1;
        out.clear();
    }
    if (!ok) state.SkipWithError("deque_evict: the vector did not receive the evicted items in order");
    set_items(state, kBatch);
}

// push + pop pairs on a half-full ring (no eviction). Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_push_pop(State& state) {
    using It = Item<B>;
    auto ring = std::make_unique<spill::SpillRing<It, N, spill::DropSpout>>();
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < N / 2; ++i) ring->push(It::make(x++));
    std::uint64_t next = 0;
    bool ok = true;
    for (auto _ : state) {
        for (std::size_t k = 0; k < kBatch; ++k) {
            ring->push(It::make(x++));
            ok &= ring->pop().value_or(It::make(kNone)).key() == next;
            ++next;
        }
    }
    if (!ok) state.SkipWithError("push_pop: pop returned the wrong item");
    set_items(state, kBatch);
}

// fill kBatch items then drain them into a checksum spout. Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_fill_drain(State& state) {
    using It = Item<B>;
    constexpr std::size_t per = kBatch < N ? kBatch : N;
    auto ring = std::make_unique<spill::SpillRing<It, N, spill::DropSpout>>();
    CheckSumSpout<It> sink;
    std::uint64_t x = 0;
    std::uint64_t expect = 0;
    for (auto _ : state) {
        for (std::size_t k = 0; k < per; ++k) {
            expect += x;
            ring->push(It::make(x++));
        }
        (void)ring->drain(sink);
    }
    if (sink.count != x || sink.sum != expect || !sink.ordered) state.SkipWithError("fill_drain: checksum mismatch");
    set_items(state, per);
}

// ---- thread round trips -------------------------------------------------------

struct alignas(spill::cache_line) PaddedWord {
    std::atomic<std::uint64_t> v{0};
};
constexpr std::uint64_t kStop = ~std::uint64_t{0};

// Reference (floor for a round trip): two threads bounce a counter through two
// cache lines. Pause = true puts a spin-wait hint in the polling loops (on
// many cores it is faster: fewer requests steal the line from the writer);
// both variants run and the targets use whichever is faster. Better: lower real_time.
template <bool Pause>
void BM_ref_pingpong(State& state) {
    PaddedWord ping;
    PaddedWord pong;
    std::thread partner([&] {
        std::uint64_t seen = 0;
        for (;;) {
            std::uint64_t v = 0;
            // (B) acquire pairs with (A): the value is all that is exchanged.
            while ((v = ping.v.load(std::memory_order_acquire)) == seen) {  // (B) pairs with (A)
                if constexpr (Pause) spill::detail::cpu_relax();
            }
            if (v == kStop) return;
            seen = v;
            pong.v.store(v, std::memory_order_release);  // (C) pairs with (D)
        }
    });
    std::uint64_t r = 0;
    bool ok = true;
    for (auto _ : state) {
        ++r;
        ping.v.store(r, std::memory_order_release);  // (A)
        std::uint64_t got;
        while ((got = pong.v.load(std::memory_order_acquire)) < r) {  // (D) pairs with (C)
            if constexpr (Pause) spill::detail::cpu_relax();
        }
        ok &= got == r;
    }
    ping.v.store(kStop, std::memory_order_release);  // (A) the partner's last read
    partner.join();
    if (!ok || r != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("pingpong: lost a round");
}

/// The trivial task: does nothing. Rounds are checked through pool.stats().
struct TrivialTask {
    template <class Ring>
    void operator()(Ring&, std::size_t, const std::uint64_t&) const noexcept {}
};

// Reference (floor for a round trip that needs a thread switch, as it does
// when threads outnumber cores): two threads pinned to one core hand a
// counter back and forth, each yielding the core until the other answered.
// Better: lower real_time.
void BM_ref_switch_pingpong(State& state) {
    cpu_set_t one;
    CPU_ZERO(&one);
    const int here = sched_getcpu();
    CPU_SET(here < 0 ? 0 : here, &one);
    cpu_set_t before;
    if (sched_getaffinity(0, sizeof before, &before) != 0 || sched_setaffinity(0, sizeof one, &one) != 0) {
        state.SkipWithError("switch_pingpong: cannot pin to one core");
        return;
    }
    PaddedWord ping;
    PaddedWord pong;
    std::thread partner([&] {  // inherits the one-core affinity
        std::uint64_t seen = 0;
        for (;;) {
            std::uint64_t v;
            while ((v = ping.v.load(std::memory_order_acquire)) == seen) std::this_thread::yield();  // (B) pairs with (A)
            if (v == kStop) return;
            seen = v;
            pong.v.store(v, std::memory_order_release);  // (C) pairs with (D)
        }
    });
    std::uint64_t r = 0;
    bool ok = true;
    for (auto _ : state) {
        ++r;
        ping.v.store(r, std::memory_order_release);  // (A)
        std::uint64_t got;
        while ((got = pong.v.load(std::memory_order_acquire)) < r) std::this_thread::yield();  // (D) pairs with (C)
        ok &= got == r;
    }
    ping.v.store(kStop, std::memory_order_release);  // (A) the partner's last read
    partner.join();
    (void)sched_setaffinity(0, sizeof before, &before);
    if (!ok) state.SkipWithError("switch_pingpong: lost a round");
}

/// Blocks on a futex word until it differs from `old` (no spinning at all).
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t old) noexcept {
    // acquire: pairs with the release store before futex_wake (the value is the message)
    while (word.load(std::memory_order_acquire) == old)
        syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, old, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>& word) noexcept {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

struct alignas(spill::cache_line) PaddedWord32 {
    std::atomic<std::uint32_t> v{0};
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
};

// Reference (floor for a round trip through the kernel, as an oversubscribed
// thread must make): two threads that always block on a futex and always wake
// the other. Better: lower real_time.
void BM_ref_pingpong_futex(State& state) {
    PaddedWord32 ping;
    PaddedWord32 pong;
    constexpr std::uint32_t stop = ~std::uint32_t{0};
    std::thread partner([&] {
        std::uint32_t seen = 0;
        for (;;) {
            futex_wait(ping.v, seen);
            const std::uint32_t v = ping.v.load(std::memory_order_acquire);  // (B) pairs with (A)
            if (v == stop) return;
            seen = v;
            pong.v.store(v, std::memory_order_release);  // (C) pairs with (D)
            futex_wake(pong.v);
        }
    });
    std::uint32_t r = 0;
    bool ok = true;
    for (auto _ : state) {
        const std::uint32_t before = r++;
        if (r == stop) r = 1;  // wrap without ever sending `stop` during the loop
        ping.v.store(r, std::memory_order_release);  // (A)
        futex_wake(ping.v);
        futex_wait(pong.v, before);  // (D)
        ok &= pong.v.load(std::memory_order_acquire) == r;  // (D) pairs with (C)
    }
    ping.v.store(stop, std::memory_order_release);  // (A) the partner's last read
    futex_wake(ping.v);
    partner.join();
    if (!ok) state.SkipWithError("pingpong_futex: lost a round");
}

// dispatch -> join round trip with W workers. SpinNs = 0 keeps the pool's
// default spin budget. Better: lower real_time.
template <std::size_t W, std::uint32_t SpinNs = 0>
void BM_round_trip(State& state) {
    auto builder = spill::pool<std::uint64_t, 64>(W);
    if constexpr (SpinNs != 0) builder.spin_limit(std::chrono::nanoseconds(SpinNs));
    auto pool = builder.spawn<std::uint64_t>(TrivialTask{});
    for (std::uint64_t i = 0; i < 64; ++i) {  // warm-up: threads running, args storage allocated
        pool.dispatch(i);
        pool.join();
    }
    const std::uint64_t rounds_before = pool.stats(0).rounds;
    const std::uint64_t a0 = allocations();
    std::uint64_t r = 0;
    for (auto _ : state) {
        pool.dispatch(r++);
        pool.join();
    }
    report_allocs(state, a0, r);
    bool ok = true;
    for (std::size_t w = 0; w < W; ++w) ok &= pool.stats(w).rounds == pool.stats(0).rounds;
    if (!ok || pool.stats(0).rounds - rounds_before != r) state.SkipWithError("round_trip: a worker missed a round");
}

// ---- handoff: publish -> collect -------------------------------------------------

/// Pushes `n` keys starting at args * n.
struct PushRange {
    std::uint64_t per_round;
    template <class Ring>
    void operator()(Ring& ring, std::size_t, const std::uint64_t& round) const {
        const std::uint64_t base = round * per_round;
        auto w = ring.writer();
        for (std::uint64_t i = 0; i < per_round; ++i) w.push(base + i);
    }
};

/// Counts and sums what a pool's rings evict (the overflow spout).
struct OverflowSum {
    std::uint64_t count = 0;
    std::uint64_t sum = 0;
    void send(std::uint64_t&& x) noexcept {
        sum += x;
        ++count;
    }
    void flush() noexcept {}
};

std::uint64_t range_sum(std::uint64_t first, std::uint64_t n) noexcept {
    // sum of first .. first+n-1, exact in unsigned wrap-around arithmetic
    return n % 2 == 0 ? (n / 2) * (2 * first + n - 1) : n * ((2 * first + n - 1) / 2);
}

// a 1-worker pool: dispatch a round of 64 items, collect until they arrived. Better: higher items/s.
void BM_handoff_publish_collect(State& state) {
    constexpr std::uint64_t per = 64;
    auto pool = spill::pool<std::uint64_t, 1024>(1).overflow([](std::size_t) { return OverflowSum{}; }).spawn<std::uint64_t>(PushRange{per});
    CheckSumSpout<std::uint64_t> sink;
    std::uint64_t r = 0;
    auto one_round = [&] {
        pool.dispatch(r++);
        const std::uint64_t want = r * per;
        while (sink.count + pool.overflow(0).count < want) {
            if (pool.collect(sink) == 0) spill::detail::cpu_relax();
            if (sink.count >= want) break;
        }
        pool.join();
    };
    for (int i = 0; i < 64; ++i) one_round();
    const std::uint64_t r0 = r;
    const std::uint64_t a0 = allocations();
    for (auto _ : state) one_round();
    report_allocs(state, a0, r - r0);
    pool.join();
    (void)pool.collect(sink);
    const std::uint64_t produced = r * per;
    if (sink.count + pool.overflow(0).count != produced || sink.sum + pool.overflow(0).sum != range_sum(0, produced) || !sink.ordered)
        state.SkipWithError("handoff: produced != delivered + overflowed");
    set_items(state, per);
}

// ---- sequenced submit ------------------------------------------------------------

// SequencedSpout::submit of 16-item batches, in order or swapped in pairs. Better: higher items/s.
template <bool InOrder>
void BM_seq_submit(State& state) {
    constexpr std::size_t per = 16;
    spill::SequencedSpout<std::uint64_t, CheckSumSpout<std::uint64_t>> seq{CheckSumSpout<std::uint64_t>{}, 64, per};
    std::array<std::uint64_t, per> a{};
    std::array<std::uint64_t, per> b{};
    std::uint64_t s = 0;
    auto fill = [](std::array<std::uint64_t, per>& v, std::uint64_t batch) {
        for (std::size_t i = 0; i < per; ++i) v[i] = batch * per + i;
    };
    auto two = [&] {
        fill(a, s);
        fill(b, s + 1);
        if constexpr (InOrder) {
            seq.submit(s, std::span(a));
            seq.submit(s + 1, std::span(b));
        } else {
            seq.submit(s + 1, std::span(b));  // early: waits in the window
            seq.submit(s, std::span(a));      // releases both
        }
        s += 2;
    };
    for (int i = 0; i < 64; ++i) two();  // warm-up: window vectors reach their size
    const std::uint64_t a0 = allocations();
    for (auto _ : state) two();
    report_allocs(state, a0, static_cast<std::uint64_t>(state.iterations()));
    const auto& sink = seq.inner();
    if (sink.count != s * per || !sink.ordered || sink.sum != range_sum(0, s * per)) state.SkipWithError("seq_submit: out of order or lost items");
    set_items(state, 2 * per);
}

// ---- fan-in: 1 producer -> 1 consumer, 8-byte items ------------------------------

constexpr std::uint64_t kFanRound = 512;  // items per round (half the ring: a merge back never evicts)

// Round = items per round (at most half the ring, so one merge back never
// evicts); the targets use kFanRound, smaller rounds are for comparison.
template <bool Sequenced, std::uint64_t Round = kFanRound>
void BM_fanin_spill(State& state) {
    static_assert(Round <= 512);
    auto pool = spill::pool<std::uint64_t, 1024>(1).overflow([](std::size_t) { return OverflowSum{}; }).template spawn<std::uint64_t>(PushRange{Round});
    auto run = [&](auto& fan, auto sink_of) {
        std::uint64_t r = 0;
        for (int i = 0; i < 16; ++i) {
            pool.dispatch(r++);
            (void)fan.collect();
        }
        const std::uint64_t r0 = r;
        const std::uint64_t a0 = allocations();
        for (auto _ : state) {
            pool.dispatch(r++);  // waits for the previous round, then starts this one
            (void)fan.collect(); // drains while the worker produces
        }
        pool.join();
        fan.flush();
        report_allocs(state, a0, r - r0);  // after join: the worker's allocations (none expected) are visible
        // Waits that ended on the futex (a wake-up costs microseconds): lower is better.
        state.counters["owner_blocks_per_round"] = as_double(pool.owner_wait().blocks) / as_double(r);
        state.counters["worker_blocks_per_round"] = as_double(pool.stats(0).wait.blocks) / as_double(r);
        const auto& sink = sink_of(fan);
        const auto& ov = pool.overflow(0);
        const std::uint64_t produced = r * Round;
        state.counters["overflowed"] = as_double(ov.count);
        if (sink.count + ov.count != produced || sink.sum + ov.sum != range_sum(0, produced) || !sink.ordered)
            state.SkipWithError("fanin: produced != delivered + overflowed, or out of order");
    };
    if constexpr (Sequenced) {
        using Seq = spill::SequencedSpout<std::uint64_t, CheckSumSpout<std::uint64_t>>;
        auto fan = pool.sequenced_fan_in(Seq{CheckSumSpout<std::uint64_t>{}, 64, 1024});
        run(fan, [](auto& f) -> const CheckSumSpout<std::uint64_t>& { return f.inner().inner(); });
    } else {
        auto fan = pool.fan_in(CheckSumSpout<std::uint64_t>{});
        run(fan, [](auto& f) -> const CheckSumSpout<std::uint64_t>& { return f.inner(); });
    }
    set_items(state, Round);
}

// Reference (floor for any consumer of the fan-in comparison): one thread
// hands kFanRound keys from an array in its own cache to the CheckSumSpout
// every fan-in benchmark delivers into. Every contender, spill or baseline,
// pays at least this per item on the consumer side, so no fan-in can beat
// this rate. Better: higher items/s.
void BM_ref_checksum_sink(State& state) {
    std::array<std::uint64_t, kFanRound> keys{};
    CheckSumSpout<std::uint64_t> sink;
    std::uint64_t next = 0;
    for (auto _ : state) {
        for (std::uint64_t k = 0; k < kFanRound; ++k) keys[k] = next + k;
        benchmark::DoNotOptimize(keys.data());
        for (std::uint64_t k = 0; k < kFanRound; ++k) sink.send(std::move(keys[k]));
        next += kFanRound;
    }
    if (!sink.ordered || sink.count != next || sink.sum != range_sum(0, next))
        state.SkipWithError("checksum_sink: the spout saw wrong keys");
    set_items(state, kFanRound);
}

// Reference (floor for a fan-in round): a producer thread fills a buffer of
// kFanRound keys (one of three, rotating like a pool worker's rings) and
// publishes it with one release store; the benchmark thread sums it, checks
// it and hands the buffer back with another. Only the keys and two flags
// cross cores, with no bookkeeping: what any per-round handoff of 8-byte
// items between two cores costs at least. Better: higher items/s.
void BM_ref_round_handoff(State& state) {
    struct alignas(spill::cache_line) Buffer {
        std::array<std::uint64_t, kFanRound> keys;
    };
    auto buffers = std::make_unique<std::array<Buffer, 3>>();
    PaddedWord ready;     // rounds published: written by the producer
    PaddedWord consumed;  // rounds summed and handed back: written by the benchmark thread
    const std::uint64_t rounds = static_cast<std::uint64_t>(state.max_iterations) + 1;
    std::thread producer([&] {
        for (std::uint64_t r = 0; r < rounds; ++r) {
            // (B) acquire pairs with (D): the buffer r % 3 was read for the last time
            // (at most two rounds in flight: one being summed, one being filled).
            while (r - consumed.v.load(std::memory_order_acquire) >= 2) spill::detail::cpu_relax();
            auto& keys = (*buffers)[r % 3].keys;
            for (std::uint64_t k = 0; k < kFanRound; ++k) keys[k] = r * kFanRound + k;
            ready.v.store(r + 1, std::memory_order_release);  // (A) publishes the keys
        }
    });
    std::uint64_t r = 0, sum = 0, expected = 0;
    for (auto _ : state) {
        while (ready.v.load(std::memory_order_acquire) <= r) spill::detail::cpu_relax();  // (C) pairs with (A)
        const auto& keys = (*buffers)[r % 3].keys;
        for (std::uint64_t k = 0; k < kFanRound; ++k) sum += keys[k];
        expected += kFanRound * (r * kFanRound) + kFanRound * (kFanRound - 1) / 2;
        ++r;
        consumed.v.store(r, std::memory_order_release);  // (D) hands the buffer back
    }
    // Let the producer finish its last round, which nobody reads.
    while (ready.v.load(std::memory_order_acquire) < rounds) {
        consumed.v.store(ready.v.load(std::memory_order_acquire), std::memory_order_release);
        spill::detail::cpu_relax();
    }
    producer.join();
    if (sum != expected) state.SkipWithError("round_handoff: the sum of the keys is wrong");
    set_items(state, kFanRound);
}

/// Runs a producer thread that hands `total` increasing keys to `push`, while/// Runs a producer thread that hands `total` increasing keys to `push`, while
/// the benchmark loop pulls kFanRound keys per iteration through `pop_some`
/// (which returns how many it delivered to the sink). Checks sum and order.
/// Backoff of the baseline loops on a full or empty queue: spin, then yield
/// the core (what a careful user of these queues does on a shared machine).
struct Backoff {
    std::uint32_t failures = 0;
    void operator()(bool progress) noexcept {
        if (progress) {
            failures = 0;
        } else if (++failures < 256) {
            spill::detail::cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
};

template <class Push, class PopSome>
void run_baseline(State& state, Push push, PopSome pop_some) {
    const std::uint64_t total = static_cast<std::uint64_t>(state.max_iterations) * kFanRound;
    std::thread producer([&] {
        Backoff backoff;
        for (std::uint64_t i = 0; i < total;) {
            const std::uint64_t n = push(i, total);
            i += n;
            backoff(n != 0);
        }
    });
    CheckSumSpout<std::uint64_t> sink;
    std::uint64_t want = 0;
    Backoff backoff;
    for (auto _ : state) {
        want += kFanRound;
        while (sink.count < want) {
            const std::uint64_t before = sink.count;
            pop_some(sink, want - sink.count);
            backoff(sink.count != before);
        }
    }
    producer.join();
    if (sink.count != total || sink.sum != range_sum(0, total) || !sink.ordered) state.SkipWithError("baseline: lost, duplicated or reordered items");
    set_items(state, kFanRound);
}

constexpr std::size_t kQueueCap = 1024;
constexpr std::size_t kBulk = 64;

#if SPILL_MICRO_HAVE_BOOST_LOCKFREE
void BM_fanin_boost_spsc(State& state) {
    auto q = std::make_unique<boost::lockfree::spsc_queue<std::uint64_t, boost::lockfree::capacity<kQueueCap>>>();
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t) -> std::uint64_t { return q->push(i) ? 1 : 0; },
        [&](CheckSumSpout<std::uint64_t>& sink, std::uint64_t) {
            std::uint64_t v = 0;
            if (q->pop(v)) sink.send(std::move(v));
        });
}

void BM_fanin_boost_spsc_bulk(State& state) {
    auto q = std::make_unique<boost::lockfree::spsc_queue<std::uint64_t, boost::lockfree::capacity<kQueueCap>>>();
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t total) -> std::uint64_t {
            std::array<std::uint64_t, kBulk> buf;
            const std::uint64_t n = std::min<std::uint64_t>(kBulk, total - i);
            for (std::uint64_t k = 0; k < n; ++k) buf[k] = i + k;
            return q->push(buf.data(), n);
        },
        [&](CheckSumSpout<std::uint64_t>& sink, std::uint64_t left) {
            std::array<std::uint64_t, kBulk> buf;
            const std::size_t got = q->pop(buf.data(), std::min<std::uint64_t>(kBulk, left));
            for (std::size_t k = 0; k < got; ++k) sink.send(std::move(buf[k]));
        });
}

#endif

#if SPILL_MICRO_HAVE_MOODYCAMEL
void BM_fanin_moodycamel_bulk(State& state) {
    moodycamel::ConcurrentQueue<std::uint64_t> q(kQueueCap);
    moodycamel::ProducerToken ptok(q);
    moodycamel::ConsumerToken ctok(q);
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t total) -> std::uint64_t {
            std::array<std::uint64_t, kBulk> buf;
            const std::uint64_t n = std::min<std::uint64_t>(kBulk, total - i);
            for (std::uint64_t k = 0; k < n; ++k) buf[k] = i + k;
            // try_ (never allocates): a full queue is backpressure, retried by the caller
            return q.try_enqueue_bulk(ptok, buf.data(), n) ? n : 0;
        },
        [&](CheckSumSpout<std::uint64_t>& sink, std::uint64_t left) {
            std::array<std::uint64_t, kBulk> buf;
            const std::size_t got = q.try_dequeue_bulk(ctok, buf.data(), std::min<std::uint64_t>(kBulk, left));
            for (std::size_t k = 0; k < got; ++k) sink.send(std::move(buf[k]));
        });
}
#endif

#if SPILL_MICRO_HAVE_TBB
void BM_fanin_tbb_bounded(State& state) {
    tbb::concurrent_bounded_queue<std::uint64_t> q;
    q.set_capacity(static_cast<std::ptrdiff_t>(kQueueCap));
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t) -> std::uint64_t { return q.try_push(i) ? 1 : 0; },
        [&](CheckSumSpout<std::uint64_t>& sink, std::uint64_t) {
            std::uint64_t v = 0;
            if (q.try_pop(v)) sink.send(std::move(v));
        });
}
#endif

void BM_fanin_mutex_deque(State& state) {
    std::mutex mu;
    std::deque<std::uint64_t> q;
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t) -> std::uint64_t {
            std::lock_guard lock(mu);
            if (q.size() >= kQueueCap) return 0;
            q.push_back(i);
            return 1;
        },
        [&](CheckSumSpout<std::uint64_t>& sink, std::uint64_t) {
            std::lock_guard lock(mu);
            if (q.empty()) return;
            std::uint64_t v = q.front();
            q.pop_front();
            sink.send(std::move(v));
        });
}

// ---- mpsm with an I/O-like sink ---------------------------------------------------

constexpr std::size_t kIoBatch = 64;
constexpr auto kIoDelay = std::chrono::microseconds(50);

/// Buffers kIoBatch items in place, then "writes" them: a blocking sleep, as a
/// write(2) to a slow device would block. Allocates nothing.
struct IoSink {
    std::array<std::uint64_t, kIoBatch> buf{};
    std::size_t fill = 0;
    std::uint64_t sum = 0;
    std::atomic<std::uint64_t>* delivered;
    void send(std::uint64_t&& x) {
        buf[fill++] = x;
        if (fill == kIoBatch) write();
    }
    void flush() {
        if (fill != 0) write();
    }
    void write() {
        std::this_thread::sleep_for(kIoDelay);
        for (std::size_t i = 0; i < fill; ++i) sum += buf[i];
        // relaxed: a progress counter for flow control; the sums are read after thread join
        delivered->fetch_add(fill, std::memory_order_relaxed);
        fill = 0;
    }
};

template <std::size_t M>
void BM_mpsm_io(State& state) {
    constexpr std::size_t W = 2;
    constexpr std::uint64_t per = 4 * kIoBatch;  // items per worker per round
    auto pool = spill::pool<std::uint64_t, 1024>(W).overflow([](std::size_t) { return OverflowSum{}; })
                    .template spawn<std::uint64_t>([](auto& ring, std::size_t w, const std::uint64_t& round) {
                        const std::uint64_t base = (round * W + w) * per;
                        for (std::uint64_t i = 0; i < per; ++i) ring.push(base + i);
                    });
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<bool> stop{false};
    auto mergers = pool.split_mergers(M, [&](std::size_t) { return IoSink{{}, 0, 0, &delivered}; });
    std::vector<std::thread> threads;
    for (auto& m : mergers) {
        threads.emplace_back([&stop, &m] {
            // acquire pairs with the release store after pool.join(): once it is
            // seen, every round is published and the last collect gets the rest
            while (!stop.load(std::memory_order_acquire)) {
                if (m.collect() == 0) std::this_thread::yield();
            }
            (void)m.collect();
            m.flush();
        });
    }
    constexpr std::uint64_t per_round = W * per;
    std::uint64_t r = 0;
    auto one_round = [&] {
        // Flow control: at most two rounds ahead of the sinks, so rings never overflow.
        // relaxed: a progress count only paces dispatch; no data is read through it
        while (r >= 2 && delivered.load(std::memory_order_relaxed) < (r - 2) * per_round) std::this_thread::yield();
        pool.dispatch(r++);
    };
    for (int i = 0; i < 4; ++i) one_round();
    const std::uint64_t r0 = r;
    const std::uint64_t a0 = allocations();
    for (auto _ : state) one_round();
    pool.join();
    stop.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();
    // Counted after the joins, so every allocation of the workers and the
    // mergers (none expected) happened-before this read.
    report_allocs(state, a0, r - r0);
    std::uint64_t sum = 0;
    for (auto& m : mergers) sum += m.inner().sum;
    std::uint64_t ov = 0;
    std::uint64_t ov_sum = 0;
    for (std::size_t w = 0; w < W; ++w) {
        ov += pool.overflow(w).count;
        ov_sum += pool.overflow(w).sum;
    }
    const std::uint64_t produced = r * per_round;
    state.counters["overflowed"] = as_double(ov);
    if (delivered.load() + ov != produced || sum + ov_sum != range_sum(0, produced)) state.SkipWithError("mpsm: produced != delivered + overflowed");
    set_items(state, per_round);
}

// ---- idle pool CPU ----------------------------------------------------------------

double process_cpu_seconds() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A 2-worker pool idles for 1 s after some work. Counter cpu_fraction: CPU time
// of the whole process (the main thread sleeps) over wall time; lower is better.
void BM_idle_pool(State& state) {
    auto pool = spill::pool<std::uint64_t, 1024>(2).spawn<std::uint64_t>(PushRange{64});
    spill::CollectSpout<std::uint64_t> out(64 * 2 * 100);
    for (std::uint64_t i = 0; i < 100; ++i) {
        pool.dispatch(i);
        (void)pool.collect(out);
    }
    pool.join();
    (void)pool.collect(out);
    double frac = 0;
    for (auto _ : state) {
        const double c0 = process_cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::seconds(1));
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        frac = (process_cpu_seconds() - c0) / wall;
    }
    state.counters["cpu_fraction"] = frac;
    if (out.size() != 64 * 2 * 100) state.SkipWithError("idle_pool: lost items in the warm-up rounds");
}

// Single-thread loops are stable (CPU time); 0.1 s per repetition is plenty.
constexpr double kRingMinTime = 0.1;
// Threaded benchmarks (real time) get more per repetition.
constexpr double kThreadMinTime = 0.25;

template <std::size_t N, std::size_t B>
void register_ring(const std::string& suffix) {
    benchmark::RegisterBenchmark(("push_drop/" + suffix).c_str(), BM_push_drop<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("push_collect/" + suffix).c_str(), BM_push_collect<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("ref_masked_store/" + suffix).c_str(), BM_ref_masked_store<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("ref_deque_evict/" + suffix).c_str(), BM_ref_deque_evict<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("push_pop/" + suffix).c_str(), BM_push_pop<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("fill_drain/" + suffix).c_str(), BM_fill_drain<N, B>)->MinTime(kRingMinTime);
}

benchmark::internal::Benchmark* threaded(const char* name, void (*fn)(State&)) {
    return benchmark::RegisterBenchmark(name, fn)->UseRealTime()->MinTime(kThreadMinTime);
}

void register_all() {
    register_ring<64, 8>("N=64/B=8");
    register_ring<64, 64>("N=64/B=64");
    register_ring<1024, 8>("N=1024/B=8");
    register_ring<1024, 64>("N=1024/B=64");
    register_ring<65536, 8>("N=65536/B=8");
    register_ring<65536, 64>("N=65536/B=64");

    threaded("ref_pingpong", BM_ref_pingpong<false>);
    threaded("ref_pingpong_pause", BM_ref_pingpong<true>);
    threaded("ref_switch_pingpong", BM_ref_switch_pingpong);
    threaded("round_trip/workers=1", BM_round_trip<1>);
    threaded("round_trip_oversubscribed/workers=2", BM_round_trip<2>);
    threaded("ref_pingpong_futex", BM_ref_pingpong_futex);
    // The same pools with a short spin budget (the pool's .spin_limit(std::chrono::nanoseconds(n)) knob): what
    // a waiting thread that hands its core over quickly costs.
    threaded("round_trip/workers=1/spin=2us", BM_round_trip<1, 2000>);
    threaded("round_trip_oversubscribed/workers=2/spin=2us", BM_round_trip<2, 2000>);
    threaded("handoff_publish_collect", BM_handoff_publish_collect);
    benchmark::RegisterBenchmark("seq_submit/in_order", BM_seq_submit<true>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark("seq_submit/out_of_order", BM_seq_submit<false>)->MinTime(kRingMinTime);

    threaded("ref_round_handoff", BM_ref_round_handoff);  // the floor of fanin/* with kFanRound-item rounds
    benchmark::RegisterBenchmark("ref_checksum_sink", BM_ref_checksum_sink)->MinTime(kRingMinTime);  // the consumer floor of fanin/*
    threaded("fanin/spill", BM_fanin_spill<false>);
    threaded("fanin/spill_sequenced", BM_fanin_spill<true>);
    threaded("fanin/spill/round=128", BM_fanin_spill<false, 128>);
    threaded("fanin/spill/round=256", BM_fanin_spill<false, 256>);
#if SPILL_MICRO_HAVE_MOODYCAMEL
    threaded("fanin/moodycamel_bulk", BM_fanin_moodycamel_bulk);
#endif
#if SPILL_MICRO_HAVE_BOOST_LOCKFREE
    threaded("fanin/boost_spsc", BM_fanin_boost_spsc);
    threaded("fanin/boost_spsc_bulk", BM_fanin_boost_spsc_bulk);
#endif
#if SPILL_MICRO_HAVE_TBB
    threaded("fanin/tbb_bounded", BM_fanin_tbb_bounded);
#endif
    threaded("fanin/mutex_deque", BM_fanin_mutex_deque);

    threaded("mpsm_io/mergers=1", BM_mpsm_io<1>);
    threaded("mpsm_io/mergers=2", BM_mpsm_io<2>);
    benchmark::RegisterBenchmark("idle_pool/1s", BM_idle_pool)->UseRealTime()->Iterations(1)->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
    {
        // The allocation counter must be live, or T6 would pass vacuously.
        const std::uint64_t before = allocations();
        std::vector<int> probe(1000);
        benchmark::DoNotOptimize(probe.data());
        if (allocations() == before) {
            std::fprintf(stderr, "spill-micro: the counting operator new is not in use; allocs_per_round would be meaningless\n");
            return 1;
        }
    }
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

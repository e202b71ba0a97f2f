// harness/micro/fanin.cpp: the TPC design on its own ground. P producers ->
// one consumer through the pool's fan-in, with rings and rounds swept, next
// to the references that bound every fan-in (targets T4, T4s, T4b, T5, T11),
// and the smaller pieces: one publish -> collect, SequencedSpout::submit,
// MPSM with an I/O-like sink (T8).
//
// Names (perf_targets.py and the report parse them):
//   fanin/spill/P=<producers>/cap=<ring>/batch=<round>/nb=<busy neighbours>
//   fanin/spill/.../nb=0/consumer=alone  P >= 2, the owner pinned to a CPU of
//                                        its own, the workers to the others
//   fanin/spill/P=1/.../nb=1/consumer=with_producer
//                                        the owner and the worker pinned to
//                                        one CPU, the neighbour unpinned
//   fanin/spill_sequenced/...            the same through SequencedFanIn
//   ref_sink/batch=<n>                   the consumer floor: the sink alone
//   ref_round_handoff/batch=<n>          a bare round handoff of keys between two
//                                        cores into the same sink, one flag each way
//   ref_round_handoff_stream/batch=<n>   the same, the keys written with
//                                        non-temporal stores (x86-64 only)
//   ref_one_core/batch=<n>               the job's work on one core: write n keys,
//                                        check them with the same sink
// The baseline queues (baselines.cpp) register the same job under
// fanin/<queue>/P=.../cap=.../batch=.../nb=..., so every contender runs the
// same stream into the same CheckSink.
#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <spill/spill.hpp>

#include "common.hpp"

namespace spill::micro {
namespace {

/// Worker w writes its keys `round * per_round ... + per_round - 1` into its
/// ring in place (SpillRing::push_n: the producer owns the ring, so a round
/// is one loop of stores).
struct PushKeys {
    std::uint64_t per_round;
    template <class Ring>
    void operator()(Ring& ring, std::size_t w, const std::uint64_t& round) const {
        const std::uint64_t first = key_of(w, round * per_round);
        ring.push_n(per_round, [first](std::size_t i) noexcept { return first + i; });
    }
};

/// Checks a fan-in run: every produced key was delivered (in per-producer
/// order) or overflowed, exactly once. Sets the counters every fan-in reports.
template <class Pool>
void check_fanin(State& state, Pool& pool, const CheckSink& sink, std::uint64_t producers, std::uint64_t per_producer,
                 std::uint64_t rounds) {
    std::uint64_t ov = 0, ov_sum = 0, want = 0;
    for (std::size_t w = 0; w < pool.workers(); ++w) {
        ov += pool.overflow(w).count;
        ov_sum += pool.overflow(w).sum;
        want += key_sum(w, per_producer);
    }
    state.counters["overflowed"] = as_double(ov);
    // Publishes that found the last batch uncollected: the worker ran ahead
    // of the collector and merged (or spilled) instead of swapping rings.
    std::uint64_t merges = 0;
    for (std::size_t w = 0; w < pool.workers(); ++w) merges += pool.stats(w).merge_backs;
    state.counters["merges_per_round"] = events_per_round(merges, rounds * pool.workers());
    // Batches the workers wrote streamed to memory (PoolBuilder::streaming),
    // as a share of all batches taken.
    std::uint64_t streamed = 0, takes = 0, trials = 0;
    for (std::size_t w = 0; w < pool.workers(); ++w) {
        streamed += pool.handoff_stats(w).streamed;
        takes += pool.handoff_stats(w).takes;
        trials += pool.handoff_stats(w).stream_trials;
    }
    state.counters["streamed_share"] = takes == 0 ? 0.0 : as_double(streamed) / as_double(takes);
    state.counters["stream_trials_per_take"] = takes == 0 ? 0.0 : as_double(trials) / as_double(takes);
    report_parks(state, pool, 0, 0, rounds);
    if (!sink.ordered() || sink.count() + ov != producers * per_producer || sink.sum() + ov_sum != want)
        state.SkipWithError("fanin: produced != delivered + overflowed, or a producer's keys out of order");
}

// P producers -> 1 consumer through the pool: each iteration dispatches a
// round of `batch` keys per producer (the pool paces it: rounds_ahead()) and
// collects while the workers produce; the consumer reads the rings in place.
// P producers, rounds of R <= N keys per producer, `nb` busy neighbours,
// threads placed by `place` (the workers are the producers, the owner the
// consumer). Better: higher items/s.
template <std::size_t N, bool Sequenced>
void BM_fanin_spill(State& state, std::size_t P, std::uint64_t R, int nb, Placement place = Placement::free,
                    spill::Streaming how = spill::Streaming::adaptive) {
    std::unique_ptr<BusyNeighbour> neighbour;
    if (nb != 0) neighbour = std::make_unique<BusyNeighbour>();
    Pinning pinning(place);  // before the pool: the owner's mask is restored after the workers are gone
    if (const char* why = pinning.failure()) {
        state.SkipWithError(why);
        return;
    }
    auto builder = spill::pool<std::uint64_t, N>(P).streaming(how).overflow([](std::size_t) { return OverflowSum{}; });
    if (pinning.active()) builder.on_worker_start([&pinning](std::size_t) { pinning.pin_producer(); });
    auto pool = builder.template spawn<std::uint64_t>(PushKeys{R});
    if (pinning.active()) {
        pool.await_ready();  // (S2): every start hook, so every pin, happened before
        if (const char* why = pinning.failure()) {
            state.SkipWithError(why);
            return;
        }
    }
    auto run = [&](auto& fan, const CheckSink& sink) {
        std::uint64_t r = 0;
        // Warm-up, about 2 M items: threads running, rings touched, the
        // waits' budgets adapted to this stream (a short tuning repetition
        // must measure the steady state, not the start).
        const std::uint64_t warm = std::max<std::uint64_t>(32, (std::uint64_t{1} << 21) / (P * R));
        for (std::uint64_t i = 0; i < warm; ++i) {
            pool.dispatch(r++);
            (void)fan.collect();
        }
        const std::uint64_t r0 = r;
        const std::uint64_t a0 = allocations();
        const std::uint64_t d0 = sink.count();
        for (auto _ : state) {
            pool.dispatch(r++);   // waits for the oldest round if rounds_ahead() are in flight, starts this one
            (void)fan.collect();  // drains the previous round while the workers produce
        }
        // Items delivered in the timed loop (the round still in flight is
        // not counted): overflowed items are not throughput.
        const std::uint64_t delivered = sink.count() - d0;
        pool.join();
        fan.flush();
        report_allocs(state, a0, r - r0);  // after join: the workers' allocations (none expected) are visible
        state.SetItemsProcessed(static_cast<std::int64_t>(delivered));  // after the count: it allocates
        check_fanin(state, pool, sink, P, r * R, r);
    };
    if constexpr (Sequenced) {
        using Seq = spill::SequencedSpout<std::uint64_t, CheckSink>;
        auto fan = pool.sequenced_fan_in(Seq{CheckSink{}, 4 * P, 0});
        run(fan, fan.inner().inner());
    } else {
        auto fan = pool.fan_in(CheckSink{});
        run(fan, fan.inner());
    }
}

// Reference (the consumer floor): the sink alone, fed `batch` keys at a time
// from a buffer in the consumer's own cache. No fan-in delivers faster than
// its consumer can check. Better: higher items/s.
void BM_ref_sink(State& state, std::size_t n) {
    std::vector<std::uint64_t> keys(n);
    for (std::size_t k = 0; k < n; ++k) keys[k] = key_of(0, k);
    CheckSink sink;
    std::uint64_t rounds = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(keys.data());
        (void)sink.send_all(std::span(keys));
        sink.restart(0);  // the same keys again next time: a new stream for producer 0
        ++rounds;
    }
    if (!sink.ordered() || sink.count() != rounds * n || sink.sum() != rounds * key_sum(0, n))
        state.SkipWithError("ref_sink: the sink saw wrong keys");
    set_items(state, n);
}

// Reference (the job's work on one core): one thread writes `batch` keys
// into a buffer, the way a worker fills its ring, and checks them with the
// same sink, round after round; no core boundary, no waiting. Every fan-in
// does at least this much CPU work per key (a core boundary only adds cache
// misses), so c CPUs' worth of it bounds any fan-in that gets c CPUs of
// time (perf_targets.py turns it into the CPU-time bound of each shape).
// Better: higher items/s.
void BM_ref_one_core(State& state, std::size_t n) {
    std::vector<std::uint64_t> keys(n);
    CheckSink sink;
    std::uint64_t next = 0;
    for (auto _ : state) {
        for (std::size_t k = 0; k < n; ++k) keys[k] = key_of(0, next + k);
        benchmark::DoNotOptimize(keys.data());  // the writes happen before the reads
        (void)sink.send_all(std::span(keys));
        next += n;
    }
    if (!sink.complete(1, next)) state.SkipWithError("one_core: the sink saw wrong keys");
    set_items(state, n);
}

// Reference (a bare round handoff of 8-byte keys between two cores into the
// same sink): a producer thread fills one of three buffers of `batch` keys
// and publishes it with one release store; the benchmark thread checks it in
// place and hands it back with another. Only the keys and two flags cross
// cores, with no bookkeeping at all: what a round costs beyond the keys
// themselves: a pool's pacing one round ahead (the producer fills round r
// while round r - 1 is checked) without the pool's bookkeeping. A pool that
// runs two rounds ahead (its choice when each of its threads has a CPU) may
// run one round further, so this does not bound it from above. Better:
// higher items/s.
//
// With Stores::streaming (ref_round_handoff_stream) the producer writes the
// keys with non-temporal stores, which go to memory instead of its own
// cache, and fences them before (A): the consumer then reads them from
// memory instead of taking each line from the producer's cache. Which way
// is faster depends on how far apart the two cores are, and on a VM that
// changes while it runs. On a 2-vCPU AMD EPYC VM on 2026-11-27
// (--benchmark_filter='ref_pingpong_pause|ref_round_handoff', three runs,
// results/experiments/streaming-stores/README.md), rounds of 4096-65536:
// while a cache-line ping-pong took about 113 ns, 1.65-2.56 G keys/s cached
// and 1.28-1.53 streamed; while it took 393 ns, 0.76-0.85 cached and
// 1.39-1.50 streamed. So the handoff floor is the faster of the two,
// measured side by side.
enum class Stores { cached, streaming };

/// Whether this build can write with non-temporal stores (x86-64: SSE2's
/// movnti, in every x86-64 CPU).
#if defined(__x86_64__)
inline constexpr bool kStreamingStores = true;
#else
inline constexpr bool kStreamingStores = false;
#endif

/// Writes keys first .. first + n - 1 to `out`, the way `stores` says. A
/// streaming write ends with a store fence: non-temporal stores are not
/// ordered with later stores, so without it the release store that
/// publishes them could become visible first.
inline void write_keys(std::uint64_t* out, std::uint64_t first, std::size_t n, Stores stores) noexcept {
#if defined(__x86_64__)
    if (stores == Stores::streaming) {
        for (std::size_t k = 0; k < n; ++k)
            __builtin_ia32_movnti64(reinterpret_cast<long long*>(out + k), static_cast<long long>(key_of(0, first + k)));
        __builtin_ia32_sfence();
        return;
    }
#endif
    for (std::size_t k = 0; k < n; ++k) out[k] = key_of(0, first + k);
}

void BM_ref_round_handoff(State& state, std::size_t n, Stores stores) {
    std::array<std::unique_ptr<std::uint64_t[]>, 3> buffers;
    for (auto& b : buffers) b = std::make_unique<std::uint64_t[]>(n);
    PaddedWord ready;     // rounds published: written by the producer
    PaddedWord consumed;  // rounds checked and handed back: written by the benchmark thread
    const std::uint64_t rounds = static_cast<std::uint64_t>(state.max_iterations) + 1;
    std::thread producer([&] {
        for (std::uint64_t r = 0; r < rounds; ++r) {
            // (B) acquire pairs with (D): buffer r % 3 was read for the last time
            // (at most two rounds in flight: one being checked, one being filled).
            while (r - consumed.v.load(std::memory_order_acquire) >= 2) spill::detail::cpu_relax();
            write_keys(buffers[r % 3].get(), r * n, n, stores);
            ready.v.store(r + 1, std::memory_order_release);  // (A) publishes the keys
        }
    });
    CheckSink sink;
    std::uint64_t r = 0;
    for (auto _ : state) {
        while (ready.v.load(std::memory_order_acquire) <= r) spill::detail::cpu_relax();  // (C) pairs with (A)
        // Ask for the round's first 4 KiB at once, as the pool's collector
        // does with each batch it takes (detail::prefetch_head says why).
        // spill-micro binaries with and without it, run alternately 9 times
        // on a 2-vCPU AMD EPYC VM (family 25) on 2026-11-27
        // (--benchmark_filter='^ref_round_handoff/', paired ratios of
        // medians): 1.07-1.21x as fast at rounds of 256-65536.
        spill::detail::prefetch_head(buffers[r % 3].get(), n * sizeof(std::uint64_t));
        (void)sink.send_all(std::span<std::uint64_t>(buffers[r % 3].get(), n));
        ++r;
        consumed.v.store(r, std::memory_order_release);  // (D) hands the buffer back
    }
    // Let the producer finish its last round, which nobody reads.
    while (ready.v.load(std::memory_order_acquire) < rounds) {
        consumed.v.store(ready.v.load(std::memory_order_acquire), std::memory_order_release);
        spill::detail::cpu_relax();
    }
    producer.join();
    if (!sink.complete(1, r * n)) state.SkipWithError("round_handoff: the sink saw wrong keys");
    set_items(state, n);
}

// ---- one publish -> collect ------------------------------------------------------

// a 1-worker pool: dispatch a round of 64 items, collect until they arrived. Better: higher items/s.
void BM_handoff_publish_collect(State& state) {
    constexpr std::uint64_t per = 64;
    auto pool = spill::pool<std::uint64_t, 1024>(1).overflow([](std::size_t) { return OverflowSum{}; }).spawn<std::uint64_t>(PushKeys{per});
    CheckSink sink;
    std::uint64_t r = 0;
    auto one_round = [&] {
        pool.dispatch(r++);
        const std::uint64_t want = r * per;
        while (sink.count() + pool.overflow(0).count < want) {
            if (pool.collect(sink) == 0) spill::detail::cpu_relax();
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
    check_fanin(state, pool, sink, 1, r * per, r);
    set_items(state, per);
}

// ---- sequenced submit ------------------------------------------------------------

// SequencedSpout::submit of 16-item batches, in order or swapped in pairs. Better: higher items/s.
template <bool InOrder>
void BM_seq_submit(State& state) {
    constexpr std::size_t per = 16;
    spill::SequencedSpout<std::uint64_t, CheckSink> seq{CheckSink{}, 64, per};
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
            (void)seq.submit(s, std::span(a));
            (void)seq.submit(s + 1, std::span(b));
        } else {
            (void)seq.submit(s + 1, std::span(b));  // early: waits in the window
            (void)seq.submit(s, std::span(a));      // releases both
        }
        s += 2;
    };
    for (int i = 0; i < 64; ++i) two();  // warm-up: window vectors reach their size
    const std::uint64_t a0 = allocations();
    for (auto _ : state) two();
    report_allocs(state, a0, static_cast<std::uint64_t>(state.iterations()));
    if (!seq.inner().complete(1, s * per)) state.SkipWithError("seq_submit: out of order or lost items");
    set_items(state, 2 * per);
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

// W = 2 workers, M mergers on caller threads whose sink blocks 50 us per 64 items. Better: higher items/s.
template <std::size_t M>
void BM_mpsm_io(State& state) {
    constexpr std::size_t W = 2;
    constexpr std::uint64_t per = 4 * kIoBatch;  // items per worker per round
    auto pool = spill::pool<std::uint64_t, 1024>(W).overflow([](std::size_t) { return OverflowSum{}; }).template spawn<std::uint64_t>(PushKeys{per});
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
    std::uint64_t ov = 0, ov_sum = 0, want = 0;
    for (std::size_t w = 0; w < W; ++w) {
        ov += pool.overflow(w).count;
        ov_sum += pool.overflow(w).sum;
        want += key_sum(w, r * per);
    }
    state.counters["overflowed"] = as_double(ov);
    if (delivered.load() + ov != r * per_round || sum + ov_sum != want) state.SkipWithError("mpsm: produced != delivered + overflowed");
    set_items(state, per_round);
}

template <std::size_t N>
void register_spill_ring(std::initializer_list<std::size_t> producers) {
    for (std::size_t p : producers) {
        for (std::uint64_t r : {N / 4, N / 2, N}) {
            for (int nb : {0, 1}) {
                if (nb == 1 && p != 1) continue;  // the contended shape is 1 -> 1
                const std::string cfg = "/P=" + std::to_string(p) + "/cap=" + std::to_string(N) + "/batch=" + std::to_string(r) +
                                        "/nb=" + std::to_string(nb);
                threaded("fanin/spill" + cfg, [=](State& s) { BM_fanin_spill<N, false>(s, p, r, nb); });
                if (p == 1 && nb == 0) threaded("fanin/spill_sequenced" + cfg, [=](State& s) { BM_fanin_spill<N, true>(s, p, r, nb); });
                if (const Placement place = pinned_placement(p, nb); place != Placement::free)
                    threaded("fanin/spill" + cfg + placement_suffix(place), [=](State& s) { BM_fanin_spill<N, false>(s, p, r, nb, place); });
            }
        }
    }
}

}  // namespace

void register_fanin() {
    register_spill_ring<1024>({1, 2, 4});
    register_spill_ring<16384>({1, 2, 4});
    register_spill_ring<65536>({1, 2, 4});
    for (std::size_t n : {256, 512, 4096, 16384, 65536}) {
        benchmark::RegisterBenchmark(("ref_sink/batch=" + std::to_string(n)).c_str(), [n](State& s) { BM_ref_sink(s, n); })
            ->MinTime(kRingMinTime);
        benchmark::RegisterBenchmark(("ref_one_core/batch=" + std::to_string(n)).c_str(), [n](State& s) { BM_ref_one_core(s, n); })
            ->MinTime(kRingMinTime);
        threaded("ref_round_handoff/batch=" + std::to_string(n), [n](State& s) { BM_ref_round_handoff(s, n, Stores::cached); });
        if (kStreamingStores)
            threaded("ref_round_handoff_stream/batch=" + std::to_string(n),
                     [n](State& s) { BM_ref_round_handoff(s, n, Stores::streaming); });
    }
    threaded("handoff_publish_collect", BM_handoff_publish_collect);
    // The 1 -> 1 fan-in with the way the worker writes its rings fixed
    // (PoolBuilder::streaming): what the pool's adaptive choice chooses from.
    if (kStreamingStores) {
        for (spill::Streaming how : {spill::Streaming::never, spill::Streaming::always}) {
            const std::string way = how == spill::Streaming::never ? "never" : "always";
            threaded("handoff_ways/stream=" + way + "/cap=1024/batch=512",
                     [how](State& s) { BM_fanin_spill<1024, false>(s, 1, 512, 0, Placement::free, how); });
            threaded("handoff_ways/stream=" + way + "/cap=65536/batch=65536",
                     [how](State& s) { BM_fanin_spill<65536, false>(s, 1, 65536, 0, Placement::free, how); });
        }
    }
    benchmark::RegisterBenchmark("seq_submit/in_order", BM_seq_submit<true>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark("seq_submit/out_of_order", BM_seq_submit<false>)->MinTime(kRingMinTime);
    threaded("mpsm_io/mergers=1", BM_mpsm_io<1>);
    threaded("mpsm_io/mergers=2", BM_mpsm_io<2>);
}

}  // namespace spill::micro

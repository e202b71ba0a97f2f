// harness/micro/roundtrip.cpp: the dispatch -> join round trip of the pool,
// the ping-pong references that bound it (targets T3, T9), and the idle
// pool's CPU use (T7).
#include <chrono>
#include <ctime>
#include <thread>

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spill/spill.hpp>

#include "common.hpp"

namespace spill::micro {
namespace {

/// Pushes `per_round` keys per round.
struct PushRange {
    std::uint64_t per_round;
    template <class Ring>
    void operator()(Ring& ring, std::size_t, const std::uint64_t& round) const {
        const std::uint64_t base = round * per_round;
        auto w = ring.writer();
        for (std::uint64_t i = 0; i < per_round; ++i) w.push(base + i);
    }
};

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
    const std::uint64_t owner_parks = pool.owner_wait().blocks;
    const std::uint64_t worker_parks = pool.stats(0).wait.blocks;
    const std::uint64_t a0 = allocations();
    std::uint64_t r = 0;
    for (auto _ : state) {
        pool.dispatch(r++);
        pool.join();
    }
    report_allocs(state, a0, r);
    // A park turns a round of a hundred nanoseconds into microseconds: what
    // a wrong guess of the wait rules costs.
    report_parks(state, pool, owner_parks, worker_parks, r);
    bool ok = true;
    for (std::size_t w = 0; w < W; ++w) ok &= pool.stats(w).rounds == pool.stats(0).rounds;
    if (!ok || pool.stats(0).rounds - rounds_before != r) state.SkipWithError("round_trip: a worker missed a round");
}

// ---- the wait rules when wake-ups outgrow the ceiling -------------------------------

/// Busy for `ns` on the calling thread (a round's work).
void work_for(std::uint64_t ns) noexcept {
    const std::uint64_t t0 = spill::detail::wait_clock_ns();
    while (spill::detail::wait_clock_ns() - t0 < ns) {
    }
}

// Two threads on CPUs of their own hand rounds back and forth through the
// pool's WaitWords, each working `work_ns` per round, both waiting with the
// pool's adaptive budget but with a forced ceiling of `ceiling_ns` (floor
// 2 us). A ceiling below twice a wake-up plus a round is what a host whose
// wake-ups turned dear does to the calibrated one: once a hiccup makes one
// side park, its partner's next wait lasts a wake-up longer, and the wait
// rules should bring both back to polling instead of parking round after
// round (detail/wait.hpp: they do not yet; the least a wait polls learns
// from timed wake-ups, but only up to half the ceiling: 1.5 and 3 us here).
// Counters: parks per round and
// the mean timed wake-up. Better: lower real_time (the floor: work_ns plus
// a ping-pong round trip).
void BM_wait_dear_wakeups(State& state, std::uint64_t ceiling_ns, std::uint64_t work_ns) {
    constexpr std::uint32_t kStop32 = ~std::uint32_t{0};  // never a round: a run is far shorter than 2^32 rounds
    Pinning apart(Placement::consumer_alone);
    if (const char* why = apart.failure()) {
        state.SkipWithError(why);
        return;
    }
    auto budget = [ceiling_ns] {
        spill::detail::SpinBudget b;
        b.floor_ns = 2'000;
        b.ceiling_ns = ceiling_ns;
        b.typical_ns = b.floor_ns / 2;
        b.place(spill::PollMode::pause);  // each thread has its CPU
        return b;
    };
    struct alignas(spill::cache_line) Line {
        spill::detail::WaitWord word;
    };
    Line go;
    Line done;
    spill::WaitStats worker_waits;
    std::thread partner([&] {
        apart.pin_producer();
        spill::detail::SpinBudget b = budget();
        std::uint32_t seen = 0;
        for (;;) {
            seen = spill::detail::await_change(go.word, seen, b, &worker_waits);  // (B) pairs with the owner's publish (A)
            if (seen == kStop32) return;
            work_for(work_ns);
            done.word.publish(seen);  // (C)
        }
    });
    spill::detail::SpinBudget b = budget();
    spill::WaitStats owner_waits;
    std::uint32_t r = 0;
    for (auto _ : state) {
        ++r;
        go.word.publish(r);  // (A)
        work_for(work_ns);
        spill::detail::await_reached(done.word, r, b, &owner_waits);  // (D) pairs with (C)
    }
    go.word.publish(kStop32);
    partner.join();  // orders worker_waits and the pin's outcome before the reads below
    if (const char* why = apart.failure()) {
        state.SkipWithError(why);
        return;
    }
    const std::uint64_t wakes = owner_waits.wakes + worker_waits.wakes;
    state.counters["parks_per_round"] = events_per_round(owner_waits.blocks + worker_waits.blocks, r);
    state.counters["wake_us"] = wakes == 0 ? 0.0 : static_cast<double>(owner_waits.wake_ns + worker_waits.wake_ns) * 1e-3 / static_cast<double>(wakes);
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


}  // namespace

void register_round_trips() {
    threaded("ref_pingpong", BM_ref_pingpong<false>);
    threaded("ref_pingpong_pause", BM_ref_pingpong<true>);
    threaded("ref_switch_pingpong", BM_ref_switch_pingpong);
    threaded("ref_pingpong_futex", BM_ref_pingpong_futex);
    threaded("round_trip/workers=1", BM_round_trip<1>);
    threaded("round_trip_oversubscribed/workers=2", BM_round_trip<2>);
    // The same pools with a short fixed spin budget (PoolBuilder::spin_limit):
    // what a waiting thread that hands its core over quickly costs.
    threaded("round_trip/workers=1/spin=2us", BM_round_trip<1, 2000>);
    threaded("round_trip_oversubscribed/workers=2/spin=2us", BM_round_trip<2, 2000>);
    if (Pinning::possible())
        for (const std::uint64_t ceiling_us : {3, 6})
            threaded("wait_dear_wakeups/ceiling=" + std::to_string(ceiling_us) + "us/round=2us",
                     [ceiling_us](State& s) { BM_wait_dear_wakeups(s, ceiling_us * 1000, 2000); });
    benchmark::RegisterBenchmark("idle_pool/1s", BM_idle_pool)->UseRealTime()->Iterations(1)->Unit(benchmark::kMillisecond);
}

}  // namespace spill::micro

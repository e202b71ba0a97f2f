// spill/detail/wait.hpp: waiting between rounds: spin for a while measured in
// time, then park on a futex.
//
// A WaitWord is a 32-bit counter that one thread advances (publish) and
// another waits for (await_change). The waiter polls it for a spin budget
// measured in nanoseconds, then parks in the kernel; the publisher issues the
// wake-up system call only when a waiter has parked.
//
// Why a time budget and not a poll count: a spin-wait hint costs about 10 ns
// on one x86 VM and 50 ns on another, so a poll count tuned on one machine
// spins five times longer or shorter on the next. Why the budget is what it
// is: parking pays a futex wake-up (a system call on the publisher's side and
// a scheduler wake-up on the waiter's, together `park_ns`, measured once per
// process by wait_calibration()). A waiter that spins at least twice that
// long before parking never pays more than about twice the best choice
// (the classic competitive argument for spin-then-block), and a waiter that
// expects its waits to be short (they were, recently) keeps polling up to
// twice their typical length, so a busy pipeline never parks between rounds;
// waits that are long compared with the ceiling (an idle pool) poll only the
// floor, so an idle pool costs almost no CPU.
//
// Wake-ups dearer than calibrated. The calibration times a park and its
// wake-up on one CPU; across CPUs a wake-up can cost far more, where the host
// must first run a halted virtual CPU. A wait whose partner had parked lasts
// at least the partner's wake-up, so once wake-ups cost more than half the
// ceiling, such waits last longer than the ceiling, every later wait polls
// only the floor and parks, and a pipeline of microsecond rounds runs at the
// pace of its wake-ups: in one slow hour of a 2-vCPU VM, repetitions of
// spill-bench's fan_in (1 producer, ring 16384, rounds of 625 items; ./bench
// demo's sample, results/sample.json) ran at 14 and 24 M items/s against 426
// in the same point, both threads parked 117-290 times at 118-146 us each.
// spill-micro's wait_dear_wakeups reproduces it on any host by forcing the
// ceiling below twice a wake-up (3 and 6 us, 2 us of work per round): 9-12 us
// per round, a park in 26% of rounds (2-vCPU AMD EPYC VM, 2026-11-27,
// wake-ups there 30-45 us). So a publisher that wakes a parked waiter stamps
// the time of its wake-up call (N3), and the waiter, once awake, counts the
// wake-up and its cost in its WaitStats (`wakes`, `wake_ns`): what parking
// really costs on the host, per thread. The budget learns it too: each
// thread keeps a moving average of its own timed wake-ups (SpinBudget::woke)
// and polls at least twice that before it parks, at most half the ceiling
// (SpinBudget::least_ns): the competitive argument above, with what a park
// costs this thread in place of the one-CPU calibration. The ceiling does
// not learn, so in wait_dear_wakeups, whose forced ceilings cap the least at
// 1.5 us (under its 2 us floor: no change) and 3 us, it moves little.
// Measured on a 2-vCPU AMD EPYC VM (family 26) on
// 2026-11-28, spill-micro binaries without and with it run alternately
// eight times (--benchmark_filter='^round_trip/workers=1/min'
// --benchmark_repetitions=3): the 1-worker round trip parked about 20x less
// (owner parks per round 14-450 u -> 0.2-2 u, worker 16-1500 u -> 0.5-280 u)
// and took the same 75-106 ns. Fan-ins (1, 2 and 4 producers, rounds of
// 256-65536), measured as in the WorkerSignal comment (handoff.hpp), with
// the slot change in both binaries: level, medians of paired ratios
// 0.99-1.01 over the 10-13 pairs where the cache-line ping-pong was under
// 200 ns.
//
// Raising the ceiling instead, to four of a thread's recent wake-ups
// (commit 274e0ad), took wait_dear_wakeups to 2.4-2.6 us per round and 2%
// parks, but the 1-worker round trip then parked about ten times as often
// (worker parks per round, median of 7 repetitions: 0.0016-0.0031 in four
// of five ./bench perf runs, results/experiments/wake-learning/, against
// 0.00006-0.00022 in four of the five runs of ab2b21b) and passed target T3
// in 2 of 5 runs instead of 5 of 5, for a reason not yet found; so it is
// not in.
//
// Three ways to poll, chosen per thread from where the pool's threads may
// run (PollMode; the pool decides once, at its first dispatch, from every
// pool thread's affinity mask as read on that thread: wait_placement()):
//   pause             no other pool thread may run on this thread's CPUs (it
//                     is pinned alone): a pause hint until the budget, then
//                     park. The awaited thread runs, or waits for, a CPU we
//                     do not share, and nothing done on ours brings the answer
//                     sooner; giving ours away costs a whole turn when a
//                     busy neighbour process shares it (Linux's EEVDF hands
//                     a yielded CPU to it for its full slice, 4 ms at
//                     HZ=250): spill-bench's fan_in 1->1 at ring 16384 with
//                     such a neighbour ran at 13-56 M items/s with a yield
//                     phase, 132-152 pausing throughout.
//   pause_then_yield  other pool threads may run on its CPUs, but no more
//                     threads than CPUs (unpinned threads): a pause hint for
//                     the floor, then sched_yield. A wait past the floor
//                     usually means the awaited thread is not running: the
//                     machine is shared, and the scheduler may have queued it
//                     behind us on our CPU, which a yield hands it at once
//                     (spill-micro's fan-in with a busy neighbour and
//                     unpinned threads, target T11: 0.27 of the best queue
//                     pausing throughout, in one ./bench perf run; 0.79-1.14
//                     in five runs with the yield phase).
//   yield             more pool threads than CPUs may run there (a pool with
//                     more threads than cores, or threads pinned to a shared
//                     core): sched_yield from the first poll, since the
//                     awaited thread may be queued behind us.
//
// A CPU shared with threads outside the pool (a busy neighbour on a shared
// host): a thread that polls keeps its place on the CPU, so a fair scheduler
// charges it for every poll, and when its partner is the one preempted it
// polls through much of the neighbour's turn; a thread that parks is charged
// nothing while it waits and runs soon after its wake-up. So each pool
// thread, as it parks, asks the scheduler how long it has waited, runnable,
// for a CPU (its run delay, /proc/thread-self/schedstat; one pread, about a
// microsecond, off the critical path since the thread is about to sleep).
// If that grew, since its last park, by more than an eighth of the time
// between the two parks (and more than the floor), its waits park at their
// first poll for twice that time, and at least one ceiling; each time the
// share is seen again within 64 ceilings of the last such period's end, that
// least period doubles, up to 64 ceilings (SpinBudget::parking). A busy
// neighbour takes the CPU again as soon as the thread polls, so its periods
// soon reach 64 ceilings; a one-off (a kernel thread's turn) costs one short
// period. The rule first parked for at least 64 ceilings at every sighting,
// about 15 ms here: a 1-worker round trip, where a park turns a round of
// 0.2 us into several us, parked in 0.8-1.5% of its rounds (median of 18
// repetitions) and took 197 ns; with the doubling, 0.23% and 171-174 ns (two
// binaries alternated six times, three repetitions each, spill-micro
// --benchmark_filter='^(round_trip/workers=1|ref_pingpong_pause)/min'
// --benchmark_repetitions=3, counters owner_ and worker_parks_per_round;
// 2-vCPU AMD EPYC VM, 2026-11-26), while the fan-in beside a busy neighbour
// below did not move (rounds of 16384 609 -> 641 M items/s, of 32768
// 653 -> 634, boost_spsc at its best 565 -> 591; medians of 7 alternated
// runs). A busy pipeline that never parks never asks; a placement that
// yields (the pool crowds its own CPUs) keeps its budget, and no thread asks
// before the pool decided its placement (its first dispatch): asking at a
// fresh thread's first park costs an open() of the file, 15-95 us here, and
// spill-bench's fan_in with 2 and 4 producers, a fresh pool per repetition,
// ran about 20% slower when every new worker paid it. Measured on a
// 2-vCPU AMD EPYC VM on 2026-11-26 (the rule as first written, which also
// asked before placement; long-lived pools, as here, never noticed the
// difference), binaries with and without it run alternately five times
// each (spill-micro --benchmark_filter=
// 'fanin/(spill|boost_spsc)/P=1/cap=65536/batch=(16384|32768)/nb=1', medians):
// rounds of 16384 414 -> 718 M items/s, rounds of 32768 530 -> 724, and
// boost_spsc at its best 575-582 in the same runs; spill-bench's fan_in with
// a pinned neighbour (--contend 1) and the quiet shapes did not move.
//
// Protocol (labels used by the callers' comments):
//   (N1) publisher: value.store(v, release)        publishes whatever the
//        caller wrote before (paired with W1 or W3).
//   (N2) publisher: parked.load(relaxed) != 0 -> (N3) woken_at_ns.store(now,
//        relaxed: a measurement, see WaitWord), then futex wake. Between
//        (N1) and (N2) only a compiler barrier: the CPU may still perform
//        the load before the store leaves its store buffer; (W2b) closes it.
//   (W1) waiter: value.load(acquire) while spinning; pairs with (N1).
//   (W2) waiter: parked.fetch_add(seq_cst), then (W2b) the heavy fence
//        (membarrier, below), then (W3) value.load(seq_cst) and
//        futex_wait(value, old) while unchanged.
// Why no wake-up is lost: (W2b) makes every running thread of the process
// execute a full memory barrier before it returns (a thread not running
// passed one when it was switched out). If the publisher's (N2) load came
// before that barrier on its CPU, so did (N1), which precedes it in program
// order, and the barrier drained it to memory: the waiter's (W3), after
// (W2b), sees the new value and does not sleep. If (N2) came after the
// barrier, it came after (W2), which was globally visible before (W2b)
// began: the publisher sees the waiter counted and wakes it. futex_wait
// itself rechecks the value in the kernel, which closes the window between
// (W3) and going to sleep. This is the asymmetric fence of the kind
// user-space RCU uses: the frequent side (every round's publish) pays a
// plain store and a load, the rare side (a park, about to sleep for
// microseconds anyway) pays a system call.
//
// Why: a seq_cst store is a locked instruction, which waits until the line
// is owned, and the line of a WaitWord is usually in the other thread's
// cache (it polls it), so every publish stalled for one transfer between
// cores, twice per round of a pool (go and done). Measured on a 2-vCPU AMD
// EPYC VM (family 26) on 2026-11-27, spill-micro binaries with the locked
// store and with this, run alternately five times
// (--benchmark_filter='^(ref_pingpong_pause|round_trip/workers=1/min|
// round_trip_oversubscribed/workers=2/min|fanin/spill/P=1/cap=1024/batch=512/
// nb=0/min|fanin/spill/P=1/cap=65536/batch=32768/nb=0/min)'), while the
// cache-line ping-pong took 102-109 ns: the 1-worker round trip 136-167 ->
// 104-116 ns (lower in every pair); the oversubscribed round trip (2322-2482
// ns) and the fan-in at rounds of 512 (1.42-1.61 G items/s) and of 32768
// (2.64-2.90) did not move beyond their spread. spill-bench's fan_in (1, 2
// and 4 producers, rings 16384 and 65536, rounds 32-512, 8 M items, both
// placements; the best point per producer count, four alternated runs):
// paired ratios 0.92-1.07, median 0.99.
//
// Where the heavy fence is not available (not Linux, a kernel before 4.14,
// or a sandbox that refuses the system call; asymmetric_fences() says which,
// once per process), publish() keeps the symmetric form: (N1) a seq_cst
// store, (N2) a seq_cst load, which with (W2, W3), both seq_cst, form
// store-then-load pairs in the single total order of seq_cst operations.
// Should the heavy fence fail after it was registered (it cannot, short of
// a kernel bug), the waiter does not trust its sleep: it sleeps at most
// kDegradedSleepNs at a time and checks the value again, so a lost wake-up
// costs at most that long, never a hang.
#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include "config.hpp"

#if defined(__linux__)
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <unistd.h>
#endif

namespace spill {

/// What one thread's waits cost: how often it waited, how many polls it spun,
/// how often it had to park on the futex, and the time spent in each phase.
/// Plain integers, owned by the one thread that waits (no atomics: nothing
/// else writes them; readers synchronise through the pool's go/done pairs).
///
///     const spill::WaitStats& w = pool.stats(0).wait;
///     double parked_share = double(w.blocks) / double(w.waits);
struct WaitStats {
    std::uint64_t waits = 0;     ///< calls that found the value unchanged at their first poll
    std::uint64_t polls = 0;     ///< loads in the spin phase (over all waits)
    std::uint64_t blocks = 0;    ///< waits that gave up spinning and parked on the futex
    std::uint64_t spin_ns = 0;   ///< steady_clock time in the spin phase
    std::uint64_t block_ns = 0;  ///< steady_clock time parked, until the value changed (0 unless timed)
    std::uint64_t wakes = 0;     ///< parked waits whose wake-up was timed (the publisher stamped it)
    std::uint64_t wake_ns = 0;   ///< their wake-ups summed: publisher's stamp before the wake call -> waiter running
    /// Whether every wait is timed exactly. The spin phase reads the clock
    /// anyway (its budget is in time), but only every few polls; exact
    /// figures take one more clock read when a wait ends, on the critical
    /// path of a round trip. Off by default; PoolBuilder::time_waits() turns
    /// it on. Untimed, spin_ns is the spin time up to the last clock read.
    bool timed = false;
};

/// How a waiting thread polls before it parks (detail/wait.hpp says why).
enum class PollMode : std::uint8_t {
    pause,             ///< no other pool thread may run on its CPUs: a pause hint throughout
    pause_then_yield,  ///< other pool threads may, no more than its CPUs: a pause hint for the floor, then sched_yield
    yield,             ///< more pool threads than its CPUs may run there: sched_yield from the first poll
};

/// How one pool thread waits, decided once at the pool's first dispatch from
/// where its threads may run (detail::wait_placement()): all zero before.
///
///     const spill::WaitPlacement& p = pool.placement(0);
///     bool pinned_alone = p.poll == spill::PollMode::pause;   // p.sharers == 1
struct WaitPlacement {
    unsigned cpus = 0;     ///< CPUs the thread may run on
    unsigned sharers = 0;  ///< threads of the pool (itself included) that may run on one of them
    PollMode poll = PollMode::pause;  ///< how its waits poll before they park
};

/// What parking costs on this machine, measured once per process (see
/// detail/wait.hpp), and the spin budgets derived from it.
///
///     const spill::WaitCalibration& c = spill::wait_calibration();
///     std::printf("park %llu ns, spin %llu..%llu ns\n", ...);
struct WaitCalibration {
    std::uint64_t park_ns = 0;     ///< median cost of one futex wake-up (half a futex ping-pong round trip)
    std::uint64_t floor_ns = 0;    ///< every wait polls at least this long before parking (2 x park_ns, clamped)
    std::uint64_t ceiling_ns = 0;  ///< no wait polls longer (64 x park_ns, clamped)
    std::uint32_t samples = 0;     ///< round trips measured
    bool one_cpu = false;          ///< measured between two threads pinned to one CPU (false: pins refused, the scheduler placed them)
};

namespace detail {

/// steady_clock in nanoseconds.
inline std::uint64_t wait_clock_ns() noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) && std::atomic<std::uint32_t>::is_always_lock_free,
              "the futex needs a plain 32-bit word");

/// Sleeps while `word` holds `old` (may return spuriously; callers recheck).
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t old) noexcept {
#if defined(__linux__)
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, old, nullptr, nullptr, 0);
#else
    word.wait(old, std::memory_order_acquire);
#endif
}
/// Wakes every thread sleeping in futex_wait on `word`.
inline void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
#if defined(__linux__)
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
    word.notify_all();
#endif
}

/// Sleeps while `word` holds `old`, for at most `ns` nanoseconds (may return
/// early; callers recheck).
inline void futex_wait_for(std::atomic<std::uint32_t>& word, std::uint32_t old, std::uint64_t ns) noexcept {
#if defined(__linux__)
    struct timespec t{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, old, &t, nullptr, 0);
#else
    (void)old;
    (void)ns;
    std::this_thread::yield();
#endif
}

/// How long a waiter sleeps between checks when the heavy fence failed
/// (file comment): long beside a wake-up, short beside a hang.
inline constexpr std::uint64_t kDegradedSleepNs = 1'000'000;

/// Registers this process for the heavy fence (membarrier's private
/// expedited command) and says whether it may use the asymmetric pair:
/// true when the kernel took the registration. Decided once per process,
/// on first use, and the same answer for every thread after (a magic
/// static), so a publisher never takes the light path while a waiter
/// skips the heavy fence.
[[gnu::cold, gnu::noinline]] inline bool register_asymmetric_fences() noexcept {
#if defined(__linux__) && defined(SYS_membarrier)
    const long cmds = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
}
[[nodiscard]] inline bool asymmetric_fences() noexcept {
    static const bool ok = register_asymmetric_fences();
    return ok;
}

/// (W2b) The heavy fence: every running thread of the process executes a
/// full memory barrier before this returns. False if the system call failed
/// (the caller then sleeps in bounded steps; file comment).
[[gnu::cold, gnu::noinline]] inline bool heavy_fence() noexcept {
#if defined(__linux__) && defined(SYS_membarrier)
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
}

/// The CPUs one thread may run on: its affinity mask, read on that thread.
/// Where the platform does not say (not Linux, or the call failed), `known`
/// is false and the set stands for every CPU of the machine.
struct CpuSet {
#if defined(__linux__)
    cpu_set_t set{};
#endif
    bool known = false;

    /// The calling thread's CPUs.
    [[nodiscard]] static CpuSet of_this_thread() noexcept {
        CpuSet c;
#if defined(__linux__)
        c.known = ::sched_getaffinity(0, sizeof c.set, &c.set) == 0;
#endif
        return c;
    }
    /// How many CPUs, at least 1.
    [[nodiscard]] unsigned count() const noexcept {
#if defined(__linux__)
        if (known) return static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
#endif
        return std::max(1u, std::thread::hardware_concurrency());
    }
    /// Whether the two sets have a CPU in common (an unknown set has them all).
    [[nodiscard]] bool intersects(const CpuSet& other) const noexcept {
#if defined(__linux__)
        if (known && other.known) {
            cpu_set_t both;
            CPU_AND(&both, &set, &other.set);
            return CPU_COUNT(&both) != 0;
        }
#endif
        return true;
    }
};

/// How thread `i` of a group of cooperating threads (a pool: its owner and
/// its workers) should poll, from how many of the group's threads may run on
/// its CPUs (itself included) against how many CPUs it has (PollMode).
///
///     {0}, {1}        (pinned apart)     -> pause, pause
///     {0,1} x 2       (unpinned, 2 CPUs) -> pause_then_yield for both
///     {0,1} x 5       (unpinned, 2 CPUs) -> yield for all five
///     {0}, {0}, {1}   (two on CPU 0)     -> yield, yield, pause
[[nodiscard]] inline WaitPlacement wait_placement(std::span<const CpuSet> threads, std::size_t i) noexcept {
    WaitPlacement p;
    p.cpus = threads[i].count();
    for (const CpuSet& t : threads)
        if (t.intersects(threads[i])) ++p.sharers;
    p.poll = p.sharers == 1 ? PollMode::pause : p.sharers <= p.cpus ? PollMode::pause_then_yield : PollMode::yield;
    return p;
}

/// A counter one thread advances and other threads wait on. The fields
/// share a line on purpose: the publisher's (N2) load reads the line its
/// (N1) store writes, so an un-parked round trip costs no extra miss.
struct WaitWord {
    std::atomic<std::uint32_t> value{0};
    std::atomic<std::uint32_t> parked{0};  ///< waiters in (W2)..wake-up; written only by parking waiters
    /// wait_clock_ns() just before the publisher's latest wake-up call
    /// (N3); written only when a waiter has parked, so a round that parks
    /// nobody never writes it.
    std::atomic<std::uint64_t> woken_at_ns{0};

    /// (N1) + (N2): stores `v` and wakes parked waiters, stamping the time
    /// of the wake-up call first (N3).
    void publish(std::uint32_t v) noexcept {
        if (asymmetric_fences()) {
            value.store(v, std::memory_order_release);  // (N1)
            // Keeps the compiler from hoisting (N2) above (N1); the CPU may
            // still, which the waiter's heavy fence (W2b) answers.
            std::atomic_signal_fence(std::memory_order_seq_cst);
            // relaxed: (W2b), not this load's order, decides who sees whom.
            if (parked.load(std::memory_order_relaxed) != 0) wake_parked();  // (N2)
        } else {
            value.store(v, std::memory_order_seq_cst);                        // (N1), symmetric form
            if (parked.load(std::memory_order_seq_cst) != 0) wake_parked();  // (N2)
        }
    }
    /// (W2), (W2b): counts the calling thread as parked on this word. Then
    /// sleep with sleep_while(old) until the value moved, and unpark().
    /// Returns whether sleeps may be trusted to end with a wake-up: false
    /// only when the heavy fence failed (file comment).
    [[nodiscard]] bool park() noexcept {
        parked.fetch_add(1, std::memory_order_seq_cst);  // (W2)
        return !asymmetric_fences() || heavy_fence();    // (W2b)
    }
    /// (W3) Sleeps while the value is `old` (rechecked by the kernel); one
    /// sleep, which may end early: callers recheck. `trusted` from park().
    void sleep_while(std::uint32_t old, bool trusted) noexcept {
        if (trusted) {
            futex_wait(value, old);
        } else {
            futex_wait_for(value, old, kDegradedSleepNs);
        }
    }
    /// Undoes park(). relaxed: a stale count only costs the publisher a spare wake-up.
    void unpark() noexcept { parked.fetch_sub(1, std::memory_order_relaxed); }
    /// (N3), then the wake-up call. Out of line and cold: a busy pipeline
    /// never parks, and its publish stays a store and a load wherever it is
    /// inlined.
    [[gnu::cold, gnu::noinline]] void wake_parked() noexcept {
        // (N3) relaxed: a measurement, not a publication. A waiter reads it
        // once awake and keeps it only if it is newer than its own park, so
        // a stamp it sees late or not at all only loses one sample of how
        // long wake-ups take.
        woken_at_ns.store(wait_clock_ns(), std::memory_order_relaxed);
        futex_wake_all(value);
    }
    [[nodiscard]] std::uint32_t load() const noexcept { return value.load(std::memory_order_acquire); }  // (W1)
};

/// How long the calling thread has waited, runnable, for a CPU so far (the
/// scheduler's run delay, /proc/thread-self/schedstat), in nanoseconds; -1
/// where the platform does not say. One pread of a file each thread keeps
/// open (about a microsecond here): called only as a wait parks.
[[gnu::cold, gnu::noinline]] inline std::int64_t run_delay_ns() noexcept {
#if defined(__linux__)
    struct File {
        int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
        ~File() {
            if (fd >= 0) ::close(fd);
        }
    };
    thread_local const File file;
    if (file.fd < 0) return -1;
    // "<time on CPU> <time waiting for a CPU> <time slices>", in ns.
    char buf[96];
    const ssize_t n = ::pread(file.fd, buf, sizeof buf, 0);
    if (n <= 0) return -1;
    const char* end = buf + n;
    const char* field = std::find(static_cast<const char*>(buf), end, ' ');
    std::int64_t v = -1;
    if (field == end || std::from_chars(field + 1, end, v).ec != std::errc{}) return -1;
    return v;
#else
    return -1;
#endif
}

/// One waiting thread's spin budget: fixed, or adapted to how long its recent
/// waits lasted (see the file comment). Owned by that thread.
struct SpinBudget {
    static constexpr std::uint64_t adaptive = ~std::uint64_t{0};
    std::uint64_t fixed_ns = adaptive;  ///< a fixed budget (PoolBuilder::spin_limit), or adaptive
    std::uint64_t floor_ns = 0;         ///< adaptive: from wait_calibration()
    std::uint64_t ceiling_ns = 0;
    std::uint64_t typical_ns = 0;       ///< adaptive: moving average of recent wait lengths
    std::uint64_t wake_ns = 0;          ///< adaptive: moving average of this thread's timed wake-ups (0: none yet)
    PollMode poll = PollMode::pause;    ///< wait_placement()
    bool placed = false;                ///< `poll` was decided (the pool's first dispatch): until then no park watches the CPU
    std::int64_t delay_ns = -1;         ///< run_delay_ns() at this thread's last park
    std::uint64_t parked_at_ns = 0;     ///< wait_clock_ns() then
    std::uint64_t shared_until_ns = 0;  ///< its CPU was lately shared with other threads: waits park at once until then
    std::uint32_t shared_level = 0;     ///< that period lasted at least ceiling_ns << shared_level
    /// The longest period a share that keeps recurring earns: 64 ceilings.
    static constexpr std::uint32_t max_shared_level = 6;

    /// Sets how this thread polls (the pool's first dispatch decides it).
    void place(PollMode mode) noexcept {
        poll = mode;
        placed = true;
    }
    /// Whether this thread's parks ask how long it waited for its CPU: an
    /// adaptive budget whose placement does not yield (file comment).
    [[nodiscard]] bool watches_cpu() const noexcept { return placed && fixed_ns == adaptive && poll != PollMode::yield; }
    /// Whether waits park at their first poll: a watching thread that lately
    /// waited for its CPU.
    [[nodiscard]] bool park_at_once(std::uint64_t now) const noexcept { return watches_cpu() && now < shared_until_ns; }
    /// At a park, `now_delay` is run_delay_ns(): if this thread waited for a
    /// CPU, since its last park, for more than an eighth of the time between
    /// (and more than the floor), other threads held its CPU: its waits park
    /// at once for twice that time between, and at least one ceiling. A share
    /// seen again before 64 ceilings have passed since the last period ended
    /// (a busy neighbour, which takes the CPU again as soon as we poll)
    /// doubles that least period, up to 64 ceilings; one seen later (a
    /// kernel thread's turn, a host hiccup) starts again at one.
    void parking(std::uint64_t now, std::int64_t now_delay) noexcept {
        if (!watches_cpu() || now_delay < 0) return;
        if (delay_ns >= 0) {
            const auto waited = static_cast<std::uint64_t>(now_delay - delay_ns);
            const std::uint64_t between = now - parked_at_ns;
            if (waited > floor_ns && waited > between / 8) {
                const bool recurring = shared_until_ns != 0 && now < shared_until_ns + (ceiling_ns << max_shared_level);
                shared_level = recurring ? std::min(shared_level + 1, max_shared_level) : 0;
                shared_until_ns = std::max(shared_until_ns, now + std::max(2 * between, ceiling_ns << shared_level));
            }
        }
        delay_ns = now_delay;
        parked_at_ns = now;
    }
    /// The least an adaptive wait polls: twice what a park costs this
    /// thread, the calibrated floor or, once its wake-ups were timed and cost
    /// more, twice their moving average, at most half the ceiling.
    [[nodiscard]] std::uint64_t least_ns() const noexcept { return std::max(floor_ns, std::min(2 * wake_ns, ceiling_ns / 2)); }
    /// How long the next wait polls before it parks.
    [[nodiscard]] std::uint64_t limit_ns() const noexcept {
        if (fixed_ns != adaptive) return fixed_ns;
        // Waits that recently ended within the ceiling: poll past twice
        // their typical length. Longer waits: parking costs little beside
        // them, so poll only the least.
        const std::uint64_t least = least_ns();
        if (typical_ns <= ceiling_ns) return std::clamp(2 * typical_ns, least, ceiling_ns);
        return least;
    }
    /// How long the next wait polls with a pause hint before it polls with
    /// sched_yield (a fixed budget, when it may yield at all, pauses throughout).
    [[nodiscard]] std::uint64_t pause_ns() const noexcept {
        switch (poll) {
            case PollMode::pause: return ~std::uint64_t{0};
            case PollMode::pause_then_yield: return fixed_ns != adaptive ? fixed_ns : floor_ns;
            case PollMode::yield: break;
        }
        return 0;
    }
    /// A parked wait of this thread was woken `ns` after its publisher's
    /// wake-up call (its stamp, N3). Moving average, weight 1/4.
    void woke(std::uint64_t ns) noexcept { wake_ns = wake_ns == 0 ? ns : wake_ns - wake_ns / 4 + ns / 4; }
    void record(std::uint64_t waited_ns) noexcept {
        // Exponential moving average, weight 1/8, of waits clipped at twice
        // the ceiling: a run of long waits (an idle pool) takes it past the
        // ceiling, one stall of a busy pipeline does not.
        const std::uint64_t w = std::min(waited_ns, 2 * ceiling_ns);
        typical_ns = typical_ns - typical_ns / 8 + w / 8;
    }
};

/// Pins the calling thread to one CPU; false where it cannot (not Linux, or
/// the call failed), and the thread then runs wherever it may.
inline bool pin_this_thread_to(int cpu) noexcept {
#if defined(__linux__)
    if (cpu < 0) return false;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return ::pthread_setaffinity_np(::pthread_self(), sizeof one, &one) == 0;
#else
    (void)cpu;
    return false;
#endif
}

/// The first CPU of `mask` (-1 where it is unknown).
[[nodiscard]] inline int first_cpu_of(const CpuSet& mask) noexcept {
#if defined(__linux__)
    if (mask.known)
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &mask.set)) return c;
#else
    (void)mask;
#endif
    return -1;
}

/// Measures what parking costs here: two threads of its own hand a counter
/// back and forth through WaitWords, always parking; half the median round
/// trip is one wake-up. Runs once per process (a few milliseconds), on first
/// use.
///
/// Both threads are pinned to one CPU, the first of the caller's mask: the
/// figure is then what a park and its wake-up cost in themselves (two system
/// calls and a context switch), the same in every process. Left to the
/// scheduler, the pair lands on one CPU or on two at random: on a 2-vCPU AMD
/// EPYC VM on 2026-11-26, a program printing wait_calibration().park_ns, run
/// 20 times, printed 3.7-5.4 us (one CPU) or 32-45 us (two), so spin budgets
/// differed ninefold between two processes on one machine. Across two CPUs
/// the figure adds how long an idle CPU takes to wake, which is the host's
/// (a halted vCPU, here); budgets from it (22-31 us, the pair pinned apart)
/// poll longer, and measured worse in five ./bench perf runs on that VM
/// (results/perf-runs/*-8e48119: the spill-bench headline H passed 1 of 5,
/// and 4 of 5 in the five runs before, where the figure was 3.3-5.4 us).
inline WaitCalibration measure_wait_calibration() {
    constexpr std::uint32_t rounds = 48;
    const int cpu = first_cpu_of(CpuSet::of_this_thread());  // -1: both run unpinned
    WaitWord ping;
    WaitWord pong;
    // Sleeps until `w` reached `want` (the values count up from 1).
    auto park_until = [](WaitWord& w, std::uint32_t want) {
        const bool trusted = w.park();  // (W2), (W2b)
        // (W3) Sleep on the value just seen to fall short of `want`, never on
        // a fresh read: a value that reached `want` between the check and
        // the call would make the kernel sleep on `want` itself, after the
        // publisher's wake-up, and the partner waits for us: a deadlock.
        for (std::uint32_t v; (v = w.value.load(std::memory_order_seq_cst)) < want;) w.sleep_while(v, trusted);
        w.unpark();
    };
    std::vector<std::uint64_t> rt;
    rt.reserve(rounds);
    // Both sides are threads of their own, so the caller's mask is never
    // touched; a pin that fails leaves its thread where the scheduler puts
    // it. Each pin's outcome is read after the joins, which order it.
    bool partner_pinned = false;
    bool timer_pinned = false;
    std::thread partner([&] {
        partner_pinned = pin_this_thread_to(cpu);
        for (std::uint32_t r = 1; r <= rounds; ++r) {
            park_until(ping, r);
            pong.publish(r);
        }
    });
    std::thread timer;
    try {
        timer = std::thread([&] {
            timer_pinned = pin_this_thread_to(cpu);
            for (std::uint32_t r = 1; r <= rounds; ++r) {
                // Let the partner reach its futex first, so each round trip
                // really pays two wake-ups.
                std::this_thread::sleep_for(std::chrono::microseconds(50));
                const std::uint64_t t0 = wait_clock_ns();
                ping.publish(r);
                park_until(pong, r);
                rt.push_back(wait_clock_ns() - t0);
            }
        });
    } catch (...) {
        ping.publish(rounds);  // the partner's every wait is over: it runs out and ends
        partner.join();
        throw;
    }
    timer.join();
    partner.join();
    std::sort(rt.begin(), rt.end());
    WaitCalibration c;
    c.samples = rounds;
    c.one_cpu = partner_pinned && timer_pinned;
    c.park_ns = rt[rt.size() / 2] / 2;
    c.floor_ns = std::clamp<std::uint64_t>(2 * c.park_ns, 2'000, 200'000);
    c.ceiling_ns = std::clamp<std::uint64_t>(64 * c.park_ns, 200'000, 2'000'000);
    return c;
}

}  // namespace detail

/// This process's wait calibration (measured on first call, then cached).
inline const WaitCalibration& wait_calibration() {
    static const WaitCalibration c = detail::measure_wait_calibration();
    return c;
}

namespace detail {

/// A budget for one thread of a pool: adaptive unless `fixed_ns` is set. It
/// polls with a pause hint until the pool sets `poll` (wait_placement()).
inline SpinBudget make_spin_budget(std::uint64_t fixed_ns) {
    SpinBudget b;
    b.fixed_ns = fixed_ns;
    if (fixed_ns == SpinBudget::adaptive) {
        const WaitCalibration& c = wait_calibration();
        b.floor_ns = c.floor_ns;
        b.ceiling_ns = c.ceiling_ns;
        b.typical_ns = c.floor_ns / 2;  // start at the floor
    }
    return b;
}

/// Waits until `w` no longer holds `old` and returns the new value: polls for
/// the thread's spin budget, then parks (file comment). The loads are
/// acquire: the value waited for is always published by (N1) after data
/// (round arguments, a finished round's state), and this load is its pair.
///
/// With `st`, a wait that does not succeed at its first poll is counted, and
/// its spin and park phases timed; the first poll itself reads no clock.
inline std::uint32_t await_change(WaitWord& w, std::uint32_t old, SpinBudget& budget, WaitStats* st = nullptr) noexcept {
    {
        const std::uint32_t v = w.load();  // (W1)
        if (v != old) return v;
    }
    const std::uint64_t t0 = wait_clock_ns();
    const std::uint64_t limit = budget.park_at_once(t0) ? 0 : budget.limit_ns();
    const std::uint64_t pause = budget.pause_ns();
    std::uint64_t now = t0;
    if (st != nullptr) ++st->waits;
    std::uint32_t polls = 0;
    auto done = [&](std::uint32_t v, std::uint64_t end) {
        budget.record(end - t0);
        if (st != nullptr) {
            st->polls += polls;
            st->spin_ns += end - t0;
        }
        return v;
    };
    // Poll: check the clock every 8 polls (a clock read costs about as much
    // as a poll; the budget is far longer than 8 polls).
    while (now - t0 < limit) {
        const bool yield = now - t0 >= pause;
        for (int i = 0; i < 8; ++i) {
            ++polls;
            if (yield) {
                std::this_thread::yield();
            } else {
                cpu_relax();
            }
            const std::uint32_t v = w.load();  // (W1)
            if (v != old) return done(v, st != nullptr && st->timed ? wait_clock_ns() : now);
        }
        now = wait_clock_ns();
    }
    // Park.
    if (st != nullptr) {
        st->polls += polls;
        st->spin_ns += now - t0;
        ++st->blocks;
    }
    if (budget.watches_cpu()) budget.parking(now, run_delay_ns());  // a system call, but we are about to sleep
    const bool trusted = w.park();  // (W2), (W2b)
    std::uint32_t v;
    while ((v = w.value.load(std::memory_order_seq_cst)) == old) w.sleep_while(old, trusted);  // (W3)
    w.unpark();
    // A parked wait's length matters to the budget (were waits long?), so
    // it reads the clock: it is far off any critical path by now.
    const std::uint64_t end = wait_clock_ns();
    // The publisher's stamp (N3), if it is this park's (taken after we
    // decided to park: an older one woke an earlier wait): the wake-up cost
    // end - stamp.
    const std::uint64_t stamp = w.woken_at_ns.load(std::memory_order_relaxed);
    if (stamp >= now && stamp <= end) {
        budget.woke(end - stamp);
        if (st != nullptr) {
            ++st->wakes;
            st->wake_ns += end - stamp;
        }
    }
    budget.record(end - t0);
    if (st != nullptr && st->timed) st->block_ns += end - now;
    return v;
}

/// Whether counter value `v` has reached `want`, in serial-number arithmetic
/// (both are low 32 bits of counters that never drift 2^31 apart).
[[nodiscard]] constexpr bool reached(std::uint32_t v, std::uint32_t want) noexcept {
    return static_cast<std::int32_t>(v - want) >= 0;
}

/// Waits until `w` has reached `want` (see reached()).
inline void await_reached(WaitWord& w, std::uint32_t want, SpinBudget& budget, WaitStats* st = nullptr) noexcept {
    std::uint32_t v = w.load();
    while (!reached(v, want)) v = await_change(w, v, budget, st);
}

}  // namespace detail
}  // namespace spill

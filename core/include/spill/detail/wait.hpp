// spill/detail/wait.hpp: spin briefly, then block on the futex behind std::atomic::wait.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "config.hpp"

namespace spill {

/// What one thread's waits cost: how often it waited, how many polls it spun,
/// how often it had to block on the futex, and the time spent in each phase.
/// Plain integers, owned by the one thread that waits (no atomics: nothing
/// else writes them; readers synchronise through the pool's go/done pairs).
///
///     const spill::WaitStats& w = pool.stats(0).wait;
///     double blocked_share = double(w.blocks) / double(w.waits);
struct WaitStats {
    std::uint64_t waits = 0;     ///< calls that found the value unchanged at their first poll
    std::uint64_t polls = 0;     ///< loads in the spin phase (over all waits)
    std::uint64_t blocks = 0;    ///< waits that gave up spinning and blocked on the futex
    std::uint64_t spin_ns = 0;   ///< steady_clock time in the spin phase (0 unless timed)
    std::uint64_t block_ns = 0;  ///< steady_clock time blocked on the futex, until the value changed (0 unless timed)
    /// Whether the waits read the clock. Off by default: the read that ends
    /// a spin lies on the critical path of a round trip (the waiter has seen
    /// the change and is about to act on it), and on this KVM guest two of
    /// them cost a fifth of a ~200 ns dispatch->join round trip. The pool
    /// turns it on with PoolBuilder::time_waits(); the counts are always kept.
    bool timed = false;
};

namespace detail {

/// steady_clock in nanoseconds; only read by waits that found nothing at the
/// first poll (a wait already costs far more than the ~20 ns clock read).
inline std::uint64_t wait_clock_ns() noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

/// Waits until `a` no longer holds `old` and returns the new value.
///
/// Spinning first keeps a back-to-back round trip off the futex (a wake-up
/// costs microseconds); blocking after `spins` attempts keeps an idle pool at
/// ~0% CPU (DESIGN.md section 5). The loads are acquire: the value waited for is
/// always a release store that publishes data (round arguments, a finished
/// round's ring), and this load is its pair.
///
/// With `st`, a wait that does not succeed at its first poll is counted, and
/// timed (spin phase, futex phase) when `st->timed`; the first poll itself
/// reads no clock.
inline std::uint64_t await_change(const std::atomic<std::uint64_t>& a, std::uint64_t old, std::uint32_t spins,
                                  WaitStats* st = nullptr) noexcept {
    {
        const std::uint64_t v = a.load(std::memory_order_acquire);
        if (v != old) return v;
    }
    const bool timed = st != nullptr && st->timed;
    const std::uint64_t t0 = timed ? wait_clock_ns() : 0;
    if (st != nullptr) ++st->waits;
    for (std::uint32_t i = 0; i < spins; ++i) {
        const std::uint64_t v = a.load(std::memory_order_acquire);
        if (v != old) {
            if (st != nullptr) {
                st->polls += i + 1;
                if (timed) st->spin_ns += wait_clock_ns() - t0;
            }
            return v;
        }
        // Every 64th poll, offer the core to a runnable thread: when threads
        // outnumber cores, the peer we wait for may be queued behind us.
        if ((i & 63) == 63) {
            std::this_thread::yield();
        } else {
            cpu_relax();
        }
    }
    const std::uint64_t t1 = timed && spins != 0 ? wait_clock_ns() : t0;  // no spin phase: no second read
    if (st != nullptr) {
        st->polls += spins;
        st->spin_ns += t1 - t0;
        ++st->blocks;
    }
    for (;;) {
        a.wait(old, std::memory_order_acquire);
        const std::uint64_t v = a.load(std::memory_order_acquire);
        if (v != old) {  // wait() may return spuriously
            if (timed) st->block_ns += wait_clock_ns() - t1;
            return v;
        }
    }
}

/// Waits until `a` holds `want` (the value only grows, so "at least" is enough).
inline void await_at_least(const std::atomic<std::uint64_t>& a, std::uint64_t want, std::uint32_t spins,
                           WaitStats* st = nullptr) noexcept {
    std::uint64_t v = a.load(std::memory_order_acquire);
    while (v < want) v = await_change(a, v, spins, st);
}

}  // namespace detail
}  // namespace spill

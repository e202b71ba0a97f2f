// spill/detail/wait.hpp: spin briefly, then block on the futex behind std::atomic::wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "config.hpp"

namespace spill::detail {

/// Waits until `a` no longer holds `old` and returns the new value.
///
/// Spinning first keeps a back-to-back round trip off the futex (a wake-up
/// costs microseconds); blocking after `spins` attempts keeps an idle pool at
/// ~0% CPU (DESIGN.md section 5). The loads are acquire: the value waited for is
/// always a release store that publishes data (round arguments, a finished
/// round's ring), and this load is its pair.
inline std::uint64_t await_change(const std::atomic<std::uint64_t>& a, std::uint64_t old, std::uint32_t spins) noexcept {
    for (std::uint32_t i = 0; i < spins; ++i) {
        const std::uint64_t v = a.load(std::memory_order_acquire);
        if (v != old) return v;
        // Every 64th poll, offer the core to a runnable thread: when threads
        // outnumber cores, the peer we wait for may be queued behind us.
        if ((i & 63) == 63) {
            std::this_thread::yield();
        } else {
            cpu_relax();
        }
    }
    for (;;) {
        a.wait(old, std::memory_order_acquire);
        const std::uint64_t v = a.load(std::memory_order_acquire);
        if (v != old) return v;  // wait() may return spuriously
    }
}

/// Waits until `a` holds `want` (the value only grows, so "at least" is enough).
inline void await_at_least(const std::atomic<std::uint64_t>& a, std::uint64_t want, std::uint32_t spins) noexcept {
    std::uint64_t v = a.load(std::memory_order_acquire);
    while (v < want) v = await_change(a, v, spins);
}

}  // namespace spill::detail

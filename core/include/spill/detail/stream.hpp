// spill/detail/stream.hpp: writing a ring the way the core that reads it
// next reads it fastest: through the cache, or streamed to memory.
//
// A worker fills a ring that its collector, on another core, reads next.
// Written the usual way, each line of the ring sits modified in the
// worker's cache and the collector's reads fetch it from there. Written with
// non-temporal stores, the lines go to memory (write-combined, a whole line
// at a time) and the collector reads them from memory. Which is faster
// depends on how far apart the host put the two cores, and on a virtual
// machine that changes while the program runs. On a 2-vCPU AMD EPYC VM
// (family 26) on 2026-11-28, spill-micro's 1-producer fan-in with the ring
// written each way (handoff_ways/stream=never and =always; docs/design.md,
// section 4b, has the command): while a cache-line ping-pong took about
// 50-90 ns, rings of 65536 in rounds of 65536 moved 3.2-3.9 G items/s
// cached and 2.7-3.1 streamed, and ring 1024 in rounds of 512 2.3-2.5
// against 0.8-0.9; while the ping-pong took about 470-500 ns, 1.1 G cached
// against 2.9-3.3 streamed, and 0.52-0.61 against 0.57-0.61. No constant
// choice is right on such a host, so the collector learns it for each
// worker (StreamChooser).
//
// No atomics here: a ring's `streams` flag travels with the ring through
// the pool's handoff (handoff.hpp: the collector sets it before the release
// that hands the ring back, the worker reads it after the acquire that takes
// it), and a streamed run ends with a store fence (stream_fence), so the
// release store that publishes the ring is ordered after the streamed items
// as it is after ordinary stores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace spill {

/// How a pool's workers write the runs of their push_n calls
/// (PoolBuilder::streaming).
enum class Streaming : std::uint8_t {
    adaptive,  ///< each worker's collector measures both ways and keeps the faster (the default)
    never,     ///< always through the cache
    always,    ///< always streamed to memory, where the item type allows it
};

namespace detail {

/// Whether this build can stream stores: x86-64 (SSE2's movnti is in every
/// x86-64 CPU), and not under AddressSanitizer or ThreadSanitizer, which do
/// not instrument a store made by that instruction and would check nothing
/// of it.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
inline constexpr bool can_stream_stores = true;
#else
inline constexpr bool can_stream_stores = false;
#endif

/// Items a ring can stream: trivially copyable whole 8-byte words, aligned
/// to 8 (each word is one non-temporal store).
template <class T>
inline constexpr bool streamable =
    can_stream_stores && std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0 && alignof(T) % 8 == 0;

/// Writes a copy of `v` at `out` with non-temporal stores (the object's
/// lifetime begins as with memcpy into storage: T is trivially copyable).
template <class T>
    requires streamable<T>
inline void stream_store(T* out, const T& v) noexcept {
#if defined(__x86_64__)
    long long words[sizeof(T) / 8];
    std::memcpy(words, &v, sizeof(T));
    auto* dst = reinterpret_cast<long long*>(out);
    for (std::size_t i = 0; i < sizeof(T) / 8; ++i) __builtin_ia32_movnti64(dst + i, words[i]);
#else
    (void)out;
    (void)v;
#endif
}

/// Orders every streamed store before any later store: non-temporal stores
/// are weakly ordered, so without it the release store that publishes a
/// ring could become visible before the items.
inline void stream_fence() noexcept {
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#endif
}

/// A cheap monotonic tick of the calling thread (the TSC on x86-64): the
/// chooser only compares ticks read by one thread, so the unit does not
/// matter, and it reads one per batch taken.
inline std::uint64_t stream_ticks() noexcept {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return 0;
#endif
}

/// One worker's choice between cached and streamed rings, owned by its
/// collector (no atomics). The collector asks streams_next() how to mark
/// each empty ring it hands back (the way the worker will fill it), calls
/// handed() once the hand-back succeeded, and took() for each ring it takes
/// (how it was written, its items, and a clock it reads only when needed).
///
/// Pace: items taken per tick over intervals between two consecutive takes
/// of rings written the same way (an interval that ends a ring of the other
/// way says nothing about either). The current way's pace is measured over
/// blocks of `block` such intervals, with one clock read per block (a read
/// of the TSC costs tens of cycles, a noticeable share of a small round);
/// a block that a ring of the other way interrupts is dropped. Outside
/// trials every ring is written the current way. A trial writes `trial`
/// consecutive rings the other way, each take of them read on the clock;
/// once `trial - 1` of its intervals are measured, the other way becomes
/// current if its pace beats the current way's, over the blocks since the
/// last decision, by more than an eighth (a margin against noise). Whatever
/// the decision, both paces start over.
///
/// What a trial costs: on the host above, a streamed ring where the cached
/// way is right took up to 3x as long, and the reverse up to 3x too. So
/// trials back off: `first_gap` rings after a switch, twice the gap after
/// each trial that kept the current way, up to `max_gap` (a trial then
/// costs well under 1% of the rings). A change of placement shows as a drop
/// of the current way's pace: when two consecutive blocks both run at less
/// than half the pace of the last decision, the next trial comes at once
/// (the gap stays: a false alarm costs one trial). A pace that rises needs
/// no trial: the current way got better. Every constant here is a count of
/// rings or a ratio of two paces measured on the running host; none is a
/// time.
struct StreamChooser {
    static constexpr std::uint32_t trial = 4;
    static constexpr std::uint64_t first_gap = 64;
    static constexpr std::uint64_t max_gap = 4096;
    static constexpr std::uint32_t block = 32;

    /// Items and ticks summed over intervals.
    struct Pace {
        std::uint64_t items = 0;
        std::uint64_t ticks = 0;
        std::uint32_t intervals = 0;
        /// Items per tick (0 when nothing was measured).
        [[nodiscard]] double rate() const noexcept {
            return ticks == 0 ? 0.0 : static_cast<double>(items) / static_cast<double>(ticks);
        }
    };

    Streaming mode = Streaming::never;
    bool current = false;                ///< the way rings are written outside trials: streamed when true
    std::uint64_t handed_n = 0;          ///< rings handed back so far
    std::uint64_t trial_at = first_gap;  ///< the first ring of the next trial
    std::uint64_t gap = first_gap;       ///< rings from a decision to the next trial
    Pace cur;    ///< the current way: the blocks measured since the last decision
    Pace other;  ///< the other way, in this trial
    bool other_open = false;        ///< the last take was of the other way, at `other_tick`
    std::uint64_t other_tick = 0;
    std::uint32_t blk_takes = 0;    ///< takes of the current way in the open block (0: none open)
    std::uint64_t blk_items = 0;    ///< items of its takes after the first
    std::uint64_t blk_tick = 0;     ///< the clock at its first take
    std::uint32_t odd_blocks = 0;   ///< consecutive blocks under half of `decided_rate`
    double decided_rate = 0.0;      ///< the winning way's pace at the last decision (0: none yet)
    std::uint64_t switches = 0;     ///< decisions that changed the current way
    std::uint64_t trials = 0;       ///< trials decided

    /// Whether the next ring handed back is to be streamed.
    [[nodiscard]] bool streams_next() const noexcept {
        if (mode != Streaming::adaptive) return mode == Streaming::always;
        const bool trying = handed_n >= trial_at && handed_n < trial_at + trial;
        return trying != current;
    }
    /// The ring marked by streams_next() was handed back.
    void handed() noexcept {
        if (mode != Streaming::adaptive) return;
        ++handed_n;
        // A trial whose rings did not come back one after another (a merge
        // back put a ring of the other way between them) never measures
        // its intervals; every ring of it has been taken once a pool's
        // three rings have gone round again, so it is dropped and retried
        // a gap later.
        if (handed_n > trial_at + 2 * trial && other.intervals + 1 < trial) {
            other = Pace{};
            other_open = false;
            trial_at = handed_n + gap;
        }
    }
    /// A ring written `streamed`, holding `n` items, was just taken;
    /// `clock()` reads the tick of the take (called only when needed; an
    /// adaptive choice alone measures). Returns whether this take decided a
    /// trial (`trials`, perhaps `switches`, changed).
    template <class Clock>
    bool took(bool streamed, std::uint64_t n, Clock&& clock) noexcept {
        if (mode != Streaming::adaptive) return false;
        if (streamed != current) {  // a ring of a trial
            blk_takes = 0;          // the open block is interrupted
            const std::uint64_t t = clock();
            if (other_open && t > other_tick) {
                other.items += n;
                other.ticks += t - other_tick;
                ++other.intervals;
            }
            other_open = true;
            other_tick = t;
            if (other.intervals + 1 < trial) return false;
            decide();
            return true;
        }
        other_open = false;
        if (blk_takes == 0) {  // opens a block
            blk_tick = clock();
            blk_items = 0;
            blk_takes = 1;
            return false;
        }
        blk_items += n;
        if (++blk_takes <= block) return false;
        const std::uint64_t t = clock();  // closes the block, and opens the next at the same take
        if (t > blk_tick) close_block(t - blk_tick);
        blk_tick = t;
        blk_items = 0;
        blk_takes = 1;
        return false;
    }

private:
    void close_block(std::uint64_t ticks) noexcept {
        cur.items += blk_items;
        cur.ticks += ticks;
        cur.intervals += block;
        const double r = static_cast<double>(blk_items) / static_cast<double>(ticks);
        odd_blocks = decided_rate > 0.0 && 2.0 * r < decided_rate ? odd_blocks + 1 : 0;
        if (odd_blocks >= 2 && handed_n < trial_at) {  // the current way slowed down: try the other now
            odd_blocks = 0;
            trial_at = handed_n;
        }
    }

    void decide() noexcept {
        ++trials;
        // other > 9/8 cur, compared crosswise (no division by a zero pace).
        const bool better = cur.intervals != 0 && other.ticks != 0 &&
                            static_cast<double>(other.items) * static_cast<double>(cur.ticks) * 8.0 >
                                static_cast<double>(cur.items) * static_cast<double>(other.ticks) * 9.0;
        if (better) {
            current = !current;
            ++switches;
            decided_rate = other.rate();
            gap = first_gap;
        } else {
            decided_rate = cur.intervals != 0 ? cur.rate() : decided_rate;
            gap = gap * 2 < max_gap ? gap * 2 : max_gap;
        }
        trial_at = handed_n + gap;
        cur = Pace{};
        other = Pace{};
        other_open = false;
        blk_takes = 0;
        odd_blocks = 0;
    }
};

}  // namespace detail
}  // namespace spill

// spill/detail/config.hpp: the one cache-line constant and small portability helpers.
#pragma once

#include <cstddef>
#include <new>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace spill {

/// Size that separates fields written by different threads.
///
/// Why 128 and not 64: x86 cores prefetch cache lines in adjacent pairs (the
/// "spatial prefetcher" pulls the 128-byte aligned pair), so two hot fields 64
/// bytes apart still ping-pong between cores; Apple M-series and some POWER
/// parts have 128-byte lines outright. GCC's
/// `std::hardware_destructive_interference_size` is 64 on x86-64 and changes
/// with `-mtune`, which would make the layout (and the ABI of every type that
/// uses it) depend on compiler flags, so the project defines the value once.
inline constexpr std::size_t cache_line = 128;

namespace detail {

/// Stride for touching memory once per page: the smallest page size of the
/// platforms spill runs on. Where pages are larger, a page is touched more
/// than once, which costs a few stores and changes nothing.
inline constexpr std::size_t min_page_bytes = 4096;

/// Asks the cache for the first `bytes` (at most prefetch_head_bytes) of
/// `p`, one request per 64-byte line (the line a prefetch fetches on the
/// cores spill runs on; cache_line above is the distance that keeps two
/// writers apart, not this). A hint: no effect on what the program computes.
///
/// Why: a collector that takes a batch another core just wrote reads it
/// with a loop that keeps only as many of that core's lines in flight as
/// its out-of-order window reaches, and the hardware prefetcher starts
/// afresh on each batch; asking for the head at once overlaps those first
/// transfers. WorkerPool does it on each batch it takes (worker_pool.hpp
/// says what it measured).
inline constexpr std::size_t prefetch_head_bytes = 4096;
inline void prefetch_head(const void* p, std::size_t bytes) noexcept {
    const char* c = static_cast<const char*>(p);
    const std::size_t n = bytes < prefetch_head_bytes ? bytes : prefetch_head_bytes;
#pragma GCC unroll 16
    for (std::size_t i = 0; i < n; i += 64) __builtin_prefetch(c + i, 0, 3);
}

/// One spin-wait hint: tells the core we are in a busy-wait loop so it yields
/// pipeline resources to the sibling hyper-thread and avoids the memory-order
/// machine clear when the awaited line finally changes.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#else
    // No hint available: an empty statement keeps the loop correct.
#endif
}

}  // namespace detail
}  // namespace spill

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

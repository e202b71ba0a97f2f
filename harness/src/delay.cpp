// harness/src/delay.cpp: the consumer delays (platform.hpp), apart from the
// rest of the platform layer so that the Verifier (verifier.cpp) and the
// tests that link it need neither hwloc nor PAPI.
#include <time.h>

#include "platform.hpp"

namespace spill::bench {

std::uint64_t now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

void busy_wait_ns(std::uint64_t ns) noexcept {
    if (ns == 0) return;
    const std::uint64_t end = now_ns() + ns;
    while (now_ns() < end) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

void block_ns(std::uint64_t ns) noexcept {
    if (ns == 0) return;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ns / 1000000000ull);
    ts.tv_nsec = static_cast<long>(ns % 1000000000ull);
    while (nanosleep(&ts, &ts) != 0) {
    }
}

}  // namespace spill::bench

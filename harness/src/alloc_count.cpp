// harness/src/alloc_count.cpp: a counting global operator new for spill-bench.
// Linked into the spill-bench binary only, so every heap allocation of the
// process (any thread, any library using operator new) is counted and a
// point can report the allocations of its measured phase.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <optional>

#include "platform.hpp"

namespace {
// relaxed: a pure event counter; readers take it at the edges of the
// measured phase, after the threads that allocate were joined or between
// rounds, so only the total matters, not its order with other memory.
std::atomic<std::uint64_t> g_allocations{0};

void* counted(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (n == 0) n = 1;
    if (void* p = std::malloc(n)) return p;
    throw std::bad_alloc();
}
void* counted_aligned(std::size_t n, std::align_val_t al) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    const auto a = static_cast<std::size_t>(al);
    std::size_t size = (n + a - 1) / a * a;
    if (size == 0) size = a;
    if (void* p = std::aligned_alloc(a, size)) return p;
    throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted(n); }
void* operator new[](std::size_t n) { return counted(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_aligned(n, a); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted(n);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace spill::bench {
std::optional<std::uint64_t> allocations_so_far() noexcept { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace spill::bench

// The global allocation functions of every program that watches its heap
// (alloc_counter.hpp): each form the standard lets a program replace (plain,
// array, nothrow, aligned, aligned nothrow; every matching delete), on malloc,
// aligned_alloc and free, so an allocation and its release never take
// different paths (AddressSanitizer checks that they match). Each allocation
// first calls the installed hook (which may throw std::bad_alloc to fail it:
// the nothrow forms then return null), then is counted.
#include "alloc_counter.hpp"

#include <cstddef>
#include <cstdlib>
#include <new>

namespace spill::test {
namespace {
// relaxed: a pure event counter; tests read it after joining or after a
// release/acquire handoff with the threads that allocate.
std::atomic<std::uint64_t> allocations{0};
// Set once, during a program's static initialisation or at the start of main,
// before the threads that allocate exist: relaxed is enough, the thread start
// orders it before their loads.
std::atomic<AllocHook> hook{nullptr};
}  // namespace

std::uint64_t allocations_total() noexcept { return allocations.load(std::memory_order_relaxed); }
void set_alloc_hook(AllocHook h) noexcept { hook.store(h, std::memory_order_relaxed); }

}  // namespace spill::test

namespace {
void* allocate(std::size_t size, std::size_t align) {
    if (spill::test::AllocHook h = spill::test::hook.load(std::memory_order_relaxed)) h(size);
    spill::test::allocations.fetch_add(1, std::memory_order_relaxed);
    if (size == 0) size = 1;
    void* p = align <= alignof(std::max_align_t) ? std::malloc(size) : std::aligned_alloc(align, (size + align - 1) / align * align);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}
void* allocate_nothrow(std::size_t size, std::size_t align) noexcept {
    try {
        return allocate(size, align);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
constexpr std::size_t plain = alignof(std::max_align_t);
std::size_t bytes(std::align_val_t a) noexcept { return static_cast<std::size_t>(a); }
}  // namespace

void* operator new(std::size_t n) { return allocate(n, plain); }
void* operator new[](std::size_t n) { return allocate(n, plain); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate_nothrow(n, plain); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate_nothrow(n, plain); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, bytes(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, bytes(a)); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return allocate_nothrow(n, bytes(a)); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return allocate_nothrow(n, bytes(a)); }

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

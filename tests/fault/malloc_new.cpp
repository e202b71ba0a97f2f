// See malloc_new.hpp.
#include "malloc_new.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace spill::fault {
namespace {
// Set once, during a test program's static initialisation or at the start of
// main, before the threads that allocate exist: relaxed is enough, the
// thread start orders it before their loads.
std::atomic<AllocHook> alloc_hook{nullptr};
}  // namespace

void set_alloc_hook(AllocHook hook) noexcept { alloc_hook.store(hook, std::memory_order_relaxed); }

}  // namespace spill::fault

namespace {
void* allocate(std::size_t n) {
    if (spill::fault::AllocHook hook = spill::fault::alloc_hook.load(std::memory_order_relaxed)) hook(n);
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void* allocate_nothrow(std::size_t n) noexcept {
    try {
        return allocate(n);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
}  // namespace

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate_nothrow(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate_nothrow(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

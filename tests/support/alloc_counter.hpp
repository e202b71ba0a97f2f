// The heap as a test sees it: the program's global operator new
// (alloc_counter.cpp, the static library `alloc_counter`) counts every
// allocation, of every thread, so tests can prove "zero allocations in steady
// state", and calls a hook first, through which a fault test watches or fails
// allocations.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace spill::test {

/// Allocations by every thread since the program started.
std::uint64_t allocations_total() noexcept;

/// Counts allocations (all threads) between construction and `count()`.
class AllocationScope {
public:
    AllocationScope() noexcept : start_(allocations_total()) {}
    [[nodiscard]] std::uint64_t count() const noexcept { return allocations_total() - start_; }

private:
    std::uint64_t start_;
};

/// Called with the size of every allocation through operator new, before it
/// is made; it may throw std::bad_alloc to fail it (the nothrow forms then
/// return null). Null: no hook.
using AllocHook = void (*)(std::size_t bytes);

/// Installs `hook` for every thread (the previous one is replaced). Install
/// it before the threads that allocate start.
void set_alloc_hook(AllocHook hook) noexcept;

}  // namespace spill::test

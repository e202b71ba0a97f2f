// Counts heap allocations made through global operator new, per thread and in
// total, so tests can prove "zero allocations in steady state".
#pragma once

#include <atomic>
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

}  // namespace spill::test

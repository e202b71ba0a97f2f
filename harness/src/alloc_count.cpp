// harness/src/alloc_count.cpp: spill-bench's view of the counting global
// operator new (tests/support/alloc_counter.cpp, linked into spill-bench), so
// a point can report the heap allocations of its measured phase.
#include <cstdint>
#include <optional>

#include "alloc_counter.hpp"
#include "platform.hpp"

namespace spill::bench {
std::optional<std::uint64_t> allocations_so_far() noexcept { return spill::test::allocations_total(); }
}  // namespace spill::bench

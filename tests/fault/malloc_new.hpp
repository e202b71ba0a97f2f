// The global operator new and delete of a fault test program: every form
// (plain, array, sized, nothrow) on malloc and free, so no allocation and its
// release ever take different paths (AddressSanitizer checks that they
// match), with one hook the test sets to watch or fail allocations. Linked
// only into the tests that need it (tests/fault/meson.build).
#pragma once

#include <cstddef>

namespace spill::fault {

/// Called with the size of every allocation through operator new, before it
/// is made; it may throw std::bad_alloc to fail it (the nothrow forms then
/// return null). Null: no hook.
using AllocHook = void (*)(std::size_t bytes);

/// Installs `hook` for every thread (the previous one is replaced).
void set_alloc_hook(AllocHook hook) noexcept;

}  // namespace spill::fault

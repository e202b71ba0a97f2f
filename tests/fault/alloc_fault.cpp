// The global operator new of the fault_spouts test: plain malloc, except
// that inside an AllocFaults scope the plan's failing call throws.
#include "alloc_fault.hpp"

#include <cstdlib>
#include <new>

namespace spill::fault {
namespace {
thread_local Plan* armed = nullptr;  // this thread's plan, if a scope is alive
}  // namespace

AllocFaults::AllocFaults(Plan* plan) noexcept : previous_(armed) { armed = plan; }
AllocFaults::~AllocFaults() { armed = previous_; }

}  // namespace spill::fault

namespace {
void* allocate(std::size_t n) {
    using spill::fault::armed;
    if (armed != nullptr && armed->next_fails() && armed->mode == spill::fault::Mode::throws) {
        armed->fire();
        throw std::bad_alloc();
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

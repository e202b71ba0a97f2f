// Allocation faults for the fault_spouts test, through the test program's
// operator new (tests/support/alloc_counter.cpp): inside an AllocFaults scope the plan's
// failing call throws.
#include "alloc_fault.hpp"

#include <new>

#include "alloc_counter.hpp"

namespace spill::fault {
namespace {
thread_local Plan* armed = nullptr;  // this thread's plan, if a scope is alive

void fail_as_planned(std::size_t) {
    if (armed != nullptr && armed->next_fails() && armed->mode == Mode::throws) {
        armed->fire();
        throw std::bad_alloc();
    }
}

// Installed before main (this file is linked only into that test).
const bool installed = (spill::test::set_alloc_hook(&fail_as_planned), true);
}  // namespace

AllocFaults::AllocFaults(Plan* plan) noexcept : previous_(armed) { armed = plan; }
AllocFaults::~AllocFaults() { armed = previous_; }

}  // namespace spill::fault

// Allocation faults: while an AllocFaults scope is alive on a thread, every
// heap allocation that thread makes through operator new is a call of the
// scope's plan, and the failing one throws std::bad_alloc (plans in mode
// `throws`; the other modes do not apply to an allocation). Linked only into
// the test that uses it, with the alloc_counter library (the program's operator new).
#pragma once

#include "fault_util.hpp"

namespace spill::fault {

class AllocFaults {
public:
    /// `plan` may be null: then the scope does nothing.
    explicit AllocFaults(Plan* plan) noexcept;
    ~AllocFaults();
    AllocFaults(const AllocFaults&) = delete;
    AllocFaults& operator=(const AllocFaults&) = delete;

private:
    Plan* previous_;
};

}  // namespace spill::fault

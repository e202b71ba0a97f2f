// The CPUs a test may run on, for specifications that pin threads (Linux).
#pragma once

#include <sched.h>

#include <vector>

namespace spill::test {

/// The CPUs in the calling thread's affinity mask, in increasing order
/// (empty if the mask cannot be read).
inline std::vector<int> usable_cpus() {
    std::vector<int> out;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) out.push_back(c);
    }
    return out;
}

}  // namespace spill::test

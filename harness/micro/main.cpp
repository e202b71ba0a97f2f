// harness/micro/main.cpp: spill-micro, the Google Benchmark micro-benchmarks
// of the spill primitives, the reference loops they are judged against, and
// the baseline queues. analysis/perf_targets.py turns a JSON run into the
// performance targets, each a ratio of medians measured in the same run.
#include <cstdio>
#include <vector>

#include "common.hpp"

int main(int argc, char** argv) {
    {
        // The allocation counter must be live, or allocs_per_round would pass vacuously.
        const std::uint64_t before = spill::micro::allocations();
        std::vector<int> probe(1000);
        benchmark::DoNotOptimize(probe.data());
        if (spill::micro::allocations() == before) {
            std::fprintf(stderr, "spill-micro: the counting operator new is not in use; allocs_per_round would be meaningless\n");
            return 1;
        }
    }
    spill::micro::register_ring();
    spill::micro::register_round_trips();
    spill::micro::register_fanin();
    spill::micro::register_baselines();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

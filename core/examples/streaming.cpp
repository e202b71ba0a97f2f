// streaming.cpp: streaming collection, collecting while the workers still run.
//
// Worker 0 finishes its share of each round at once; worker 1 is slow. The
// owner calls collect() right after dispatch() and gets worker 0's items
// while worker 1 is still working, then join()s and collects the rest.
// Collected rings go back to their workers (the triple buffer closes), so
// the loop allocates nothing after the first rounds.
//
// Usage: streaming [rounds=20]
// Exit status 0 only if every round streamed early and nothing was lost.
#include <spill/spill.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
    if (rounds <= 0) {
        std::fprintf(stderr, "streaming: rounds must be a positive integer\n");
        return 2;
    }
    using namespace std::chrono_literals;
    auto pool = spill::pool<int, 256>(2).spawn<int>([](auto& ring, std::size_t w, const int& round) {
        if (w == 1) std::this_thread::sleep_for(5ms);  // the slow worker
        for (int i = 0; i < 100; ++i) ring.push(round * 1000 + i);
    });

    spill::CollectSpout<int> out;
    int streamed_rounds = 0;
    for (int r = 1; r <= rounds; ++r) {
        pool.dispatch(r);  // returns at once
        // Poll until worker 0's batch shows up (or the round ends anyway).
        std::size_t early = 0;
        for (int tries = 0; tries < 200 && early == 0 && pool.in_flight(); ++tries) {
            early = pool.collect(out);
            if (early == 0) std::this_thread::sleep_for(50us);
        }
        pool.join();                            // reports a failed worker, if any
        const std::size_t late = pool.collect(out);  // the slow worker's items
        if (early == 100 && late == 100) ++streamed_rounds;
        if (r <= 3) std::printf("round %d: %zu items collected while running, %zu after join\n", r, early, late);
    }
    const bool complete = out.size() == static_cast<std::size_t>(rounds) * 200;
    std::printf("streaming: %d of %d rounds delivered half their items before join; %zu items in total (%s)\n",
                streamed_rounds, rounds, out.size(), complete ? "complete" : "INCOMPLETE");
    // On a loaded machine a round may not stream early; most must.
    return complete && streamed_rounds * 2 > rounds ? 0 : 1;
}

// backpressure.cpp: backpressure, what a slow consumer does to the pool.
//
//     output spout slow                       (here: a spout that sleeps)
//       -> collect() takes longer             (a collector thread drains a FanInSpout)
//         -> slots stay full                  (the last batch was not taken yet)
//           -> the worker merges back         (stats(w).merge_backs)
//             -> the merged ring fills        (capacity N)
//               -> the overflow spout fires   (CountingSpout: how many were evicted)
//
// Nothing is lost on any path: the example checks produced == delivered +
// overflowed exactly, and that each worker's items stay in order in both
// the delivered and the overflow streams.
//
// Usage: backpressure [rounds=300] [consumer_sleep_us_per_16_items=200]
#include <spill/spill.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t workers = 3;
constexpr std::uint64_t per_round = 24;

/// Items carry (worker, sequence) so FIFO can be checked per worker.
constexpr std::uint64_t item(std::uint64_t w, std::uint64_t seq) { return (w << 48) | seq; }
constexpr std::uint64_t worker_of(std::uint64_t x) { return x >> 48; }
constexpr std::uint64_t seq_of(std::uint64_t x) { return x & ((std::uint64_t{1} << 48) - 1); }

/// The slow output: keeps the items, sleeps every 16.
struct SlowSpout {
    std::vector<std::uint64_t>* out;
    std::chrono::microseconds nap;
    void send(std::uint64_t x) {
        out->push_back(x);
        if (out->size() % 16 == 0) std::this_thread::sleep_for(nap);
    }
    void flush() noexcept {}
};

bool fifo(const std::vector<std::uint64_t>& v, std::uint64_t w_only = ~std::uint64_t{0}) {
    std::vector<std::uint64_t> next(workers, 0);
    for (std::uint64_t x : v) {
        const std::uint64_t w = worker_of(x);
        if (w >= workers || (w_only != ~std::uint64_t{0} && w != w_only) || seq_of(x) < next[w]) return false;
        next[w] = seq_of(x) + 1;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const long rounds = argc > 1 ? std::atol(argv[1]) : 300;
    const long nap_us = argc > 2 ? std::atol(argv[2]) : 200;
    if (rounds <= 0 || nap_us < 0) {
        std::fprintf(stderr, "backpressure: usage: backpressure [rounds>0] [sleep_us>=0]\n");
        return 2;
    }
    using Overflow = spill::CountingSpout<spill::CollectSpout<std::uint64_t>>;
    auto pool = spill::pool<std::uint64_t, 32>(workers)
                    .overflow([](std::size_t) { return Overflow{}; })
                    .spawn<std::uint64_t>([](auto& ring, std::size_t w, const std::uint64_t& r) {
                        for (std::uint64_t i = 0; i < per_round; ++i) ring.push(item(w, (r - 1) * per_round + i));
                    });

    std::vector<std::uint64_t> delivered;
    auto fan = pool.fan_in(SlowSpout{&delivered, std::chrono::microseconds(nap_us)});
    std::atomic<bool> done{false};  // (A) release after the last round / (B) acquire in the collector
    std::thread collector([&] {
        for (;;) {
            const bool last = done.load(std::memory_order_acquire);  // (B)
            fan.flush();
            if (last) return;  // this flush saw every published batch
        }
    });
    for (std::uint64_t r = 1; r <= static_cast<std::uint64_t>(rounds); ++r) pool.run(r);  // producers at full speed
    done.store(true, std::memory_order_release);  // (A)
    collector.join();

    const std::uint64_t produced = workers * per_round * static_cast<std::uint64_t>(rounds);
    std::uint64_t overflowed = 0, merge_backs = 0, merged = 0;
    bool ok = fifo(delivered);
    for (std::size_t w = 0; w < workers; ++w) {
        overflowed += pool.overflow(w).count();
        merge_backs += pool.stats(w).merge_backs;
        merged += pool.stats(w).merged_items;
        ok = ok && fifo(pool.overflow(w).inner().items(), w);
    }
    std::printf("backpressure: %zu workers, ring of 32, %ld rounds of %llu items each, consumer sleeps %ld us per 16 items\n",
                workers, rounds, static_cast<unsigned long long>(per_round), nap_us);
    std::printf("  merge backs %llu (%llu items merged), evicted to overflow %llu\n", static_cast<unsigned long long>(merge_backs),
                static_cast<unsigned long long>(merged), static_cast<unsigned long long>(overflowed));
    std::printf("  produced %llu = delivered %zu + overflowed %llu: %s\n", static_cast<unsigned long long>(produced), delivered.size(),
                static_cast<unsigned long long>(overflowed), produced == delivered.size() + overflowed ? "OK" : "VIOLATED");
    std::printf("  per-worker FIFO in both streams: %s\n", ok ? "OK" : "VIOLATED");
    return ok && produced == delivered.size() + overflowed ? 0 : 1;
}

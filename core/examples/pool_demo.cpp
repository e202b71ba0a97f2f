// pool_demo.cpp: the thread-per-core pool at full speed, with its books balanced.
//
// W workers each push `items` integers per round into their own ring; the
// owner streams the published batches out with dispatch / collect / join and
// counts them. Prints the throughput and checks conservation:
// produced == delivered + overflowed, exactly.
//
// Usage: pool_demo [workers=2] [rounds=2000] [items_per_worker_per_round=1000]
// Exit status 0 only if the conservation check holds.
#include <spill/spill.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::size_t arg(int argc, char** argv, int i, std::size_t fallback) {
    if (argc <= i) return fallback;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(argv[i], &end, 10);
    if (end == argv[i] || *end != '\0' || v == 0) {
        std::fprintf(stderr, "pool_demo: argument %d must be a positive integer, got '%s'\n", i, argv[i]);
        std::exit(2);
    }
    return static_cast<std::size_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t workers = arg(argc, argv, 1, 2);
    const std::size_t rounds = arg(argc, argv, 2, 2000);
    const std::size_t items = arg(argc, argv, 3, 1000);

    // Each worker's overflow spout counts what its ring evicts. The ring holds
    // a few rounds, so nothing overflows while the collector keeps up; a
    // round published after the last collect waits (or merges back) until the next.
    auto pool = spill::pool<std::uint64_t, 4096>(workers)
                    .overflow([](std::size_t) { return spill::CountingSpout<>{}; })
                    .spawn<std::size_t>([](auto& ring, std::size_t w, const std::size_t& n) {
                        for (std::size_t i = 0; i < n; ++i) ring.push((std::uint64_t{w} << 48) | i);
                    });

    spill::CountingSpout<> out;  // counts and drops: we measure the pool, not a sink
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < rounds; ++r) {
        pool.dispatch(items);
        pool.collect(out);  // whatever is already published, while workers run
        pool.join();
    }
    pool.collect(out);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const std::uint64_t produced = std::uint64_t{workers} * rounds * items;
    std::uint64_t overflowed = 0, merge_backs = 0;
    for (std::size_t w = 0; w < workers; ++w) {
        overflowed += pool.overflow(w).count();
        merge_backs += pool.stats(w).merge_backs;
    }
    std::printf("pool_demo: %zu workers, %zu rounds, %zu items per worker per round\n", workers, rounds, items);
    std::printf("  %.3f s, %.2f M items/s, %.1f us per round\n", seconds, static_cast<double>(produced) / seconds / 1e6,
                seconds * 1e6 / static_cast<double>(rounds));
    std::printf("  produced %llu = delivered %llu + overflowed %llu (merge backs %llu)\n",
                static_cast<unsigned long long>(produced), static_cast<unsigned long long>(out.count()),
                static_cast<unsigned long long>(overflowed), static_cast<unsigned long long>(merge_backs));
    const bool ok = produced == out.count() + overflowed;
    std::printf("  conservation: %s\n", ok ? "OK" : "VIOLATED");
    return ok ? 0 : 1;
}

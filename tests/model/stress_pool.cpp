// Stress test of the WorkerPool handoff, meant to run under ThreadSanitizer
// (.ci/sanitizers) as well as natively: many rounds with random delays,
// throwing tasks, streaming collection, merge back (tiny rings, infrequent
// collection) and mergers on their own threads. Every scenario checks
// conservation (each produced item is delivered or overflowed exactly once)
// and per-worker FIFO of the delivered and of the overflow stream; the ordered ones also check
// the exact (round, worker, push order) of docs/design.md, section 6.
//
// SPILL_STRESS_ROUNDS sets the rounds of the main scenario (default 100000);
// the others run a quarter of it each.
#include <chrono>
#include <catch2/catch.hpp>

#include <spill/spill.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <span>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t workers = 3;
constexpr std::uint64_t max_items_per_round = 24;  // > ring capacity: rings evict

// An item: (round, worker, index within the round), ordered lexicographically.
constexpr std::uint64_t make_item(std::uint64_t round, std::uint64_t worker, std::uint64_t idx) {
    return (round << 24) | (worker << 16) | idx;
}
constexpr std::uint64_t round_of(std::uint64_t item) { return item >> 24; }
constexpr std::uint64_t worker_of(std::uint64_t item) { return (item >> 16) & 0xff; }

std::uint64_t stress_rounds() {
    if (const char* s = std::getenv("SPILL_STRESS_ROUNDS"); s != nullptr && *s != '\0') return std::stoull(s);
    return 100000;
}

// splitmix64: deterministic per (round, worker) so a run is reproducible in
// what it produces (the interleaving is not).
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct Plan {
    std::uint64_t items;
    bool throws;  // throws after pushing `items`
    std::uint32_t delay;
};
Plan plan(std::uint64_t round, std::size_t worker) {
    const std::uint64_t h = mix(round * 131 + worker);
    return Plan{h % (max_items_per_round + 1), (h >> 20) % 16 == 0, static_cast<std::uint32_t>((h >> 32) % 256)};
}

void random_delay(std::uint32_t d) {
    if (d < 8) {
        std::this_thread::yield();
        return;
    }
    for (std::uint32_t i = 0; i < d; ++i) spill::detail::cpu_relax();
}

// The task shared by every scenario: pushes the planned items, waits a random
// while in the middle, and sometimes throws after pushing.
struct Task {
    template <class Ring>
    void operator()(Ring& ring, std::size_t worker, const std::uint64_t& round) const {
        const Plan p = plan(round, worker);
        for (std::uint64_t i = 0; i < p.items; ++i) {
            ring.push(make_item(round, worker, i));
            if (i == p.items / 2) random_delay(p.delay);
        }
        if (p.throws) throw std::runtime_error("planned failure");
    }
};

// What the run must have produced, per worker.
std::vector<std::uint64_t> expected_items(std::uint64_t rounds) {
    std::vector<std::uint64_t> all;
    for (std::uint64_t r = 1; r <= rounds; ++r)
        for (std::size_t w = 0; w < workers; ++w)
            for (std::uint64_t i = 0, n = plan(r, w).items; i < n; ++i) all.push_back(make_item(r, w, i));
    return all;
}
std::uint64_t expected_failures(std::uint64_t rounds) {
    std::uint64_t n = 0;
    for (std::uint64_t r = 1; r <= rounds; ++r)
        for (std::size_t w = 0; w < workers; ++w) n += plan(r, w).throws ? 1 : 0;
    return n;
}

// Conservation: delivered + overflowed is exactly the produced multiset.
void check_conservation(std::uint64_t rounds, const std::vector<std::uint64_t>& delivered,
                        const std::vector<std::uint64_t>& overflowed) {
    std::vector<std::uint64_t> got(delivered);
    got.insert(got.end(), overflowed.begin(), overflowed.end());
    std::sort(got.begin(), got.end());
    const std::vector<std::uint64_t> want = expected_items(rounds);  // already sorted
    REQUIRE(got.size() == want.size());
    REQUIRE(got == want);
}

// Per-worker FIFO: each worker's items arrive in push order.
void check_fifo(const std::vector<std::uint64_t>& delivered) {
    std::vector<std::uint64_t> last(workers, 0);
    std::vector<bool> any(workers, false);
    for (std::uint64_t x : delivered) {
        const std::size_t w = static_cast<std::size_t>(worker_of(x));
        REQUIRE(w < workers);
        if (any[w]) REQUIRE(x > last[w]);
        last[w] = x;
        any[w] = true;
    }
}

template <class Pool>
std::uint64_t join_counting_failures(Pool& pool) {
    try {
        pool.join();
    } catch (const spill::WorkerError& e) {
        return e.failures().size();
    }
    return 0;
}

template <class Pool>
std::vector<std::uint64_t> all_overflow(Pool& pool) {
    std::vector<std::uint64_t> out;
    for (std::size_t w = 0; w < workers; ++w) {
        auto& v = pool.overflow(w).items();
        out.insert(out.end(), v.begin(), v.end());
    }
    return out;
}

auto make_pool() {
    return spill::pool<std::uint64_t, 8>(workers)
        .overflow([](std::size_t) { return spill::CollectSpout<std::uint64_t>{}; })
        .spin_limit(std::chrono::microseconds(2))  // block on the futex soon: exercises the wait path too
        .spawn<std::uint64_t>(Task{});
}

// A sequenced sink that checks that a merger submits in increasing sequence order.
struct OrderCheckSink {
    std::vector<std::uint64_t>* items;
    std::uint64_t next_min = 0;
    bool any = false;
    bool open = false;  // the last part seen was not its batch's last
    std::size_t submit(std::uint64_t seq, std::span<std::uint64_t> part, bool last) {
        const bool continues = open && seq + 1 == next_min;
        if (any && seq < next_min && !continues)
            throw std::logic_error("sequence " + std::to_string(seq) + " submitted out of order");
        next_min = seq + 1;
        any = true;
        open = !last;
        items->insert(items->end(), part.begin(), part.end());
        return part.size();
    }
    void flush() {}
};

}  // namespace

TEST_CASE("stress: streaming collect with merge back and throwing tasks conserves every item in per-worker FIFO", "[stress]") {
    const std::uint64_t rounds = stress_rounds();
    auto pool = make_pool();
    spill::CollectSpout<std::uint64_t> out;
    std::uint64_t failures = 0;
    for (std::uint64_t r = 1; r <= rounds; ++r) {
        pool.dispatch(r);
        const std::uint64_t h = mix(r ^ 0xabcdef);
        if (h % 4 == 0) pool.collect(out);  // streaming, while the workers run
        if (h % 7 == 0) random_delay(static_cast<std::uint32_t>(h >> 40) % 256);
        failures += join_counting_failures(pool);
        if (h % 5 == 0) pool.collect(out);  // infrequent: leaves slots FRESH, forcing merge backs
    }
    pool.collect(out);
    CHECK(failures == expected_failures(rounds));
    std::uint64_t merges = 0;
    for (std::size_t w = 0; w < workers; ++w) merges += pool.stats(w).merge_backs;
    CHECK(merges > 0);
    check_fifo(out.items());
    check_fifo(all_overflow(pool));
    check_conservation(rounds, out.items(), all_overflow(pool));
}

TEST_CASE("stress: ordered streaming collect delivers (round, worker, push order) exactly", "[stress]") {
    const std::uint64_t rounds = std::max<std::uint64_t>(1, stress_rounds() / 4);
    auto pool = make_pool();
    spill::CollectSpout<std::uint64_t> out;
    for (std::uint64_t r = 1; r <= rounds; ++r) {
        pool.dispatch(r);
        const std::uint64_t h = mix(r ^ 0x1234567);
        if (h % 3 == 0) pool.collect_ordered(out);
        (void)join_counting_failures(pool);
        if (h % 5 == 0) pool.collect_ordered(out);
    }
    pool.collect_ordered(out);
    const auto& v = out.items();
    REQUIRE(std::is_sorted(v.begin(), v.end()));
    REQUIRE(std::adjacent_find(v.begin(), v.end()) == v.end());
    check_conservation(rounds, v, all_overflow(pool));
}

TEST_CASE("stress: mergers on their own threads drain disjoint slots and conserve every item", "[stress]") {
    const std::uint64_t rounds = std::max<std::uint64_t>(1, stress_rounds() / 4);
    auto pool = make_pool();
    std::vector<std::uint64_t> delivered;
    {
        auto mergers = pool.split_mergers(2, [](std::size_t) { return spill::CollectSpout<std::uint64_t>{}; });
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (auto& m : mergers) {
            threads.emplace_back([&m, &stop] {
                std::uint64_t i = 0;
                // relaxed: a stop flag only; the final collect below, after
                // join(), is what guarantees completeness.
                while (!stop.load(std::memory_order_relaxed)) {
                    m.flush();
                    random_delay(static_cast<std::uint32_t>(mix(++i) % 64));
                }
            });
        }
        for (std::uint64_t r = 1; r <= rounds; ++r) {
            pool.dispatch(r);
            (void)join_counting_failures(pool);
        }
        stop.store(true, std::memory_order_relaxed);
        for (auto& t : threads) t.join();
        for (auto& m : mergers) {
            m.flush();  // the rest, on this thread now that the merger threads are gone
            const auto& v = m.inner().items();
            check_fifo(v);
            for (std::uint64_t x : v) REQUIRE(worker_of(x) % 2 == m.index());  // only its own slots
            delivered.insert(delivered.end(), v.begin(), v.end());
        }
    }
    check_fifo(all_overflow(pool));
    check_conservation(rounds, delivered, all_overflow(pool));
}

TEST_CASE("stress: sequenced mergers submit their slots in (round, worker) order", "[stress]") {
    const std::uint64_t rounds = std::max<std::uint64_t>(1, stress_rounds() / 4);
    auto pool = make_pool();
    std::vector<std::uint64_t> got[2];
    std::vector<std::uint64_t> delivered;
    {
        auto mergers = pool.split_sequenced_mergers(2, [&got](std::size_t j) { return OrderCheckSink{&got[j]}; });
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (auto& m : mergers) {
            threads.emplace_back([&m, &stop] {
                std::uint64_t i = 0;
                while (!stop.load(std::memory_order_relaxed)) {  // relaxed: see above
                    m.flush();
                    random_delay(static_cast<std::uint32_t>(mix(++i) % 64));
                }
            });
        }
        for (std::uint64_t r = 1; r <= rounds; ++r) {
            pool.dispatch(r);
            (void)join_counting_failures(pool);
        }
        stop.store(true, std::memory_order_relaxed);
        for (auto& t : threads) t.join();
        for (auto& m : mergers) m.flush();
    }
    for (auto& v : got) {
        REQUIRE(std::is_sorted(v.begin(), v.end()));  // (round, worker, index) order within a merger
        delivered.insert(delivered.end(), v.begin(), v.end());
    }
    check_conservation(rounds, delivered, all_overflow(pool));
}

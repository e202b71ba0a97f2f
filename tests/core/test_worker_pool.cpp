// Specification of WorkerPool: run, streaming dispatch/collect/join (streaming
// collection), failures (docs/design.md, section 9), overflow inside a round, stats.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core_test_util.hpp"
#include "cpus.hpp"
#include "spill/spill.hpp"

using spill::test::DeterministicTask;
using spill::test::first_fifo_break;
using spill::test::Item;
using spill::test::make_item;
using spill::test::RoundArgs;
using spill::test::SpoutFailure;

namespace {

using namespace std::chrono_literals;

auto collecting_overflow() {
    return [](std::size_t) { return spill::CollectSpout<Item>{}; };
}

template <class Pool>
std::size_t overflowed(Pool& pool) {
    std::size_t n = 0;
    for (std::size_t w = 0; w < pool.workers(); ++w) n += pool.overflow(w).size();
    return n;
}

/// Sorts a copy by (worker, seq) so two deliveries can be compared as sets.
std::vector<Item> sorted(std::vector<Item> v) {
    std::sort(v.begin(), v.end(), [](const Item& a, const Item& b) { return a.worker != b.worker ? a.worker < b.worker : a.seq < b.seq; });
    return v;
}

/// Waits until `pred()` holds or `limit` passes; returns pred().
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return pred();
        std::this_thread::sleep_for(100us);
    }
    return true;
}

}  // namespace

TEST_CASE("worker_pool: run executes the task once per worker and every item is collected", "[pool]") {
    auto pool = spill::pool<Item, 64>(3).spawn<int>([](auto& ring, std::size_t w, const int& n) {
        for (int i = 0; i < n; ++i) ring.push(make_item(1, w, static_cast<std::uint32_t>(i)));
    });
    CHECK(pool.workers() == 3);
    CHECK(pool.ring_capacity() == 64);
    const int n = 10;
    pool.run(n);  // borrows n
    CHECK_FALSE(pool.in_flight());
    CHECK(pool.rounds() == 1);
    spill::CollectSpout<Item> out;
    CHECK(pool.collect(out) == 30);
    CHECK(first_fifo_break(out.items(), 3).empty());
    for (std::size_t w = 0; w < 3; ++w) {
        CHECK(std::count_if(out.items().begin(), out.items().end(), [&](const Item& i) { return i.worker == w; }) == 10);
        CHECK(pool.stats(w).rounds == 1);
        CHECK(pool.stats(w).recycle_hits == 1);
    }
    CHECK(pool.collect(out) == 0);  // nothing new
}

TEST_CASE("worker_pool: the entry MpscRing<T, N>::pool builds the same pool", "[pool]") {
    auto pool = spill::MpscRing<int, 16>::pool(2).spawn<int>([](auto& ring, std::size_t w, const int& base) {
        ring.push(base + static_cast<int>(w));
    });
    pool.run(100);
    spill::CollectSpout<int> out;
    pool.collect(out);
    std::vector<int> got = out.items();
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<int>{100, 101});
}

TEST_CASE("worker_pool: collect while workers run streams finished batches (Feature 1)", "[pool][streaming]") {
    // Worker 0 finishes at once; worker 1 waits on a gate that only opens
    // after the test has collected worker 0's items, which proves collect()
    // delivers while the round is still running.
    std::atomic<bool> gate{false};  // seq_cst: a one-shot flag, nothing else published through it
    auto pool = spill::pool<Item, 64>(2).spawn<int>([&](auto& ring, std::size_t w, const int& round) {
        if (w == 1)
            while (!gate.load()) std::this_thread::sleep_for(50us);
        for (std::uint32_t i = 0; i < 5; ++i) ring.push(make_item(static_cast<std::uint32_t>(round), w, i));
    });
    spill::CollectSpout<Item> out;
    for (int round = 1; round <= 3; ++round) {
        gate = false;
        pool.dispatch(round);
        CHECK(pool.in_flight());
        const bool streamed = eventually([&] {
            pool.collect(out);
            return std::count_if(out.items().begin(), out.items().end(),
                                 [&](const Item& i) { return i.worker == 0 && i.round == static_cast<std::uint32_t>(round); }) == 5;
        });
        REQUIRE(streamed);
        // Worker 1 is still blocked: none of its items for this round exist yet.
        CHECK(std::none_of(out.items().begin(), out.items().end(),
                           [&](const Item& i) { return i.worker == 1 && i.round == static_cast<std::uint32_t>(round); }));
        gate = true;
        pool.join();
        CHECK_FALSE(pool.in_flight());
        pool.collect(out);  // after join: the rest
        CHECK(out.size() == static_cast<std::size_t>(round) * 10);
    }
    CHECK(first_fifo_break(out.items(), 2).empty());
}

TEST_CASE("worker_pool: interleaved collect and run, collect between rounds and after join", "[pool][streaming]") {
    auto pool = spill::pool<Item, 256>(4).overflow(collecting_overflow()).spawn<RoundArgs>(DeterministicTask{});
    RoundArgs a{11, 0, 20, 0};
    spill::CollectSpout<Item> out;
    std::uint32_t r = 0;
    for (int cycle = 0; cycle < 50; ++cycle) {
        a.round = ++r;
        pool.run(a);
        if (cycle % 3 != 2) pool.collect(out);  // some rounds are left uncollected (merge back)
        a.round = ++r;
        pool.dispatch(a);
        pool.collect(out);
        pool.join();
        if (cycle % 2 == 0) pool.collect(out);
    }
    pool.collect(out);
    const auto expected = spill::test::replay(RoundArgs{11, 0, 20, 0}, 1, r, 4);
    CHECK(overflowed(pool) == 0);
    CHECK(out.size() == expected.size());
    CHECK(sorted(out.items()) == sorted(expected));
    CHECK(first_fifo_break(out.items(), 4).empty());
}

TEST_CASE("worker_pool: a collect takes at most one new batch per worker; one published while it drains waits for the next", "[pool][streaming]") {
    // Round 2 starts pushing only once the collect below has taken round 1
    // (otherwise it could merge into round 1's batch before the collect).
    std::atomic<bool> taken{false};  // seq_cst: a one-shot flag, nothing else published through it
    auto pool = spill::pool<Item, 64>(1).rounds_ahead(2).spawn<std::uint32_t>([&](auto& ring, std::size_t w, const std::uint32_t& round) {
        if (round == 2)
            while (!taken.load()) std::this_thread::sleep_for(50us);
        for (std::uint32_t i = 0; i < 4; ++i) ring.push(make_item(round, w, i));
    });
    pool.dispatch(1);
    pool.join();  // round 1 is published
    pool.dispatch(2);
    // While the collect drains round 1, round 2 finishes and is published.
    struct WaitForRound2 {
        decltype(pool)* p;
        std::atomic<bool>* taken;
        std::vector<Item> got;
        void send(Item&& x) { got.push_back(x); }
        std::size_t send_all(std::span<Item> xs) {
            got.insert(got.end(), xs.begin(), xs.end());
            *taken = true;
            p->join();  // (D) of round 2: its publish happened before
            return xs.size();
        }
        void flush() {}
    } slow{&pool, &taken, {}};
    CHECK(pool.collect(slow) == 4);
    CHECK(slow.got.size() == 4);
    CHECK(std::all_of(slow.got.begin(), slow.got.end(), [](const Item& i) { return i.round == 1; }));
    spill::CollectSpout<Item> out;
    CHECK(pool.collect(out) == 4);  // round 2, left in the slot for this call
    CHECK(std::all_of(out.items().begin(), out.items().end(), [](const Item& i) { return i.round == 2; }));
    CHECK(pool.stats(0).merge_backs == 0);
}

TEST_CASE("worker_pool: a collect delivers the rest of a partly taken batch, then the batch published behind it", "[pool][streaming]") {
    auto pool = spill::pool<Item, 64>(1).spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) {
        for (std::uint32_t i = 0; i < 4; ++i) ring.push(make_item(round, w, i));
    });
    // Takes at most `room` items per call (a short count, F2).
    struct Prefix {
        std::size_t room;
        std::vector<Item> got;
        void send(Item&& x) { got.push_back(x); }
        std::size_t send_all(std::span<Item> xs) {
            const std::size_t n = std::min(room, xs.size());
            got.insert(got.end(), xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(n));
            room -= n;
            return n;
        }
        void flush() {}
    } out{3, {}};
    pool.run(1);
    CHECK(pool.collect(out) == 3);  // one item of round 1 stays in the collector's front
    pool.run(2);                    // published behind it
    out.room = 100;
    CHECK(pool.collect(out) == 5);
    REQUIRE(out.got.size() == 8);
    for (std::size_t k = 0; k < 8; ++k) {
        const std::uint32_t round = k < 4 ? 1 : 2;
        CHECK(out.got[k] == make_item(round, 0, static_cast<std::uint32_t>(k % 4)));
    }
}

TEST_CASE("worker_pool: rounds without collect merge back; stats count it; nothing is lost", "[pool][stats]") {
    auto fixed = spill::pool<Item, 64>(2).spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) {
        for (std::uint32_t i = 0; i < 3; ++i) ring.push(make_item(round, w, i));
    });
    fixed.run(1);
    fixed.run(2);
    fixed.run(3);
    for (std::size_t w = 0; w < 2; ++w) {
        CHECK(fixed.stats(w).rounds == 3);
        CHECK(fixed.stats(w).recycle_hits == 1);    // round 1 went into a recycled ring
        CHECK(fixed.stats(w).merge_backs == 2);  // rounds 2 and 3 found the slot still full
        CHECK(fixed.stats(w).merged_items == 6);
        CHECK(fixed.stats(w).failures == 0);
    }
    spill::CollectSpout<Item> out;
    CHECK(fixed.collect(out) == 18);
    CHECK(first_fifo_break(out.items(), 2).empty());
    // Once collected, the next publish goes into the recycled ring again.
    fixed.run(4);
    CHECK(fixed.stats(0).recycle_hits == 2);
    CHECK(fixed.stats(0).merge_backs == 2);
}

TEST_CASE("worker_pool: handoff statistics: publishes, recycle hits, occupancy, batch sizes, waits", "[pool][stats]") {
    auto pool = spill::pool<Item, 64>(2).spin_limit(std::chrono::nanoseconds(0)).spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) {
        for (std::uint32_t i = 0; i < 3; ++i) ring.push(make_item(round, w, i));
    });
    spill::CollectSpout<Item> out;
    pool.run(1);  // recycle hit (the slot starts with a recycled ring)
    pool.run(2);  // merge back: 6 items in the slot's batch
    CHECK(pool.collect(out) == 12);
    pool.run(3);  // recycle hit again
    CHECK(pool.collect(out) == 6);
    for (std::size_t w = 0; w < 2; ++w) {
        const spill::WorkerStats& s = pool.stats(w);
        CHECK(s.publishes == 3);
        CHECK(s.recycle_hits == 2);
        CHECK(s.publishes == s.recycle_hits + s.merge_backs);
        CHECK(s.occupancy_sum_items == 3 + 6 + 3);
        CHECK(s.occupancy_max_items == 6);
        CHECK(s.occupancy_last_items == 3);
        // Rounds 2 and 3 were waited for (the first wait is not counted); with
        // spins(0) every wait that found no round blocks on the futex.
        CHECK(s.wait.waits <= 2);
        CHECK(s.wait.blocks == s.wait.waits);
        const spill::HandoffStats& h = pool.handoff_stats(w);
        CHECK(h.takes == 2);
        CHECK(h.items == 9);
        CHECK(h.max_items == 6);
        CHECK(h.by_log2[2] == 1);  // 3 items: 2..3
        CHECK(h.by_log2[3] == 1);  // 6 items: 4..7
    }
    CHECK(pool.owner_wait().blocks == pool.owner_wait().waits);
}

TEST_CASE("worker_pool: items past ring capacity within a round go to the worker's overflow spout", "[pool][overflow]") {
    auto pool = spill::pool<Item, 8>(2).overflow(collecting_overflow()).spawn<std::uint32_t>(
        [](auto& ring, std::size_t w, const std::uint32_t& n) {
            for (std::uint32_t i = 0; i < n; ++i) ring.push(make_item(1, w, i));
        });
    pool.run(20);
    spill::CollectSpout<Item> out;
    CHECK(pool.collect(out) == 16);
    for (std::size_t w = 0; w < 2; ++w) {
        const auto& of = pool.overflow(w).items();
        REQUIRE(of.size() == 12);
        for (std::uint32_t i = 0; i < 12; ++i) CHECK(of[i] == make_item(1, w, i));  // the oldest, in order
    }
    for (const Item& it : out.items()) CHECK(it.seq >= 12);  // the newest 8 per worker
}

TEST_CASE("worker_pool: a throwing worker is reported by name, its earlier items and everyone else's are delivered", "[pool][failure]") {
    auto pool = spill::pool<Item, 64>(3).spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) {
        for (std::uint32_t i = 0; i < 4; ++i) {
            if (w == 1 && round == 1 && i == 3) throw std::runtime_error("boom in the task");
            ring.push(make_item(round, w, i));
        }
    });
    try {
        pool.run(1);
        FAIL("run() did not report the failure");
    } catch (const spill::WorkerError& e) {
        REQUIRE(e.failures().size() == 1);
        CHECK(e.failures()[0].worker == 1);
        CHECK(e.failures()[0].round == 1);
        CHECK_THROWS_WITH(std::rethrow_exception(e.failures()[0].error), "boom in the task");
        CHECK_THAT(std::string(e.what()), Catch::Contains("worker 1") && Catch::Contains("round 1") && Catch::Contains("boom in the task"));
    }
    CHECK(pool.stats(1).failures == 1);
    spill::CollectSpout<Item> out;
    CHECK(pool.collect(out) == 4 + 3 + 4);
    CHECK(std::count_if(out.items().begin(), out.items().end(), [](const Item& i) { return i.worker == 1; }) == 3);

    // The pool stays usable and the failure is not reported twice.
    CHECK_NOTHROW(pool.run(2));
    CHECK_NOTHROW(pool.join());
    CHECK(pool.collect(out) == 12);
    CHECK(first_fifo_break(out.items(), 3).empty());
}

TEST_CASE("worker_pool: several failing workers are all reported", "[pool][failure]") {
    auto pool = spill::pool<int, 16>(3).spawn<int>([](auto&, std::size_t w, const int&) {
        if (w != 1) throw std::logic_error("worker " + std::to_string(w) + " gave up");
    });
    try {
        pool.run(0);
        FAIL("no WorkerError");
    } catch (const spill::WorkerError& e) {
        REQUIRE(e.failures().size() == 2);
        std::set<std::size_t> who{e.failures()[0].worker, e.failures()[1].worker};
        CHECK(who == std::set<std::size_t>{0, 2});
        CHECK_THAT(std::string(e.what()), Catch::Contains("and 1 more failures"));
    }
    // A non-standard exception is described too.
    auto odd = spill::pool<int, 16>(1).spawn<int>([](auto&, std::size_t, const int&) { throw 42; });
    CHECK_THROWS_WITH(odd.run(0), Catch::Contains("non-standard exception"));
}

TEST_CASE("worker_pool: with rounds_ahead(2) dispatch runs at most two rounds ahead, each worker's rounds in order, and loses no failure",
          "[pool][failure][streaming]") {
    constexpr std::size_t W = 3;
    std::atomic<int> started[5] = {};   // started[r]: workers that began round r (seq_cst counters)
    std::atomic<int> finished[5] = {};  // finished[r]: workers done with round r
    std::atomic<int> too_far{0};        // a round started before every worker finished the round two before it
    std::atomic<int> unordered{0};      // a worker began round r before it finished round r - 1
    std::mutex mu;
    std::vector<std::pair<std::size_t, int>> seen_args;  // (worker, args seen)
    std::atomic<int> last_done[W] = {};
    std::atomic<int> ran_ahead{0};  // a round started while the round before it was still running
    auto pool = spill::pool<int, 16>(W).rounds_ahead(2).spawn<int>([&](auto& ring, std::size_t w, const int& round) {
        {
            std::lock_guard lock(mu);
            seen_args.emplace_back(w, round);
        }
        if (round > 1 && finished[round - 1].load() != static_cast<int>(W)) ran_ahead.fetch_add(1);
        started[round].fetch_add(1);
        if (round > 2 && finished[round - 2].load() != static_cast<int>(W)) too_far.fetch_add(1);
        if (last_done[w].load() != round - 1) unordered.fetch_add(1);
        if (round == 1 && w == 0) {
            // The slow worker of round 1: it finishes only once the others
            // have begun round 2 (or after 5 s, when the pool does not run ahead).
            const auto give_up = std::chrono::steady_clock::now() + 5s;
            while (started[2].load() < static_cast<int>(W) - 1 && std::chrono::steady_clock::now() < give_up)
                std::this_thread::sleep_for(1ms);
        }
        ring.push(round);
        finished[round].fetch_add(1);
        last_done[w].store(round);
        if (round == 1 && w == 2) throw std::runtime_error("round 1 failed");
    });
    pool.dispatch(1);
    pool.dispatch(2);  // runs ahead: workers 1 and 2 may start it while worker 0 sleeps in round 1
    pool.dispatch(3);  // two rounds in flight: waits for round 1 first; its failure is kept
    CHECK(finished[1].load() == static_cast<int>(W));
    pool.dispatch(4);
    try {
        pool.join();
        FAIL("the failure of round 1 was lost");
    } catch (const spill::WorkerError& e) {
        REQUIRE(e.failures().size() == 1);
        CHECK(e.failures()[0].worker == 2);
        CHECK(e.failures()[0].round == 1);
    }
    CHECK(too_far.load() == 0);
    CHECK(unordered.load() == 0);
    CHECK(ran_ahead.load() > 0);  // workers 1 and 2 began round 2 while worker 0 slept in round 1
    for (int r = 1; r <= 4; ++r) CHECK(finished[r].load() == static_cast<int>(W));
    // Every worker saw the arguments of its own round, in order.
    for (std::size_t w = 0; w < W; ++w) {
        std::vector<int> rounds;
        for (auto [who, r] : seen_args)
            if (who == w) rounds.push_back(r);
        CHECK(rounds == std::vector<int>{1, 2, 3, 4});
    }
    spill::CollectSpout<int> out;
    CHECK(pool.collect(out) == 12);
    CHECK_NOTHROW(pool.join());  // reported once
}

TEST_CASE("worker_pool: with rounds_ahead(1) dispatch waits for the previous round, so no worker runs two rounds ahead of the owner",
          "[pool][streaming]") {
    constexpr std::size_t W = 2;
    std::atomic<int> finished[4] = {};
    std::atomic<int> ran_ahead{0};  // a round started before every worker finished the round before it
    auto pool = spill::pool<int, 16>(W).rounds_ahead(1).spawn<int>([&](auto& ring, std::size_t w, const int& round) {
        if (round > 1 && finished[round - 1].load() != static_cast<int>(W)) ran_ahead.fetch_add(1);
        if (round == 1 && w == 0) std::this_thread::sleep_for(30ms);  // worker 1 would start round 2 meanwhile if it could
        ring.push(round);
        finished[round].fetch_add(1);
    });
    CHECK(pool.rounds_ahead() == 1);
    pool.dispatch(1);
    pool.dispatch(2);  // waits for round 1: the slow worker 0 holds worker 1 back
    CHECK(finished[1].load() == static_cast<int>(W));
    pool.dispatch(3);
    pool.join();
    CHECK(ran_ahead.load() == 0);
    spill::CollectSpout<int> out;
    CHECK(pool.collect(out) == 6);
}

TEST_CASE("worker_pool: rounds_ahead outside 1..2 is refused, naming the value", "[pool][errors]") {
    auto task = [](auto& ring, std::size_t, const int& n) { ring.push(n); };
    auto build = [&](std::size_t ahead) { return spill::pool<int, 16>(1).rounds_ahead(ahead).spawn<int>(task); };
    CHECK_THROWS_AS(build(0), std::invalid_argument);
    CHECK_THROWS_WITH(build(0), Catch::Contains("rounds_ahead") && Catch::Contains("got 0"));
    CHECK_THROWS_WITH(build(3), Catch::Contains("got 3"));
    CHECK(build(2).rounds_ahead() == 2);
}

TEST_CASE("worker_pool: a failure in each of two rounds in flight is reported with its own round", "[pool][failure][streaming]") {
    auto pool = spill::pool<int, 16>(2).rounds_ahead(2).spawn<int>([](auto& ring, std::size_t w, const int& round) {
        ring.push(round);
        if (static_cast<int>(w) == round % 2) throw std::runtime_error("round " + std::to_string(round));
    });
    pool.dispatch(1);
    pool.dispatch(2);
    try {
        pool.join();
        FAIL("the failures were lost");
    } catch (const spill::WorkerError& e) {
        REQUIRE(e.failures().size() == 2);
        std::set<std::pair<std::size_t, std::uint64_t>> got;
        for (const auto& f : e.failures()) got.emplace(f.worker, f.round);
        CHECK(got == std::set<std::pair<std::size_t, std::uint64_t>>{{1, 1}, {0, 2}});
    }
}

TEST_CASE("worker_pool: an output spout that throws during collect loses nothing", "[pool][failure]") {
    auto pool = spill::pool<Item, 64>(3).spawn<RoundArgs>(DeterministicTask{});
    const RoundArgs a{3, 1, 12, 0};
    pool.run(a);
    const auto expected = spill::test::replay(a, 1, 1, 3);
    REQUIRE(expected.size() > 6);
    std::vector<Item> delivered;
    for (std::size_t fail_at : {std::size_t{0}, std::size_t{2}, std::size_t{5}}) {
        spill::test::FlakySpout<Item> flaky{{fail_at}, false, {}, 0};
        CHECK_THROWS_AS(pool.collect(flaky), SpoutFailure);
        delivered.insert(delivered.end(), flaky.items.begin(), flaky.items.end());
    }
    spill::CollectSpout<Item> rest;
    pool.collect(rest);
    delivered.insert(delivered.end(), rest.items().begin(), rest.items().end());
    CHECK(delivered.size() == expected.size());
    CHECK(sorted(delivered) == sorted(expected));  // no loss, no duplicate
    CHECK(first_fifo_break(delivered, 3).empty());

    // The same holds while new rounds keep arriving.
    RoundArgs b{4, 2, 12, 0};
    pool.run(b);
    spill::test::FlakySpout<Item> flaky{{1}, false, {}, 0};
    CHECK_THROWS_AS(pool.collect(flaky), SpoutFailure);
    b.round = 3;
    pool.run(b);
    spill::CollectSpout<Item> more;
    pool.collect(more);
    std::vector<Item> got = flaky.items;
    got.insert(got.end(), more.items().begin(), more.items().end());
    auto want = spill::test::replay(RoundArgs{4, 0, 12, 0}, 2, 3, 3);
    CHECK(sorted(got) == sorted(want));
    CHECK(first_fifo_break(got, 3).empty());
}

TEST_CASE("worker_pool: the start hook runs once on each worker's own thread", "[pool]") {
    std::mutex mu;
    std::vector<std::size_t> ids;
    std::set<std::thread::id> threads;
    {
        auto pool = spill::pool<int, 16>(3)
                        .on_worker_start([&](std::size_t w) {
                            std::lock_guard lock(mu);
                            ids.push_back(w);
                            threads.insert(std::this_thread::get_id());
                        })
                        .spin_limit(std::chrono::microseconds(1))
                        .spawn<int>([](auto&, std::size_t, const int&) {});
        pool.run(0);
    }
    std::sort(ids.begin(), ids.end());
    CHECK(ids == std::vector<std::size_t>{0, 1, 2});
    CHECK(threads.size() == 3);
    CHECK(threads.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("worker_pool: await_ready waits for every start hook, and after it rounds take no page faults", "[pool]") {
    // Rings of 65536 8-byte items: 512 KiB each, three per worker, from fresh
    // pages. Each worker maps its own rings before it counts as started, so
    // rounds that fill every ring (the three rotate) fault no page in.
    constexpr std::size_t N = 65536;
    std::atomic<int> hooks_done{0};
    auto pool = spill::pool<std::uint64_t, N>(2)
                    .on_worker_start([&](std::size_t) {
                        std::this_thread::sleep_for(20ms);  // a slow hook: await_ready must wait for it
                        hooks_done.fetch_add(1, std::memory_order_relaxed);  // read after await_ready's acquire
                    })
                    .overflow([](std::size_t) { return spill::CountingSpout<>{}; })
                    .spawn<std::uint64_t>([](auto& ring, std::size_t, const std::uint64_t& r) {
                        ring.push_n(N, [r](std::size_t i) noexcept { return r * N + i; });
                    });
    pool.await_ready();
    CHECK(hooks_done.load(std::memory_order_relaxed) == 2);
    spill::CountingSpout<> sink;
    const auto minor_faults = [] {
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        return u.ru_minflt;
    };
    const long before = minor_faults();
    for (std::uint64_t r = 0; r < 6; ++r) {
        pool.run(r);
        (void)pool.collect(sink);
    }
    const long faults = minor_faults() - before;
    CHECK(sink.count() == 6 * 2 * N);
    // Without the first touch: 2 workers x 3 rings x 128 pages = 768 faults.
#if defined(__SANITIZE_THREAD__)
    // Not under ThreadSanitizer: it maps its shadow and metadata memory for
    // every address the items are written to, on first write, several times
    // the rings' size, so the count measures TSan (5638 faults here). The
    // plain and ASan builds run this check.
    (void)faults;
#else
    CHECK(faults < 64);
#endif
}

TEST_CASE("worker_pool: bad construction arguments are refused with a message", "[pool]") {
    CHECK_THROWS_WITH((spill::pool<int, 16>(0).spawn<int>([](auto&, std::size_t, const int&) {})), Catch::Contains("at least 1"));
}

namespace {

#if defined(__linux__)
/// A CPU set of the given CPUs (as if read on a thread pinned to them).
spill::detail::CpuSet cpus_of(std::initializer_list<int> ids) {
    spill::detail::CpuSet c;
    c.known = true;
    CPU_ZERO(&c.set);
    for (int id : ids) CPU_SET(id, &c.set);
    return c;
}

// Pins the calling thread to one CPU, false if refused (worker threads call
// it from their start hook: it asserts nothing).
using spill::detail::pin_this_thread_to;

/// Busy-waits on the calling thread for `d`: CPU-bound, never yields.
void spin_for(std::chrono::nanoseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
    }
}

/// A CPU-bound thread pinned to `cpu` until destroyed (a busy neighbour).
class PinnedSpinner {
public:
    explicit PinnedSpinner(int cpu) : thread_([this, cpu] {
        if (!pin_this_thread_to(cpu)) failed_.store(true, std::memory_order_relaxed);
        while (!stop_.load(std::memory_order_relaxed)) {  // relaxed: a stop flag, nothing published through it
        }
    }) {}
    ~PinnedSpinner() { stop(); }
    PinnedSpinner(const PinnedSpinner&) = delete;
    PinnedSpinner& operator=(const PinnedSpinner&) = delete;
    /// Stops and joins the thread; returns whether it was pinned (the join orders its store before our load).
    bool stop() {
        stop_.store(true, std::memory_order_relaxed);
        if (thread_.joinable()) thread_.join();
        return !failed_.load(std::memory_order_relaxed);
    }

private:
    std::atomic<bool> stop_{false};
    std::atomic<bool> failed_{false};
    std::thread thread_;
};

/// Restores the calling thread's CPU set when the test ends.
struct KeepAffinity {
    cpu_set_t saved{};
    KeepAffinity() { REQUIRE(::sched_getaffinity(0, sizeof saved, &saved) == 0); }
    ~KeepAffinity() { ::sched_setaffinity(0, sizeof saved, &saved); }
};
#endif

}  // namespace

#if defined(__linux__)
TEST_CASE("wait placement: a thread alone on its CPUs pauses, one sharing them yields after the floor, one oversubscribed yields at once", "[pool][wait]") {
    using spill::PollMode;
    using spill::detail::wait_placement;
    SECTION("pinned apart: each pauses throughout") {
        const std::vector<spill::detail::CpuSet> t{cpus_of({0}), cpus_of({1})};
        for (std::size_t i = 0; i < t.size(); ++i) {
            const spill::WaitPlacement p = wait_placement(t, i);
            CHECK(p.cpus == 1);
            CHECK(p.sharers == 1);
            CHECK(p.poll == PollMode::pause);
        }
    }
    SECTION("unpinned, as many threads as CPUs: pause, then yield") {
        const std::vector<spill::detail::CpuSet> t(2, cpus_of({0, 1}));
        CHECK(wait_placement(t, 0).poll == PollMode::pause_then_yield);
        CHECK(wait_placement(t, 1).sharers == 2);
        CHECK(wait_placement(t, 1).cpus == 2);
    }
    SECTION("unpinned, more threads than CPUs: every one yields from the first poll") {
        const std::vector<spill::detail::CpuSet> t(5, cpus_of({0, 1}));
        for (std::size_t i = 0; i < t.size(); ++i) CHECK(wait_placement(t, i).poll == PollMode::yield);
    }
    SECTION("two pinned to one CPU, one alone: the two yield, the third pauses") {
        const std::vector<spill::detail::CpuSet> t{cpus_of({0}), cpus_of({0}), cpus_of({1})};
        CHECK(wait_placement(t, 0).poll == PollMode::yield);
        CHECK(wait_placement(t, 1).poll == PollMode::yield);
        CHECK(wait_placement(t, 1).sharers == 2);
        CHECK(wait_placement(t, 2).poll == PollMode::pause);
    }
    SECTION("an unknown set counts as every CPU: it may share with all") {
        std::vector<spill::detail::CpuSet> t{cpus_of({0}), spill::detail::CpuSet{}};
        CHECK(wait_placement(t, 0).sharers == 2);
        CHECK(wait_placement(t, 0).poll == PollMode::yield);
    }
}

TEST_CASE("wait calibration: the ping-pong's threads take the first CPU of the mask, none where it is unknown", "[pool][wait]") {
    using spill::detail::first_cpu_of;
    CHECK(first_cpu_of(cpus_of({0, 1})) == 0);
    CHECK(first_cpu_of(cpus_of({3, 5})) == 3);
    CHECK(first_cpu_of(spill::detail::CpuSet{}) == -1);  // unknown: the scheduler places them
}

TEST_CASE("wait calibration: measured on one CPU, whichever CPUs the caller has, and the caller's mask untouched", "[pool][wait]") {
    KeepAffinity keep;
    const spill::detail::CpuSet before = spill::detail::CpuSet::of_this_thread();
    const spill::WaitCalibration c = spill::detail::measure_wait_calibration();
    CHECK(c.one_cpu);
    CHECK(c.samples == 48);
    CHECK(c.park_ns > 0);
    CHECK(c.floor_ns == std::clamp<std::uint64_t>(2 * c.park_ns, 2'000, 200'000));
    const spill::detail::CpuSet after = spill::detail::CpuSet::of_this_thread();
    CHECK(CPU_EQUAL(&before.set, &after.set));
}

TEST_CASE("spin budget: pause-only, pause-then-yield and yield budgets poll with a pause hint for all, the floor, none of the wait", "[pool][wait]") {
    spill::detail::SpinBudget b;
    b.floor_ns = 1000;
    b.ceiling_ns = 100000;
    b.poll = spill::PollMode::pause;
    CHECK(b.pause_ns() >= b.limit_ns());
    b.poll = spill::PollMode::pause_then_yield;
    CHECK(b.pause_ns() == 1000);
    b.poll = spill::PollMode::yield;
    CHECK(b.pause_ns() == 0);
}

TEST_CASE("spin budget: a thread that waited for its CPU for an eighth of the time since its last park parks at once for twice that time, at least one ceiling", "[pool][wait]") {
    spill::detail::SpinBudget b;
    b.floor_ns = 1'000;
    b.ceiling_ns = 100'000;
    const std::uint64_t t = 1'000'000'000;
    CHECK_FALSE(b.watches_cpu());  // not before the pool decided how the thread polls
    b.place(spill::PollMode::pause);
    CHECK(b.watches_cpu());
    b.parking(t, 5'000'000);  // the first park only records where the run delay stands
    CHECK_FALSE(b.park_at_once(t));
    SECTION("a run delay of a quarter of the time between parks: shared for twice that time") {
        b.parking(t + 800'000, 5'200'000);
        CHECK(b.park_at_once(t + 800'000));
        CHECK(b.park_at_once(t + 800'000 + 1'600'000 - 1));
        CHECK_FALSE(b.park_at_once(t + 800'000 + 1'600'000));
    }
    SECTION("parks close together: shared for one ceiling") {
        b.parking(t + 20'000, 5'010'000);  // 10 us of 20
        CHECK(b.park_at_once(t + 20'000 + 100'000 - 1));
        CHECK_FALSE(b.park_at_once(t + 20'000 + 100'000));
    }
    SECTION("the same share of a long time between parks: shared for twice that time") {
        b.parking(t + 80'000'000, 25'000'000);  // 20 ms of 80
        CHECK(b.park_at_once(t + 80'000'000 + 160'000'000 - 1));
        CHECK_FALSE(b.park_at_once(t + 80'000'000 + 160'000'000));
    }
    SECTION("a share seen again within 64 ceilings of the last period's end doubles the least period, up to 64 ceilings") {
        std::uint64_t now = t;
        std::int64_t delay = 5'000'000;
        std::uint64_t period = 100'000;
        for (int k = 0; k < 9; ++k) {
            now += 20'000;  // 20 us after a park, 10 of them spent waiting for the CPU
            delay += 10'000;
            b.parking(now, delay);
            CHECK(b.park_at_once(now + period - 1));
            CHECK_FALSE(b.park_at_once(now + period));
            // The next share is seen 10 us before 64 ceilings have passed since
            // this period ended, 20 us after a quiet park.
            now += period + 64 * 100'000 - 30'000;
            b.parking(now, delay);
            period = std::min<std::uint64_t>(2 * period, 64 * 100'000);
        }
        CHECK(b.shared_level == spill::detail::SpinBudget::max_shared_level);
    }
    SECTION("a share seen long after the last period ended starts again at one ceiling") {
        b.parking(t + 20'000, 5'010'000);
        b.parking(t + 40'000, 5'020'000);  // during the period: recurring, two ceilings from here
        CHECK(b.park_at_once(t + 40'000 + 200'000 - 1));
        CHECK_FALSE(b.park_at_once(t + 40'000 + 200'000));
        const std::uint64_t later = t + 40'000 + 200'000 + 64 * 100'000;  // the window has closed
        b.parking(later, 5'020'000);  // a quiet park in between resets nothing by itself
        b.parking(later + 20'000, 5'030'000);
        CHECK(b.park_at_once(later + 20'000 + 100'000 - 1));
        CHECK_FALSE(b.park_at_once(later + 20'000 + 100'000));
    }
    SECTION("a run delay under an eighth of the time, or under the floor: not shared") {
        b.parking(t + 800'000, 5'090'000);  // 90 us of 800
        CHECK_FALSE(b.park_at_once(t + 800'000));
        b.parking(t + 804'000, 5'090'900);  // 900 ns of 4 us: under the floor
        CHECK_FALSE(b.park_at_once(t + 804'000));
    }
    SECTION("a fixed budget, a yielding placement or an unknown run delay keeps its polls") {
        spill::detail::SpinBudget fixed = b;
        fixed.fixed_ns = 5'000;
        fixed.parking(t + 800'000, 5'400'000);
        CHECK_FALSE(fixed.park_at_once(t + 800'000));
        CHECK(fixed.limit_ns() == 5'000);
        spill::detail::SpinBudget crowded = b;
        crowded.poll = spill::PollMode::yield;
        crowded.parking(t + 800'000, 5'400'000);
        CHECK_FALSE(crowded.park_at_once(t + 800'000));
        b.parking(t + 800'000, -1);
        CHECK_FALSE(b.park_at_once(t + 800'000));
    }
}

TEST_CASE("wait word: a parked waiter times its wake-up from the publisher's stamp", "[pool][wait]") {
    spill::detail::WaitWord w;
    spill::detail::SpinBudget b;
    b.fixed_ns = 0;                // park at the first clock read
    b.ceiling_ns = 10'000'000'000;  // so the wait's length is learned unclipped
    spill::WaitStats st;
    st.timed = true;
    std::atomic<bool> waiting{false};
    std::thread publisher([&] {
        while (!waiting.load()) std::this_thread::yield();
        // Publish only once the waiter has parked: (W2) counted it.
        while (w.parked.load() == 0) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(5ms);
        w.publish(1);
    });
    waiting.store(true);
    const std::uint32_t v = spill::detail::await_change(w, 0, b, &st);
    publisher.join();
    CHECK(v == 1);
    REQUIRE(st.blocks == 1);
    REQUIRE(st.wakes == 1);  // the publisher saw it parked and stamped its wake-up call
    CHECK(st.wake_ns <= st.block_ns);
    CHECK(st.block_ns - st.wake_ns >= 5'000'000);  // the publisher slept 5 ms after the park before its call
    CHECK(b.typical_ns == (st.spin_ns + st.block_ns) / 8);  // the budget learns the whole wait
    CHECK(b.wake_ns == st.wake_ns);                          // and what its wake-up cost (the first one timed)
}

TEST_CASE("spin budget: an adaptive wait polls at least twice its thread's timed wake-ups, at most half the ceiling, before it parks", "[pool][wait]") {
    spill::detail::SpinBudget b;
    b.floor_ns = 1'000;
    b.ceiling_ns = 100'000;
    b.typical_ns = 100;  // short waits: poll the least
    CHECK(b.limit_ns() == 1'000);  // no wake-up timed yet: the calibrated floor
    SECTION("wake-ups dearer than the floor raise it to twice their moving average") {
        b.woke(20'000);
        CHECK(b.least_ns() == 40'000);
        CHECK(b.limit_ns() == 40'000);
        b.woke(4'000);  // weight 1/4: 20000 - 5000 + 1000
        CHECK(b.wake_ns == 16'000);
        CHECK(b.limit_ns() == 32'000);
    }
    SECTION("no further than half the ceiling") {
        b.woke(400'000);
        CHECK(b.limit_ns() == 50'000);
    }
    SECTION("wake-ups cheaper than calibrated leave the floor") {
        b.woke(100);
        CHECK(b.limit_ns() == 1'000);
    }
    SECTION("long waits (an idle pool) poll only that least") {
        b.woke(20'000);
        b.typical_ns = 10 * b.ceiling_ns;
        CHECK(b.limit_ns() == 40'000);
    }
    SECTION("a fixed budget keeps its limit") {
        b.fixed_ns = 5'000;
        b.woke(20'000);
        CHECK(b.limit_ns() == 5'000);
    }
}

TEST_CASE("wait word: a publish that finds nobody parked writes no stamp", "[pool][wait]") {
    spill::detail::WaitWord w;
    w.publish(1);
    CHECK(w.woken_at_ns.load() == 0);
    spill::detail::SpinBudget b;
    b.fixed_ns = 1'000'000'000;
    spill::WaitStats st;
    CHECK(spill::detail::await_change(w, 0, b, &st) == 1);  // changed at the first poll: no wait at all
    CHECK(st.waits == 0);
    CHECK(st.wakes == 0);
}

TEST_CASE("wait word: on Linux a publish is a plain store, fenced by the parking waiter (membarrier registered)", "[pool][wait]") {
#if defined(__linux__)
    INFO("membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) was refused: every publish falls back to a locked store");
    CHECK(spill::detail::asymmetric_fences());
    CHECK(spill::detail::heavy_fence());
#else
    CHECK_FALSE(spill::detail::asymmetric_fences());
#endif
}

TEST_CASE("wait word: two threads that park at every wait hand a counter back and forth without losing a wake-up", "[pool][wait]") {
    // Each side publishes and then parks at once (no polling), on two CPUs
    // where it can: every round exercises (N1, N2) against (W2, W2b, W3). A
    // lost wake-up leaves both asleep, and the suite's timeout fails it.
    const std::vector<int> cpus = spill::test::usable_cpus();
    constexpr std::uint32_t rounds = 2000;
    spill::detail::WaitWord ping, pong;
    KeepAffinity keep;  // before the thread: its REQUIRE must not throw past a joinable thread
    std::uint64_t parks_b = 0;
    std::thread b([&] {
        (void)pin_this_thread_to(cpus.back());  // a new thread: nothing to restore; unpinned if refused
        spill::detail::SpinBudget budget = spill::detail::make_spin_budget(0);  // park at the first clock read
        spill::WaitStats st;
        for (std::uint32_t r = 1; r <= rounds; ++r) {
            spill::detail::await_reached(ping, r, budget, &st);
            pong.publish(r);
        }
        parks_b = st.blocks;
    });
    std::uint64_t parks_a = 0;
    {
        (void)pin_this_thread_to(cpus.front());
        spill::detail::SpinBudget budget = spill::detail::make_spin_budget(0);
        spill::WaitStats st;
        for (std::uint32_t r = 1; r <= rounds; ++r) {
            ping.publish(r);
            spill::detail::await_reached(pong, r, budget, &st);
        }
        parks_a = st.blocks;
    }
    b.join();
    CHECK(pong.value.load() == rounds);
    CHECK(parks_a + parks_b > 0);  // the waits really parked
}

TEST_CASE("wait word: a waiter whose heavy fence failed sleeps in bounded steps, so a lost wake-up costs time, not a hang", "[pool][wait]") {
    spill::detail::WaitWord w;
    (void)w.park();  // whatever the fence said, the sleep below is the untrusted one
    CHECK(w.parked.load() == 1);
    // Untrusted: nobody publishes, yet the sleep ends (the timeout), and the
    // caller's loop gets to check the value again.
    w.sleep_while(0, false);
    w.unpark();
    CHECK(w.parked.load() == 0);
}

TEST_CASE("run delay: a thread pinned to a CPU another busy thread holds waits for it, and the scheduler says so", "[pool][wait]") {
    const std::vector<int> cpus = spill::test::usable_cpus();
    KeepAffinity keep;
    REQUIRE(pin_this_thread_to(cpus[0]));
    const std::int64_t before = spill::detail::run_delay_ns();
    INFO("/proc/thread-self/schedstat must be readable: the pool's waits learn from it that their CPU is shared");
    REQUIRE(before >= 0);
    PinnedSpinner busy(cpus[0]);
    spin_for(200ms);
    REQUIRE(busy.stop());
    // Two threads on one CPU for 200 ms: each waits about half of it.
    CHECK(spill::detail::run_delay_ns() - before > 20'000'000);
}

// Alone on its CPU a worker polls before it parks; whether a CPU is alone
// depends on what else the machine runs (meson runs tests side by side), so
// that half is specified on SpinBudget itself, above.
TEST_CASE("worker_pool: a worker whose CPU a busy thread shares parks at once between rounds", "[pool][wait]") {
    const std::vector<int> cpus = spill::test::usable_cpus();
    INFO("this specification needs two usable CPUs; this process has " << cpus.size());
    REQUIRE(cpus.size() >= 2);
    KeepAffinity keep;
    REQUIRE(pin_this_thread_to(cpus[0]));  // the owner
    // Rounds of 20 ms of work: long enough that a thread sharing its CPU is
    // preempted inside one. Between rounds the owner sleeps, so the worker's
    // wait for the next round outlasts any spin budget and parks.
    PinnedSpinner busy(cpus[1]);
    std::atomic<int> pin_failures{0};
    {
        auto pool = spill::pool<Item, 64>(1)
                        .on_worker_start([&](std::size_t) {
                            if (!pin_this_thread_to(cpus[1])) pin_failures.fetch_add(1);
                        })
                        .spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) {
                            spin_for(20ms);
                            ring.push(make_item(round, w, 0));
                        });
        std::uint64_t polls = 0, blocks = 0;
        for (std::uint32_t r = 1; r <= 8; ++r) {
            pool.run(r);
            if (r == 5) {  // by now a shared CPU was seen at a park
                polls = pool.stats(0).wait.polls;
                blocks = pool.stats(0).wait.blocks;
            }
            std::this_thread::sleep_for(5ms);
        }
        REQUIRE(busy.stop());
        REQUIRE(pin_failures.load() == 0);
        // The last three waits parked, none after a poll.
        CHECK(pool.stats(0).wait.blocks - blocks == 3);
        CHECK(pool.stats(0).wait.polls - polls == 0);
    }
}

TEST_CASE("worker_pool: threads pinned alone to their CPUs wait with a pause, never by yielding, and run two rounds ahead", "[pool][wait]") {
    const std::vector<int> cpus = spill::test::usable_cpus();
    INFO("this specification needs two usable CPUs; this process has " << cpus.size());
    REQUIRE(cpus.size() >= 2);
    KeepAffinity keep;
    REQUIRE(pin_this_thread_to(cpus[0]));  // the owner: the thread that dispatches first
    std::atomic<int> pin_failures{0};
    auto pool = spill::pool<Item, 64>(1)
                    .on_worker_start([&cpus, &pin_failures](std::size_t) {
                        if (!pin_this_thread_to(cpus[1])) pin_failures.fetch_add(1);
                    })
                    .spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) { ring.push(make_item(round, w, 0)); });
    CHECK(pool.placement(0).cpus == 0);  // not decided before the first dispatch
    CHECK(pool.rounds_ahead() == 0);
    pool.run(1);
    REQUIRE(pin_failures.load() == 0);
    CHECK(pool.owner_placement().cpus == 1);
    CHECK(pool.owner_placement().sharers == 1);
    CHECK(pool.owner_placement().poll == spill::PollMode::pause);
    CHECK(pool.placement(0).cpus == 1);
    CHECK(pool.placement(0).poll == spill::PollMode::pause);
    CHECK(pool.rounds_ahead() == 2);  // every thread has a CPU: a worker never waits a round trip between rounds
}

TEST_CASE("worker_pool: threads pinned to one shared CPU wait by yielding it, and run one round ahead", "[pool][wait]") {
    const std::vector<int> cpus = spill::test::usable_cpus();
    KeepAffinity keep;
    REQUIRE(pin_this_thread_to(cpus[0]));
    std::atomic<int> pin_failures{0};
    auto pool = spill::pool<Item, 64>(2)
                    .on_worker_start([&cpus, &pin_failures](std::size_t) {
                        if (!pin_this_thread_to(cpus[0])) pin_failures.fetch_add(1);
                    })
                    .spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) { ring.push(make_item(round, w, 0)); });
    spill::CollectSpout<Item> out;
    for (std::uint32_t r = 1; r <= 50; ++r) pool.run(r);  // yielding waits still deliver every round
    REQUIRE(pin_failures.load() == 0);
    CHECK(pool.collect(out) == 100);
    CHECK(pool.owner_placement().sharers == 3);
    CHECK(pool.owner_placement().poll == spill::PollMode::yield);
    for (std::size_t w = 0; w < 2; ++w) {
        CHECK(pool.placement(w).sharers == 3);
        CHECK(pool.placement(w).poll == spill::PollMode::yield);
    }
    CHECK(pool.rounds_ahead() == 1);  // a worker running ahead would take the CPU the collector needs
}
#endif

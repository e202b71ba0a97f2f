// Backpressure (docs/design.md, section 8): a slow consumer
// makes slots stay full, workers merge back, rings overflow, and nothing is
// lost: produced == delivered + overflowed, per-producer FIFO in both streams.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "core_test_util.hpp"
#include "spill/spill.hpp"

using spill::test::first_fifo_break;
using spill::test::Item;
using spill::test::make_item;

namespace {

using namespace std::chrono_literals;

using Overflow = spill::CountingSpout<spill::CollectSpout<Item>>;

/// An output that is slow: it sleeps after every `every` items.
struct SlowSpout {
    std::vector<Item>* out;
    std::size_t every;
    std::chrono::microseconds nap;
    std::size_t n = 0;
    void send(Item&& it) {
        out->push_back(it);
        if (++n % every == 0) std::this_thread::sleep_for(nap);
    }
    void flush() noexcept {}
};

struct PushFixed {
    template <class Ring>
    void operator()(Ring& ring, std::size_t w, const std::uint32_t& round) const {
        for (std::uint32_t i = 0; i < 24; ++i) ring.push(make_item(round, w, i));
    }
};

/// Checks conservation and FIFO for a run of `rounds` rounds of PushFixed.
template <class Pool>
void check_conservation(Pool& pool, const std::vector<Item>& delivered, std::uint32_t rounds) {
    const std::size_t W = pool.workers();
    const std::size_t produced = std::size_t{rounds} * W * 24;
    std::size_t overflowed = 0;
    std::uint64_t merge_backs = 0, merged_items = 0;
    for (std::size_t w = 0; w < W; ++w) {
        const auto& of = pool.overflow(w).inner().items();
        REQUIRE(pool.overflow(w).count() == of.size());  // the counter tells the harness the truth
        overflowed += of.size();
        merge_backs += pool.stats(w).merge_backs;
        merged_items += pool.stats(w).merged_items;
        INFO("worker " << w << " overflow stream: " << first_fifo_break(of, W));
        CHECK(first_fifo_break(of, W).empty());
        for (const Item& i : of) REQUIRE(i.worker == w);  // each worker overflows into its own spout
    }
    INFO("produced " << produced << ", delivered " << delivered.size() << ", overflowed " << overflowed << ", merge backs "
                     << merge_backs << " (" << merged_items << " items)");
    CHECK(produced == delivered.size() + overflowed);
    CHECK(first_fifo_break(delivered, W).empty());
    // Nothing duplicated: delivered and overflowed together are exactly the produced set.
    std::vector<std::uint64_t> all;
    auto key = [](const Item& i) { return (std::uint64_t{i.worker} << 56) | i.seq; };
    for (const Item& i : delivered) all.push_back(key(i));
    for (std::size_t w = 0; w < W; ++w)
        for (const Item& i : pool.overflow(w).inner().items()) all.push_back(key(i));
    std::sort(all.begin(), all.end());
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
    std::vector<std::uint64_t> want;
    for (std::uint32_t r = 1; r <= rounds; ++r)
        for (std::size_t w = 0; w < W; ++w)
            for (std::uint32_t i = 0; i < 24; ++i) want.push_back(key(make_item(r, w, i)));
    std::sort(want.begin(), want.end());
    CHECK(all == want);
    // The chain really happened: merge backs, then overflow.
    CHECK(merge_backs > 0);
    CHECK(merged_items > 0);
    CHECK(overflowed > 0);
}

}  // namespace

TEST_CASE("backpressure: uncollected rounds merge back and overflow by exact amounts", "[backpressure]") {
    auto pool = spill::pool<Item, 16>(2)
                    .overflow([](std::size_t) { return Overflow{}; })
                    .spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) {
                        for (std::uint32_t i = 0; i < 10; ++i) ring.push(make_item(round, w, i));
                    });
    for (std::uint32_t r = 1; r <= 5; ++r) pool.run(r);  // nobody collects
    for (std::size_t w = 0; w < 2; ++w) {
        CHECK(pool.stats(w).recycle_hits == 1);
        CHECK(pool.stats(w).merge_backs == 4);
        CHECK(pool.stats(w).merged_items == 40);
        CHECK(pool.overflow(w).count() == 50 - 16);  // the batch keeps the newest 16
    }
    spill::CollectSpout<Item> out;
    CHECK(pool.collect(out) == 32);
    for (std::size_t w = 0; w < 2; ++w) {
        std::vector<Item> mine;
        for (const Item& i : out.items())
            if (i.worker == w) mine.push_back(i);
        REQUIRE(mine.size() == 16);
        // The newest 16 of 50: the last 6 of round 4, all 10 of round 5.
        CHECK(mine.front() == make_item(4, w, 4));
        CHECK(mine.back() == make_item(5, w, 9));
        const auto& of = pool.overflow(w).inner().items();
        CHECK(of.front() == make_item(1, w, 0));
        CHECK(of.back() == make_item(4, w, 3));
    }
}

TEST_CASE("backpressure: a slow output spout on its own thread, conservation and FIFO in both streams", "[backpressure][threads]") {
    constexpr std::uint32_t rounds = 300;
    auto pool = spill::pool<Item, 32>(3).overflow([](std::size_t) { return Overflow{}; }).spawn<std::uint32_t>(PushFixed{});
    std::vector<Item> delivered;
    auto fan = pool.fan_in(SlowSpout{&delivered, 16, 200us});
    std::atomic<bool> done{false};  // (A) release store after the last join / (B) acquire load by the consumer
    std::thread consumer([&] {
        for (;;) {
            const bool last = done.load(std::memory_order_acquire);  // (B)
            fan.flush();
            if (last) return;  // this flush ran after every round was published
        }
    });
    for (std::uint32_t r = 1; r <= rounds; ++r) pool.run(r);  // as fast as the workers go
    done.store(true, std::memory_order_release);             // (A)
    consumer.join();
    check_conservation(pool, delivered, rounds);
}

TEST_CASE("backpressure: a full channel blocks the collector, which backs the pressure up to the rings", "[backpressure][threads][channel]") {
    constexpr std::uint32_t rounds = 200;
    auto pool = spill::pool<Item, 32>(2).overflow([](std::size_t) { return Overflow{}; }).spawn<std::uint32_t>(PushFixed{});
    spill::Channel<Item> channel{8};
    std::vector<Item> delivered;
    std::thread receiver([&] {
        std::size_t n = 0;
        while (auto it = channel.receive()) {
            delivered.push_back(*it);
            if (++n % 8 == 0) std::this_thread::sleep_for(100us);  // the slow end of the line
        }
    });
    auto fan = pool.fan_in(spill::ChannelSpout<Item>{channel});
    std::atomic<bool> done{false};  // (A) release store after the last join / (B) acquire load by the collector
    std::thread collector([&] {
        for (;;) {
            const bool last = done.load(std::memory_order_acquire);  // (B)
            fan.flush();
            if (last) return;
        }
    });
    for (std::uint32_t r = 1; r <= rounds; ++r) pool.run(r);
    done.store(true, std::memory_order_release);  // (A)
    collector.join();
    channel.close();
    receiver.join();
    check_conservation(pool, delivered, rounds);
}

TEST_CASE("backpressure: an uncollected batch is spilled before a newer round's items, keeping overflow in push order",
          "[backpressure]") {
    // Ring of 4, one worker. Round 1 pushes 0..3 and nobody collects; round 2
    // pushes 4..9, so the active ring must evict. The older batch goes to the
    // overflow spout first, then the round's own oldest items.
    auto pool = spill::pool<int, 4>(1)
                    .overflow([](std::size_t) { return spill::CollectSpout<int>{}; })
                    .spawn<std::vector<int>>([](auto& ring, std::size_t, const std::vector<int>& items) {
                        for (int x : items) ring.push(x);
                    });
    pool.run({0, 1, 2, 3});
    pool.run({4, 5, 6, 7, 8, 9});
    spill::CollectSpout<int> delivered;
    pool.collect(delivered);
    CHECK(pool.overflow(0).items() == std::vector<int>{0, 1, 2, 3, 4, 5});
    CHECK(delivered.items() == std::vector<int>{6, 7, 8, 9});
    CHECK(pool.stats(0).merge_backs == 1);

    SECTION("and a merge back at publish evicts only items older than the round's") {
        pool.run({10, 11, 12});  // fits: published into the recycled ring
        pool.run({13, 14});      // slot still holds 10..12: merge back, 10 is evicted
        spill::CollectSpout<int> more;
        pool.collect(more);
        CHECK(pool.overflow(0).items() == std::vector<int>{0, 1, 2, 3, 4, 5, 10});
        CHECK(more.items() == std::vector<int>{11, 12, 13, 14});
        CHECK(pool.stats(0).merge_backs == 2);
        CHECK(pool.stats(0).merged_items == 2);
    }
}

namespace {

/// An overflow spout that holds the worker inside its merge back: its first
/// item waits until the test says a collect has begun, then sleeps `hold` so
/// that the collect reads the slot while the worker still merges.
struct MergeHold {
    std::atomic<bool>* merging;          // (A) release store: the worker is inside the merge
    std::atomic<bool>* collect_started;  // (C) acquire load of the test's (B)
    std::chrono::milliseconds hold;
    std::vector<int>* items;
    void send(int&& x) {
        if (items->empty()) {
            merging->store(true, std::memory_order_release);  // (A)
            while (!collect_started->load(std::memory_order_acquire)) std::this_thread::yield();  // (C)
            std::this_thread::sleep_for(hold);
        }
        items->push_back(x);
    }
    void flush() noexcept {}
};

}  // namespace

TEST_CASE("backpressure: a collect (plain or ordered) that arrives while its worker merges back waits for the merge and takes the batch",
          "[backpressure]") {
    // Ring of 8, one worker. Round 1 publishes 0..5 and nobody collects; round
    // 2 pushes 6..11 and merges them behind it at publish, evicting 0..3. The
    // collect below starts while that merge is held inside the overflow spout:
    // the slot's word is 0 (the worker took its batch back) until the merge
    // ends. The collect waits for it (the pool's spin limit bounds the wait:
    // a second here, far past the hold) instead of finding nothing.
    std::atomic<bool> merging{false};
    std::atomic<bool> collect_started{false};
    std::vector<int> overflowed;
    auto pool = spill::pool<int, 8>(1)
                    .spin_limit(std::chrono::seconds(1))
                    .overflow([&](std::size_t) { return MergeHold{&merging, &collect_started, std::chrono::milliseconds(50), &overflowed}; })
                    .spawn<int>([](auto& ring, std::size_t, const int& first) {
                        for (int x = first; x < first + 6; ++x) ring.push(x);
                    });
    pool.run(0);
    pool.dispatch(6);
    while (!merging.load(std::memory_order_acquire)) std::this_thread::yield();  // pairs with (A)
    collect_started.store(true, std::memory_order_release);                       // (B)
    spill::CollectSpout<int> delivered;
    std::size_t took = 0;
    SECTION("collect") { took = pool.collect(delivered); }
    SECTION("collect_ordered") { took = pool.collect_ordered(delivered); }
    pool.join();
    CHECK(took == 8);
    CHECK(delivered.items() == std::vector<int>{4, 5, 6, 7, 8, 9, 10, 11});
    CHECK(overflowed == std::vector<int>{0, 1, 2, 3});
    CHECK(pool.stats(0).merge_backs == 1);
}

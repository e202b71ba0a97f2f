// Long randomised runs of the handoff (suites 'stress' and 'slow': run with
// `meson test --setup=full --suite stress`). Each case checks conservation,
// per-worker FIFO, and (for the ordered path) exact order against the replay.
#include <chrono>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "core_test_util.hpp"
#include "spill/spill.hpp"

using spill::test::DeterministicTask;
using spill::test::first_fifo_break;
using spill::test::Item;
using spill::test::mix;
using spill::test::RoundArgs;
using spill::test::Tracked;

namespace {

std::uint64_t key(const Item& i) { return (std::uint64_t{i.worker} << 56) | i.seq; }

/// delivered + every overflow spout == the replay, as sets, with no duplicate.
template <class Pool>
void check_exactly_once(Pool& pool, const std::vector<Item>& delivered, const std::vector<Item>& replayed) {
    std::vector<std::uint64_t> got;
    got.reserve(replayed.size());
    for (const Item& i : delivered) got.push_back(key(i));
    for (std::size_t w = 0; w < pool.workers(); ++w) {
        const auto& of = pool.overflow(w).items();
        INFO("overflow of worker " << w);
        CHECK(first_fifo_break(of, pool.workers()).empty());
        for (const Item& i : of) got.push_back(key(i));
    }
    std::vector<std::uint64_t> want;
    want.reserve(replayed.size());
    for (const Item& i : replayed) want.push_back(key(i));
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    CHECK(std::adjacent_find(got.begin(), got.end()) == got.end());
    CHECK(got.size() == want.size());
    CHECK(got == want);
    CHECK(first_fifo_break(delivered, pool.workers()).empty());
}

}  // namespace

TEST_CASE("stress: thousands of rounds with random delays and streaming collect conserve every item", "[stress][pool]") {
    constexpr std::size_t W = 4;  // more workers than this VM's cores: preemption everywhere
    constexpr std::uint32_t rounds = 5000;
    const RoundArgs base{0x57e55, 0, 40, 50};
    auto pool = spill::pool<Item, 64>(W)
                    .overflow([](std::size_t) { return spill::CollectSpout<Item>{}; })
                    .spin_limit(std::chrono::microseconds(10))
                    .spawn<RoundArgs>(DeterministicTask{});
    spill::CollectSpout<Item> out;
    RoundArgs a = base;
    for (std::uint32_t r = 1; r <= rounds; ++r) {
        a.round = r;
        pool.dispatch(a);
        const auto k = mix(r) % 4;  // 0..3 collects while running; sometimes none at all
        for (std::uint64_t i = 0; i < k; ++i) pool.collect(out);
        if (mix(r ^ 0xabc) % 3 == 0) pool.join();  // else the next dispatch joins
    }
    pool.join();
    pool.collect(out);
    std::uint64_t merges = 0;
    for (std::size_t w = 0; w < W; ++w) merges += pool.stats(w).merge_backs;
    INFO("delivered " << out.size() << ", merge backs " << merges);
    check_exactly_once(pool, out.items(), spill::test::replay(base, 1, rounds, W));
}

TEST_CASE("stress: a collector thread racing the workers conserves every item", "[stress][pool][threads]") {
    constexpr std::size_t W = 3;
    constexpr std::uint32_t rounds = 5000;
    const RoundArgs base{0xfa11, 0, 30, 30};
    auto pool = spill::pool<Item, 32>(W)
                    .overflow([](std::size_t) { return spill::CollectSpout<Item>{}; })
                    .spawn<RoundArgs>(DeterministicTask{});
    auto fan = pool.fan_in(spill::CollectSpout<Item>{});
    std::atomic<bool> done{false};  // (A) release after the last join / (B) acquire in the collector
    std::thread collector([&] {
        for (;;) {
            const bool last = done.load(std::memory_order_acquire);  // (B)
            fan.flush();
            if (last) return;
        }
    });
    RoundArgs a = base;
    for (std::uint32_t r = 1; r <= rounds; ++r) {
        a.round = r;
        pool.run(a);
    }
    done.store(true, std::memory_order_release);  // (A)
    collector.join();
    check_exactly_once(pool, fan.inner().items(), spill::test::replay(base, 1, rounds, W));
}

TEST_CASE("stress: ordered completion over 20000 rounds with merge-back equals the replay minus overflow", "[stress][sequenced]") {
    constexpr std::size_t W = 3;
    constexpr std::uint32_t rounds = 20000;
    const RoundArgs base{0x0dde, 0, 12, 20};
    auto pool = spill::pool<Item, 16>(W)
                    .overflow([](std::size_t) { return spill::CollectSpout<Item>{}; })
                    .spawn<RoundArgs>(DeterministicTask{});
    auto fan = pool.sequenced_fan_in(spill::SequencedSpout<Item, spill::CollectSpout<Item>>{spill::CollectSpout<Item>{}, 16});
    RoundArgs a = base;
    for (std::uint32_t r = 1; r <= rounds; ++r) {
        a.round = r;
        pool.dispatch(a);
        if (mix(r) % 3 == 0) fan.collect();
        pool.join();
        if (mix(r * 31) % 4 == 0) fan.flush();
    }
    fan.flush();
    std::set<std::uint64_t> gone;
    std::uint64_t merges = 0;
    for (std::size_t w = 0; w < W; ++w) {
        for (const Item& i : pool.overflow(w).items()) gone.insert(key(i));
        merges += pool.stats(w).merge_backs;
    }
    std::vector<Item> expected;
    for (const Item& i : spill::test::replay(base, 1, rounds, W))
        if (gone.count(key(i)) == 0) expected.push_back(i);
    const auto& got = fan.inner().inner().items();
    INFO("merge backs " << merges << ", overflowed " << gone.size());
    REQUIRE(merges > 0);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == expected[i]);
}

TEST_CASE("stress: lifetime-counted items through the pool, every id exactly once including the destructor flush", "[stress][pool][exactly_once]") {
    Tracked::reset();
    constexpr std::size_t W = 3;
    std::vector<std::int64_t> seen;
    std::vector<std::vector<std::int64_t>> overflow(W);
    std::int64_t produced = 0;
    {
        auto pool = spill::pool<Tracked, 32>(W)
                        .overflow([&overflow](std::size_t w) {
                            return spill::FnSpout([&overflow, w](Tracked&& t) { overflow[w].push_back(t.id()); });
                        })
                        .spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) {
                            const auto n = static_cast<std::int64_t>(mix(round * 3 + w) % 50);
                            for (std::int64_t i = 0; i < n; ++i) ring.push(Tracked{(std::int64_t{round} << 20) | (std::int64_t(w) << 16) | i});
                        });
        auto reader = spill::FnSpout([&](Tracked&& t) { seen.push_back(t.id()); });
        for (std::uint32_t r = 1; r <= 3000; ++r) {
            pool.dispatch(r);
            if (mix(r) % 2 == 0) pool.collect(reader);
            pool.join();
            for (std::size_t w = 0; w < W; ++w) produced += static_cast<std::int64_t>(mix(r * 3 + w) % 50);
        }
    }  // the pool's destructor flushes what was never collected into the overflow spouts
    CHECK(Tracked::live() == 0);
    std::vector<std::int64_t> all = seen;
    for (const auto& v : overflow) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
    CHECK(static_cast<std::int64_t>(all.size()) == produced);
    CHECK(std::none_of(all.begin(), all.end(), [](std::int64_t id) { return id < 0; }));  // no moved-from shell delivered
}

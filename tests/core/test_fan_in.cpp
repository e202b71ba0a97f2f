// Specification of FanInSpout (composable N-to-1 collection): collection from a pool's
// handoff slots as a spout that composes with any downstream.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "core_test_util.hpp"
#include "spill/spill.hpp"

using spill::test::DeterministicTask;
using spill::test::first_fifo_break;
using spill::test::Item;
using spill::test::make_item;
using spill::test::RoundArgs;

namespace {

using namespace std::chrono_literals;

std::vector<Item> sorted(std::vector<Item> v) {
    std::sort(v.begin(), v.end(), [](const Item& a, const Item& b) { return a.worker != b.worker ? a.worker < b.worker : a.seq < b.seq; });
    return v;
}

/// "w<worker>:<value>". Built with append: GCC 12's -Wrestrict misfires on
/// chained operator+ of strings at -O3.
std::string label(std::size_t w, std::uint32_t value) {
    std::string s = "w";
    s.append(std::to_string(w));
    s.push_back(':');
    s.append(std::to_string(value));
    return s;
}

}  // namespace

TEST_CASE("fan_in: flush drains published batches into a CollectSpout and flushes it", "[fan_in]") {
    std::atomic<bool> gate{false};  // seq_cst: a one-shot flag
    auto pool = spill::pool<Item, 64>(3).spawn<std::uint32_t>([&](auto& ring, std::size_t w, const std::uint32_t& round) {
        if (w == 2)
            while (!gate.load()) std::this_thread::sleep_for(50us);
        for (std::uint32_t i = 0; i < 4; ++i) ring.push(make_item(round, w, i));
    });
    auto fan = pool.fan_in(spill::CountingSpout<spill::CollectSpout<Item>>{});
    CHECK(fan.slots() == std::vector<std::size_t>{0, 1, 2});
    pool.dispatch(1);
    // Workers 0 and 1 finish while worker 2 waits: flush streams their 8 items.
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (fan.inner().count() < 8 && std::chrono::steady_clock::now() < end) {
        fan.flush();
        std::this_thread::sleep_for(100us);
    }
    REQUIRE(fan.inner().count() == 8);
    CHECK(fan.inner().flushes() >= 1);
    gate = true;
    pool.join();
    fan.flush();
    CHECK(fan.inner().count() == 12);
    CHECK(fan.collect() == 0);
    CHECK(first_fifo_break(fan.inner().inner().items(), 3).empty());
}

TEST_CASE("fan_in: into a BatchSpout, every item arrives in batches and flush emits the partial batch", "[fan_in]") {
    auto pool = spill::pool<Item, 128>(2).spawn<RoundArgs>(DeterministicTask{});
    auto fan = pool.fan_in(spill::BatchSpout<Item, spill::CollectSpout<std::vector<Item>>>{5});
    RoundArgs a{21, 0, 9, 0};
    for (std::uint32_t r = 1; r <= 20; ++r) {
        a.round = r;
        pool.dispatch(a);
        fan.collect();  // no flush: only full batches go down
        pool.join();
    }
    fan.flush();
    std::vector<Item> got;
    const auto& batches = fan.inner().inner().items();
    for (std::size_t i = 0; i < batches.size(); ++i) {
        if (i + 1 < batches.size()) REQUIRE(batches[i].size() == 5);
        got.insert(got.end(), batches[i].begin(), batches[i].end());
    }
    CHECK(fan.inner().pending() == 0);
    const auto expected = spill::test::replay(RoundArgs{21, 0, 9, 0}, 1, 20, 2);
    CHECK(sorted(got) == sorted(expected));
    CHECK(first_fifo_break(got, 2).empty());
}

TEST_CASE("fan_in: send passes an item produced outside the pool straight through", "[fan_in]") {
    auto pool = spill::pool<int, 16>(1).spawn<int>([](auto& ring, std::size_t, const int& n) { ring.push(n); });
    auto fan = pool.fan_in(spill::CollectSpout<int>{});
    fan.send(-1);
    CHECK(fan.inner().items() == std::vector<int>{-1});
    pool.run(7);
    fan.send(-2);  // not collected yet: the pass-through does not collect
    CHECK(fan.inner().items() == std::vector<int>{-1, -2});
    fan.flush();
    CHECK(fan.inner().items() == std::vector<int>{-1, -2, 7});
    static_assert(spill::Spout<decltype(fan), int>);
}

TEST_CASE("fan_in: an inner spout that throws loses nothing; the next flush resumes", "[fan_in]") {
    auto pool = spill::pool<Item, 64>(2).spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& n) {
        for (std::uint32_t i = 0; i < n; ++i) ring.push(make_item(1, w, i));
    });
    pool.run(6);
    auto fan = pool.fan_in(spill::test::FlakySpout<Item>{{1, 4, 9}, false, {}, 0});
    CHECK_THROWS_AS(fan.flush(), spill::test::SpoutFailure);
    CHECK_THROWS_AS(fan.flush(), spill::test::SpoutFailure);
    CHECK_THROWS_AS(fan.flush(), spill::test::SpoutFailure);
    fan.flush();
    CHECK(fan.inner().items.size() == 12);
    std::vector<Item> expected;
    for (std::size_t w = 0; w < 2; ++w)
        for (std::uint32_t i = 0; i < 6; ++i) expected.push_back(make_item(1, w, i));
    CHECK(sorted(fan.inner().items) == expected);
    CHECK(first_fifo_break(fan.inner().items, 2).empty());
}

TEST_CASE("fan_in: pool -> FanInSpout -> BatchSpout -> FramedSpout is one type, read back through a socket", "[fan_in][framed]") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    std::vector<std::string> frames;
    std::thread reader([&] {
        spill::read_frames(sv[1], [&](std::span<const std::byte> f) {
            frames.emplace_back(reinterpret_cast<const char*>(f.data()), f.size());
        });
    });
    constexpr std::size_t W = 3;
    constexpr std::uint32_t rounds = 50, per_round = 20;
    static_assert(rounds * per_round <= 1024, "the ring below must hold a worker's whole run");
    {
        // Ring of 1024 >= rounds * per_round: even if every streaming flush lost
        // its race with the worker (a slow machine, TSan) and all rounds merged
        // back, nothing would overflow, so every item must come out of the socket.
        auto pool = spill::pool<std::string, 1024>(W).spawn<std::uint32_t>([](auto& ring, std::size_t w, const std::uint32_t& round) {
            for (std::uint32_t i = 0; i < per_round; ++i) ring.push(label(w, round * 1000 + i));
        });
        using Pipeline = spill::BatchSpout<std::string, spill::FramedSpout<spill::FdWriter>>;
        auto fan = pool.fan_in(Pipeline{16, spill::FramedSpout<spill::FdWriter>{spill::FdWriter{sv[0]}, 1024}});
        // The whole pipeline is one concrete type: no virtual dispatch anywhere.
        static_assert(std::is_same_v<decltype(fan), spill::FanInSpout<decltype(pool), Pipeline>>);
        static_assert(!std::is_polymorphic_v<decltype(fan)> && !std::is_polymorphic_v<Pipeline>);
        for (std::uint32_t r = 1; r <= rounds; ++r) {
            pool.dispatch(r);
            fan.flush();
            pool.join();
        }
        fan.flush();
        CHECK(fan.inner().inner().frames() == W * rounds * per_round);
    }
    ::shutdown(sv[0], SHUT_WR);
    reader.join();
    ::close(sv[0]);
    ::close(sv[1]);
    REQUIRE(frames.size() == W * rounds * per_round);
    // Per worker: every item once, in push order.
    for (std::size_t w = 0; w < W; ++w) {
        const std::string prefix = label(w, 0).substr(0, label(w, 0).size() - 1);
        std::vector<std::uint32_t> values;
        for (const auto& f : frames)
            if (f.rfind(prefix, 0) == 0) values.push_back(static_cast<std::uint32_t>(std::stoul(f.substr(prefix.size()))));
        REQUIRE(values.size() == rounds * per_round);
        for (std::size_t i = 0; i < values.size(); ++i)
            REQUIRE(values[i] == static_cast<std::uint32_t>((i / per_round + 1) * 1000 + i % per_round));
    }
}

TEST_CASE("fan_in: while split into mergers, the pool refuses a fan-in or a direct collect", "[fan_in][mergers]") {
    auto pool = spill::pool<int, 16>(4).spawn<int>([](auto& ring, std::size_t w, const int& n) { ring.push(n * 10 + static_cast<int>(w)); });
    {
        auto mergers = pool.split_mergers(2, [](std::size_t) { return spill::CollectSpout<int>{}; });
        REQUIRE(mergers.size() == 2);
        CHECK(mergers[0].slots() == std::vector<std::size_t>{0, 2});
        CHECK(mergers[1].slots() == std::vector<std::size_t>{1, 3});
        spill::CollectSpout<int> out;
        CHECK_THROWS_AS(pool.collect(out), std::logic_error);
        CHECK_THROWS_AS(pool.fan_in(spill::CollectSpout<int>{}), std::logic_error);
        pool.run(1);
        mergers[0].flush();
        mergers[1].flush();
        CHECK(mergers[0].inner().items() == std::vector<int>{10, 12});
        CHECK(mergers[1].inner().items() == std::vector<int>{11, 13});
    }
    spill::CollectSpout<int> out;  // handles gone: direct collection works again
    pool.run(2);
    CHECK(pool.collect(out) == 4);
}

namespace {

/// A merger's sink: forwards (sequence, batch) to one shared root
/// SequencedSpout under a mutex (the root restores the global order).
struct LockedRoot {
    std::mutex* mu;
    spill::SequencedSpout<Item, spill::CollectSpout<Item>>* root;
    std::size_t submit(std::uint64_t seq, std::span<Item> items, bool last) {
        std::lock_guard lock(*mu);
        return root->submit(seq, items, last);
    }
    void flush() {}
};

}  // namespace

TEST_CASE("fan_in: sequenced mergers on their own threads feed a root SequencedSpout that restores the replay order",
          "[fan_in][mergers][sequenced]") {
    constexpr std::size_t W = 4;
    constexpr std::uint32_t rounds = 500;
    const RoundArgs base{0x3e76, 0, 10, 40};
    auto pool = spill::pool<Item, 256>(W)
                    .overflow([](std::size_t) { return spill::CollectSpout<Item>{}; })
                    .spawn<RoundArgs>(DeterministicTask{});
    std::mutex mu;
    spill::SequencedSpout<Item, spill::CollectSpout<Item>> root{spill::CollectSpout<Item>{}, 16};
    std::atomic<bool> done{false};  // (A) release after the last round / (B) acquire in each merger thread
    {
        auto mergers = pool.split_sequenced_mergers(2, [&](std::size_t) { return LockedRoot{&mu, &root}; });
        std::vector<std::thread> threads;
        for (auto& m : mergers)
            threads.emplace_back([&done, &m] {
                for (;;) {
                    const bool last = done.load(std::memory_order_acquire);  // (B)
                    m.flush();
                    if (last) return;
                }
            });
        RoundArgs a = base;
        for (std::uint32_t r = 1; r <= rounds; ++r) {
            a.round = r;
            pool.run(a);
        }
        done.store(true, std::memory_order_release);  // (A)
        for (auto& t : threads) t.join();
    }
    // Merger threads that fall far behind (this VM has 2 cores for 7 threads)
    // make rings overflow: those items are expected to be missing, nothing else.
    std::set<std::uint64_t> gone;
    for (std::size_t w = 0; w < W; ++w)
        for (const Item& i : pool.overflow(w).items()) gone.insert((std::uint64_t{i.worker} << 56) | i.seq);
    std::vector<Item> expected;
    for (const Item& i : spill::test::replay(base, 1, rounds, W))
        if (gone.count((std::uint64_t{i.worker} << 56) | i.seq) == 0) expected.push_back(i);
    const auto& got = root.inner().items();
    INFO("overflowed " << gone.size());
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == expected[i]);
    CHECK(root.next_expected() == rounds * W);
    CHECK(root.pending() == 0);
}

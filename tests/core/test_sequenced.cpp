// Specification of SequencedSpout and ordered completion (docs/design.md,
// section 7).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core_test_util.hpp"
#include "spill/spill.hpp"

using spill::test::DeterministicTask;
using spill::test::Item;
using spill::test::RoundArgs;

namespace {

using Seq = spill::SequencedSpout<int, spill::CollectSpout<int>>;
static_assert(spill::SequencedSink<Seq, int>);
static_assert(spill::Spout<Seq, int>);

/// The expected ordered delivery: the replay minus every item that went to
/// an overflow spout (items are unique, so they are identified by value).
std::vector<Item> minus(const std::vector<Item>& replayed, const std::vector<Item>& overflowed) {
    auto key = [](const Item& i) { return (std::uint64_t{i.worker} << 56) ^ i.seq; };
    std::set<std::uint64_t> gone;
    for (const Item& i : overflowed) REQUIRE(gone.insert(key(i)).second);  // no item overflowed twice
    std::vector<Item> out;
    for (const Item& i : replayed)
        if (gone.count(key(i)) == 0) out.push_back(i);
    REQUIRE(out.size() + overflowed.size() == replayed.size());  // every overflowed item was produced
    return out;
}

/// Index of the first difference between two deliveries, or -1.
long first_difference(const std::vector<Item>& got, const std::vector<Item>& want) {
    const std::size_t n = std::min(got.size(), want.size());
    for (std::size_t i = 0; i < n; ++i)
        if (!(got[i] == want[i])) return static_cast<long>(i);
    return got.size() == want.size() ? -1 : static_cast<long>(n);
}

}  // namespace

TEST_CASE("sequenced_spout: batches in order take the fast path without buffering", "[sequenced]") {
    Seq seq{{}, 4};
    for (int s = 0; s < 10; ++s) seq.submit(static_cast<std::uint64_t>(s), std::vector<int>{s * 2, s * 2 + 1});
    CHECK(seq.stats().in_order == 10);
    CHECK(seq.stats().buffered == 0);
    CHECK(seq.stats().window_overflows == 0);
    CHECK(seq.stats().items == 20);
    CHECK(seq.next_expected() == 10);
    CHECK(seq.pending() == 0);
    std::vector<int> expected(20);
    for (int i = 0; i < 20; ++i) expected[static_cast<std::size_t>(i)] = i;
    CHECK(seq.inner().items() == expected);
}

TEST_CASE("sequenced_spout: an early batch waits in the window until its predecessors arrive", "[sequenced]") {
    Seq seq{{}, 4};
    seq.submit(2, std::vector<int>{5, 6});
    seq.submit(1, std::vector<int>{3, 4});
    CHECK(seq.inner().items().empty());
    CHECK(seq.pending() == 2);
    seq.submit(3, std::vector<int>{});  // an empty batch still holds its place
    seq.submit(0, std::vector<int>{1, 2});
    CHECK(seq.inner().items() == std::vector<int>{1, 2, 3, 4, 5, 6});
    CHECK(seq.next_expected() == 4);
    CHECK(seq.stats().in_order == 1);
    CHECK(seq.stats().buffered == 3);
    CHECK(seq.pending() == 0);
    // Direct sends pass through and are part of no batch.
    seq.send(99);
    seq.flush();
    CHECK(seq.inner().items().back() == 99);
}

TEST_CASE("sequenced_spout: beyond the window, batches wait in the overflow map, counted, order still exact", "[sequenced]") {
    Seq seq{{}, 2};
    CHECK(seq.window() == 2);
    for (int s = 7; s >= 1; --s) seq.submit(static_cast<std::uint64_t>(s), std::vector<int>{s});
    CHECK(seq.stats().window_overflows == 6);  // 2..7 are at least 2 ahead of 0
    CHECK(seq.stats().buffered == 1);          // 1 fits the window
    CHECK(seq.pending() == 7);
    seq.submit(0, std::vector<int>{0});
    CHECK(seq.inner().items() == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(seq.pending() == 0);
    CHECK(seq.next_expected() == 8);
}

TEST_CASE("sequenced_spout: a duplicate or stale sequence is an error that changes nothing", "[sequenced]") {
    Seq seq{{}, 4};
    seq.submit(0, std::vector<int>{0});
    CHECK_THROWS_WITH(seq.submit(0, std::vector<int>{9}), Catch::Contains("sequence 0 was already delivered"));
    seq.submit(2, std::vector<int>{2});
    CHECK_THROWS_WITH(seq.submit(2, std::vector<int>{9}), Catch::Contains("sequence 2 submitted twice"));
    seq.submit(10, std::vector<int>{10});  // beyond the window
    CHECK_THROWS_WITH(seq.submit(10, std::vector<int>{9}), Catch::Contains("sequence 10 submitted twice"));
    seq.submit(1, std::vector<int>{1});
    CHECK(seq.inner().items() == std::vector<int>{0, 1, 2});
    CHECK(seq.pending() == 1);
    for (int s = 3; s < 10; ++s) seq.submit(static_cast<std::uint64_t>(s), std::vector<int>{s});
    CHECK(seq.inner().items() == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
}

TEST_CASE("sequenced_spout: a custom first sequence number", "[sequenced]") {
    Seq seq{{}, 4, 0, 100};
    CHECK_THROWS_AS(seq.submit(99, std::vector<int>{}), std::invalid_argument);
    seq.submit(101, std::vector<int>{2});
    seq.submit(100, std::vector<int>{1});
    CHECK(seq.inner().items() == std::vector<int>{1, 2});
}

TEST_CASE("sequenced_spout: an inner spout that throws while releasing buffered batches loses nothing", "[sequenced]") {
    spill::SequencedSpout<int, spill::test::FlakySpout<int>> seq{spill::test::FlakySpout<int>{{3}, false, {}, 0}, 8};
    seq.submit(1, std::vector<int>{10, 11});
    seq.submit(2, std::vector<int>{20});
    // 0 goes through (attempts 0, 1); releasing 1 sends 10 (attempt 2), then
    // 11 fails (attempt 3). Batch 0 was taken whole, so submit returns its
    // count (the failure rule: no throw for taken items); batch 1 stays
    // buffered, half sent, and nothing moves the cursor past it.
    std::vector<int> zero{0, 1};
    CHECK(seq.submit(0, zero) == 2);
    CHECK(seq.inner().items == std::vector<int>{0, 1, 10});
    CHECK(seq.next_expected() == 1);
    // The next submit resumes the interrupted release before its own batch.
    seq.submit(3, std::vector<int>{30});
    CHECK(seq.inner().items == std::vector<int>{0, 1, 10, 11, 20, 30});
    CHECK(seq.stats().items == 6);
    CHECK_THROWS_AS(seq.submit(1, std::vector<int>{11}), std::invalid_argument);  // 1 was delivered
}

TEST_CASE("sequenced_spout: flush also resumes an interrupted release", "[sequenced]") {
    spill::SequencedSpout<int, spill::test::FlakySpout<int>> seq{spill::test::FlakySpout<int>{{1}, false, {}, 0}, 8};
    seq.submit(1, std::vector<int>{1});
    CHECK(seq.submit(0, std::vector<int>{0}) == 1);  // taken; releasing 1 fails and waits
    CHECK(seq.inner().items == std::vector<int>{0});
    seq.flush();
    CHECK(seq.inner().items == std::vector<int>{0, 1});
    CHECK(seq.pending() == 0);
}

TEST_CASE("sequenced_spout: composes with other spouts (batching downstream)", "[sequenced]") {
    spill::SequencedSpout<int, spill::BatchSpout<int, spill::CollectSpout<std::vector<int>>>> seq{
        spill::BatchSpout<int, spill::CollectSpout<std::vector<int>>>{3}, 4};
    seq.submit(1, std::vector<int>{3, 4});
    seq.submit(0, std::vector<int>{1, 2});
    seq.flush();
    CHECK(seq.inner().inner().items() == std::vector<std::vector<int>>{{1, 2, 3}, {4}});
}

// ---- the pool's ordered path -----------------------------------------------------

TEST_CASE("ordered completion: pool -> sequenced_fan_in -> SequencedSpout equals a single-threaded replay (1000 rounds, streaming)",
          "[sequenced][pool][integration]") {
    constexpr std::size_t W = 4;
    constexpr std::uint32_t rounds = 1000;
    const RoundArgs base{0x5eed, 0, 12, 60};
    auto pool = spill::pool<Item, 256>(W)
                    .overflow([](std::size_t) { return spill::CollectSpout<Item>{}; })
                    .spawn<RoundArgs>(DeterministicTask{});
    auto fan = pool.sequenced_fan_in(spill::SequencedSpout<Item, spill::CollectSpout<Item>>{spill::CollectSpout<Item>{}, 64});
    std::size_t streamed = 0;  // items delivered while a round was in flight
    RoundArgs a = base;
    for (std::uint32_t r = 1; r <= rounds; ++r) {
        a.round = r;
        pool.dispatch(a);
        for (int k = 0; k < 3; ++k) streamed += fan.collect();  // while the workers run
        pool.join();
        if (r % 7 == 0) fan.flush();
    }
    fan.flush();
    std::vector<Item> overflowed;
    for (std::size_t w = 0; w < W; ++w)
        overflowed.insert(overflowed.end(), pool.overflow(w).items().begin(), pool.overflow(w).items().end());
    const auto expected = minus(spill::test::replay(base, 1, rounds, W), overflowed);
    const auto& got = fan.inner().inner().items();
    INFO("first difference at index " << first_difference(got, expected) << " of " << expected.size());
    CHECK(first_difference(got, expected) == -1);
    CHECK(fan.inner().next_expected() == rounds * W);  // every (round, worker) batch, empty ones too
    CHECK(fan.inner().stats().in_order == rounds * W);
    CHECK(streamed > 0);
    INFO("streamed while running: " << streamed);
}

TEST_CASE("ordered completion: exact order survives backpressure merge-back and overflow",
          "[sequenced][pool][integration][backpressure]") {
    constexpr std::size_t W = 3;
    constexpr std::uint32_t rounds = 1200;
    const RoundArgs base{0xbacc, 0, 10, 40};
    // A ring of 16 and a collector that often skips rounds: slots stay full,
    // workers merge back, merged rings overflow.
    auto pool = spill::pool<Item, 16>(W)
                    .overflow([](std::size_t) { return spill::CollectSpout<Item>{}; })
                    .spawn<RoundArgs>(DeterministicTask{});
    auto fan = pool.sequenced_fan_in(spill::SequencedSpout<Item, spill::CollectSpout<Item>>{spill::CollectSpout<Item>{}, 8});
    RoundArgs a = base;
    for (std::uint32_t r = 1; r <= rounds; ++r) {
        a.round = r;
        pool.dispatch(a);
        if (spill::test::mix(r) % 5 == 0) fan.collect();  // infrequent, sometimes mid-round
        pool.join();
        if (spill::test::mix(r + 77) % 9 == 0) fan.flush();
    }
    fan.flush();
    std::vector<Item> overflowed;
    std::uint64_t merge_backs = 0;
    for (std::size_t w = 0; w < W; ++w) {
        overflowed.insert(overflowed.end(), pool.overflow(w).items().begin(), pool.overflow(w).items().end());
        merge_backs += pool.stats(w).merge_backs;
        // The overflow stream keeps each worker's push order too.
        REQUIRE(spill::test::first_fifo_break(pool.overflow(w).items(), W).empty());
    }
    INFO("merge backs " << merge_backs << ", overflowed " << overflowed.size());
    REQUIRE(merge_backs > 0);        // the merge-back path really ran
    REQUIRE(!overflowed.empty());    // and rings really overflowed
    const auto expected = minus(spill::test::replay(base, 1, rounds, W), overflowed);
    const auto& got = fan.inner().inner().items();
    INFO("first difference at index " << first_difference(got, expected) << " of " << expected.size());
    CHECK(first_difference(got, expected) == -1);
}

TEST_CASE("ordered completion: a downstream that throws mid-batch neither loses, repeats nor reorders items",
          "[sequenced][pool][failure]") {
    constexpr std::size_t W = 3;
    constexpr std::uint32_t rounds = 400;
    const RoundArgs base{0xf1a4, 0, 10, 20};
    auto pool = spill::pool<Item, 128>(W).spawn<RoundArgs>(DeterministicTask{});
    std::vector<std::size_t> fail_at;
    for (std::size_t k = 3; k < 6000; k += 97) fail_at.push_back(k);  // every 97th send attempt fails
    auto fan = pool.sequenced_fan_in(spill::SequencedSpout<Item, spill::test::FlakySpout<Item>>{
        spill::test::FlakySpout<Item>{fail_at, false, {}, 0}, 16});
    std::size_t failures = 0;
    auto collect = [&] {
        try {
            fan.collect();
        } catch (const spill::test::SpoutFailure&) {
            ++failures;
        }
    };
    RoundArgs a = base;
    for (std::uint32_t r = 1; r <= rounds; ++r) {
        a.round = r;
        pool.dispatch(a);
        collect();
        pool.join();
        collect();
    }
    for (int i = 0; i < 100; ++i) collect();  // drain what the failures held back
    const auto expected = spill::test::replay(base, 1, rounds, W);
    const auto& got = fan.inner().inner().items;
    INFO("failures " << failures << ", first difference at " << first_difference(got, expected));
    CHECK(failures > 10);
    CHECK(first_difference(got, expected) == -1);
}

TEST_CASE("ordered completion: collect_ordered on the pool gives the same order as the replay", "[sequenced][pool]") {
    constexpr std::size_t W = 3;
    const RoundArgs base{0xc011, 0, 8, 30};
    auto pool = spill::pool<Item, 64>(W).spawn<RoundArgs>(DeterministicTask{});
    spill::CollectSpout<Item> out;
    RoundArgs a = base;
    for (std::uint32_t r = 1; r <= 300; ++r) {
        a.round = r;
        pool.dispatch(a);
        pool.collect_ordered(out);
        pool.join();
    }
    pool.collect_ordered(out);
    const auto expected = spill::test::replay(base, 1, 300, W);
    CHECK(first_difference(out.items(), expected) == -1);
}

TEST_CASE("ordered completion: items a round's slowest worker has not published are held back", "[sequenced][pool]") {
    std::atomic<bool> gate{false};  // seq_cst: a one-shot flag
    auto pool = spill::pool<int, 16>(2).spawn<int>([&](auto& ring, std::size_t w, const int& round) {
        if (w == 0 && round == 1)
            while (!gate.load()) std::this_thread::sleep_for(std::chrono::microseconds(50));
        ring.push(round * 10 + static_cast<int>(w));
    });
    spill::CollectSpout<int> out;
    pool.dispatch(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // worker 1 has surely published
    CHECK(pool.collect_ordered(out) == 0);  // worker 0 comes first and is not done
    gate = true;
    pool.join();
    CHECK(pool.collect_ordered(out) == 2);
    CHECK(out.items() == std::vector<int>{10, 11});
}

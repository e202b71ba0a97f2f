// Specification of SpillRing (docs/design.md, section 3) and MpscRing.
//
// Not tested here, because it cannot be observed at run time: a capacity that
// is not a power of two is rejected at compile time by a static_assert.
// tests/core/compile_fail.sh proves that one by compiling a snippet with
// N = 6 and checking the compiler's message (meson test 'ring_rejects_non_power_of_two').
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core_test_util.hpp"
#include "spill/spill.hpp"

using spill::test::SpoutFailure;
using spill::test::Tracked;

namespace {

template <class Ring>
std::vector<int> contents(const Ring& r) {
    return std::vector<int>(r.begin(), r.end());
}

/// Records the ids of the Tracked items it receives (an item's id is seen here
/// or by a reader, never both).
struct IdSink {
    std::vector<std::int64_t>* ids;
    void send(Tracked&& t) {
        REQUIRE_FALSE(t.empty());
        ids->push_back(t.id());
        Tracked gone(std::move(t));
    }
    void flush() noexcept {}
};

}  // namespace

TEST_CASE("spill_ring: push past capacity evicts the oldest into the spout", "[ring]") {
    spill::SpillRing<int, 4, spill::CollectSpout<int>> ring;
    CHECK(ring.capacity() == 4);
    CHECK(ring.empty());
    for (int i = 0; i < 4; ++i) ring.push(i);
    CHECK(ring.full());
    CHECK(ring.spout().items().empty());
    ring.push(4);
    ring.push(5);
    CHECK(ring.size() == 4);
    CHECK(contents(ring) == std::vector<int>{2, 3, 4, 5});
    CHECK(ring.spout().items() == std::vector<int>{0, 1});
    CHECK(ring.front() == 2);
    CHECK(ring.back() == 5);
    CHECK(ring.head_position() == 2);
    CHECK(ring.tail_position() == 6);
}

TEST_CASE("spill_ring: a ring of one keeps only the newest item", "[ring]") {
    spill::SpillRing<std::string, 1, spill::CollectSpout<std::string>> ring;
    ring.push(std::string("a"));
    ring.emplace(3, 'b');
    const std::string c = "c";
    ring.push(c);
    CHECK(ring.size() == 1);
    CHECK(ring.front() == "c");
    CHECK(ring.spout().items() == std::vector<std::string>{"a", "bbb"});
}

TEST_CASE("spill_ring: behaves like a std::deque model over long random operation sequences", "[ring][model]") {
    constexpr std::size_t N = 8;
    const auto seed = GENERATE(1u, 2u, 3u, 42u, 2024u);
    std::mt19937 rng(seed);
    spill::SpillRing<int, N, spill::CollectSpout<int>> ring;
    std::deque<int> model;
    std::vector<int> model_spout;  // what the spout must have received, in order
    int next = 0;
    std::size_t spout_flushes_expected = 0;

    for (int step = 0; step < 20000; ++step) {
        const auto op = rng() % 100;
        if (op < 55) {  // push (biased so that the ring is often full)
            if (model.size() == N) {
                model_spout.push_back(model.front());
                model.pop_front();
            }
            model.push_back(next);
            ring.push(next);
            ++next;
        } else if (op < 70) {  // pop
            auto got = ring.pop();
            if (model.empty()) {
                REQUIRE_FALSE(got.has_value());
            } else {
                REQUIRE(got.has_value());
                REQUIRE(*got == model.front());
                model.pop_front();
            }
        } else if (op < 78) {  // spans(), then consume a prefix
            auto [a, b] = ring.spans();
            REQUIRE(a.size() + b.size() == model.size());
            REQUIRE((b.empty() || a.size() + static_cast<std::size_t>(&a.front() - &b.front()) == N));  // the second span starts the storage
            std::vector<int> seen(a.begin(), a.end());
            seen.insert(seen.end(), b.begin(), b.end());
            REQUIRE(seen == std::vector<int>(model.begin(), model.end()));
            const std::size_t k = rng() % (N + 2);
            ring.consume(k);
            for (std::size_t i = 0; i < std::min(k, seen.size()); ++i) model.pop_front();
        } else if (op < 84) {  // drain into a separate reader
            spill::CollectSpout<int> reader;
            const std::size_t n = ring.drain(reader);
            REQUIRE(n == model.size());
            REQUIRE(reader.items() == std::vector<int>(model.begin(), model.end()));
            model.clear();
        } else if (op < 88) {  // drain_n
            const std::size_t n = rng() % (N + 2);
            spill::CollectSpout<int> reader;
            const std::size_t moved = ring.drain_n(n, reader);
            REQUIRE(moved == std::min(n, model.size()));
            for (std::size_t i = 0; i < moved; ++i) {
                REQUIRE(reader.items()[i] == model.front());
                model.pop_front();
            }
        } else if (op < 90) {  // flush: everything into the spout
            for (int x : model) model_spout.push_back(x);
            model.clear();
            ring.flush();
            ++spout_flushes_expected;
        } else {  // inspect: iteration, size, front/back
            REQUIRE(contents(ring) == std::vector<int>(model.begin(), model.end()));
            const auto& cring = ring;
            REQUIRE(std::vector<int>(cring.begin(), cring.end()) == std::vector<int>(model.begin(), model.end()));
            if (!model.empty()) {
                REQUIRE(ring.front() == model.front());
                REQUIRE(ring.back() == model.back());
            }
        }
        REQUIRE(ring.size() == model.size());
        REQUIRE(ring.empty() == model.empty());
        REQUIRE(ring.full() == (model.size() == N));
        REQUIRE(ring.spout().items().size() == model_spout.size());
    }
    CHECK(ring.spout().items() == model_spout);
    CHECK(spout_flushes_expected > 0);
}

// A DropSpout ring of trivially destructible items evicts lazily (I5): push
// never touches the head, readers compute it. It must be indistinguishable
// from the eager ring.
static_assert(spill::SpillRing<int, 8, spill::DropSpout>::lazy_eviction);
static_assert(!spill::SpillRing<int, 8, spill::CollectSpout<int>>::lazy_eviction);
static_assert(!spill::SpillRing<std::string, 8, spill::DropSpout>::lazy_eviction);

TEST_CASE("spill_ring: a drop ring that evicts lazily behaves like a std::deque model", "[ring][model]") {
    constexpr std::size_t N = 8;
    const auto seed = GENERATE(7u, 8u, 99u);
    std::mt19937 rng(seed);
    spill::SpillRing<int, N, spill::DropSpout> ring;
    std::deque<int> model;
    std::uint64_t evicted_or_removed = 0;  // the model's head position
    int next = 0;
    for (int step = 0; step < 20000; ++step) {
        const auto op = rng() % 100;
        if (op < 60) {  // pushes, several in a row so that tail runs far ahead of the stored head
            const auto burst = 1 + rng() % (3 * N);
            for (std::size_t i = 0; i < burst; ++i) {
                if (model.size() == N) {
                    model.pop_front();
                    ++evicted_or_removed;
                }
                model.push_back(next);
                ring.push(next++);
            }
        } else if (op < 72) {  // pop
            auto got = ring.pop();
            REQUIRE(got.has_value() == !model.empty());
            if (got) {
                REQUIRE(*got == model.front());
                model.pop_front();
                ++evicted_or_removed;
            }
        } else if (op < 80) {  // spans(), then consume a prefix
            auto [a, b] = ring.spans();
            REQUIRE(a.size() + b.size() == model.size());
            const std::size_t k = std::min<std::size_t>(rng() % (N + 2), model.size());
            for (std::size_t i = 0; i < k; ++i) {
                REQUIRE((i < a.size() ? a[i] : b[i - a.size()]) == model.front());
                model.pop_front();
                ++evicted_or_removed;
            }
            ring.consume(k);
        } else if (op < 88) {  // drain_n
            const std::size_t n = rng() % (N + 2);
            spill::CollectSpout<int> reader;
            const std::size_t moved = ring.drain_n(n, reader);
            REQUIRE(moved == std::min(n, model.size()));
            for (std::size_t i = 0; i < moved; ++i) {
                REQUIRE(reader.items()[i] == model.front());
                model.pop_front();
                ++evicted_or_removed;
            }
        } else {  // inspect
            REQUIRE(contents(ring) == std::vector<int>(model.begin(), model.end()));
            if (!model.empty()) {
                REQUIRE(ring.front() == model.front());
                REQUIRE(ring.back() == model.back());
            }
        }
        REQUIRE(ring.size() == model.size());
        REQUIRE(ring.empty() == model.empty());
        REQUIRE(ring.full() == (model.size() == N));
        REQUIRE(ring.head_position() == evicted_or_removed);
        REQUIRE(ring.tail_position() == static_cast<std::uint64_t>(next));
    }
}

TEST_CASE("spill_ring: every item leaves exactly once, including through the destructor flush", "[ring][exactly_once]") {
    Tracked::reset();
    std::vector<std::int64_t> via_spout;
    std::vector<std::int64_t> via_readers;
    std::int64_t pushed = 0;
    const auto seed = GENERATE(7u, 8u, 9u);
    {
        std::mt19937 rng(seed);
        spill::SpillRing<Tracked, 16, IdSink> ring{IdSink{&via_spout}};
        for (int step = 0; step < 20000; ++step) {
            const auto op = rng() % 10;
            if (op < 6) {
                ring.push(Tracked{pushed++});
            } else if (op == 6) {
                if (auto t = ring.pop()) via_readers.push_back(t->id());
            } else if (op == 7) {  // read a prefix in place and consume it
                auto [a, b] = ring.spans();
                const std::size_t k = std::min<std::size_t>(rng() % 6, a.size());
                for (std::size_t i = 0; i < k; ++i) {
                    Tracked mine(std::move(a[i]));
                    via_readers.push_back(mine.id());
                }
                ring.consume(k);
            } else if (op == 8) {
                auto reader = spill::FnSpout([&](Tracked&& t) { via_readers.push_back(t.id()); });
                ring.drain_n(rng() % 4, reader);
            } else if (rng() % 8 == 0) {
                ring.flush();
            }
        }
        REQUIRE(Tracked::live() == static_cast<std::int64_t>(ring.size()));
        REQUIRE(!ring.empty());  // something is left for the destructor to flush
    }
    CHECK(Tracked::live() == 0);
    CHECK(Tracked::constructed.load() == Tracked::destroyed.load());
    std::vector<std::int64_t> all = via_spout;
    all.insert(all.end(), via_readers.begin(), via_readers.end());
    std::sort(all.begin(), all.end());
    REQUIRE(all.size() == static_cast<std::size_t>(pushed));
    for (std::int64_t i = 0; i < pushed; ++i) REQUIRE(all[static_cast<std::size_t>(i)] == i);
    // The spout sees its items in push order (evictions and flushes are oldest first).
    CHECK(std::is_sorted(via_spout.begin(), via_spout.end()));
}

TEST_CASE("spill_ring: rings chain, and destroying the first flushes through the chain in order", "[ring][chain]") {
    spill::CollectSpout<int> sink;
    {
        using Tail = spill::SpillRing<int, 8, spill::SpoutRef<spill::CollectSpout<int>>>;
        spill::SpillRing<int, 4, Tail> head{std::in_place, spill::SpoutRef{sink}};
        for (int i = 0; i < 20; ++i) head.push(i);
        // head holds 16..19, the tail ring 8..15, the sink 0..7.
        CHECK(contents(head) == std::vector<int>{16, 17, 18, 19});
        CHECK(contents(head.spout()) == std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15});
        CHECK(sink.items() == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    }
    std::vector<int> expected(20);
    for (int i = 0; i < 20; ++i) expected[static_cast<std::size_t>(i)] = i;
    CHECK(sink.items() == expected);
}

TEST_CASE("spill_ring: flush moves everything into the spout and flushes it", "[ring][chain]") {
    spill::SpillRing<int, 4, spill::CountingSpout<spill::CollectSpout<int>>> ring;
    ring.push(1);
    ring.push(2);
    ring.flush();
    CHECK(ring.empty());
    CHECK(ring.spout().count() == 2);
    CHECK(ring.spout().flushes() == 1);
    CHECK(ring.spout().inner().items() == std::vector<int>{1, 2});
}

TEST_CASE("spill_ring: a spout that throws during eviction leaves ring and item unchanged (strong guarantee)", "[ring][exceptions]") {
    Tracked::reset();
    std::vector<std::int64_t> seen;
    {
        spill::SpillRing<Tracked, 4, spill::test::FlakySpout<Tracked>> ring;
        for (int i = 0; i < 4; ++i) ring.push(Tracked{i});
        ring.spout().fail_all = true;
        Tracked extra{99};
        CHECK_THROWS_AS(ring.push(std::move(extra)), SpoutFailure);
        CHECK(extra.id() == 99);  // not consumed
        REQUIRE(ring.size() == 4);
        std::vector<std::int64_t> ids;
        for (const Tracked& t : ring) ids.push_back(t.id());
        CHECK(ids == std::vector<std::int64_t>{0, 1, 2, 3});
        CHECK(ring.spout().items.empty());

        const Tracked copy_source{100};
        CHECK_THROWS_AS(ring.push(copy_source), SpoutFailure);
        CHECK(ring.size() == 4);

        ring.spout().fail_all = false;  // the spout recovers: the same push now succeeds
        ring.push(std::move(extra));
        REQUIRE(ring.spout().items.size() == 1);
        CHECK(ring.spout().items[0].id() == 0);
        ids.clear();
        for (const Tracked& t : ring) ids.push_back(t.id());
        CHECK(ids == std::vector<std::int64_t>{1, 2, 3, 99});
        ring.flush();
        for (const Tracked& t : ring.spout().items) seen.push_back(t.id());
    }
    CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 3, 99});
    CHECK(Tracked::live() == 0);
}

TEST_CASE("spill_ring: a reader that throws during drain leaves the items it did not take", "[ring][exceptions]") {
    spill::SpillRing<int, 8> ring;
    for (int i = 0; i < 6; ++i) ring.push(i);
    spill::test::FlakySpout<int> reader{{3}, false, {}, 0};
    CHECK_THROWS_AS(ring.drain(reader), SpoutFailure);
    CHECK(reader.items == std::vector<int>{0, 1, 2});
    CHECK(contents(ring) == std::vector<int>{3, 4, 5});
    CHECK(ring.drain(reader) == 3);
    CHECK(reader.items == std::vector<int>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("spill_ring: spans() shows the items in place, as two spans once they wrap; consume() removes a prefix", "[ring]") {
    spill::SpillRing<int, 8> ring;
    for (int i = 0; i < 5; ++i) ring.push(i);
    {
        auto [a, b] = ring.spans();
        CHECK(std::vector<int>(a.begin(), a.end()) == std::vector<int>{0, 1, 2, 3, 4});
        CHECK(b.empty());
    }
    ring.consume(2);
    CHECK(contents(ring) == std::vector<int>{2, 3, 4});
    for (int i = 5; i < 10; ++i) ring.push(i);  // positions 5..9: wraps after slot 7
    auto [a, b] = ring.spans();
    CHECK(std::vector<int>(a.begin(), a.end()) == std::vector<int>{2, 3, 4, 5, 6, 7});
    CHECK(std::vector<int>(b.begin(), b.end()) == std::vector<int>{8, 9});
    ring.consume(100);  // clamped to size()
    CHECK(ring.empty());
}

TEST_CASE("spill_ring: drain hands a bulk spout the items in place as at most two spans", "[ring][bulk]") {
    struct SpanLog {
        std::vector<std::pair<const int*, std::size_t>> calls;
        std::vector<int> items;
        void send(int&& x) { items.push_back(x); }
        std::size_t send_all(std::span<int> s) {
            calls.emplace_back(s.data(), s.size());
            items.insert(items.end(), s.begin(), s.end());
            return s.size();
        }
        void flush() noexcept {}
    };
    spill::SpillRing<int, 8> ring;
    for (int i = 0; i < 6; ++i) ring.push(i);
    ring.consume(6);
    for (int i = 0; i < 7; ++i) ring.push(i);  // starts at slot 6: wraps
    const int* first_slot = &ring.front();
    SpanLog log;
    CHECK(ring.drain(log) == 7);
    CHECK(log.items == std::vector<int>{0, 1, 2, 3, 4, 5, 6});
    REQUIRE(log.calls.size() == 2);
    CHECK(log.calls[0].first == first_slot);  // in place: no copy on the way
    CHECK(log.calls[0].second == 2);
    CHECK(log.calls[1].second == 5);
}

TEST_CASE("spill_ring: a bulk spout that takes a prefix leaves the rest, oldest first", "[ring][bulk][failure]") {
    struct Prefix {  // takes at most 2 items per call
        std::vector<int> items;
        void send(int&& x) { items.push_back(x); }
        std::size_t send_all(std::span<int> s) {
            const std::size_t n = std::min<std::size_t>(2, s.size());
            items.insert(items.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
            return n;
        }
        void flush() noexcept {}
    };
    spill::SpillRing<int, 8> ring;
    for (int i = 0; i < 5; ++i) ring.push(i);
    Prefix p;
    CHECK(ring.drain(p) == 2);  // a short count stops the drain
    CHECK(contents(ring) == std::vector<int>{2, 3, 4});
    ring.drain_fully(p);  // offers the rest again until it is empty
    CHECK(p.items == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(ring.empty());
}

TEST_CASE("spill_ring: rewind() starts an empty ring at the first slot again", "[ring]") {
    spill::SpillRing<int, 8> ring;
    for (int i = 0; i < 5; ++i) ring.push(i);
    ring.consume(5);
    ring.rewind();
    ring.push(42);
    CHECK(ring.head_position() == 0);
    CHECK(ring.tail_position() == 1);
    auto [a, b] = ring.spans();
    CHECK(a.size() == 1);
    CHECK(a[0] == 42);
}

// ---- MpscRing ---------------------------------------------------------------------

TEST_CASE("mpsc_ring: producers on threads, drained afterwards, per-producer FIFO and conservation", "[mpsc]") {
    constexpr std::size_t producers = 4;
    constexpr std::uint64_t per_producer = 20000;
    constexpr std::size_t N = 1024;
    // Each producer's overflow goes to its own collector, so nothing is shared while pushing.
    std::vector<spill::CollectSpout<std::uint64_t>> overflow(producers);
    spill::MpscRing<std::uint64_t, N, spill::SpoutRef<spill::CollectSpout<std::uint64_t>>> mpsc(
        producers, [&](std::size_t p) { return spill::SpoutRef{overflow[p]}; });
    REQUIRE(mpsc.producers() == producers);
    std::vector<std::thread> threads;
    for (std::size_t p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            auto& ring = mpsc.producer(p);
            for (std::uint64_t i = 0; i < per_producer; ++i) ring.push(p * per_producer + i);
        });
    for (auto& t : threads) t.join();
    CHECK(mpsc.size_guess() == producers * N);

    spill::CollectSpout<std::uint64_t> out;
    CHECK(mpsc.drain(out) == producers * N);
    CHECK(mpsc.size_guess() == 0);
    // Delivered: producer 0's newest N items, then producer 1's, ... each in push order.
    for (std::size_t p = 0; p < producers; ++p) {
        for (std::size_t i = 0; i < N; ++i) REQUIRE(out.items()[p * N + i] == p * per_producer + (per_producer - N) + i);
        // Overflowed: the older items, in push order. delivered + overflowed == produced.
        REQUIRE(overflow[p].size() == per_producer - N);
        for (std::size_t i = 0; i < overflow[p].size(); ++i) REQUIRE(overflow[p].items()[i] == p * per_producer + i);
    }
}

TEST_CASE("mpsc_ring: drained between bursts, nothing lost or repeated", "[mpsc]") {
    spill::MpscRing<std::uint64_t, 256> mpsc(3);  // default spout drops: bursts stay under capacity
    spill::CollectSpout<std::uint64_t> out;
    std::uint64_t expected_total = 0;
    for (int burst = 0; burst < 50; ++burst) {
        std::vector<std::thread> threads;
        for (std::size_t p = 0; p < 3; ++p)
            threads.emplace_back([&, p, burst] {
                for (std::uint64_t i = 0; i < 200; ++i)
                    mpsc.producer(p).push((static_cast<std::uint64_t>(burst) << 32) | (p << 16) | i);
            });
        for (auto& t : threads) t.join();
        expected_total += 600;
        mpsc.drain(out);
    }
    REQUIRE(out.size() == expected_total);
    std::map<std::uint64_t, std::uint64_t> last;  // producer -> last value: strictly growing
    for (std::uint64_t x : out.items()) {
        const std::uint64_t p = (x >> 16) & 0xffff;
        if (last.count(p) != 0) REQUIRE(x > last[p]);
        last[p] = x;
    }
    CHECK_THROWS_AS((spill::MpscRing<int, 8>(0)), std::invalid_argument);
    CHECK_THROWS_AS(mpsc.producer(3), std::out_of_range);
}

// ---- the push cursor ------------------------------------------------------------

TEST_CASE("spill_ring: a writer pushes exactly like push, evictions included", "[ring][writer]") {
    std::mt19937 rng(11);
    spill::SpillRing<int, 8, spill::CollectSpout<int>> by_push;
    spill::SpillRing<int, 8, spill::CollectSpout<int>> by_writer;
    spill::SpillRing<int, 8, spill::DropSpout> lazy_by_writer;  // lazy eviction (I5) through the cursor
    std::deque<int> lazy_model;
    int next = 0;
    for (int burst = 0; burst < 500; ++burst) {
        const int n = static_cast<int>(rng() % 20);
        {
            auto w = by_writer.writer();
            auto lw = lazy_by_writer.writer();
            for (int i = 0; i < n; ++i, ++next) {
                by_push.push(next);
                w.push(next);
                lw.push(next);
                lazy_model.push_back(next);
                if (lazy_model.size() > 8) lazy_model.pop_front();
            }
        }  // the cursors write the positions back
        if (rng() % 3 == 0) {  // other operations between cursors see the written-back state
            auto a = by_push.pop();
            auto b = by_writer.pop();
            REQUIRE(a == b);
            auto c = lazy_by_writer.pop();
            REQUIRE(c.has_value() == !lazy_model.empty());
            if (c) {
                REQUIRE(*c == lazy_model.front());
                lazy_model.pop_front();
            }
        }
        REQUIRE(contents(by_writer) == contents(by_push));
        REQUIRE(by_writer.spout().items() == by_push.spout().items());
        REQUIRE(by_writer.head_position() == by_push.head_position());
        REQUIRE(by_writer.tail_position() == by_push.tail_position());
        REQUIRE(contents(lazy_by_writer) == std::vector<int>(lazy_model.begin(), lazy_model.end()));
    }
}

TEST_CASE("spill_ring: a writer whose spout throws leaves the ring as push would (strong guarantee)", "[ring][writer][exceptions]") {
    Tracked::reset();
    {
        spill::SpillRing<Tracked, 4, spill::test::FlakySpout<Tracked>> ring;
        {
            auto w = ring.writer();
            for (int i = 0; i < 4; ++i) w.push(Tracked{i});
            ring.spout().fail_all = true;
            Tracked extra{99};
            CHECK_THROWS_AS(w.push(std::move(extra)), SpoutFailure);
            CHECK(extra.id() == 99);  // not consumed
            ring.spout().fail_all = false;
            w.push(std::move(extra));  // the cursor goes on from a consistent state
        }
        std::vector<std::int64_t> ids;
        for (const Tracked& t : ring) ids.push_back(t.id());
        CHECK(ids == std::vector<std::int64_t>{1, 2, 3, 99});
        REQUIRE(ring.spout().items.size() == 1);
        CHECK(ring.spout().items[0].id() == 0);
    }
    CHECK(Tracked::live() == 0);
}

TEST_CASE("spill_ring: prefault maps the storage without constructing an item", "[ring]") {
    Tracked::reset();
    {
        auto ring = std::make_unique<spill::SpillRing<Tracked, 1024, spill::CountingSpout<>>>();
        ring->prefault();
        CHECK(ring->empty());
        CHECK(Tracked::constructed.load() == 0);
        for (std::int64_t i = 0; i < 1500; ++i) ring->push(Tracked{i});
        CHECK(ring->size() == 1024);
        CHECK(ring->front().id() == 1500 - 1024);
        CHECK(ring->spout().count() == 1500 - 1024);
    }
    CHECK(Tracked::live() == 0);
}

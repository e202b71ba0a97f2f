// Specification of how a pool chooses between cached and streamed rings
// (detail/stream.hpp, docs/design.md section 4b): the chooser's rule, fed
// with synthetic takes, and SpillRing::push_n writing the same items either
// way.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <numeric>
#include <vector>

#include "core_test_util.hpp"
#include "spill/spill.hpp"

using spill::Streaming;
using spill::detail::StreamChooser;

namespace {

/// Drives a chooser the way a pool does: each step hands one ring back,
/// marked as the chooser says, and takes the ring handed back `lag` steps
/// earlier (a worker fills the ring it got at one take in its next round,
/// so it comes back a take or two later). A ring takes `n / pace` ticks,
/// the pace of the way it was written.
struct Drive {
    StreamChooser& c;
    std::uint64_t n = 512;
    double cached_pace = 1.0;    // items per tick
    double streamed_pace = 1.0;
    std::size_t lag = 2;
    std::uint64_t tick = 1000;
    std::deque<bool> in_flight{};
    std::uint64_t streamed_handed = 0;

    void step() {
        const bool s = c.streams_next();
        c.handed();
        streamed_handed += s ? 1 : 0;
        in_flight.push_back(s);
        if (in_flight.size() <= lag) return;
        const bool taken = in_flight.front();
        in_flight.pop_front();
        tick += static_cast<std::uint64_t>(static_cast<double>(n) / (taken ? streamed_pace : cached_pace));
        const std::uint64_t trials = c.trials;
        const bool decided = c.took(taken, n, [this] { return tick; });
        REQUIRE(decided == (c.trials != trials));  // the pool copies the counters only then
    }
    void steps(std::uint64_t k) {
        for (std::uint64_t i = 0; i < k; ++i) step();
    }
};

StreamChooser adaptive() {
    StreamChooser c;
    c.mode = Streaming::adaptive;
    return c;
}

}  // namespace

TEST_CASE("stream_chooser: never and always are constant and measure nothing", "[stream]") {
    StreamChooser c;
    c.mode = Streaming::never;
    Drive d{c};
    d.steps(1000);
    CHECK(d.streamed_handed == 0);
    CHECK_FALSE(c.took(false, 512, [] { return std::uint64_t{1}; }));  // measures nothing
    c.mode = Streaming::always;
    d.streamed_handed = 0;
    d.steps(1000);
    CHECK(d.streamed_handed == 1000);
    CHECK(c.trials == 0);
}

TEST_CASE("stream_chooser: writes through the cache until the first trial, then keeps a way that is more than 1/8 faster",
          "[stream]") {
    StreamChooser c = adaptive();
    Drive d{c};
    d.streamed_pace = 2.0;  // streaming is twice as fast
    d.steps(StreamChooser::first_gap);
    CHECK(d.streamed_handed == 0);
    CHECK_FALSE(c.current);
    d.steps(StreamChooser::trial + d.lag);  // the trial's rings come back
    CHECK(c.trials == 1);
    CHECK(c.current);
    CHECK(c.switches == 1);
    // From now on rings stream, except the next trial's, written through the cache.
    const std::uint64_t before = d.streamed_handed;
    d.steps(StreamChooser::first_gap - 2 * StreamChooser::trial);
    CHECK(d.streamed_handed - before == StreamChooser::first_gap - 2 * StreamChooser::trial);
}

TEST_CASE("stream_chooser: a trial that is not more than 1/8 faster keeps the way and doubles the gap, up to max_gap",
          "[stream]") {
    StreamChooser c = adaptive();
    Drive d{c};
    d.streamed_pace = 1.1;  // faster, but within the margin
    std::uint64_t gap = StreamChooser::first_gap;
    std::uint64_t decided_at = 0;
    for (int t = 1; t <= 9; ++t) {
        while (c.trials < static_cast<std::uint64_t>(t)) d.step();
        CHECK_FALSE(c.current);
        if (t > 1) CHECK(c.handed_n - decided_at == gap + StreamChooser::trial + d.lag);  // the gap, the trial, its last ring back
        gap = gap * 2 < StreamChooser::max_gap ? gap * 2 : StreamChooser::max_gap;
        CHECK(c.gap == gap);
        decided_at = c.handed_n;
    }
    CHECK(c.gap == StreamChooser::max_gap);
    CHECK(c.switches == 0);
}

TEST_CASE("stream_chooser: follows the host both ways: a current way that slows to under half its pace brings the next trial "
          "forward",
          "[stream]") {
    StreamChooser c = adaptive();
    Drive d{c};
    d.cached_pace = 3.0;  // cores close together: the cached way wins
    d.streamed_pace = 1.0;
    while (c.trials < 6) d.step();  // the gap has grown to 64 << 5
    REQUIRE_FALSE(c.current);
    REQUIRE(c.gap == StreamChooser::first_gap << 6);
    const std::uint64_t planned = c.trial_at;
    // The cores move apart: the cached way falls to a third, streaming is now faster.
    d.cached_pace = 1.0;
    d.streamed_pace = 3.0;
    const std::uint64_t moved_at = c.handed_n;
    while (!c.current) d.step();
    // Two blocks to notice, the trial, and its rings coming back.
    CHECK(c.handed_n - moved_at <= 2 * StreamChooser::block + d.lag + StreamChooser::trial + d.lag + 1);
    CHECK(c.handed_n < planned);
    // And back: streaming slows, the cached way is fast again.
    d.cached_pace = 3.0;
    d.streamed_pace = 0.9;
    const std::uint64_t back_at = c.handed_n;
    while (c.current) d.step();
    CHECK(c.handed_n - back_at <= 2 * StreamChooser::block + StreamChooser::first_gap + StreamChooser::trial + 2 * d.lag + 1);
}

TEST_CASE("stream_chooser: a pace that only rises starts no trial", "[stream]") {
    StreamChooser c = adaptive();
    Drive d{c};
    d.streamed_pace = 0.5;
    while (c.trials < 1) d.step();
    const std::uint64_t next = c.trial_at;
    d.cached_pace = 4.0;  // the current way got faster
    while (c.handed_n + 1 < next) d.step();
    CHECK(c.trials == 1);
}

TEST_CASE("stream_chooser: a trial whose rings come back apart is dropped and tried again a gap later", "[stream]") {
    StreamChooser c = adaptive();
    // Hand back the trial's rings, but take them each between two cached ones.
    std::uint64_t tick = 1;
    std::vector<bool> handed;
    while (c.handed_n < StreamChooser::first_gap + StreamChooser::trial) {
        handed.push_back(c.streams_next());
        c.handed();
    }
    for (bool s : handed) {
        c.took(s, 512, [&] { return tick += 512; });
        c.took(false, 512, [&] { return tick += 512; });
    }
    CHECK(c.trials == 0);
    while (c.handed_n <= StreamChooser::first_gap + 2 * StreamChooser::trial) c.handed();
    CHECK(c.trial_at == c.handed_n + StreamChooser::first_gap);
    CHECK(c.other.intervals == 0);
}

TEST_CASE("spill_ring: push_n writes the same items streamed or not, wrapping and evicting as push does", "[ring][stream]") {
    spill::SpillRing<std::uint64_t, 16, spill::CollectSpout<std::uint64_t>> cached;
    spill::SpillRing<std::uint64_t, 16, spill::CollectSpout<std::uint64_t>> streamed;
    streamed.stream_writes(true);
    CHECK(streamed.streams_writes());
    CHECK_FALSE(cached.streams_writes());
    std::uint64_t next = 0;
    for (std::size_t n : {3u, 5u, 16u, 7u, 1u, 20u, 0u, 9u}) {
        const std::uint64_t first = next;
        cached.push_n(n, [first](std::size_t i) noexcept { return first + i; });
        streamed.push_n(n, [first](std::size_t i) noexcept { return first + i; });
        next += n;
        REQUIRE(std::vector<std::uint64_t>(streamed.begin(), streamed.end()) == std::vector<std::uint64_t>(cached.begin(), cached.end()));
        REQUIRE(streamed.spout().items() == cached.spout().items());
        if (n == 7) {  // drain some, so the next runs start mid-ring
            std::vector<std::uint64_t> a, b;
            for (int k = 0; k < 5; ++k) {
                a.push_back(*cached.pop());
                b.push_back(*streamed.pop());
            }
            REQUIRE(a == b);
        }
    }
    CHECK(streamed.size() == 16);
    CHECK(streamed.back() == next - 1);
}

TEST_CASE("spill_ring: items that cannot stream keep the flag and are pushed as usual", "[ring][stream]") {
    STATIC_REQUIRE_FALSE(spill::detail::streamable<spill::test::Tracked>);
    STATIC_REQUIRE(spill::detail::streamable<std::uint64_t> == spill::detail::can_stream_stores);
    struct TwoWords {
        std::uint64_t a, b;
    };
    STATIC_REQUIRE(spill::detail::streamable<TwoWords> == spill::detail::can_stream_stores);
    STATIC_REQUIRE_FALSE(spill::detail::streamable<std::uint32_t>);
    spill::test::Tracked::reset();
    {
        spill::SpillRing<spill::test::Tracked, 8, spill::CountingSpout<>> r;
        r.stream_writes(true);
        r.push_n(12, [](std::size_t i) noexcept { return spill::test::Tracked(static_cast<std::int64_t>(i)); });
        CHECK(r.streams_writes());
        CHECK(r.size() == 8);
        CHECK(r.front().id() == 4);
        CHECK(r.spout().count() == 4);
    }
    CHECK(spill::test::Tracked::live() == 0);
}

TEST_CASE("worker_pool: cached, streamed or adaptive, every item arrives once and in order, and the takes say how each ring "
          "was written",
          "[pool][stream]") {
    constexpr std::size_t N = 1024;
    constexpr std::uint64_t per = 700;  // rounds that wrap the ring's storage
    for (Streaming how : {Streaming::never, Streaming::always, Streaming::adaptive}) {
        CAPTURE(static_cast<int>(how));
        auto pool = spill::pool<std::uint64_t, N>(2)
                        .streaming(how)
                        .overflow([](std::size_t) { return spill::CollectSpout<std::uint64_t>{}; })
                        .spawn<std::uint64_t>([](auto& ring, std::size_t w, const std::uint64_t& r) {
                            const std::uint64_t first = (w << 40) + r * per;
                            ring.push_n(per, [first](std::size_t i) noexcept { return first + i; });
                        });
        spill::CollectSpout<std::uint64_t> out;
        constexpr std::uint64_t rounds = 400;
        for (std::uint64_t r = 0; r < rounds; ++r) {
            pool.dispatch(r);
            (void)pool.collect(out);
        }
        pool.join();
        (void)pool.collect(out);
        std::uint64_t streamed = 0, takes = 0;
        std::vector<std::vector<std::uint64_t>> seen(2);
        for (std::uint64_t v : out.items()) seen[v >> 40].push_back(v & ((std::uint64_t{1} << 40) - 1));
        for (std::size_t w = 0; w < 2; ++w) {
            std::vector<std::uint64_t> all(seen[w]);
            for (std::uint64_t v : pool.overflow(w).items()) all.push_back(v & ((std::uint64_t{1} << 40) - 1));
            std::sort(all.begin(), all.end());
            std::vector<std::uint64_t> once(rounds * per);
            std::iota(once.begin(), once.end(), std::uint64_t{0});
            REQUIRE(all == once);  // delivered or overflowed, each exactly once
            CHECK(std::is_sorted(seen[w].begin(), seen[w].end()));                // delivered in push order
            streamed += pool.handoff_stats(w).streamed;
            takes += pool.handoff_stats(w).takes;
        }
        if (how == Streaming::never || !spill::detail::can_stream_stores) CHECK(streamed == 0);
        // The two rings a worker starts with were never handed back, so never marked.
        if (how == Streaming::always && spill::detail::can_stream_stores) CHECK(streamed + 2 * 2 >= takes);
    }
}

TEST_CASE("worker_pool: an unknown streaming choice is refused with its value", "[pool][stream]") {
    CHECK_THROWS_WITH((spill::pool<std::uint64_t, 16>(1).streaming(static_cast<Streaming>(7))), Catch::Contains("unknown value 7"));
}

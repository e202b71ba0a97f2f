// Multi-stage pipelines: stages compose by type, each
// stage scales with its own worker count, and the sequenced path keeps the
// order of a single-threaded replay across stages.
#include <chrono>
#include <catch2/catch.hpp>

#include <spill/spill.hpp>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace {

// ---- the workload: pure functions, so a single-threaded replay is exact ----

std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// Items stage 1 makes in round r: 0..40, so some rounds leave some workers empty.
std::uint32_t round_size(std::uint64_t r) { return static_cast<std::uint32_t>(mix(r) % 41); }

/// Stage 1, item i of round r: unique per (r, i).
std::uint64_t stage1_item(std::uint64_t r, std::uint32_t i) { return (r << 20) | i; }
/// Stage 2: a bijection, so uniqueness survives it.
std::uint64_t stage2_fn(std::uint64_t x) { return x * 3 + 1; }
/// Stage 3 changes the type.
std::string stage3_fn(std::uint64_t x) {
    std::string s(1, 'v');  // not "v" + to_string(x): GCC 12 -O3 warns (-Wrestrict, a false positive) on that
    s += std::to_string(x);
    return s;
}

struct Round {
    std::uint64_t r = 0;
    std::uint32_t n = 0;
};

// Stage 1 splits its round into contiguous blocks; stages 2 and 3 deal items
// round-robin (item i to worker i % W), so their output order depends on the
// worker count, and the replay below has to model (round, worker, push order).
template <class Ring>
void stage1_task(Ring& ring, std::size_t w, std::size_t workers, const Round& a) {
    const std::size_t begin = a.n * w / workers, end = a.n * (w + 1) / workers;
    for (std::size_t i = begin; i < end; ++i) ring.push(stage1_item(a.r, static_cast<std::uint32_t>(i)));
}

/// One round of a round-robin stage, replayed on one thread: worker 0's items, then worker 1's...
template <class In, class F>
auto replay_round_robin(const std::vector<In>& in, std::size_t workers, F f) {
    std::vector<decltype(f(in[0]))> out;
    for (std::size_t w = 0; w < workers; ++w)
        for (std::size_t i = w; i < in.size(); i += workers) out.push_back(f(in[i]));
    return out;
}

/// Single-threaded replay of rounds 1..rounds through stage 1 then stage 2.
std::vector<std::vector<std::uint64_t>> replay_two_stages(std::uint64_t rounds, std::size_t w2) {
    std::vector<std::vector<std::uint64_t>> per_round;
    for (std::uint64_t r = 1; r <= rounds; ++r) {
        std::vector<std::uint64_t> s1;
        for (std::uint32_t i = 0; i < round_size(r); ++i) s1.push_back(stage1_item(r, i));  // blocks keep input order
        per_round.push_back(replay_round_robin(s1, w2, stage2_fn));
    }
    return per_round;
}

/// Polls before a waiting thread blocks. Low: these tests run more threads
/// than a CI machine has cores, where spinning only delays the thread that
/// would make progress (the default suits pinned, dedicated cores).
constexpr auto spins = std::chrono::microseconds(2);  // park soon: these tests run more threads than cores

/// An overflow spout that forwards to a spout it does not own and counts.
/// (CountingSpout<SpoutRef<S>> spells the same, but clang 14 rejects it for a
/// non-default-constructible inner spout.)
template <class Target>
class EvictInto {
public:
    explicit EvictInto(Target& target) noexcept : target_(&target) {}
    template <class T>
    void send(T&& item) {
        target_->send(std::forward<T>(item));
        ++count_;
    }
    void flush() { target_->flush(); }
    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }

private:
    Target* target_;
    std::uint64_t count_ = 0;
};

template <class T>
using Ordered = spill::SequencedSpout<T, spill::CollectSpout<T>>;

}  // namespace

TEST_CASE("pipeline: two stages overlap and the sequenced output equals the single-threaded replay", "[pipeline]") {
    const auto [w1, w2] = GENERATE(table<std::size_t, std::size_t>({{1, 1}, {2, 3}, {3, 2}, {4, 1}}));
    const std::uint64_t rounds = 5000;
    CAPTURE(w1, w2);

    auto stage1 = spill::pool<std::uint64_t, 64>(w1).spin_limit(spins)
                      .overflow([](std::size_t) { return spill::CountingSpout<>{}; })
                      .spawn<Round>([w1 = w1](auto& ring, std::size_t w, const Round& a) { stage1_task(ring, w, w1, a); });
    auto fan1 = stage1.sequenced_fan_in(Ordered<std::uint64_t>{{}});

    auto stage2 = spill::pool<std::uint64_t, 64>(w2).spin_limit(spins)
                      .overflow([](std::size_t) { return spill::CountingSpout<>{}; })
                      .spawn<std::vector<std::uint64_t>>([w2 = w2](auto& ring, std::size_t w, const std::vector<std::uint64_t>& in) {
                          for (std::size_t i = w; i < in.size(); i += w2) ring.push(stage2_fn(in[i]));
                      });
    auto out = stage2.sequenced_fan_in(Ordered<std::uint64_t>{{}});

    // Stage 1 parses round r + 1 while stage 2 transforms round r.
    stage1.dispatch(Round{1, round_size(1)});
    for (std::uint64_t r = 1; r <= rounds; ++r) {
        stage1.join();
        fan1.collect();
        std::vector<std::uint64_t> batch = fan1.inner().inner().take();
        REQUIRE(batch.size() == round_size(r));
        stage2.join();
        out.collect();
        stage2.dispatch(std::move(batch));
        if (r < rounds) stage1.dispatch(Round{r + 1, round_size(r + 1)});
        out.collect();  // streaming, while both stages run: partial rounds must be held back
    }
    stage2.join();
    out.flush();

    std::vector<std::uint64_t> want;
    for (const auto& round : replay_two_stages(rounds, w2)) want.insert(want.end(), round.begin(), round.end());
    CHECK((out.inner().inner().items() == want));  // exactly once and in order: the replay has no duplicates
    CHECK(out.inner().next_expected() == rounds * w2);
    CHECK(out.inner().pending() == 0);
    for (std::size_t w = 0; w < w1; ++w) CHECK(stage1.overflow(w).count() == 0);
    for (std::size_t w = 0; w < w2; ++w) CHECK(stage2.overflow(w).count() == 0);
}

TEST_CASE("pipeline: three stages end in a framed stream that decodes to the replay", "[pipeline]") {
    const auto [w1, w2, w3] = GENERATE(table<std::size_t, std::size_t, std::size_t>({{1, 1, 1}, {2, 2, 2}, {3, 1, 2}, {1, 3, 4}}));
    const std::uint64_t rounds = 5000;
    CAPTURE(w1, w2, w3);

    auto stage1 = spill::pool<std::uint64_t, 64>(w1).spin_limit(spins).spawn<Round>(
        [w1 = w1](auto& ring, std::size_t w, const Round& a) { stage1_task(ring, w, w1, a); });
    auto fan1 = stage1.sequenced_fan_in(Ordered<std::uint64_t>{{}});
    auto stage2 = spill::pool<std::uint64_t, 64>(w2).spin_limit(spins).spawn<std::vector<std::uint64_t>>(
        [w2 = w2](auto& ring, std::size_t w, const std::vector<std::uint64_t>& in) {
            for (std::size_t i = w; i < in.size(); i += w2) ring.push(stage2_fn(in[i]));
        });
    auto fan2 = stage2.sequenced_fan_in(Ordered<std::uint64_t>{{}});
    auto stage3 = spill::pool<std::string, 64>(w3).spin_limit(spins).spawn<std::vector<std::uint64_t>>(
        [w3 = w3](auto& ring, std::size_t w, const std::vector<std::uint64_t>& in) {
            for (std::size_t i = w; i < in.size(); i += w3) ring.push(stage3_fn(in[i]));
        });
    std::ostringstream wire;
    using Framed = spill::FramedSpout<spill::OstreamWriter>;
    auto out = stage3.sequenced_fan_in(spill::SequencedSpout<std::string, Framed>{Framed{spill::OstreamWriter{wire}, 256}});

    // Three rounds in flight at once: stage 1 on r + 2, stage 2 on r + 1, stage 3 on r.
    std::uint64_t s1_next = 1;
    auto feed1 = [&] {
        if (s1_next <= rounds) {
            stage1.dispatch(Round{s1_next, round_size(s1_next)});
            ++s1_next;
        }
    };
    feed1();
    for (std::uint64_t step = 1; step <= rounds + 2; ++step) {
        stage1.join();
        stage2.join();
        stage3.join();
        fan1.collect();
        fan2.collect();
        out.collect();
        std::vector<std::uint64_t> to2 = fan1.inner().inner().take();
        std::vector<std::uint64_t> to3 = fan2.inner().inner().take();
        if (step <= rounds + 1) stage3.dispatch(std::move(to3));  // steps 2..rounds+2 carry stage 2's rounds 1..
        if (step <= rounds) stage2.dispatch(std::move(to2));
        feed1();
        out.collect();
    }
    stage3.join();
    out.flush();

    // Replay: stage 3 deals its round's input round-robin too.
    std::vector<std::string> want;
    for (const auto& round : replay_two_stages(rounds, w2)) {
        const auto s3 = replay_round_robin(round, w3, stage3_fn);
        want.insert(want.end(), s3.begin(), s3.end());
    }
    std::vector<std::string> got;
    spill::FrameDecoder decoder;
    const std::string bytes = wire.str();
    decoder.feed(std::as_bytes(std::span(bytes.data(), bytes.size())),
                 [&](std::span<const std::byte> f) { got.emplace_back(reinterpret_cast<const char*>(f.data()), f.size()); });
    decoder.finish();
    REQUIRE(got.size() == want.size());
    CHECK((got == want));
    CHECK(out.inner().inner().frames() == want.size());
}

TEST_CASE("pipeline: a FanInSpout is the overflow spout of the next stage's rings, so evicted items go around again", "[pipeline]") {
    // Stage 2's rings hold 8 items; a worker that pushes more evicts its
    // oldest into stage 1's fan-in, whose send() passes them into the buffer
    // stage 2 reads its next round from. Nothing is lost: each item leaves
    // stage 2 exactly once, after (1 + times evicted) trips.
    struct Item {
        std::uint64_t id;
        std::uint32_t trips;
    };
    struct Shared {
        std::mutex mu;
        std::vector<Item> items;
    };
    struct Locked {  // stage 2's workers evict concurrently: the inner spout must be thread-safe
        Shared* s;
        void send(Item&& x) {
            std::lock_guard lock(s->mu);
            s->items.push_back(x);
        }
        void flush() noexcept {}
    };
    const std::size_t w2 = GENERATE(1u, 2u, 3u);
    CAPTURE(w2);
    const std::uint64_t rounds = 1000;
    const std::uint32_t per_round = 20;  // above 8 * w2 for w2 <= 2: forces evictions

    auto stage1 = spill::pool<Item, 64>(2).spin_limit(spins).spawn<std::uint64_t>([](auto& ring, std::size_t w, const std::uint64_t& r) {
        for (std::uint32_t i = static_cast<std::uint32_t>(w); i < per_round; i += 2) ring.push(Item{r * per_round + i, 0});
    });
    Shared buffer;
    auto fan1 = stage1.fan_in(Locked{&buffer});
    using Fan1 = decltype(fan1);
    auto stage2 = spill::pool<Item, 8>(w2).spin_limit(spins)
                      .overflow([&fan1](std::size_t) { return EvictInto<Fan1>{fan1}; })
                      .spawn<std::vector<Item>>([w2](auto& ring, std::size_t w, const std::vector<Item>& in) {
                          for (std::size_t i = w; i < in.size(); i += w2) ring.push(Item{in[i].id, in[i].trips + 1});
                      });
    auto fan2 = stage2.fan_in(spill::CollectSpout<Item>{});

    auto take_buffer = [&] {
        std::lock_guard lock(buffer.mu);
        return std::exchange(buffer.items, {});
    };
    std::uint64_t r = 0;
    bool settled = false;
    for (std::uint64_t guard = 0; guard < 100 * rounds && !settled; ++guard) {
        std::vector<Item> backlog = take_buffer();  // what stage 2's last round evicted
        // Stage 1 sits out while the backlog is large: otherwise an input rate
        // above stage 2's capacity (8 * w2 per round) grows it without bound.
        if (r < rounds && backlog.size() <= 4 * w2) stage1.run(r++);
        fan1.collect();
        std::vector<Item> in = take_buffer();
        in.insert(in.end(), backlog.begin(), backlog.end());  // last in, last evicted: they get through
        settled = r == rounds && in.empty();
        stage2.run(in);
        fan2.collect();
    }
    REQUIRE(settled);
    std::uint64_t evictions = 0;
    for (std::size_t w = 0; w < w2; ++w) evictions += stage2.overflow(w).count();
    std::vector<std::uint32_t> seen(rounds * per_round, 0);
    std::uint64_t extra_trips = 0;
    for (const Item& x : fan2.inner().items()) {
        REQUIRE(x.id < seen.size());
        ++seen[x.id];
        extra_trips += x.trips - 1;
    }
    CHECK(std::count(seen.begin(), seen.end(), 1u) == static_cast<std::ptrdiff_t>(seen.size()));  // each exactly once
    CHECK(evictions == extra_trips);
    if (w2 <= 2) CHECK(evictions > 0);  // the composition was exercised, not just compiled
}

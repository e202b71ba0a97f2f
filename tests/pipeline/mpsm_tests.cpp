// MPSM: split_mergers partitions the handoff slots
// round-robin across M MergerHandles driven from threads the caller owns;
// each slot is drained by exactly one merger; the sequenced variant composes
// into a merge tree whose root restores the global order (docs/design.md,
// sections 6 and 7).
#include <chrono>
#include <catch2/catch.hpp>

#include <spill/spill.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <span>
#include <thread>
#include <tuple>
#include <vector>

namespace {

struct Item {
    std::uint64_t round;
    std::uint32_t producer;
    std::uint32_t index;
    friend bool operator==(const Item&, const Item&) = default;
    friend bool operator<(const Item& a, const Item& b) {
        return std::tie(a.round, a.producer, a.index) < std::tie(b.round, b.producer, b.index);
    }
};

std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// Items producer p pushes in round r: 0..12, so empty batches happen.
std::uint32_t count_of(std::uint64_t r, std::size_t p) { return static_cast<std::uint32_t>(mix(r * 64 + p) % 13); }

constexpr std::size_t producers = 8;

/// The pool every test uses: 8 producers; producer p in round r pushes
/// {r, p, 0..count_of(r, p)-1}; each producer's evictions go to its own
/// CollectSpout (only that producer's thread, or the pool's destructor, touches it).
auto make_producers() {
    return spill::pool<Item, 1024>(producers)
        .spin_limit(std::chrono::microseconds(2))  // 8 producers + mergers on a CI box with fewer cores: spinning long only delays others
        .overflow([](std::size_t) { return spill::CollectSpout<Item>{}; })
        .spawn<std::uint64_t>([](auto& ring, std::size_t p, const std::uint64_t& r) {
            for (std::uint32_t i = 0; i < count_of(r, p); ++i) ring.push(Item{r, static_cast<std::uint32_t>(p), i});
        });
}
using Producers = decltype(make_producers());

/// Running rounds 1..rounds one after another on one thread.
std::vector<Item> replay(std::uint64_t rounds) {
    std::vector<Item> v;
    for (std::uint64_t r = 1; r <= rounds; ++r)
        for (std::size_t p = 0; p < producers; ++p)
            for (std::uint32_t i = 0; i < count_of(r, p); ++i) v.push_back(Item{r, static_cast<std::uint32_t>(p), i});
    return v;
}

std::vector<Item> overflowed(Producers& pool) {
    std::vector<Item> v;
    for (std::size_t p = 0; p < producers; ++p) {
        const auto& o = pool.overflow(p).items();
        v.insert(v.end(), o.begin(), o.end());
    }
    return v;
}

/// Runs `rounds` rounds on the caller while each merger collects on its own
/// std::thread, then lets every merger take what is left.
template <class Handles>
void run_with_merger_threads(Producers& pool, Handles& mergers, std::uint64_t rounds) {
    std::atomic<bool> finished{false};
    std::vector<std::thread> threads;
    for (auto& m : mergers) {
        threads.emplace_back([&finished, &m] {
            // (A) acquire, paired with the release store below: once it reads
            // true, every round was joined, so one more collect takes the rest.
            while (!finished.load(std::memory_order_acquire))
                if (m.collect() == 0) std::this_thread::yield();
            m.flush();
        });
    }
    for (std::uint64_t r = 1; r <= rounds; ++r) {
        if (r % 2 == 0) {
            pool.run(r);
        } else {
            pool.dispatch(r);  // the next dispatch or run joins it
        }
    }
    pool.join();
    finished.store(true, std::memory_order_release);  // (A)
    for (auto& t : threads) t.join();
}

/// A merger's sink in the ordered tree: forwards (sequence, batch) to the root's channel.
struct Batch {
    std::uint64_t seq = 0;
    std::vector<Item> items;
    bool last = true;  // the batch's final part
};
struct ToRoot {
    spill::Channel<Batch>* ch;
    std::size_t submit(std::uint64_t seq, std::span<Item> items, bool last) {
        Batch b{seq, {items.begin(), items.end()}, last};
        ch->send(std::move(b));
        return items.size();
    }
    void flush() noexcept {}
};

/// A sequenced sink that discards.
struct NullSequenced {
    std::size_t submit(std::uint64_t, std::span<Item> items, bool) { return items.size(); }
    void flush() noexcept {}
};

using Catch::Matchers::Contains;

/// Records the sequence numbers it is given.
struct Seqs {
    std::vector<std::uint64_t>* out;
    std::size_t submit(std::uint64_t seq, std::span<Item> items, bool last) {
        if (last) out->push_back(seq);  // one entry per batch
        return items.size();
    }
    void flush() noexcept {}
};

}  // namespace

TEST_CASE("mpsm: with 8 producers and M mergers each on its own thread, every item is collected exactly once by its producer's merger",
          "[mpsm]") {
    const std::size_t m = GENERATE(2u, 3u, 4u);
    const std::uint64_t rounds = 3000;
    CAPTURE(m);
    auto pool = make_producers();
    {
        auto mergers = pool.split_mergers(m, [](std::size_t) { return spill::CollectSpout<Item>{}; });
        REQUIRE(mergers.size() == m);
        run_with_merger_threads(pool, mergers, rounds);

        std::vector<Item> all = overflowed(pool);
        for (std::size_t j = 0; j < m; ++j) {
            const auto& h = mergers[j];
            CHECK(h.index() == j);
            std::vector<std::size_t> expected_slots;
            for (std::size_t p = j; p < producers; p += m) expected_slots.push_back(p);
            CHECK(h.slots() == expected_slots);
            const auto& got = h.inner().items();
            // Only its own producers, and each producer's items in push order.
            std::vector<Item> last(producers, Item{0, 0, 0});  // round 0 never occurs
            std::size_t foreign = 0, out_of_order = 0;
            for (const Item& x : got) {
                if (x.producer % m != j) ++foreign;
                if (!(last[x.producer] < x)) ++out_of_order;
                last[x.producer] = x;
            }
            INFO("merger " << j);
            CHECK(foreign == 0);
            CHECK(out_of_order == 0);
            all.insert(all.end(), got.begin(), got.end());
        }
        std::sort(all.begin(), all.end());
        CHECK((all == replay(rounds)));  // union of mergers and overflow: exactly once
    }
    // Handles gone: the pool is collectable again by its owner.
    pool.run(rounds + 1);
    spill::CollectSpout<Item> rest;
    std::size_t expected = 0;
    for (std::size_t p = 0; p < producers; ++p) expected += count_of(rounds + 1, p);
    CHECK(pool.collect(rest) == expected);
}

TEST_CASE("mpsm: the ordered merge tree (sequenced mergers -> channel -> SequencedSpout) equals the single-threaded replay", "[mpsm]") {
    const std::size_t m = GENERATE(2u, 3u, 4u);
    const std::uint64_t rounds = 3000;
    CAPTURE(m);
    auto pool = make_producers();
    spill::Channel<Batch> to_root(64);
    spill::SequencedSpout<Item, spill::CollectSpout<Item>> root{{}, 2 * producers};
    std::thread root_thread([&] {
        while (auto b = to_root.receive()) root.submit(b->seq, std::span<Item>(b->items), b->last);
        root.flush();
    });
    {
        auto mergers = pool.split_sequenced_mergers(m, [&](std::size_t) { return ToRoot{&to_root}; });
        run_with_merger_threads(pool, mergers, rounds);
    }
    to_root.close();
    root_thread.join();

    // docs/design.md, section 6: the replay minus the items that went to overflow spouts.
    std::vector<Item> lost = overflowed(pool);
    std::sort(lost.begin(), lost.end());
    std::vector<Item> want;
    for (const Item& x : replay(rounds))
        if (!std::binary_search(lost.begin(), lost.end(), x)) want.push_back(x);
    CHECK((root.inner().items() == want));
    CHECK(root.inner().size() + lost.size() == replay(rounds).size());
    CHECK(root.next_expected() == rounds * producers);  // every (round, producer) batch, empty ones included
    CHECK(root.pending() == 0);
}

TEST_CASE("mpsm: each merger submits dense sequence numbers for its own slots only", "[mpsm]") {
    auto pool = make_producers();
    std::vector<std::vector<std::uint64_t>> seqs(3);
    {
        auto mergers = pool.split_sequenced_mergers(3, [&](std::size_t j) { return Seqs{&seqs[j]}; });
        for (std::uint64_t r = 1; r <= 5; ++r) pool.run(r);
        for (auto& h : mergers) h.flush();
    }
    for (std::size_t j = 0; j < 3; ++j) {
        std::vector<std::uint64_t> want;
        for (std::uint64_t r = 1; r <= 5; ++r)
            for (std::size_t p = j; p < producers; p += 3) want.push_back((r - 1) * producers + p);
        CHECK(seqs[j] == want);
    }
}

TEST_CASE("mpsm: misuse gets a clear exception", "[mpsm][errors]") {
    auto pool = make_producers();
    auto sink = [](std::size_t) { return spill::CollectSpout<Item>{}; };

    SECTION("zero mergers") {
        CHECK_THROWS_AS(pool.split_mergers(0, sink), std::invalid_argument);
        CHECK_THROWS_WITH(pool.split_mergers(0, sink), Contains("need at least 1 merger, got 0"));
        CHECK_THROWS_AS(pool.split_sequenced_mergers(0, sink), std::invalid_argument);
    }
    SECTION("more mergers than workers") {
        CHECK_THROWS_AS(pool.split_mergers(9, sink), std::invalid_argument);
        CHECK_THROWS_WITH(pool.split_mergers(9, sink), Contains("9 mergers for 8 workers") && Contains("at least one slot"));
        CHECK_THROWS_AS(pool.split_sequenced_mergers(100, sink), std::invalid_argument);
        CHECK_NOTHROW(pool.split_mergers(8, sink));  // one slot each is the limit
    }
    SECTION("splitting twice") {
        auto first = pool.split_mergers(2, sink);
        CHECK_THROWS_AS(pool.split_mergers(2, sink), std::logic_error);
        CHECK_THROWS_WITH(pool.split_sequenced_mergers(4, sink), Contains("owned by MergerHandles (split_mergers)") && Contains("destroy it first"));
        first.clear();
        CHECK_NOTHROW(pool.split_mergers(4, sink));  // allowed again once the handles are gone
    }
    SECTION("collecting through the pool while it is split") {
        auto mergers = pool.split_mergers(2, sink);
        spill::CollectSpout<Item> out;
        // (A Catch2 v2 `a && b` matcher keeps pointers to its parts: build it inside each CHECK.)
        const std::string msg = "the slots are owned by MergerHandles (split_mergers); collect through that owner";
        CHECK_THROWS_AS(pool.collect(out), std::logic_error);
        CHECK_THROWS_WITH(pool.collect(out), Contains(msg));
        CHECK_THROWS_WITH(pool.collect_ordered(out), Contains(msg));
        CHECK_THROWS_WITH(pool.fan_in(spill::CollectSpout<Item>{}), Contains(msg));
        CHECK_THROWS_WITH(pool.sequenced_fan_in(NullSequenced{}), Contains(msg));
    }
    SECTION("a split that throws leaves the pool unsplit") {
        CHECK_THROWS(pool.split_mergers(9, sink));
        spill::CollectSpout<Item> out;
        CHECK_NOTHROW(pool.collect(out));
    }
}

namespace {
/// Runs `body` in a forked child and returns (terminating signal or -1, what it wrote to stderr).
template <class F>
std::pair<int, std::string> in_child(F body) {
    int err[2];
    REQUIRE(::pipe(err) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(err[1], STDERR_FILENO);
        ::close(err[0]);
        try {
            body();
        } catch (...) {
            ::_exit(3);  // never return into the test runner from the child
        }
        ::_exit(0);  // reached only if the body did not abort
    }
    ::close(err[1]);
    std::string text;
    char buf[512];
    for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(err[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return {WIFSIGNALED(status) ? WTERMSIG(status) : -1, text};
}
}  // namespace

TEST_CASE("mpsm: a MergerHandle that outlives its pool aborts with a message", "[mpsm][errors]") {
    SECTION("merger handle") {
        const auto [sig, text] = in_child([] {
            auto pool = std::unique_ptr<Producers>(new Producers(make_producers()));
            auto handles = pool->split_mergers(2, [](std::size_t) { return spill::CollectSpout<Item>{}; });
            pool.reset();  // the handles still refer to it
        });
        CHECK(sig == SIGABRT);
        CHECK(text.find("destroyed while 2 FanInSpout/MergerHandle still refer to it") != std::string::npos);
    }
    SECTION("sequenced merger handle") {
        const auto [sig, text] = in_child([] {
            auto pool = std::unique_ptr<Producers>(new Producers(make_producers()));
            auto handles = pool->split_sequenced_mergers(3, [](std::size_t) { return NullSequenced{}; });
            pool.reset();
        });
        CHECK(sig == SIGABRT);
        CHECK(text.find("MergerHandle") != std::string::npos);
    }
    SECTION("control: handles destroyed first, no abort") {
        const auto [sig, text] = in_child([] {
            auto pool = std::unique_ptr<Producers>(new Producers(make_producers()));
            {
                auto handles = pool->split_mergers(2, [](std::size_t) { return spill::CollectSpout<Item>{}; });
            }
            pool.reset();
        });
        CHECK(sig == -1);
        CHECK(text.empty());
    }
}

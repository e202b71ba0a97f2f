// Fault paths around a pool's life: what its destructor does with items it
// still holds (each worker's rest reaches its overflow spout oldest first),
// one collector per slot at every entry point (also raced from two threads),
// and round arguments that can be copied but not assigned.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "fault_util.hpp"
#include "spill/spill.hpp"

using namespace spill::fault;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t N = 8;  // ring capacity
constexpr auto spin = std::chrono::microseconds(5);

std::int64_t item_id(std::uint32_t round, std::size_t w, std::uint32_t i) {
    return (std::int64_t{round} << 32) | (static_cast<std::int64_t>(w) << 16) | std::int64_t{i};
}

/// Round r: worker w pushes counts[w] items.
struct Counts {
    std::uint32_t round = 0;
    std::array<std::uint32_t, 4> counts{};
};
struct CountsTask {
    template <class Ring>
    void operator()(Ring& ring, std::size_t w, const Counts& a) const {
        for (std::uint32_t i = 0; i < a.counts[w]; ++i) ring.push(Tracked(item_id(a.round, w, i)));
    }
};

using Record = spill::CollectSpout<Tracked>;

auto counts_pool(std::vector<Record>& overflow) {
    return spill::pool<Tracked, N>(overflow.size())
        .spin_limit(spin)
        .overflow([&overflow](std::size_t w) { return spill::SpoutRef<Record>{overflow[w]}; })
        .spawn<Counts>(CountsTask{});
}

/// Takes at most `budget` items in all, then refuses (a short count, F2).
struct TakeAtMost {
    std::size_t budget;
    std::vector<std::int64_t> ids;
    std::size_t send_all(std::span<Tracked> items) {
        const std::size_t n = std::min(budget, items.size());
        for (std::size_t i = 0; i < n; ++i) ids.push_back(items[i].id());
        budget -= n;
        return n;
    }
    void send(Tracked&& t) {
        if (budget == 0) throw SpoutFailure();
        ids.push_back(t.id());
        --budget;
    }
    void flush() noexcept {}
};

/// What each worker's items do, step by step, by the rules in
/// worker_pool.hpp (merge back, first-eviction spill, eviction; a collect
/// first takes the published batch of every worker whose front is empty,
/// then delivers worker by worker, stopping at a front left non-empty).
struct Model {
    struct Worker {
        std::vector<std::int64_t> front, published, overflow;
        bool has_published = false;
    };
    std::vector<Worker> w;
    std::vector<std::int64_t> delivered;

    explicit Model(std::size_t workers) : w(workers) {}

    void run(const Counts& a) {
        for (std::size_t k = 0; k < w.size(); ++k) {
            Worker& m = w[k];
            std::vector<std::int64_t> active;
            bool evicted = false;
            for (std::uint32_t i = 0; i < a.counts[k]; ++i) {
                if (active.size() == N) {
                    if (!evicted && m.has_published) {  // the round's first eviction spills the uncollected batch
                        m.overflow.insert(m.overflow.end(), m.published.begin(), m.published.end());
                        m.published.clear();
                        m.has_published = false;
                    }
                    evicted = true;
                    m.overflow.push_back(active.front());
                    active.erase(active.begin());
                }
                active.push_back(item_id(a.round, k, i));
            }
            if (active.empty()) continue;
            if (m.has_published) {  // merge back: behind the old items; the merged ring evicts its oldest
                for (std::int64_t id : active) {
                    if (m.published.size() == N) {
                        m.overflow.push_back(m.published.front());
                        m.published.erase(m.published.begin());
                    }
                    m.published.push_back(id);
                }
            } else {
                m.published = active;
                m.has_published = true;
            }
        }
    }
    void collect(std::size_t budget) {
        const auto take = [&](std::vector<std::int64_t>& front) {
            const std::size_t n = std::min(budget, front.size());
            delivered.insert(delivered.end(), front.begin(), front.begin() + static_cast<std::ptrdiff_t>(n));
            front.erase(front.begin(), front.begin() + static_cast<std::ptrdiff_t>(n));
            budget -= n;
            return front.empty();
        };
        for (Worker& m : w) {
            if (!m.front.empty() || !m.has_published) continue;
            m.front = std::exchange(m.published, {});
            m.has_published = false;
        }
        for (Worker& m : w) {
            if (!m.front.empty() && !take(m.front)) return;
            if (!m.has_published) continue;
            m.front = std::exchange(m.published, {});
            m.has_published = false;
            if (!take(m.front)) return;
        }
    }
    /// The destructor's flush of worker k: the collector's front, then the published batch.
    [[nodiscard]] std::vector<std::int64_t> rest(std::size_t k) const {
        std::vector<std::int64_t> r = w[k].front;
        r.insert(r.end(), w[k].published.begin(), w[k].published.end());
        return r;
    }
};

struct Step {
    enum Kind { run, collect, collect_ordered, dispatch_and_destroy } kind;
    Counts args{};
    std::size_t budget = 0;
};

/// Plays `steps` on a real pool and on the model, then destroys the pool
/// and compares what reached each overflow spout, before and during the
/// destruction, and what was delivered.
void play(std::size_t workers, const std::vector<Step>& steps) {
    Tracked::reset();
    Model model(workers);
    std::vector<Record> overflow(workers);
    std::vector<std::size_t> before(workers);
    TakeAtMost out{0, {}};
    {
        auto pool = counts_pool(overflow);
        for (const Step& s : steps) {
            switch (s.kind) {
                case Step::run:
                    pool.run(s.args);
                    model.run(s.args);
                    break;
                case Step::collect:
                case Step::collect_ordered:
                    out.budget = s.budget;
                    if (s.kind == Step::collect) {
                        pool.collect(out);
                    } else {
                        pool.collect_ordered(out);
                    }
                    model.collect(s.budget);
                    break;
                case Step::dispatch_and_destroy:
                    pool.dispatch(s.args);  // the destructor finishes this round, then flushes
                    model.run(s.args);
                    break;
            }
        }
        REQUIRE(out.ids == model.delivered);
        if (steps.back().kind != Step::dispatch_and_destroy) {
            for (std::size_t k = 0; k < workers; ++k) {
                REQUIRE(ids_of(overflow[k].items()) == model.w[k].overflow);
                before[k] = overflow[k].size();
            }
        }
    }
    for (std::size_t k = 0; k < workers; ++k) {
        CAPTURE(k);
        const auto got = ids_of(overflow[k].items());
        std::vector<std::int64_t> want = model.w[k].overflow;
        const auto rest = model.rest(k);
        want.insert(want.end(), rest.begin(), rest.end());
        REQUIRE(got == want);  // everything, in the model's order
        if (steps.back().kind != Step::dispatch_and_destroy)
            REQUIRE(std::vector<std::int64_t>(got.begin() + static_cast<std::ptrdiff_t>(before[k]), got.end()) == rest);
        for (std::size_t i = 1; i < rest.size(); ++i) REQUIRE(rest[i - 1] < rest[i]);  // the destructor's part: push order
    }
    overflow.clear();
    REQUIRE(Tracked::live() == 0);
}

Step run1(std::uint32_t round, std::uint32_t n) { return {Step::run, Counts{round, {n}}, 0}; }

}  // namespace

TEST_CASE("fault: pool destruction flushes the collector's front, then the published batch, oldest first, in push order",
          "[fault][lifetime][destroy]") {
    const std::uint32_t sizes[] = {0, 1, 2, N};
    for (std::uint32_t front : sizes) {
        for (std::uint32_t published : sizes) {
            for (Step::Kind how : {Step::collect, Step::collect_ordered}) {
                CAPTURE(front, published, how);
                const std::uint32_t taken = front == N ? 0 : 3;  // the collector took some, the out spout refused the rest
                std::vector<Step> steps{run1(1, front + taken), Step{how, {}, taken}};
                if (published != 0) steps.push_back(run1(2, published));
                play(1, steps);
            }
        }
    }
}

TEST_CASE("fault: pool destruction flushes a merged-back batch and what a first-eviction spill left, in push order",
          "[fault][lifetime][destroy]") {
    SECTION("two uncollected rounds merged back, within and beyond the ring") {
        const std::pair<std::uint32_t, std::uint32_t> rounds[] = {{1, 1}, {2, N}, {N, N}, {N, 2}, {N - 1, 1}};
        for (auto [a, b] : rounds) {
            CAPTURE(a, b);
            play(1, {run1(1, 3), Step{Step::collect, {}, 1}, run1(2, a), run1(3, b)});
        }
    }
    SECTION("a round larger than the ring spills the uncollected batch first") {
        for (std::uint32_t big : {N + 1, N + 2, 2 * N + 3}) {
            CAPTURE(big);
            play(1, {run1(1, 2), Step{Step::collect, {}, 1}, run1(2, 3), run1(3, big)});
        }
    }
    SECTION("two workers: both first batches taken, one partly delivered; the next rounds merge behind uncollected ones") {
        play(2, {Step{Step::run, Counts{1, {5, 4}}, 0}, Step{Step::collect, {}, 2}, Step{Step::run, Counts{2, {1, N}}, 0},
                 Step{Step::run, Counts{3, {2, 2}}, 0}});
    }
}

TEST_CASE("fault: pool destruction during a round with 1, 2 or N items in the active ring finishes it and flushes everything in order",
          "[fault][lifetime][destroy]") {
    for (std::uint32_t active : {1u, 2u, static_cast<std::uint32_t>(N)}) {
        CAPTURE(active);
        play(1, {run1(1, 4), Step{Step::collect, {}, 2}, Step{Step::dispatch_and_destroy, Counts{2, {active}}, 0}});
        play(1, {run1(1, 4), Step{Step::collect, {}, 2}, run1(2, 2), Step{Step::dispatch_and_destroy, Counts{3, {active}}, 0}});
    }
}

// ---- one collector per slot -----------------------------------------------------------------

namespace {

/// Round r: worker w pushes r*100 + w*10 + i, i < 3. A collector that falls
/// behind by more than 21 rounds makes the ring overflow: into a record.
auto int_pool() {
    return spill::pool<int, 64>(2)
        .spin_limit(spin)
        .overflow([](std::size_t) { return spill::CollectSpout<int>{}; })
        .spawn<int>([](auto& ring, std::size_t w, const int& r) {
            for (int i = 0; i < 3; ++i) ring.push(r * 100 + static_cast<int>(w) * 10 + i);
        });
}
std::vector<int> int_items(int rounds) {
    std::vector<int> want;
    for (int r = 1; r <= rounds; ++r)
        for (int w = 0; w < 2; ++w)
            for (int i = 0; i < 3; ++i) want.push_back(r * 100 + w * 10 + i);
    return want;
}
/// Empty if each worker's items in `v` keep push order.
std::string int_fifo(const std::vector<int>& v) {
    int last[2] = {-1, -1};
    for (int x : v) {
        const int w = (x / 10) % 10;
        if (x <= last[w]) return std::to_string(x) + " after " + std::to_string(last[w]);
        last[w] = x;
    }
    return {};
}
using IntPool = decltype(int_pool());
using IntSeq = spill::SequencedSpout<int, spill::CollectSpout<int>>;

/// Every way to collect from a pool, each as one call that returns once done.
std::vector<std::pair<std::string, std::function<void(IntPool&)>>> entry_points() {
    return {
        {"collect", [](IntPool& p) {
             spill::CollectSpout<int> o;
             p.collect(o);
         }},
        {"collect_ordered", [](IntPool& p) {
             spill::CollectSpout<int> o;
             p.collect_ordered(o);
         }},
        {"fan_in", [](IntPool& p) { auto f = p.fan_in(spill::CollectSpout<int>{}); }},
        {"sequenced_fan_in", [](IntPool& p) { auto f = p.sequenced_fan_in(IntSeq{spill::CollectSpout<int>{}}); }},
        {"split_mergers", [](IntPool& p) { auto m = p.split_mergers(2, [](std::size_t) { return spill::CollectSpout<int>{}; }); }},
        {"split_sequenced_mergers",
         [](IntPool& p) { auto m = p.split_sequenced_mergers(1, [](std::size_t) { return IntSeq{spill::CollectSpout<int>{}}; }); }},
    };
}

/// Every entry point throws std::logic_error naming itself and `owner`.
void all_refuse(IntPool& pool, spill::Collector owner) {
    for (auto& [name, enter] : entry_points()) {
        CAPTURE(name, spill::collector_name(owner));
        bool refused = false;
        try {
            enter(pool);
        } catch (const std::logic_error& e) {
            refused = true;
            const std::string msg = e.what();
            CHECK_THAT(msg, Catch::Contains("spill::WorkerPool::" + name + ": the slots are owned by"));
            CHECK_THAT(msg, Catch::Contains(spill::collector_name(owner)));
        }
        CHECK(refused);
        CHECK(pool.collector() == owner);
    }
}

void all_work(IntPool& pool) {
    for (auto& [name, enter] : entry_points()) {
        CAPTURE(name);
        CHECK_NOTHROW(enter(pool));
        CHECK(pool.collector() == spill::Collector::none);
    }
}

/// A spout whose bulk send waits until released (a collect held open on another thread).
struct Gate {
    std::atomic<bool>* inside;
    std::atomic<bool>* release;
    void wait() const {
        inside->store(true);  // seq_cst: plain flags between two threads
        while (!release->load()) std::this_thread::sleep_for(100us);
    }
    std::size_t send_all(std::span<int> items) {
        wait();
        return items.size();
    }
    void send(int&&) { wait(); }
    void flush() noexcept {}
};

}  // namespace

TEST_CASE("fault: one collector per slot: while any collector owns the slots, every entry point refuses, naming it; destroying it frees them",
          "[fault][lifetime][collector]") {
    auto pool = int_pool();
    pool.run(1);
    all_work(pool);
    SECTION("a FanInSpout") {
        {
            auto owner = pool.fan_in(spill::CollectSpout<int>{});
            all_refuse(pool, spill::Collector::fan_in);
        }
        all_work(pool);
    }
    SECTION("a SequencedFanIn") {
        {
            auto owner = pool.sequenced_fan_in(IntSeq{spill::CollectSpout<int>{}});
            all_refuse(pool, spill::Collector::sequenced_fan_in);
        }
        all_work(pool);
    }
    SECTION("MergerHandles, released only with the last of them") {
        {
            auto owner = pool.split_mergers(2, [](std::size_t) { return spill::CollectSpout<int>{}; });
            all_refuse(pool, spill::Collector::mergers);
            owner.pop_back();
            all_refuse(pool, spill::Collector::mergers);
        }
        all_work(pool);
    }
    SECTION("ordered MergerHandles") {
        {
            auto owner = pool.split_sequenced_mergers(2, [](std::size_t) { return IntSeq{spill::CollectSpout<int>{}}; });
            all_refuse(pool, spill::Collector::sequenced_mergers);
        }
        all_work(pool);
    }
    for (bool ordered : {false, true}) {
        SECTION(ordered ? "the owner's collect_ordered(), running on another thread" : "the owner's collect(), running on another thread") {
            pool.run(2);  // something to collect, so the spout is called
            std::atomic<bool> inside{false}, release{false};  // seq_cst flags: "the collect is running", "let it finish"
            std::thread t([&] {
                Gate g{&inside, &release};
                if (ordered) {
                    pool.collect_ordered(g);
                } else {
                    pool.collect(g);
                }
            });
            while (!inside.load()) std::this_thread::sleep_for(100us);
            all_refuse(pool, spill::Collector::owner);
            release.store(true);
            t.join();
            all_work(pool);
        }
    }
}

TEST_CASE("fault: one collector per slot, raced: a merger thread collects in a loop while the owner's collect is refused every time",
          "[fault][lifetime][collector][threads]") {
    auto pool = int_pool();
    const int rounds = full_scale() ? 2000 : 200;
    std::vector<int> merged;
    {
        auto mergers = pool.split_mergers(1, [](std::size_t) { return spill::CollectSpout<int>{}; });
        std::atomic<bool> stop{false};  // (A) release by the owner / (B) acquire by the merger: the last rounds are published before
        std::thread merger([&] {
            for (;;) {
                const bool last = stop.load(std::memory_order_acquire);  // (B)
                mergers[0].flush();
                if (last) return;
                std::this_thread::yield();  // two cores for four threads
            }
        });
        int refused = 0;
        spill::CollectSpout<int> out;
        for (int r = 1; r <= rounds; ++r) {
            pool.run(r);
            try {
                pool.collect(out);
            } catch (const std::logic_error& e) {
                if (std::string(e.what()).find("MergerHandles (split_mergers)") != std::string::npos) ++refused;
            }
        }
        stop.store(true, std::memory_order_release);  // (A)
        merger.join();
        CHECK(refused == rounds);
        CHECK(out.size() == 0);
        merged = mergers[0].inner().take();
    }
    spill::CollectSpout<int> rest;
    pool.collect(rest);  // the slots are free again
    CHECK(rest.size() == 0);
    CHECK(int_fifo(merged) == "");
    for (std::size_t w = 0; w < 2; ++w) {
        CHECK(int_fifo(pool.overflow(w).items()) == "");
        merged.insert(merged.end(), pool.overflow(w).items().begin(), pool.overflow(w).items().end());
    }
    std::sort(merged.begin(), merged.end());
    CHECK(merged == int_items(rounds));
}

TEST_CASE("fault: one collector per slot, raced: two threads calling pool.collect get each item once, or a refusal naming the other",
          "[fault][lifetime][collector][threads]") {
    auto pool = int_pool();
    const int rounds = full_scale() ? 2000 : 200;
    std::atomic<bool> stop{false};  // (A) release by the owner after the last round / (B) acquire by the collectors
    std::vector<std::vector<int>> got(2);
    std::vector<int> refusals(2, 0), other_errors(2, 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 2; ++t)
        threads.emplace_back([&, t] {
            spill::CollectSpout<int> out;
            for (;;) {
                const bool last = stop.load(std::memory_order_acquire);  // (B)
                try {
                    pool.collect(out);
                } catch (const std::logic_error& e) {
                    if (std::string(e.what()).find(spill::collector_name(spill::Collector::owner)) != std::string::npos) {
                        ++refusals[t];
                    } else {
                        ++other_errors[t];
                    }
                }
                if (last) break;
                std::this_thread::yield();  // two cores for five threads
            }
            got[t] = out.take();
        });
    for (int r = 1; r <= rounds; ++r) pool.run(r);
    stop.store(true, std::memory_order_release);  // (A)
    for (auto& t : threads) t.join();
    spill::CollectSpout<int> rest;
    pool.collect(rest);  // a last collect could have been refused
    CHECK(other_errors == std::vector<int>{0, 0});
    std::vector<int> all = rest.take();
    for (const auto& g : got) {
        CHECK(int_fifo(g) == "");  // per worker, each thread's share keeps push order
        all.insert(all.end(), g.begin(), g.end());
    }
    for (std::size_t w = 0; w < 2; ++w) all.insert(all.end(), pool.overflow(w).items().begin(), pool.overflow(w).items().end());
    std::sort(all.begin(), all.end());
    CHECK(all == int_items(rounds));
}

// ---- round arguments that cannot be assigned --------------------------------------------------

namespace {
struct Fixed {
    const int base;
    const std::uint32_t count;
};
struct Named {
    const std::string prefix;  // not trivially copyable either: travels by pointer
    int count;
};
static_assert(std::is_copy_constructible_v<Fixed> && !std::is_copy_assignable_v<Fixed> && !std::is_move_assignable_v<Fixed>);
static_assert(std::is_copy_constructible_v<Named> && !std::is_copy_assignable_v<Named>);
}  // namespace

TEST_CASE("fault: dispatch with round arguments that can be copied but not assigned compiles and runs every round", "[fault][lifetime][args]") {
    SECTION("a trivially copyable struct with const members") {
        auto pool = spill::pool<int, 64>(2).spin_limit(spin).spawn<Fixed>([](auto& ring, std::size_t w, const Fixed& a) {
            for (std::uint32_t i = 0; i < a.count; ++i) ring.push(a.base + static_cast<int>(w) * 10 + static_cast<int>(i));
        });
        spill::CollectSpout<int> out;
        pool.dispatch(Fixed{100, 2});
        pool.join();
        pool.dispatch(Fixed{200, 1});  // the pool's copy is rebuilt, not assigned
        pool.collect_ordered(out);
        pool.join();
        pool.run(Fixed{300, 3});
        pool.collect_ordered(out);
        CHECK(out.items() == std::vector<int>{100, 101, 110, 111, 200, 210, 300, 301, 302, 310, 311, 312});
    }
    SECTION("a struct with a const std::string") {
        auto pool = spill::pool<std::string, 64>(1).spin_limit(spin).spawn<Named>([](auto& ring, std::size_t, const Named& a) {
            for (int i = 0; i < a.count; ++i) ring.push(a.prefix + std::to_string(i));
        });
        spill::CollectSpout<std::string> out;
        pool.dispatch(Named{"a", 2});
        pool.dispatch(Named{"b", 1});  // joins the first round, then starts the second
        pool.join();
        pool.collect_ordered(out);
        CHECK(out.items() == std::vector<std::string>{"a0", "a1", "b0"});
    }
}

// ---- regressions found by this suite ------------------------------------------------------------

namespace {
/// Whether code outside the pool can call the collector hooks directly.
template <class Pool>
concept exposes_collector_hooks = requires(Pool& p, spill::CollectSpout<int>& out) { p.collect_slots(0, 1, out); } ||
                                  requires(Pool& p) { p.release_handle(spill::Collector::fan_in); };
}  // namespace

TEST_CASE("fault: one collector per slot: the pool's collector hooks are not public, so nothing can bypass the claim",
          "[fault][lifetime][collector]") {
    // The defect: collect_slots and release_handle were public, so a caller
    // could drain slots a FanInSpout owned without a claim, or mark them
    // free while their owner lived.
    CHECK_FALSE(exposes_collector_hooks<IntPool>);
}

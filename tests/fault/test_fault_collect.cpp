// Fault injection on every way to collect from a pool: collect,
// collect_ordered, fan_in, sequenced_fan_in, split_mergers and
// split_sequenced_mergers (merger threads), a two-stage pipeline, and pools
// that collect into a ring, a framed stream and a channel, or overflow into
// a ring chain. The downstream fails on every call in turn (fault_util.hpp);
// the caller retries as documented (collect or flush again). Each run
// checks, with lifetime-counted items, that every produced item was
// delivered or overflowed exactly once, that the pool held nothing more
// when it was destroyed, and the order: per-producer FIFO everywhere, the
// exact (round, worker, push) order of a single-threaded replay on the
// ordered paths.
//
// Rounds run to completion before each collection, so a scenario makes the
// same calls every time and the sweep over k is exhaustive. Every third
// round stays uncollected (merge back), and rounds larger than a ring
// overflow (a spill of the uncollected batch, then evictions).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <atomic>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fault_util.hpp"
#include "spill/spill.hpp"

using namespace spill::fault;
using spill::test::items_for;
using spill::test::RoundArgs;

namespace {

constexpr std::size_t ring_items = 8;
constexpr auto spin = std::chrono::microseconds(5);  // more threads than cores: park soon

struct Config {
    std::size_t workers;
    std::uint32_t rounds;
    std::uint32_t max_items;  // per (round, worker): 0..max_items, some above ring_items
};
Config config(std::size_t workers) {
    if (full_scale()) return Config{workers + 2, 24, 13};
    return Config{workers, 7, 10};
}
RoundArgs args(const Config& c, std::uint32_t round) { return RoundArgs{0x5eed, round, c.max_items, 0}; }

std::int64_t item_id(std::uint32_t round, std::size_t w, std::uint32_t i) {
    return (std::int64_t{round} << 32) | (static_cast<std::int64_t>(w) << 16) | std::int64_t{i};
}
std::size_t worker_of(std::int64_t id) { return static_cast<std::size_t>((id >> 16) & 0xffff); }

/// Every item of rounds 1..rounds in (round, worker, push) order.
std::vector<std::int64_t> replay(const Config& c) {
    std::vector<std::int64_t> out;
    for (std::uint32_t r = 1; r <= c.rounds; ++r)
        for (std::size_t w = 0; w < c.workers; ++w)
            for (std::uint32_t i = 0; i < items_for(args(c, r), w); ++i) out.push_back(item_id(r, w, i));
    return out;
}

struct Task {
    template <class Ring>
    void operator()(Ring& ring, std::size_t w, const RoundArgs& a) const {
        for (std::uint32_t i = 0, n = items_for(a, w); i < n; ++i) ring.push(Tracked(item_id(a.round, w, i)));
    }
};

using Record = spill::CollectSpout<Tracked>;
using Records = std::vector<Record>;

auto make_pool(Records& overflow) {
    return spill::pool<Tracked, ring_items>(overflow.size())
        .spin_limit(spin)
        .overflow([&overflow](std::size_t w) { return spill::SpoutRef<Record>{overflow[w]}; })
        .spawn<RoundArgs>(Task{});
}

std::vector<std::size_t> sizes(const Records& r) {
    std::vector<std::size_t> s;
    for (const auto& x : r) s.push_back(x.size());
    return s;
}
std::vector<std::int64_t> all_ids(const Records& r) {
    std::vector<std::int64_t> out;
    for (const auto& x : r)
        for (const auto& t : x.items()) out.push_back(t.id());
    return out;
}

/// Empty if, for every producer, its items in `ids` keep push order.
std::string fifo_per_worker(const std::vector<std::int64_t>& ids, const char* stream) {
    std::map<std::size_t, std::int64_t> last;
    for (std::int64_t id : ids) {
        const std::size_t w = worker_of(id);
        if (auto it = last.find(w); it != last.end() && id <= it->second)
            return std::string(stream) + ": worker " + std::to_string(w) + "'s item " + std::to_string(id) + " after " +
                   std::to_string(it->second);
        last[w] = id;
    }
    return {};
}

std::string check_unordered(const Config& c, const std::vector<std::int64_t>& delivered, const Records& overflow) {
    if (auto e = exactly_once(replay(c), delivered, all_ids(overflow)); !e.empty()) return e;
    if (auto e = fifo_per_worker(delivered, "delivered"); !e.empty()) return e;
    for (std::size_t w = 0; w < overflow.size(); ++w) {
        for (const auto& t : overflow[w].items())
            if (worker_of(t.id()) != w) return "worker " + std::to_string(w) + "'s overflow holds another worker's item";
        if (auto e = fifo_per_worker(ids_of(overflow[w].items()), "overflow"); !e.empty()) return e;
    }
    return {};
}

std::string check_ordered(const Config& c, const std::vector<std::int64_t>& delivered, const Records& overflow) {
    if (auto e = check_unordered(c, delivered, overflow); !e.empty()) return e;
    std::vector<std::int64_t> gone = all_ids(overflow), want;
    std::sort(gone.begin(), gone.end());
    for (std::int64_t id : replay(c))
        if (!std::binary_search(gone.begin(), gone.end(), id)) want.push_back(id);
    for (std::size_t i = 0; i < want.size(); ++i)
        if (delivered[i] != want[i])
            return "position " + std::to_string(i) + ": item " + std::to_string(delivered[i]) + " where the replay has " +
                   std::to_string(want[i]);
    return {};
}

/// Runs the rounds; after each (but every third) and at the end,
/// `collect_quietly()` collects until a collection ran without a fault.
template <class Pool, class CollectQuietly>
void drive(Pool& pool, const Config& c, CollectQuietly collect_quietly) {
    for (std::uint32_t r = 1; r <= c.rounds; ++r) {
        pool.run(args(c, r));
        if (r % 3 != 2) REQUIRE(collect_quietly() == "");
    }
    REQUIRE(collect_quietly() == "");
}

/// The sweep over every k in each mode; the scenario must see its fault.
template <class Body>
void sweep_modes(Body body) {
    for (Mode m : all_modes) {
        const SweepStats st = sweep(m, body);
        INFO(mode_name(m) << ": " << st.runs << " runs, " << st.fired << " faults injected");
        REQUIRE(st.runs <= 20000);
        CHECK(st.fired > 0);
    }
}

/// A scenario's end: the pool is gone, and it found nothing to flush.
struct Ending {
    std::vector<std::int64_t> delivered;
    std::vector<std::size_t> overflow_before_destruction;
};

}  // namespace

TEST_CASE("fault: pool.collect into a failing spout, retried, delivers every item once in per-worker order", "[fault][pool][collect]") {
    sweep_modes([](Plan& plan) {
        const Config c = config(2);
        Tracked::reset();
        Records overflow(c.workers);
        Ending end;
        {
            auto pool = make_pool(overflow);
            FaultySpout<Tracked> out{plan};
            drive(pool, c, [&] { return until_quiet(plan, [&] { pool.collect(out); }); });
            end = {ids_of(out.inner().items()), sizes(overflow)};
        }
        REQUIRE(sizes(overflow) == end.overflow_before_destruction);
        REQUIRE(check_unordered(c, end.delivered, overflow) == "");
        overflow.clear();
        REQUIRE(Tracked::live() == 0);
    });
}

TEST_CASE("fault: pool.collect_ordered into a failing spout keeps the replay order exactly", "[fault][pool][ordered]") {
    sweep_modes([](Plan& plan) {
        const Config c = config(2);
        Tracked::reset();
        Records overflow(c.workers);
        Ending end;
        {
            auto pool = make_pool(overflow);
            FaultySpout<Tracked> out{plan};
            drive(pool, c, [&] { return until_quiet(plan, [&] { pool.collect_ordered(out); }); });
            end = {ids_of(out.inner().items()), sizes(overflow)};
        }
        REQUIRE(sizes(overflow) == end.overflow_before_destruction);
        REQUIRE(check_ordered(c, end.delivered, overflow) == "");
        overflow.clear();
        REQUIRE(Tracked::live() == 0);
    });
}

TEST_CASE("fault: a fan_in whose inner spout fails loses and repeats nothing across flushes", "[fault][pool][fan_in]") {
    sweep_modes([](Plan& plan) {
        const Config c = config(2);
        Tracked::reset();
        Records overflow(c.workers);
        Ending end;
        {
            auto pool = make_pool(overflow);
            auto fan = pool.fan_in(FaultySpout<Tracked>{plan});
            drive(pool, c, [&] { return until_quiet(plan, [&] { fan.flush(); }); });
            end = {ids_of(fan.inner().inner().items()), sizes(overflow)};
        }
        REQUIRE(sizes(overflow) == end.overflow_before_destruction);
        REQUIRE(check_unordered(c, end.delivered, overflow) == "");
        overflow.clear();
        REQUIRE(Tracked::live() == 0);
    });
}

TEST_CASE("fault: a sequenced_fan_in whose sink and whose SequencedSpout's inner spout fail keeps the replay order",
          "[fault][pool][sequenced]") {
    using Seq = spill::SequencedSpout<Tracked, FaultySpout<Tracked>>;
    sweep_modes([](Plan& plan) {
        const Config c = config(2);
        Tracked::reset();
        Records overflow(c.workers);
        Ending end;
        {
            auto pool = make_pool(overflow);
            auto fan = pool.sequenced_fan_in(FaultySink<Tracked, Seq>{plan, Seq{FaultySpout<Tracked>{plan}, 2}});
            drive(pool, c, [&] { return until_quiet(plan, [&] { fan.flush(); }); });
            REQUIRE(fan.inner().inner().pending() == 0);
            end = {ids_of(fan.inner().inner().inner().inner().items()), sizes(overflow)};
        }
        REQUIRE(sizes(overflow) == end.overflow_before_destruction);
        REQUIRE(check_ordered(c, end.delivered, overflow) == "");
        overflow.clear();
        REQUIRE(Tracked::live() == 0);
    });
}

namespace {
/// Each merger on its own thread collects until quiet; returns the first error.
template <class Handles>
std::string merge_quietly(Plan& plan, Handles& mergers) {
    std::vector<std::string> errors(mergers.size());
    std::vector<std::thread> threads;
    for (std::size_t j = 0; j < mergers.size(); ++j)
        threads.emplace_back([&, j] { errors[j] = until_quiet(plan, [&] { mergers[j].flush(); }); });
    for (auto& t : threads) t.join();
    for (const auto& e : errors)
        if (!e.empty()) return e;
    return {};
}
}  // namespace

TEST_CASE("fault: split_mergers on their own threads, each into a failing spout, deliver every item once, each merger its own workers",
          "[fault][pool][mergers]") {
    sweep_modes([](Plan& plan) {
        const Config c = config(3);
        Tracked::reset();
        Records overflow(c.workers);
        Ending end;
        std::vector<std::vector<std::int64_t>> per_merger;
        {
            auto pool = make_pool(overflow);
            auto mergers = pool.split_mergers(2, [&plan](std::size_t) { return FaultySpout<Tracked>{plan}; });
            drive(pool, c, [&] { return merge_quietly(plan, mergers); });
            for (auto& m : mergers) {
                per_merger.push_back(ids_of(m.inner().inner().items()));
                end.delivered.insert(end.delivered.end(), per_merger.back().begin(), per_merger.back().end());
            }
            end.overflow_before_destruction = sizes(overflow);
        }
        REQUIRE(sizes(overflow) == end.overflow_before_destruction);
        REQUIRE(check_unordered(c, end.delivered, overflow) == "");
        for (std::size_t j = 0; j < per_merger.size(); ++j)
            for (std::int64_t id : per_merger[j]) REQUIRE(worker_of(id) % 2 == j);
        overflow.clear();
        REQUIRE(Tracked::live() == 0);
    });
}

namespace {
using Root = spill::SequencedSpout<Tracked, FaultySpout<Tracked>>;
/// A merger's sink: the shared root, under a lock (the root restores the global order).
struct LockedRoot {
    std::mutex* mu;
    Root* root;
    std::size_t submit(std::uint64_t seq, std::span<Tracked> items, bool last) {
        const std::lock_guard lock(*mu);
        return root->submit(seq, items, last);
    }
    void flush() {
        const std::lock_guard lock(*mu);
        root->flush();
    }
};
}  // namespace

TEST_CASE("fault: split_sequenced_mergers on their own threads into a failing root keep the replay order",
          "[fault][pool][mergers][sequenced]") {
    sweep_modes([](Plan& plan) {
        const Config c = config(3);
        Tracked::reset();
        Records overflow(c.workers);
        std::mutex mu;
        Root root{FaultySpout<Tracked>{plan}, 2};
        Ending end;
        {
            auto pool = make_pool(overflow);
            auto mergers = pool.split_sequenced_mergers(
                2, [&](std::size_t) { return FaultySink<Tracked, LockedRoot>{plan, LockedRoot{&mu, &root}}; });
            drive(pool, c, [&] { return merge_quietly(plan, mergers); });
            end = {ids_of(root.inner().inner().items()), sizes(overflow)};
        }
        REQUIRE(root.pending() == 0);
        REQUIRE(sizes(overflow) == end.overflow_before_destruction);
        REQUIRE(check_ordered(c, end.delivered, overflow) == "");
        overflow.clear();
        root.inner().inner().items().clear();
        REQUIRE(Tracked::live() == 0);
    });
}

namespace {
/// Stage 2: worker w takes input items w, w + W, w + 2W... (a fresh item with the same id).
struct Stage2Task {
    std::size_t workers;
    template <class Ring>
    void operator()(Ring& ring, std::size_t w, const std::vector<Tracked>* const& in) const {
        for (std::size_t i = w; i < in->size(); i += workers) ring.push(Tracked((*in)[i].id()));
    }
};
}  // namespace

TEST_CASE("fault: a two-stage pipeline (stage 1's fan_in is stage 2's input) with both fan-ins failing", "[fault][pool][pipeline]") {
    sweep_modes([](Plan& plan) {
        const Config c = config(2);
        const std::size_t w2 = 2;
        Tracked::reset();
        Records over1(c.workers), over2(w2);
        std::map<std::int64_t, std::pair<std::size_t, std::size_t>> route;  // id -> (stage 2 worker, input position)
        std::vector<std::int64_t> delivered;
        std::vector<std::size_t> held1, held2;
        {
            auto stage1 = make_pool(over1);
            auto stage2 = spill::pool<Tracked, ring_items>(w2)
                              .spin_limit(spin)
                              .overflow([&over2](std::size_t w) { return spill::SpoutRef<Record>{over2[w]}; })
                              .spawn<const std::vector<Tracked>*>(Stage2Task{w2});
            auto fan1 = stage1.fan_in(FaultySpout<Tracked>{plan});
            auto fan2 = stage2.fan_in(FaultySpout<Tracked>{plan});
            std::size_t position = 0;
            const auto second_stage = [&] {
                std::vector<Tracked> input = fan1.inner().inner().take();
                for (std::size_t i = 0; i < input.size(); ++i) route[input[i].id()] = {i % w2, position++};
                stage2.run(&input);
                REQUIRE(until_quiet(plan, [&] { fan2.flush(); }) == "");
            };
            for (std::uint32_t r = 1; r <= c.rounds; ++r) {
                stage1.run(args(c, r));
                if (r % 3 != 2) REQUIRE(until_quiet(plan, [&] { fan1.flush(); }) == "");
                second_stage();
            }
            REQUIRE(until_quiet(plan, [&] { fan1.flush(); }) == "");
            second_stage();
            delivered = ids_of(fan2.inner().inner().items());
            held1 = sizes(over1);
            held2 = sizes(over2);
        }
        REQUIRE(sizes(over1) == held1);
        REQUIRE(sizes(over2) == held2);
        std::vector<std::int64_t> overflowed = all_ids(over1);
        for (std::int64_t id : all_ids(over2)) overflowed.push_back(id);
        REQUIRE(exactly_once(replay(c), delivered, overflowed) == "");
        REQUIRE(fifo_per_worker(all_ids(over1), "stage 1 overflow") == "");
        // Stage 2's FIFO: each of its workers' items in input order, delivered and overflowed alike.
        for (const std::vector<std::int64_t>* stream : {&delivered}) {
            std::map<std::size_t, std::size_t> last;
            for (std::int64_t id : *stream) {
                const auto [w, pos] = route.at(id);
                if (last.count(w) != 0) REQUIRE(pos > last[w]);
                last[w] = pos;
            }
        }
        for (std::size_t w = 0; w < w2; ++w) {
            std::size_t last = 0;
            bool first = true;
            for (const auto& t : over2[w].items()) {
                const auto [rw, pos] = route.at(t.id());
                REQUIRE(rw == w);
                if (!first) REQUIRE(pos > last);
                last = pos;
                first = false;
            }
        }
        over1.clear();
        over2.clear();
        REQUIRE(Tracked::live() == 0);
    });
}

TEST_CASE("fault: pool.collect into a spill_ring whose spout fails (a ring as the collector's spout)", "[fault][pool][ring]") {
    sweep_modes([](Plan& plan) {
        const Config c = config(2);
        Tracked::reset();
        Records overflow(c.workers);
        Ending end;
        {
            auto pool = make_pool(overflow);
            spill::SpillRing<Tracked, 4, FaultySpout<Tracked>> ring{FaultySpout<Tracked>{plan}};
            const StopAtExit stop{plan};
            drive(pool, c, [&] { return until_quiet(plan, [&] { pool.collect(ring); }); });
            REQUIRE(until_quiet(plan, [&] { ring.flush(); }) == "");
            end = {ids_of(ring.spout().inner().items()), sizes(overflow)};
        }
        REQUIRE(sizes(overflow) == end.overflow_before_destruction);
        REQUIRE(check_unordered(c, end.delivered, overflow) == "");
        overflow.clear();
        REQUIRE(Tracked::live() == 0);
    });
}

TEST_CASE("fault: a pool whose overflow spouts are ring chains, collected through a failing spout", "[fault][pool][chain]") {
    using Chain = spill::SpillRing<Tracked, 2, spill::SpoutRef<Record>>;
    sweep_modes([](Plan& plan) {
        const Config c = config(2);
        Tracked::reset();
        Records sinks(c.workers);
        std::vector<std::unique_ptr<Chain>> chains;
        for (auto& s : sinks) chains.push_back(std::make_unique<Chain>(spill::SpoutRef<Record>{s}));
        const auto held = [&] {
            std::size_t n = 0;
            for (std::size_t w = 0; w < sinks.size(); ++w) n += sinks[w].size() + chains[w]->size();
            return n;
        };
        std::vector<std::int64_t> delivered;
        std::size_t before = 0;
        {
            auto pool = spill::pool<Tracked, ring_items>(c.workers)
                            .spin_limit(spin)
                            .overflow([&chains](std::size_t w) { return spill::SpoutRef<Chain>{*chains[w]}; })
                            .spawn<RoundArgs>(Task{});
            FaultySpout<Tracked> out{plan};
            drive(pool, c, [&] { return until_quiet(plan, [&] { pool.collect(out); }); });
            delivered = ids_of(out.inner().items());
            before = held();
        }
        REQUIRE(held() == before);
        for (auto& ch : chains) ch->flush();  // the chain's last items into its sink, in order
        REQUIRE(check_unordered(c, delivered, sinks) == "");
        chains.clear();
        sinks.clear();
        REQUIRE(Tracked::live() == 0);
    });
}

// ---- pools of strings into framed streams -----------------------------------------------

namespace {
struct LabelTask {
    template <class Ring>
    void operator()(Ring& ring, std::size_t w, const RoundArgs& a) const {
        for (std::uint32_t i = 0, n = items_for(a, w); i < n; ++i) ring.push(std::to_string(item_id(a.round, w, i)));
    }
};
using Labels = spill::CollectSpout<std::string>;

std::vector<std::int64_t> decode_ids(const std::vector<std::byte>& wire) {
    std::vector<std::int64_t> ids;
    spill::FrameDecoder dec;
    dec.feed(wire, [&](std::span<const std::byte> f) { ids.push_back(std::stoll(std::string(reinterpret_cast<const char*>(f.data()), f.size()))); });
    dec.finish();
    return ids;
}

template <class MakeOut>
void framed_pool_sweep(MakeOut make_out) {
    sweep_modes([&](Plan& plan) {
        const Config c = config(2);
        std::vector<Labels> overflow(c.workers);
        std::vector<std::byte> wire;
        std::vector<std::size_t> held;
        {
            auto pool = spill::pool<std::string, ring_items>(c.workers)
                            .spin_limit(spin)
                            .overflow([&overflow](std::size_t w) { return spill::SpoutRef<Labels>{overflow[w]}; })
                            .template spawn<RoundArgs>(LabelTask{});
            auto fan = pool.fan_in(make_out(plan, wire));
            drive(pool, c, [&] { return until_quiet(plan, [&] { fan.flush(); }); });
            for (const auto& o : overflow) held.push_back(o.size());
        }
        std::vector<std::int64_t> overflowed;
        for (std::size_t w = 0; w < overflow.size(); ++w) {
            REQUIRE(overflow[w].size() == held[w]);
            for (const auto& s : overflow[w].items()) overflowed.push_back(std::stoll(s));
        }
        const auto delivered = decode_ids(wire);
        REQUIRE(exactly_once(replay(c), delivered, overflowed) == "");
        REQUIRE(fifo_per_worker(delivered, "frames") == "");
        REQUIRE(fifo_per_worker(overflowed, "overflow") == "");
    });
}
}  // namespace

TEST_CASE("fault: pool -> fan_in -> FramedSpout over a failing writer: every frame once, per-worker order", "[fault][pool][framed]") {
    framed_pool_sweep([](Plan& plan, std::vector<std::byte>& wire) { return spill::FramedSpout<FaultyWriter>{FaultyWriter{plan, wire}, 32}; });
}

TEST_CASE("fault: pool -> fan_in -> BatchSpout -> FramedSpout over a failing writer: every frame once, per-worker order",
          "[fault][pool][framed][batch]") {
    using Framed = spill::FramedSpout<FaultyWriter>;
    framed_pool_sweep([](Plan& plan, std::vector<std::byte>& wire) {
        return spill::BatchSpout<std::string, Framed>{3, Framed{FaultyWriter{plan, wire}, 32}};
    });
}

// ---- a channel that closes ----------------------------------------------------------------

TEST_CASE("fault: pool.collect into a channel that closes after any number of items leaves the rest collectable", "[fault][pool][channel]") {
    // A closed channel stays closed: the documented retry is to collect what
    // the pool kept into another spout. received + the rest = every item once.
    const Config c = config(2);
    const std::size_t produced = replay(c).size();
    for (std::size_t k = 0; k <= produced; ++k) {
        CAPTURE(k);
        Tracked::reset();
        Records overflow(c.workers);
        std::vector<std::int64_t> delivered;
        std::vector<std::size_t> held;
        {
            spill::Channel<Tracked> ch{4};
            std::thread receiver([&] {
                for (std::size_t i = 0; i < k; ++i) {
                    auto x = ch.receive();
                    if (!x) break;
                    delivered.push_back(x->id());
                }
                ch.close();
                while (auto x = ch.receive()) delivered.push_back(x->id());  // what was in the channel when it closed
            });
            Record rest;
            {
                auto pool = make_pool(overflow);
                spill::ChannelSpout<Tracked> out{ch};
                bool closed = false;
                const auto collect = [&]() -> std::string {
                    if (!closed) {
                        try {
                            pool.collect(out);
                            return {};
                        } catch (const spill::ChannelClosed&) {
                            closed = true;
                        }
                    }
                    pool.collect(rest);
                    return {};
                };
                drive(pool, c, collect);
                ch.close();  // the receiver may not have reached k: end it
                held = sizes(overflow);
            }
            receiver.join();
            for (const auto& t : rest.items()) delivered.push_back(t.id());
        }
        REQUIRE(sizes(overflow) == held);
        REQUIRE(check_unordered(c, delivered, overflow) == "");
        overflow.clear();
        REQUIRE(Tracked::live() == 0);
    }
}

// ---- merger threads racing the workers --------------------------------------------------------

TEST_CASE("fault: merger threads flushing while the workers run, a fault every few calls, deliver exactly once and in order",
          "[fault][pool][mergers][threads]") {
    // Not a sweep: collection races the rounds, so the calls differ run to
    // run. Faults come every `period` calls; the mergers retry by flushing
    // again; at the end the faults stop and one flush per merger drains the rest.
    const Config c = config(4);
    const std::uint32_t rounds = full_scale() ? 2000 : 200;
    const Config long_run{c.workers, rounds, c.max_items};
    for (Mode m : all_modes) {
        for (bool ordered : {false, true}) {
            CAPTURE(mode_name(m), ordered);
            Tracked::reset();
            Plan plan(3, m);
            plan.period = 5;
            Records overflow(c.workers);
            std::mutex mu;
            Root root{FaultySpout<Tracked>{plan}, 4};
            std::vector<std::int64_t> delivered;
            std::vector<std::size_t> held;
            std::vector<std::string> errors(2);
            {
                auto pool = make_pool(overflow);
                const auto race = [&](auto& mergers) {
                    std::atomic<bool> stop{false};  // (A) release after the last round / (B) acquire in each merger
                    std::vector<std::thread> threads;
                    for (std::size_t j = 0; j < mergers.size(); ++j)
                        threads.emplace_back([&, j] {
                            for (;;) {
                                const bool last = stop.load(std::memory_order_acquire);  // (B)
                                try {
                                    mergers[j].flush();
                                } catch (const std::exception& e) {
                                    if (!injected(e)) errors[j] = e.what();
                                }
                                if (last) return;
                                std::this_thread::yield();
                            }
                        });
                    for (std::uint32_t r = 1; r <= rounds; ++r) pool.run(args(c, r));
                    stop.store(true, std::memory_order_release);  // (A)
                    for (auto& t : threads) t.join();
                    plan.stop();
                    for (auto& h : mergers) h.flush();  // fault-free: everything published is delivered
                };
                if (ordered) {
                    auto mergers = pool.split_sequenced_mergers(
                        2, [&](std::size_t) { return FaultySink<Tracked, LockedRoot>{plan, LockedRoot{&mu, &root}}; });
                    race(mergers);
                    delivered = ids_of(root.inner().inner().items());
                } else {
                    auto mergers = pool.split_mergers(2, [&plan](std::size_t) { return FaultySpout<Tracked>{plan}; });
                    race(mergers);
                    for (auto& h : mergers)
                        for (const auto& t : h.inner().inner().items()) delivered.push_back(t.id());
                }
                held = sizes(overflow);
            }
            REQUIRE(errors == std::vector<std::string>(2));
            CHECK(plan.fired_count() > 0);
            REQUIRE(sizes(overflow) == held);
            if (ordered) {
                REQUIRE(root.pending() == 0);
                REQUIRE(check_ordered(long_run, delivered, overflow) == "");
            } else {
                REQUIRE(check_unordered(long_run, delivered, overflow) == "");
            }
            overflow.clear();
            root.inner().inner().items().clear();
            REQUIRE(Tracked::live() == 0);
        }
    }
}

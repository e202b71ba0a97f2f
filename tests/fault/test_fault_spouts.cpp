// Fault injection, spout by spout: every spout of the library, ring chains
// and the sequenced spout, with the failure below them on every call in turn
// (see fault_util.hpp), driven by a caller that retries as spout.hpp says.
// Each run checks exactly once and order with lifetime-counted items.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "alloc_fault.hpp"
#include "fault_util.hpp"
#include "spill/spill.hpp"

using namespace spill::fault;

namespace {

/// Items 0..n-1 of the sweeps (more in the exhaustive setup).
std::size_t item_count() { return full_scale() ? 40 : 12; }

std::vector<std::int64_t> iota_ids(std::size_t n) {
    std::vector<std::int64_t> v(n);
    std::iota(v.begin(), v.end(), std::int64_t{0});
    return v;
}

template <class T = Tracked>
std::vector<T> make_items(std::size_t n) {
    std::vector<T> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) v.emplace_back(static_cast<std::int64_t>(i));
    return v;
}

/// The caller's side of F1 and F2: offers items[0..n) in order, one send()
/// per item (chunk 0) or send_all() of up to `chunk` items, and offers again
/// what was not taken: after a throw the same items, after a count n the
/// rest. Checks that every item not taken is exactly as it was. Allocations
/// inside the spout's calls are faults of `alloc` (if given). Returns an
/// empty string or the first violation.
template <class S, class T, class Intact>
std::string offer(S& s, std::vector<T>& items, std::size_t chunk, Intact intact, Plan* alloc = nullptr) {
    std::size_t at = 0;
    for (std::size_t attempts = 0; at < items.size(); ++attempts) {
        if (attempts > 20 * (items.size() + 1)) return "no progress at item " + std::to_string(at);
        const std::size_t end = chunk == 0 ? at + 1 : std::min(items.size(), at + chunk);
        std::size_t took = 0;
        try {
            const AllocFaults armed(alloc);
            if (chunk == 0) {
                s.send(std::move(items[at]));
                took = 1;
            } else {
                took = spill::send_all(s, std::span<T>(items).subspan(at, end - at));
            }
        } catch (const std::exception& e) {
            if (!injected(e)) return std::string("unexpected exception: ") + e.what();
        }
        if (took > end - at) return "took " + std::to_string(took) + " of " + std::to_string(end - at) + " offered";
        for (std::size_t i = at + took; i < end; ++i)
            if (!intact(items[i], i)) return "item " + std::to_string(i) + " was not taken but is no longer as it was";
        at += took;
    }
    return {};
}

/// flush() again until a call neither failed nor had a fault fire.
template <class S>
std::string flush_quietly(S& s, Plan& plan, Plan* alloc = nullptr) {
    return until_quiet(alloc != nullptr ? *alloc : plan, [&] {
        const AllocFaults armed(alloc);
        s.flush();
    });
}

const auto tracked_intact = [](const Tracked& t, std::size_t i) { return t.id() == static_cast<std::int64_t>(i); };

/// Runs `body(plan, chunk)` for every k, mode and offer style, and checks
/// that the sweep ended and that it injected faults in the modes given.
template <class Body>
void sweep_spout(std::initializer_list<Mode> modes_that_fire, Body body) {
    for (Mode m : all_modes) {
        for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{64}}) {
            const SweepStats st = sweep(m, [&](Plan& plan) { body(plan, chunk); });
            INFO("mode " << mode_name(m) << ", chunk " << chunk << ": " << st.runs << " runs, " << st.fired << " faults");
            REQUIRE(st.runs <= 20000);
            const bool must_fire = std::find(modes_that_fire.begin(), modes_that_fire.end(), m) != modes_that_fire.end();
            // chunk 0 sends one item at a time: only a throw applies to send().
            if (must_fire && (chunk != 0 || m == Mode::throws)) CHECK(st.fired > 0);
        }
    }
}

/// The same scenario with allocation failures instead (a plan in mode
/// `throws` that counts the allocations inside the spout's calls).
template <class Body>
void sweep_allocations(Body body) {
    for (std::size_t chunk : {std::size_t{0}, std::size_t{3}}) {
        const SweepStats st = sweep(Mode::throws, [&](Plan& alloc) { body(alloc, chunk); });
        INFO("allocation faults, chunk " << chunk << ": " << st.runs << " runs, " << st.fired << " faults");
        REQUIRE(st.runs <= 20000);
        CHECK(st.fired > 0);
    }
}

/// A plan whose fault never comes (for the fault points of allocation sweeps).
struct NoFault : Plan {
    NoFault() : Plan(SIZE_MAX, Mode::throws) {}
};

}  // namespace

// ---- plain spouts ------------------------------------------------------------------

TEST_CASE("fault: collect_spout takes a bulk send whole or not at all when allocation fails", "[fault][spout][collect]") {
    sweep_allocations([](Plan& alloc, std::size_t chunk) {
        Tracked::reset();
        NoFault none;
        {
            auto items = make_items(item_count());
            spill::CollectSpout<Tracked> out;
            REQUIRE(offer(out, items, chunk, tracked_intact, &alloc).empty());
            REQUIRE(flush_quietly(out, none, &alloc).empty());
            REQUIRE(ids_of(out.items()) == iota_ids(items.size()));
        }
        REQUIRE(Tracked::live() == 0);
    });
}

TEST_CASE("fault: counting_spout counts exactly the items its inner spout took", "[fault][spout][counting]") {
    sweep_spout({Mode::throws, Mode::short_count, Mode::refuse}, [](Plan& plan, std::size_t chunk) {
        Tracked::reset();
        {
            auto items = make_items(item_count());
            spill::CountingSpout<FaultySpout<Tracked>> out{FaultySpout<Tracked>{plan}};
            REQUIRE(offer(out, items, chunk, tracked_intact).empty());
            REQUIRE(flush_quietly(out, plan).empty());
            REQUIRE(ids_of(out.inner().inner().items()) == iota_ids(items.size()));
            REQUIRE(out.count() == items.size());
        }
        REQUIRE(Tracked::live() == 0);
    });
}

TEST_CASE("fault: spout_ref forwards a failure without taking the item", "[fault][spout][ref]") {
    sweep_spout({Mode::throws, Mode::short_count, Mode::refuse}, [](Plan& plan, std::size_t chunk) {
        Tracked::reset();
        {
            auto items = make_items(item_count());
            FaultySpout<Tracked> target{plan};
            spill::SpoutRef<FaultySpout<Tracked>> out{target};
            REQUIRE(offer(out, items, chunk, tracked_intact).empty());
            REQUIRE(flush_quietly(out, plan).empty());
            REQUIRE(ids_of(target.inner().items()) == iota_ids(items.size()));
        }
        REQUIRE(Tracked::live() == 0);
    });
}

TEST_CASE("fault: fn_spout over a failing function keeps the item with the caller (one by one and through send_all)",
          "[fault][spout][fn]") {
    sweep_spout({Mode::throws}, [](Plan& plan, std::size_t chunk) {
        Tracked::reset();
        {
            auto items = make_items(item_count());
            FaultySpout<Tracked> target{plan};
            spill::FnSpout out([&target](Tracked&& x) { target.send(std::move(x)); }, [&target] { target.flush(); });
            REQUIRE(offer(out, items, chunk, tracked_intact).empty());
            REQUIRE(flush_quietly(out, plan).empty());
            REQUIRE(ids_of(target.inner().items()) == iota_ids(items.size()));
        }
        REQUIRE(Tracked::live() == 0);
    });
}

namespace {
using Batches = spill::CollectSpout<std::vector<Tracked>>;
std::vector<std::int64_t> flat_ids(const std::vector<std::vector<Tracked>>& batches) {
    std::vector<std::int64_t> out;
    for (const auto& b : batches)
        for (const auto& x : b) out.push_back(x.id());
    return out;
}
}  // namespace

TEST_CASE("fault: batch_spout hands back the items of a batch the inner spout refused, and flush keeps the partial batch",
          "[fault][spout][batch]") {
    // The inner spout receives whole vectors through send(): only a throw applies.
    sweep_spout({Mode::throws}, [](Plan& plan, std::size_t chunk) {
        Tracked::reset();
        {
            auto items = make_items(item_count());  // Tracked has no default constructor: the bulk send needs none
            spill::BatchSpout<Tracked, FaultySpout<std::vector<Tracked>, Batches>> out{5, FaultySpout<std::vector<Tracked>, Batches>{plan}};
            REQUIRE(offer(out, items, chunk, tracked_intact).empty());
            REQUIRE(flush_quietly(out, plan).empty());
            REQUIRE(out.pending() == 0);
            REQUIRE(flat_ids(out.inner().inner().items()) == iota_ids(items.size()));
        }
        REQUIRE(Tracked::live() == 0);
    });
    sweep_allocations([](Plan& alloc, std::size_t chunk) {
        Tracked::reset();
        NoFault none;
        {
            auto items = make_items(item_count());
            spill::BatchSpout<Tracked, Batches> out{5};
            REQUIRE(offer(out, items, chunk, tracked_intact, &alloc).empty());
            REQUIRE(flush_quietly(out, none, &alloc).empty());
            REQUIRE(flat_ids(out.inner().items()) == iota_ids(items.size()));
        }
        REQUIRE(Tracked::live() == 0);
    });
}

// ---- FramedSpout -------------------------------------------------------------------------

namespace {
std::string label(std::size_t i) {
    std::string s(i % 7, static_cast<char>('a' + i % 26));  // 0..6 bytes: empty payloads too
    s.append(std::to_string(i));
    return s;
}
std::vector<std::string> decode(const std::vector<std::byte>& wire) {
    std::vector<std::string> frames;
    spill::FrameDecoder dec;
    dec.feed(wire, [&](std::span<const std::byte> f) { frames.emplace_back(reinterpret_cast<const char*>(f.data()), f.size()); });
    dec.finish();
    return frames;
}
}  // namespace

TEST_CASE("fault: framed_spout over a failing writer writes every frame exactly once, in order", "[fault][spout][framed]") {
    const std::size_t buffer = GENERATE(1u, 16u, 4096u);  // a write per frame, every few frames, only on flush
    CAPTURE(buffer);
    std::vector<std::string> want;
    for (std::size_t i = 0; i < item_count(); ++i) want.push_back(label(i));
    const auto intact = [&want](const std::string& s, std::size_t i) { return s == want[i]; };
    sweep_spout({Mode::throws, Mode::short_count, Mode::refuse}, [&](Plan& plan, std::size_t chunk) {
        std::vector<std::byte> wire;
        std::vector<std::string> items = want;
        spill::FramedSpout<FaultyWriter> out{FaultyWriter{plan, wire}, buffer};
        REQUIRE(offer(out, items, chunk, intact).empty());
        REQUIRE(flush_quietly(out, plan).empty());
        REQUIRE(out.pending_bytes() == 0);
        REQUIRE(out.frames() == want.size());
        REQUIRE(decode(wire) == want);
    });
    if (buffer == 4096) return;  // the initial buffer holds every frame: no allocation to fail
    sweep_allocations([&](Plan& alloc, std::size_t chunk) {
        NoFault none;
        std::vector<std::byte> wire;
        wire.reserve(4096);  // the writer's own appends stay outside the sweep
        std::vector<std::string> items = want;
        spill::FramedSpout<FaultyWriter> out{FaultyWriter{none, wire}, buffer};
        REQUIRE(offer(out, items, chunk, intact, &alloc).empty());
        REQUIRE(flush_quietly(out, none, &alloc).empty());
        REQUIRE(decode(wire) == want);
    });
}

TEST_CASE("fault: framed_spout takes a batch of buffers whole or not at all", "[fault][spout][framed]") {
    // Items are vectors of strings (what a BatchSpout hands over): one frame per element.
    std::vector<std::vector<std::string>> want;
    std::vector<std::string> frames;
    for (std::size_t i = 0; i < item_count(); ++i) {
        want.emplace_back();
        for (std::size_t j = 0; j < i % 4; ++j) {
            want.back().push_back(label(10 * i + j));
            frames.push_back(want.back().back());
        }
    }
    const auto intact = [&want](const std::vector<std::string>& b, std::size_t i) { return b == want[i]; };
    sweep_spout({Mode::throws, Mode::short_count, Mode::refuse}, [&](Plan& plan, std::size_t chunk) {
        std::vector<std::byte> wire;
        auto items = want;
        spill::FramedSpout<FaultyWriter> out{FaultyWriter{plan, wire}, 8};
        REQUIRE(offer(out, items, chunk, intact).empty());
        REQUIRE(flush_quietly(out, plan).empty());
        REQUIRE(decode(wire) == frames);
    });
}

// ---- ChannelSpout ----------------------------------------------------------------------------

TEST_CASE("fault: channel_spout closed after every possible number of receipts keeps the rest with the caller",
          "[fault][spout][channel]") {
    // A channel's failure is its close: the receiver takes k items, closes,
    // and drains what is left. Items the sender kept are intact, and
    // received + drained + kept is every item once, in order.
    const std::size_t n = item_count();
    for (std::size_t chunk : {std::size_t{0}, std::size_t{2}, std::size_t{5}}) {
        for (std::size_t k = 0; k <= n; ++k) {
            CAPTURE(chunk, k);
            Tracked::reset();
            {
                spill::Channel<Tracked> ch{3};
                std::vector<std::int64_t> received;
                std::thread receiver([&] {
                    for (std::size_t i = 0; i < k; ++i) {
                        auto x = ch.receive();
                        if (!x) break;
                        received.push_back(x->id());
                    }
                    ch.close();
                    while (auto x = ch.receive()) received.push_back(x->id());
                });
                auto items = make_items(n);
                spill::ChannelSpout<Tracked> out{ch};
                std::size_t at = 0;
                bool closed = false;
                std::string error;
                while (at < n && !closed) {
                    const std::size_t end = chunk == 0 ? at + 1 : std::min(n, at + chunk);
                    std::size_t took = 0;
                    try {
                        if (chunk == 0) {
                            out.send(std::move(items[at]));
                            took = 1;
                        } else {
                            took = out.send_all(std::span<Tracked>(items).subspan(at, end - at));
                            closed = took < end - at;  // a short count: closed meanwhile
                        }
                    } catch (const spill::ChannelClosed&) {
                        closed = true;
                    }
                    for (std::size_t i = at + took; i < end; ++i)
                        if (items[i].id() != static_cast<std::int64_t>(i)) error = "item " + std::to_string(i) + " changed";
                    at += took;
                }
                if (!closed) ch.close();  // every item went in before the receiver closed
                receiver.join();
                REQUIRE(error.empty());
                if (k + ch.capacity() < n) CHECK(closed);  // the sender cannot get further than k + capacity
                for (std::size_t i = at; i < n; ++i) received.push_back(items[i].id());  // kept by the sender
                REQUIRE(received == iota_ids(n));
            }
            REQUIRE(Tracked::live() == 0);
        }
    }
}

// ---- SequencedSpout ----------------------------------------------------------------------------

namespace {
/// Batch b holds ids [first[b], first[b + 1]); sizes 0..4.
std::vector<std::size_t> batch_starts(std::size_t batches) {
    std::vector<std::size_t> first{0};
    for (std::size_t b = 0; b < batches; ++b) first.push_back(first.back() + (b * 3 + 1) % 5);
    return first;
}
/// A submit order far from sequential: odd batches first, descending, then even ones ascending.
std::vector<std::size_t> submit_order(std::size_t batches) {
    std::vector<std::size_t> order;
    for (std::size_t b = batches; b-- > 0;)
        if (b % 2 == 1) order.push_back(b);
    for (std::size_t b = 0; b < batches; b += 2) order.push_back(b);
    return order;
}

/// Submits every batch in `order`, each in parts of at most `part` items
/// (0: whole), offering the rest again after a short count or a throw.
template <class Seq>
std::string submit_all(Seq& seq, std::vector<Tracked>& items, const std::vector<std::size_t>& first,
                       const std::vector<std::size_t>& order, std::size_t part, Plan* alloc = nullptr) {
    for (std::size_t b : order) {
        std::size_t at = first[b];
        const std::size_t end = first[b + 1];
        bool last_sent = false;
        for (std::size_t attempts = 0; !last_sent; ++attempts) {
            if (attempts > 200) return "batch " + std::to_string(b) + " makes no progress";
            const std::size_t stop = part == 0 ? end : std::min(end, at + part);
            const bool last = stop == end;
            std::size_t took = 0;
            bool returned = false;
            try {
                const AllocFaults armed(alloc);
                took = seq.submit(b, std::span<Tracked>(items).subspan(at, stop - at), last);
                returned = true;
            } catch (const std::exception& e) {
                if (!injected(e)) return std::string("unexpected exception: ") + e.what();
            }
            if (took > stop - at) return "took more than offered";
            for (std::size_t i = at + took; i < stop; ++i)
                if (items[i].id() != static_cast<std::int64_t>(i)) return "item " + std::to_string(i) + " changed, not taken";
            at += took;
            // F2: a call that returned normally took all of an empty part (its `last` mark included).
            last_sent = returned && last && at == end;
        }
    }
    return {};
}
}  // namespace

TEST_CASE("fault: sequenced_spout over a failing inner spout delivers every batch once, in sequence order, whatever the parts",
          "[fault][spout][sequenced]") {
    const std::size_t batches = full_scale() ? 16 : 8;
    const auto first = batch_starts(batches);
    const auto order = submit_order(batches);
    const std::size_t n = first.back();
    for (std::size_t window : {std::size_t{2}, std::size_t{64}}) {  // 2: batches also wait in the overflow map
        for (std::size_t part : {std::size_t{0}, std::size_t{1}, std::size_t{2}}) {
            CAPTURE(window, part);
            for (Mode m : all_modes) {
                const SweepStats st = sweep(m, [&](Plan& plan) {
                    Tracked::reset();
                    {
                        auto items = make_items(n);
                        spill::SequencedSpout<Tracked, FaultySpout<Tracked>> seq{FaultySpout<Tracked>{plan}, window};
                        REQUIRE(submit_all(seq, items, first, order, part).empty());
                        // A refusal while releasing leaves batches buffered: flush again.
                        REQUIRE(until_quiet(plan, [&] { seq.flush(); }).empty());
                        REQUIRE(seq.pending() == 0);
                        REQUIRE(seq.next_expected() == batches);
                        REQUIRE(ids_of(seq.inner().inner().items()) == iota_ids(n));
                        REQUIRE(seq.stats().items == n);
                    }
                    REQUIRE(Tracked::live() == 0);
                });
                INFO(mode_name(m) << ": " << st.runs << " runs");
                REQUIRE(st.runs <= 20000);
                CHECK(st.fired > 0);
            }
            const SweepStats st = sweep(Mode::throws, [&](Plan& alloc) {
                Tracked::reset();
                {
                    auto items = make_items(n);
                    spill::SequencedSpout<Tracked, spill::CollectSpout<Tracked>> seq{spill::CollectSpout<Tracked>{n}, window};
                    REQUIRE(submit_all(seq, items, first, order, part, &alloc).empty());
                    REQUIRE(seq.pending() == 0);
                    REQUIRE(ids_of(seq.inner().items()) == iota_ids(n));
                }
                REQUIRE(Tracked::live() == 0);
            });
            REQUIRE(st.runs <= 20000);
            CHECK(st.fired > 0);
        }
    }
}

// ---- SpillRing as a spout, and ring chains ------------------------------------------------------

TEST_CASE("fault: a spill_ring as a spout evicts into a failing spout without losing or repeating an item",
          "[fault][spout][ring]") {
    // Evictions go through send() (a throw applies); flush drains in bulk (all modes).
    sweep_spout({Mode::throws, Mode::short_count, Mode::refuse}, [](Plan& plan, std::size_t chunk) {
        Tracked::reset();
        {
            auto items = make_items(item_count());
            spill::SpillRing<Tracked, 4, FaultySpout<Tracked>> ring{FaultySpout<Tracked>{plan}};
            const StopAtExit stop{plan};  // ~SpillRing flushes its spout
            REQUIRE(offer(ring, items, chunk, tracked_intact).empty());
            REQUIRE(flush_quietly(ring, plan).empty());
            REQUIRE(ring.empty());
            REQUIRE(ids_of(ring.spout().inner().items()) == iota_ids(items.size()));
        }
        REQUIRE(Tracked::live() == 0);
    });
}

TEST_CASE("fault: a ring chain (ring -> ring -> failing spout) keeps push order through evictions and flushes",
          "[fault][spout][ring][chain]") {
    SECTION("the second ring built in place") {
        sweep_spout({Mode::throws, Mode::short_count, Mode::refuse}, [](Plan& plan, std::size_t chunk) {
            Tracked::reset();
            {
                auto items = make_items(item_count());
                spill::SpillRing<Tracked, 4, spill::SpillRing<Tracked, 2, FaultySpout<Tracked>>> head{std::in_place,
                                                                                                       FaultySpout<Tracked>{plan}};
                const StopAtExit stop{plan};
                REQUIRE(offer(head, items, chunk, tracked_intact).empty());
                REQUIRE(flush_quietly(head, plan).empty());
                REQUIRE((head.empty() && head.spout().empty()));
                REQUIRE(ids_of(head.spout().spout().inner().items()) == iota_ids(items.size()));
            }
            REQUIRE(Tracked::live() == 0);
        });
    }
    SECTION("three rings through references, the last one's spout failing") {
        sweep_spout({Mode::throws, Mode::short_count, Mode::refuse}, [](Plan& plan, std::size_t chunk) {
            Tracked::reset();
            {
                auto items = make_items(item_count());
                using Tail = spill::SpillRing<Tracked, 2, FaultySpout<Tracked>>;
                using Mid = spill::SpillRing<Tracked, 1, spill::SpoutRef<Tail>>;
                Tail tail{FaultySpout<Tracked>{plan}};
                Mid mid{spill::SpoutRef<Tail>{tail}};
                spill::SpillRing<Tracked, 4, spill::SpoutRef<Mid>> head{spill::SpoutRef<Mid>{mid}};
                const StopAtExit stop{plan};
                REQUIRE(offer(head, items, chunk, tracked_intact).empty());
                REQUIRE(flush_quietly(head, plan).empty());
                REQUIRE((head.empty() && mid.empty() && tail.empty()));
                REQUIRE(ids_of(tail.spout().inner().items()) == iota_ids(items.size()));
            }
            REQUIRE(Tracked::live() == 0);
        });
    }
}

// ---- regressions found by this suite ------------------------------------------------------------

namespace {
/// Refuses every offer (returns 0, F2) while `refuse` is set.
struct Refusing {
    bool refuse = false;
    spill::CollectSpout<int> out;
    std::size_t send_all(std::span<int> items) { return refuse ? 0 : spill::send_all(out, items); }
    void send(int&& x) {
        if (refuse) throw SpoutFailure();
        out.send(std::move(x));
    }
    void flush() noexcept {}
};
}  // namespace

TEST_CASE("fault: sequenced_spout: an empty last part completes its batch even while the inner spout refuses the buffered parts",
          "[fault][spout][sequenced]") {
    spill::SequencedSpout<int, Refusing> seq{Refusing{}, 4};
    std::vector<int> early{10, 11}, first{0}, later{20}, none;
    REQUIRE(seq.submit(1, std::span<int>(early), false) == 2);  // early and not complete: buffered
    REQUIRE(seq.submit(0, std::span<int>(first), true) == 1);   // batch 0 out; batch 1 is the front
    seq.inner().refuse = true;
    // F2: returning 0 for an empty part means "took all of it", its last
    // mark included, so the caller is done with batch 1.
    REQUIRE(seq.submit(1, std::span<int>(none), true) == 0);
    seq.inner().refuse = false;
    REQUIRE(seq.submit(2, std::span<int>(later), true) == 1);
    seq.flush();
    // The defect: the refusal of batch 1's buffered items made submit return
    // 0 before it recorded the last mark, so batch 1 never completed and
    // batch 2 waited behind it for good (the output stayed {0}).
    CHECK(seq.inner().out.items() == std::vector<int>{0, 10, 11, 20});
    CHECK(seq.pending() == 0);
}

// merge_tree.cpp: multiple mergers and an ordered merge tree (MPSM).
//
//     P producers (a WorkerPool)
//       -> tier 1: pool.split_sequenced_mergers(M, ...): M MergerHandles, each
//          on a std::thread this program owns; merger j drains producers
//          j, j+M, j+2M, ... and submits (sequence, batch) to a Channel
//       -> tier 2: one thread receives the batches of all mergers
//          -> SequencedSpout (restores the global order: rounds one after another)
//          -> output spout (checks the order against the single-threaded replay)
//
// Producer w in round r pushes count(r, w) items {r, w, 0..count-1}; some
// counts are 0 (empty batches still carry a sequence number). The replay is
// "rounds one after another, producers in id order, items in push order", so
// the output must be exactly that sequence, minus items the producers' rings
// overflowed (a merger that falls far behind); those are collected per
// producer and must be exactly the items missing from the output.
//
// Usage: merge_tree [producers=8] [mergers=2] [rounds=2000] [items_per_round=64]
#include <spill/spill.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <span>
#include <thread>
#include <tuple>
#include <vector>

#include "records.hpp"  // mix(), arg_or()

namespace {

using pipeline_example::arg_or;
using pipeline_example::mix;

struct Item {
    std::uint64_t round;
    std::uint32_t producer;
    std::uint32_t index;
    friend bool operator==(const Item&, const Item&) = default;
    friend bool operator<(const Item& a, const Item& b) {
        return std::tie(a.round, a.producer, a.index) < std::tie(b.round, b.producer, b.index);
    }
};

constexpr std::size_t ring_capacity = 4096;

/// Items producer w pushes in round r: uniform in [0, 2 * mean], so some rounds are empty.
std::uint32_t count_of(std::uint64_t round, std::size_t w, std::size_t mean) {
    return static_cast<std::uint32_t>(mix(round * 1024 + w) % (2 * mean + 1));
}

/// One batch (or one part of a batch) from a tier-1 merger to tier 2.
struct Batch {
    std::uint64_t seq = 0;
    std::vector<Item> items;
    bool last = true;  // the batch's final part
};

/// Tier-1 sink: what each MergerHandle submits into. Also checks that its
/// merger only ever sees its own producers.
class TierLink {
public:
    TierLink(spill::Channel<Batch>& ch, std::size_t merger, std::size_t mergers) : ch_(&ch), merger_(merger), mergers_(mergers) {}
    /// Takes every item of the part it is offered (the channel send blocks
    /// while tier 2 is behind; it throws only if the channel was closed, and
    /// then takes nothing).
    std::size_t submit(std::uint64_t seq, std::span<Item> items, bool last) {
        Batch b{seq, {items.begin(), items.end()}, last};
        for (const Item& x : b.items)
            if (x.producer % mergers_ != merger_) ++foreign_;
        ch_->send(std::move(b));
        items_ += items.size();
        if (last) ++batches_;
        return items.size();
    }
    void flush() noexcept {}

    [[nodiscard]] std::uint64_t items() const noexcept { return items_; }
    [[nodiscard]] std::uint64_t batches() const noexcept { return batches_; }
    [[nodiscard]] std::uint64_t foreign() const noexcept { return foreign_; }

private:
    spill::Channel<Batch>* ch_;
    std::size_t merger_;
    std::size_t mergers_;
    std::uint64_t items_ = 0;
    std::uint64_t batches_ = 0;
    std::uint64_t foreign_ = 0;
};

/// The output spout: walks the replay sequence alongside the output. An item
/// behind the cursor is out of order (or a duplicate); replay items the output
/// skips are recorded, to be matched against the overflow spouts at the end.
class OrderCheck {
public:
    OrderCheck(std::size_t producers, std::size_t rounds, std::size_t mean) : producers_(producers), rounds_(rounds), mean_(mean) {
        settle();
    }
    void send(Item&& x) {
        ++delivered_;
        while (!at_end() && cursor_ < x) {
            skipped_.push_back(cursor_);
            advance();
        }
        if (at_end() || !(cursor_ == x)) {
            if (errors_++ == 0)
                first_error_ = "item {round " + std::to_string(x.round) + ", producer " + std::to_string(x.producer) + ", index " +
                               std::to_string(x.index) + "} out of order or duplicated";
            return;
        }
        advance();
    }
    void flush() noexcept {}
    /// Everything left in the replay was skipped.
    void finish() {
        while (!at_end()) {
            skipped_.push_back(cursor_);
            advance();
        }
    }

    [[nodiscard]] std::uint64_t delivered() const noexcept { return delivered_; }
    [[nodiscard]] std::uint64_t errors() const noexcept { return errors_; }
    [[nodiscard]] const std::string& first_error() const noexcept { return first_error_; }
    [[nodiscard]] const std::vector<Item>& skipped() const noexcept { return skipped_; }

private:
    [[nodiscard]] bool at_end() const noexcept { return cursor_.round > rounds_; }
    void advance() {
        ++cursor_.index;
        settle();
    }
    // Moves the cursor to the next existing replay item (skips empty batches).
    void settle() {
        while (!at_end() && cursor_.index >= count_of(cursor_.round, cursor_.producer, mean_)) {
            cursor_.index = 0;
            if (++cursor_.producer == producers_) {
                cursor_.producer = 0;
                ++cursor_.round;
            }
        }
    }

    std::size_t producers_, rounds_, mean_;
    Item cursor_{1, 0, 0};
    std::uint64_t delivered_ = 0;
    std::uint64_t errors_ = 0;
    std::string first_error_;
    std::vector<Item> skipped_;
};

struct Options {
    std::size_t producers, mergers, rounds, mean;
};

int run(const Options& opt) {
    const std::size_t mean = opt.mean;
    auto producers = spill::pool<Item, ring_capacity>(opt.producers)
                         .overflow([](std::size_t) { return spill::CollectSpout<Item>{}; })  // per producer: its own thread only
                         .spawn<std::uint64_t>([mean](auto& ring, std::size_t w, const std::uint64_t& round) {
                             const std::uint32_t n = count_of(round, w, mean);
                             for (std::uint32_t i = 0; i < n; ++i) ring.push(Item{round, static_cast<std::uint32_t>(w), i});
                         });

    spill::Channel<Batch> to_tier2(1024);
    auto mergers = producers.split_sequenced_mergers(opt.mergers, [&](std::size_t j) { return TierLink(to_tier2, j, opt.mergers); });

    // Tier 2: one thread merges every merger's batches into the global order.
    spill::SequencedSpout<Item, OrderCheck> ordered{OrderCheck(opt.producers, opt.rounds, mean), 4 * opt.producers * opt.mergers};
    std::thread tier2([&] {
        while (auto b = to_tier2.receive()) ordered.submit(b->seq, std::span<Item>(b->items), b->last);
        ordered.flush();
    });

    // Tier 1: one thread per merger, owned (and, in the harness, pinned) by us.
    std::atomic<bool> finished{false};
    std::vector<std::thread> merger_threads;
    for (auto& m : mergers) {
        merger_threads.emplace_back([&finished, &m] {
            // (A) acquire: pairs with the release store below, after the
            // producers' last join; the final collect then sees every publish.
            while (!finished.load(std::memory_order_acquire)) {
                if (m.collect() == 0) std::this_thread::yield();
            }
            m.flush();  // collect the rest, flush the sink
        });
    }

    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint64_t r = 1; r <= opt.rounds; ++r) producers.run(r);
    finished.store(true, std::memory_order_release);  // (A) release: after the last round's join
    for (auto& t : merger_threads) t.join();
    to_tier2.close();
    tier2.join();
    const auto t1 = std::chrono::steady_clock::now();

    OrderCheck& check = ordered.inner();
    check.finish();

    // Overflowed items, in replay order; they must be exactly the skipped ones.
    std::vector<Item> overflowed;
    for (std::size_t w = 0; w < opt.producers; ++w) {
        const auto& v = producers.overflow(w).items();
        overflowed.insert(overflowed.end(), v.begin(), v.end());
    }
    std::sort(overflowed.begin(), overflowed.end());

    bool ok = true;
    auto fail = [&](const std::string& why) {
        std::fprintf(stderr, "merge_tree: FAILED: %s\n", why.c_str());
        ok = false;
    };
    std::uint64_t produced = 0;
    for (std::uint64_t r = 1; r <= opt.rounds; ++r)
        for (std::size_t w = 0; w < opt.producers; ++w) produced += count_of(r, w, mean);
    if (check.errors() != 0) fail(std::to_string(check.errors()) + " order errors; first: " + check.first_error());
    if (check.skipped() != overflowed)
        fail("the " + std::to_string(check.skipped().size()) + " items missing from the output are not the " +
             std::to_string(overflowed.size()) + " overflowed items");
    if (check.delivered() + overflowed.size() != produced)
        fail("delivered " + std::to_string(check.delivered()) + " + overflowed " + std::to_string(overflowed.size()) + " != produced " +
             std::to_string(produced));
    if (ordered.next_expected() != opt.rounds * opt.producers || ordered.pending() != 0)
        fail("the root saw batches up to " + std::to_string(ordered.next_expected()) + " of " + std::to_string(opt.rounds * opt.producers) +
             ", " + std::to_string(ordered.pending()) + " still waiting");

    const double secs = std::chrono::duration<double>(t1 - t0).count();
    std::printf("merge_tree: producers=%zu mergers=%zu rounds=%zu mean items/round/producer=%zu\n", opt.producers, opt.mergers,
                opt.rounds, mean);
    for (const auto& m : mergers) {
        const TierLink& l = m.inner();
        std::string slots;
        for (std::size_t s : m.slots()) {
            if (!slots.empty()) slots += ',';
            slots += std::to_string(s);
        }
        std::printf("  merger %zu (producers %s): %llu items in %llu batches\n", m.index(), slots.c_str(),
                    static_cast<unsigned long long>(l.items()), static_cast<unsigned long long>(l.batches()));
        if (l.foreign() != 0) fail("merger " + std::to_string(m.index()) + " saw " + std::to_string(l.foreign()) + " items of other mergers' producers");
    }
    const auto& st = ordered.stats();
    std::printf("  root: %llu batches in order, %llu waited in the window, %llu beyond it\n",
                static_cast<unsigned long long>(st.in_order), static_cast<unsigned long long>(st.buffered),
                static_cast<unsigned long long>(st.window_overflows));
    std::printf("  produced %llu, delivered in order %llu, overflowed %llu\n", static_cast<unsigned long long>(produced),
                static_cast<unsigned long long>(check.delivered()), static_cast<unsigned long long>(overflowed.size()));
    std::printf("  %.3f s, %.0f items/s\n", secs, static_cast<double>(produced) / secs);
    if (ok) std::printf("  OK: global order == single-threaded replay (minus overflow), each merger saw only its producers\n");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options opt{arg_or(argc, argv, 1, 8), arg_or(argc, argv, 2, 2), arg_or(argc, argv, 3, 2000), arg_or(argc, argv, 4, 64)};
        if (2 * opt.mean > ring_capacity) {
            std::fprintf(stderr, "merge_tree: items_per_round %zu: a round could exceed the ring capacity %zu\n", opt.mean, ring_capacity);
            return 2;
        }
        return run(opt);  // split_sequenced_mergers reports a bad merger count (0, or more than producers)
    } catch (const std::exception& e) {
        std::fprintf(stderr, "merge_tree: %s\n", e.what());
        return 1;
    }
}

// Helpers shared by the core test suites: a lifetime-counting item, a tagged
// pool item with its single-threaded replay, deterministic per-round
// randomness, and small spouts that misbehave on purpose.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace spill::test {

// ---- lifetime-counting item --------------------------------------------------

/// An item that counts every construction and destruction, so a test can
/// prove that a container neither leaked nor double-destroyed anything. A
/// moved-from Tracked has id -1 ("empty") and is never counted as delivered.
class Tracked {
public:
    // relaxed: pure event counters, read after the threads that touch them
    // have been joined (a happens-before edge), never used to publish data.
    static inline std::atomic<std::int64_t> constructed{0};
    static inline std::atomic<std::int64_t> destroyed{0};

    static void reset() noexcept {
        constructed.store(0, std::memory_order_relaxed);
        destroyed.store(0, std::memory_order_relaxed);
    }
    [[nodiscard]] static std::int64_t live() noexcept {
        return constructed.load(std::memory_order_relaxed) - destroyed.load(std::memory_order_relaxed);
    }

    explicit Tracked(std::int64_t id) noexcept : id_(id) { constructed.fetch_add(1, std::memory_order_relaxed); }
    Tracked(const Tracked& o) noexcept : id_(o.id_) { constructed.fetch_add(1, std::memory_order_relaxed); }
    Tracked(Tracked&& o) noexcept : id_(std::exchange(o.id_, -1)) { constructed.fetch_add(1, std::memory_order_relaxed); }
    Tracked& operator=(const Tracked& o) noexcept = default;
    Tracked& operator=(Tracked&& o) noexcept {
        id_ = std::exchange(o.id_, -1);
        return *this;
    }
    ~Tracked() { destroyed.fetch_add(1, std::memory_order_relaxed); }

    [[nodiscard]] std::int64_t id() const noexcept { return id_; }
    [[nodiscard]] bool empty() const noexcept { return id_ < 0; }

private:
    std::int64_t id_;
};

// ---- pool items and their replay ---------------------------------------------

/// What a test worker pushes: who made it, in which round, and a per-worker
/// sequence number that grows with every push (per-producer FIFO check).
struct Item {
    std::uint32_t worker = 0;
    std::uint32_t round = 0;
    std::uint64_t seq = 0;  // (round << 24) | index in the round: grows per worker
    friend bool operator==(const Item&, const Item&) = default;
};

/// A cheap, well-mixed hash (SplitMix64 finaliser): deterministic
/// "randomness" that every thread computes alike from (round, worker).
[[nodiscard]] constexpr std::uint64_t mix(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// A round's arguments for the deterministic test task: how many items a
/// worker pushes and how long it may sleep are functions of (seed, round, worker).
struct RoundArgs {
    std::uint64_t seed = 0;
    std::uint32_t round = 0;
    std::uint32_t max_items = 8;      // items per (round, worker) in [0, max_items]
    std::uint32_t max_delay_us = 0;   // random sleep per (round, worker) in [0, max_delay_us]
};

[[nodiscard]] constexpr std::uint32_t items_for(const RoundArgs& a, std::size_t worker) noexcept {
    return static_cast<std::uint32_t>(mix(a.seed ^ (std::uint64_t{a.round} << 20) ^ worker) % (a.max_items + 1u));
}
[[nodiscard]] constexpr std::uint32_t delay_for(const RoundArgs& a, std::size_t worker) noexcept {
    if (a.max_delay_us == 0) return 0;
    return static_cast<std::uint32_t>(mix(~a.seed ^ (std::uint64_t{a.round} << 20) ^ (worker * 7919)) % (a.max_delay_us + 1u));
}
[[nodiscard]] constexpr Item make_item(std::uint32_t round, std::size_t worker, std::uint32_t index) noexcept {
    return Item{static_cast<std::uint32_t>(worker), round, (std::uint64_t{round} << 24) | index};
}

/// The task every pool test spawns: sleeps a (round, worker)-dependent time
/// half before and half in the middle of pushing, then pushes its items.
struct DeterministicTask {
    template <class Ring>
    void operator()(Ring& ring, std::size_t worker, const RoundArgs& a) const {
        const std::uint32_t n = items_for(a, worker);
        const std::uint32_t d = delay_for(a, worker);
        if (d != 0) std::this_thread::sleep_for(std::chrono::microseconds(d / 2));
        for (std::uint32_t i = 0; i < n; ++i) {
            if (i == n / 2 && d != 0) std::this_thread::sleep_for(std::chrono::microseconds(d - d / 2));
            ring.push(make_item(a.round, worker, i));
        }
    }
};

/// The single-threaded replay: every item of rounds first..last in
/// (round, worker, push order), i.e. what one thread running the rounds one
/// after another would produce.
[[nodiscard]] inline std::vector<Item> replay(RoundArgs a, std::uint32_t first_round, std::uint32_t last_round, std::size_t workers) {
    std::vector<Item> out;
    for (std::uint32_t r = first_round; r <= last_round; ++r) {
        a.round = r;
        for (std::size_t w = 0; w < workers; ++w) {
            const std::uint32_t n = items_for(a, w);
            for (std::uint32_t i = 0; i < n; ++i) out.push_back(make_item(r, w, i));
        }
    }
    return out;
}

/// Returns an empty string when, for every worker, the `seq` of its items
/// in `items` strictly increases; otherwise a description of the first break.
[[nodiscard]] inline std::string first_fifo_break(const std::vector<Item>& items, std::size_t workers) {
    std::vector<std::uint64_t> last(workers, 0);
    std::vector<bool> seen(workers, false);
    for (std::size_t i = 0; i < items.size(); ++i) {
        const Item& it = items[i];
        if (it.worker >= workers) return "item " + std::to_string(i) + " names worker " + std::to_string(it.worker);
        if (seen[it.worker] && it.seq <= last[it.worker])
            return "worker " + std::to_string(it.worker) + ": seq " + std::to_string(it.seq) + " after " + std::to_string(last[it.worker]) +
                   " at index " + std::to_string(i);
        seen[it.worker] = true;
        last[it.worker] = it.seq;
    }
    return {};
}

// ---- misbehaving spouts --------------------------------------------------------

/// Thrown by the test spouts below; distinct from anything the library throws.
struct SpoutFailure : std::runtime_error {
    SpoutFailure() : std::runtime_error("test spout refused an item") {}
};

/// Collects items but throws (without taking the item) on the send attempts
/// whose 0-based index is listed in `fail_at`, or on every attempt while
/// `fail_all` is set. Attempts are counted whether they succeed or not.
template <class T>
struct FlakySpout {
    std::vector<std::size_t> fail_at;
    bool fail_all = false;
    std::vector<T> items;
    std::size_t attempts = 0;

    void send(T&& item) {
        const std::size_t attempt = attempts++;
        if (fail_all || std::find(fail_at.begin(), fail_at.end(), attempt) != fail_at.end()) throw SpoutFailure();
        items.push_back(std::move(item));
    }
    void flush() noexcept {}
};

}  // namespace spill::test

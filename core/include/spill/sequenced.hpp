// spill/sequenced.hpp: ordered completion (roadmap Feature 3).
//
// SequencedSpout takes batches tagged with a sequence number, in any order,
// and emits their items to an inner spout in strict sequence order. The
// expected batch goes straight through (no buffering); a batch that arrives
// early waits in a preallocated reorder window; a batch further ahead than the
// window waits in an overflow map, which allocates and is counted
// (stats().window_overflows), so order is exact in every case and the cost of
// an undersized window is visible instead of silent.
//
// Invariants:
//   Q1  Items leave in increasing sequence order, each batch's items in the
//       order given; every sequence number is delivered once.
//   Q2  Window slot i holds sequence next + ((i - next) mod window) if filled;
//       nothing below `next` is ever buffered.
//   Q3  After warm-up (every slot vector has reached its largest batch), a
//       run that stays inside the window allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "spout.hpp"

namespace spill {

/// Counters of a SequencedSpout. A healthy ordered pipeline shows mostly
/// `in_order`; a growing `window_overflows` says the window is too small.
///
///     const auto& st = seq.stats();
///     if (st.window_overflows != 0) warn("reorder window of %zu is too small", seq.window());
struct SequencedStats {
    std::uint64_t in_order = 0;          ///< batches that took the fast path
    std::uint64_t buffered = 0;          ///< batches that waited in the window
    std::uint64_t window_overflows = 0;  ///< batches that waited beyond the window (allocating)
    std::uint64_t items = 0;             ///< items emitted
};

/// Reorders batches by sequence number before forwarding to `Inner`.
///
///     spill::SequencedSpout<int, spill::CollectSpout<int>> seq{{}, 8};
///     seq.submit(1, std::vector{3, 4});   // early: buffered
///     seq.submit(0, std::vector{1, 2});   // emits 1 2 3 4
template <class T, class Inner>
class SequencedSpout {
public:
    /// `window` batches can wait without allocating, each up to
    /// `reserve_per_batch` items before its vector grows (once).
    explicit SequencedSpout(Inner inner, std::size_t window = 64, std::size_t reserve_per_batch = 0, std::uint64_t first = 0)
        : inner_(std::move(inner)), slots_(window == 0 ? 1 : window), next_(first) {
        for (auto& s : slots_) s.items.reserve(reserve_per_batch);
    }

    /// Submits batch `seq`. Throws std::invalid_argument for a sequence that
    /// was already delivered or is already waiting. If the inner spout throws
    /// during the fast path, the items not yet sent are left in `items` and
    /// the batch counts as not delivered: submit the rest again with `seq`.
    template <std::ranges::input_range R>
    void submit(std::uint64_t seq, R&& items) {
        if (interrupted_) [[unlikely]] release_ready();  // finish what a throwing inner spout left
        if (seq < next_) throw std::invalid_argument("SequencedSpout: sequence " + std::to_string(seq) + " was already delivered");
        if (seq == next_) {
            struct Count {  // counted locally, stored once (also when inner_ throws)
                std::uint64_t& total;
                std::uint64_t n = 0;
                ~Count() { total += n; }
            } count{stats_.items};
            for (auto&& x : items) {
                inner_.send(std::move(x));
                ++count.n;
            }
            ++stats_.in_order;
            ++next_;
            release_ready();
            return;
        }
        if (seq - next_ < slots_.size()) {
            Slot& s = slots_[seq % slots_.size()];
            // A batch that arrived beyond the window waits in the overflow map
            // even after the window has moved over its sequence number.
            if (s.filled || (!overflow_.empty() && overflow_.count(seq) != 0))
                throw std::invalid_argument("SequencedSpout: sequence " + std::to_string(seq) + " submitted twice");
            for (auto&& x : items) s.items.push_back(std::move(x));
            s.filled = true;
            ++stats_.buffered;
            return;
        }
        auto [it, inserted] = overflow_.try_emplace(seq);
        if (!inserted) throw std::invalid_argument("SequencedSpout: sequence " + std::to_string(seq) + " submitted twice");
        for (auto&& x : items) it->second.push_back(std::move(x));
        ++stats_.window_overflows;
    }

    /// Spout interface: an item sent directly is part of no batch and passes
    /// straight through.
    void send(T&& item) { inner_.send(std::move(item)); }
    /// Flushes the inner spout. Batches waiting for a predecessor stay; a
    /// release that a throwing inner spout interrupted is resumed first.
    void flush() {
        if (interrupted_) release_ready();
        inner_.flush();
    }

    [[nodiscard]] std::uint64_t next_expected() const noexcept { return next_; }
    [[nodiscard]] std::size_t window() const noexcept { return slots_.size(); }
    /// Batches waiting for a predecessor.
    [[nodiscard]] std::size_t pending() const noexcept {
        std::size_t n = overflow_.size();
        for (const auto& s : slots_) n += s.filled ? 1 : 0;
        return n;
    }
    [[nodiscard]] const SequencedStats& stats() const noexcept { return stats_; }
    [[nodiscard]] Inner& inner() noexcept { return inner_; }

private:
    struct Slot {
        bool filled = false;
        std::vector<T> items;
    };

    // Emits every batch that became next in line, pulling overflowed batches
    // into the window as it advances.
    void release_ready() {
        interrupted_ = false;
        for (;;) {
            Slot& s = slots_[next_ % slots_.size()];
            if (!s.filled) {
                if (overflow_.empty()) return;  // the common case: no map lookup
                auto it = overflow_.find(next_);
                if (it == overflow_.end()) return;
                s.items.swap(it->second);  // O(1); the map's node takes the old (empty) vector
                s.filled = true;
                overflow_.erase(it);
            }
            std::size_t sent = 0;
            try {
                for (; sent < s.items.size(); ++sent) inner_.send(std::move(s.items[sent]));
            } catch (...) {
                s.items.erase(s.items.begin(), s.items.begin() + static_cast<std::ptrdiff_t>(sent));
                stats_.items += sent;
                interrupted_ = true;
                throw;  // the rest stays buffered under `next_`; the next submit or flush resumes it
            }
            stats_.items += sent;
            s.items.clear();  // keeps capacity (Q3)
            s.filled = false;
            ++next_;
        }
    }

    Inner inner_;
    std::vector<Slot> slots_;
    std::map<std::uint64_t, std::vector<T>> overflow_;
    std::uint64_t next_;
    SequencedStats stats_;
    bool interrupted_ = false;  // a release stopped on an inner exception with batch `next_` still buffered
};

}  // namespace spill

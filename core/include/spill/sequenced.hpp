// spill/sequenced.hpp: ordered completion (docs/design.md, section 7).
//
// SequencedSpout takes batches tagged with a sequence number, in any order
// and possibly in several parts each, and emits their items to an inner
// spout in strict sequence order. The parts of the batch that is next go
// straight through (no buffering); a batch that arrives early waits in a
// preallocated reorder window; a batch further ahead than the window waits in
// an overflow map, which allocates and is counted (stats().window_overflows),
// so order is exact in every case and the cost of an undersized window is
// visible instead of silent.
//
// Invariants:
//   Q1  Items leave in increasing sequence order, each batch's items in the
//       order given; every item of every batch is delivered once.
//   Q2  Window slot i holds sequence next + ((i - next) mod window) if used;
//       nothing below `next` is ever buffered. A batch that went to the
//       overflow map stays there until it is released, even once the window
//       has moved over its sequence number.
//   Q3  After warm-up (every slot vector has reached its largest batch), a
//       run that stays inside the window allocates nothing.
//   Q4  `next` advances exactly when every item of batch `next` has been
//       taken by the inner spout. A failure of the inner spout never moves
//       it: submit() takes a prefix of the offered part (or throws having
//       taken nothing), and batches buffered behind it stay buffered until a
//       later submit() or flush() releases them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
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
    std::uint64_t in_order = 0;          ///< batches that went straight through, no part buffered
    std::uint64_t buffered = 0;          ///< batches that waited in the window
    std::uint64_t window_overflows = 0;  ///< batches that waited beyond the window (allocating)
    std::uint64_t items = 0;             ///< items the inner spout took
};

/// Reorders batches by sequence number before forwarding to `Inner`.
///
/// Failure rule (spout.hpp, F1-F4): `submit` returns how many of the offered
/// items it took, all or a prefix, and throws only when it took none; offer
/// the rest again with the same sequence number (it continues the same
/// batch). Items it took are delivered exactly once, even when the inner
/// spout fails: a batch buffered here is released by a later submit() or
/// flush(), which reports the inner spout's failure if it persists.
///
///     spill::SequencedSpout<int, spill::CollectSpout<int>> seq{{}, 8};
///     std::vector a{3, 4}, b{1, 2};
///     seq.submit(1, a);   // early: buffered
///     seq.submit(0, b);   // emits 1 2 3 4
template <class T, class Inner>
class SequencedSpout {
public:
    /// `window` batches can wait without allocating, each up to
    /// `reserve_per_batch` items before its vector grows (once). The first
    /// batch expected is `first`. Throws std::invalid_argument for a window of 0.
    explicit SequencedSpout(Inner inner, std::size_t window = 64, std::size_t reserve_per_batch = 0, std::uint64_t first = 0)
        : inner_(std::move(inner)), slots_(checked_window(window)), next_(first) {
        for (auto& s : slots_) s.items.reserve(reserve_per_batch);
    }

    /// Offers the next part of batch `seq` (`last`: its final part) and
    /// returns how many of `items` were taken (moved from). Throws
    /// std::invalid_argument for a batch that was already delivered or whose
    /// last part was already submitted (nothing taken).
    std::size_t submit(std::uint64_t seq, std::span<T> items, bool last = true) {
        check_new_part(seq);
        release_ready();  // earlier batches the inner spout refused go first; throws => nothing of this call taken
        if (seq != next_) return buffer(seq, items, last);
        // The front batch: what waited of it goes first, then this part, in
        // place. If the inner spout refuses what waited (or takes only some
        // of it), this part waits behind it, all or nothing, with its last
        // mark: the batch stays in order and completes when it is released.
        Batch* b = find(next_);
        if (b != nullptr && !send_rest(*b)) return buffer(seq, items, last);
        const std::size_t n = spill::send_all(inner_, items);
        stats_.items += n;
        if (n == items.size() && last) {
            if (b == nullptr) ++stats_.in_order;
            finish_front();
            try {
                release_ready();
            } catch (...) {
                // This batch was taken whole; the batches buffered behind it
                // stay buffered (Q4) and the next submit() or flush() retries
                // them and reports the failure if it persists.
            }
        }
        return n;
    }
    /// A whole batch from a contiguous range (its elements are moved from).
    template <std::ranges::contiguous_range R>
        requires std::ranges::sized_range<R> && std::is_same_v<std::ranges::range_value_t<R>, T>
    std::size_t submit(std::uint64_t seq, R&& items) {
        return submit(seq, std::span<T>(std::ranges::data(items), std::ranges::size(items)), true);
    }

    /// Spout interface: an item sent directly is part of no batch and passes
    /// straight through.
    void send(T&& item) { inner_.send(std::move(item)); }
    std::size_t send_all(std::span<T> items) { return spill::send_all(inner_, items); }
    /// Releases batches that became deliverable (a failure of the inner spout
    /// may have held them back), then flushes the inner spout. Batches
    /// waiting for a predecessor stay.
    void flush() {
        release_ready();
        inner_.flush();
    }

    [[nodiscard]] std::uint64_t next_expected() const noexcept { return next_; }
    [[nodiscard]] std::size_t window() const noexcept { return slots_.size(); }
    /// Batches (whole or in part) waiting here.
    [[nodiscard]] std::size_t pending() const noexcept {
        std::size_t n = overflow_.size();
        for (const auto& s : slots_) n += s.used ? 1 : 0;
        return n;
    }
    [[nodiscard]] const SequencedStats& stats() const noexcept { return stats_; }
    [[nodiscard]] Inner& inner() noexcept { return inner_; }
    [[nodiscard]] const Inner& inner() const noexcept { return inner_; }

private:
    struct Batch {
        std::vector<T> items;
        std::size_t sent = 0;   // items[0, sent) were taken by the inner spout (the front batch only)
        bool used = false;      // at least one part arrived
        bool complete = false;  // the last part arrived
        void clear() noexcept {
            items.clear();  // keeps capacity (Q3)
            sent = 0;
            used = complete = false;
        }
    };

    static std::size_t checked_window(std::size_t w) {
        if (w == 0) throw std::invalid_argument("spill::SequencedSpout: the reorder window must hold at least 1 batch, got 0");
        return w;
    }

    // Where batch `seq` waits, if anywhere (Q2).
    Batch* find(std::uint64_t seq) noexcept {
        if (!overflow_.empty()) {
            if (auto it = overflow_.find(seq); it != overflow_.end()) return &it->second;
        }
        if (seq - next_ < slots_.size()) {
            Batch& s = slots_[seq % slots_.size()];
            if (s.used) return &s;
        }
        return nullptr;
    }

    void check_new_part(std::uint64_t seq) const {
        if (seq < next_)
            throw std::invalid_argument("spill::SequencedSpout: sequence " + std::to_string(seq) + " was already delivered");
        bool complete = false;
        if (!overflow_.empty()) {
            if (auto it = overflow_.find(seq); it != overflow_.end()) complete = it->second.complete;
        }
        if (seq - next_ < slots_.size()) {
            const Batch& s = slots_[seq % slots_.size()];
            complete = complete || (s.used && s.complete);
        }
        if (complete)
            throw std::invalid_argument("spill::SequencedSpout: sequence " + std::to_string(seq) +
                                        " submitted twice (its last part had already arrived)");
    }

    // An early part: copied into the window (or the overflow map), all or nothing.
    std::size_t buffer(std::uint64_t seq, std::span<T> items, bool last) {
        Batch* b = find(seq);
        if (b == nullptr) {
            if (seq - next_ < slots_.size()) {
                b = &slots_[seq % slots_.size()];
                ++stats_.buffered;
            } else {
                b = &overflow_[seq];  // may throw: nothing taken
                ++stats_.window_overflows;
            }
        }
        const std::size_t want = b->items.size() + items.size();
        if (want > b->items.capacity()) b->items.reserve(std::max(want, 2 * b->items.capacity()));  // may throw: nothing taken
        for (T& x : items) b->items.push_back(std::move(x));  // within capacity: cannot throw
        b->used = true;
        b->complete = last;
        return items.size();
    }

    // Sends what remains buffered of the front batch; false if the inner
    // spout took only part of it (F2). Throws if it took none of it.
    bool send_rest(Batch& b) {
        if (b.sent == b.items.size()) return true;
        const std::size_t n = spill::send_all(inner_, std::span<T>(b.items).subspan(b.sent));
        b.sent += n;
        stats_.items += n;
        return b.sent == b.items.size();
    }

    // Batch `next_` is delivered: forget it and move on (Q4).
    void finish_front() {
        if (!overflow_.empty()) {
            if (auto it = overflow_.find(next_); it != overflow_.end()) overflow_.erase(it);
        }
        if (Batch& s = slots_[next_ % slots_.size()]; s.used) s.clear();
        ++next_;
    }

    // Emits every buffered batch that is complete and next in line. If the
    // inner spout refuses or throws, what it did not take stays buffered.
    void release_ready() {
        for (;;) {
            Batch* b = find(next_);
            if (b == nullptr || !b->complete) return;
            if (!send_rest(*b)) return;
            finish_front();
        }
    }

    Inner inner_;
    std::vector<Batch> slots_;
    std::map<std::uint64_t, Batch> overflow_;
    std::uint64_t next_;
    SequencedStats stats_;
};

}  // namespace spill

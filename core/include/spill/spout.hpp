// spill/spout.hpp: the push-sink concept, the failure rule, and the basic spouts.
//
// A spout is where items go: `send(T&&)` hands one item over, `flush()` pushes
// whatever the spout buffers to its destination, and an optional
// `send_all(std::span<T>)` takes many items at once, in place. Spouts are
// plain values that compose by nesting
// (`CountingSpout<BatchSpout<T, FramedSpout<FdWriter>>>`), so a whole pipeline
// is one type and every call is inlinable: there is no virtual interface on
// this path.
//
// The failure rule. Every spout in this project keeps it, and every caller in
// it (rings, the pool's collectors, the adapters) relies on it, so that a
// caller's retry never duplicates or loses an item:
//
//   F1  send(T&& item) either takes the item and returns, or throws and leaves
//       `item` as it was. It never throws for an item it has taken.
//   F2  send_all(std::span<T> items) takes a prefix of `items` and returns its
//       length n (0 <= n <= items.size()). Items [n, size) are left as they
//       were. A short count means the spout took what it could now: its
//       destination is full (a refusal), or it failed after taking n items,
//       in which case the same failure shows on the next call, which offers
//       it the item that failed again (the way write(2) returns a short count
//       and reports the error on the next call). It throws only when it took
//       nothing.
//   F3  "Taking" an item from a span means reading it or moving from it; the
//       caller still owns the span's storage and destroys the taken items
//       itself. A consumer therefore reads items where the ring holds them:
//       nothing is copied on the way to a spout that only looks at them.
//   F4  flush() pushes buffered items downstream; if it throws, the spout
//       keeps what it could not push, and the next flush tries again.
//
// A caller that retries therefore offers exactly the items not yet taken:
// after a throw, the same item; after a short count, items[n, size).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace spill {

/// A push sink for items of type T.
///
///     static_assert(spill::Spout<spill::CollectSpout<int>, int>);
template <class S, class T>
concept Spout = requires(S& s, T&& item) {
    s.send(std::forward<T>(item));
    s.flush();
};

/// A spout that takes a contiguous run of items at once (F2). Call it through
/// `spill::send_all`, which falls back to one `send` per item for spouts
/// without it.
///
///     static_assert(spill::BulkSpout<spill::CollectSpout<int>, int>);
///     static_assert(!spill::BulkSpout<spill::FnSpout<void (*)(int)>, int>);
template <class S, class T>
concept BulkSpout = Spout<S, T> && requires(S& s, std::span<T> items) {
    { s.send_all(items) } -> std::convertible_to<std::size_t>;
};

namespace detail {
/// Moves `from` into `to`, both live objects of T: assignment when T has a
/// nothrow one, otherwise destroy and construct in place. Used to hand a
/// taken item back to a caller (F1, F2) when the destination refused it.
template <class T>
void move_back(T& to, T& from) noexcept {
    if constexpr (std::is_nothrow_move_assignable_v<T>) {
        to = std::move(from);
    } else {
        static_assert(std::is_nothrow_move_constructible_v<T>);
        std::destroy_at(&to);
        std::construct_at(&to, std::move(from));
    }
}
}  // namespace detail

/// Sends a contiguous run of items into `out` under the failure rule (F2):
/// returns how many it took, a prefix. Uses `out.send_all` when the spout has
/// one; otherwise sends one by one, and when `send` throws after at least one
/// item was taken, returns the count instead (the next call offers the failed
/// item again, and `send` throws again if the failure persists).
///
///     std::vector<int> v{1, 2, 3};
///     std::size_t n = spill::send_all(sink, std::span(v));   // n == 3 unless sink refused
template <class S, class T>
std::size_t send_all(S& out, std::span<T> items) {
    if constexpr (BulkSpout<S, T>) {
        return static_cast<std::size_t>(out.send_all(items));
    } else {
        std::size_t i = 0;
        try {
            for (; i < items.size(); ++i) out.send(std::move(items[i]));
        } catch (...) {
            if (i == 0) throw;  // nothing taken: the caller sees the error now
        }
        return i;
    }
}

/// The same for any contiguous range of non-const items (a vector, an array):
/// their elements are moved from as they are taken.
///
///     std::vector<std::string> v{"a", "b"};
///     spill::send_all(sink, v);   // v's elements are moved from
template <class S, std::ranges::contiguous_range R>
    requires std::ranges::sized_range<R> && (!std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>)
std::size_t send_all(S& out, R&& items) {
    using T = std::ranges::range_value_t<R>;
    return spill::send_all(out, std::span<T>(std::ranges::data(items), std::ranges::size(items)));
}

/// Destroys every item it is given (the caller destroys what it took, F3).
/// Use it where losing items is the intent (a benchmark's overflow that is
/// counted elsewhere, a "drop oldest" cache).
///
///     spill::SpillRing<int, 8, spill::DropSpout> ring;
struct DropSpout {
    template <class T>
    void send(T&&) noexcept {}
    template <class T>
    std::size_t send_all(std::span<T> items) noexcept {
        return items.size();
    }
    void flush() noexcept {}
};

/// Appends every item to a vector it owns. A bulk send grows the vector
/// first and then moves the items in, so it takes all of them or (out of
/// memory) none.
///
///     spill::CollectSpout<int> out;
///     out.send(1);
///     assert(out.items() == std::vector<int>{1});
template <class T>
class CollectSpout {
public:
    CollectSpout() = default;
    /// Pre-sizes the vector so that up to `capacity` items arrive without allocating.
    explicit CollectSpout(std::size_t capacity) { items_.reserve(capacity); }

    void send(T&& item) { items_.push_back(std::move(item)); }
    void send(const T& item) { items_.push_back(item); }
    std::size_t send_all(std::span<T> items) {
        reserve_for(items.size());  // may throw: nothing taken yet
        for (T& x : items) items_.push_back(std::move(x));  // within capacity, nothrow moves: cannot throw
        return items.size();
    }
    void flush() noexcept {}

    [[nodiscard]] const std::vector<T>& items() const noexcept { return items_; }
    [[nodiscard]] std::vector<T>& items() noexcept { return items_; }
    /// Moves the collected items out and leaves the spout empty.
    [[nodiscard]] std::vector<T> take() noexcept { return std::exchange(items_, {}); }
    [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }

private:
    static_assert(std::is_nothrow_move_constructible_v<T>, "CollectSpout needs a nothrow move to take a span all or nothing");
    void reserve_for(std::size_t more) {
        const std::size_t want = items_.size() + more;
        if (want <= items_.capacity()) return;
        items_.reserve(std::max(want, 2 * items_.capacity()));  // geometric, as push_back would grow
    }
    std::vector<T> items_;
};

/// Calls a function for every item; `flush()` calls an optional second one.
/// The function keeps F1: if it throws, it must not have kept the item.
///
///     std::size_t sum = 0;
///     auto s = spill::FnSpout([&](int x) { sum += x; });
template <class F, class Flush = void (*)()>
class FnSpout {
public:
    explicit FnSpout(F on_item, Flush on_flush = [] {}) : on_item_(std::move(on_item)), on_flush_(std::move(on_flush)) {}

    template <class T>
    void send(T&& item) {
        std::invoke(on_item_, std::forward<T>(item));
    }
    void flush() { std::invoke(on_flush_); }

private:
    F on_item_;
    Flush on_flush_;
};

/// A spout that forwards to another spout it does not own. Lets several rings
/// share one overflow spout; the referenced spout must outlive it.
///
///     spill::CollectSpout<int> shared;
///     spill::SpillRing<int, 4, spill::SpoutRef<spill::CollectSpout<int>>> a{spill::SpoutRef{shared}};
template <class S>
class SpoutRef {
public:
    explicit SpoutRef(S& target) noexcept : target_(&target) {}

    template <class T>
    void send(T&& item) {
        target_->send(std::forward<T>(item));
    }
    template <class T>
    std::size_t send_all(std::span<T> items) {
        return spill::send_all(*target_, items);
    }
    void flush() { target_->flush(); }
    [[nodiscard]] S& get() const noexcept { return *target_; }

private:
    S* target_;
};

/// Counts the items and flushes that pass through, then forwards them to an
/// inner spout (by default it drops them). Only items the inner spout took
/// are counted. Used as an overflow spout it tells how many items a ring
/// evicted.
///
///     spill::CountingSpout<> overflow;
///     overflow.send(7);
///     assert(overflow.count() == 1);
template <class Inner = DropSpout>
class CountingSpout {
public:
    CountingSpout() requires std::is_default_constructible_v<Inner> = default;
    explicit CountingSpout(Inner inner) : inner_(std::move(inner)) {}

    template <class T>
    void send(T&& item) {
        inner_.send(std::forward<T>(item));
        ++count_;  // after the send: an item the inner spout refused is not counted
    }
    template <class T>
    std::size_t send_all(std::span<T> items) {
        const std::size_t n = spill::send_all(inner_, items);
        count_ += n;
        return n;
    }
    void flush() {
        inner_.flush();
        ++flushes_;
    }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t flushes() const noexcept { return flushes_; }
    [[nodiscard]] Inner& inner() noexcept { return inner_; }
    [[nodiscard]] const Inner& inner() const noexcept { return inner_; }

private:
    Inner inner_{};
    std::uint64_t count_ = 0;
    std::uint64_t flushes_ = 0;
};

/// Groups items into vectors of `batch_size` and sends each full vector to an
/// inner spout of vectors; `flush()` sends the partial batch too. Each batch
/// is one vector allocation (the vector is handed over whole).
///
/// Failure: when the inner spout refuses a full batch (throws), the item that
/// completed it is handed back to the caller (F1) and the batch keeps the
/// items taken before; a bulk send hands back every item of that call that
/// was not yet in a batch the inner spout took (F2).
///
///     spill::BatchSpout<int, spill::CollectSpout<std::vector<int>>> b{2};
///     b.send(1); b.send(2);   // inner received {1, 2}
template <class T, class Inner>
class BatchSpout {
public:
    /// Throws std::invalid_argument for a batch size of 0.
    explicit BatchSpout(std::size_t batch_size, Inner inner = Inner{}) : inner_(std::move(inner)), batch_size_(checked(batch_size)) {
        batch_.reserve(batch_size_);
    }

    void send(T&& item) {
        batch_.push_back(std::move(item));  // within capacity: cannot throw
        if (batch_.size() < batch_size_) return;
        try {
            emit();
        } catch (...) {
            detail::move_back(item, batch_.back());  // F1: the caller keeps the item
            batch_.pop_back();
            throw;
        }
    }
    void send(const T& item) {
        T copy(item);
        send(std::move(copy));
    }
    std::size_t send_all(std::span<T> items) {
        std::size_t taken = 0;  // items of this call inside batches the inner spout took
        while (taken < items.size()) {
            const std::size_t before = batch_.size();
            const std::size_t k = std::min(batch_size_ - before, items.size() - taken);
            for (std::size_t i = 0; i < k; ++i) batch_.push_back(std::move(items[taken + i]));  // within capacity
            if (batch_.size() == batch_size_) {
                try {
                    emit();
                } catch (...) {
                    for (std::size_t i = 0; i < k; ++i) detail::move_back(items[taken + i], batch_[before + i]);
                    while (batch_.size() > before) batch_.pop_back();  // (no default constructor needed, unlike resize)
                    if (taken == 0) throw;
                    return taken;  // F2: the next call offers items[taken] again
                }
            }
            taken += k;  // a partial batch holds them now: taken too
        }
        return taken;
    }
    void flush() {
        if (!batch_.empty()) emit();
        inner_.flush();
    }

    [[nodiscard]] Inner& inner() noexcept { return inner_; }
    [[nodiscard]] std::size_t pending() const noexcept { return batch_.size(); }
    [[nodiscard]] std::size_t batch_size() const noexcept { return batch_size_; }

private:
    static_assert(std::is_nothrow_move_constructible_v<T>, "BatchSpout hands refused items back by move");
    static std::size_t checked(std::size_t n) {
        if (n == 0) throw std::invalid_argument("spill::BatchSpout: batch size must be at least 1, got 0");
        return n;
    }
    // Hands the current batch to the inner spout; on a throw the batch is as before.
    void emit() {
        std::vector<T> full;
        full.reserve(batch_size_);  // may throw: nothing changed
        full.swap(batch_);
        try {
            inner_.send(std::move(full));
        } catch (...) {
            batch_.swap(full);  // F1 of the inner spout: `full` is as it was
            throw;
        }
    }

    Inner inner_;
    std::size_t batch_size_;
    std::vector<T> batch_;
};

}  // namespace spill

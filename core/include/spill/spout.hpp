// spill/spout.hpp: the push-sink concept and the basic spouts.
//
// A spout is where items go: `send(T&&)` hands one item over, `flush()` pushes
// whatever the spout buffers to its destination, and an optional
// `send_all(range)` takes many items at once. Spouts are plain values that
// compose by nesting (`CountingSpout<BatchSpout<T, FramedSpout<FdWriter>>>`),
// so a whole pipeline is one type and every call is inlinable: there is no
// virtual interface on this path.
//
// The exception contract every spout in this project keeps, and that
// `SpillRing` relies on for its strong guarantee: `send(T&& item)` either takes
// the item, or throws and leaves `item` as it was (the same promise as
// `std::vector::push_back` for a nothrow-movable T).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <ranges>
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

/// A spout that also takes a whole range at once (it may batch, write once,
/// reserve once...). Call it through `spill::send_all`, which falls back to
/// one `send` per item for spouts without it.
///
///     static_assert(spill::BulkSpout<spill::CollectSpout<int>, int, std::vector<int>&>);
///     static_assert(!spill::BulkSpout<spill::DropSpout, int, std::vector<int>&>);
template <class S, class T, class R>
concept BulkSpout = Spout<S, T> && requires(S& s, R&& r) { s.send_all(std::forward<R>(r)); };

namespace detail {
/// A bulk spout whose send_all returns how many items it took.
template <class S, class R>
concept CountedBulk = requires(S& s, R&& r) {
    { s.send_all(std::forward<R>(r)) } -> std::convertible_to<std::size_t>;
};
}  // namespace detail

/// Sends every element of `items` (moved) into `out`, through `out.send_all`
/// when the spout has one. Returns how many items were sent.
///
///     std::vector<int> v{1, 2, 3};
///     spill::send_all(sink, v);   // v's elements are moved from
template <class S, std::ranges::input_range R>
std::size_t send_all(S& out, R&& items) {
    using T = std::ranges::range_value_t<R>;
    if constexpr (BulkSpout<S, T, R> && std::ranges::sized_range<R>) {
        const auto n = static_cast<std::size_t>(std::ranges::size(items));
        out.send_all(std::forward<R>(items));
        return n;
    } else if constexpr (BulkSpout<S, T, R> && detail::CountedBulk<S, R>) {
        return out.send_all(std::forward<R>(items));  // the spout counts an unsized range itself
    } else {
        // No bulk entry, or one that cannot tell how many items an unsized
        // range held: send one by one and count.
        std::size_t n = 0;
        for (auto&& item : items) {
            out.send(std::move(item));
            ++n;
        }
        return n;
    }
}

/// Destroys every item it is given. Use it where losing items is the intent
/// (a benchmark's overflow that is counted elsewhere, a "drop oldest" cache).
///
///     spill::SpillRing<int, 8, spill::DropSpout> ring;
struct DropSpout {
    template <class T>
    void send(T&&) noexcept {}
    void flush() noexcept {}
};

/// Appends every item to a vector it owns.
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
    template <std::ranges::input_range R>
    void send_all(R&& items) {
        if constexpr (std::ranges::sized_range<R>) {
            items_.reserve(items_.size() + static_cast<std::size_t>(std::ranges::size(items)));
        }
        for (auto&& item : items) items_.push_back(std::move(item));
    }
    void flush() noexcept {}

    [[nodiscard]] const std::vector<T>& items() const noexcept { return items_; }
    [[nodiscard]] std::vector<T>& items() noexcept { return items_; }
    /// Moves the collected items out and leaves the spout empty.
    [[nodiscard]] std::vector<T> take() noexcept { return std::exchange(items_, {}); }
    [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }

private:
    std::vector<T> items_;
};

/// Calls a function for every item; `flush()` calls an optional second one.
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
    void flush() { target_->flush(); }
    [[nodiscard]] S& get() const noexcept { return *target_; }

private:
    S* target_;
};

/// Counts the items and flushes that pass through, then forwards them to an
/// inner spout (by default it drops them). Used as an overflow spout it tells
/// how many items a ring evicted.
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
    template <std::ranges::input_range R>
    void send_all(R&& items) {
        count_ += spill::send_all(inner_, std::forward<R>(items));
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
///     spill::BatchSpout<int, spill::CollectSpout<std::vector<int>>> b{2};
///     b.send(1); b.send(2);   // inner received {1, 2}
template <class T, class Inner>
class BatchSpout {
public:
    explicit BatchSpout(std::size_t batch_size, Inner inner = Inner{})
        : inner_(std::move(inner)), batch_size_(batch_size == 0 ? 1 : batch_size) {
        batch_.reserve(batch_size_);
    }

    void send(T&& item) {
        batch_.push_back(std::move(item));
        if (batch_.size() >= batch_size_) emit();
    }
    void send(const T& item) {
        T copy(item);
        send(std::move(copy));
    }
    void flush() {
        if (!batch_.empty()) emit();
        inner_.flush();
    }

    [[nodiscard]] Inner& inner() noexcept { return inner_; }
    [[nodiscard]] std::size_t pending() const noexcept { return batch_.size(); }

private:
    void emit() {
        std::vector<T> full;
        full.reserve(batch_size_);
        full.swap(batch_);
        try {
            inner_.send(std::move(full));
        } catch (...) {
            batch_.swap(full);  // nothing handed over: keep the batch for a later flush
            throw;
        }
    }

    Inner inner_;
    std::size_t batch_size_;
    std::vector<T> batch_;
};

}  // namespace spill

// spill/spill_ring.hpp: a fixed ring that spills its oldest item into a spout.
//
// Invariants (single-threaded type; the pool moves whole rings between
// threads through release/acquire handoffs, never shares one):
//   I1  head_ <= tail_ and tail_ - head_ <= N. Positions only grow; slot of
//       position p is p & (N - 1). 64-bit positions do not wrap in practice
//       (2^64 pushes at 1 ns each is 584 years).
//   I2  Slots of positions [head_, tail_) hold live objects; all others are raw.
//   I3  Exactly once: each pushed item leaves through exactly one of pop,
//       drain, spans() followed by consume(), eviction into the spout, or the
//       final flush in the destructor. Nothing is destroyed without passing
//       through one of them. Spouts keep the failure rule (spout.hpp, F1-F4),
//       so an item a spout did not take stays in the ring.
//   I4  Strong guarantee on push: if the spout throws while taking the evicted
//       item, the ring is unchanged and the new item is not consumed.
//   I5  Lazy head: push never writes head_, so tail_ - head_ may exceed N
//       once the ring has wrapped. The live head is head() = max(head_,
//       tail_ - N); every reader goes through head() or size(), and every
//       operation that removes items stores head() into head_ first (settle).
//       I1 and I2 hold for [head(), tail_). When the ring is full, the oldest
//       item sits in slot(tail_) (tail_ - N and tail_ share a slot): push
//       evicts it from there and constructs the new item in its place.
//   I6  Lazy eviction (S is DropSpout and T trivially destructible, where
//       evicting an item means forgetting it): push does not even look at
//       head_; constructing over the oldest item is its eviction.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "detail/config.hpp"
#include "detail/stream.hpp"
#include "spout.hpp"

namespace spill {

/// A ring of N items (N a power of two) that, when full, evicts its oldest
/// item into the spout `S` instead of losing it. A ring is itself a spout
/// (`send` = `push`, `flush` = move everything into `S` and flush it), so rings
/// chain, and destroying a ring flushes through the whole chain.
///
///     spill::SpillRing<int, 4, spill::CollectSpout<int>> ring;
///     for (int i = 0; i < 6; ++i) ring.push(i);
///     // ring holds 2 3 4 5; ring.spout().items() == {0, 1}
template <class T, std::size_t N, class S = DropSpout>
class SpillRing {
    static_assert(N >= 1 && (N & (N - 1)) == 0, "SpillRing capacity N must be a power of two");
    static_assert(std::is_nothrow_move_constructible_v<T>,
                  "SpillRing needs a nothrow move constructor to keep its exception guarantees");
    static_assert(std::is_nothrow_destructible_v<T>);
    static_assert(Spout<S, T>, "S must be a spill::Spout of T");

public:
    using value_type = T;
    using spout_type = S;
    static constexpr std::size_t mask = N - 1;
    /// Whether push skips eviction entirely (I6): the spout drops items and
    /// dropping one needs no destructor, so the oldest item is simply
    /// overwritten later.
    static constexpr bool lazy_eviction = std::is_same_v<S, DropSpout> && std::is_trivially_destructible_v<T>;

    SpillRing() requires std::is_default_constructible_v<S> = default;
    explicit SpillRing(S spout) : spout_(std::move(spout)) {}
    /// Builds the spout in place (for spouts that cannot move, such as a ring).
    template <class... Args>
    explicit SpillRing(std::in_place_t, Args&&... spout_args) : spout_(std::forward<Args>(spout_args)...) {}

    SpillRing(const SpillRing&) = delete;
    SpillRing& operator=(const SpillRing&) = delete;

    /// Flushes every remaining item into the spout, then flushes the spout. A
    /// spout that throws here terminates the program: a destructor cannot
    /// report it, and discarding the items silently would break I3.
    ~SpillRing() { flush(); }

    [[nodiscard]] static constexpr std::size_t capacity() noexcept { return N; }
    [[nodiscard]] std::size_t size() const noexcept {
        const std::uint64_t n = tail_ - head_;
        return static_cast<std::size_t>(n > N ? N : n);  // I5
    }
    [[nodiscard]] bool empty() const noexcept { return tail_ == head_; }
    [[nodiscard]] bool full() const noexcept { return size() == N; }

    /// Appends `item`; when full, first evicts the oldest item into the spout.
    void push(T&& item) {
        // I5: a full ring keeps its oldest item in slot(tail_); evicting it
        // from there leaves head_ alone, so a stream of evicting pushes
        // stores only the items and tail_. I6: with lazy eviction the loop is
        // a masked store and one increment. The test compares tail_ with
        // head_ + N rather than tail_ - head_ with N (the same by I1, as
        // head_ + N cannot wrap): head_ stays put through a loop of pushes,
        // so the compiler keeps head_ + N in a register and the test is one
        // compare against the incremented tail. GCC 12, spill-micro
        // --benchmark_filter='^push_count/N=1024/B=8/', alternated with the
        // build before the change, 5 pairs, family 26 EPYC VM, 2026-11-28:
        // medians 3.02 against 2.53 G pushes/s (+19%); push_collect -5% to
        // +1%, push_pop level.
        if constexpr (!lazy_eviction) {
            if (tail_ >= head_ + N) evict_oldest();  // no [[unlikely]]: a full ring under load takes it every push
        }
        ::new (static_cast<void*>(slot(tail_))) T(std::move(item));
        ++tail_;
    }
    void push(const T& item) {
        T copy(item);  // may throw: before the ring is touched
        push(std::move(copy));
    }
    template <class... Args>
    void emplace(Args&&... args) {
        T made(std::forward<Args>(args)...);
        push(std::move(made));
    }

    /// Pushes gen(0), gen(1), ..., gen(n - 1), with the same effect as n
    /// pushes. Where the ring has room, the items are constructed in place,
    /// run by run, in a loop the compiler can vectorise (a producer that
    /// writes whole rounds into its own ring pays no per-item bookkeeping);
    /// where it is full, each item evicts the oldest as push does. The
    /// generator must not throw (each item's position is fixed up front).
    ///
    ///     ring.push_n(512, [base](std::size_t i) noexcept { return base + i; });
    ///
    /// A ring told to stream its writes (stream_writes) writes these runs
    /// with non-temporal stores where the item type allows it
    /// (detail/stream.hpp), and fences them before it returns.
    template <class Gen>
        requires std::is_nothrow_invocable_r_v<T, Gen&, std::size_t>
    void push_n(std::size_t n, Gen&& gen) {
        if constexpr (detail::streamable<T>) {
            if (streams_) {
                push_runs(n, gen, [](T* out, const T& v) noexcept { detail::stream_store(out, v); });
                detail::stream_fence();
                return;
            }
        }
        push_runs(n, gen, [](T* out, T&& v) noexcept { ::new (static_cast<void*>(out)) T(std::move(v)); });
    }

    /// Whether push_n writes its free runs to memory, past this core's
    /// cache, for a ring another core reads next, where that is faster (a
    /// pool decides it for each ring it hands a worker: PoolBuilder::
    /// streaming). Item types detail::streamable does not allow keep the
    /// flag and ignore it. push, and the runs of a full ring, never stream.
    void stream_writes(bool on) noexcept { streams_ = on; }
    [[nodiscard]] bool streams_writes() const noexcept { return streams_; }

    /// Spout interface: a ring is a spout, so rings chain.
    void send(T&& item) { push(std::move(item)); }
    void send(const T& item) { push(item); }

    /// Moves every item, oldest first, into the spout, then flushes it (see
    /// drain_fully).
    void flush() {
        drain_fully(spout_);
        spout_.flush();
    }

    /// Spout interface, bulk: pushes the items in order (each push may evict,
    /// I4). If an eviction throws after some items went in, returns how many
    /// did (F2); the rest stay with the caller.
    std::size_t send_all(std::span<T> items) {
        std::size_t i = 0;
        try {
            for (; i < items.size(); ++i) push(std::move(items[i]));
        } catch (...) {
            if (i == 0) throw;
        }
        return i;
    }

    /// Removes and returns the oldest item.
    [[nodiscard]] std::optional<T> pop() noexcept {
        if (empty()) return std::nullopt;
        settle();
        std::optional<T> out(std::in_place, std::move(*slot(head_)));
        destroy_front();
        return out;
    }

    /// The oldest and newest items. Precondition: not empty.
    [[nodiscard]] T& front() noexcept { return *slot(head()); }
    [[nodiscard]] const T& front() const noexcept { return *slot(head()); }
    [[nodiscard]] T& back() noexcept { return *slot(tail_ - 1); }
    [[nodiscard]] const T& back() const noexcept { return *slot(tail_ - 1); }

    /// Moves every item, oldest first, into `out`; returns how many. A bulk
    /// spout (BulkSpout) gets the items in place, as at most two contiguous
    /// spans; any other spout one `send` per item. Items `out` did not take
    /// (it threw, or returned a short count, F1/F2) stay in the ring, oldest
    /// first, and the call returns how many it took.
    template <class Out>
    std::size_t drain(Out& out) {
        return drain_n(size(), out);
    }

    /// Moves the oldest `n` items (at most size()) into `out`, as drain does.
    template <class Out>
    std::size_t drain_n(std::size_t n, Out& out) {
        if (n > size()) n = size();
        settle();
        std::size_t done = 0;
        if constexpr (BulkSpout<Out, T>) {
            while (done < n) {
                const std::size_t run = std::min(n - done, N - static_cast<std::size_t>(head_ & mask));
                const std::size_t took = out.send_all(std::span<T>(slot(head_), run));  // throws => nothing taken (F2)
                consume(took);
                done += took;
                if (took < run) break;  // refused the rest for now
            }
        } else {
            for (; done < n; ++done) {
                out.send(std::move(*slot(head_)));  // throws => this item stays (F1)
                destroy_front();
            }
        }
        return done;
    }

    /// Moves every item, oldest first, into `out`, until the ring is empty. A
    /// bulk spout that refuses (a short count, F2) is offered the rest again;
    /// one that takes nothing gets the oldest item through `send`, which takes
    /// it or throws (F1), so this always makes progress or reports why not.
    /// If `out` throws, the items it did not take stay in the ring.
    template <class Out>
    void drain_fully(Out& out) {
        while (!empty()) {
            if (drain(out) != 0) continue;
            settle();
            out.send(std::move(*slot(head_)));  // throws => the item stays (F1)
            destroy_front();
        }
    }

    /// The live items, oldest first, as at most two contiguous spans (the
    /// second is empty unless the items wrap around the end of the storage).
    /// Read or move from them in place, then `consume` what was taken.
    ///
    ///     auto [a, b] = ring.spans();
    ///     std::size_t n = sink.send_all(a);   // F2: a prefix
    ///     ring.consume(n);
    [[nodiscard]] std::pair<std::span<T>, std::span<T>> spans() noexcept {
        settle();
        const std::size_t n = size();
        const std::size_t run = std::min(n, N - static_cast<std::size_t>(head_ & mask));
        return {std::span<T>(slot(head_), run), std::span<T>(slot(head_ + run), n - run)};
    }

    /// Destroys the `n` oldest items (at most size()): the caller read or
    /// moved from them through spans().
    void consume(std::size_t n) noexcept {
        if (n > size()) n = size();
        settle();
        if constexpr (std::is_trivially_destructible_v<T>) {
            head_ += n;
        } else {
            for (std::size_t i = 0; i < n; ++i) destroy_front();
        }
    }

    /// Writes one byte of each page of the storage (no item is constructed),
    /// so the pages are mapped now, by the calling thread (under first-touch
    /// NUMA placement, on its node), and no later push pays a page fault.
    /// Precondition: empty() (no live item is overwritten).
    void prefault() noexcept {
        // volatile: the stores must happen although nothing reads them back.
        auto* bytes = reinterpret_cast<volatile unsigned char*>(&storage_);
        for (std::size_t i = 0; i < sizeof(storage_); i += detail::min_page_bytes) bytes[i] = 0;
        bytes[sizeof(storage_) - 1] = 0;
    }

    /// Moves the positions of an empty ring back to 0, so the next items fill
    /// the storage from its start (and the next drain of fewer than N items
    /// is one span). Precondition: empty().
    void rewind() noexcept { head_ = tail_ = 0; }

    // ---- push cursor: writer() ----
    /// A push cursor for a tight loop of pushes. It keeps the positions in
    /// its own members, which the compiler can hold in registers: a loop of
    /// ring.push() must store tail_ on every push (any eviction may call the
    /// spout, which could look at the ring), and on a ring whose lines are
    /// still in another core's cache (a recycled pool ring) that second
    /// store per item halves the misses the store buffer can keep in flight.
    /// Same effects and guarantees as push (evictions go through the ring);
    /// nothing else may touch the ring while the cursor lives, and its
    /// destructor writes the positions back.
    ///
    ///     {
    ///         auto w = ring.writer();
    ///         for (int i = 0; i < n; ++i) w.push(i);
    ///     }   // ring.size() is up to date here
    class Writer {
    public:
        explicit Writer(SpillRing& ring) noexcept : ring_(&ring), head_(ring.head()), tail_(ring.tail_) {}
        Writer(const Writer&) = delete;
        Writer& operator=(const Writer&) = delete;
        ~Writer() { sync(); }

        void push(T&& item) {
            if constexpr (!lazy_eviction) {
                if (tail_ >= head_ + N) head_ = evict(*ring_, head_, tail_);  // as push
            }
            ::new (static_cast<void*>(ring_->slot(tail_))) T(std::move(item));
            ++tail_;
        }
        void push(const T& item) {
            T copy(item);
            push(std::move(copy));
        }
        /// Writes the positions back now (the destructor does it too).
        void sync() noexcept {
            ring_->head_ = head_;
            ring_->tail_ = tail_;
        }

    private:
        // Takes positions by value and returns the new head, so the cursor's
        // address never escapes and its fields stay in registers.
        [[gnu::noinline]] static std::uint64_t evict(SpillRing& ring, std::uint64_t head, std::uint64_t tail) {
            ring.head_ = head;
            ring.tail_ = tail;
            ring.evict_oldest();  // throws => nothing changed (I4); the positions are already stored
            return ring.head_;
        }
        SpillRing* ring_;
        std::uint64_t head_;
        std::uint64_t tail_;
    };
    [[nodiscard]] Writer writer() noexcept { return Writer(*this); }

    [[nodiscard]] S& spout() noexcept { return spout_; }
    [[nodiscard]] const S& spout() const noexcept { return spout_; }

    /// Positions: items ever popped/evicted and items ever pushed since the
    /// last rewind(). The pool uses them to mark where each round's items end.
    [[nodiscard]] std::uint64_t head_position() const noexcept { return head(); }
    [[nodiscard]] std::uint64_t tail_position() const noexcept { return tail_; }

    // ---- iteration, oldest to newest (read-only view of the live items) ----
    template <bool Const>
    class basic_iterator {
        using ring_ptr = std::conditional_t<Const, const SpillRing*, SpillRing*>;

    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        using reference = std::conditional_t<Const, const T&, T&>;
        using pointer = std::conditional_t<Const, const T*, T*>;

        basic_iterator() = default;
        basic_iterator(ring_ptr ring, std::uint64_t pos) noexcept : ring_(ring), pos_(pos) {}
        reference operator*() const noexcept { return *ring_->slot(pos_); }
        pointer operator->() const noexcept { return ring_->slot(pos_); }
        basic_iterator& operator++() noexcept {
            ++pos_;
            return *this;
        }
        basic_iterator operator++(int) noexcept {
            auto old = *this;
            ++pos_;
            return old;
        }
        friend bool operator==(const basic_iterator& a, const basic_iterator& b) noexcept { return a.pos_ == b.pos_; }

    private:
        ring_ptr ring_ = nullptr;
        std::uint64_t pos_ = 0;
    };
    using iterator = basic_iterator<false>;
    using const_iterator = basic_iterator<true>;
    [[nodiscard]] iterator begin() noexcept { return {this, head()}; }
    [[nodiscard]] iterator end() noexcept { return {this, tail_}; }
    [[nodiscard]] const_iterator begin() const noexcept { return {this, head()}; }
    [[nodiscard]] const_iterator end() const noexcept { return {this, tail_}; }

private:
    // Slots are members of a union of T[N]: the compiler sees typed storage
    // that cannot alias head_/tail_, so a loop of pushes keeps the positions
    // in registers (a laundered std::byte buffer made it reload and store
    // them on every push).
    [[nodiscard]] T* slot(std::uint64_t pos) noexcept { return &storage_.items[pos & mask]; }
    [[nodiscard]] const T* slot(std::uint64_t pos) const noexcept { return &storage_.items[pos & mask]; }
    /// The live head (I5); head_ itself when eviction is eager.
    [[nodiscard]] std::uint64_t head() const noexcept { return tail_ - size(); }
    /// Stores the live head (I5) before an operation that removes items.
    void settle() noexcept { head_ = head(); }
    void destroy_front() noexcept {
        std::destroy_at(slot(head_));
        ++head_;
    }
    // Runs only when the ring is full (never with lazy eviction, I6). The
    // oldest item is in slot(tail_) (I5); head_ is not written.
    // (Reading head_/tail_ into locals around the spout's send was tried to
    // spare the reloads after it: no faster in spill-micro, and 2 more
    // instructions per push in spill-det's ring_push_collect.)
    void evict_oldest() {
        spout_.send(std::move(*slot(tail_)));  // throws => nothing changed (I4)
        std::destroy_at(slot(tail_));
    }
    // push_n's loop: free runs are written by `store(slot, item)`, run by
    // run (a loop the compiler can vectorise when it stores through the
    // cache); a full ring pushes as push does, each item evicting the oldest.
    template <class Gen, class Store>
    void push_runs(std::size_t n, Gen& gen, Store store) {
        std::size_t done = 0;
        while (done < n) {
            const std::size_t room = N - size();
            if (room == 0) {  // full: one eviction per item, as push (I4)
                push(gen(done));
                ++done;
                continue;
            }
            std::size_t k = std::min(room, n - done);
            while (k != 0) {
                const std::size_t run = std::min(k, N - static_cast<std::size_t>(tail_ & mask));
                T* out = slot(tail_);
                for (std::size_t j = 0; j < run; ++j) store(out + j, gen(done + j));
                tail_ += run;
                done += run;
                k -= run;
            }
        }
    }

    std::uint64_t head_ = 0;
    std::uint64_t tail_ = 0;
    [[no_unique_address]] S spout_{};
    bool streams_ = false;  // push_n streams its free runs (stream_writes)
    // Raw storage for N items: the union has no active member until an item is
    // constructed in a slot (I2), and never destroys any by itself.
    union Storage {
        Storage() noexcept {}
        ~Storage() {}
        T items[N];
    } storage_;
};

}  // namespace spill

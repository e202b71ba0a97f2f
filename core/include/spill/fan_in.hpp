// spill/fan_in.hpp: collection from a pool's handoff slots, as a spout.
//
// A FanInSpout is the spout-shaped face of WorkerPool::collect(): `flush()`
// drains every published batch of its slots into the inner spout, then
// flushes it; `send()` passes an item straight through. Because it is a
// spout, it composes (pool -> FanInSpout -> BatchSpout -> FramedSpout) into
// one type, and it can be the overflow spout of a next stage's rings.
//
// One collector per slot: while a fan-in (or a SequencedFanIn, or the
// MergerHandles of merger.hpp) exists, it owns its pool's slots, and every
// other way to collect from them (pool.collect, collect_ordered, another
// fan_in, split_mergers...) throws std::logic_error naming the owner.
// Destroying the fan-in gives the slots back.
//
// Lifetime: a fan-in must not outlive its pool. The pool counts the fan-ins
// and merger handles that refer to it and aborts with a message naming the
// misuse if it is destroyed while any is alive (loud detection; C++ cannot
// make it impossible without a reference-counted pool on the hot path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "spout.hpp"

namespace spill {

/// Who collects from a pool's slots right now (one collector per slot, enforced).
enum class Collector : int {
    none = 0,           ///< nobody: collect() and collect_ordered() may run
    owner,              ///< the owner, inside collect() or collect_ordered()
    fan_in,             ///< a FanInSpout (pool.fan_in)
    sequenced_fan_in,   ///< a SequencedFanIn (pool.sequenced_fan_in)
    mergers,            ///< MergerHandles (pool.split_mergers)
    sequenced_mergers,  ///< ordered MergerHandles (pool.split_sequenced_mergers)
};

/// A readable name for error messages: "a FanInSpout", "the owner's collect()"...
inline const char* collector_name(Collector c) noexcept {
    switch (c) {
        case Collector::none: return "nobody";
        case Collector::owner: return "the owner's collect()/collect_ordered() (running now, maybe on another thread)";
        case Collector::fan_in: return "a FanInSpout";
        case Collector::sequenced_fan_in: return "a SequencedFanIn";
        case Collector::mergers: return "MergerHandles (split_mergers)";
        case Collector::sequenced_mergers: return "MergerHandles (split_sequenced_mergers)";
    }
    return "an unknown collector";
}

/// Receives the items of numbered batches; SequencedSpout is one. A batch may
/// arrive in several parts: `submit(seq, items, last)` offers the next part
/// of batch `seq` (`last` marks its final part) and returns how many of
/// `items` it took, under the spout failure rule (spout.hpp, F2): all, or a
/// prefix, and it throws only when it took nothing. The caller offers what
/// was not taken again, as the next part of the same batch.
///
///     static_assert(spill::SequencedSink<spill::SequencedSpout<int, spill::CollectSpout<int>>, int>);
template <class S, class T>
concept SequencedSink = requires(S& s, std::uint64_t seq, std::span<T> items, bool last) {
    { s.submit(seq, items, last) } -> std::convertible_to<std::size_t>;
    s.flush();
};

/// Adapts a plain spout to the sequenced interface (ignores the sequence).
/// collect_ordered() uses it: the pool already submits in order.
///
///     spill::CollectSpout<int> out;
///     spill::UnsequencedSink<spill::CollectSpout<int>> sink{out};
///     std::vector v{1, 2};
///     sink.submit(0, std::span(v), true);   // out holds 1 2
template <class Out>
struct UnsequencedSink {
    Out& out;
    template <class T>
    std::size_t submit(std::uint64_t, std::span<T> items, bool) {
        return spill::send_all(out, items);
    }
    void flush() { out.flush(); }
};

namespace detail {

/// Shared by FanInSpout, SequencedFanIn and MergerHandle: owns the downstream,
/// remembers which slots it drains (first, first + stride, ...), and gives the
/// pool's slots back when it goes. The pool has claimed the slots for it
/// (`kind`) before constructing it.
template <class Pool, class Out, bool Ordered>
class FanInBase {
public:
    FanInBase(Pool& pool, Out out, std::size_t first, std::size_t stride, Collector kind)
        : pool_(&pool), out_(std::move(out)), first_(first), stride_(stride), kind_(kind) {
        pool_->acquire_handle();
    }
    FanInBase(FanInBase&& o) noexcept(std::is_nothrow_move_constructible_v<Out>)
        : pool_(std::exchange(o.pool_, nullptr)), out_(std::move(o.out_)), first_(o.first_), stride_(o.stride_), kind_(o.kind_) {}
    FanInBase& operator=(FanInBase&&) = delete;
    FanInBase(const FanInBase&) = delete;
    ~FanInBase() {
        if (pool_) pool_->release_handle(kind_);
    }

    /// Drains the published batches of this fan-in's slots into the
    /// downstream (in (round, worker) order for the ordered kinds) and
    /// returns how many items moved. Does not flush the downstream. Items
    /// the downstream did not take stay in their slot and come first next time.
    std::size_t collect() {
        if constexpr (Ordered) {
            return pool_->collect_ordered_slots(first_, stride_, out_);
        } else {
            return pool_->collect_slots(first_, stride_, out_);
        }
    }

    /// Spout interface: collect, then flush the downstream.
    void flush() {
        collect();
        out_.flush();
    }

    [[nodiscard]] Out& inner() noexcept { return out_; }
    [[nodiscard]] const Out& inner() const noexcept { return out_; }
    /// The worker indices this fan-in drains.
    [[nodiscard]] std::vector<std::size_t> slots() const {
        std::vector<std::size_t> s;
        for (std::size_t w = first_; w < pool_->workers(); w += stride_) s.push_back(w);
        return s;
    }

protected:
    Pool* pool_;
    Out out_;
    std::size_t first_;
    std::size_t stride_;
    Collector kind_;
};

}  // namespace detail

/// Collects from a pool's handoff slots into an inner spout (composable N-to-1 collection).
/// Obtain one with `pool.fan_in(inner)`.
///
///     auto fan = pool.fan_in(spill::BatchSpout<int, Sink>{64});
///     pool.dispatch(args);
///     fan.flush();          // whatever is published so far flows downstream
///     pool.join();
///     fan.flush();          // the rest
template <class Pool, class Out>
class FanInSpout : public detail::FanInBase<Pool, Out, false> {
    using base = detail::FanInBase<Pool, Out, false>;

public:
    using base::base;
    /// Pass-through: an item produced outside the pool goes straight downstream.
    template <class T>
    void send(T&& item) {
        this->out_.send(std::forward<T>(item));
    }
    template <class T>
    std::size_t send_all(std::span<T> items) {
        return spill::send_all(this->out_, items);
    }
};

/// Collects in (round, worker, push order) and submits each (round, worker)
/// batch, even an empty one, to a sequenced sink with
/// sequence = (round - 1) * workers + worker. Obtain one with
/// `pool.sequenced_fan_in(sink)`; a SequencedSpout is the usual sink.
///
///     auto fan = pool.sequenced_fan_in(spill::SequencedSpout<int, Out>{Out{}});
template <class Pool, class Sink>
class SequencedFanIn : public detail::FanInBase<Pool, Sink, true> {
    using base = detail::FanInBase<Pool, Sink, true>;

public:
    using base::base;
};

}  // namespace spill

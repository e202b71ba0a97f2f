// spill/fan_in.hpp: collection from a pool's handoff slots, as a spout.
//
// A FanInSpout is the spout-shaped face of WorkerPool::collect(): `flush()`
// drains every published batch of its slots into the inner spout, then
// flushes it; `send()` passes an item straight through. Because it is a
// spout, it composes (pool -> FanInSpout -> BatchSpout -> FramedSpout) into
// one type, and it can be the overflow spout of a next stage's rings.
//
// Lifetime: a fan-in must not outlive its pool. The pool counts the fan-ins
// and merger handles that refer to it and aborts with a message naming the
// misuse if it is destroyed while any is alive (loud detection; C++ cannot
// make it impossible without a reference-counted pool on the hot path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace spill {

/// Receives batches with a sequence number; SequencedSpout is one.
///
///     static_assert(spill::SequencedSink<spill::SequencedSpout<int, spill::CollectSpout<int>>, std::vector<int>>);
template <class S, class R>
concept SequencedSink = requires(S& s, std::uint64_t seq, R& r) {
    s.submit(seq, r);
    s.flush();
};

/// Adapts a plain spout to the sequenced interface (ignores the sequence).
/// collect_ordered() uses it: the pool already submits in order.
///
///     spill::CollectSpout<int> out;
///     spill::UnsequencedSink<spill::CollectSpout<int>> sink{out};
///     sink.submit(0, std::vector{1, 2});   // out holds 1 2
template <class Out>
struct UnsequencedSink {
    Out& out;
    template <class R>
    void submit(std::uint64_t, R&& items) {
        for (auto&& x : items) out.send(std::move(x));
    }
    void flush() { out.flush(); }
};

namespace detail {

/// Shared by FanInSpout, SequencedFanIn and MergerHandle: owns the downstream,
/// remembers which slots it drains (first, first + stride, ...), and keeps the
/// pool's handle count.
template <class Pool, class Out, bool Ordered>
class FanInBase {
public:
    FanInBase(Pool& pool, Out out, std::size_t first, std::size_t stride, bool merger = false)
        : pool_(&pool), out_(std::move(out)), first_(first), stride_(stride), merger_(merger) {
        pool_->acquire_handle(merger_);
    }
    FanInBase(FanInBase&& o) noexcept(std::is_nothrow_move_constructible_v<Out>)
        : pool_(std::exchange(o.pool_, nullptr)), out_(std::move(o.out_)), first_(o.first_), stride_(o.stride_), merger_(o.merger_) {}
    FanInBase& operator=(FanInBase&&) = delete;
    FanInBase(const FanInBase&) = delete;
    ~FanInBase() {
        if (pool_) pool_->release_handle(merger_);
    }

    /// Drains the published batches of this fan-in's slots into the
    /// downstream (in (round, worker) order for the ordered kinds) and
    /// returns how many items moved. Does not flush the downstream.
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
    bool merger_;
};

}  // namespace detail

/// Collects from a pool's handoff slots into an inner spout (roadmap Feature 2).
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

// spill/mpsc_ring.hpp: many producers, one consumer, one SpillRing per producer.
//
// Each producer owns its ring outright, so pushing shares nothing with any
// other thread (each ring sits on its own cache lines). The consumer drains
// the rings after the producers have stopped (a thread join or any other
// happens-before edge). For collection while producers run, use the
// WorkerPool, whose handoff slots hand rings over live; `MpscRing::pool(n)`
// is a short way in.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "detail/config.hpp"
#include "spill_ring.hpp"
#include "worker_pool.hpp"

namespace spill {

/// N producer rings and one consumer.
///
///     spill::MpscRing<int, 1024> mpsc(4);
///     std::vector<std::thread> ts;
///     for (std::size_t p = 0; p < 4; ++p)
///         ts.emplace_back([&, p] { for (int i = 0; i < 100; ++i) mpsc.producer(p).push(i); });
///     for (auto& t : ts) t.join();
///     spill::CollectSpout<int> out;
///     mpsc.drain(out);   // producer 0's items, then producer 1's, ...
template <class T, std::size_t N, class S = DropSpout>
class MpscRing {
public:
    using ring_type = SpillRing<T, N, S>;

    /// Padded so that two producers' rings never share a cache line.
    struct alignas(cache_line) Producer : ring_type {
        using ring_type::ring_type;
    };

    explicit MpscRing(std::size_t producers, const std::function<S(std::size_t)>& make_spout = {}) {
        if (producers == 0) throw std::invalid_argument("spill::MpscRing: producers must be at least 1, got 0");
        rings_.reserve(producers);
        for (std::size_t p = 0; p < producers; ++p) {
            if (make_spout) {
                rings_.push_back(std::make_unique<Producer>(make_spout(p)));
            } else if constexpr (std::is_default_constructible_v<S>) {
                rings_.push_back(std::make_unique<Producer>());
            } else {
                throw std::invalid_argument("spill::MpscRing: the spout type has no default; pass a spout factory");
            }
        }
    }

    [[nodiscard]] std::size_t producers() const noexcept { return rings_.size(); }
    /// Producer p's ring; push to it only from one thread at a time.
    [[nodiscard]] ring_type& producer(std::size_t p) { return *rings_.at(p); }

    /// Consumer: moves every item into `out`, producer by producer, each in
    /// push order; returns how many. Call it only while no producer pushes.
    template <class Out>
    std::size_t drain(Out& out) {
        std::size_t n = 0;
        for (auto& r : rings_) n += r->drain(out);
        return n;
    }

    [[nodiscard]] std::size_t size_guess() const noexcept {
        std::size_t n = 0;
        for (const auto& r : rings_) n += r->size();
        return n;
    }

    /// A way into the thread-per-core pool from the MPSC ring: `MpscRing<T, N>::pool(4).spawn<A>(f)`.
    static PoolBuilder<T, N> pool(std::size_t workers) { return PoolBuilder<T, N>(workers); }

private:
    std::vector<std::unique_ptr<Producer>> rings_;
};

}  // namespace spill

// harness/baselines/mutex_deque.hpp: the queue everyone writes first, a
// std::mutex around a container, at its best: producers append runs under
// the lock, the consumer swaps everything out at once (contender
// "mutex_deque").
//
// How a careful user writes it: the lock is held for as little as possible
// and as rarely as possible. A producer appends up to `batch` items per
// lock (constructed from the generator in place, up to the capacity); the
// consumer takes the lock once, swaps the whole container with its own
// empty one, and delivers from it without the lock, in place: the swapped
// out items are handed to the spout as one span. The container is a
// std::vector, not a std::deque, although the contender keeps its
// historical name: once the consumer takes everything at once, the queue
// never pops from the front, and a vector is contiguous (one span, no
// per-chunk walk) and keeps its storage across swaps (a deque frees and
// reallocates its chunks as it empties and refills). Both vectors are
// reserved for the full capacity up front, so nothing allocates afterwards.
//
// P producers: one queue for all (the lock orders them). Waiting: spin then
// yield, like every non-blocking contender.
#pragma once

#include <algorithm>
#include <mutex>
#include <vector>

#include "baseline.hpp"

namespace spill::baselines {

template <class T>
class MutexDeque {
public:
    using value_type = T;
    static constexpr Traits traits{"mutex_deque", Shape::shared, Batching::bulk, Waiting::spin_then_yield};

    [[nodiscard]] static std::string refusal(const Config& c) { return common_refusal(traits, c); }

    explicit MutexDeque(const Config& c) : batch_(c.batch), capacity_(c.producers * c.capacity) {
        require_runs(refusal(c));
        items_.reserve(capacity_);
    }

    class Producer {
    public:
        template <class Gen>
        std::size_t try_enqueue(std::size_t n, Gen& gen) {
            std::lock_guard lock(q_->mu_);
            const std::size_t k = std::min({n, q_->batch_, q_->capacity_ - q_->items_.size()});
            for (std::size_t i = 0; i < k; ++i) q_->items_.push_back(gen(i));  // within the reservation: no allocation
            return k;
        }
        template <class Gen>
        std::size_t enqueue(std::size_t n, Gen& gen) {
            return spin_then_yield(q_->stop_, [&] { return try_enqueue(n, gen); });
        }

    private:
        friend class MutexDeque;
        explicit Producer(MutexDeque* q) : q_(q) {}
        MutexDeque* q_;
    };

    class Consumer {
    public:
        template <class Out>
        std::size_t try_deliver(std::size_t max, Out& out) {
            if (head_ == mine_.size()) {
                mine_.clear();  // keeps its storage
                head_ = 0;
                std::lock_guard lock(q_->mu_);
                mine_.swap(q_->items_);
            }
            const std::size_t n = std::min(max, mine_.size() - head_);
            const std::size_t took = spill::send_all(out, std::span<T>(mine_.data() + head_, n));
            head_ += took;
            return took;
        }
        template <class Out>
        std::size_t deliver(std::size_t max, Out& out) {
            return spin_then_yield(q_->stop_, [&] { return try_deliver(max, out); });
        }

    private:
        friend class MutexDeque;
        explicit Consumer(MutexDeque* q) : q_(q) { mine_.reserve(q->capacity_); }
        MutexDeque* q_;
        std::vector<T> mine_;  // swapped out; [head_, size) not yet taken by the spout
        std::size_t head_ = 0;
    };

    [[nodiscard]] Producer producer(std::size_t) { return Producer(this); }
    [[nodiscard]] Consumer consumer() { return Consumer(this); }
    void shutdown() noexcept { stop_.raise(); }

private:
    // fixed at construction
    std::size_t batch_;
    std::size_t capacity_;
    // guarded by mu_: written by producers (append) and the consumer (swap)
    std::mutex mu_;
    std::vector<T> items_;
    StopFlag stop_;
};

}  // namespace spill::baselines

// harness/baselines/boost_queue.hpp: boost::lockfree::queue, one queue for
// all producers (contender "boost_queue").
//
// The API and why: Boost.Lockfree's queue is a lock-free multi-producer,
// multi-consumer linked list whose nodes come from a free list. The docs
// name bounded_push as the call that never touches the allocator: it fails
// when the free list is empty, which makes the queue bounded by the nodes
// reserved in the constructor (queue(n)). pop(T&) takes one item; the queue
// has no bulk calls. The free list is node-based (tagged pointers, one
// compare-and-swap word on x86-64); the docs' fixed_sized<true> alternative
// addresses nodes with 16-bit indices, which caps the queue at 65535 nodes
// and exists for platforms without a wide enough compare-and-swap, so it is
// not the fast path here. Items must be trivially copyable and destructible
// (a static assertion of the library).
//
// The producer pushes items one by one until the queue is full; the
// consumer pops up to kDrainRun into its buffer and hands them to the spout
// in one send_all. Waiting: spin then yield.
#pragma once

#include <boost/lockfree/queue.hpp>

#include "baseline.hpp"

namespace spill::baselines {

template <class T>
class BoostQueue {
    using Q = boost::lockfree::queue<T>;

public:
    using value_type = T;
    static constexpr Traits traits{"boost_queue", Shape::shared, Batching::per_item, Waiting::spin_then_yield};

    [[nodiscard]] static std::string refusal(const Config& c) { return common_refusal(traits, c); }

    // queue(n) reserves n nodes plus the one dummy node it keeps: n items fit.
    explicit BoostQueue(const Config& c) : q_((require_runs(refusal(c)), c.producers * c.capacity)) {}

    class Producer {
    public:
        template <class Gen>
        std::size_t try_enqueue(std::size_t n, Gen& gen) {
            std::size_t i = 0;
            while (i < n && q_->q_.bounded_push(gen(i))) ++i;
            return i;
        }
        template <class Gen>
        std::size_t enqueue(std::size_t n, Gen& gen) {
            return spin_then_yield(q_->stop_, [&] { return try_enqueue(n, gen); });
        }

    private:
        friend class BoostQueue;
        explicit Producer(BoostQueue* q) : q_(q) {}
        BoostQueue* q_;
    };

    class Consumer {
    public:
        template <class Out>
        std::size_t try_deliver(std::size_t max, Out& out) {
            return held_.refill_and_offer(max, out, [&](T* into, std::size_t room) {
                std::size_t got = 0;
                while (got < room && q_->q_.pop(into[got])) ++got;
                return got;
            });
        }
        template <class Out>
        std::size_t deliver(std::size_t max, Out& out) {
            return spin_then_yield(q_->stop_, [&] { return try_deliver(max, out); });
        }

    private:
        friend class BoostQueue;
        explicit Consumer(BoostQueue* q) : q_(q), held_(kDrainRun) {}
        BoostQueue* q_;
        Held<T> held_;
    };

    [[nodiscard]] Producer producer(std::size_t) { return Producer(this); }
    [[nodiscard]] Consumer consumer() { return Consumer(this); }
    void shutdown() noexcept { stop_.raise(); }

private:
    Q q_;
    StopFlag stop_;
};

}  // namespace spill::baselines

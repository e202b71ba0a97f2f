// harness/baselines/boost_spsc.hpp: boost::lockfree::spsc_queue, one per
// producer (contender "boost_spsc").
//
// The API and why: Boost.Lockfree documents spsc_queue as a wait-free ring
// for exactly one producer and one consumer, and gives it bulk operations:
// push(begin, end) copies as much of an iterator range as fits and returns
// where it stopped; pop(T*, n) copies up to n items out in at most two
// contiguous runs, one release store of an index per call on either side.
// Those are its fast path for moving many items. The producer feeds
// push(begin, end) a GenIterator, so each item is constructed from the
// generator straight into the ring (no staging array); the consumer pops a
// batch into its buffer and hands it to the spout in one send_all (the ring
// lends no span of its own storage: front() gives one element, and nothing
// advances the read index without copying). Capacity is a constructor
// argument (one heap array, allocated once); a compile-time capacity<> is
// the alternative the docs offer, which saves nothing on the index
// arithmetic, which compares and subtracts in either case.
//
// P producers: one queue each (the library has no multi-producer ring), the
// consumer round-robins. Waiting: spin then yield (no blocking calls exist).
#pragma once

#include <memory>
#include <vector>

#include <boost/lockfree/spsc_queue.hpp>

#include "baseline.hpp"

namespace spill::baselines {

template <class T>
class BoostSpsc {
    using Ring = boost::lockfree::spsc_queue<T>;

public:
    using value_type = T;
    static constexpr Traits traits{"boost_spsc", Shape::per_producer, Batching::bulk, Waiting::spin_then_yield};

    [[nodiscard]] static std::string refusal(const Config& c) { return common_refusal(traits, c); }

    explicit BoostSpsc(const Config& c) : batch_(c.batch) {
        require_runs(refusal(c));
        for (std::size_t p = 0; p < c.producers; ++p) rings_.push_back(std::make_unique<Ring>(c.capacity));
    }

    class Producer {
    public:
        template <class Gen>
        std::size_t try_enqueue(std::size_t n, Gen& gen) {
            const GenIterator<Gen> first(&gen, 0);
            const GenIterator<Gen> last(&gen, std::min(n, batch_));
            return static_cast<std::size_t>(ring_->push(first, last) - first);
        }
        template <class Gen>
        std::size_t enqueue(std::size_t n, Gen& gen) {
            return spin_then_yield(*stop_, [&] { return try_enqueue(n, gen); });
        }

    private:
        friend class BoostSpsc;
        Producer(Ring* ring, std::size_t batch, const StopFlag* stop) : ring_(ring), batch_(batch), stop_(stop) {}
        Ring* ring_;
        std::size_t batch_;
        const StopFlag* stop_;
    };

    class Consumer {
    public:
        template <class Out>
        std::size_t try_deliver(std::size_t max, Out& out) {
            if (!held_.empty()) return held_.offer(max, out);
            return round_robin(next_, q_->rings_.size(), [&](std::size_t i) {
                return held_.refill_and_offer(max, out, [&](T* into, std::size_t room) { return q_->rings_[i]->pop(into, room); });
            });
        }
        template <class Out>
        std::size_t deliver(std::size_t max, Out& out) {
            return spin_then_yield(q_->stop_, [&] { return try_deliver(max, out); });
        }

    private:
        friend class BoostSpsc;
        explicit Consumer(BoostSpsc* q) : q_(q), held_(q->batch_) {}
        BoostSpsc* q_;
        Held<T> held_;
        std::size_t next_ = 0;
    };

    [[nodiscard]] Producer producer(std::size_t p) { return Producer(rings_.at(p).get(), batch_, &stop_); }
    [[nodiscard]] Consumer consumer() { return Consumer(this); }
    void shutdown() noexcept { stop_.raise(); }

private:
    std::size_t batch_;
    std::vector<std::unique_ptr<Ring>> rings_;
    StopFlag stop_;
};

}  // namespace spill::baselines

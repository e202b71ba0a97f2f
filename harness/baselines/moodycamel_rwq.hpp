// harness/baselines/moodycamel_rwq.hpp: moodycamel::ReaderWriterQueue and
// BlockingReaderWriterQueue, one per producer (contenders "moodycamel_rwq"
// and "moodycamel_rwq_blocking").
//
// The API and why: the library describes ReaderWriterQueue as a lock-free
// queue for exactly one producer and one consumer, built from contiguous
// blocks, and try_enqueue as the call that never allocates (it fails when
// the preallocated blocks are full; the constructor's size argument
// reserves room for that many items). It has no bulk calls: the producer
// tries one item at a time until the queue is full, and the consumer's
// try_dequeue takes one at a time, up to kDrainRun into its buffer, handed to
// the spout in one send_all. The blocking variant's consumer waits in
// wait_dequeue_timed (a semaphore that spins first, then sleeps); the
// producer has no blocking call and spins then yields on a full queue.
//
// P producers: one queue each, the consumer round-robins. The blocking
// variant runs one producer only: a consumer asleep on one queue cannot
// notice items in another.
#pragma once

#include <memory>
#include <vector>

#include <readerwriterqueue/readerwriterqueue.h>

#include "baseline.hpp"

namespace spill::baselines {

template <class T, bool Blocking>
class MoodycamelRwqBase {
    using Q = std::conditional_t<Blocking, moodycamel::BlockingReaderWriterQueue<T>, moodycamel::ReaderWriterQueue<T>>;

public:
    using value_type = T;
    static constexpr Traits traits{Blocking ? "moodycamel_rwq_blocking" : "moodycamel_rwq", Shape::per_producer, Batching::per_item,
                                   Blocking ? Waiting::blocking : Waiting::spin_then_yield};

    [[nodiscard]] static std::string refusal(const Config& c) { return common_refusal(traits, c); }

    explicit MoodycamelRwqBase(const Config& c) {
        require_runs(refusal(c));
        for (std::size_t p = 0; p < c.producers; ++p) queues_.push_back(std::make_unique<Q>(c.capacity));
    }

    class Producer {
    public:
        template <class Gen>
        std::size_t try_enqueue(std::size_t n, Gen& gen) {
            std::size_t i = 0;
            while (i < n && q_->try_enqueue(gen(i))) ++i;
            return i;
        }
        template <class Gen>
        std::size_t enqueue(std::size_t n, Gen& gen) {
            return spin_then_yield(*stop_, [&] { return try_enqueue(n, gen); });
        }

    private:
        friend class MoodycamelRwqBase;
        Producer(Q* q, const StopFlag* stop) : q_(q), stop_(stop) {}
        Q* q_;
        const StopFlag* stop_;
    };

    class Consumer {
    public:
        template <class Out>
        std::size_t try_deliver(std::size_t max, Out& out) {
            if (!held_.empty()) return held_.offer(max, out);
            return round_robin(next_, q_->queues_.size(), [&](std::size_t i) {
                return held_.refill_and_offer(max, out, [&](T* into, std::size_t room) { return drain(*q_->queues_[i], into, room, 0); });
            });
        }
        template <class Out>
        std::size_t deliver(std::size_t max, Out& out) {
            if constexpr (Blocking) {
                if (!held_.empty()) return held_.offer(max, out);
                Q& q = *q_->queues_[0];  // one producer (refusal)
                for (;;) {
                    if (q_->stop_.raised()) return 0;
                    const std::size_t n = held_.refill_and_offer(max, out, [&](T* into, std::size_t room) {
                        if (room == 0 || !q.wait_dequeue_timed(into[0], kBlockSliceMicros)) return std::size_t{0};
                        return drain(q, into, room, 1);
                    });
                    if (n != 0 || !held_.empty()) return n;
                }
            } else {
                return spin_then_yield(q_->stop_, [&] { return try_deliver(max, out); });
            }
        }

    private:
        friend class MoodycamelRwqBase;
        explicit Consumer(MoodycamelRwqBase* q) : q_(q), held_(kDrainRun) {}
        static std::size_t drain(Q& q, T* into, std::size_t room, std::size_t got) {
            while (got < room && q.try_dequeue(into[got])) ++got;
            return got;
        }
        MoodycamelRwqBase* q_;
        Held<T> held_;
        std::size_t next_ = 0;
    };

    [[nodiscard]] Producer producer(std::size_t p) { return Producer(queues_.at(p).get(), &stop_); }
    [[nodiscard]] Consumer consumer() { return Consumer(this); }
    void shutdown() noexcept { stop_.raise(); }

private:
    std::vector<std::unique_ptr<Q>> queues_;
    StopFlag stop_;
};

template <class T>
using MoodycamelRwq = MoodycamelRwqBase<T, false>;
template <class T>
using MoodycamelRwqBlocking = MoodycamelRwqBase<T, true>;

}  // namespace spill::baselines

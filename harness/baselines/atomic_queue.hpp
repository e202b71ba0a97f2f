// harness/baselines/atomic_queue.hpp: max0x7ba's atomic_queue, one queue
// for a single producer (contender "atomic_queue"; why not for several:
// below) or, with the library's SPSC mode, one per producer (contender
// "atomic_queue_spsc").
//
// The API and why: the library's README presents ring buffers with the
// fewest atomic operations per item: AtomicQueue for items that fit in a
// lock-free std::atomic (the slot itself is the flag: it holds a reserved
// "empty" value, NIL, when free) and AtomicQueue2 for any other type (a
// one-byte state per slot). The B variants (AtomicQueueB, AtomicQueueB2)
// take the capacity at run time, which the capacity sweep needs; the queue
// rounds it up to a power of two and to its own minimum (so that it can
// spread consecutive slots over different cache lines). The SPSC template
// flag drops the read-modify-write operations for exactly one producer and
// one consumer. There are no bulk calls: the producer calls try_push item by
// item until the queue is full, the consumer try_pop up to kDrainRun into
// its buffer, handed to the spout in one send_all.
//
// Unsigned integer items use AtomicQueueB with NIL = the largest value,
// which the producer must never offer (try_enqueue refuses it: it throws
// std::invalid_argument when that item is first in the run, and otherwise
// stops short of it, per the failure rule). Other types use AtomicQueueB2.
//
// One shared queue runs one producer only. Its slots carry no lap number:
// a consumer that has claimed position k and waits for slot k mod size can
// be handed the item of position k + size, when the producer of k was
// preempted between claiming its position and filling the slot and another
// producer claimed k + size meanwhile (the queue was not full: the
// consumer had already claimed k). spill-micro's fan-in saw keys of one
// producer arrive a queue's length out of order with two producers, while
// the smoke test (smaller, less preempted) passed. The job needs each
// producer's order kept, so refusal() turns down producers > 1 for the
// shared queue; atomic_queue_spsc (one queue per producer) runs them.
//
// Waiting: try_push/try_pop with spin then yield. The library's own waiting
// calls (push/pop, and the "Optimist" queues built on them) spin with a
// pause and never give the core away, which on a machine shared with
// other threads lets a spinning side burn the time slice its peer needs.
#pragma once

#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <atomic_queue/atomic_queue.h>

#include "baseline.hpp"

namespace spill::baselines {

namespace detail {
template <class T>
inline constexpr bool atomic_slot = std::is_integral_v<T> && std::is_unsigned_v<T> && std::atomic<T>::is_always_lock_free;

template <class T, bool Spsc>
struct AtomicQueueFor {
    using type = atomic_queue::AtomicQueueB2<T, std::allocator<T>, true, false, Spsc>;
};
template <class T, bool Spsc>
    requires atomic_slot<T>
struct AtomicQueueFor<T, Spsc> {
    using type = atomic_queue::AtomicQueueB<T, std::allocator<T>, std::numeric_limits<T>::max(), true, false, Spsc>;
};
}  // namespace detail

template <class T, bool Spsc>
class AtomicQueueBase {
    using Q = typename detail::AtomicQueueFor<T, Spsc>::type;

public:
    using value_type = T;
    static constexpr Traits traits{Spsc ? "atomic_queue_spsc" : "atomic_queue", Spsc ? Shape::per_producer : Shape::shared,
                                   Batching::per_item, Waiting::spin_then_yield};

    [[nodiscard]] static std::string refusal(const Config& c) {
        if (!Spsc && c.producers > 1)
            return std::string(traits.name) + ": producers=" + std::to_string(c.producers) +
                   " on one shared queue (its slots carry no lap number, so one producer's items can overtake each other; "
                   "atomic_queue_spsc runs one queue per producer)";
        return common_refusal(traits, c);
    }

    explicit AtomicQueueBase(const Config& c) {
        require_runs(refusal(c));
        const std::size_t queues = Spsc ? c.producers : 1;
        const std::size_t each = Spsc ? c.capacity : c.producers * c.capacity;  // <= kMaxItemsHeld: fits unsigned
        for (std::size_t i = 0; i < queues; ++i) queues_.push_back(std::make_unique<Q>(static_cast<unsigned>(each)));
    }

    class Producer {
    public:
        template <class Gen>
        std::size_t try_enqueue(std::size_t n, Gen& gen) {
            std::size_t i = 0;
            for (; i < n; ++i) {
                T item = gen(i);
                if constexpr (detail::atomic_slot<T>) {
                    if (item == std::numeric_limits<T>::max()) [[unlikely]] {
                        if (i == 0) throw std::invalid_argument("atomic_queue: item value " + std::to_string(item) + " is the queue's empty marker");
                        break;
                    }
                }
                if (!q_->try_push(std::move(item))) break;
            }
            return i;
        }
        template <class Gen>
        std::size_t enqueue(std::size_t n, Gen& gen) {
            return spin_then_yield(*stop_, [&] { return try_enqueue(n, gen); });
        }

    private:
        friend class AtomicQueueBase;
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
                return held_.refill_and_offer(max, out, [&](T* into, std::size_t room) {
                    Q& q = *q_->queues_[i];
                    std::size_t got = 0;
                    while (got < room && q.try_pop(into[got])) ++got;
                    return got;
                });
            });
        }
        template <class Out>
        std::size_t deliver(std::size_t max, Out& out) {
            return spin_then_yield(q_->stop_, [&] { return try_deliver(max, out); });
        }

    private:
        friend class AtomicQueueBase;
        explicit Consumer(AtomicQueueBase* q) : q_(q), held_(kDrainRun) {}
        AtomicQueueBase* q_;
        Held<T> held_;
        std::size_t next_ = 0;
    };

    [[nodiscard]] Producer producer(std::size_t p) { return Producer(queues_.at(Spsc ? p : 0).get(), &stop_); }
    [[nodiscard]] Consumer consumer() { return Consumer(this); }
    void shutdown() noexcept { stop_.raise(); }

private:
    std::vector<std::unique_ptr<Q>> queues_;
    StopFlag stop_;
};

template <class T>
using AtomicQueueMpmc = AtomicQueueBase<T, false>;
template <class T>
using AtomicQueueSpsc = AtomicQueueBase<T, true>;

}  // namespace spill::baselines

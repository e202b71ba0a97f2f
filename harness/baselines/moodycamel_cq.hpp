// harness/baselines/moodycamel_cq.hpp: moodycamel::ConcurrentQueue and
// BlockingConcurrentQueue, one queue for all producers (contenders
// "moodycamel_cq" and "moodycamel_cq_blocking").
//
// The API and why: the library's README names its fastest path: explicit
// tokens (a ProducerToken per producer thread, a ConsumerToken for the
// consumer) and the bulk calls, which move a run of items with roughly the
// cost of one. Internally every producer token owns a sub-queue of blocks,
// so producers never contend with each other; the consumer token walks the
// sub-queues, rotating after a quota of items. The producer uses
// try_enqueue_bulk(token, it, n), the variant that never allocates (it
// fails instead when no preallocated block is free), fed a GenIterator so
// every item is constructed from the generator straight into the block; the
// consumer uses try_dequeue_bulk(token, it, max) into its buffer and hands
// the run to the spout in one send_all (the blocks are not lent out).
// The blocking variant's consumer waits in wait_dequeue_bulk_timed (a
// semaphore that spins first, then sleeps); its producers never block (the
// library has no blocking enqueue: the queue is unbounded by design), so
// they spin then yield on a full queue, as in the plain variant.
//
// Traits, as the library's comments advise: "for few producers and/or many
// elements, a larger block size is preferred", so blocks of 256 items
// (smaller only for capacities below 1024, where the block must still fit
// a few times). The per-producer bound on items is MAX_SUBQUEUE_SIZE, a
// compile-time trait, hence the capacity template argument; the library
// checks it a block at a time, which needs one block of slack (see
// MAX_SUBQUEUE_SIZE below: without it the smoke test hung, a producer
// whose token had been handed on with its tail part-way into a block never
// fitting a full-capacity run again). Blocks need room of their own: a
// producer token keeps every block it ever takes from the shared pool (its
// block index is sized to hold the whole pool), and it takes a new one
// whenever the block ahead of its tail is not yet marked empty, as while
// the consumer is still copying out items it has already claimed. A
// producer's blocks that are not empty hold its unclaimed items (at most
// the capacity plus one block) or items the consumer is copying out (at
// most one bulk dequeue, at most the capacity), plus a partly filled block
// at either end; so the pool preallocates 2 x capacity / block + 5 blocks
// per producer, enough for every producer's worst case at once, and
// try_enqueue_bulk (which never allocates) cannot starve one producer of
// blocks that another keeps.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

// Once inlined into our code, the library's internals trip GCC 12's
// -Wnull-dereference and -Wstringop-overflow (a false "region of size 0" on
// an atomic load in the block index): silenced for its header and for the
// adapter's calls into it below, which is where GCC reports them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#include <concurrentqueue/blockingconcurrentqueue.h>
#include <concurrentqueue/concurrentqueue.h>

#include "baseline.hpp"

namespace spill::baselines {

namespace detail {
/// The traits for a per-producer bound of Cap items (see the top of the file).
template <std::size_t Cap>
struct MoodycamelTraits : moodycamel::ConcurrentQueueDefaultTraits {
    static constexpr std::size_t kBlock = std::max<std::size_t>(2, std::min<std::size_t>(256, pow2_at_least(Cap) / 4));
    static const std::size_t BLOCK_SIZE = kBlock;
    // the index covers the preallocated pool anyway (the library sizes it so)
    // The library checks this bound a block at a time, so a run of Cap items
    // starting part-way into a block would never fit, not even in an empty
    // sub-queue (a token handed on to a new producer keeps its old offset):
    // one block of slack lets any run of up to Cap items in once there is room.
    static const std::size_t MAX_SUBQUEUE_SIZE = Cap + kBlock;
};
}  // namespace detail

template <class T, std::size_t Cap, bool Blocking>
class MoodycamelCqBase {
    using Tr = detail::MoodycamelTraits<Cap>;
    using Q = std::conditional_t<Blocking, moodycamel::BlockingConcurrentQueue<T, Tr>, moodycamel::ConcurrentQueue<T, Tr>>;

public:
    using value_type = T;
    static constexpr Traits traits{Blocking ? "moodycamel_cq_blocking" : "moodycamel_cq", Shape::shared, Batching::bulk,
                                   Blocking ? Waiting::blocking : Waiting::spin_then_yield};
    /// The per-producer capacity this instantiation runs.
    static constexpr std::size_t capacity = Cap;

    [[nodiscard]] static std::string refusal(const Config& c) {
        if (c.capacity != Cap)
            return std::string(traits.name) + ": capacity=" + std::to_string(c.capacity) + " but this instantiation bounds each producer at " +
                   std::to_string(Cap) + " (MAX_SUBQUEUE_SIZE is a compile-time trait)";
        return common_refusal(traits, c);
    }

    explicit MoodycamelCqBase(const Config& c)
        : batch_(c.batch), q_((require_runs(refusal(c)), c.producers * (2 * Cap + 5 * Tr::kBlock))) {}

    class Producer {
    public:
        template <class Gen>
        std::size_t try_enqueue(std::size_t n, Gen& gen) {
            const std::size_t k = std::min(n, q_->batch_);
            return q_->q_.try_enqueue_bulk(token_, GenIterator<Gen>(&gen, 0), k) ? k : 0;
        }
        template <class Gen>
        std::size_t enqueue(std::size_t n, Gen& gen) {
            return spin_then_yield(q_->stop_, [&] { return try_enqueue(n, gen); });
        }

    private:
        friend class MoodycamelCqBase;
        explicit Producer(MoodycamelCqBase* q) : q_(q), token_(q->q_) {}
        MoodycamelCqBase* q_;
        moodycamel::ProducerToken token_;
    };

    class Consumer {
    public:
        template <class Out>
        std::size_t try_deliver(std::size_t max, Out& out) {
            return held_.refill_and_offer(max, out, [&](T* into, std::size_t room) { return q_->q_.try_dequeue_bulk(token_, into, room); });
        }
        template <class Out>
        std::size_t deliver(std::size_t max, Out& out) {
            if constexpr (Blocking) {
                if (!held_.empty()) return held_.offer(max, out);
                for (;;) {
                    if (q_->stop_.raised()) return 0;
                    const std::size_t n = held_.refill_and_offer(max, out, [&](T* into, std::size_t room) {
                        return q_->q_.wait_dequeue_bulk_timed(token_, into, room, kBlockSliceMicros);
                    });
                    if (n != 0 || !held_.empty()) return n;  // delivered, or the spout refused what arrived
                }
            } else {
                return spin_then_yield(q_->stop_, [&] { return try_deliver(max, out); });
            }
        }

    private:
        friend class MoodycamelCqBase;
        explicit Consumer(MoodycamelCqBase* q) : q_(q), token_(q->q_), held_(q->batch_) {}
        MoodycamelCqBase* q_;
        moodycamel::ConsumerToken token_;
        Held<T> held_;
    };

    [[nodiscard]] Producer producer(std::size_t) { return Producer(this); }
    [[nodiscard]] Consumer consumer() { return Consumer(this); }
    void shutdown() noexcept { stop_.raise(); }

private:
    std::size_t batch_;
    Q q_;
    StopFlag stop_;
};

template <class T, std::size_t Cap>
using MoodycamelCq = MoodycamelCqBase<T, Cap, false>;
template <class T, std::size_t Cap>
using MoodycamelCqBlocking = MoodycamelCqBase<T, Cap, true>;

}  // namespace spill::baselines

#pragma GCC diagnostic pop

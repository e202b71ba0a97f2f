// harness/baselines/xenium_vyukov.hpp: xenium's vyukov_bounded_queue, one
// queue for all producers (contender "xenium_vyukov").
//
// Why this queue (the one pick from xenium and Concurrency Kit): the job
// needs a bounded queue that holds items by value for any item type and
// allocates nothing after construction. xenium's vyukov_bounded_queue is
// exactly that: a C++ template over T on one array of cells, each with a
// sequence number (Dmitry Vyukov's bounded multi-producer, multi-consumer
// design), so it serves the shared shape. xenium's other queues hold
// pointers and reclaim nodes (Michael-Scott, Ramalhete, Kirsch). Concurrency
// Kit's ring (ck_ring) does have single- and multi-producer variants, but
// it is a C library: its interface moves void pointers, and storing values
// in the ring takes a macro (CK_RING_PROTOTYPE) that writes functions for
// one named struct, which a template over the item type cannot instantiate;
// its other FIFOs are linked lists that allocate a node per item.
//
// The API and why: try_push/try_pop, in their "weak" form (the
// default_to_weak policy). The library documents the weak calls as the
// lock-free ones: they fail at once when the cell they would use is still
// being written or read by another thread, where the strong ones spin until
// it is done. A caller that retries anyway (both sides here, with spin then
// yield) loses nothing by the weak failure and never spins inside the
// library. No bulk calls: the producer pushes item by item until the queue
// is full, the consumer pops up to kDrainRun into its buffer, handed to the
// spout in one send_all. The size must be a power of two: the capacity is
// rounded up.
#pragma once

#include <xenium/policy.hpp>
#include <xenium/vyukov_bounded_queue.hpp>

#include "baseline.hpp"

namespace spill::baselines {

template <class T>
class XeniumVyukov {
    using Q = xenium::vyukov_bounded_queue<T, xenium::policy::default_to_weak<true>>;

public:
    using value_type = T;
    static constexpr Traits traits{"xenium_vyukov", Shape::shared, Batching::per_item, Waiting::spin_then_yield};

    [[nodiscard]] static std::string refusal(const Config& c) { return common_refusal(traits, c); }

    explicit XeniumVyukov(const Config& c) : q_((require_runs(refusal(c)), pow2_at_least(c.producers * c.capacity))) {}

    class Producer {
    public:
        template <class Gen>
        std::size_t try_enqueue(std::size_t n, Gen& gen) {
            std::size_t i = 0;
            while (i < n && q_->q_.try_push(gen(i))) ++i;
            return i;
        }
        template <class Gen>
        std::size_t enqueue(std::size_t n, Gen& gen) {
            return spin_then_yield(q_->stop_, [&] { return try_enqueue(n, gen); });
        }

    private:
        friend class XeniumVyukov;
        explicit Producer(XeniumVyukov* q) : q_(q) {}
        XeniumVyukov* q_;
    };

    class Consumer {
    public:
        template <class Out>
        std::size_t try_deliver(std::size_t max, Out& out) {
            return held_.refill_and_offer(max, out, [&](T* into, std::size_t room) {
                std::size_t got = 0;
                while (got < room && q_->q_.try_pop(into[got])) ++got;
                return got;
            });
        }
        template <class Out>
        std::size_t deliver(std::size_t max, Out& out) {
            return spin_then_yield(q_->stop_, [&] { return try_deliver(max, out); });
        }

    private:
        friend class XeniumVyukov;
        explicit Consumer(XeniumVyukov* q) : q_(q), held_(kDrainRun) {}
        XeniumVyukov* q_;
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

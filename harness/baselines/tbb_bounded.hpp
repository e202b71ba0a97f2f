// harness/baselines/tbb_bounded.hpp: oneTBB's concurrent_bounded_queue, one
// queue for all producers (contenders "tbb_bounded" and
// "tbb_bounded_blocking").
//
// The API and why: oneTBB documents concurrent_bounded_queue as its
// multi-producer, multi-consumer queue with a capacity (set_capacity) and
// blocking push/pop that wait for room or for an item; try_push/try_pop
// are the variants that return at once. It has no bulk calls. The plain
// contender uses try_push item by item until the queue is full and try_pop
// up to kDrainRun into the consumer's buffer (handed to the spout in one
// send_all), and spins then yields on full or empty. The blocking contender
// calls the library's push when try_push finds the queue full, and pop when
// try_pop finds it empty (then drains more with try_pop), which is how the
// docs intend a waiting producer or consumer to use it.
//
// shutdown() on the blocking contender: abort() wakes every call blocked in
// push/pop with tbb::user_abort, but a call that starts after abort() would
// sleep on. Each blocking call therefore registers itself (blocked_) before
// it looks at the stop flag, and shutdown() raises the flag and aborts
// again until no call is registered: either the call sees the flag, or
// shutdown sees the call and aborts it.
#pragma once

#include <atomic>
#include <cstddef>

#include <tbb/concurrent_queue.h>

#include "baseline.hpp"

namespace spill::baselines {

template <class T, bool Blocking>
class TbbBoundedBase {
    using Q = tbb::concurrent_bounded_queue<T>;

public:
    using value_type = T;
    static constexpr Traits traits{Blocking ? "tbb_bounded_blocking" : "tbb_bounded", Shape::shared, Batching::per_item,
                                   Blocking ? Waiting::blocking : Waiting::spin_then_yield};

    [[nodiscard]] static std::string refusal(const Config& c) { return common_refusal(traits, c); }

    explicit TbbBoundedBase(const Config& c) {
        require_runs(refusal(c));
        q_.set_capacity(static_cast<typename Q::size_type>(c.producers * c.capacity));
    }

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
            if constexpr (Blocking) {
                if (n == 0) return 0;
                if (const std::size_t k = try_enqueue(n, gen); k != 0) return k;
                return q_->blocking_call([&] { q_->q_.push(gen(0)); }) ? 1 : 0;
            } else {
                return spin_then_yield(q_->stop_, [&] { return try_enqueue(n, gen); });
            }
        }

    private:
        friend class TbbBoundedBase;
        explicit Producer(TbbBoundedBase* q) : q_(q) {}
        TbbBoundedBase* q_;
    };

    class Consumer {
    public:
        template <class Out>
        std::size_t try_deliver(std::size_t max, Out& out) {
            return held_.refill_and_offer(max, out, [&](T* into, std::size_t room) { return drain(into, room, 0); });
        }
        template <class Out>
        std::size_t deliver(std::size_t max, Out& out) {
            if constexpr (Blocking) {
                if (const std::size_t n = try_deliver(max, out); n != 0 || !held_.empty()) return n;
                return held_.refill_and_offer(max, out, [&](T* into, std::size_t room) {
                    if (room == 0 || !q_->blocking_call([&] { q_->q_.pop(into[0]); })) return std::size_t{0};
                    return drain(into, room, 1);
                });
            } else {
                return spin_then_yield(q_->stop_, [&] { return try_deliver(max, out); });
            }
        }

    private:
        friend class TbbBoundedBase;
        explicit Consumer(TbbBoundedBase* q) : q_(q), held_(kDrainRun) {}
        std::size_t drain(T* into, std::size_t room, std::size_t got) {
            while (got < room && q_->q_.try_pop(into[got])) ++got;
            return got;
        }
        TbbBoundedBase* q_;
        Held<T> held_;
    };

    [[nodiscard]] Producer producer(std::size_t) { return Producer(this); }
    [[nodiscard]] Consumer consumer() { return Consumer(this); }

    void shutdown() noexcept {
        stop_.raise();  // (B) seq_cst: ordered against (A) in blocking_call
        if constexpr (Blocking) {
            // (D) seq_cst load: a call registered at (A) before the flag was
            // raised is seen here, and aborted until it has left.
            while (blocked_.load(std::memory_order_seq_cst) != 0) {
                q_.abort();
                std::this_thread::yield();
            }
        }
    }

private:
    /// Runs a blocking push or pop unless shut down; false when it did not
    /// complete (shut down before, or aborted during).
    template <class Call>
    bool blocking_call(Call&& call) {
        blocked_.fetch_add(1, std::memory_order_seq_cst);  // (A) registers before the flag is read
        bool done = false;
        if (!stop_.raised()) {  // (C) seq_cst: if (B) is not seen here, (D) sees (A)
            try {
                call();
                done = true;
            } catch (const tbb::user_abort&) {
                // shut down while waiting: the item was neither pushed nor popped
            }
        }
        // relaxed is not enough for (D) to know the call has left: release
        // orders the call's last access to the queue before the count drops.
        blocked_.fetch_sub(1, std::memory_order_release);
        return done;
    }

    Q q_;
    StopFlag stop_;
    std::atomic<std::size_t> blocked_{0};  // calls inside blocking_call: written by producers and the consumer
};

template <class T>
using TbbBounded = TbbBoundedBase<T, false>;
template <class T>
using TbbBoundedBlocking = TbbBoundedBase<T, true>;

}  // namespace spill::baselines

// harness/baselines/baseline.hpp: what every baseline queue adapter shares,
// and the one interface they all have.
//
// The project's claim (a producer hands a whole ring to the collector, the
// consumer reads it in place) is only worth something against established
// queues run the way their authors recommend: bulk calls where the library
// has them, capacities and batch sizes swept, best compared with best. Each
// header beside this one wraps one library behind the interface below, so
// that spill-micro, the smoke test and spill-bench drive every contender
// with the same code. Nothing here depends on Google Benchmark.
//
// The interface of an adapter `Q` (a class template over the item type T;
// checked by the concept `spill::baselines::Queue`):
//
//   Q::value_type                    T
//   Q::traits                        constexpr Traits: name, shape, batching, waiting
//   Q::refusal(config) -> string     "" when Q runs `config`; otherwise one
//                                    line naming the value it cannot run
//   Q(config)                        allocates everything up front (no
//                                    allocation on the item path afterwards);
//                                    throws std::invalid_argument with the
//                                    refusal when there is one
//   q.producer(p) -> Q::Producer     producer p's handle (its tokens, its
//                                    queue); exactly one thread uses it
//   q.consumer()  -> Q::Consumer     the consumer's handle; exactly one
//   q.shutdown()                     every waiting call, now and later,
//                                    returns 0 promptly (a peer failed)
//
//   Producer::try_enqueue(n, gen) -> size_t
//       Offers the run gen(0) .. gen(n-1) (gen(i) returns a T and must not
//       throw; it may be called more than once for one i, or not at all for
//       items the queue does not take). Takes a prefix through the queue's fastest
//       documented call and returns its length; 0 when the queue is full.
//       Never waits.
//   Producer::enqueue(n, gen) -> size_t
//       The same, but waits by the queue's policy (below) until it took at
//       least one item; returns 0 only after shutdown().
//   Consumer::try_deliver(max, out) -> size_t
//       Hands at most `max` items to the spout `out` through
//       spill::send_all(out, std::span<T>) and returns how many `out` took.
//       A bulk queue dequeues up to `batch` items in one call into the
//       consumer's buffer; a per-item queue pops up to kDrainRun one by one
//       into it; a queue that can hand out its storage lends it in place.
//       Items the spout did not take (a short count or a throw, the failure
//       rule F2 of spill/spout.hpp) stay in the consumer's buffer and are
//       offered first by the next call, so nothing is lost or duplicated.
//       Never waits.
//   Consumer::deliver(max, out) -> size_t
//       The same, but waits by the queue's policy until it delivered at
//       least one item; returns 0 only after shutdown().
//
// Configuration (`Config`): `producers` threads enqueue; `capacity` is what
// the queue holds per producer (one queue per producer holds `capacity`; a
// queue shared by all producers holds producers x capacity), rounded up to
// what the library needs (a power of two, whole blocks, its minimum), never
// down; `batch` is the items per bulk call on both sides for a bulk queue
// and must be 1 for a per-item queue.
//
// Shapes for P producers: `per_producer` (one single-producer queue each;
// the consumer visits them round-robin) or `shared` (one multi-producer
// queue that the consumer dequeues from, in bulk where it can).
//
// Waiting: `spin_then_yield` is what a careful user of a non-blocking queue
// does on a machine it shares: poll with a pause hint kSpinPolls times, then
// give the core away with yield between polls. `blocking` uses the
// library's own blocking call for the side that has one (the consumer of the
// moodycamel queues, both sides of TBB's bounded queue); the other side
// spins then yields.
#pragma once

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <spill/detail/config.hpp>
#include <spill/spout.hpp>

namespace spill::baselines {

/// One queue per producer (round-robin consumer) or one queue for all.
enum class Shape : std::uint8_t { per_producer, shared };
/// Whether the library moves runs of items per call or one item per call.
enum class Batching : std::uint8_t { per_item, bulk };
/// How a side waits when the queue is full or empty.
enum class Waiting : std::uint8_t { spin_then_yield, blocking };

/// What an adapter is, for names, sweeps and pruning.
struct Traits {
    std::string_view name;  ///< short and stable: benchmark names are built from it
    Shape shape;
    Batching batching;
    Waiting waiting;
};

struct Config {
    std::size_t producers = 1;
    std::size_t capacity = 1024;  ///< items held per producer (see the top of this file)
    std::size_t batch = 1;        ///< items per bulk call; 1 for per-item queues
};

/// The most producers any adapter accepts (the keys of the harness encode
/// the producer in 16 bits; 64 is far beyond what the sweeps run).
inline constexpr std::size_t kMaxProducers = 64;
/// The largest capacity x producers any adapter accepts: several libraries
/// index with 32-bit counters.
inline constexpr std::size_t kMaxItemsHeld = std::size_t{1} << 30;
/// Polls with a pause hint before a waiting side starts to yield.
inline constexpr std::uint32_t kSpinPolls = 256;
/// Items a per-item queue's consumer pops into its buffer before it hands
/// them to the spout in one send_all.
inline constexpr std::size_t kDrainRun = 256;
/// How long a blocking call sleeps before it looks at the shutdown flag
/// again (when the library's blocking call has a timeout).
inline constexpr std::int64_t kBlockSliceMicros = 10'000;

/// The checks every adapter shares: "" or one line naming the bad value.
[[nodiscard]] inline std::string common_refusal(const Traits& t, const Config& c) {
    const std::string who(t.name);
    if (c.producers == 0 || c.producers > kMaxProducers)
        return who + ": producers=" + std::to_string(c.producers) + " is outside 1.." + std::to_string(kMaxProducers);
    if (c.capacity < 2) return who + ": capacity=" + std::to_string(c.capacity) + " is below 2";
    if (c.capacity > kMaxItemsHeld / c.producers)
        return who + ": capacity=" + std::to_string(c.capacity) + " x producers=" + std::to_string(c.producers) + " exceeds " +
               std::to_string(kMaxItemsHeld) + " items";
    if (t.batching == Batching::per_item && c.batch != 1)
        return who + ": batch=" + std::to_string(c.batch) + " on a per-item queue (its API moves one item per call: batch must be 1)";
    if (t.batching == Batching::bulk && (c.batch == 0 || c.batch > c.capacity))
        return who + ": batch=" + std::to_string(c.batch) + " is outside 1..capacity=" + std::to_string(c.capacity);
    if (t.shape == Shape::per_producer && t.waiting == Waiting::blocking && c.producers > 1)
        return who + ": producers=" + std::to_string(c.producers) +
               " with one blocking queue per producer (a consumer blocked on one queue cannot serve the others)";
    return {};
}

/// Throws std::invalid_argument with the refusal, if there is one.
inline void require_runs(const std::string& refusal) {
    if (!refusal.empty()) throw std::invalid_argument(refusal);
}

/// The smallest power of two >= n (n >= 1, n <= 2^62).
[[nodiscard]] constexpr std::size_t pow2_at_least(std::size_t n) noexcept {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

// ---- waiting ------------------------------------------------------------------------

/// Set by shutdown(): every waiting call returns 0 from then on.
class StopFlag {
public:
    // seq_cst on both: TbbBoundedBlocking pairs raise() with its count of
    // blocked waiters (see tbb_bounded.hpp), which needs a single order of
    // "flag raised" and "waiter registered"; elsewhere the flag publishes
    // nothing and a relaxed one would do, but it is off the item path.
    void raise() noexcept { stop_.store(true, std::memory_order_seq_cst); }
    [[nodiscard]] bool raised() const noexcept { return stop_.load(std::memory_order_seq_cst); }

private:
    std::atomic<bool> stop_{false};
};

/// Calls `attempt` until it returns non-zero or the flag is raised: polls
/// with a pause hint kSpinPolls times, then yields the core between polls.
template <class Attempt>
std::size_t spin_then_yield(const StopFlag& stop, Attempt&& attempt) {
    for (std::uint32_t polls = 0;; ++polls) {
        if (const std::size_t n = attempt(); n != 0) return n;
        if (stop.raised()) return 0;
        if (polls < kSpinPolls) {
            spill::detail::cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
}

/// The consumer of per-producer queues: tries queue `next`, then the ones
/// after it, until `attempt(i)` delivers something; the next call starts
/// after the queue that was tried last, so every producer gets its turn.
template <class Attempt>
std::size_t round_robin(std::size_t& next, std::size_t queues, Attempt&& attempt) {
    for (std::size_t k = 0; k < queues; ++k) {
        const std::size_t i = next;
        next = i + 1 == queues ? 0 : i + 1;
        if (const std::size_t n = attempt(i); n != 0) return n;
    }
    return 0;
}

// ---- the producer's run as an iterator ----------------------------------------------

/// A random-access iterator over gen(0), gen(1), ...: lets a library that
/// takes an iterator range (boost's spsc_queue::push(begin, end),
/// moodycamel's enqueue_bulk(it, count)) construct each item straight from
/// the generator into its own storage, with no staging copy in between.
/// Dereferencing yields a prvalue T.
template <class Gen>
class GenIterator {
public:
    using value_type = std::remove_cvref_t<std::invoke_result_t<Gen&, std::size_t>>;
    using difference_type = std::ptrdiff_t;
    using reference = value_type;
    using pointer = void;
    using iterator_category = std::random_access_iterator_tag;

    GenIterator() = default;
    GenIterator(Gen* gen, std::size_t i) noexcept : gen_(gen), i_(i) {}

    value_type operator*() const { return (*gen_)(i_); }
    value_type operator[](difference_type d) const { return (*gen_)(i_ + static_cast<std::size_t>(d)); }
    GenIterator& operator++() noexcept {
        ++i_;
        return *this;
    }
    GenIterator operator++(int) noexcept {
        GenIterator old = *this;
        ++i_;
        return old;
    }
    GenIterator& operator--() noexcept {
        --i_;
        return *this;
    }
    GenIterator operator--(int) noexcept {
        GenIterator old = *this;
        --i_;
        return old;
    }
    GenIterator& operator+=(difference_type d) noexcept {
        i_ += static_cast<std::size_t>(d);
        return *this;
    }
    GenIterator& operator-=(difference_type d) noexcept {
        i_ -= static_cast<std::size_t>(d);
        return *this;
    }
    friend GenIterator operator+(GenIterator it, difference_type d) noexcept { return it += d; }
    friend GenIterator operator+(difference_type d, GenIterator it) noexcept { return it += d; }
    friend GenIterator operator-(GenIterator it, difference_type d) noexcept { return it -= d; }
    friend difference_type operator-(const GenIterator& a, const GenIterator& b) noexcept {
        return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    friend bool operator==(const GenIterator& a, const GenIterator& b) noexcept { return a.i_ == b.i_; }
    friend auto operator<=>(const GenIterator& a, const GenIterator& b) noexcept { return a.i_ <=> b.i_; }

private:
    Gen* gen_ = nullptr;
    std::size_t i_ = 0;
};

// ---- the consumer's buffer ----------------------------------------------------------

/// The consumer's buffer: items dequeued but not yet taken by the spout.
/// `offer` hands the held items to the spout under the failure rule (F2):
/// what it did not take stays here, in order, for the next offer.
template <class T>
class Held {
public:
    explicit Held(std::size_t capacity) : items_(capacity) {}

    [[nodiscard]] bool empty() const noexcept { return head_ == tail_; }

    /// Offers the held items if there are any; otherwise dequeues into the
    /// buffer with `dequeue(T* into, std::size_t room) -> std::size_t`
    /// (room = min(max, buffer size)) and offers what it got.
    template <class Out, class Dequeue>
    std::size_t refill_and_offer(std::size_t max, Out& out, Dequeue&& dequeue) {
        if (empty()) {
            const std::size_t got = dequeue(items_.data(), std::min(max, items_.size()));
            if (got == 0) return 0;
            head_ = 0;
            tail_ = got;
        }
        return offer(max, out);
    }

    /// Offers at most `max` held items to `out`; returns how many it took.
    /// If `out` throws (having taken nothing, F2), the items stay held.
    template <class Out>
    std::size_t offer(std::size_t max, Out& out) {
        const std::size_t n = std::min(max, tail_ - head_);
        const std::size_t took = spill::send_all(out, std::span<T>(items_.data() + head_, n));
        head_ += took;
        return took;
    }

private:
    std::vector<T> items_;
    std::size_t head_ = 0;
    std::size_t tail_ = 0;
};

// ---- the interface as a concept -------------------------------------------------------

/// A spout that takes everything: used only to spell the concept.
template <class T>
struct ConceptSpout {
    void send(T&&) noexcept {}
    std::size_t send_all(std::span<T> items) noexcept { return items.size(); }
    void flush() noexcept {}
};

template <class T>
struct ConceptGen {
    T operator()(std::size_t) const;
};

template <class Q>
concept Queue = requires(Q& q, const Config& c, std::size_t n, typename Q::Producer& prod, typename Q::Consumer& cons,
                         ConceptGen<typename Q::value_type>& gen, ConceptSpout<typename Q::value_type>& out) {
    { Q::traits } -> std::convertible_to<Traits>;
    { Q::refusal(c) } -> std::same_as<std::string>;
    { q.producer(n) } -> std::same_as<typename Q::Producer>;
    { q.consumer() } -> std::same_as<typename Q::Consumer>;
    { q.shutdown() } noexcept;
    { prod.try_enqueue(n, gen) } -> std::same_as<std::size_t>;
    { prod.enqueue(n, gen) } -> std::same_as<std::size_t>;
    { cons.try_deliver(n, out) } -> std::same_as<std::size_t>;
    { cons.deliver(n, out) } -> std::same_as<std::size_t>;
} && std::constructible_from<Q, const Config&>;

}  // namespace spill::baselines

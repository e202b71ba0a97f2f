// harness/src/scenarios_baseline.cpp: the P-to-1 job through every
// established queue this build has, each behind its adapter in
// harness/baselines (the same code spill-micro and the smoke test drive),
// one scenario `baseline_<contender>` per adapter of contenders.hpp.
//
// The job, as in every spill scenario: P producer threads (slots 0..P-1)
// each stream items / P Items {producer, 1, seq} with seq 0, 1, ... (one
// continuous stream: --rounds is not read); the consumer (the owner thread,
// slot P) delivers every item into the Verifier, which checks per-producer
// FIFO and conservation. Each side uses the adapter's API, so each queue
// runs as its authors recommend: producers offer runs through
// Producer::enqueue (the library's bulk call where it has one, fed by a
// generator that constructs the items in the queue's storage), the consumer
// takes runs through Consumer::deliver into Verifier::send_all. The queue's
// capacity per producer is --ring-size and its items per bulk call --batch
// (1 for a per-item queue: baseline.hpp's Config); a point the adapter
// refuses (Q::refusal: a batch on a per-item queue, more producers than
// the queue keeps in order...) is refused before it runs (plan.cpp skips it
// in a sweep, with a note). A --consumer-delay-ns in a *_batch mode is spent
// after each deliver call (one bulk dequeue, one run of pops, or one swap of
// the mutex queue); in a *_item mode, per item, in the Verifier.
//
// The queues wait instead of evicting, so nothing overflows: produced ==
// delivered. A producer that fails (an adapter call threw) shuts the queue
// down, the consumer stops, and the point fails with the producer's error.
#include <atomic>
#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "baselines/contenders.hpp"
#include "scenario.hpp"

namespace spill::bench {
namespace {

namespace bl = spill::baselines;

/// The items per bulk call of a bulk queue when the grid gives no --batch
/// (capped at the capacity by expand()); sweeps give it.
constexpr std::uint64_t default_bulk_batch = 256;

/// The adapter's configuration of a point: capacity per producer and items
/// per bulk call.
bl::Config config_of(const Params& p) {
    return bl::Config{static_cast<std::size_t>(p.producers), static_cast<std::size_t>(p.ring_size), static_cast<std::size_t>(p.batch)};
}

/// One repetition of the P-to-1 job through the queue Q.
template <class Q>
RepResult run_queue(RunEnv& env) {
    const Params& p = env.params;
    const auto P = static_cast<std::size_t>(p.producers);
    const std::uint64_t per = p.items / p.producers;
    const std::uint64_t total = per * p.producers;
    const std::uint64_t warm = p.ring_size;  // warm-up items per producer: one queue's capacity

    // Everything the measured phase uses is made here: the queue (it
    // preallocates), the handles (tokens, the consumer's buffer).
    Q q(config_of(p));
    Verifier v(env.verifier_config(false));
    std::vector<typename Q::Producer> handles;
    handles.reserve(P);
    for (std::size_t w = 0; w < P; ++w) handles.push_back(q.producer(w));
    auto consumer = q.consumer();
    std::vector<std::string> failed(P);  // failed[w]: written by producer w only, read after its join

    RunEnv::ThreadScope scope(env, "consumer", 0, P);
    // go: (A) release store after env.begin(), (B) acquire loads in the
    // producers; it only starts them, no data rides on it (the queue's own
    // synchronisation carries the items).
    std::atomic<bool> go{false};
    std::vector<std::thread> producers;
    producers.reserve(P);
    for (std::size_t w = 0; w < P; ++w) {
        producers.emplace_back([&, w] {
            RunEnv::ThreadScope s(env, "producer", w, w);
            auto& prod = handles[w];
            const auto producer = static_cast<std::uint32_t>(w);
            // Enqueues items 0..count-1 of `round`; false if the queue shut
            // down first (another thread failed).
            auto send = [&prod, producer](std::uint32_t round, std::uint64_t count) {
                for (std::uint64_t i = 0; i < count;) {
                    auto gen = [producer, round, i](std::size_t k) noexcept { return Item{producer, round, i + k}; };
                    const std::size_t n = prod.enqueue(static_cast<std::size_t>(count - i), gen);
                    if (n == 0) return false;
                    i += n;
                }
                return true;
            };
            try {
                if (!send(0, warm)) return;  // the warm-up (below), in round 0
                while (!go.load(std::memory_order_acquire)) std::this_thread::yield();  // (B)
                (void)send(1, per);
            } catch (const std::exception& e) {
                failed[w] = "producer " + std::to_string(w) + " failed: " + e.what();
                q.shutdown();
            } catch (...) {
                failed[w] = "producer " + std::to_string(w) + " failed";
                q.shutdown();
            }
        });
    }
    // Delivers `count` items into `out`, calling `after` after each run;
    // stops early if the queue shut down (a producer failed).
    auto drain = [&consumer](std::uint64_t count, auto& out, auto after) {
        for (std::uint64_t got = 0; got < count;) {
            const std::size_t n = consumer.deliver(static_cast<std::size_t>(count - got), out);
            if (n == 0) return;
            got += n;
            after();
        }
    };
    std::string consumer_failure;
    try {
        // Warm-up, before the clock starts: each producer sends one queue's
        // capacity of items through it into a counting spout, so every page
        // of the queue's storage is mapped and every thread has run, as a
        // pool's workers start and touch their rings before a spill point's
        // clock starts (WorkerPool::await_ready). Exactly P x warm items, so
        // none is left behind for the verifier.
        spill::CountingSpout<> sink;
        drain(P * warm, sink, [] {});
    } catch (const std::exception& e) {
        consumer_failure = std::string("consumer failed in the warm-up: ") + e.what();
        q.shutdown();
    }
    env.begin(P + 1);
    go.store(true, std::memory_order_release);  // (A)
    try {
        if (consumer_failure.empty()) drain(total, v, [&v] { v.end_batch(); });
    } catch (const std::exception& e) {
        consumer_failure = std::string("consumer failed: ") + e.what();
        q.shutdown();
    }
    for (auto& t : producers) t.join();
    v.finish();
    env.end();

    RepResult r;
    r.seconds = env.seconds();
    r.produced = total;
    r.delivered = v.delivered();
    r.fifo = v.fifo();
    for (const std::string& f : failed)
        if (r.message.empty()) r.message = f;
    if (r.message.empty()) r.message = consumer_failure;
    if (r.message.empty()) r.message = v.message();
    return r;
}

/// What each contender is, in one line (its adapter's header says why it
/// is driven that way), in listing order. `bulk`: the library moves runs
/// of items per call; only for a contender left out of the build is it read
/// from here (a built one's traits say it).
struct Contender {
    std::string_view name;
    bool bulk;
    std::string_view description;
};
constexpr Contender contenders[] = {
    {"mutex_deque", true,
     "std::mutex around a vector: producers append --batch items per lock, the consumer swaps everything out and reads it in place"},
    {"boost_spsc", true,
     "boost::lockfree::spsc_queue, one per producer: push(begin, end) of --batch items built in place, pop(T*, n) of --batch; round-robin consumer"},
    {"boost_queue", false, "boost::lockfree::queue, one for all: bounded_push per item, pop runs of up to 256 into the consumer's buffer"},
    {"moodycamel_cq", true,
     "moodycamel::ConcurrentQueue with producer and consumer tokens: try_enqueue_bulk / try_dequeue_bulk of --batch; spin then yield"},
    {"moodycamel_cq_blocking", true,
     "moodycamel::BlockingConcurrentQueue with tokens: try_enqueue_bulk of --batch, the consumer waits in wait_dequeue_bulk_timed"},
    {"moodycamel_rwq", false, "moodycamel::ReaderWriterQueue, one per producer: try_enqueue / try_dequeue per item; round-robin consumer"},
    {"moodycamel_rwq_blocking", false,
     "moodycamel::BlockingReaderWriterQueue (one producer): try_enqueue per item, the consumer waits in wait_dequeue_timed"},
    {"atomic_queue", false, "atomic_queue's AtomicQueueB2 (one producer: its slots carry no lap number): try_push / try_pop per item"},
    {"atomic_queue_spsc", false, "atomic_queue in SPSC mode, one per producer: try_push / try_pop per item; round-robin consumer"},
    {"tbb_bounded", false, "tbb::concurrent_bounded_queue, one for all: try_push / try_pop per item; spin then yield"},
    {"tbb_bounded_blocking", false, "tbb::concurrent_bounded_queue, one for all: push and pop block when full or empty (the library's waiting)"},
    {"xenium_vyukov", false, "xenium's vyukov_bounded_queue, one for all: weak try_push / try_pop per item; spin then yield"},
};

const Contender* contender_named(std::string_view name) {
    for (const Contender& c : contenders)
        if (c.name == name) return &c;
    return nullptr;
}

/// The facts every baseline shares: the P-to-1 job through a queue that
/// hands over one item at a time, configured by capacity and batch.
ScenarioFacts queue_facts(std::string_view name, bool bulk) {
    const Contender* c = contender_named(name);
    ScenarioFacts f;
    f.name = "baseline_" + std::string(name);
    f.description = c ? std::string(c->description) : std::string(name);
    f.contender = std::string(name);
    f.job = "P->1";
    f.roles = {"producer", "consumer"};
    f.sweeps.rounds = false;  // one continuous stream; ring-size is the queue's capacity per producer
    f.sweeps.batch = true;
    f.sweeps.default_batch = bulk ? default_bulk_batch : 1;
    f.handoffs = HandoffRule::items;
    f.floor_note = "no floor is defined for a queue baseline";
    f.config = {ConfigValue::capacity_items, ConfigValue::batch_items};
    return f;
}

/// A queue whose capacity is a run-time argument.
template <class Q>
class QueueScenario final : public Scenario {
public:
    QueueScenario() : Scenario(queue_facts(Q::traits.name, Q::traits.batching == bl::Batching::bulk)) {}
    RepResult run(RunEnv& env) const override { return run_queue<Q>(env); }
    std::string refusal(const Params& p) const override { return Q::refusal(config_of(p)); }
};

/// A queue whose capacity is a compile-time trait (moodycamel's
/// ConcurrentQueue: MAX_SUBQUEUE_SIZE): one instantiation per compiled ring
/// size, picked like the spill scenarios' rings.
template <template <class, std::size_t> class Q>
class FixedCapacityScenario final : public Scenario {
    using Any = Q<Item, 1024>;

public:
    FixedCapacityScenario() : Scenario(queue_facts(Any::traits.name, Any::traits.batching == bl::Batching::bulk)) {}
    RepResult run(RunEnv& env) const override {
        return with_ring_size(env.params.ring_size, [&](auto n) { return run_queue<Q<Item, decltype(n)::value>>(env); });
    }
    std::string refusal(const Params& p) const override {
        return with_ring_size(p.ring_size, [&](auto n) { return Q<Item, decltype(n)::value>::refusal(config_of(p)); });
    }
};

/// A contender this build left out (its library was not found): listed,
/// refused by `run`, skipped by sweeps.
class MissingBaseline final : public Scenario {
public:
    MissingBaseline(ScenarioFacts facts, std::string why) : Scenario(with_note(std::move(facts), why)), why_(std::move(why)) {}
    std::string unavailable() const override { return why_; }
    RepResult run(RunEnv&) const override { throw std::logic_error(name() + " is not built: " + why_); }

private:
    static ScenarioFacts with_note(ScenarioFacts f, const std::string& why) {
        f.description = "(not built: " + why + ")";
        return f;
    }
    std::string why_;
};

}  // namespace

void add_baseline_scenarios(std::vector<std::unique_ptr<Scenario>>& out) {
    std::map<std::string, std::unique_ptr<Scenario>, std::less<>> built;
    // No capacities for the compile-time-capacity queues here: they are
    // visited below, once, dispatching on the ring size.
    bl::for_each_contender<Item>([&]<class Q>() { built[std::string(Q::traits.name)] = std::make_unique<QueueScenario<Q>>(); });
#if SPILL_BASELINES_MOODYCAMEL_CQ
    built["moodycamel_cq"] = std::make_unique<FixedCapacityScenario<bl::MoodycamelCq>>();
    built["moodycamel_cq_blocking"] = std::make_unique<FixedCapacityScenario<bl::MoodycamelCqBlocking>>();
#endif
    for (const Contender& c : contenders) {
        if (auto it = built.find(c.name); it != built.end()) {
            out.push_back(std::move(it->second));
            built.erase(it);
            continue;
        }
        out.push_back(std::make_unique<MissingBaseline>(
            queue_facts(c.name, c.bulk), "its library was not found at build time (meson's summary, Baseline queues, names it)"));
    }
    // An adapter contenders.hpp gained that the list above does not name yet:
    // listed after the others rather than left out.
    for (auto& [name, scenario] : built) out.push_back(std::move(scenario));
}

// Listed after the scenarios of lower rank (spill 100, latency 200, baselines 300).
const ScenarioRegistration registered(add_baseline_scenarios, 300);

}  // namespace spill::bench

// harness/src/scenarios_baseline.cpp: the same N-producers-to-1-consumer job
// through established queues. P producer threads each push items/P Items;
// the consumer (the owner thread) pops until it has everything, applying the
// consumer delay per item or per batch (a batch is one bulk dequeue, or one
// swap of the mutex queue). Bounded queues use --ring-size as capacity and
// make producers wait when full, so nothing overflows: produced == delivered.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>

#if SPILL_HAVE_MOODYCAMEL
// GCC's -Wnull-dereference fires inside moodycamel's producer-list walk once
// it is inlined here (a false positive in the third-party header, which we do
// not change); silenced for this translation unit only.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <concurrentqueue/concurrentqueue.h>
#endif
#if SPILL_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif

#include "scenario.hpp"

namespace spill::bench {
namespace {

constexpr std::size_t bulk = 256;

inline void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/// Runs P producer threads (pinned to slots 0..P-1) that call
/// `push(producer, item)` for their items, and `consume(v, total)` on the
/// owner (slot P), which must deliver `total` items into the verifier.
template <class Push, class Consume>
RepResult run_baseline(RunEnv& env, Push push, Consume consume) {
    const Params& p = env.params;
    const auto P = static_cast<std::size_t>(p.producers);
    const std::uint64_t per = p.items / P;
    const std::uint64_t total = per * P;
    Verifier v(env.verifier_config(false));
    RunEnv::ThreadScope scope(env, "consumer", 0, P);
    // go: (A) release store after env.begin(), (B) acquire loads in the
    // producers; it only starts them, no data rides on it.
    std::atomic<bool> go{false};
    std::vector<std::thread> producers;
    producers.reserve(P);
    for (std::size_t w = 0; w < P; ++w) {
        producers.emplace_back([&, w] {
            RunEnv::ThreadScope s(env, "producer", w, w);
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();  // (B)
            for (std::uint64_t i = 0; i < per; ++i) push(w, Item{static_cast<std::uint32_t>(w), 1, i});
        });
    }
    env.begin(P + 1);
    go.store(true, std::memory_order_release);  // (A)
    consume(v, total);
    for (auto& t : producers) t.join();
    v.finish();
    env.end();
    RepResult r;
    r.seconds = env.seconds();
    r.produced = total;
    r.delivered = v.delivered();
    r.fifo = v.fifo();
    r.message = v.message();
    return r;
}

// ----------------------------------------------------- mutex + deque ----
RepResult baseline_mutex(RunEnv& env) {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Item> q;
    bool waiting = false;  // guarded by mu: the consumer sleeps on cv
    auto push = [&](std::size_t, Item x) {
        bool wake = false;
        {
            std::lock_guard lock(mu);
            q.push_back(x);
            wake = waiting;
        }
        if (wake) cv.notify_one();
    };
    auto consume = [&](Verifier& v, std::uint64_t total) {
        std::deque<Item> batch;
        for (std::uint64_t got = 0; got < total;) {
            {
                std::unique_lock lock(mu);
                waiting = true;
                cv.wait(lock, [&] { return !q.empty(); });
                waiting = false;
                batch.swap(q);
            }
            got += batch.size();
            for (Item& x : batch) v.send(std::move(x));
            batch.clear();
            v.end_batch();
        }
    };
    return run_baseline(env, push, consume);
}

// ------------------------------------------- moodycamel ConcurrentQueue ----
#if SPILL_HAVE_MOODYCAMEL
RepResult baseline_moodycamel(RunEnv& env) {
    const auto P = static_cast<std::size_t>(env.params.producers);
    moodycamel::ConcurrentQueue<Item> q(static_cast<std::size_t>(env.params.ring_size), P, 0);
    std::vector<std::unique_ptr<moodycamel::ProducerToken>> tokens;
    for (std::size_t w = 0; w < P; ++w) tokens.push_back(std::make_unique<moodycamel::ProducerToken>(q));
    auto push = [&](std::size_t w, Item x) {
        while (!q.enqueue(*tokens[w], x)) relax();
    };
    auto consume = [&](Verifier& v, std::uint64_t total) {
        moodycamel::ConsumerToken ct(q);
        Item buf[bulk];
        for (std::uint64_t got = 0; got < total;) {
            const std::size_t n = q.try_dequeue_bulk(ct, buf, bulk);
            if (n == 0) {
                std::this_thread::yield();
                continue;
            }
            got += n;
            for (std::size_t i = 0; i < n; ++i) v.send(std::move(buf[i]));
            v.end_batch();
        }
    };
    return run_baseline(env, push, consume);
}
#endif

// ------------------------------------------------ boost::lockfree::queue ----
RepResult baseline_boost_queue(RunEnv& env) {
    boost::lockfree::queue<Item> q(static_cast<std::size_t>(env.params.ring_size));
    auto push = [&](std::size_t, Item x) {
        while (!q.bounded_push(x)) std::this_thread::yield();  // full: wait for the consumer
    };
    auto consume = [&](Verifier& v, std::uint64_t total) {
        Item buf[bulk];
        for (std::uint64_t got = 0; got < total;) {
            std::size_t n = 0;
            while (n < bulk && q.pop(buf[n])) ++n;
            if (n == 0) {
                std::this_thread::yield();
                continue;
            }
            got += n;
            for (std::size_t i = 0; i < n; ++i) v.send(std::move(buf[i]));
            v.end_batch();
        }
    };
    return run_baseline(env, push, consume);
}

// -------------------------------------- boost::lockfree::spsc_queue per producer ----
RepResult baseline_boost_spsc(RunEnv& env) {
    const auto P = static_cast<std::size_t>(env.params.producers);
    std::vector<std::unique_ptr<boost::lockfree::spsc_queue<Item>>> qs;
    for (std::size_t w = 0; w < P; ++w) qs.push_back(std::make_unique<boost::lockfree::spsc_queue<Item>>(static_cast<std::size_t>(env.params.ring_size)));
    auto push = [&](std::size_t w, Item x) {
        while (!qs[w]->push(x)) std::this_thread::yield();
    };
    auto consume = [&](Verifier& v, std::uint64_t total) {
        Item buf[bulk];
        for (std::uint64_t got = 0; got < total;) {
            bool any = false;
            for (auto& q : qs) {
                const std::size_t n = q->pop(buf, bulk);
                if (n == 0) continue;
                any = true;
                got += n;
                for (std::size_t i = 0; i < n; ++i) v.send(std::move(buf[i]));
                v.end_batch();
            }
            if (!any) std::this_thread::yield();
        }
    };
    return run_baseline(env, push, consume);
}

// ------------------------------------------ tbb::concurrent_bounded_queue ----
#if SPILL_HAVE_TBB
RepResult baseline_tbb(RunEnv& env) {
    tbb::concurrent_bounded_queue<Item> q;
    q.set_capacity(static_cast<std::ptrdiff_t>(env.params.ring_size));
    auto push = [&](std::size_t, Item x) { q.push(x); };  // blocks while full
    auto consume = [&](Verifier& v, std::uint64_t total) {
        Item buf[bulk];
        for (std::uint64_t got = 0; got < total;) {
            q.pop(buf[0]);  // blocks while empty
            std::size_t n = 1;
            while (n < bulk && got + n < total && q.try_pop(buf[n])) ++n;
            got += n;
            for (std::size_t i = 0; i < n; ++i) v.send(std::move(buf[i]));
            v.end_batch();
        }
    };
    return run_baseline(env, push, consume);
}
#endif

/// The facts every baseline shares: the P-to-1 job through a queue that
/// hands over one item at a time; `contender` names the queue.
ScenarioFacts baseline_facts(std::string name, std::string contender, std::string desc, bool bounded) {
    ScenarioFacts f;
    f.name = std::move(name);
    f.description = std::move(desc);
    f.contender = std::move(contender);
    f.job = "P->1";
    f.roles = {"producer", "consumer"};
    f.sweeps.rounds = false;  // one continuous stream; ring-size is the queue capacity
    f.handoffs = HandoffRule::items;
    f.floor_note = "no floor is defined for a queue baseline";
    if (bounded) f.config = {ConfigValue::capacity_items};
    return f;
}

class Baseline final : public Scenario {
public:
    using Fn = RepResult (*)(RunEnv&);
    Baseline(ScenarioFacts facts, Fn fn) : Scenario(std::move(facts)), fn_(fn) {}
    RepResult run(RunEnv& env) const override { return fn_(env); }

private:
    Fn fn_;
};

/// A baseline whose library was not found at build time: listed, skipped by sweeps.
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
    out.push_back(std::make_unique<Baseline>(
        baseline_facts("baseline_mutex", "mutex_deque", "std::mutex + std::deque + condition variable; consumer swaps the whole queue", false),
        baseline_mutex));
    ScenarioFacts moodycamel = baseline_facts("baseline_moodycamel", "moodycamel",
                                              "moodycamel::ConcurrentQueue with producer tokens; consumer bulk-dequeues 256", true);
#if SPILL_HAVE_MOODYCAMEL
    out.push_back(std::make_unique<Baseline>(std::move(moodycamel), baseline_moodycamel));
#else
    out.push_back(std::make_unique<MissingBaseline>(std::move(moodycamel), "the concurrentqueue header was not found at build time"));
#endif
    out.push_back(std::make_unique<Baseline>(
        baseline_facts("baseline_boost_queue", "boost_queue", "boost::lockfree::queue, bounded_push with capacity ring-size", true),
        baseline_boost_queue));
    out.push_back(std::make_unique<Baseline>(baseline_facts("baseline_boost_spsc", "boost_spsc",
                                                            "one boost::lockfree::spsc_queue per producer (capacity ring-size), consumer round-robins",
                                                            true),
                                             baseline_boost_spsc));
    ScenarioFacts tbb =
        baseline_facts("baseline_tbb", "tbb", "tbb::concurrent_bounded_queue, capacity ring-size (producers block when full)", true);
#if SPILL_HAVE_TBB
    out.push_back(std::make_unique<Baseline>(std::move(tbb), baseline_tbb));
#else
    out.push_back(std::make_unique<MissingBaseline>(std::move(tbb), "TBB was not found at build time (meson option baselines)"));
#endif
}

// Listed after the scenarios of lower rank (spill 100, latency 200, baselines 300).
const ScenarioRegistration registered(add_baseline_scenarios, 300);

}  // namespace spill::bench

// harness/micro/baselines.cpp: the same fan-in job through established
// queues, each delivering into the same CheckSink as the pool's fan-in.
#include <algorithm>
#include <array>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#if SPILL_MICRO_HAVE_BOOST_LOCKFREE
#include <boost/lockfree/spsc_queue.hpp>
#endif
#if SPILL_MICRO_HAVE_MOODYCAMEL
// The baseline's own header trips -Wnull-dereference after inlining; it is not our code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <concurrentqueue/concurrentqueue.h>
#pragma GCC diagnostic pop
#endif
#if SPILL_MICRO_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif

#include "common.hpp"

namespace spill::micro {
namespace {

constexpr std::uint64_t kFanRound = 512;  // items per benchmark iteration

/// Runs a producer thread that hands `total` increasing keys to `push`, while
/// the benchmark loop pulls kFanRound keys per iteration through `pop_some`
/// (which returns how many it delivered to the sink). Checks sum and order.
/// Backoff of the baseline loops on a full or empty queue: spin, then yield
/// the core (what a careful user of these queues does on a shared machine).
struct Backoff {
    std::uint32_t failures = 0;
    void operator()(bool progress) noexcept {
        if (progress) {
            failures = 0;
        } else if (++failures < 256) {
            spill::detail::cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
};

template <class Push, class PopSome>
void run_baseline(State& state, Push push, PopSome pop_some) {
    const std::uint64_t total = static_cast<std::uint64_t>(state.max_iterations) * kFanRound;
    std::thread producer([&] {
        Backoff backoff;
        for (std::uint64_t i = 0; i < total;) {
            const std::uint64_t n = push(i, total);
            i += n;
            backoff(n != 0);
        }
    });
    CheckSink sink;
    std::uint64_t want = 0;
    Backoff backoff;
    for (auto _ : state) {
        want += kFanRound;
        while (sink.count() < want) {
            const std::uint64_t before = sink.count();
            pop_some(sink, want - sink.count());
            backoff(sink.count() != before);
        }
    }
    producer.join();
    if (!sink.complete(1, total)) state.SkipWithError("baseline: lost, duplicated or reordered items");
    set_items(state, kFanRound);
}

constexpr std::size_t kQueueCap = 1024;
constexpr std::size_t kBulk = 64;

#if SPILL_MICRO_HAVE_BOOST_LOCKFREE
void BM_fanin_boost_spsc(State& state) {
    auto q = std::make_unique<boost::lockfree::spsc_queue<std::uint64_t, boost::lockfree::capacity<kQueueCap>>>();
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t) -> std::uint64_t { return q->push(i) ? 1 : 0; },
        [&](CheckSink& sink, std::uint64_t) {
            std::uint64_t v = 0;
            if (q->pop(v)) sink.send(std::move(v));
        });
}

void BM_fanin_boost_spsc_bulk(State& state) {
    auto q = std::make_unique<boost::lockfree::spsc_queue<std::uint64_t, boost::lockfree::capacity<kQueueCap>>>();
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t total) -> std::uint64_t {
            std::array<std::uint64_t, kBulk> buf;
            const std::uint64_t n = std::min<std::uint64_t>(kBulk, total - i);
            for (std::uint64_t k = 0; k < n; ++k) buf[k] = i + k;
            return q->push(buf.data(), n);
        },
        [&](CheckSink& sink, std::uint64_t left) {
            std::array<std::uint64_t, kBulk> buf;
            const std::size_t got = q->pop(buf.data(), std::min<std::uint64_t>(kBulk, left));
            for (std::size_t k = 0; k < got; ++k) sink.send(std::move(buf[k]));
        });
}

#endif

#if SPILL_MICRO_HAVE_MOODYCAMEL
void BM_fanin_moodycamel_bulk(State& state) {
    moodycamel::ConcurrentQueue<std::uint64_t> q(kQueueCap);
    moodycamel::ProducerToken ptok(q);
    moodycamel::ConsumerToken ctok(q);
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t total) -> std::uint64_t {
            std::array<std::uint64_t, kBulk> buf;
            const std::uint64_t n = std::min<std::uint64_t>(kBulk, total - i);
            for (std::uint64_t k = 0; k < n; ++k) buf[k] = i + k;
            // try_ (never allocates): a full queue is backpressure, retried by the caller
            return q.try_enqueue_bulk(ptok, buf.data(), n) ? n : 0;
        },
        [&](CheckSink& sink, std::uint64_t left) {
            std::array<std::uint64_t, kBulk> buf;
            const std::size_t got = q.try_dequeue_bulk(ctok, buf.data(), std::min<std::uint64_t>(kBulk, left));
            for (std::size_t k = 0; k < got; ++k) sink.send(std::move(buf[k]));
        });
}
#endif

#if SPILL_MICRO_HAVE_TBB
void BM_fanin_tbb_bounded(State& state) {
    tbb::concurrent_bounded_queue<std::uint64_t> q;
    q.set_capacity(static_cast<std::ptrdiff_t>(kQueueCap));
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t) -> std::uint64_t { return q.try_push(i) ? 1 : 0; },
        [&](CheckSink& sink, std::uint64_t) {
            std::uint64_t v = 0;
            if (q.try_pop(v)) sink.send(std::move(v));
        });
}
#endif

void BM_fanin_mutex_deque(State& state) {
    std::mutex mu;
    std::deque<std::uint64_t> q;
    run_baseline(
        state,
        [&](std::uint64_t i, std::uint64_t) -> std::uint64_t {
            std::lock_guard lock(mu);
            if (q.size() >= kQueueCap) return 0;
            q.push_back(i);
            return 1;
        },
        [&](CheckSink& sink, std::uint64_t) {
            std::lock_guard lock(mu);
            if (q.empty()) return;
            std::uint64_t v = q.front();
            q.pop_front();
            sink.send(std::move(v));
        });
}

}  // namespace

void register_baselines() {
    const std::string cfg = "/P=1/cap=" + std::to_string(kQueueCap);
#if SPILL_MICRO_HAVE_MOODYCAMEL
    threaded("fanin/moodycamel_bulk" + cfg + "/batch=" + std::to_string(kBulk) + "/nb=0", BM_fanin_moodycamel_bulk);
#endif
#if SPILL_MICRO_HAVE_BOOST_LOCKFREE
    threaded("fanin/boost_spsc" + cfg + "/batch=1/nb=0", BM_fanin_boost_spsc);
    threaded("fanin/boost_spsc_bulk" + cfg + "/batch=" + std::to_string(kBulk) + "/nb=0", BM_fanin_boost_spsc_bulk);
#endif
#if SPILL_MICRO_HAVE_TBB
    threaded("fanin/tbb_bounded" + cfg + "/batch=1/nb=0", BM_fanin_tbb_bounded);
#endif
    threaded("fanin/mutex_deque" + cfg + "/batch=1/nb=0", BM_fanin_mutex_deque);
}

}  // namespace spill::micro

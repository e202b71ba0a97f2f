// harness/micro/baselines.cpp: the fan-in job of fanin.cpp through every
// baseline queue this build has (harness/baselines), each at its best.
//
// The job, the same as fanin/spill: P producer threads each stream the
// increasing keys key_of(p, 0), key_of(p, 1), ...; the benchmark thread is
// the one consumer and delivers every key into the shared CheckSink (spans
// through send_all). items_per_second counts items delivered in the timed
// loop; every run checks afterwards that each producer's keys all arrived,
// once each and in order (CheckSink::complete), and calls SkipWithError
// otherwise.
//
// Names (perf_targets.py and the report parse them):
//   fanin/<contender>/P=<producers>/cap=<capacity>/batch=<batch>/nb=<0|1>
// with the contender names of harness/baselines (boost_spsc, boost_queue,
// moodycamel_cq, moodycamel_cq_blocking, moodycamel_rwq,
// moodycamel_rwq_blocking, atomic_queue, atomic_queue_spsc, tbb_bounded,
// tbb_bounded_blocking, xenium_vyukov, mutex_deque). cap is the capacity
// per producer (harness/baselines/baseline.hpp), batch the items per bulk
// call (1: the queue's API is per item), nb=1 runs beside one BusyNeighbour;
// a trailing /consumer=alone pins the consumer to a CPU of its own and the
// producers to the others, /consumer=with_producer pins the consumer and
// its producer to one CPU (common.hpp, Placement), as fanin/spill does.
//
// The sweep, so that every queue is compared at its best configuration:
// capacity {1024, 16384, 65536}; batch 1 for per-item queues, otherwise
// {64, 512, 4096, 16384} up to the capacity and no smaller than 1/256 of
// it (64 at 65536 is left out: a batch that small leaves such a queue
// nearly empty, and the same batch runs at the smaller capacities); P in
// {1, 2, 4}, and P=1 once more beside a busy neighbour; P=2 and 4 once
// more with the consumer alone, and P=1 beside the neighbour once more
// with the consumer and producer on one CPU (where the process has two
// CPUs or more: pinned_placement).
// Configurations a queue refuses (Q::refusal) are not registered.
#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "baselines/contenders.hpp"
#include "common.hpp"

namespace spill::micro {
namespace {

namespace bl = spill::baselines;

/// Items the consumer delivers per benchmark iteration.
constexpr std::uint64_t kPerIteration = 4096;

constexpr std::size_t kCapacities[] = {1024, 16384, 65536};
constexpr std::size_t kBatches[] = {64, 512, 4096, 16384};
/// The smallest batch swept at a capacity is capacity / kMinBatchFraction.
constexpr std::size_t kMinBatchFraction = 256;

// P producers -> 1 consumer through the queue Q configured by `cfg`, beside
// `nb` busy neighbours, threads placed by `place`. Better: higher items/s.
template <class Q>
void BM_fanin_baseline(State& state, bl::Config cfg, int nb, Placement place) {
    std::unique_ptr<BusyNeighbour> neighbour;
    if (nb != 0) neighbour = std::make_unique<BusyNeighbour>();
    Pinning pinning(place);  // the benchmark thread is the consumer
    if (const char* why = pinning.failure()) {
        state.SkipWithError(why);
        return;
    }
    Q q(cfg);

    // Warm-up (not timed): the first producers x capacity items, so that
    // every slot of the queue has been written once and the threads run.
    const std::uint64_t P = cfg.producers;
    const std::uint64_t warm = P * cfg.capacity;
    const std::uint64_t per_producer = (warm + static_cast<std::uint64_t>(state.max_iterations) * kPerIteration + P - 1) / P;
    const std::uint64_t total = per_producer * P;

    std::atomic<bool> producer_failed{false};
    std::vector<std::thread> producers;
    for (std::uint64_t p = 0; p < P; ++p) {
        producers.emplace_back([&q, &producer_failed, &pinning, p, per_producer] {
            pinning.pin_producer();  // failure() reads its outcome after the join
            try {
                auto prod = q.producer(p);
                for (std::uint64_t i = 0; i < per_producer;) {
                    auto gen = [p, i](std::size_t k) noexcept { return key_of(p, i + k); };
                    const std::size_t n = prod.enqueue(per_producer - i, gen);
                    if (n == 0) return;  // shut down
                    i += n;
                }
            } catch (...) {
                // relaxed: read after join, which orders it
                producer_failed.store(true, std::memory_order_relaxed);
                q.shutdown();
            }
        });
    }

    CheckSink sink;
    auto consumer = q.consumer();
    // Delivers until `want` keys arrived; false if the queue was shut down.
    auto deliver_until = [&](std::uint64_t want) {
        while (sink.count() < want) {
            if (consumer.deliver(total - sink.count(), sink) == 0) return false;
        }
        return true;
    };

    bool ok = deliver_until(warm);
    const std::uint64_t d0 = sink.count();
    std::uint64_t want = warm;
    for (auto _ : state) {
        if (!ok) break;
        want += kPerIteration;
        ok = deliver_until(want);
    }
    const std::uint64_t delivered = sink.count() - d0;
    ok = ok && deliver_until(total);
    if (!ok) q.shutdown();
    for (auto& t : producers) t.join();

    state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
    if (const char* why = pinning.failure()) {
        state.SkipWithError(why);
    } else if (producer_failed.load(std::memory_order_relaxed) || !ok) {
        state.SkipWithError("baseline: a producer failed and the queue was shut down");
    } else if (!sink.complete(P, per_producer)) {
        state.SkipWithError("baseline: lost, duplicated or reordered items");
    }
}

template <class Q>
void register_contender() {
    const std::string name(Q::traits.name);
    for (std::size_t cap : kCapacities) {
        std::vector<std::size_t> batches;
        if (Q::traits.batching == bl::Batching::per_item) {
            batches = {1};
        } else {
            for (std::size_t b : kBatches)
                if (b <= cap && b >= cap / kMinBatchFraction) batches.push_back(b);
        }
        for (std::size_t batch : batches) {
            for (auto [p, nb] : {std::pair<std::size_t, int>{1, 0}, {1, 1}, {2, 0}, {4, 0}}) {
                const bl::Config cfg{p, cap, batch};
                if (!Q::refusal(cfg).empty()) continue;
                const std::string base = "fanin/" + name + "/P=" + std::to_string(p) + "/cap=" + std::to_string(cap) +
                                         "/batch=" + std::to_string(batch) + "/nb=" + std::to_string(nb);
                threaded(base, [cfg, nb](State& s) { BM_fanin_baseline<Q>(s, cfg, nb, Placement::free); });
                if (const Placement place = pinned_placement(p, nb); place != Placement::free)
                    threaded(base + placement_suffix(place), [cfg, nb, place](State& s) { BM_fanin_baseline<Q>(s, cfg, nb, place); });
            }
        }
    }
}

}  // namespace

void register_baselines() {
    bl::for_each_contender<std::uint64_t, kCapacities[0], kCapacities[1], kCapacities[2]>([]<class Q>() { register_contender<Q>(); });
    std::string missing;
    for (std::string_view n : bl::left_out()) missing += (missing.empty() ? "" : ",") + std::string(n);
    benchmark::AddCustomContext("baselines_left_out", missing.empty() ? "none" : missing);
}

}  // namespace spill::micro

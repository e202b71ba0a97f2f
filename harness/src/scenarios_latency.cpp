// harness/src/scenarios_latency.cpp: latency distributions.
//
// `latency` (closed loop) and `latency_open` (open loop) run the fan_in shape:
// P producers push TimedItems into their rings, the owner thread dispatches
// round r and then collects round r-1 through a FanInSpout into a
// LatencySink, which records latencies and hands each item to the Verifier
// (so conservation, per-producer FIFO and the injected faults are checked as
// in every other scenario).
//
//   closed loop: producers push as fast as they can, each item stamped with
//     the time it was pushed; the owner dispatches the next round only when
//     the previous one is done, so a slow consumer slows the load and the
//     latency measured from the push does not see the wait (coordinated
//     omission, by design: it is the closed-loop number).
//   open loop: item i of the whole stream (i = seq * P + producer) is due at
//     start + i / rate, whatever happened before; a producer waits until its
//     item is due (or pushes at once if it is already late) and stamps it
//     with the *intended* time. A stall anywhere is charged to every item
//     that should have been sent during it.
//
// Per-item latency: consumer receipt - stamp. Per-handoff latency: consumer
// receipt of the first item of a (worker, round) batch - the end of that
// worker's task for the round (the pool publishes the ring right after the
// task returns; the core is not instrumented). Send lag (open loop): actual
// push - intended send time, per producer thread, merged after the phase.
#include <algorithm>
#include <memory>
#include <vector>

#include <spill/spill.hpp>

#include "histogram.hpp"
#include "latency.hpp"
#include "scenario.hpp"

namespace spill::bench {
namespace {

struct LatencyArgs {
    std::uint64_t round = 0;      // 1-based
    std::uint64_t per_round = 0;  // items per producer per round
};

/// What one producer thread writes: its send-lag histogram and its last push
/// time. A cache line of its own (the histogram is many lines long anyway).
struct alignas(spill::cache_line) ProducerLatency {
    LatencyHistogram send_lag;
    std::uint64_t last_push_ns = 0;
};

template <std::size_t N, bool Open>
RepResult run_latency(RunEnv& env) {
    const Params& p = env.params;
    const auto P = static_cast<std::size_t>(p.producers);
    const std::uint64_t per = p.items / (p.producers * p.rounds);
    const std::uint64_t produced = per * P * p.rounds;

    // Everything the measured phase touches is allocated here.
    std::vector<OverflowCount> overflow(P);
    std::vector<std::unique_ptr<Verifier>> vs;
    vs.push_back(std::make_unique<Verifier>(env.verifier_config(false)));
    Verifier& v = *vs[0];
    auto res = std::make_shared<LatencyResult>();
    res->open_loop = Open;
    res->target_items_per_second = Open ? p.rate_items_per_s : 0;
    std::vector<std::uint64_t> task_end_ns(static_cast<std::size_t>(P * p.rounds), 0);
    std::vector<std::unique_ptr<ProducerLatency>> producers;
    for (std::size_t w = 0; w < P; ++w) producers.push_back(std::make_unique<ProducerLatency>());
    LatencySink::Config sc;
    sc.producers = P;
    sc.rounds = p.rounds;
    sc.task_end_ns = task_end_ns.data();
    sc.stall_at = env.stall_ns != 0 ? std::max<std::uint64_t>(produced / 2, 1) : 0;
    sc.stall_ns = env.stall_ns;
    LatencySink sink(v, *res, sc);
    // Set by the owner before the first dispatch (the dispatch publishes it
    // to the workers); only read afterwards.
    spill::measure::OpenLoopPacer pacer(0, Open ? static_cast<double>(p.rate_items_per_s) : 1.0);
    const std::uint64_t rounds = p.rounds;

    RunEnv::ThreadScope scope(env, "consumer", 0, P);
    auto pool = spill::pool<TimedItem, N>(P)
                    .overflow([&overflow](std::size_t w) { return TimedOverflowSpout(overflow[w]); })
                    .on_worker_start([&env](std::size_t w) { env.enter_pool_thread("producer", w, w); })
                    .template spawn<LatencyArgs>([&](auto& ring, std::size_t w, const LatencyArgs& a) {
                        const std::uint64_t base = (a.round - 1) * a.per_round;
                        const auto producer = static_cast<std::uint32_t>(w);
                        const auto round = static_cast<std::uint32_t>(a.round);
                        if constexpr (Open) {
                            ProducerLatency& mine = *producers[w];
                            std::uint64_t now = 0;
                            for (std::uint64_t i = 0; i < a.per_round; ++i) {
                                const std::uint64_t seq = base + i;
                                const std::uint64_t due = pacer.intended_ns(seq * P + w);
                                now = wait_until_ns(due);
                                mine.send_lag.record(now - due);
                                ring.push(TimedItem{producer, round, seq, due});
                            }
                            mine.last_push_ns = now;
                        } else {
                            // One run in place; each item is stamped as it is written.
                            ring.push_n(static_cast<std::size_t>(a.per_round), [producer, round, base](std::size_t i) noexcept {
                                return TimedItem{producer, round, base + i, latency_clock_ns()};
                            });
                        }
                        task_end_ns[static_cast<std::size_t>(w * rounds + (a.round - 1))] = latency_clock_ns();
                    });
    auto fan = pool.fan_in(SpoutRef<LatencySink>(sink));  // declared after the pool: destroyed first
    pool.await_ready();  // thread start-up and first touch of the rings: before the clock starts
    env.begin(P + 1);
    // The first item is due a little after the start, so the first dispatch
    // (waking P threads) is not charged to it.
    if constexpr (Open) pacer = spill::measure::OpenLoopPacer(latency_clock_ns() + 200000, static_cast<double>(p.rate_items_per_s));
    for (std::uint64_t r = 1; r <= p.rounds; ++r) {
        pool.dispatch(LatencyArgs{r, per});     // waits for the oldest round if rounds_ahead() are in flight, starts round r
        if (fan.collect() != 0) v.end_batch();  // round r-1, while round r runs
    }
    pool.join();
    if (fan.collect() != 0) v.end_batch();
    fan.flush();
    v.finish();
    env.end();

    // Merge the per-thread histograms (after the phase: the workers are joined).
    std::uint64_t last_push = 0;
    for (const auto& pl : producers) {
        res->send_lag.merge(pl->send_lag);
        last_push = std::max(last_push, pl->last_push_ns);
    }
    if constexpr (Open) {
        // Items sent per second between the first item's intended time and the
        // last item's actual push: the target rate when the pacer kept up.
        const std::uint64_t first = pacer.intended_ns(0);
        if (produced > 1 && last_push > first)
            res->achieved_items_per_second = static_cast<double>(produced - 1) * 1e9 / static_cast<double>(last_push - first);
    } else {
        if (env.seconds() > 0) res->achieved_items_per_second = static_cast<double>(produced) / env.seconds();
    }

    RepResult r;
    r.seconds = env.seconds();
    r.produced = produced;
    r.delivered = v.delivered();
    r.fifo = v.fifo();
    r.message = v.message();
    for (const auto& c : overflow) r.overflowed += c.n;
    for (std::size_t w = 0; w < pool.workers(); ++w) r.merged_items += pool.stats(w).merged_items;
    r.latency = std::move(res);
    return r;
}

template <bool Open>
class LatencyScenario final : public Scenario {
public:
    LatencyScenario() : Scenario(facts()) {}
    RepResult run(RunEnv& env) const override {
        return with_ring_size(env.params.ring_size, [&](auto n) { return run_latency<decltype(n)::value, Open>(env); });
    }

private:
    static ScenarioFacts facts() {
        ScenarioFacts f;
        f.name = Open ? "latency_open" : "latency";
        f.description = Open ? "open loop: items paced at --rate-items-per-s, latency from the intended send time (no coordinated omission); fan_in shape"
                             : "closed loop: per-item (push -> consumer) and per-handoff (task end -> consumer) latency histograms; fan_in shape";
        f.contender = "spill";
        f.job = "P->1";
        f.hands_rings = true;
        f.roles = {"producer", "consumer"};
        f.sweeps.rate = Open;
        f.handoffs = HandoffRule::producers;
        f.floor = FloorKind::none;
        f.floor_note = Open ? "the pacing sets the time per item" : "the clock reads on every item set the time per item";
        f.config = {ConfigValue::capacity_items, ConfigValue::batch_items};
        return f;
    }
};

}  // namespace

void add_latency_scenarios(std::vector<std::unique_ptr<Scenario>>& out) {
    out.push_back(std::make_unique<LatencyScenario<false>>());
    out.push_back(std::make_unique<LatencyScenario<true>>());
}

// Listed after the scenarios of lower rank (spill 100, latency 200, baselines 300).
const ScenarioRegistration registered(add_latency_scenarios, 200);

}  // namespace spill::bench

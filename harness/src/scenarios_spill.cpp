// harness/src/scenarios_spill.cpp: the scenarios that exercise the spill core,
// one per feature of docs/design.md. Each body is a template over the ring
// size N (SpillRing and WorkerPool take N at compile time); with_ring_size
// picks the instantiation from the runtime parameter.
//
// Shape shared by all: P producers each write `per_round` items per round
// (Item{producer, round, seq}) into their rings with push_n, in place; one
// or more Verifiers consume the rings' spans in place (send_all); overflow
// spouts count evictions into OverflowCount cells that outlive the pool.
#include <algorithm>
#include <atomic>
#include <span>
#include <string>
#include <thread>

#include <spill/spill.hpp>

#include "handoff_stats.hpp"
#include "scenario.hpp"

namespace spill::bench {
namespace {

struct RoundArgs {
    std::uint64_t round = 0;      // 1-based
    std::uint64_t per_round = 0;  // items per producer per round
};

/// The producer task: writes this round's items of worker `w` into its ring
/// as one run, constructed in place (SpillRing::push_n).
template <class Ring>
inline void produce(Ring& ring, std::size_t w, const RoundArgs& a) {
    const std::uint64_t base = (a.round - 1) * a.per_round;
    const auto producer = static_cast<std::uint32_t>(w);
    const auto round = static_cast<std::uint32_t>(a.round);
    ring.push_n(static_cast<std::size_t>(a.per_round), [producer, round, base](std::size_t i) noexcept { return Item{producer, round, base + i}; });
}

std::uint64_t per_round(const Params& p) { return p.items / (p.producers * p.rounds); }

/// Fills the common fields of a result from verifiers and overflow cells.
template <class Verifiers>
RepResult result_of(RunEnv& env, const Verifiers& vs, std::uint64_t produced, const std::vector<OverflowCount>& overflow,
                    std::uint64_t merged, bool ordered) {
    RepResult r;
    r.seconds = env.seconds();
    r.produced = produced;
    for (const auto& v : vs) {
        r.delivered += v->delivered();
        r.fifo = r.fifo && v->fifo();
        if (ordered) r.order = r.order.value_or(true) && v->order();
        if (r.message.empty()) r.message = v->message();
    }
    for (const auto& c : overflow) r.overflowed += c.n;
    r.merged_items = merged;
    return r;
}

template <class Pool>
std::uint64_t merged_items(const Pool& pool) {
    std::uint64_t m = 0;
    for (std::size_t w = 0; w < pool.workers(); ++w) m += pool.stats(w).merged_items;
    return m;
}

/// Builds a producer pool of `workers` threads pinned to slots first..first+workers-1.
/// With a probe, each worker samples the occupancy of its last publish at the
/// start of every round (the probe must outlive the pool).
template <std::size_t N, class A, class F>
auto make_pool(RunEnv& env, std::size_t workers, std::vector<OverflowCount>& overflow, const char* role, std::size_t first_slot, F task,
               OccupancyProbe* probe = nullptr) {
    overflow.assign(workers, OverflowCount{});
    if (probe) probe->prepare(workers, env.params.rounds);
    return spill::pool<Item, N>(workers)
        .time_waits()  // the handoff block's spin/blocked fractions (two clock reads per wait that spun)
        .overflow([&overflow](std::size_t w) { return OverflowSpout(overflow[w]); })
        .on_worker_start([&env, role, first_slot](std::size_t w) { env.enter_pool_thread(role, w, first_slot + w); })
        .template spawn<A>([probe, task = std::move(task)](auto& ring, std::size_t w, const A& a) {
            if (probe) probe->sample(w);
            task(ring, w, a);
        });
}

/// Points the probe at the pool's counters; call before the first round.
template <class Pool>
void attach_probe(OccupancyProbe& probe, const Pool& pool, RunEnv& env) {
    for (std::size_t w = 0; w < pool.workers(); ++w) probe.attach(w, &pool.stats(w));
    probe.start(env.begin_ns());
}

/// The handoff statistics of a repetition whose delivering pool is `pool`
/// (joined, collectors stopped); the owner's waits count for the consumer.
template <class Pool>
std::shared_ptr<HandoffRecord> handoff_of(const Pool& pool, const OccupancyProbe& probe, RunEnv& env) {
    auto h = std::make_shared<HandoffRecord>();
    h->add_pool(pool);
    h->add_worker_waits(pool, 0);
    h->wait[2].add(pool.owner_wait());
    h->wait[2].place(pool.owner_placement());
    h->occupancy = probe.points();
    h->wall_seconds = env.seconds();
    return h;
}

auto producer_task() {
    return [](auto& ring, std::size_t w, const RoundArgs& a) { produce(ring, w, a); };
}

// ---------------------------------------------------------------- ring ----
template <std::size_t N>
RepResult run_ring(RunEnv& env) {
    const Params& p = env.params;
    std::vector<OverflowCount> overflow(1);
    std::vector<std::unique_ptr<Verifier>> vs;
    vs.push_back(std::make_unique<Verifier>(env.verifier_config(false)));
    Verifier& v = *vs[0];
    RunEnv::ThreadScope scope(env, "producer", 0, 0);
    auto ring = std::make_unique<SpillRing<Item, N, OverflowSpout>>(OverflowSpout(overflow[0]));
    const std::uint64_t per = p.items / p.rounds;
    std::uint64_t seq = 0;
    ring->prefault();  // the ring's pages mapped before the clock starts, as a pool's are
    env.begin(1);
    for (std::uint64_t r = 1; r <= p.rounds; ++r) {
        const auto round = static_cast<std::uint32_t>(r);
        ring->push_n(static_cast<std::size_t>(per), [round, seq](std::size_t i) noexcept { return Item{0, round, seq + i}; });
        seq += per;
        if (ring->drain(v) != 0) v.end_batch();
    }
    v.finish();
    env.end();
    return result_of(env, vs, seq, overflow, 0, false);
}

// ---------------------------------------------------------------- pool ----
template <std::size_t N>
RepResult run_pool(RunEnv& env) {
    const Params& p = env.params;
    const auto P = static_cast<std::size_t>(p.producers);
    std::vector<OverflowCount> overflow;
    std::vector<std::unique_ptr<Verifier>> vs;
    vs.push_back(std::make_unique<Verifier>(env.verifier_config(false)));
    Verifier& v = *vs[0];
    RunEnv::ThreadScope scope(env, "consumer", 0, P);
    OccupancyProbe probe;
    auto pool = make_pool<N, RoundArgs>(env, P, overflow, "producer", 0, producer_task(), &probe);
    const std::uint64_t per = per_round(p);
    pool.await_ready();  // thread start-up and first touch of the rings: before the clock starts
    env.begin(P + 1);
    attach_probe(probe, pool, env);
    for (std::uint64_t r = 1; r <= p.rounds; ++r) {
        pool.run(RoundArgs{r, per});
        if (pool.collect(v) != 0) v.end_batch();
    }
    v.finish();
    env.end();
    RepResult res = result_of(env, vs, per * P * p.rounds, overflow, merged_items(pool), false);
    res.handoff = handoff_of(pool, probe, env);
    return res;
}

// -------------------------------------------------------------- stream ----
template <std::size_t N>
RepResult run_stream(RunEnv& env) {
    const Params& p = env.params;
    const auto P = static_cast<std::size_t>(p.producers);
    std::vector<OverflowCount> overflow;
    std::vector<std::unique_ptr<Verifier>> vs;
    vs.push_back(std::make_unique<Verifier>(env.verifier_config(false)));
    Verifier& v = *vs[0];
    // Tasks finished so far; only tells the collector when to stop polling.
    // relaxed is enough: no data is read on the strength of it (join() below
    // is the happens-before edge for the items).
    std::atomic<std::uint64_t> finished{0};
    RunEnv::ThreadScope scope(env, "consumer", 0, P);
    OccupancyProbe probe;
    auto pool = make_pool<N, RoundArgs>(env, P, overflow, "producer", 0, [&finished](auto& ring, std::size_t w, const RoundArgs& a) {
        produce(ring, w, a);
        finished.fetch_add(1, std::memory_order_relaxed);
    }, &probe);
    const std::uint64_t per = per_round(p);
    IdlePoll idle;
    pool.await_ready();  // thread start-up and first touch of the rings: before the clock starts
    env.begin(P + 1);
    attach_probe(probe, pool, env);
    for (std::uint64_t r = 1; r <= p.rounds; ++r) {
        pool.dispatch(RoundArgs{r, per});
        while (finished.load(std::memory_order_relaxed) < r * P) {
            idle.start_poll();
            if (pool.collect(v) != 0) {
                idle.busy();
                v.end_batch();
            } else {
                idle.empty();
                std::this_thread::yield();
            }
        }
        idle.close();
        pool.join();
        if (pool.collect(v) != 0) v.end_batch();
    }
    v.finish();
    env.end();
    RepResult res = result_of(env, vs, per * P * p.rounds, overflow, merged_items(pool), false);
    auto h = handoff_of(pool, probe, env);
    h->wait[2].add(idle.st, 0);  // the same consumer thread, polling between its waits in join()
    res.handoff = h;
    return res;
}

// -------------------------------------------------------------- fan_in ----
template <std::size_t N>
RepResult run_fan_in(RunEnv& env) {
    const Params& p = env.params;
    const auto P = static_cast<std::size_t>(p.producers);
    std::vector<OverflowCount> overflow;
    std::vector<std::unique_ptr<Verifier>> vs;
    vs.push_back(std::make_unique<Verifier>(env.verifier_config(false)));
    Verifier& v = *vs[0];
    RunEnv::ThreadScope scope(env, "consumer", 0, P);
    OccupancyProbe probe;
    auto pool = make_pool<N, RoundArgs>(env, P, overflow, "producer", 0, producer_task(), &probe);
    auto fan = pool.fan_in(SpoutRef<Verifier>(v));  // declared after the pool: destroyed first
    const std::uint64_t per = per_round(p);
    pool.await_ready();  // thread start-up and first touch of the rings: before the clock starts
    env.begin(P + 1);
    attach_probe(probe, pool, env);
    for (std::uint64_t r = 1; r <= p.rounds; ++r) {
        pool.dispatch(RoundArgs{r, per});  // waits for the oldest round if rounds_ahead() are in flight, starts round r
        if (fan.collect() != 0) v.end_batch();  // overlaps with round r
    }
    pool.join();
    if (fan.collect() != 0) v.end_batch();
    fan.flush();
    v.finish();
    env.end();
    RepResult res = result_of(env, vs, per * P * p.rounds, overflow, merged_items(pool), false);
    res.handoff = handoff_of(pool, probe, env);
    return res;
}

// ----------------------------------------------------------- sequenced ----
template <std::size_t N>
RepResult run_sequenced(RunEnv& env) {
    const Params& p = env.params;
    const auto P = static_cast<std::size_t>(p.producers);
    std::vector<OverflowCount> overflow;
    std::vector<std::unique_ptr<Verifier>> vs;
    vs.push_back(std::make_unique<Verifier>(env.verifier_config(true)));
    Verifier& v = *vs[0];
    RunEnv::ThreadScope scope(env, "consumer", 0, P);
    OccupancyProbe probe;
    auto pool = make_pool<N, RoundArgs>(env, P, overflow, "producer", 0, producer_task(), &probe);
    const std::uint64_t per = per_round(p);
    using Seq = SequencedSpout<Item, SpoutRef<Verifier>>;
    auto fan = pool.sequenced_fan_in(Seq(SpoutRef<Verifier>(v), 4 * P, static_cast<std::size_t>(std::min<std::uint64_t>(per, N))));
    pool.await_ready();  // thread start-up and first touch of the rings: before the clock starts
    env.begin(P + 1);
    attach_probe(probe, pool, env);
    for (std::uint64_t r = 1; r <= p.rounds; ++r) {
        pool.dispatch(RoundArgs{r, per});
        if (fan.collect() != 0) v.end_batch();
    }
    pool.join();
    if (fan.collect() != 0) v.end_batch();
    fan.flush();
    v.finish();
    env.end();
    RepResult res = result_of(env, vs, per * P * p.rounds, overflow, merged_items(pool), true);
    res.handoff = handoff_of(pool, probe, env);
    if (fan.inner().pending() != 0 && res.message.empty()) {
        res.order = false;
        res.message = std::to_string(fan.inner().pending()) + " sequenced batches still waiting for a predecessor after the last round";
    }
    return res;
}

// ------------------------------------------------- backpressure and mpsm ----
// The owner thread dispatches rounds back to back; M merger threads (one for
// backpressure) drain their share of the slots through MergerHandles, with
// the consumer delay. A slow merger leaves slots FRESH, so workers merge back
// and their rings overflow: delivered + overflowed == produced, and
// merged_items counts the items moved by merge backs.
template <std::size_t N>
RepResult run_mergers(RunEnv& env, std::size_t M, const char* role) {
    const Params& p = env.params;
    const auto P = static_cast<std::size_t>(p.producers);
    std::vector<OverflowCount> overflow;
    std::vector<std::unique_ptr<Verifier>> vs;
    for (std::size_t j = 0; j < M; ++j) vs.push_back(std::make_unique<Verifier>(env.verifier_config(false)));
    RunEnv::ThreadScope scope(env, "owner", 0, P + M);
    OccupancyProbe probe;
    auto pool = make_pool<N, RoundArgs>(env, P, overflow, "producer", 0, producer_task(), &probe);
    std::vector<IdlePoll> idle(M);  // one per merger thread, each on its own line
    auto handles = pool.split_mergers(M, [&vs](std::size_t j) { return SpoutRef<Verifier>(*vs[j]); });
    // go: (A) owner release store after env.begin(), paired with (B) the
    // mergers' acquire loads; it only starts them, no data rides on it.
    // stop: (C) owner release store after pool.join(), paired with (D) the
    // mergers' acquire load; join() made every round's publish visible to the
    // owner, and (C)/(D) extends that to the mergers, so the collect after
    // (D) finds every batch.
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    threads.reserve(M);
    for (std::size_t j = 0; j < M; ++j) {
        threads.emplace_back([&, j] {
            RunEnv::ThreadScope s(env, role, j, P + j);
            auto& h = handles[j];
            Verifier& v = *vs[j];
            IdlePoll& idle_j = idle[j];
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();  // (B)
            while (!stop.load(std::memory_order_acquire)) {                       // (D)
                idle_j.start_poll();
                if (h.collect() != 0) {
                    idle_j.busy();
                    v.end_batch();
                } else {
                    idle_j.empty();
                    std::this_thread::yield();
                }
            }
            idle_j.close();
            while (h.collect() != 0) v.end_batch();
            v.finish();
        });
    }
    const std::uint64_t per = per_round(p);
    pool.await_ready();  // thread start-up and first touch of the rings: before the clock starts
    env.begin(P + M + 1);
    attach_probe(probe, pool, env);
    go.store(true, std::memory_order_release);  // (A)
    for (std::uint64_t r = 1; r <= p.rounds; ++r) pool.dispatch(RoundArgs{r, per});
    std::exception_ptr err;
    try {
        pool.join();
    } catch (...) {
        err = std::current_exception();
    }
    stop.store(true, std::memory_order_release);  // (C)
    for (auto& t : threads) t.join();
    env.end();
    if (err) std::rethrow_exception(err);
    RepResult res = result_of(env, vs, per * P * p.rounds, overflow, merged_items(pool), false);
    auto hs = handoff_of(pool, probe, env);
    const std::size_t merger_role = std::string(role) == "merger" ? 1 : 2;  // backpressure's drain thread is its consumer
    for (const IdlePoll& i : idle) hs->wait[merger_role].add(i.st);
    res.handoff = hs;
    return res;
}

// ------------------------------------------------------------ pipeline ----
// Stage 1: P workers produce. The owner partitions stage 1's output by
// producer across M stage-2 workers, which forward it through their own
// rings; the owner collects stage 2 into the verifier. Round r of stage 1
// runs while stage 2 works on round r-1.
using Parts = std::vector<std::vector<Item>>;

struct PartitionSpout {
    Parts* parts;
    void send(Item&& x) { (*parts)[x.producer % parts->size()].push_back(x); }
    /// A ring's span, in place: each item appended to its producer's part
    /// (the parts were reserved for a whole round: no allocation).
    std::size_t send_all(std::span<Item> items) {
        for (const Item& x : items) (*parts)[x.producer % parts->size()].push_back(x);
        return items.size();
    }
    void flush() noexcept {}
};

template <std::size_t N>
RepResult run_pipeline(RunEnv& env) {
    const Params& p = env.params;
    const auto P = static_cast<std::size_t>(p.producers);
    const auto M = static_cast<std::size_t>(p.mergers);
    std::vector<OverflowCount> overflow1, overflow2;
    std::vector<std::unique_ptr<Verifier>> vs;
    vs.push_back(std::make_unique<Verifier>(env.verifier_config(false)));
    Verifier& v = *vs[0];
    const std::uint64_t per = per_round(p);
    Parts parts[2];
    for (auto& ps : parts) {
        ps.resize(M);
        for (auto& q : ps) q.reserve(static_cast<std::size_t>(per * P));
    }
    RunEnv::ThreadScope scope(env, "consumer", 0, P + M);
    OccupancyProbe probe;  // on stage 2: the pool whose batches reach the consumer
    auto stage1 = make_pool<N, RoundArgs>(env, P, overflow1, "producer", 0, producer_task());
    auto stage2 = make_pool<N, const Parts*>(env, M, overflow2, "stage2", P, [](auto& ring, std::size_t w, const Parts* const& in) {
        const Item* part = (*in)[w].data();
        ring.push_n((*in)[w].size(), [part](std::size_t i) noexcept { return part[i]; });
    }, &probe);
    stage1.await_ready();  // thread start-up and first touch of the rings: before the clock starts
    stage2.await_ready();
    env.begin(P + M + 1);
    attach_probe(probe, stage2, env);
    for (std::uint64_t r = 1; r <= p.rounds; ++r) {
        Parts& fill = parts[r % 2];
        for (auto& q : fill) q.clear();  // stage 2 read this buffer in round r-2, joined since
        stage1.dispatch(RoundArgs{r, per});
        if (r > 1) stage2.dispatch(&parts[(r - 1) % 2]);
        stage1.join();
        PartitionSpout to_parts{&fill};
        (void)stage1.collect(to_parts);
        if (r > 1) {
            stage2.join();
            if (stage2.collect(v) != 0) v.end_batch();
        }
    }
    stage2.dispatch(&parts[p.rounds % 2]);
    stage2.join();
    if (stage2.collect(v) != 0) v.end_batch();
    v.finish();
    env.end();
    std::vector<OverflowCount> overflow = overflow1;
    overflow.insert(overflow.end(), overflow2.begin(), overflow2.end());
    RepResult res = result_of(env, vs, per * P * p.rounds, overflow, merged_items(stage1) + merged_items(stage2), false);
    auto h = std::make_shared<HandoffRecord>();
    h->add_pool(stage2);
    h->add_worker_waits(stage1, 0);
    h->add_worker_waits(stage2, 1);
    h->wait[2].add(stage1.owner_wait());
    h->wait[2].place(stage1.owner_placement());  // once: the same thread owns stage 2
    h->wait[2].add(stage2.owner_wait(), 0);  // the same owner thread
    h->occupancy = probe.points();
    h->wall_seconds = env.seconds();
    res.handoff = h;
    return res;
}

// ------------------------------------------------------------ registry ----
using Refusal = std::string (*)(const Params&);

template <class Body>
class SpillScenario final : public Scenario {
public:
    SpillScenario(ScenarioFacts facts, Body body, Refusal refuses) : Scenario(std::move(facts)), body_(std::move(body)), refusal_(refuses) {}
    RepResult run(RunEnv& env) const override { return body_(env); }
    std::string refusal(const Params& p) const override { return refusal_ ? refusal_(p) : std::string(); }

private:
    Body body_;
    Refusal refusal_;
};

template <class Body>
std::unique_ptr<Scenario> make(ScenarioFacts facts, Body body, Refusal refusal = nullptr) {
    return std::make_unique<SpillScenario<Body>>(std::move(facts), std::move(body), refusal);
}

/// fan_in runs rounds that fit its rings: a round larger than the ring
/// would overflow by construction, which is not the job the queues do.
std::string round_must_fit_ring(const Params& p) {
    const std::uint64_t per = per_round(p);
    if (per <= p.ring_size) return {};
    return "a round of " + std::to_string(per) + " items per producer (items / (producers x rounds) = " + std::to_string(p.items) + " / (" +
           std::to_string(p.producers) + " x " + std::to_string(p.rounds) + ")) exceeds ring-size=" + std::to_string(p.ring_size) +
           " (it would overflow by construction: raise --rounds or --ring-size)";
}

/// The facts every pool scenario shares: spill rings handed from P producers
/// to a collector once per round, measured against the handoff floor.
ScenarioFacts pool_facts(std::string name, std::string description, std::vector<std::string> roles) {
    ScenarioFacts f;
    f.name = std::move(name);
    f.description = std::move(description);
    f.contender = "spill";
    f.job = "P->1";
    f.hands_rings = true;
    f.handoff_stats = true;
    f.roles = std::move(roles);
    f.handoffs = HandoffRule::producers;
    f.floor = FloorKind::handoff;
    f.config = {ConfigValue::capacity_items, ConfigValue::batch_items};
    return f;
}

}  // namespace

void add_spill_scenarios(std::vector<std::unique_ptr<Scenario>>& out) {
    ScenarioFacts ring;
    ring.name = "ring";
    ring.description = "single thread pushes into a SpillRing, evicting into a counting spout; drained once per round";
    ring.contender = "spill";
    ring.job = "1 thread";
    ring.roles = {"producer"};
    ring.sweeps.producers = false;
    ring.floor = FloorKind::masked_store;
    ring.config = {ConfigValue::capacity_items, ConfigValue::batch_items};
    out.push_back(make(ring, [](RunEnv& e) { return with_ring_size(e.params.ring_size, [&](auto n) { return run_ring<decltype(n)::value>(e); }); }));

    out.push_back(make(pool_facts("pool", "WorkerPool::run per round (P producers), then collect() into the consumer", {"producer", "consumer"}),
                       [](RunEnv& e) { return with_ring_size(e.params.ring_size, [&](auto n) { return run_pool<decltype(n)::value>(e); }); }));
    out.push_back(make(pool_facts("stream", "dispatch, collect() repeatedly while the round runs, join", {"producer", "consumer"}),
                       [](RunEnv& e) { return with_ring_size(e.params.ring_size, [&](auto n) { return run_stream<decltype(n)::value>(e); }); }));
    out.push_back(make(pool_facts("fan_in", "FanInSpout collects round r-1 while the workers run round r (a round must fit the ring)",
                                  {"producer", "consumer"}),
                       [](RunEnv& e) { return with_ring_size(e.params.ring_size, [&](auto n) { return run_fan_in<decltype(n)::value>(e); }); },
                       round_must_fit_ring));
    ScenarioFacts sequenced =
        pool_facts("sequenced", "SequencedFanIn + SequencedSpout: exact (round, worker, push) order checked", {"producer", "consumer"});
    sequenced.ordered = true;
    out.push_back(make(sequenced,
                       [](RunEnv& e) { return with_ring_size(e.params.ring_size, [&](auto n) { return run_sequenced<decltype(n)::value>(e); }); }));
    out.push_back(make(pool_facts("backpressure", "owner dispatches back to back, one consumer thread with the delay drains: merge back and overflow",
                                  {"producer", "consumer", "owner"}),
                       [](RunEnv& e) {
                           return with_ring_size(e.params.ring_size, [&](auto n) { return run_mergers<decltype(n)::value>(e, 1, "consumer"); });
                       }));
    ScenarioFacts pipeline =
        pool_facts("pipeline", "two pools: P stage-1 producers -> M stage-2 workers (--mergers) -> consumer", {"producer", "stage2", "consumer"});
    pipeline.job = "pipeline";
    pipeline.sweeps.mergers = true;
    pipeline.sweeps.mergers_need_producers = false;  // stage-2 workers need no stage-1 slot each
    pipeline.handoffs = HandoffRule::producers_and_mergers;
    out.push_back(make(pipeline,
                       [](RunEnv& e) { return with_ring_size(e.params.ring_size, [&](auto n) { return run_pipeline<decltype(n)::value>(e); }); }));
    ScenarioFacts mpsm =
        pool_facts("mpsm", "P producers x M pinned merger threads (split_mergers), each merger verifies its slots", {"producer", "merger", "owner"});
    mpsm.job = "P->M";
    mpsm.sweeps.mergers = true;
    out.push_back(make(mpsm, [](RunEnv& e) {
        return with_ring_size(e.params.ring_size,
                              [&](auto n) { return run_mergers<decltype(n)::value>(e, static_cast<std::size_t>(e.params.mergers), "merger"); });
    }));
}

// Listed after the scenarios of lower rank (spill 100, latency 200, baselines 300).
const ScenarioRegistration registered(add_spill_scenarios, 100);

}  // namespace spill::bench

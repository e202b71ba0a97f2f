// harness/src/scenario.hpp: the item every scenario moves, the consumer that
// verifies it, the per-repetition environment, and the scenario registry.
//
// Hot path: Item, Verifier::send and the scenario bodies are templates and
// plain calls. The registry (Scenario, a virtual interface) is cold: one
// virtual call per repetition.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <spill/detail/config.hpp>

#include "grid.hpp"
#include "platform.hpp"

namespace spill::bench {

/// What moves through every scenario: who made it and where it sits in that
/// producer's stream, so the consumer can check FIFO and exact order.
struct Item {
    std::uint32_t producer = 0;
    std::uint32_t round = 0;  // 1-based round that produced it
    std::uint64_t seq = 0;    // 0-based, dense per producer across rounds
};
static_assert(sizeof(Item) == 16);

/// A deliberately broken run (hidden --inject-fault), so tests can prove the
/// checks catch it.
enum class Fault { none, drop, reorder };

/// The consumer end of every scenario: applies the consumer delay, then
/// checks each delivered item. A bulk spout of Item (send, send_all, flush),
/// so it plugs into rings, fan-ins, mergers and the baseline adapters
/// through spill::SpoutRef and reads a ring's spans where they lie: a run of
/// items is checked in one loop, with the same checks as one send per item.
/// Written by one consumer thread only; cache-line aligned so that the
/// verifiers of different merger threads never share a line.
class alignas(spill::cache_line) Verifier {
public:
    struct Config {
        std::size_t producers = 1;
        DelayMode mode = DelayMode::busy_item;
        std::uint64_t delay_ns = 0;
        bool check_order = false;            // exact (round, producer, seq) order
        Fault fault = Fault::none;
        std::uint64_t slowdown_ns_per_64 = 0;  // hidden --inject-slowdown
    };
    explicit Verifier(const Config& cfg) : cfg_(cfg), next_(cfg.producers, 0) {}

    void send(Item&& item) { deliver(item); }
    void send(const Item& item) { deliver(item); }
    /// Takes the whole run (F2: never a short count): each item is checked in
    /// order, exactly as send() checks it. With a per-item delay, a slowdown
    /// or an injected fault every item goes through send()'s path; without
    /// them the run is checked in one loop.
    ///
    /// Defined once, in verifier.cpp, and never inlined: every contender
    /// (the pool's collectors, every baseline adapter) calls the same machine
    /// code per run. Left to the inliner, each translation unit made its own
    /// choice: the baselines' copy had the checks inlined into their drain
    /// loop, the pool's called check() once per item, and the sink alone
    /// then cost the pool's fan-in about a third more per item.
    [[gnu::noinline]] std::size_t send_all(std::span<Item> items);
    void flush() noexcept {}

    /// Call after each batch a collector handed over (applies *_batch delays).
    void end_batch() noexcept {
        if (cfg_.delay_ns == 0) return;
        if (cfg_.mode == DelayMode::busy_batch) busy_wait_ns(cfg_.delay_ns);
        else if (cfg_.mode == DelayMode::block_batch) block_ns(cfg_.delay_ns);
    }
    /// Call once after the last item: releases an item held by the reorder fault.
    void finish() {
        if (held_) {
            const Item h = *held_;
            held_.reset();
            check(h);
        }
    }

    [[nodiscard]] std::uint64_t delivered() const noexcept { return delivered_; }
    [[nodiscard]] std::uint64_t received() const noexcept { return received_; }
    [[nodiscard]] bool fifo() const noexcept { return fifo_; }
    [[nodiscard]] bool order() const noexcept { return order_; }
    [[nodiscard]] const std::string& message() const noexcept { return message_; }

private:
    void deliver(const Item& item) {
        ++received_;
        if (cfg_.delay_ns != 0) {
            if (cfg_.mode == DelayMode::busy_item) busy_wait_ns(cfg_.delay_ns);
            else if (cfg_.mode == DelayMode::block_item) block_ns(cfg_.delay_ns);
        }
        if (cfg_.slowdown_ns_per_64 != 0 && (received_ & 63u) == 0) busy_wait_ns(cfg_.slowdown_ns_per_64);
        if (cfg_.fault != Fault::none && !fault_done_) [[unlikely]] {
            if (cfg_.fault == Fault::drop) {
                fault_done_ = true;  // lose the first item without counting it anywhere
                return;
            }
            if (!held_) {
                held_ = item;  // reorder: hold the first item...
                return;
            }
            if (item.producer == held_->producer) {
                check(item);  // ...and deliver it after its producer's next item
                const Item h = *held_;
                held_.reset();
                fault_done_ = true;
                check(h);
                return;
            }
        }
        check(item);
    }

    // check() over a span, one producer's run at a time (verifier.cpp).
    void check_runs(std::span<const Item> items);
    // The checks of one delivered item; the failures (cold) are out of line,
    // so a run's loop holds only the comparisons (inlined into it, always).
    [[gnu::always_inline]] void check(const Item& item) {
        ++delivered_;
        if (item.producer >= next_.size()) [[unlikely]] {
            unknown_producer(item);
            return;
        }
        std::uint64_t& next = next_[item.producer];
        if (item.seq < next) [[unlikely]]
            fifo_broken(item, next);
        next = item.seq + 1;
        if (cfg_.check_order) {
            const bool after = item.round > last_.round ||
                               (item.round == last_.round && (item.producer > last_.producer ||
                                                               (item.producer == last_.producer && item.seq > last_.seq)));
            if (delivered_ > 1 && !after) [[unlikely]]
                order_broken(item);
            last_ = item;
        }
    }
    [[gnu::noinline, gnu::cold]] void unknown_producer(const Item& item) { fail("item from unknown producer " + std::to_string(item.producer)); }
    [[gnu::noinline, gnu::cold]] void fifo_broken(const Item& item, std::uint64_t next) {
        fifo_ = false;
        fail("per-producer FIFO broken: producer " + std::to_string(item.producer) + " delivered seq " + std::to_string(item.seq) +
             " after seq " + std::to_string(next - 1));
    }
    [[gnu::noinline, gnu::cold]] void order_broken(const Item& item) {
        order_ = false;
        fail("exact order broken: (round " + std::to_string(item.round) + ", producer " + std::to_string(item.producer) + ", seq " +
             std::to_string(item.seq) + ") delivered after (round " + std::to_string(last_.round) + ", producer " +
             std::to_string(last_.producer) + ", seq " + std::to_string(last_.seq) + ")");
    }
    void fail(std::string m) {
        if (message_.empty()) message_ = std::move(m);
    }

    Config cfg_;
    std::vector<std::uint64_t> next_;
    std::uint64_t delivered_ = 0;
    std::uint64_t received_ = 0;
    Item last_{};
    bool fifo_ = true;
    bool order_ = true;
    bool fault_done_ = false;
    std::optional<Item> held_;
    std::string message_;
};

/// An overflow spout that counts what a ring evicted. One per worker; the
/// counts live outside the pool (in a vector owned by the scenario) so they
/// stay readable after the pool flushed its rings in its destructor.
struct alignas(spill::cache_line) OverflowCount {  // written by one worker: a line each
    std::uint64_t n = 0;
};
class OverflowSpout {
public:
    explicit OverflowSpout(OverflowCount& c) noexcept : c_(&c) {}
    void send(Item&&) noexcept { ++c_->n; }
    void send(const Item&) noexcept { ++c_->n; }
    void flush() noexcept {}

private:
    OverflowCount* c_;
};

struct LatencyResult;  // latency.hpp: the latency scenarios' histograms
struct HandoffRecord;  // handoff_stats.hpp: the ring-handing scenarios' handoff statistics

/// The measured outcome of one repetition.
struct RepResult {
    double seconds = 0;
    std::uint64_t produced = 0;
    std::uint64_t delivered = 0;
    std::uint64_t overflowed = 0;
    std::uint64_t merged_items = 0;  // items moved by merge backs (WorkerStats::merged_items), not merge-back events
    std::uint64_t dropped = 0;
    bool fifo = true;
    std::optional<bool> order;  // set by ordered scenarios
    std::string message;         // first failure, empty if none
    std::shared_ptr<const LatencyResult> latency;  // set by the latency scenarios only
    std::shared_ptr<const HandoffRecord> handoff;  // set by the ring-handing spill scenarios only
    // Filled by the environment.
    Usage usage;
    std::optional<std::uint64_t> allocations;
};

/// What a repetition runs with: parameters, pinning, counters, faults, and
/// the measured-phase bracket.
class RunEnv {
public:
    RunEnv(const Params& p, const Pinner& pinner, Papi& papi, Fault fault, std::uint64_t slowdown_ns_per_64)
        : params(p), pinner_(&pinner), papi_(&papi), book_(pinner), fault_(fault), slowdown_(slowdown_ns_per_64) {}
    /// Stops the busy neighbours if end() did not (a repetition that threw).
    ~RunEnv();
    RunEnv(const RunEnv&) = delete;
    RunEnv& operator=(const RunEnv&) = delete;

    const Params params;
    /// Hidden --inject-stall-ns: the latency scenarios' consumer stalls
    /// (sleeps) this long once, on receiving half of the repetition's items.
    std::uint64_t stall_ns = 0;

    /// Verifier configuration for this point.
    [[nodiscard]] Verifier::Config verifier_config(bool ordered) const {
        Verifier::Config c;
        c.producers = static_cast<std::size_t>(params.producers);
        c.mode = params.delay_mode;
        c.delay_ns = params.consumer_delay_ns;
        c.check_order = ordered;
        c.fault = fault_;
        c.slowdown_ns_per_64 = slowdown_;
        return c;
    }

    /// RAII for one thread of the point: pins it to plan slot `slot`,
    /// counts its PAPI events, records the CPU it ran on, and restores the
    /// thread's former affinity at the end (the main thread lives on).
    class ThreadScope {
    public:
        /// `count_events` false: no PAPI events (a busy neighbour's work is
        /// not the point's).
        ThreadScope(RunEnv& env, const std::string& role, std::uint64_t index, std::size_t slot, bool count_events = true);
        ~ThreadScope();
        ThreadScope(const ThreadScope&) = delete;
        ThreadScope& operator=(const ThreadScope&) = delete;

    private:
        RunEnv* env_;
        std::size_t rec_;
        std::unique_ptr<Papi::Thread> papi_;
        std::vector<unsigned char> old_mask_;
    };
    /// For pool workers (threads the pool owns): the scope lives until the thread exits.
    void enter_pool_thread(const std::string& role, std::uint64_t index, std::size_t slot);

    /// Brackets the measured phase: wall time, rusage and allocations.
    /// `threads` is the point's own threads. begin() first starts
    /// params.contend busy neighbours (role "neighbour", CPU-bound
    /// arithmetic that nothing checks) on pinning slots threads ..
    /// threads + contend - 1, so the pin policy places them like any other
    /// thread, then waits until every thread has entered its scope (pinned
    /// and recorded), so no set-up work leaks into the phase. end() closes
    /// the phase, then stops and joins the neighbours.
    void begin(std::size_t threads);
    void end() noexcept;

    [[nodiscard]] double seconds() const noexcept { return static_cast<double>(t1_ - t0_) * 1e-9; }
    /// now_ns() at begin(): the time origin of the repetition's time series.
    [[nodiscard]] std::uint64_t begin_ns() const noexcept { return t0_; }
    [[nodiscard]] const ThreadBook& book() const noexcept { return book_; }
    /// getrusage(RUSAGE_SELF) over the phase, less the neighbours' CPU time
    /// (their thread CPU clocks over the phase); their context switches and
    /// page faults, which no clock of another thread gives, stay in.
    [[nodiscard]] Usage usage() const noexcept {
        Usage u = u1_ - u0_;
        u.cpu_seconds -= neighbour_cpu_seconds_;
        return u;
    }
    [[nodiscard]] std::optional<std::uint64_t> allocations() const noexcept {
        if (!a0_ || !a1_) return std::nullopt;
        return *a1_ - *a0_;
    }

private:
    void stop_neighbours() noexcept;
    /// The neighbours' CPU time so far (their thread CPU clocks), in seconds.
    [[nodiscard]] double neighbours_cpu_now() noexcept;

    const Pinner* pinner_;
    Papi* papi_;
    ThreadBook book_;
    Fault fault_;
    std::uint64_t slowdown_;
    std::uint64_t t0_ = 0, t1_ = 0;
    Usage u0_, u1_;
    std::optional<std::uint64_t> a0_, a1_;
    // The busy neighbours (--contend): started by begin(), stopped by end().
    // neighbour_stop_: (A) relaxed store by the owner in stop_neighbours(),
    // (B) relaxed loads in the neighbours' loops; it only ends a loop whose
    // results nobody reads, and join() orders everything after it.
    std::vector<std::thread> neighbours_;
    std::atomic<bool> neighbour_stop_{false};
    double neighbour_cpu0_ = 0;          // their CPU time at begin()
    double neighbour_cpu_seconds_ = 0;   // over the phase (set by end())
};

/// How many handoffs one round of a scenario makes (items change hands
/// between threads once per handoff): the divisor of the per-handoff costs
/// and the floor's items per handoff.
enum class HandoffRule {
    none,                   // one thread: nothing is handed over (ring)
    producers,              // every producer hands its ring on once per round
    producers_and_mergers,  // two stages: P stage-1 rings and M stage-2 rings per round (pipeline)
    items,                  // a queue: every item is handed over on its own (baselines)
};
const char* to_string(HandoffRule r) noexcept;
/// Handoffs per round of a point with parameters `p` under rule `r`.
std::uint64_t handoffs_per_round(HandoffRule r, const Params& p) noexcept;

/// The floor a scenario's time per item is divided by (SCHEMA.md,
/// floor_multiples).
enum class FloorKind {
    none,          // no floor defined (why: ScenarioFacts::floor_note)
    masked_store,  // one thread pushing: the masked-store rate
    handoff,       // rings handed over: 2 line transfers per handoff
};
const char* to_string(FloorKind f) noexcept;

/// A value of a contender's configuration, recorded per point in `config`
/// (a report picks each contender's best configuration by it).
enum class ConfigValue {
    capacity_items,  // ring or queue capacity: params.ring_size
    batch_items,     // items a producer hands over at once: params.batch (a queue's bulk call),
                     // else the round size items / (producers x rounds)
};
const char* to_string(ConfigValue c) noexcept;
std::uint64_t config_value(ConfigValue c, const Params& p) noexcept;

/// What a scenario is, declared once on the scenario: `list` prints it,
/// every point records it (`facts`, `config`), and the runner derives the
/// handoff counts and the floor from it. Plain data; a new scenario fills
/// one in (harness/README.md, "How to add a scenario").
struct ScenarioFacts {
    std::string name;
    std::string description;
    std::string contender;          // "spill", or the queue it measures ("mutex_deque", "moodycamel", ...)
    std::string job;                // who hands items to whom: "1 thread", "P->1", "P->M", "pipeline" (a point
                                    // with one producer records "P->1" as "1->1": job_of())
    bool hands_rings = false;       // producers hand whole rings to a collector
    bool handoff_stats = false;     // each repetition records a `handoff` block (RepResult::handoff; checked)
    std::vector<std::string> roles; // thread roles, in pinning-slot order ("producer", "consumer", "owner", "merger", "stage2")
    ParamUse sweeps;                // which grid parameters it reads
    bool ordered = false;           // checks exact global order
    HandoffRule handoffs = HandoffRule::none;
    FloorKind floor = FloorKind::none;
    std::string floor_note;         // why there is no floor, when floor is none
    std::vector<ConfigValue> config;  // what makes up the contender's configuration
};

/// The job of a point: the scenario's job with the producer count filled in
/// where it is 1 ("P->1" with one producer is "1->1").
std::string job_of(const ScenarioFacts& f, const Params& p);

/// A workload. Cold-path interface: one virtual call per repetition. Its
/// facts are data given at construction.
class Scenario {
public:
    explicit Scenario(ScenarioFacts facts) : facts_(std::move(facts)) {
        // --consumer-alone needs a consumer thread to give a CPU of its own.
        facts_.sweeps.consumer_alone = std::find(facts_.roles.begin(), facts_.roles.end(), consumer_role) != facts_.roles.end();
    }
    virtual ~Scenario() = default;
    Scenario(const Scenario&) = delete;
    Scenario& operator=(const Scenario&) = delete;

    [[nodiscard]] const ScenarioFacts& facts() const noexcept { return facts_; }
    [[nodiscard]] const std::string& name() const noexcept { return facts_.name; }
    /// Empty if the scenario can run; otherwise why not (a dependency that
    /// was missing at build time). Sweeps skip such scenarios with a notice.
    [[nodiscard]] virtual std::string unavailable() const { return {}; }
    /// Empty if the scenario runs the point `p`; otherwise one line naming
    /// the value it cannot run (a queue that refuses the batch or the
    /// producer count, a round larger than the ring). The plan skips such a
    /// point with a note, or refuses a command line whose every point is
    /// refused (harness/README.md).
    [[nodiscard]] virtual std::string refusal(const Params&) const { return {}; }
    /// Runs one repetition; calls env.begin()/env.end() around the measured phase.
    virtual RepResult run(RunEnv& env) const = 0;

private:
    ScenarioFacts facts_;
};

/// Every registered scenario, in listing order.
const std::vector<std::unique_ptr<Scenario>>& registry();
const Scenario* find_scenario(const std::string& name);

/// Adds a file's scenarios to the registry. A scenario file ends with
///     const ScenarioRegistration registered(add_my_scenarios, rank);
/// and nothing else in the harness names it: registry() lists the files'
/// scenarios by rank (then in the order each file adds them).
using AddScenarios = void (*)(std::vector<std::unique_ptr<Scenario>>& out);
struct ScenarioRegistration {
    ScenarioRegistration(AddScenarios add, int rank);
};

/// Runs `f(std::integral_constant<std::size_t, N>{})` for the compiled ring
/// size N == n (64 .. 65536, powers of two). n was validated by expand().
template <class F>
decltype(auto) with_ring_size(std::uint64_t n, F&& f) {
    switch (n) {
        case 64: return f(std::integral_constant<std::size_t, 64>{});
        case 128: return f(std::integral_constant<std::size_t, 128>{});
        case 256: return f(std::integral_constant<std::size_t, 256>{});
        case 512: return f(std::integral_constant<std::size_t, 512>{});
        case 1024: return f(std::integral_constant<std::size_t, 1024>{});
        case 2048: return f(std::integral_constant<std::size_t, 2048>{});
        case 4096: return f(std::integral_constant<std::size_t, 4096>{});
        case 8192: return f(std::integral_constant<std::size_t, 8192>{});
        case 16384: return f(std::integral_constant<std::size_t, 16384>{});
        case 32768: return f(std::integral_constant<std::size_t, 32768>{});
        case 65536: return f(std::integral_constant<std::size_t, 65536>{});
        default: break;
    }
    check_ring_size(n);  // throws InputError naming n
    return f(std::integral_constant<std::size_t, 64>{});  // unreachable
}

}  // namespace spill::bench

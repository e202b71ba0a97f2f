// spill/worker_pool.hpp: the thread-per-core worker pool.
//
// One persistent thread per worker. Each round, the owner stores the round's
// arguments, raises every worker's `go`, and the workers run the task into
// their own active ring (no sharing while producing), then publish that ring
// through their HandoffSlot (handoff.hpp) and raise `done`. A collector
// (the owner through collect(), a FanInSpout, or MergerHandles on other
// threads) takes published rings, drains them, and gives the empty ring back
// in the same atomic step. After construction nothing on this path allocates.
//
// Backpressure (docs/design.md, section 8) is structural; each layer has its valve:
//
//     output spout slow
//       -> collect() runs less often / takes longer
//         -> slots stay FRESH (the last batch was not taken)
//           -> at publish the worker takes that batch back and merges its new
//              items after the old ones (merge back)
//             -> the merged ring fills to capacity
//               -> the ring evicts its oldest items into the worker's overflow spout
//
//     | layer                        | valve                                  |
//     |------------------------------|----------------------------------------|
//     | SpillRing full               | evicts the oldest into the overflow    |
//     | slot still FRESH at publish  | merge back into the uncollected batch  |
//     | collector slower than workers| fewer, larger batches per collect()    |
//     | output spout (I/O)           | whatever it does: block, buffer, fail  |
//
// Nothing is lost on any path: produced == delivered + overflowed, and each
// worker's items stay in push order in both streams (stats() counts merges).
//
// Atomics between the owner and worker w (each pair labelled):
//   (A) owner: signal.go.publish(round) (a release store, N1 in
//       detail/wait.hpp) publishes signal.args (the round's arguments, copied
//       or pointed to) and signal.stop; paired with (B) worker:
//       await_change(go), an acquire load (W1 or W3).
//   (C) worker: signal.done.publish(round) publishes the worker's stats,
//       error and its handoff (P3, P4); paired with (D) owner:
//       await_value(done), an acquire load.
//   (S1) worker: started_.fetch_add(release), once, after its start hook
//       and after touching its rings (await_ready() waits for it too),
//       publishes its CPU set (cpus_[1 + w]); paired with (S2) owner:
//       started_.load(acquire) at the first dispatch, which then writes each
//       worker's WaitPlacement before (A) publishes round 1.
//   Each wait spins for a budget measured in time, then parks on a futex;
//   the protocol that keeps a wake-up from being lost is in detail/wait.hpp.
//   The ring transfers (P1..P4, C1..C3) are described in handoff.hpp.
//   Steps in the model (tests/model/handoff.pml): (A) own_go, (B) wrk_go,
//   (C) wrk_done, (D) own_done.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/config.hpp"
#include "detail/sde.hpp"
#include "detail/wait.hpp"
#include "fan_in.hpp"
#include "merger.hpp"
#include "handoff.hpp"
#include "spill_ring.hpp"
#include "spout.hpp"

namespace spill {

/// One worker's failure in one round: which worker, which round, and what it threw.
///
///     for (const spill::WorkerFailure& f : error.failures())
///         std::fprintf(stderr, "worker %zu, round %llu\n", f.worker, (unsigned long long)f.round);
struct WorkerFailure {
    std::size_t worker;
    std::uint64_t round;
    std::exception_ptr error;
};

/// Thrown by join()/run() when at least one worker's task threw. The pool is
/// still usable, and every item pushed before the throw was still published.
/// `what()` names the first failed worker, its round and its message.
///
///     try {
///         pool.run(args);
///     } catch (const spill::WorkerError& e) {
///         log(e.what());                 // "worker 1 failed in round 7: ..."
///         pool.collect(out);             // the items pushed before the throw are there
///     }
class WorkerError : public std::runtime_error {
public:
    explicit WorkerError(std::vector<WorkerFailure> failures)
        : std::runtime_error(describe(failures)), failures_(std::move(failures)) {}
    [[nodiscard]] const std::vector<WorkerFailure>& failures() const noexcept { return failures_; }

private:
    static std::string describe(const std::vector<WorkerFailure>& f) {
        std::string msg = "worker " + std::to_string(f.front().worker) + " failed in round " + std::to_string(f.front().round);
        try {
            std::rethrow_exception(f.front().error);
        } catch (const std::exception& e) {
            msg += ": ";
            msg += e.what();
        } catch (...) {
            msg += ": non-standard exception";
        }
        if (f.size() > 1) msg += " (and " + std::to_string(f.size() - 1) + " more failures)";
        return msg;
    }
    std::vector<WorkerFailure> failures_;
};

/// Per-worker counters. Written by the worker; read them when no round is in flight.
///
///     pool.run(args);                                   // joined: stats are stable
///     const spill::WorkerStats& s = pool.stats(0);
///     double merge_rate = double(s.merge_backs) / double(s.rounds);
///
/// Events are counted in plain names (`publishes`, `merge_backs`), items in
/// names that end in `_items`. publishes == recycle_hits + merge_backs.
struct WorkerStats {
    std::uint64_t rounds = 0;        ///< rounds this worker ran
    std::uint64_t failures = 0;      ///< rounds whose task threw
    std::uint64_t publishes = 0;     ///< rounds that handed a batch to the slot (any path; empty rounds do not)
    std::uint64_t recycle_hits = 0;  ///< publishes that found a recycled (collected) ring waiting in the slot
    std::uint64_t merge_backs = 0;   ///< publishes that found their last batch uncollected (merged into it, or spilled it)
    std::uint64_t merged_items = 0;  ///< items appended behind an uncollected batch at publish
    std::uint64_t occupancy_sum_items = 0;   ///< items in the slot's batch right after each publish, summed
    std::uint64_t occupancy_max_items = 0;   ///< largest such occupancy (at most the ring capacity)
    std::uint64_t occupancy_last_items = 0;  ///< occupancy after the latest publish (the worker may read it during its next round)
    /// The worker's waits for its next round (not the wait for the first
    /// round, which includes start-up, nor the one in progress).
    WaitStats wait;
};

/// Collector-side counters of one slot: every batch taken from it is one
/// handoff. Written by the slot's collector only (collect(), a fan-in or a
/// MergerHandle); read them when no collector runs.
///
///     const spill::HandoffStats& h = pool.handoff_stats(0);
///     double items_per_handoff = double(h.items) / double(h.takes);
struct HandoffStats {
    std::uint64_t takes = 0;      ///< batches taken (handoffs)
    std::uint64_t items = 0;      ///< items in them, summed
    std::uint64_t max_items = 0;  ///< largest batch
    std::uint64_t streamed = 0;   ///< batches their worker was told to stream to memory (PoolBuilder::streaming)
    std::uint64_t stream_trials = 0;    ///< trials of the other way an adaptive choice made (detail/stream.hpp)
    std::uint64_t stream_switches = 0;  ///< trials after which it changed the way
    /// Batches by size: entry b counts batches of n items with bit_width(n) == b
    /// (entry 0: empty batches, 1: one item, 2: 2..3, 3: 4..7, ...).
    std::array<std::uint64_t, 65> by_log2{};

    void record(std::uint64_t n) noexcept {
        ++takes;
        items += n;
        max_items = std::max(max_items, n);
        ++by_log2[static_cast<std::size_t>(std::bit_width(n))];
        detail::sde_took(n);  // the calling thread's takes (detail/sde.hpp; nothing when off)
    }
};

/// The thread-per-core pool. Build it with `spill::pool<T, N>(workers)...spawn<A>(task)`.
///
///     auto pool = spill::pool<int, 1024>(4).spawn<int>(
///         [](auto& ring, std::size_t worker, const int& n) {
///             for (int i = 0; i < n; ++i) ring.push(i);
///         });
///     spill::CollectSpout<int> out;
///     pool.run(100);          // or: pool.dispatch(100); pool.collect(out); pool.join();
///     pool.collect(out);      // 400 items
///
/// T item type; N ring capacity (power of two); S per-worker overflow spout;
/// F task, called as `f(ring_type& ring, std::size_t worker, const A& args)`;
/// A round arguments.
template <class T, std::size_t N, class S, class F, class A>
class WorkerPool {
public:
    using value_type = T;
    using args_type = A;
    using overflow_type = S;
    using batch_type = detail::Batch<T, N, S>;
    using ring_type = typename batch_type::ring_type;
    using slot_type = HandoffSlot<batch_type>;
    /// Small trivially copyable arguments travel in the worker's `go` line
    /// (one line transfer per round); others by pointer to the pool's copy.
    static constexpr bool inline_args = std::is_trivially_copyable_v<A> && std::is_default_constructible_v<A> &&
                                        std::is_copy_assignable_v<A> &&
                                        sizeof(A) <= (cache_line - sizeof(detail::WaitWord) - alignof(std::uint64_t)) / rounds_in_flight &&
                                        alignof(A) <= alignof(std::uint64_t);
    using signal_type = WorkerSignal<std::conditional_t<inline_args, A, const A*>, slot_type>;
    static_assert(offsetof(signal_type, done) == cache_line && sizeof(signal_type) == 2 * cache_line,
                  "the round arguments must fit the owner's line of the signal, and the handoff slot the worker's");
    static_assert(offsetof(signal_type, handoff) >= cache_line && offsetof(signal_type, handoff) + sizeof(slot_type) <= 2 * cache_line,
                  "the handoff slot shares the worker's line with `done`");

    struct Config {
        std::size_t workers = 1;
        std::function<S(std::size_t)> make_overflow;
        std::function<void(std::size_t)> on_worker_start;
        std::uint64_t spin_limit_ns = detail::SpinBudget::adaptive;
        bool time_waits = false;
        std::size_t rounds_ahead = 0;  ///< 1 or 2; 0: decided at the first dispatch (PoolBuilder::rounds_ahead)
        Streaming streaming = Streaming::adaptive;  ///< PoolBuilder::streaming
    };

    WorkerPool(Config cfg, F task) : task_(std::move(task)), spin_limit_ns_(cfg.spin_limit_ns), time_waits_(cfg.time_waits) {
        if (cfg.workers == 0) throw std::invalid_argument("spill::WorkerPool: workers must be at least 1, got 0");
        if (cfg.rounds_ahead > rounds_in_flight)
            throw std::invalid_argument("spill::WorkerPool: rounds_ahead must be 1.." + std::to_string(rounds_in_flight) +
                                        " (or 0: decided at the first dispatch), got " + std::to_string(cfg.rounds_ahead));
        owner_.ahead = cfg.rounds_ahead;
        owner_.budget = detail::make_spin_budget(spin_limit_ns_);
        // await_merge's bounds. The calibration is measured here (once per
        // process), not at the first collect that meets a merge, where a
        // pool with a fixed spin_limit would pay it (threads, allocations,
        // milliseconds) in the middle of a round.
        const WaitCalibration& calibration = wait_calibration();
        merge_limit_ns_ = spin_limit_ns_ != detail::SpinBudget::adaptive ? spin_limit_ns_ : calibration.ceiling_ns;
        merge_pause_ns_ = std::min(merge_limit_ns_, calibration.floor_ns);
        cpus_.resize(cfg.workers + 1);  // [0] the owner's, [1 + w] worker w's: written once, at start
        static_cast<void>(sde::register_events());  // once per process (detail/sde.hpp; nothing when off)
        owner_.wait.timed = time_waits_;
        workers_.reserve(cfg.workers);
        for (std::size_t w = 0; w < cfg.workers; ++w) {
            workers_.push_back(std::make_unique<Worker>(make_overflow(cfg, w)));
            // Items that cannot stream are always written through the cache, and nothing is measured.
            workers_.back()->chooser.mode = detail::streamable<T> ? cfg.streaming : Streaming::never;
        }
        for (auto& w : workers_) {
            w->signal.handoff.word.store(slot_type::recycled(w->rings[1].get()), std::memory_order_relaxed);  // before any thread exists
            w->active = w->rings[0].get();
            w->front = w->rings[2].get();
            w->handed_back = w->rings[1].get();  // what the slot holds: as if a take had handed it back
            for (const auto& r : w->rings) w->ring_xor ^= reinterpret_cast<std::uintptr_t>(r.get());
        }
        try {
            for (std::size_t w = 0; w < workers_.size(); ++w)
                workers_[w]->thread = std::thread([this, w, hook = cfg.on_worker_start] { worker_main(w, hook); });
        } catch (...) {
            stop_threads();
            throw;
        }
    }

    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /// Finishes an in-flight round (its failures are dropped: a destructor
    /// cannot report them), stops the threads, and flushes every remaining
    /// item into its worker's overflow spout, oldest first: the collector's
    /// undelivered items, then the published batch, then the active ring
    /// (rings never discard). Aborts with a message if a FanInSpout or
    /// MergerHandle still refers to the pool.
    ~WorkerPool() {
        if (const int live = handles_.load(std::memory_order_acquire); live != 0) {
            std::fprintf(stderr, "spill::WorkerPool destroyed while %d FanInSpout/MergerHandle still refer to it\n", live);
            std::abort();
        }
        if (in_flight()) wait_for(owner_.round);
        stop_threads();
        // The threads are joined: every ring is ours. Oldest items first.
        for (auto& w : workers_) {
            w->front->ring.flush();  // taken by a collector, not yet delivered
            const std::uintptr_t cur = w->signal.handoff.word.load(std::memory_order_acquire);
            if (slot_type::is_fresh(cur)) slot_type::ring_of(cur)->ring.flush();  // published, not collected
            w->active->ring.flush();  // pushed after the last publish (a task that threw mid-round)
        }
    }

    [[nodiscard]] std::size_t workers() const noexcept { return workers_.size(); }
    [[nodiscard]] static constexpr std::size_t ring_capacity() noexcept { return N; }
    /// Rounds dispatched so far (the sequence number of the latest round).
    [[nodiscard]] std::uint64_t rounds() const noexcept { return owner_.round; }
    /// Whether a dispatched round has not been joined yet.
    [[nodiscard]] bool in_flight() const noexcept { return owner_.round != owner_.joined; }
    /// How many rounds dispatch() lets run before it waits
    /// (PoolBuilder::rounds_ahead); 0 until the first round (dispatch() or
    /// run()) decides it, when the builder did not.
    [[nodiscard]] std::size_t rounds_ahead() const noexcept { return owner_.ahead; }
    /// Who collects from the slots now (none, the owner, a fan-in, mergers).
    [[nodiscard]] Collector collector() const noexcept { return static_cast<Collector>(collector_.load(std::memory_order_acquire)); }

    /// Blocks until every worker thread has started: its start hook returned
    /// and it touched its rings' pages (worker_main). The first dispatch
    /// waits for this anyway; call it before timing the first rounds, to keep
    /// thread start-up and page faults out of them.
    void await_ready() const noexcept {
        while (started_.load(std::memory_order_acquire) != workers_.size()) std::this_thread::yield();  // (S2) sees every (S1)
    }

    /// Starts a round and returns at once. Up to rounds_ahead() rounds
    /// (PoolBuilder::rounds_ahead) run ahead of the owner:
    /// while that many are in flight, dispatch first waits for the oldest
    /// (its failures are kept and reported by the next join()). Each worker
    /// runs its rounds one after another, in order. The pool keeps `args`
    /// until its round is joined, so the workers never read an object the
    /// caller may destroy.
    void dispatch(A args) {
        // (ahead is 0 only before the first dispatch, with nothing in flight.)
        if (in_flight() && owner_.round - owner_.joined >= owner_.ahead) wait_for(owner_.joined + 1);
        std::optional<A>& slot = owned_args_[(owner_.round + 1) % rounds_in_flight];  // its last round is joined
        if constexpr (std::is_move_assignable_v<A>) {
            if (slot) {
                *slot = std::move(args);  // reuses A's storage: no allocation for a steady A
                start_round(&*slot);
                return;
            }
        }
        slot.emplace(std::move(args));  // a type that cannot be assigned is rebuilt in place
        start_round(&*slot);
    }

    /// Waits for every round in flight; throws WorkerError naming every worker
    /// whose task threw since the last join. Without a round in flight it
    /// only reports pending failures.
    void join() {
        if (in_flight()) wait_for(owner_.round);
        if (!failures_.empty()) throw WorkerError(std::exchange(failures_, {}));
    }

    /// dispatch + join, borrowing `args` (it outlives the call).
    void run(const A& args) {
        if (in_flight()) wait_for(owner_.round);
        start_round(&args);
        join();
    }

    /// Moves every item published before the call into `out` and returns how
    /// many; safe while workers run. It takes at most one new batch per
    /// worker: a batch published while it drains is left for the next call,
    /// so the call returns and the owner can dispatch the next round. Items
    /// `out` did not take (it threw, or took a prefix: the spout failure
    /// rule) stay collectable and come first next time.
    /// Throws std::logic_error while another collector owns the slots.
    template <class Out>
    std::size_t collect(Out& out) {
        OwnerCollect guard(*this, "collect");
        return collect_slots(0, 1, out);
    }

    /// Like collect(), but delivers items in (round, worker, push order),
    /// the order of running all rounds one after another on one thread, minus
    /// overflowed items. Items of a round that some worker has not published
    /// yet are held back until it has.
    template <class Out>
    std::size_t collect_ordered(Out& out) {
        OwnerCollect guard(*this, "collect_ordered");
        UnsequencedSink<Out> sink{out};
        return collect_ordered_slots(0, 1, sink);
    }

    /// A spout that drains this pool into `out` on flush() (composable N-to-1 collection).
    /// It owns the slots until it is destroyed.
    template <class Out>
    FanInSpout<WorkerPool, Out> fan_in(Out out) {
        claim(Collector::fan_in, "fan_in");
        try {
            return FanInSpout<WorkerPool, Out>(*this, std::move(out), 0, 1, Collector::fan_in);
        } catch (...) {
            unclaim();
            throw;
        }
    }
    /// A fan-in that submits (sequence, items) to `sink` in sequence order;
    /// sequence = (round - 1) * workers() + worker, dense from 0.
    template <class Sink>
    SequencedFanIn<WorkerPool, Sink> sequenced_fan_in(Sink sink) {
        claim(Collector::sequenced_fan_in, "sequenced_fan_in");
        try {
            return SequencedFanIn<WorkerPool, Sink>(*this, std::move(sink), 0, 1, Collector::sequenced_fan_in);
        } catch (...) {
            unclaim();
            throw;
        }
    }

    /// Partitions the slots round-robin across `m` mergers (merger j owns
    /// workers j, j+m, j+2m...). Each handle is driven from a thread the
    /// caller owns (MPSM). The handles own the slots until the
    /// last of them is destroyed.
    template <class Factory>
    auto split_mergers(std::size_t m, Factory&& sink_factory) {
        return split<false>(m, sink_factory);
    }
    /// Like split_mergers, but each merger submits (sequence, batch) in its
    /// slots' (round, worker) order to its sink, as a SequencedFanIn does;
    /// a SequencedSpout downstream restores the global order.
    template <class Factory>
    auto split_sequenced_mergers(std::size_t m, Factory&& sink_factory) {
        return split<true>(m, sink_factory);
    }

    /// Counters of worker w; valid when no round is in flight.
    [[nodiscard]] const WorkerStats& stats(std::size_t w) const { return workers_.at(w)->stats; }
    /// Handoffs taken from slot w; valid when no collector of that slot runs.
    [[nodiscard]] const HandoffStats& handoff_stats(std::size_t w) const { return workers_.at(w)->taken; }
    /// The owner's waits for rounds to finish (join, run, dispatch of the next round).
    [[nodiscard]] const WaitStats& owner_wait() const noexcept { return owner_.wait; }
    /// How worker `w` waits for its rounds, and how the owner waits for them
    /// to finish: with a pause hint, or yielding the CPU when pool threads may share it (PollMode).
    /// Decided at the first dispatch (all zero before) from where each thread
    /// may run then: pin threads in on_worker_start and before the first dispatch.
    [[nodiscard]] const WaitPlacement& placement(std::size_t w) const { return workers_.at(w)->placement; }
    [[nodiscard]] const WaitPlacement& owner_placement() const noexcept { return owner_placement_; }
    /// Worker w's overflow spout; touch it only when no round is in flight.
    [[nodiscard]] S& overflow(std::size_t w) { return workers_.at(w)->overflow; }

private:
    // ---- collector side, shared by collect(), FanInSpout and MergerHandle ----
    // Private: only the pool's own entry points and the handles it made
    // (which own the slots they drain) may collect, so one collector per slot
    // cannot be bypassed.
    template <class, class, bool>
    friend class detail::FanInBase;

    template <class Out>
    std::size_t collect_slots(std::size_t first, std::size_t stride, Out& out) {
        // Two passes: first take every published ring whose collector front
        // is empty, then drain the fronts. Taking them all before draining
        // any frees every slot at once, so a worker that finishes its next
        // round while the collector still drains another worker's batch
        // publishes into an empty slot instead of merging back behind its
        // own uncollected batch (and, with rounds near the ring's size,
        // overflowing).
        //
        // At most one new batch per worker: a batch published while we drain
        // waits for the next call (unless it sits behind a front left from
        // before, which this call must deliver first). Draining it here
        // instead kept the owner from dispatching while its worker, done
        // with its round, waited for the next: with the workers faster than
        // the collector, one call drained two rounds back to back and the
        // next found nothing. The price: a worker whose next round is
        // already dispatched (rounds_ahead() 2) may finish it before the
        // next call and merge back behind the waiting batch, which taking
        // it at once used to spare it. Measured on a 2-vCPU AMD EPYC VM
        // (family 26) on 2026-11-28, spill-micro binaries before and after
        // run alternately (--benchmark_filter='^(ref_pingpong_pause|
        // ref_round_handoff/batch=(512|4096|16384|65536)/|fanin/spill/
        // P=(1|2|4)/cap=(1024/batch=(256|512)|16384/batch=(4096|16384)|
        // 65536/batch=(32768|65536))/nb=0/(min|consumer))'), in the two
        // pairs where a cache-line ping-pong took under 200 ns: 1 producer,
        // rounds of 65536, 2.90 -> 3.37 G items/s beside a bare round
        // handoff at 3.92; ring 1024, rounds of 512 1.85 -> 2.24 and of 256
        // 1.21 -> 1.56; 2 and 4 producers, paired ratios 0.91-1.33, most
        // within 5% of 1 (one pair, 0.42, straddled a switch of the VM's
        // cross-core latency). Merges per round at 1 producer rose (rounds
        // of 65536: 0.0003-0.0017 -> 0.002-0.009, each of which spills a
        // round at that size; of 256: 0.027 -> 0.06); at 2 and 4 producers
        // they stayed at most 0.0017 (before: up to 0.021, at 4 producers
        // and rounds of 65536).
        for (std::size_t w = first; w < workers_.size(); w += stride) {
            Worker& k = *workers_[w];
            k.behind = !take_fresh(k) && !k.front->ring.empty();
        }
        std::size_t moved = 0;
        for (std::size_t w = first; w < workers_.size(); w += stride) {
            Worker& k = *workers_[w];
            // Older items first; a spout that did not take them all (F2)
            // stops the collection here, so the order is kept.
            if (!k.front->ring.empty() && !drain_front(*k.front, out, moved)) return moved;
            // Then a batch published behind a front left from before.
            if (k.behind && take_fresh(k) && !drain_front(*k.front, out, moved)) return moved;
        }
        return moved;
    }

    template <class Sink>
    std::size_t collect_ordered_slots(std::size_t first, std::size_t stride, Sink& sink) {
        std::size_t moved = 0;
        // Another pass only helps when a worker had a batch waiting behind a
        // front that was not yet delivered (its front is empty after this
        // pass's emission). Polling the slots again otherwise costs a cache
        // line the worker is writing, for nothing.
        for (bool again = true; again;) {
            again = false;
            bool waiting = false;
            std::uint64_t watermark = std::numeric_limits<std::uint64_t>::max();
            std::uint64_t lowest = watermark;
            for (std::size_t w = first; w < workers_.size(); w += stride) {
                Worker& k = *workers_[w];
                refresh_front(k, waiting);
                watermark = std::min(watermark, k.complete);
                lowest = std::min(lowest, k.next_round);
            }
            bool emitted = false;
            // Emit every round <= watermark, worker by worker within a round.
            for (std::uint64_t r = lowest; r <= watermark; ++r) {
                for (std::size_t w = first; w < workers_.size(); w += stride) {
                    Worker& k = *workers_[w];
                    if (k.next_round != r) continue;
                    if (!submit_round(k, (r - 1) * workers_.size() + w, sink, moved)) return moved;  // the sink took a prefix: stop, keep order
                    ++k.next_round;
                    emitted = true;
                }
            }
            again = waiting && emitted;
        }
        return moved;
    }

    // Collector bookkeeping for FanInSpout / MergerHandle (see ~WorkerPool).
    // A handle is created after claim() succeeded; it releases on destruction.
    void acquire_handle() noexcept {
        handles_.fetch_add(1, std::memory_order_relaxed);  // counter only; no data is published
    }
    void release_handle(Collector kind) noexcept {
        if (kind == Collector::mergers || kind == Collector::sequenced_mergers) {
            // acq_rel: the last merger to leave frees the slots; its collects
            // happen-before the next collector's claim (acquire in claim()).
            if (live_mergers_.fetch_sub(1, std::memory_order_acq_rel) == 1) unclaim();
        } else {
            unclaim();
        }
        handles_.fetch_sub(1, std::memory_order_release);  // pairs with the destructor's acquire check
    }


    struct Worker {
        explicit Worker(S spout) : overflow(std::move(spout)) {
            gate.overflow = &overflow;
            gate.on_first_eviction = &WorkerPool::on_first_eviction;
            gate.context = this;
            for (auto& r : rings) r = std::make_unique<batch_type>(gate);
        }

        // Written by the owner (go) and the worker (done, and the handoff
        // slot, which its collector writes too: protocol in handoff.hpp).
        signal_type signal;
        // Worker-owned: touched by the worker thread during a round, by the
        // owner only between rounds (after (D)).
        alignas(cache_line) batch_type* active = nullptr;
        batch_type* emptied = nullptr;  // the uncollected batch the first eviction spilled (word is 0)
        detail::SpinBudget budget;      // the worker's waits for `go`
        WaitPlacement placement;        // written by the owner before (A) of round 1, read by the worker after (B)
        WorkerStats stats;
        [[no_unique_address]] detail::SdeWorker sde{&stats.publishes, &stats.merge_backs, &stats.wait, &gate.overflow_items};
        // Collector-owned: touched only by this slot's collector.
        alignas(cache_line) batch_type* front = nullptr;
        batch_type* handed_back = nullptr;  // the ring the last take gave the worker (take_fresh guesses from it)
        bool behind = false;                // collect_slots: the front held items from before, a batch may wait behind it
        std::uintptr_t ring_xor = 0;        // the three rings' addresses xored: any two give the third
        std::uint64_t complete = 0;    // every item of rounds <= complete is in front or delivered
        std::uint64_t next_round = 1;  // next round to emit on the ordered path
        HandoffStats taken;            // every batch taken from the slot
        detail::StreamChooser chooser;  // how the worker is to write each ring handed back to it (detail/stream.hpp)
        // Cold.
        alignas(cache_line) S overflow;
        detail::OverflowGate<S> gate;          // the rings' spout: forwards to `overflow`
        std::unique_ptr<batch_type> rings[3];  // after `overflow`: destroyed first, flushing into it
        std::thread thread;
    };
    // Each group starts its own cache line: the signal is a cache-line
    // aligned type, and the owner groups are alignas(cache_line).
    static_assert(alignof(Worker) == cache_line);

    /// Owner-written state of the pool: one line of its own, apart from what
    /// the workers read every round (the task, the worker table), so the
    /// owner's per-round stores never take that line from them.
    struct alignas(cache_line) OwnerState {
        std::uint64_t round = 0;   // rounds dispatched
        std::uint64_t joined = 0;  // rounds every worker has finished (and whose failures were taken)
        std::size_t ahead = 0;     // rounds dispatch lets run before it waits: set once (construction or place_threads)
        detail::SpinBudget budget;  // the owner's waits for `done`
        WaitStats wait;
    };

    /// Holds the slots for the owner's collect()/collect_ordered(): another
    /// collector (or the same call from another thread) is refused.
    struct OwnerCollect {
        WorkerPool& pool;
        OwnerCollect(WorkerPool& p, const char* fn) : pool(p) { pool.claim(Collector::owner, fn); }
        ~OwnerCollect() { pool.unclaim(); }
        OwnerCollect(const OwnerCollect&) = delete;
        OwnerCollect& operator=(const OwnerCollect&) = delete;
    };

    /// Takes the slots for `kind`, or throws std::logic_error naming who has them.
    void claim(Collector kind, const char* fn) {
        int expected = static_cast<int>(Collector::none);
        // acquire: the previous collector's work on the rings (released when
        // it let go) happens-before ours.
        if (!collector_.compare_exchange_strong(expected, static_cast<int>(kind), std::memory_order_acquire, std::memory_order_acquire))
            throw std::logic_error(std::string("spill::WorkerPool::") + fn + ": the slots are owned by " +
                                   collector_name(static_cast<Collector>(expected)) +
                                   "; collect through that owner, or destroy it first (one collector per slot)");
    }
    /// Gives the slots back. release: this collector's work on the rings
    /// happens-before the next claim()'s acquire.
    void unclaim() noexcept { collector_.store(static_cast<int>(Collector::none), std::memory_order_release); }

    static S make_overflow(const Config& cfg, std::size_t w) {
        if (cfg.make_overflow) return cfg.make_overflow(w);
        if constexpr (std::is_default_constructible_v<S>) {
            return S{};
        } else {
            throw std::invalid_argument("spill::WorkerPool: the overflow spout type has no default; give the builder an overflow factory");
        }
    }

    template <bool Ordered, class Factory>
    auto split(std::size_t m, Factory& factory) {
        using Out = std::decay_t<std::invoke_result_t<Factory&, std::size_t>>;
        const char* fn = Ordered ? "split_sequenced_mergers" : "split_mergers";
        const Collector kind = Ordered ? Collector::sequenced_mergers : Collector::mergers;
        if (m == 0) throw std::invalid_argument(std::string("spill::WorkerPool::") + fn + ": need at least 1 merger, got 0");
        if (m > workers_.size())
            throw std::invalid_argument(std::string("spill::WorkerPool::") + fn + ": " + std::to_string(m) + " mergers for " +
                                        std::to_string(workers_.size()) + " workers (each merger needs at least one slot)");
        claim(kind, fn);
        std::vector<MergerHandle<WorkerPool, Out, Ordered>> handles;
        try {
            handles.reserve(m);
            for (std::size_t j = 0; j < m; ++j) {
                live_mergers_.fetch_add(1, std::memory_order_relaxed);  // the handle's release decrements it
                try {
                    handles.emplace_back(*this, factory(j), j, m, kind);
                } catch (...) {
                    live_mergers_.fetch_sub(1, std::memory_order_relaxed);
                    throw;
                }
            }
        } catch (...) {
            // The handles built so far release on destruction; with none left, free the slots.
            const bool none_built = handles.empty();
            handles.clear();  // each built handle releases; the last one frees the slots
            if (none_built) unclaim();
            throw;
        }
        return handles;
    }

    void start_round(const A* args) {
        if (owner_.round == 0) place_threads();
        ++owner_.round;
        const auto r32 = static_cast<std::uint32_t>(owner_.round);
        const std::size_t slot = owner_.round % rounds_in_flight;
        for (auto& w : workers_) {
            // The round that last used this slot is joined: no worker reads it.
            if constexpr (inline_args) {
                w->signal.args[slot] = *args;
            } else {
                w->signal.args[slot] = args;
            }
            w->signal.go.publish(r32);  // (A) publishes signal.args[slot] and the round (N1, N2)
        }
    }

    // Decides once, at the first dispatch, how each of the pool's threads
    // polls (detail::wait_placement()): the dispatching thread is
    // the owner, and each worker read its CPUs after its start hook.
    void place_threads() noexcept {
        // Once per pool: the workers record their CPUs as they start, soon
        // after the pool's construction (a start hook must return).
        await_ready();  // (S2) sees every (S1)
        cpus_[0] = detail::CpuSet::of_this_thread();
        owner_placement_ = detail::wait_placement(cpus_, 0);
        owner_.budget.place(owner_placement_.poll);
        bool crowded = owner_placement_.poll == PollMode::yield;
        for (std::size_t w = 0; w < workers_.size(); ++w) {
            workers_[w]->placement = detail::wait_placement(cpus_, 1 + w);  // published by (A)
            crowded = crowded || workers_[w]->placement.poll == PollMode::yield;
        }
        // PoolBuilder::rounds_ahead: with more pool threads than CPUs to run
        // them, a worker that runs ahead takes the CPU its collector needs.
        if (owner_.ahead == 0) owner_.ahead = crowded ? 1 : rounds_in_flight;
    }

    // Waits until every worker finished round `r` (and so every round before
    // it), and takes the failures of the rounds joined.
    void wait_for(std::uint64_t r) noexcept {
        const auto r32 = static_cast<std::uint32_t>(r);
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            Worker& w = *workers_[i];
            detail::await_reached(w.signal.done, r32, owner_.budget, &owner_.wait);  // (D) sees the worker's failures and stats
            for (std::uint64_t k = owner_.joined + 1; k <= r; ++k) {
                const std::size_t slot = k % rounds_in_flight;
                if (!w.signal.error[slot] || w.signal.error_round[slot] != k) continue;
                try {
                    failures_.push_back(WorkerFailure{i, k, std::move(w.signal.error[slot])});
                } catch (...) {
                    // Out of memory while recording a failure: keep the first ones.
                }
                w.signal.error[slot] = nullptr;
            }
        }
        owner_.joined = r;
    }

    static const A& round_args(const Worker& w, std::uint64_t round) noexcept {
        const std::size_t slot = round % rounds_in_flight;
        if constexpr (inline_args) {
            return w.signal.args[slot];
        } else {
            return *w.signal.args[slot];
        }
    }

    void stop_threads() noexcept {
        for (auto& w : workers_) {
            if (!w->thread.joinable()) continue;
            w->signal.stop = true;
            w->signal.go.publish(w->signal.go.value.load(std::memory_order_relaxed) + 1);  // (A) publishes `stop`
        }
        for (auto& w : workers_)
            if (w->thread.joinable()) w->thread.join();
    }

    void worker_main(std::size_t id, const std::function<void(std::size_t)>& hook) {
        detail::sde_enter_worker(&workers_[id]->sde);  // before the hook: a tool may start counting there
        if (hook) hook(id);  // pinning etc.; an exception here terminates (documented on the builder)
        Worker& w = *workers_[id];
        std::uint64_t round = 0;  // rounds started
        std::uint32_t seen = 0;   // the latest `go` seen: the rounds dispatched, up to rounds_in_flight ahead
        // Counted here and copied into the stats before (C): the wait after
        // (C) must not write what the owner may be reading.
        WaitStats waits;
        waits.timed = time_waits_;
        w.budget = detail::make_spin_budget(spin_limit_ns_);
        cpus_[1 + id] = detail::CpuSet::of_this_thread();  // after the hook: where it pinned us
        // First touch of the worker's rings, on its own thread and CPU (after
        // the hook pinned it): their pages come from its NUMA node, and no
        // round pays a page fault. Only the storage bytes are written; a
        // collector polling an empty front reads only its positions.
        for (auto& r : w.rings) r->ring.prefault();
        started_.fetch_add(1, std::memory_order_release);  // (S1) publishes cpus_[1 + id]
        for (;;) {
            // A round already dispatched starts at once; otherwise wait for the next.
            if (static_cast<std::uint32_t>(round) == seen) {
                seen = detail::await_change(w.signal.go, seen, w.budget, round != 0 ? &waits : nullptr);  // (B)
                if (w.signal.stop) return;
            }
            if (round == 0) w.budget.place(w.placement.poll);  // decided before (A) of round 1
            ++round;  // rounds run one after another, in order
            w.gate.armed = true;  // the round's first eviction first spills the uncollected batch
            try {
                std::as_const(task_)(w.active->ring, id, round_args(w, round));  // shared by all workers: called as const
            } catch (...) {
                const std::size_t slot = round % rounds_in_flight;
                w.signal.error[slot] = std::current_exception();
                w.signal.error_round[slot] = round;
                ++w.stats.failures;
            }
            w.gate.armed = false;
            publish(w, round);
            ++w.stats.rounds;
            w.stats.wait = waits;
            w.signal.done.publish(static_cast<std::uint32_t>(round));  // (C) publishes stats, failures and the handoff (N1, N2)
        }
    }

    // Runs at the first eviction of a round from the active ring (the ring is
    // full). If the last batch is still uncollected, every one of its items is
    // older than anything in the active ring, and a merge back at publish time
    // would evict them all (the active ring alone already fills a ring). Take
    // the batch back now and spill it first, so that each worker's overflow
    // stream stays in push order.
    static void on_first_eviction(void* ctx) noexcept {
        Worker& w = *static_cast<Worker*>(ctx);
        std::uintptr_t cur = w.signal.handoff.word.load(std::memory_order_acquire);  // (P1) see publish()
        if (!slot_type::is_fresh(cur)) return;
        // (P2) acq_rel: as in publish(). On failure the collector took the batch: nothing to spill.
        if (!w.signal.handoff.word.compare_exchange_strong(cur, 0, std::memory_order_acq_rel, std::memory_order_acquire)) return;
        batch_type* old = slot_type::ring_of(cur);
        ++w.stats.merge_backs;
        w.gate.overflow_items.add(old->ring.size());
        old->ring.drain_fully(w.overflow);  // oldest first; must not throw (see the builder)
        old->reset();
        w.emptied = old;  // the word stays 0 until publish() puts the active ring there
    }

    // Worker side of the handoff (P1..P4 in handoff.hpp). A task that threw
    // still publishes what it pushed before throwing.
    void publish(Worker& w, std::uint64_t round) noexcept {
        batch_type* a = w.active;
        w.sde.published_items.add(a->ring.size());  // this round's items, whichever path publishes them
        if (w.emptied != nullptr) {
            // The first eviction took the uncollected batch back and spilled it:
            // the word is 0, which only the worker changes (H2). Publish the
            // active ring; the emptied batch becomes the next active ring.
            a->mark_round(round);
            count_publish(w, a->ring.size(), false);  // before (P3): the collector owns `a` after it
            w.signal.handoff.word.store(slot_type::fresh(a), std::memory_order_release);  // (P3) publishes the round
            w.active = std::exchange(w.emptied, nullptr);
        } else if (!a->ring.empty()) {
            a->mark_round(round);
            // (P1) acquire: if the word is a recycled ring, the collector's
            // release in (C3) made its drained state visible to us.
            std::uintptr_t cur = w.signal.handoff.word.load(std::memory_order_acquire);
            bool merged = false;
            if (slot_type::is_fresh(cur)) {
                // (P2) acq_rel on success: ownership of our own earlier publish
                // comes back (acquire); nothing new to publish. On failure the
                // collector took it and left its drained front: acquire makes
                // that ring's state visible.
                if (w.signal.handoff.word.compare_exchange_strong(cur, 0, std::memory_order_acq_rel, std::memory_order_acquire)) {
                    merge_back(w, *slot_type::ring_of(cur), *a, round);
                    count_publish(w, slot_type::ring_of(cur)->ring.size(), false);
                    w.signal.handoff.word.store(cur, std::memory_order_release);  // (P3) publishes the merged ring
                    merged = true;
                }
            }
            if (!merged) {
                // The word is a recycled ring; only the worker changes such a
                // word (H2), so a plain store cannot race.
                count_publish(w, a->ring.size(), true);
                // (P3) release: publishes every item of this round.
                w.signal.handoff.word.store(slot_type::fresh(a), std::memory_order_release);
                w.active = slot_type::ring_of(cur);  // empty and reset by the collector before it recycled it
            }
        }
        // (P4) release: after the word, so a collector that reads this round
        // here also sees the word in which it was published (H4).
        w.signal.handoff.batch_seq.store(round, std::memory_order_release);
    }

    // Occupancy of the batch being published (read before (P3) hands it over).
    static void count_publish(Worker& w, std::size_t items, bool recycle_hit) noexcept {
        ++w.stats.publishes;
        if (recycle_hit) ++w.stats.recycle_hits;
        const auto n = static_cast<std::uint64_t>(items);
        w.stats.occupancy_sum_items += n;
        w.stats.occupancy_max_items = std::max(w.stats.occupancy_max_items, n);
        w.stats.occupancy_last_items = n;
    }

    static void merge_back(Worker& w, batch_type& old, batch_type& fresh_items, std::uint64_t round) noexcept {
        const std::size_t n = fresh_items.ring.size();
        // The old batch keeps its older items in front; new ones go behind. If
        // it fills, its oldest items evict into the overflow spout (they are
        // older than any item of this round, so the overflow stream stays in
        // push order). A throwing overflow spout would lose the merge, so its
        // exception terminates: the overflow spout of a pool must not throw.
        fresh_items.ring.drain_fully(old.ring);
        old.mark_round(round);
        fresh_items.reset();
        ++w.stats.merge_backs;
        w.stats.merged_items += n;
    }

    // Takes worker k's published ring into its collector front when that
    // front is empty, handing the empty front back in the same step. False
    // when nothing was taken (a non-empty front, nothing published, or a
    // merge back that outlasted await_merge).
    //
    // It first guesses the word: the worker publishes the one ring that is
    // neither our front nor the ring we handed it last (H1), and a CAS from
    // that guess (C2 and C3 in one step, acq_rel as C3; a failure reads the
    // word as C2) takes the batch at once. A load first would fetch the
    // line shared and the CAS then fetch it again to own it: one more
    // transfer between the two cores every round. A wrong guess (nothing
    // published yet, a merge in progress, a ring order a spill changed)
    // only costs the CAS, and the word it read goes the usual way.
    bool take_fresh(Worker& k) {
        batch_type* f = k.front;
        if (!f->ring.empty()) return false;
        f->reset();  // empty: hand it back ready to fill (if no take follows, it stays ours, empty)
        std::uintptr_t cur = slot_type::fresh(third_ring(k));
        if (!cas_front(k, *f, cur)) {  // (C2, C3) on the guess; a failure read the word (C2)
            if (cur == 0) cur = await_merge(k);
            if (!slot_type::is_fresh(cur)) return false;  // nothing published
            if (!swap_front(k, *f, cur)) return false;
        }
        adopt_front(k, cur);
        return true;
    }

    // After a successful take (C3) of the fresh word `cur`: its ring becomes
    // k's front, counted, its head asked for; the worker's StreamChooser
    // learns how it was written and when it came.
    static void adopt_front(Worker& k, std::uintptr_t cur) noexcept {
        k.front = slot_type::ring_of(cur);
        const std::size_t n = k.front->ring.size();
        const bool streamed = k.front->ring.streams_writes();
        k.taken.record(n);
        if (streamed) ++k.taken.streamed;
        if (k.chooser.took(streamed, n, [] { return detail::stream_ticks(); })) {  // a trial was decided
            k.taken.stream_trials = k.chooser.trials;
            k.taken.stream_switches = k.chooser.switches;
        }
        prefetch_front(*k.front);
    }

    // Asks for the head of a batch just taken (detail::prefetch_head): the
    // worker's core wrote it, so the first lines come from its cache.
    // Measured on a 2-vCPU AMD EPYC VM (family 26) on 2026-11-27: spill-micro
    // binaries without and with it, run alternately in two sets of six pairs
    // (--benchmark_filter='^(ref_pingpong_pause|fanin/spill/P=1/cap=(1024/
    // batch=512|16384/batch=4096|65536/batch=32768)/nb=0/min)', then
    // '^(ref_pingpong_pause|fanin/spill/P=1/cap=1024/batch=(256|512)/nb=0/min|
    // fanin/spill/P=2/cap=1024/batch=512/nb=0/min|fanin/spill/P=1/cap=65536/
    // batch=65536/nb=0/min)'). In the ten pairs where the cache-line
    // ping-pong took 460-530 ns: 1 producer, ring 1024, rounds of 512
    // 416-439 -> 479-503 M items/s, rounds of 256 245-261 -> 275-297; 2
    // producers at 512 270-286 -> 262-300; ring 16384 at 4096 and 65536 at
    // 32768 and 65536 within 2%. In the two where it took 75-91 ns: ring
    // 1024, 1.75 -> 1.87 G items/s (512) and 1.12 -> 1.22 (256), but 65536
    // at 32768 2.91 -> 2.67. (On a family 25 EPYC VM the same hint had
    // measured 0.82-1.22x at 1 producer, no steady change.)
    static void prefetch_front(batch_type& f) noexcept {
        const std::span<T> head = f.ring.spans().first;
        detail::prefetch_head(head.data(), head.size_bytes());
    }

    // (C3) CAS of the fresh word `cur` to our empty front `f`, acq_rel:
    // acquire takes the worker's writes into the fresh ring (paired with
    // P3's release); release hands over `f`, which the worker will fill next
    // (paired with P1/P2's acquire). On success `cur` is the word taken and
    // `f` is the ring handed back last (third_ring()); on failure `cur` is
    // the word found, read with acquire as (C2).
    // Before the CAS, `f` is marked with the way the worker is to write it
    // (StreamChooser): the mark travels with the ring, published by the
    // CAS's release.
    static bool cas_front(Worker& k, batch_type& f, std::uintptr_t& cur) noexcept {
        f.ring.stream_writes(k.chooser.streams_next());
        if (!k.signal.handoff.word.compare_exchange_strong(cur, slot_type::recycled(&f), std::memory_order_acq_rel,
                                                 std::memory_order_acquire))
            return false;
        k.handed_back = &f;
        k.chooser.handed();
        return true;
    }

    // cas_front on the fresh word `cur` just read. A failure means the
    // worker took the batch back to merge after our load (P2): wait for that
    // merge once and try again; if it merged again behind our back, the next
    // collect takes it.
    bool swap_front(Worker& k, batch_type& f, std::uintptr_t& cur) const noexcept {
        return cas_front(k, f, cur) || (slot_type::is_fresh(cur = await_merge(k)) && cas_front(k, f, cur));
    }

    // The ring that is neither k's front nor the one last handed back: the
    // worker's active ring, which it publishes next (H1). From the
    // collector's own line (k.rings shares one with what the worker writes).
    static batch_type* third_ring(const Worker& k) noexcept {
        return reinterpret_cast<batch_type*>(k.ring_xor ^ reinterpret_cast<std::uintptr_t>(k.front) ^
                                             reinterpret_cast<std::uintptr_t>(k.handed_back));
    }

    // Worker k's word is 0: it took its uncollected batch back to merge this
    // round's items behind it (P2), a copy of at most N items, and publishes
    // it again when done (P3). Polls the word for up to the longest the
    // pool's waits ever spin before they park (the calibrated ceiling, or the
    // builder's spin_limit), and returns it (acquire, as C2): with a pause
    // hint for the calibrated floor, then by yielding the CPU, which the
    // worker may be waiting for when it shares ours (the collector may be any
    // thread, so its placement is not known here). Without this wait, a
    // collector whose collect comes round just as the worker merges again
    // misses the batch every time, the worker merges round after round into
    // the same batch, and once it is full every round's items are evicted.
    // A word still 0 after the wait (the worker spilled its batch at its
    // round's first eviction and publishes at the round's end) is left to
    // the next collect.
    std::uintptr_t await_merge(Worker& k) const noexcept {
        const std::uint64_t start = detail::wait_clock_ns();
        const std::uint64_t pause_until = start + merge_pause_ns_;
        const std::uint64_t give_up = start + merge_limit_ns_;
        std::uintptr_t cur = 0;
        for (std::uint64_t now = start;; now = detail::wait_clock_ns()) {
            if (now < pause_until) {
                detail::cpu_relax();
            } else {
                std::this_thread::yield();
            }
            cur = k.signal.handoff.word.load(std::memory_order_acquire);  // (C2)
            if (cur != 0 || now >= give_up) return cur;
        }
    }

    // Drains the collector's front into `out`; false when `out` took only a
    // prefix (F2), so the caller stops and keeps the order.
    // An emptied front keeps stale segments until reset() (they all end at
    // or before its head, so an ordered collect would prune them); a front
    // left non-empty is pruned now, even if `out` throws.
    template <class Out>
    static bool drain_front(batch_type& f, Out& out, std::size_t& moved) {
        struct Prune {
            batch_type& f;
            ~Prune() {
                if (!f.ring.empty()) f.segments.prune(f.ring.head_position());
            }
        } prune{f};
        moved += f.ring.drain(out);
        return f.ring.empty();
    }

    // Ordered path: offers the front's items of the worker's next round to
    // `sink` as sequence `seq`, in at most two spans (the round's items may
    // wrap around the ring's storage), the last one flagged. Returns false
    // when the sink took only a prefix: the rest stays in front, and the next
    // call offers it again as the rest of the same batch.
    template <class Sink>
    static bool submit_round(Worker& k, std::uint64_t seq, Sink& sink, std::size_t& moved) {
        batch_type& f = *k.front;
        f.segments.prune(f.ring.head_position());
        std::size_t n = 0;
        if (!f.segments.empty() && f.segments.front().round == k.next_round)
            n = static_cast<std::size_t>(f.segments.front().end - f.ring.head_position());
        auto [a, b] = f.ring.spans();
        std::span<T> first = a.first(std::min(n, a.size()));
        std::span<T> second = b.first(n - first.size());
        const std::size_t took = sink.submit(seq, first, second.empty());  // throws => nothing taken
        f.ring.consume(took);
        moved += took;
        if (took < first.size()) return false;
        if (second.empty()) return true;
        const std::size_t took2 = sink.submit(seq, second, true);
        f.ring.consume(took2);
        moved += took2;
        return took2 == second.size();
    }

    // Ordered path: take the fresh batch if the front is fully delivered, and
    // advance `complete` (see H4). Sets `waiting` when a fresh batch stays
    // behind an undelivered front. Returns whether anything changed.
    bool refresh_front(Worker& k, bool& waiting) {
        batch_type& f = *k.front;
        f.segments.prune(f.ring.head_position());
        const std::uint64_t before = k.complete;
        const std::uint64_t published = k.signal.handoff.batch_seq.load(std::memory_order_acquire);  // (C1)
        std::uintptr_t cur = k.signal.handoff.word.load(std::memory_order_acquire);                 // (C2)
        // A merge back in progress (word 0) or one that began after our load
        // (a lost take): wait for it, as take_fresh does, when we could take.
        // The word read later is newer still, so H4 holds for `published`.
        if (cur == 0 && f.ring.empty()) cur = await_merge(k);
        if (slot_type::is_fresh(cur)) {
            waiting = waiting || !f.ring.empty();
            if (f.ring.empty()) f.reset();  // hand it back ready to fill (if the take below wins)
            if (f.ring.empty() && swap_front(k, f, cur)) {  // (C3)
                adopt_front(k, cur);
                k.complete = std::max(k.complete, published);
                if (!k.front->segments.empty()) k.complete = std::max(k.complete, k.front->segments.back().round);
                return true;
            }
        } else if (cur != 0) {
            // Nothing pending: every round up to `published` is in front or delivered.
            k.complete = std::max(k.complete, published);
        }
        // A round is never split across batches, so the newest round in the
        // front is complete whatever the word says.
        if (!f.segments.empty()) k.complete = std::max(k.complete, f.segments.back().round);
        return k.complete != before;
    }

    // Read by every worker every round, written only at construction: its own lines.
    F task_;
    std::uint64_t spin_limit_ns_;
    std::uint64_t merge_limit_ns_ = 0;  // await_merge polls this long at most (the ceiling, or the fixed spin_limit)
    std::uint64_t merge_pause_ns_ = 0;  // with a pause hint for this long (the floor, at most the limit), then yielding
    bool time_waits_;
    std::vector<std::unique_ptr<Worker>> workers_;
    // Owner-written, every round.
    OwnerState owner_;
    // Owner-written, cold.
    alignas(cache_line) std::optional<A> owned_args_[rounds_in_flight];  // a dispatched round's arguments, slot round % rounds_in_flight
    std::vector<WorkerFailure> failures_;
    // Written by whichever thread claims or releases the slots (handles live on other threads).
    alignas(cache_line) std::atomic<int> collector_{static_cast<int>(Collector::none)};
    std::atomic<int> live_mergers_{0};
    std::atomic<int> handles_{0};
    // Where the threads may run: written once by each thread at start, read by the owner at the first dispatch.
    alignas(cache_line) std::atomic<std::size_t> started_{0};  // workers that recorded their CPUs
    std::vector<detail::CpuSet> cpus_;
    WaitPlacement owner_placement_;
};

/// Builds a WorkerPool. Obtain one with `spill::pool<T, N>(workers)`.
///
///     auto p = spill::pool<int, 256>(2)
///                  .overflow([](std::size_t) { return spill::CountingSpout<>{}; })
///                  .on_worker_start([](std::size_t w) { pin_to_core(w); })
///                  .spawn<int>([](auto& ring, std::size_t, const int& n) { ... });
template <class T, std::size_t N, class S = DropSpout>
class PoolBuilder {
public:
    explicit PoolBuilder(std::size_t workers) { cfg_.workers = workers; }

    /// Per-worker overflow spout: `factory(worker) -> S`. The pool's rings
    /// evict into it; it must not throw (a merge back cannot be undone).
    template <class Factory>
    auto overflow(Factory factory) const {
        using S2 = std::invoke_result_t<Factory&, std::size_t>;
        static_assert(Spout<S2, T>, "the overflow factory must return a spill::Spout of T");
        PoolBuilder<T, N, S2> b(cfg_.workers);
        b.cfg_.on_worker_start = cfg_.on_worker_start;
        b.cfg_.spin_limit_ns = cfg_.spin_limit_ns;
        b.cfg_.time_waits = cfg_.time_waits;
        b.cfg_.rounds_ahead = cfg_.rounds_ahead;
        b.cfg_.streaming = cfg_.streaming;
        b.cfg_.make_overflow = std::move(factory);
        return b;
    }
    /// Runs on each worker thread before its first round (the harness pins
    /// the thread here). It must not throw, and must return: the first
    /// dispatch waits for every worker's hook, then reads where each thread
    /// may run to choose how it waits (WorkerPool::placement()).
    PoolBuilder& on_worker_start(std::function<void(std::size_t)> hook) {
        cfg_.on_worker_start = std::move(hook);
        return *this;
    }
    /// A fixed spin budget: every wait of the pool polls this long before it
    /// parks on a futex (0: park at once). Without it the budget adapts (see
    /// detail/wait.hpp): at least twice what a futex wake-up costs on this
    /// machine (wait_calibration()), and up to twice the length of recent
    /// waits when they are short.
    PoolBuilder& spin_limit(std::chrono::nanoseconds limit) {
        if (limit.count() < 0) throw std::invalid_argument("spill::PoolBuilder::spin_limit: negative limit " + std::to_string(limit.count()) + " ns");
        cfg_.spin_limit_ns = static_cast<std::uint64_t>(limit.count());
        return *this;
    }
    /// Times every wait exactly (WaitStats::spin_ns, block_ns): one more
    /// clock read per wait, between seeing the change and acting on it. For
    /// measurement (spill-bench turns it on), not for latency-critical pools.
    /// The counts are kept either way.
    PoolBuilder& time_waits(bool on = true) {
        cfg_.time_waits = on;
        return *this;
    }
    /// How many rounds dispatch() lets run before it waits for the oldest,
    /// 1 or 2 (rounds_in_flight). Without it the pool decides at its first
    /// dispatch, from where its threads may run (placement()): 1 when more
    /// pool threads than CPUs may share a CPU (some thread polls with
    /// PollMode::yield), 2 otherwise.
    ///  - 2: a worker that finishes round r and finds round r + 1
    ///    dispatched starts it at once, without waiting a round trip for
    ///    it. A collector that falls two rounds behind makes the workers
    ///    merge back (and spill, with rounds near the ring's size).
    ///  - 1: dispatch(r) waits for round r - 1, so an owner that collects
    ///    after each dispatch drains round r - 1 while the workers run round
    ///    r, and a worker that finishes round r finds its slot empty: a
    ///    collector slower than the workers holds them back instead of
    ///    letting them spill. Where pool threads share CPUs, a worker running
    ///    ahead takes the CPU its collector needs, and this is the default.
    PoolBuilder& rounds_ahead(std::size_t n) {
        if (n == 0 || n > rounds_in_flight)
            throw std::invalid_argument("spill::PoolBuilder::rounds_ahead: must be 1.." + std::to_string(rounds_in_flight) + ", got " + std::to_string(n));
        cfg_.rounds_ahead = n;
        return *this;
    }
    /// How the workers write the free runs of their push_n calls: through
    /// the cache, or streamed to memory with non-temporal stores, for the
    /// collector, on another core, to read from there. `adaptive` (the
    /// default): each worker's collector measures how fast rings come both
    /// ways and keeps the faster, trying the other from time to time (which
    /// is faster depends on how far apart the host put the two cores, and
    /// can change while the program runs: detail/stream.hpp). Only
    /// trivially copyable items of whole 8-byte words stream, on x86-64;
    /// other items, push() and builds with AddressSanitizer or
    /// ThreadSanitizer always write through the cache.
    ///
    ///     auto p = spill::pool<std::uint64_t, 65536>(1).streaming(spill::Streaming::never).spawn<int>(task);
    PoolBuilder& streaming(Streaming how) {
        if (how != Streaming::adaptive && how != Streaming::never && how != Streaming::always)
            throw std::invalid_argument("spill::PoolBuilder::streaming: unknown value " + std::to_string(static_cast<int>(how)));
        cfg_.streaming = how;
        return *this;
    }
    /// Starts the threads. The task is called as `f(ring, worker, const A&)`.
    template <class A, class F>
    WorkerPool<T, N, S, std::decay_t<F>, A> spawn(F&& task) const {
        typename WorkerPool<T, N, S, std::decay_t<F>, A>::Config cfg;
        cfg.workers = cfg_.workers;
        cfg.make_overflow = cfg_.make_overflow;
        cfg.on_worker_start = cfg_.on_worker_start;
        cfg.spin_limit_ns = cfg_.spin_limit_ns;
        cfg.time_waits = cfg_.time_waits;
        cfg.rounds_ahead = cfg_.rounds_ahead;
        cfg.streaming = cfg_.streaming;
        return WorkerPool<T, N, S, std::decay_t<F>, A>(std::move(cfg), std::forward<F>(task));
    }

private:
    template <class, std::size_t, class>
    friend class PoolBuilder;
    struct {
        std::size_t workers = 1;
        std::function<S(std::size_t)> make_overflow;
        std::function<void(std::size_t)> on_worker_start;
        std::uint64_t spin_limit_ns = detail::SpinBudget::adaptive;
        bool time_waits = false;
        std::size_t rounds_ahead = 0;
        Streaming streaming = Streaming::adaptive;
    } cfg_;
};

/// Entry point: `spill::pool<T, N>(workers)` returns a PoolBuilder.
template <class T, std::size_t N>
PoolBuilder<T, N> pool(std::size_t workers) {
    return PoolBuilder<T, N>(workers);
}

}  // namespace spill

// harness/src/platform.hpp: what the runner needs from the machine: thread
// pinning (hwloc), consumer delays, always-available counters (getrusage,
// thread CPU clocks, heap allocations), PAPI hardware counters, and the
// metadata that describes the machine and the build.
//
// Nothing here is on a hot path except `busy_wait_ns`, which is the delay the
// user asked for. Callers never see #ifdefs: without hwloc the Pinner is a
// no-op that says why; without PAPI every requested counter is unavailable
// with a reason.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "grid.hpp"
#include "topology.hpp"

namespace spill::bench {

// ---------------------------------------------------------------- delays ----

/// Spins until `ns` nanoseconds have passed (monotonic clock).
void busy_wait_ns(std::uint64_t ns) noexcept;
/// Sleeps (blocks the thread, like waiting on I/O) for `ns` nanoseconds.
void block_ns(std::uint64_t ns) noexcept;
/// Monotonic time in nanoseconds.
std::uint64_t now_ns() noexcept;

/// Process-wide resource usage: getrusage(RUSAGE_SELF) sums every thread of
/// the process, so a delta over the measured phase is the sum over the
/// phase's threads (the scenario's own threads are the only ones running).
struct Usage {
    double cpu_seconds = 0;  // user + system
    std::int64_t voluntary_cs = 0;
    std::int64_t involuntary_cs = 0;
    std::int64_t page_faults = 0;  // minor + major
    static Usage now() noexcept;         // RUSAGE_SELF: every thread of the process
    static Usage this_thread() noexcept; // RUSAGE_THREAD: the calling thread
    Usage operator-(const Usage& o) const noexcept;
};

// --------------------------------------------------------------- pinning ----

/// One thread's placement, as recorded in a point's "threads" array.
struct ThreadRecord {
    std::string role;      // producer | consumer | merger | worker | owner ...
    std::uint64_t index = 0;
    std::size_t slot = 0;  // pinning slot (records are listed in slot order)
    int planned_cpu = -1;  // OS index of the PU it was bound to, -1 if unbound
    int core = -1;         // sched_getcpu() when the thread finished its work
    // getrusage(RUSAGE_THREAD) deltas from the thread's pinning to the end of
    // its work (for pool workers: to their exit, when the pool is destroyed).
    double cpu_seconds = 0;
    std::int64_t voluntary_cs = 0;
    std::int64_t involuntary_cs = 0;
    std::int64_t page_faults = 0;
    bool finished = false;
};

/// Binds threads to processing units by policy. Thread slot k of a point
/// (in the order the scenario asks) gets PU plan[k % PUs]; more threads than
/// PUs is allowed and flagged as oversubscribed.
///
/// The plan is worked out on a topology: this machine's, or another one
/// (`--topology`, spill::measure::Topology) to plan a sweep for hardware that
/// is not here. Only a plan on this machine's topology binds anything.
class Pinner {
public:
    /// On this machine's topology.
    explicit Pinner(PinPolicy policy);
    /// Pins to exactly `cpus` (OS indices, slot k -> cpus[k % size]) instead
    /// of a policy's plan: --placement puts a point's threads on the CPU pair
    /// of a placement class. Needs hwloc (else it does nothing and says why).
    Pinner(PinPolicy policy, const std::vector<int>& cpus);
    /// On `topology` (shared: a run's pinners plan on one topology); with
    /// non-empty `cpus`, on exactly those (as above).
    Pinner(PinPolicy policy, std::shared_ptr<const spill::measure::Topology> topology, const std::vector<int>& cpus = {});
    ~Pinner();
    Pinner(const Pinner&) = delete;
    Pinner& operator=(const Pinner&) = delete;

    /// Binding works: hwloc is there, the topology is this machine's and the
    /// policy is not none.
    [[nodiscard]] bool available() const noexcept { return available_; }
    /// Why pinning does nothing, when it does nothing; empty otherwise.
    [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
    [[nodiscard]] PinPolicy policy() const noexcept { return policy_; }
    /// OS indices of the PUs in the order threads receive them.
    [[nodiscard]] const std::vector<int>& plan() const noexcept { return plan_; }
    /// The PU thread slot `slot` is bound to on the topology planned on, -1
    /// if it is left unbound (policy none, no topology). Unlike
    /// pin_current(), also answers for a topology that is not this machine's.
    [[nodiscard]] int planned_cpu(std::size_t slot) const noexcept;
    [[nodiscard]] unsigned logical_cpus() const noexcept { return logical_cpus_; }
    /// "1 package, 1 NUMA node, 2 cores, 2 PUs, L3 32 MiB" (or why unknown).
    [[nodiscard]] const std::string& topology_summary() const noexcept { return summary_; }
    /// A multi-line description of the topology tree (for `spill-bench topology`).
    [[nodiscard]] std::string topology_tree() const;
    [[nodiscard]] const spill::measure::Topology& topology() const noexcept { return *topology_; }

    /// Binds the calling thread to the PU of slot `slot` (no-op when
    /// unavailable or policy none). Returns the planned PU or -1.
    int pin_current(std::size_t slot) const noexcept;

private:
    std::shared_ptr<const spill::measure::Topology> topology_;
    PinPolicy policy_;
    bool planned_ = false;  // plan_ is a real plan on a loaded topology (and the policy pins)
    bool available_ = false;
    std::string reason_;
    std::vector<int> plan_;
    unsigned logical_cpus_ = 1;
    std::string summary_;
};

/// The `--topology` option's topology (FILE.xml or synthetic:DESC), or
/// InputError naming the value and what is wrong with it.
std::shared_ptr<const spill::measure::Topology> load_topology_option(const std::string& value);

/// Collects the placement of every thread of one repetition. Threads call
/// `enter` at their start (it pins) and `leave` at their end (it records the
/// CPU they ran on and their CPU time). Cold path: a mutex is fine.
class ThreadBook {
public:
    explicit ThreadBook(const Pinner& pinner) : pinner_(&pinner) {}
    /// Pins the calling thread for slot `slot`; returns its record index.
    std::size_t enter(const std::string& role, std::uint64_t index, std::size_t slot);
    /// CPUs in the pin plan the slots are taken from (pinning_slot).
    [[nodiscard]] std::size_t plan_cpus() const noexcept { return pinner_->plan().size(); }
    /// Records sched_getcpu() of the calling thread into record `rec`.
    void leave(std::size_t rec) noexcept;
    [[nodiscard]] std::vector<ThreadRecord> records() const;
    [[nodiscard]] std::size_t size() const;

private:
    const Pinner* pinner_;
    mutable std::mutex mu_;
    std::vector<ThreadRecord> records_;
    std::vector<Usage> start_;  // per record: the thread's usage at enter
};

// -------------------------------------------------------------- counters ----

/// Heap allocations made so far by any thread of spill-bench (the counting
/// operator new lives in alloc_count.cpp, linked into the binary only; in
/// other programs this returns nullopt).
std::optional<std::uint64_t> allocations_so_far() noexcept;


/// PAPI counters: hardware events, and the pool's own software-defined events
/// (sde:::spill::*, core/include/spill/detail/sde.hpp), which need no PMU.
/// Resolves the requested names once, then counts per thread for every
/// thread that opens a Papi::Thread scope; both kinds take the same path.
/// Names PAPI does not know, and sde::: names spill does not export, are input
/// errors; known events that this machine (or this build) cannot count are
/// recorded as unavailable with the reason.
class Papi {
public:
    /// `spec` is "default", "none" or a comma-separated list of event names,
    /// where `sde` stands for every sde:::spill:: event (a name listed twice
    /// is counted once).
    explicit Papi(const std::string& spec);
    ~Papi();
    Papi(const Papi&) = delete;
    Papi& operator=(const Papi&) = delete;

    [[nodiscard]] const std::vector<std::string>& requested() const noexcept { return requested_; }
    [[nodiscard]] const std::vector<std::string>& usable() const noexcept { return usable_names_; }
    [[nodiscard]] const std::map<std::string, std::string>& unavailable() const noexcept { return unavailable_; }
    [[nodiscard]] bool any_usable() const noexcept { return !usable_codes_.empty(); }
    /// Summary of PAPI's state for `spill-bench topology`.
    [[nodiscard]] std::string describe() const;

    /// Per-repetition totals of the usable events, summed over threads.
    void reset_totals();
    [[nodiscard]] std::vector<long long> totals() const;

    /// One thread's values of the usable events (in usable() order), for the
    /// per-role counters; `error` says why they could not be read (then
    /// `values` is empty and must not be used).
    struct ThreadValues {
        std::string role;
        std::vector<long long> values;
        std::string error;
    };
    /// Every thread of the repetition that counted (since reset_totals()).
    [[nodiscard]] std::vector<ThreadValues> thread_values() const;

    /// Counts the calling thread's events from construction to destruction
    /// and adds them to the totals (and to thread_values() under `role`). A
    /// no-op when nothing is usable. A value is the difference of two reads
    /// on the thread: one right after PAPI_start, one at PAPI_stop (the
    /// software-defined events report the thread's total so far).
    class Thread {
    public:
        explicit Thread(Papi& papi, std::string role = {}) noexcept;
        ~Thread();
        Thread(const Thread&) = delete;
        Thread& operator=(const Thread&) = delete;

    private:
        Papi* papi_;
        std::string role_;
        std::string error_;
        int set_ = -1;
        bool running_ = false;
        std::vector<long long> start_;   // the read right after PAPI_start
        std::vector<long long> values_;  // the read at PAPI_stop (sized here: the end allocates nothing)
    };

private:
    std::vector<std::string> requested_;
    std::vector<std::string> usable_names_;
    std::vector<int> usable_codes_;
    std::map<std::string, std::string> unavailable_;
    std::string state_;
    mutable std::mutex mu_;
    std::vector<long long> totals_;
    std::vector<ThreadValues> per_thread_;
    std::size_t open_threads_ = 0;  // Thread scopes alive: per_thread_ has room for each one's entry
};

// -------------------------------------------------------------- metadata ----

struct MachineInfo {
    std::string cpu_model;
    std::string kernel;
    std::string hostname;
};
MachineInfo machine_info();
/// Build facts compiled into the binary (commit, dirty, compiler, flags, build type).
struct BuildInfo {
    std::string commit;
    bool dirty = false;
    std::string compiler;
    std::string flags;
    std::string build_type;
};
BuildInfo build_info();
std::string utc_now_iso();

}  // namespace spill::bench

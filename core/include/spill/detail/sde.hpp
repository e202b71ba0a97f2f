// spill/detail/sde.hpp: the pool's own counters as PAPI software-defined
// events, `sde:::spill::<event>`, which any PAPI-based tool reads with
// PAPI_add_named_event like a hardware event, on any machine: they need no
// PMU, only PAPI's `sde` component and libsde.
//
// Off (SPILL_SDE undefined or 0; Meson: -Dsde=disabled, or `auto` without
// libsde): this header only names the events, and every hook the pool calls
// is an empty object or an empty inline function (SdeCount, SdeWorker,
// sde_took, sde_enter_worker), so push, publish, collect and the waits
// compile to the same code as without this file and the pool's code has no
// #if of its own.
//
// On (SPILL_SDE=1; Meson's `sde` feature carries the define and libsde in the
// spill dependency, and the pkg-config file carries -DSPILL_SDE=1 -lsde):
//
//   event            thread     what the calling thread's value counts
//   publishes        worker     batches it handed to its slot (WorkerStats::publishes: handoffs)
//   published_items  worker     items of its rounds it put into its slot (a merge back counts
//                               only the round's new items)
//   merge_backs      worker     publishes that found the last batch uncollected (WorkerStats::merge_backs)
//   overflow_items   worker     items its rings evicted into its overflow spout, and uncollected
//                               batches it spilled there
//   waits_spun       worker     waits for a round that ended while polling (WaitStats waits - blocks)
//   waits_parked     worker     waits for a round that parked on the futex (WaitStats::blocks)
//   takes            collector  batches it took from any slot of any pool (HandoffStats::takes)
//   taken_items      collector  items in them (HandoffStats::items)
//
// A thread that is not a worker reads 0 for the worker events; a thread that
// never collected reads 0 for the collector events.
//
// Why per thread, through a callback, and not one named counter per worker.
// A tool asks "how many handoffs did *this* thread make": PAPI reads an
// event set on the thread that owns it, so a callback that answers for the
// calling thread gives exactly that from one fixed name, however many pools
// and workers exist. Each worker sets a thread-local pointer once, when it
// starts, to counters it already keeps; the callback follows it. The reader
// is then the thread that writes those counters (no data race, no atomic),
// and the names never change. One counter per worker would need a name per
// pool and worker (two pools would collide), registering and unregistering
// as pools come and go, a map from worker to thread in every tool, and reads
// of plain integers that another thread is writing.
//
// Why INSTANT, not PAPI's default DELTA: PAPI's SDE component keeps a DELTA
// event's start value once per event, not per event set, so when threads
// start their event sets at different times each one's PAPI_stop subtracts
// the start value of whichever thread started last (measured: three threads
// whose counts went from 0, 100 and 200 up by 1, 2 and 3 read -199, -98 and
// 3). An INSTANT read returns the calling thread's total so far; a tool
// takes the difference of two reads (spill-bench reads once right after
// PAPI_start).
//
// Cost when on (no call, no branch, no atomic is added to a hot path):
//   - worker events: nothing per item or per round beyond one add per
//     publish (published_items, on the worker's own line) and one add per
//     evicted item (overflow_items, on the overflow gate's line, which an
//     eviction reads anyway). The pool keeps the other counts already.
//   - collector events: two adds to thread-local integers per batch taken,
//     beside the slot's own HandoffStats::record. A take's thread is known
//     only when it happens (a fan-in or merger handle may be driven from any
//     thread), so the count goes where the thread is. The thread-locals use
//     the initial-exec model: a fixed offset from the thread pointer, no
//     __tls_get_addr call even in a shared object.
//
// Exact, never sampled: each value is the counter itself. The worker events
// that WorkerStats keeps move as the events happen, except the waits, which
// the pool copies into WorkerStats::wait at the end of each round: read at
// the end of a round or later (spill-bench reads when the thread exits; the
// pointer stays set until then, and the pool joins its threads before it
// destroys their counters) they equal pool.stats(w); read during a round,
// they lack the wait that started it.
//
// Registration (papi_sde_init, then one callback per event) runs once per
// process, in register_events(), which every pool's constructor calls. A
// tool that resolves the names before any pool exists gets placeholders
// from PAPI that the registration fills in, or calls
// spill::sde::register_events() first. The program links libsde (it defines
// papi_sde_*); the tool that reads links libpapi, whose sde component finds
// libsde's side in the process. With default visibility every shared object
// shares one copy of the thread-locals and of the registration; an object
// built with -fvisibility=hidden has its own copies, and PAPI then reads
// through one registration's callbacks only.
// papi_native_avail lists the events, with their descriptions, given `-sde`
// and a shared object that defines papi_sde_hook_list_events: spill builds
// libspill-sde-events.so for that (core/src/sde_events.cpp). A running
// program registers the names without descriptions (register_events_with).
#pragma once

#include <array>
#include <cstdint>

#include "wait.hpp"

#if !defined(SPILL_SDE)
#define SPILL_SDE 0
#endif

#if SPILL_SDE
#include <sde_lib.h>
#endif

namespace spill::sde {

/// Whether this build exports the events.
inline constexpr bool enabled = SPILL_SDE != 0;
/// The library name in PAPI's event names: sde:::spill::<event>.
inline constexpr const char* library = "spill";

enum class Event : unsigned {
    publishes,
    published_items,
    merge_backs,
    overflow_items,
    waits_spun,
    waits_parked,
    takes,
    taken_items,
};

struct EventInfo {
    Event id;
    const char* name;         ///< after "sde:::spill::"
    const char* description;  ///< what papi_native_avail prints
};

/// Every event, in the order a tool that asks for all of them lists them.
inline constexpr std::array<EventInfo, 8> events{{
    {Event::publishes, "publishes", "Worker thread: batches it handed to its slot (handoffs); WorkerStats::publishes"},
    {Event::published_items, "published_items",
     "Worker thread: items of its rounds it put into its slot (a merge back counts only the round's new items)"},
    {Event::merge_backs, "merge_backs", "Worker thread: publishes that found its last batch uncollected; WorkerStats::merge_backs"},
    {Event::overflow_items, "overflow_items", "Worker thread: items its rings evicted, and uncollected batches it spilled, into its overflow spout"},
    {Event::waits_spun, "waits_spun", "Worker thread: waits for a round that ended while polling; WaitStats waits - blocks"},
    {Event::waits_parked, "waits_parked", "Worker thread: waits for a round that parked on the futex; WaitStats::blocks"},
    {Event::takes, "takes", "Collector thread: batches it took from the slots of any pool; HandoffStats::takes"},
    {Event::taken_items, "taken_items", "Collector thread: items in the batches it took; HandoffStats::items"},
}};

}  // namespace spill::sde

namespace spill::detail {

#if SPILL_SDE
/// A count kept only for the events (the pool keeps no other copy of it).
/// Written and read by one thread.
struct SdeCount {
    std::uint64_t n = 0;
    void add(std::uint64_t k) noexcept { n += k; }
    [[nodiscard]] std::uint64_t get() const noexcept { return n; }
};

/// A worker's events: pointers to the counters it keeps (set by the pool
/// when it builds the worker) and the one count the pool keeps only for
/// them. Written by the worker thread only.
struct SdeWorker {
    SdeWorker(const std::uint64_t* publishes_, const std::uint64_t* merge_backs_, const WaitStats* wait_, const SdeCount* overflow_items_) noexcept
        : publishes(publishes_), merge_backs(merge_backs_), wait(wait_), overflow_items(overflow_items_) {}
    const std::uint64_t* publishes;
    const std::uint64_t* merge_backs;
    const WaitStats* wait;
    const SdeCount* overflow_items;  ///< the worker's overflow gate counts them
    SdeCount published_items;
};

/// One thread's takes, over every slot of every pool it collected from.
struct SdeCollector {
    std::uint64_t takes = 0;
    std::uint64_t items = 0;
};

/// The calling thread's worker, set when a worker thread starts; null on
/// other threads. Never cleared: the worker's counters outlive its thread.
[[gnu::tls_model("initial-exec")]] inline thread_local const SdeWorker* sde_worker = nullptr;
[[gnu::tls_model("initial-exec")]] inline thread_local SdeCollector sde_collector{};

/// The calling thread took a batch of `items` (HandoffStats::record).
inline void sde_took(std::uint64_t items) noexcept {
    ++sde_collector.takes;
    sde_collector.items += items;
}

/// The calling thread is the worker whose events `w` holds.
inline void sde_enter_worker(const SdeWorker* w) noexcept { sde_worker = w; }
#else
/// Off: an empty object ([[no_unique_address]] where it is a member), whose
/// add compiles to nothing.
struct SdeCount {
    void add(std::uint64_t) noexcept {}
    [[nodiscard]] std::uint64_t get() const noexcept { return 0; }
};

/// Off: takes the pointers the on-build keeps and forgets them.
struct SdeWorker {
    SdeWorker(const std::uint64_t*, const std::uint64_t*, const WaitStats*, const SdeCount*) noexcept {}
    [[no_unique_address]] SdeCount published_items;
};

inline void sde_took(std::uint64_t) noexcept {}
inline void sde_enter_worker(const SdeWorker*) noexcept {}
#endif

}  // namespace spill::detail

#if SPILL_SDE
namespace spill::sde {

/// The calling thread's value of `e` now: what a PAPI read of
/// sde:::spill::<e> returns on this thread.
inline std::uint64_t value(Event e) noexcept {
    const detail::SdeWorker* w = detail::sde_worker;
    const detail::SdeCollector& c = detail::sde_collector;
    switch (e) {
        case Event::publishes: return w != nullptr ? *w->publishes : 0;
        case Event::published_items: return w != nullptr ? w->published_items.get() : 0;
        case Event::merge_backs: return w != nullptr ? *w->merge_backs : 0;
        case Event::overflow_items: return w != nullptr ? w->overflow_items->get() : 0;
        case Event::waits_spun: return w != nullptr ? w->wait->waits - w->wait->blocks : 0;
        case Event::waits_parked: return w != nullptr ? w->wait->blocks : 0;
        case Event::takes: return c.takes;
        case Event::taken_items: return c.items;
    }
    return 0;
}

}  // namespace spill::sde

namespace spill::detail {
/// PAPI's callback: the event travels in the callback's parameter.
inline long long sde_read_event(void* event) noexcept {
    return static_cast<long long>(sde::value(static_cast<sde::Event>(reinterpret_cast<std::uintptr_t>(event))));
}
}  // namespace spill::detail

namespace spill::sde {

/// Registers every event through the SDE functions in `api`: libsde's own
/// (register_events), or the table papi_native_avail hands a shared object's
/// papi_sde_hook_list_events. Returns PAPI's handle, or null on failure.
///
/// `describe` adds the descriptions. Only the listing does: libsde 7.0's
/// papi_sde_describe_counter leaks a copy of the event's full name, which
/// LeakSanitizer reports in every program that registers (a user's sanitizer
/// build would fail for it), so a running program registers the names alone.
inline papi_handle_t register_events_with(const papi_sde_fptr_struct_t& api, bool describe) noexcept {
    papi_handle_t h = api.init(library);
    if (h == nullptr) return nullptr;
    for (const EventInfo& e : events) {
        void* which = reinterpret_cast<void*>(static_cast<std::uintptr_t>(e.id));
        if (api.register_counter_cb(h, e.name, PAPI_SDE_RO | PAPI_SDE_INSTANT, PAPI_SDE_long_long, &detail::sde_read_event, which) != SDE_OK)
            return nullptr;
        if (describe && api.describe_counter(h, e.name, e.description) != SDE_OK) return nullptr;
    }
    return h;
}

/// Registers the events with libsde, once per process (later calls return
/// the first call's result). True when they are registered.
inline bool register_events() noexcept {
    static const bool ok = [] {
        papi_sde_fptr_struct_t api{};
        api.init = &papi_sde_init;
        api.register_counter_cb = &papi_sde_register_counter_cb;
        return register_events_with(api, false) != nullptr;
    }();
    return ok;
}

}  // namespace spill::sde
#else
namespace spill::sde {
/// Off: nothing is registered.
inline bool register_events() noexcept { return false; }
}  // namespace spill::sde
#endif

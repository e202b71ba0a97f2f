// The pool's software-defined events (core/include/spill/detail/sde.hpp),
// read through PAPI on a bare pool: every worker thread counts
// sde:::spill::* from its start to its exit, the collecting thread around
// the pool's life, and each value must equal the pool's own counters
// (pool.stats(w), pool.handoff_stats(w)), the overflow spout's count, or a
// count worked out from the rounds. Built only with the sde feature on.
#include <papi.h>
#include <pthread.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <spill/spill.hpp>

namespace {

using spill::sde::Event;
constexpr std::size_t n_events = spill::sde::events.size();

std::string full_name(const spill::sde::EventInfo& e) { return std::string("sde:::") + spill::sde::library + "::" + e.name; }

unsigned long thread_id() { return static_cast<unsigned long>(pthread_self()); }

/// PAPI started once per process, after spill registered its events; empty
/// when it works, else why not.
const std::string& papi_problem() {
    static const std::string why = []() -> std::string {
        if (!spill::sde::register_events()) return "spill::sde::register_events() failed";
        if (const int rc = PAPI_library_init(PAPI_VER_CURRENT); rc != PAPI_VER_CURRENT) return "PAPI_library_init failed: " + std::string(PAPI_strerror(rc));
        if (PAPI_thread_init(&thread_id) != PAPI_OK) return "PAPI_thread_init failed";
        for (int i = 0; i < PAPI_num_components(); ++i) {
            const PAPI_component_info_t* ci = PAPI_get_component_info(i);
            if (ci != nullptr && std::string(ci->name) == "sde")
                return ci->disabled != 0 ? "PAPI's sde component is disabled: " + std::string(ci->disabled_reason) : "";
        }
        return "PAPI has no sde component";
    }();
    return why;
}

/// One thread's events, in spill::sde::events order, over its scope.
struct Reading {
    std::array<long long, n_events> v{};
    std::string error = "never read";
    [[nodiscard]] long long operator[](Event e) const { return v[static_cast<std::size_t>(e)]; }
};

/// Counts the calling thread's sde:::spill::* events from construction to
/// destruction, as a tool does: PAPI_add_named_event, start, read (the
/// events report the thread's total so far), stop; the difference goes to
/// `out`.
class Counting {
public:
    explicit Counting(Reading& out) : out_(&out), error_(start()) {}
    ~Counting() {
        std::array<long long, n_events> end{};
        if (running_) {
            if (const int rc = PAPI_stop(set_, end.data()); rc != PAPI_OK && error_.empty()) error_ = std::string("PAPI_stop: ") + PAPI_strerror(rc);
        }
        for (std::size_t i = 0; i < n_events; ++i) out_->v[i] = end[i] - start_[i];
        out_->error = error_;
        if (set_ != PAPI_NULL) {
            PAPI_cleanup_eventset(set_);
            PAPI_destroy_eventset(&set_);
        }
        PAPI_unregister_thread();
    }
    Counting(const Counting&) = delete;
    Counting& operator=(const Counting&) = delete;

private:
    /// Empty when counting runs, else why not.
    std::string start() {
        if (PAPI_create_eventset(&set_) != PAPI_OK) return "PAPI_create_eventset failed";
        for (const auto& e : spill::sde::events)
            if (const int rc = PAPI_add_named_event(set_, full_name(e).c_str()); rc != PAPI_OK)
                return "PAPI_add_named_event(" + full_name(e) + "): " + PAPI_strerror(rc);
        if (const int rc = PAPI_start(set_); rc != PAPI_OK) return std::string("PAPI_start: ") + PAPI_strerror(rc);
        running_ = true;
        if (const int rc = PAPI_read(set_, start_.data()); rc != PAPI_OK) return std::string("PAPI_read: ") + PAPI_strerror(rc);
        return {};
    }
    Reading* out_;
    int set_ = PAPI_NULL;
    bool running_ = false;
    std::array<long long, n_events> start_{};
    std::string error_;  // last: start() sets the members above
};

struct Round {
    int items = 0;
    int index = 0;  // 1-based
};

long long as_ll(std::uint64_t v) { return static_cast<long long>(v); }

}  // namespace

TEST_CASE("every sde:::spill:: event resolves in PAPI", "[sde]") {
    INFO(papi_problem());
    REQUIRE(papi_problem().empty());
    for (const auto& e : spill::sde::events) {
        int code = 0;
        std::string name = full_name(e);
        INFO(name);
        REQUIRE(PAPI_event_name_to_code(name.data(), &code) == PAPI_OK);
        PAPI_event_info_t info{};
        REQUIRE(PAPI_get_event_info(code, &info) == PAPI_OK);
        CHECK(std::string(info.symbol) == name);
        CHECK(PAPI_get_event_component(code) >= 0);
    }
}

TEST_CASE("the events of a bare pool equal its own counters, per thread", "[sde]") {
    INFO(papi_problem());
    REQUIRE(papi_problem().empty());
    constexpr std::size_t workers = 2;
    constexpr std::size_t ring = 64;
    constexpr int rounds = 7;
    std::array<Reading, workers> at_worker;
    Reading at_collector;
    // What each worker's publishes event read at the start of each round.
    std::array<std::array<long long, rounds>, workers> publishes_seen{};
    std::array<spill::WorkerStats, workers> stats;
    std::array<spill::HandoffStats, workers> taken;
    std::array<std::uint64_t, workers> overflowed{};
    std::size_t delivered = 0;
    {
        Counting collector(at_collector);
        spill::CollectSpout<int> out;
        {
            auto pool = spill::pool<int, ring>(workers)
                            .overflow([](std::size_t) { return spill::CountingSpout<>{}; })
                            .spin_limit(std::chrono::nanoseconds(0))  // every wait that finds no round parks: waits_parked moves
                            .on_worker_start([&at_worker](std::size_t w) {
                                // Lives until the thread exits: the pool's destructor joins it.
                                thread_local std::unique_ptr<Counting> counting;
                                counting = std::make_unique<Counting>(at_worker[w]);
                            })
                            .spawn<Round>([&publishes_seen](auto& r, std::size_t w, const Round& a) {
                                publishes_seen[w][static_cast<std::size_t>(a.index - 1)] = as_ll(spill::sde::value(Event::publishes));
                                for (int i = 0; i < a.items; ++i) r.push(i);
                            });
            for (int k = 1; k <= 3; ++k) {  // collected every round: recycle hits
                pool.run(Round{10, k});
                pool.collect(out);
            }
            pool.run(Round{10, 4});   // left uncollected...
            pool.run(Round{10, 5});   // ...so this round merges back into it (20 items)
            pool.run(Round{100, 6});  // a full ring: the first eviction spills those 20, 36 more are evicted, 64 published
            pool.collect(out);
            pool.run(Round{0, 7});  // nothing pushed: nothing published
            for (std::size_t w = 0; w < workers; ++w) {
                stats[w] = pool.stats(w);
                taken[w] = pool.handoff_stats(w);
                overflowed[w] = pool.overflow(w).count();
            }
            delivered = out.items().size();
        }  // the workers exit here: their counting ends with the pool's final counts
    }
    for (std::size_t w = 0; w < workers; ++w) {
        INFO("worker " << w);
        const Reading& r = at_worker[w];
        REQUIRE(r.error.empty());
        CHECK(r[Event::publishes] == as_ll(stats[w].publishes));
        CHECK(r[Event::publishes] == 6);
        CHECK(r[Event::merge_backs] == as_ll(stats[w].merge_backs));
        CHECK(r[Event::merge_backs] == 2);
        CHECK(r[Event::published_items] == 5 * 10 + as_ll(ring));
        CHECK(r[Event::overflow_items] == as_ll(overflowed[w]));
        CHECK(r[Event::overflow_items] == 20 + (100 - as_ll(ring)));
        CHECK(r[Event::waits_spun] == as_ll(stats[w].wait.waits - stats[w].wait.blocks));
        CHECK(r[Event::waits_parked] == as_ll(stats[w].wait.blocks));
        // A worker collects nothing.
        CHECK(r[Event::takes] == 0);
        CHECK(r[Event::taken_items] == 0);
        // Read during round k (k = 1..6), publishes counts the k - 1 rounds
        // before it, all of which pushed items; round 7 starts after 6.
        CHECK(publishes_seen[w] == std::array<long long, rounds>{0, 1, 2, 3, 4, 5, 6});
    }
    REQUIRE(at_collector.error.empty());
    std::uint64_t takes = 0;
    std::uint64_t items = 0;
    for (const spill::HandoffStats& h : taken) {
        takes += h.takes;
        items += h.items;
    }
    CHECK(at_collector[Event::takes] == as_ll(takes));
    CHECK(at_collector[Event::takes] == as_ll(workers) * 4);  // rounds 1..3, then the merged-and-spilled round 6
    CHECK(at_collector[Event::taken_items] == as_ll(items));
    CHECK(at_collector[Event::taken_items] == as_ll(delivered));
    // The collecting thread is no worker.
    for (Event e : {Event::publishes, Event::published_items, Event::merge_backs, Event::overflow_items, Event::waits_spun, Event::waits_parked})
        CHECK(at_collector[e] == 0);
}

TEST_CASE("a thread's collector events cover every pool it collects from", "[sde]") {
    INFO(papi_problem());
    REQUIRE(papi_problem().empty());
    Reading r;
    {
        Counting counting(r);
        for (int p = 0; p < 2; ++p) {
            auto pool = spill::pool<int, 64>(3).spawn<int>([](auto& ring, std::size_t, const int& n) {
                for (int i = 0; i < n; ++i) ring.push(i);
            });
            spill::CollectSpout<int> out;
            pool.run(5);
            auto fan = pool.fan_in(spill::SpoutRef<spill::CollectSpout<int>>(out));  // a second way to collect, same thread
            pool.run(7);
            fan.flush();
        }
    }
    REQUIRE(r.error.empty());
    CHECK(r[Event::takes] == 2 * 3);  // two pools x three slots, one batch each (rounds 1 and 2 merged back)
    CHECK(r[Event::taken_items] == 2 * 3 * (5 + 7));
}

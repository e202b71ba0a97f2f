// Fault injection for the fault suite: a plan that makes the k-th call fail,
// the spout, writer and sequenced sink that obey it, the sweep over every k,
// and the checks of exactly-once delivery and order.
//
// A Plan counts every call made to the fault points that share it and makes
// call number `at` (0-based) fail in one of three ways:
//   throws       the call throws SpoutFailure and takes nothing (F1, F2);
//   short_count  a bulk call takes the first half of what it was offered
//                (F2: a prefix) and returns that count;
//   refuse       a bulk call takes nothing and returns 0 without throwing.
// A single-item send() cannot take a prefix or refuse without throwing (F1),
// so in the last two modes a send() call counts but does not fail.
//
// sweep() runs a scenario for at = 0, 1, 2, ... until a run makes no call
// number `at`, that is until every call of a complete run has failed once.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core_test_util.hpp"
#include "spill/framed.hpp"
#include "spill/spout.hpp"

namespace spill::fault {

using test::SpoutFailure;
using test::Tracked;

enum class Mode { throws, short_count, refuse };
inline constexpr Mode all_modes[] = {Mode::throws, Mode::short_count, Mode::refuse};

inline const char* mode_name(Mode m) noexcept {
    switch (m) {
        case Mode::throws: return "throws";
        case Mode::short_count: return "short_count";
        case Mode::refuse: return "refuse";
    }
    return "?";
}

/// "full" when the exhaustive setup runs the suite (meson test --setup=full).
inline bool full_scale() noexcept {
    const char* s = std::getenv("SPILL_FAULT_SCALE");
    return s != nullptr && std::string(s) == "full";
}

/// Which call fails, and how. Shared by every fault point of one run.
struct Plan {
    Plan(std::size_t fail_at, Mode how) noexcept : at(fail_at), mode(how) {}
    Plan(const Plan&) = delete;
    Plan& operator=(const Plan&) = delete;

    std::size_t at;
    Mode mode;
    /// 0: only call `at` fails. Otherwise every `period`-th call after it
    /// fails too (for runs that race threads against faults).
    std::size_t period = 0;
    // relaxed: a call index and an event count. Fault points on merger
    // threads share a plan; the test reads both after joining them.
    std::atomic<std::size_t> calls{0};
    std::atomic<std::size_t> fired{0};
    std::atomic<bool> stopped{false};  // relaxed: set before the threads that read it are started or after they are joined

    /// Counts a call; true when it is the one that fails. After stop(),
    /// calls are neither counted nor failed.
    [[nodiscard]] bool next_fails() noexcept {
        if (stopped.load(std::memory_order_relaxed)) return false;
        const std::size_t i = calls.fetch_add(1, std::memory_order_relaxed);
        return i == at || (period != 0 && i > at && (i - at) % period == 0);
    }
    /// Ends the scenario's calls: destructors that flush (a ring flushes its
    /// spout; a failure there terminates, by design) run after it.
    void stop() noexcept { stopped.store(true, std::memory_order_relaxed); }
    void fire() noexcept { fired.fetch_add(1, std::memory_order_relaxed); }
    [[nodiscard]] std::size_t fired_count() const noexcept { return fired.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t call_count() const noexcept { return calls.load(std::memory_order_relaxed); }
};

/// Stops a plan when it goes out of scope: declare it after the objects
/// whose destructors call fault points, so it is destroyed before them.
struct StopAtExit {
    Plan& plan;
    ~StopAtExit() { plan.stop(); }
};

/// What a sweep did: how many runs, and in how many the fault was injected.
struct SweepStats {
    std::size_t runs = 0;
    std::size_t fired = 0;
};

/// Runs `body(plan)` for plan.at = 0, 1, 2, ... until a run makes fewer than
/// at + 1 calls. `max_runs` guards against a scenario whose call count grows
/// with its faults; reaching it is a failure reported by the caller.
template <class Body>
SweepStats sweep(Mode mode, Body&& body, std::size_t max_runs = 20000) {
    SweepStats st;
    for (std::size_t k = 0; k < max_runs; ++k) {
        Plan plan(k, mode);
        body(plan);
        ++st.runs;
        st.fired += plan.fired_count();
        if (plan.call_count() <= k) return st;
    }
    st.runs = max_runs + 1;  // the caller's CHECK(runs <= max_runs) fails
    return st;
}

// ---- fault points --------------------------------------------------------------

/// A spout that fails as its plan says and otherwise forwards to `Inner`.
template <class T, class Inner = CollectSpout<T>>
class FaultySpout {
public:
    explicit FaultySpout(Plan& plan, Inner inner = Inner{}) : plan_(&plan), inner_(std::move(inner)) {}

    void send(T&& item) {
        if (plan_->next_fails() && plan_->mode == Mode::throws) {
            plan_->fire();
            throw SpoutFailure();
        }
        inner_.send(std::move(item));
    }
    std::size_t send_all(std::span<T> items) {
        if (plan_->next_fails() && !items.empty()) {
            plan_->fire();
            switch (plan_->mode) {
                case Mode::throws: throw SpoutFailure();
                case Mode::short_count: return spill::send_all(inner_, items.first(items.size() / 2));
                case Mode::refuse: return 0;
            }
        }
        return spill::send_all(inner_, items);
    }
    void flush() {
        if (plan_->next_fails() && plan_->mode == Mode::throws) {
            plan_->fire();
            throw SpoutFailure();
        }
        inner_.flush();
    }
    [[nodiscard]] Inner& inner() noexcept { return inner_; }
    [[nodiscard]] const Inner& inner() const noexcept { return inner_; }

private:
    Plan* plan_;
    Inner inner_;
};

/// A FramedSpout writer over a byte vector it does not own: the failing call
/// throws (nothing written), writes the first half, or writes nothing.
class FaultyWriter {
public:
    FaultyWriter(Plan& plan, std::vector<std::byte>& out) noexcept : plan_(&plan), out_(&out) {}
    std::size_t write(std::span<const std::byte> bytes) {
        ++writes_;
        std::size_t n = bytes.size();
        if (plan_->next_fails() && !bytes.empty()) {
            plan_->fire();
            switch (plan_->mode) {
                case Mode::throws: throw SpoutFailure();
                case Mode::short_count: n = bytes.size() / 2; break;
                case Mode::refuse: n = 0; break;
            }
        }
        out_->insert(out_->end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        return n;
    }
    void flush() {
        if (plan_->next_fails() && plan_->mode == Mode::throws) {
            plan_->fire();
            throw SpoutFailure();
        }
    }
    [[nodiscard]] std::size_t writes() const noexcept { return writes_; }

private:
    Plan* plan_;
    std::vector<std::byte>* out_;
    std::size_t writes_ = 0;
};

/// A sequenced sink that fails as its plan says and otherwise forwards to
/// `Inner`. An empty part is always forwarded: returning 0 for it would mean
/// "took all of it" (F2), so a sink cannot refuse it without throwing.
template <class T, class Inner>
class FaultySink {
public:
    FaultySink(Plan& plan, Inner inner) : plan_(&plan), inner_(std::move(inner)) {}
    std::size_t submit(std::uint64_t seq, std::span<T> items, bool last) {
        if (plan_->next_fails() && (plan_->mode == Mode::throws || !items.empty())) {
            plan_->fire();
            switch (plan_->mode) {
                case Mode::throws: throw SpoutFailure();
                case Mode::short_count: {
                    const std::size_t m = items.size() / 2;
                    return inner_.submit(seq, items.first(m), last && m == items.size());
                }
                case Mode::refuse: return 0;
            }
        }
        return inner_.submit(seq, items, last);
    }
    void flush() {
        if (plan_->next_fails() && plan_->mode == Mode::throws) {
            plan_->fire();
            throw SpoutFailure();
        }
        inner_.flush();
    }
    [[nodiscard]] Inner& inner() noexcept { return inner_; }

private:
    Plan* plan_;
    Inner inner_;
};

// ---- retry drivers ----------------------------------------------------------------

/// Whether `e` is one of the failures the fault points inject (or a
/// FramedSpout's report of a writer that took no bytes): the ones a caller
/// retries.
inline bool injected(const std::exception& e) noexcept {
    return dynamic_cast<const SpoutFailure*>(&e) != nullptr || dynamic_cast<const std::bad_alloc*>(&e) != nullptr ||
           dynamic_cast<const WouldBlock*>(&e) != nullptr;
}

/// Calls `step` (a collect or flush) again until one call completes without
/// an injected failure and without the plan's fault firing during it: the
/// documented retry ("call collect/flush again"). Returns an empty string,
/// or why it gave up. Safe on any thread (no test macros).
template <class Step>
std::string until_quiet(Plan& plan, Step&& step, std::size_t max_calls = 1000) {
    for (std::size_t i = 0; i < max_calls; ++i) {
        const std::size_t before = plan.fired_count();
        try {
            step();
        } catch (const std::exception& e) {
            if (!injected(e)) return std::string("unexpected exception: ") + e.what();
            continue;
        }
        if (plan.fired_count() == before) return {};
    }
    return "no fault-free call in " + std::to_string(max_calls) + " attempts";
}

// ---- checks ---------------------------------------------------------------------------

/// Ids of items, in order.
template <class Range>
std::vector<std::int64_t> ids_of(const Range& items) {
    std::vector<std::int64_t> out;
    for (const auto& x : items) out.push_back(x.id());
    return out;
}

/// Empty when `delivered` and `overflowed` together hold every id of
/// `produced` exactly once and nothing else (no moved-from item among
/// them); otherwise the first difference.
inline std::string exactly_once(const std::vector<std::int64_t>& produced, const std::vector<std::int64_t>& delivered,
                                const std::vector<std::int64_t>& overflowed = {}) {
    for (std::int64_t id : delivered)
        if (id < 0) return "a moved-from item was delivered";
    for (std::int64_t id : overflowed)
        if (id < 0) return "a moved-from item was overflowed";
    std::vector<std::int64_t> want = produced, got = delivered;
    got.insert(got.end(), overflowed.begin(), overflowed.end());
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    if (auto d = std::adjacent_find(got.begin(), got.end()); d != got.end()) return "id " + std::to_string(*d) + " arrived twice";
    if (got.size() != want.size())
        return std::to_string(got.size()) + " items arrived (delivered + overflowed), " + std::to_string(want.size()) + " produced";
    for (std::size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i]) return "id " + std::to_string(want[i]) + " never arrived";
    return {};
}

}  // namespace spill::fault
